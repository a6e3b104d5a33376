/*
 * users.cdb: key = user name, value = the user's record in the text form
 * (user.h), plus a marker record that tells our database from any other
 * cdb file, and the dummy hash: one of the method and cost most accounts
 * use, which pop3d-auth checks when there is no hash to check (an
 * unknown user, a locked account).  Lookups validate the record before
 * returning it.
 */
#ifndef POP3D_USERDB_H
#define POP3D_USERDB_H

#include <cdb.h>

#include "pop3d_limits.h"
#include "user.h"

/* Names never hold a NUL, so no user can shadow the marker. */
#define USERDB_MARK_KEY		"\0pop3d-users"
#define USERDB_MARK_KEYLEN	12
#define USERDB_MARK_VALUE	"1"
#define USERDB_MARK_VALUELEN	1

/* The dummy hash; a database compiled before it existed has none. */
#define USERDB_DUMMY_KEY	"\0pop3d-dummy"
#define USERDB_DUMMY_KEYLEN	12

/* Where pop3d-auth and pop3d-users find the database by default. */
#define USERDB_PATH_DEFAULT	"/etc/pop3d/users.cdb"
#define USERDB_PATH_ENV		"POP3D_USERS_CDB"

struct userdb {
	int		fd;
	struct cdb	cdb;
	char		rec[USERS_LINE_MAX + 1];
	char		dummy[USERS_HASH_MAX + 1];	/* "" if none */
};

/*
 * Opens the database, checks its marker and reads its dummy hash (empty
 * when the database has none).  Returns 0, or -1 with errno (EINVAL: not
 * a pop3d users database, or a damaged one, a bad dummy included).
 */
int	userdb_open(struct userdb *, const char *);

/*
 * Looks name up.  Returns 1 with u filled (pointing into db, valid until
 * the next lookup or close), 0 when there is no such user, -1 with errno
 * on a read error or (EINVAL, *why set) a record that fails validation.
 */
int	userdb_lookup(struct userdb *, const char *, struct user *,
	    const char **);

/* Closes the database and wipes the last record read (it holds a hash). */
void	userdb_close(struct userdb *);

#endif

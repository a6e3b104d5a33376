/*
 * users.cdb: key = user name, value = the user's record in the text form
 * (user.h), plus a marker record that tells our database from any other
 * cdb file, and the dummy hash: one of the method and cost most accounts
 * use, which pop3d-auth checks when there is no hash to check (an
 * unknown user, a locked account).  Every value ends with the check of
 * cdbcheck.h over its key and itself, and every lookup goes through
 * cdbcheck_find: a damaged file answers "damaged", never "no such user",
 * a wrong hash or another user's record.  Lookups validate the record
 * before returning it.
 */
#ifndef POP3D_USERDB_H
#define POP3D_USERDB_H

#include <cdb.h>

#include "pop3d_limits.h"
#include "user.h"

/*
 * Names never hold a NUL, so no user can shadow the marker.  Its value is
 * the format's version: "2" since records carry a check; a database of
 * version "1" (no checks) is refused, to be compiled again.
 */
#define USERDB_MARK_KEY		"\0pop3d-users"
#define USERDB_MARK_KEYLEN	12
#define USERDB_MARK_VALUE	"2"
#define USERDB_MARK_VALUELEN	1
#define USERDB_MARK_OLD		"1"

/* The dummy hash: every database of version 2 has one. */
#define USERDB_DUMMY_KEY	"\0pop3d-dummy"
#define USERDB_DUMMY_KEYLEN	12

/* Where pop3d-auth and pop3d-users find the database by default. */
#define USERDB_PATH_DEFAULT	"/etc/pop3d/users.cdb"
#define USERDB_PATH_ENV		"POP3D_USERS_CDB"

struct userdb {
	int		fd;
	struct cdb	cdb;
	char		rec[USERS_LINE_MAX + 1];
	char		dummy[USERS_HASH_MAX + 1];
	const char	*why;	/* userdb_open's EINVAL, for the log */
};

/*
 * Opens the database, checks its marker and reads its dummy hash.
 * Returns 0, or -1 with errno: EINVAL with db->why saying what to do (not
 * a pop3d users database; one of the older version, or a damaged one,
 * a bad dummy included: both fixed by pop3d-users compile).
 */
int	userdb_open(struct userdb *, const char *);

/*
 * Looks name up.  Returns 1 with u filled (pointing into db, valid until
 * the next lookup or close), 0 when there is no such user, -1 with errno
 * EINVAL and *why for damage: a record or the way to it (cdbcheck_find),
 * or a record that fails validation.
 */
int	userdb_lookup(struct userdb *, const char *, struct user *,
	    const char **);

/* Closes the database and wipes the last record read (it holds a hash). */
void	userdb_close(struct userdb *);

#endif

/*
 * The users file (pop3d-users.5), the source of truth that pop3d-users
 * edits and compiles: one record a line, # comments and blank lines kept.
 * Errors are reported on stderr as "file:line: message".
 */
#ifndef POP3D_USERSFILE_H
#define POP3D_USERSFILE_H

#include <stdio.h>

#include "pop3d_limits.h"
#include "user.h"

/* Where pop3d-users and pop3d-passwd find the file by default. */
#define USERSFILE_PATH_DEFAULT	"/etc/pop3d/users"
#define USERSFILE_PATH_ENV	"POP3D_USERS_FILE"

enum usersfile_kind {
	UF_EOF,		/* no more lines */
	UF_RECORD,	/* a valid record: u is filled */
	UF_BLANK,	/* a comment or blank line */
	UF_BAD,		/* a line with an error, reported */
	UF_ERROR	/* a read error; errno is set */
};

struct usersfile {
	FILE		*f;
	const char	*path;
	unsigned long	 lineno;
	unsigned long	 errors;	/* lines reported so far */
	size_t		 len;
	char		 raw[USERS_LINE_MAX + 1];	/* as read */
	char		 work[USERS_LINE_MAX + 1];	/* split */
};

/* Opens the file for reading: 0, or -1 with errno. */
int	usersfile_open(struct usersfile *, const char *);
void	usersfile_close(struct usersfile *);

/*
 * Reads the next line into raw and classifies it; for UF_RECORD u points
 * into work.  Long lines, NULs and bad records are reported and skipped.
 */
enum usersfile_kind usersfile_next(struct usersfile *, struct user *);

/* Reports "file:line: message" for the current line and counts it. */
void	usersfile_report(struct usersfile *, const char *);

/*
 * Checks the whole file and writes its records as a users database to fd
 * (read-write, empty, seekable), with a dummy hash (userdb.h): a random
 * password hashed with a fresh salt and the crypt(3) setting (method and
 * cost, user_hash_setting) that most records' hashes have; of several
 * used as often, the first in strcmp(3) order, so that the same file
 * always gives the same; yescrypt's default when no record has a password.
 * Returns 0, or -1 with errno: EINVAL when the file has errors (each
 * reported), any other on a system error.
 */
int	usersfile_compile(const char *, int);


enum usersfile_op {
	UF_ADD,		/* append user, which must not exist yet */
	UF_SET_HASH,	/* replace the hash of name */
	UF_SET_APOP,	/* set the APOP secret of name (NULL: clear it) */
	UF_SET_POLICY,	/* set expire, login_delay, uidl_format of name
			   ("": clear) */
	UF_DELETE	/* remove name */
};

struct usersfile_edit {
	enum usersfile_op	 op;
	const char		*name;
	const struct user	*user;	/* UF_ADD */
	const char		*value;	/* UF_SET_HASH, UF_SET_APOP */
	const char		*expect; /* UF_SET_HASH: NULL, or the hash
					    the record must still have */
	const char		*expire; /* UF_SET_POLICY: NULL keeps the */
	const char		*login_delay; /* record's, "" clears it */
	const char		*uidl_format;
};

/*
 * Applies one edit and replaces the file atomically; a missing file counts
 * as empty for UF_ADD.  The file must be free of errors: any is reported
 * and nothing changes.  Returns 0, or -1 with errno: EINVAL (errors in the
 * file, or in the new record with *why set), EEXIST (UF_ADD of an existing
 * user), ESRCH (no such user), ESTALE (the record's hash is not expect),
 * any other on a system error.  Takes no lock: see usersfile_lock.
 */
int	usersfile_apply(const char *, const struct usersfile_edit *,
	    const char **);

/*
 * Takes the edit lock of the users file at path: an OFD write lock on
 * "path.lock" (created mode 0600 when missing; never removed), waited for
 * at most timeout_ms.  Every edit and every compile runs under it, so that
 * two programs editing at once (pop3d-users, pop3d-passwd) lose none of
 * each other's changes, and a database is never replaced by one compiled
 * from an older file.  Returns the descriptor, whose close releases the
 * lock (so does the process's end), or -1 with errno (ETIMEDOUT).
 */
int	usersfile_lock(const char *, int);

/*
 * Compiles the users file to the database db atomically (a temporary file
 * beside it, synced and renamed; on any error db is untouched), as
 * usersfile_compile does, and reads it back first as pop3d-auth will
 * (every record checked and found).  Returns 0, or -1 with errno and
 * *failed naming the file the error is about (EINVAL: errors in the users
 * file, each reported; EIO: the database does not read back as written).
 * The caller holds the lock.
 */
int	usersfile_install(const char *, const char *, const char **);

/*
 * Under the lock: usersfile_apply, then usersfile_install, so that the
 * change takes effect at the next login.  Returns 0, or -1 with errno as
 * those give it (*why as usersfile_apply sets it, *failed as
 * usersfile_install does); when the compile fails the users file holds
 * the change and the database does not.
 */
int	usersfile_update(const char *, const char *,
	    const struct usersfile_edit *, const char **, const char **);

#endif

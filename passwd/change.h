/*
 * What pop3d-passwd does with the users' passwords: checks an old one
 * against users.cdb exactly as pop3d-auth does, and sets a new one in the
 * users file and the database, under the users file's edit lock.
 */
#ifndef POP3D_CHANGE_H
#define POP3D_CHANGE_H

#include "pop3d_limits.h"

struct change {
	const char	*file;		/* the users file */
	const char	*db;		/* users.cdb */
	const char	*why;		/* what failed, for the log */
	const char	*failed;	/* ... and its file, or NULL */
	char		 hash[USERS_HASH_MAX + 1]; /* what the old one matched */
};

/*
 * Checks pw as user's password in the database: 1 for a match (the hash is
 * kept in c for change_set), 0 for an unknown user, a locked account or a
 * wrong password (each after the same crypt(3) work, c->why telling them
 * apart for the log only), -1 with errno and c->why when the database or
 * the hash cannot be used.
 */
int	change_verify(struct change *, const char *, const char *);

/*
 * Sets the password of user to pw (hashed with a fresh salt of the default
 * method, as "pop3d-users passwd" does) in the users file, then compiles
 * the database, if the user's hash in the file is still the one
 * change_verify matched.  0, or -1 with errno and c->why: ESTALE (the
 * password was changed meanwhile, or the file differs from the database),
 * ESRCH (the user is gone from the file), any other on a system error or
 * errors in the file (nothing changed then, unless the compile failed).
 */
int	change_set(struct change *, const char *, const char *);

/* Wipes the hash kept in c. */
void	change_forget(struct change *);

#endif

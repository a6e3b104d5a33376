/*
 * Passwords: hashing with crypt(3) for pop3d-users, checking for
 * pop3d-auth.  The only file that links libcrypt.
 */
#ifndef POP3D_PASSWD_H
#define POP3D_PASSWD_H

#include <stddef.h>

/* The crypt(3) prefix of a method named on the command line, or NULL. */
const char *passwd_prefix(const char *);

/*
 * Hashes pw with a fresh random salt of the method whose prefix is given
 * (yescrypt, "$y$", for NULL), at the library's default cost, into out of
 * size n.  Returns 0, or -1 with errno.
 */
int	passwd_hash(const char *, const char *, char *, size_t);

/*
 * Checks pw against hash, comparing in constant time.  Returns 1 for a
 * match, 0 for none (always for a locked hash, after the same work as for a
 * real one), -1 with errno when crypt(3) cannot use the hash.
 */
int	passwd_verify(const char *, const char *);

/*
 * Does the work of checking pw against a hash of the default method, for
 * an unknown user: a wrong name costs what a wrong password costs.
 */
void	passwd_dummy(const char *);

#endif

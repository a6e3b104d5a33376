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
 * The name of the method (as passwd_prefix takes it) that made hash, by
 * its prefix, or NULL for a method pop3d-users does not write: for
 * pop3d-check's report.
 */
const char *passwd_method(const char *);

/*
 * Whether a hash read from another server may go into the users file as
 * it is: 1, or 0 with *why.  It must be of a method the file takes
 * (user_hash_valid) that crypt(3) checks (crypt_checksalt), and end in
 * a checksum of crypt(3)'s alphabet.  md5-crypt and sha256-crypt, legacy
 * to libxcrypt, are taken (user_hash_legacy says so, for a warning); DES
 * is refused: it checks only a password's first 8 characters.  Costs no
 * hashing.
 */
int	passwd_carriable(const char *, const char **);

/*
 * Hashes pw with a fresh random salt of the method whose prefix is given
 * (yescrypt, "$y$", for NULL), at the cost pop3d_limits.h gives it
 * (PASSWD_SHA512_ROUNDS, PASSWD_BCRYPT_COST; yescrypt's default), into out
 * of size n.  Returns 0, or -1 with errno.
 */
int	passwd_hash(const char *, const char *, char *, size_t);

/*
 * The dummy hash for users.cdb: a hash of a random password with the
 * setting given (len octets, as user_hash_setting finds it: method and
 * cost) and a fresh salt, into out of size n; a NULL setting is the one
 * passwd_hash gives by default.  Returns 0, or -1 with errno (EINVAL:
 * crypt(3) cannot use the setting, or does not keep it).
 */
int	passwd_dummy_make(const char *, size_t, char *, size_t);

/*
 * Checks pw against hash, comparing in constant time.  Returns 1 for a
 * match, 0 for none, -1 with errno when crypt(3) cannot use the hash.
 * When there is nothing to check against (hash NULL: an unknown user; or
 * locked), does the same work against dummy instead and returns 0: so a
 * wrong name or a disabled account costs what a wrong password does.  A
 * NULL dummy means a fresh yescrypt setting at its default cost (for a
 * database compiled before dummies existed).
 */
int	passwd_check(const char *, const char *, const char *);

/*
 * A login's check, as pop3d-auth and pop3d-passwd make it: passwd_check
 * (the same work whatever the outcome), and why it refused, for the log.
 * 1 for a match; 0 with *why "unknown user" (hash NULL), "account locked"
 * or "bad password"; -1 with errno and *why "password hash unusable".
 */
int	passwd_verify(const char *, const char *, const char *,
	    const char **);

#endif

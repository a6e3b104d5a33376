/*
 * A user record: one line of the users file and the value of its key in
 * users.cdb, in the same form (pop3d-users.5):
 *
 *	name:hash:uid:gid:home[:maildrop[:apop[:policy]]]
 *
 * policy is "key=value" items separated by commas: expire=DAYS|NEVER and
 * login-delay=SECONDS (RFC 2449's EXPIRE and LOGIN-DELAY) and
 * uidl-format=FORMAT (POP3D_DOVECOT_UIDL_FORMAT, without ',' or ':', the
 * record's separators), each at most once.  Records without it (every
 * older one) have none.
 *
 * Every record is checked by user_parse before anything uses it, whether
 * it comes from the text file or from the database.
 */
#ifndef POP3D_USER_H
#define POP3D_USER_H

#include <stddef.h>
#include <sys/types.h>

#include "num.h"

struct user {
	const char	*name;
	const char	*hash;	/* crypt(3); locked: "!..." or "*..." */
	uid_t		 uid;
	gid_t		 gid;
	const char	*home;
	const char	*maildrop; /* NULL when the record has none */
	const char	*apop;	/* NULL when APOP is off for the user */
	const char	*expire; /* days or "NEVER"; NULL: not the user's */
	const char	*login_delay; /* seconds; NULL: not the user's */
	const char	*uidl_format; /* pop3_uidl_format; NULL: not set */
};

/* The hash that pop3d-users add gives a new account: no login yet. */
#define USER_HASH_LOCKED	"!"

/*
 * Splits line (a record without its line end) in place at the colons and
 * checks every field.  Returns 0 with u pointing into line, or -1 with
 * errno EINVAL and *why a short reason for the operator ("bad uid").
 */
int	user_parse(char *, struct user *, const char **);

/* Checks the fields of u as user_parse does: 0, or -1, EINVAL and *why. */
int	user_check(const struct user *, const char **);

/*
 * Writes u as a record (no line end) into buf of size n, leaving out
 * empty trailing fields.  Returns 0, or -1 with errno EINVAL (a field that
 * user_check refuses, reason in *why) or ERANGE (buf too small).
 */
int	user_format(const struct user *, char *, size_t, const char **);

/* 1 when s is a valid expire (NEVER, days) or login-delay (seconds). */
int	user_expire_valid(const char *);
int	user_login_delay_valid(const char *);

/*
 * 0 when s may be a record's uidl-format, or -1 with *why "bad
 * uidl-format: ..." (the settings table's own reason, or the separators).
 */
int	user_uidl_format_check(const char *, const char **);

/* The policy field of u into buf (size n): "" when it has none. */
void	user_policy_format(const struct user *, char *, size_t);

/* user_name_valid, the rule of a record's name, is in num.h. */

/* 1 when the hash can never match (an account without a password). */
int	user_hash_locked(const char *);

/*
 * 1 when hash is of a legacy method the file takes only as carried over
 * from another server (sha256-crypt "$5$", md5-crypt "$1$"): pop3d-users
 * never writes one, and check and import warn about each.
 */
int	user_hash_legacy(const char *);

/* What check and import say of one, after "file:line: name: ". */
#define USER_LEGACY_WARNING	"legacy hash %.3s: set a new password with" \
	" pop3d-users passwd"

/* 1 when hash is one a record may hold: a method accepted, or locked. */
int	user_hash_valid(const char *);

/*
 * The crypt(3) setting of hash without its salt: the method and its cost,
 * which decide what a check costs ("$y$j9T$", "$6$rounds=80000$", "$6$",
 * "$2b$09$"; legacy "$5$rounds=N$", "$5$", "$1$").  Returns its
 * length, a prefix of hash, or 0 for a locked hash or one whose setting
 * is not of that form.
 */
size_t	user_hash_setting(const char *);

/* 1 when the line holds no record: empty, blanks only, or a # comment. */
int	user_line_blank(const char *);

#endif

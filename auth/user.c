#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "num.h"
#include "pop3d_limits.h"
#include "settings.h"
#include "user.h"

/* The crypt(3) methods pop3d-auth accepts, by the prefix of their hash. */
static const char *const hash_prefixes[] = {
	"$y$",		/* yescrypt, the default */
	"$6$",		/* sha512-crypt */
	"$2b$", "$2a$", "$2y$",	/* bcrypt */
	/*
	 * Legacy methods, carried over from another server so that its
	 * users keep their passwords (pop3d-users import); never written.
	 * DES is not here: it checks only a password's first 8 characters.
	 */
	"$5$",		/* sha256-crypt */
	"$1$",		/* md5-crypt */
	NULL
};

#define USER_FIELDS_MIN	5
#define USER_FIELDS_MAX	8

static int
fail(const char **why, const char *reason)
{
	*why = reason;
	errno = EINVAL;
	return -1;
}

/* Printable, no space, no colon: what a path, hash or secret may hold. */
static int
field_valid(const char *s, size_t max)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':')
			return 0;
	return i > 0;
}

int
user_hash_locked(const char *hash)
{
	return hash[0] == '!' || hash[0] == '*';
}

int
user_hash_legacy(const char *hash)
{
	return strncmp(hash, "$5$", 3) == 0 || strncmp(hash, "$1$", 3) == 0;
}

int
user_hash_valid(const char *hash)
{
	size_t	i;

	if (!field_valid(hash, USERS_HASH_MAX))
		return 0;
	if (user_hash_locked(hash))
		return 1;
	for (i = 0; hash_prefixes[i] != NULL; i++)
		if (strncmp(hash, hash_prefixes[i],
		    strlen(hash_prefixes[i])) == 0)
			return 1;
	return 0;
}

size_t
user_hash_setting(const char *hash)
{
	const char	*end;

	if (strncmp(hash, "$y$", 3) == 0 ||
	    strncmp(hash, "$6$rounds=", 10) == 0 ||
	    strncmp(hash, "$5$rounds=", 10) == 0) {
		/* The method, its parameters, then the salt. */
		end = strchr(hash + 3, '$');
		return end != NULL && end > hash + 3 ? end + 1 - hash : 0;
	}
	if (strncmp(hash, "$6$", 3) == 0 || strncmp(hash, "$5$", 3) == 0)
		return 3;	/* the default 5000 rounds */
	if (strncmp(hash, "$1$", 3) == 0)
		return 3;	/* md5-crypt has no cost */
	if ((strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2a$", 4) == 0 ||
	    strncmp(hash, "$2y$", 4) == 0) && hash[4] >= '0' &&
	    hash[4] <= '9' && hash[5] >= '0' && hash[5] <= '9' &&
	    hash[6] == '$')
		return 7;	/* two digits of cost */
	return 0;
}

/*
 * The record's values go into POP3D_EXPIRE and POP3D_LOGIN_DELAY: the
 * settings table's own check, so that a record never holds a value the
 * maildrop stage would refuse.
 */
static int
user_setting_valid(const char *name, const char *s)
{
	char	err[SETTING_ERR_MAX];

	/* The table takes "" as unset; a record's key has a value. */
	return *s != '\0' &&
	    setting_check(setting_find(name), s, err, sizeof(err)) == 0;
}

int
user_expire_valid(const char *s)
{
	return user_setting_valid("POP3D_EXPIRE", s);
}

int
user_login_delay_valid(const char *s)
{
	return user_setting_valid("POP3D_LOGIN_DELAY", s);
}

int
user_uidl_format_check(const char *s, const char **why)
{
	static char	reason[SETTING_ERR_MAX + 32];
	char		err[SETTING_ERR_MAX];

	if (strpbrk(s, ",:") != NULL)
		return fail(why, "bad uidl-format: a users record's format"
		    " cannot hold ',' or ':'");
	/* The table takes "" as unset; a record's key has a value: "%"
	 * fails as "" does here, with the table's own reason. */
	if (setting_check(setting_find("POP3D_DOVECOT_UIDL_FORMAT"),
	    *s != '\0' ? s : "%", err, sizeof(err)) == 0)
		return 0;
	(void)snprintf(reason, sizeof(reason), "bad uidl-format: %s", err);
	return fail(why, reason);
}

static int
policy_check(const struct user *u, const char **why)
{
	if (u->expire != NULL && !user_expire_valid(u->expire))
		return fail(why, "bad expire (NEVER, or days from 0 to 9999)");
	if (u->login_delay != NULL && !user_login_delay_valid(u->login_delay))
		return fail(why, "bad login-delay (seconds from 0 to 86400)");
	if (u->uidl_format != NULL)
		return user_uidl_format_check(u->uidl_format, why);
	return 0;
}

/*
 * The policy field, "key=value,...", split in place.  An empty field has
 * no items; an empty item, an unknown key or one given twice is refused.
 */
static int
policy_parse(char *p, struct user *u, const char **why)
{
	char		*item, *eq, *next;
	const char	**slot;

	if (strlen(p) > USERS_POLICY_MAX)
		return fail(why, "policy field too long");
	if (*p == '\0')
		return 0;
	for (item = p; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if ((eq = strchr(item, '=')) == NULL)
			return fail(why, "bad policy item (key=value)");
		*eq = '\0';
		if (strcmp(item, "expire") == 0)
			slot = &u->expire;
		else if (strcmp(item, "login-delay") == 0)
			slot = &u->login_delay;
		else if (strcmp(item, "uidl-format") == 0)
			slot = &u->uidl_format;
		else
			return fail(why, "unknown policy key (expire,"
			    " login-delay, uidl-format)");
		if (*slot != NULL)
			return fail(why, "policy key given twice");
		*slot = eq + 1;
	}
	return 0;
}

int
user_check(const struct user *u, const char **why)
{
	if (u->name == NULL || !user_name_valid(u->name))
		return fail(why, "bad user name");
	if (u->hash == NULL || !user_hash_valid(u->hash))
		return fail(why, "bad password hash (yescrypt, sha512-crypt,"
		    " bcrypt, legacy sha256-crypt or md5-crypt, or locked)");
	if (u->uid == 0)
		return fail(why, "uid 0 (root) is refused");
	if ((uintmax_t)u->uid > USERS_ID_MAX)
		return fail(why, "bad uid");
	if (u->gid == 0)
		return fail(why, "gid 0 (root) is refused");
	if ((uintmax_t)u->gid > USERS_ID_MAX)
		return fail(why, "bad gid");
	if (u->home == NULL || u->home[0] != '/' ||
	    !field_valid(u->home, USERS_PATH_MAX))
		return fail(why, "bad home (an absolute path)");
	if (u->maildrop != NULL && !field_valid(u->maildrop, USERS_PATH_MAX))
		return fail(why, "bad maildrop");
	if (u->apop != NULL && !field_valid(u->apop, USERS_APOP_MAX))
		return fail(why, "bad APOP secret");
	return policy_check(u, why);
}

static int
id_parse(const char *s, uint64_t *v)
{
	return num_parse(s, 0, USERS_ID_MAX, v);
}

int
user_parse(char *line, struct user *u, const char **why)
{
	char		*f[USER_FIELDS_MAX];
	char		*p = line, *colon;
	size_t		 n = 0;
	uint64_t	 uid, gid;

	if (strlen(line) > USERS_LINE_MAX)
		return fail(why, "line too long");
	for (;;) {
		if (n == USER_FIELDS_MAX)
			return fail(why, "too many fields");
		f[n++] = p;
		if ((colon = strchr(p, ':')) == NULL)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	if (n < USER_FIELDS_MIN)
		return fail(why, "too few fields (name:hash:uid:gid:home)");
	if (id_parse(f[2], &uid) == -1)
		return fail(why, "bad uid");
	if (id_parse(f[3], &gid) == -1)
		return fail(why, "bad gid");
	u->name = f[0];
	u->hash = f[1];
	u->uid = (uid_t)uid;
	u->gid = (gid_t)gid;
	u->home = f[4];
	u->maildrop = n > 5 && f[5][0] != '\0' ? f[5] : NULL;
	u->apop = n > 6 && f[6][0] != '\0' ? f[6] : NULL;
	u->expire = u->login_delay = u->uidl_format = NULL;
	if (n > 7 && policy_parse(f[7], u, why) == -1)
		return -1;
	return user_check(u, why);
}

/* ",key=value" (no comma first) appended to buf when value is set. */
static void
policy_add(char *buf, size_t n, const char *key, const char *value)
{
	size_t	len = strlen(buf);

	if (value != NULL && len < n)
		(void)snprintf(buf + len, n - len, "%s%s=%s",
		    len > 0 ? "," : "", key, value);
}

void
user_policy_format(const struct user *u, char *buf, size_t n)
{
	if (n == 0)
		return;
	*buf = '\0';
	policy_add(buf, n, "expire", u->expire);
	policy_add(buf, n, "login-delay", u->login_delay);
	policy_add(buf, n, "uidl-format", u->uidl_format);
}

int
user_format(const struct user *u, char *buf, size_t n, const char **why)
{
	char	pol[USERS_POLICY_MAX + 2];
	int	r;

	if (user_check(u, why) == -1)
		return -1;
	user_policy_format(u, pol, sizeof(pol));
	if (strlen(pol) > USERS_POLICY_MAX)	/* cut at USERS_POLICY_MAX + 1 */
		return fail(why, "policy field too long");
	/* Empty trailing fields are left out; empty inner ones kept. */
	r = snprintf(buf, n, "%s:%s:%lu:%lu:%s%s%s%s%s%s%s", u->name, u->hash,
	    (unsigned long)u->uid, (unsigned long)u->gid, u->home,
	    u->maildrop != NULL || u->apop != NULL || *pol != '\0' ? ":" : "",
	    u->maildrop != NULL ? u->maildrop : "",
	    u->apop != NULL || *pol != '\0' ? ":" : "",
	    u->apop != NULL ? u->apop : "", *pol != '\0' ? ":" : "", pol);
	if (r < 0 || (size_t)r >= n) {
		*why = "record too long";
		errno = ERANGE;
		return -1;
	}
	return 0;
}

int
user_line_blank(const char *line)
{
	line += strspn(line, " \t");
	return *line == '\0' || *line == '#';
}

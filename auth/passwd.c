#include <sys/random.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/memops.h>

#include "passwd.h"
#include "pop3d_limits.h"
#include "user.h"

#define PASSWD_DEFAULT	"$y$"

/*
 * The methods pop3d-users writes, with the cost it gives each
 * (pop3d_limits.h says why): 0 is libxcrypt's default.
 */
static const struct {
	const char	*name;
	const char	*prefix;
	unsigned long	 cost;
} methods[] = {
	{ "yescrypt",	"$y$",	0 },
	{ "sha512",	"$6$",	PASSWD_SHA512_ROUNDS },
	{ "bcrypt",	"$2b$",	PASSWD_BCRYPT_COST },
	{ NULL,		NULL,	0 }
};

const char *
passwd_method(const char *hash)
{
	size_t	i;

	for (i = 0; methods[i].name != NULL; i++)
		if (strncmp(hash, methods[i].prefix,
		    strlen(methods[i].prefix)) == 0)
			return methods[i].name;
	return NULL;
}

const char *
passwd_prefix(const char *name)
{
	size_t	i;

	for (i = 0; methods[i].name != NULL; i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].prefix;
	return NULL;
}

int
passwd_carriable(const char *hash, const char **why)
{
	const char	*sum = strrchr(hash, '$');
	int		 r = crypt_checksalt(hash);
	int		 legacy = user_hash_legacy(hash);

	*why = NULL;
	if (!legacy && (r == CRYPT_SALT_METHOD_LEGACY ||
	    r == CRYPT_SALT_METHOD_DISABLED))
		*why = "a legacy method (DES or the like) that the users"
		    " file does not take (DES checks only 8 characters):"
		    " set a new password";
	/* md5-crypt and sha256-crypt are legacy to libxcrypt, and taken. */
	else if ((r != CRYPT_SALT_OK && !(legacy &&
	    r == CRYPT_SALT_METHOD_LEGACY)) || !user_hash_valid(hash))
		*why = "not a hash that crypt(3) checks";
	else if (sum == NULL || sum[1] == '\0' || sum[strspn(sum + 1,
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
	    + 1] != '\0')
		*why = "a hash without its checksum";
	return *why == NULL;
}

/* A fresh setting of the method whose prefix is given, at its cost. */
static int
passwd_gensalt(const char *prefix, char *setting, int n)
{
	unsigned long	cost = 0;
	size_t		i;

	for (i = 0; methods[i].name != NULL; i++)
		if (strcmp(prefix, methods[i].prefix) == 0)
			cost = methods[i].cost;
	if (crypt_gensalt_rn(prefix, cost, NULL, 0, setting, n) == NULL ||
	    setting[0] == '*') {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The hash of pw with the setting of hash: NULL, or the string in cd. */
static const char *
passwd_crypt(const char *pw, const char *hash, struct crypt_data *cd)
{
	const char	*h;

	memset(cd, 0, sizeof(*cd));
	h = crypt_rn(pw, hash, cd, sizeof(*cd));
	if (h == NULL || h[0] == '*') {
		errno = EINVAL;
		return NULL;
	}
	return h;
}

/* crypt(3) of pw with setting into out of size n: 0, or -1 with errno. */
static int
passwd_crypt_to(const char *pw, const char *setting, char *out, size_t n)
{
	struct crypt_data	cd;
	const char		*h;
	int			r = -1;

	if ((h = passwd_crypt(pw, setting, &cd)) == NULL)
		;
	else if ((size_t)snprintf(out, n, "%s", h) >= n)
		errno = ERANGE;
	else
		r = 0;
	explicit_bzero(&cd, sizeof(cd));
	return r;
}

int
passwd_hash(const char *prefix, const char *pw, char *out, size_t n)
{
	char	setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (passwd_gensalt(prefix != NULL ? prefix : PASSWD_DEFAULT, setting,
	    sizeof(setting)) == -1)
		return -1;
	return passwd_crypt_to(pw, setting, out, n);
}

int
passwd_dummy_make(const char *setting, size_t len, char *out, size_t n)
{
	char		 fresh[CRYPT_GENSALT_OUTPUT_SIZE];
	char		 s[USERS_HASH_MAX + CRYPT_GENSALT_OUTPUT_SIZE];
	char		 pw[33];
	unsigned char	 rnd[16];
	const char	*salt;
	size_t		 i;
	int		 r;

	/*
	 * A fresh salt of the same method (libxcrypt's own, so that it is
	 * one the method takes) after the setting's method and cost.
	 */
	if (setting == NULL) {
		if (passwd_gensalt(PASSWD_DEFAULT, fresh, sizeof(fresh)) == -1)
			return -1;
		setting = fresh;
		len = user_hash_setting(fresh);
	}
	if (len == 0 || len >= USERS_HASH_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(s, setting, len);
	s[len] = '\0';
	if (passwd_gensalt(strncmp(s, "$y$", 3) == 0 ? "$y$" :
	    strncmp(s, "$6$", 3) == 0 ? "$6$" : strncmp(s, "$5$", 3) == 0 ?
	    "$5$" : strncmp(s, "$1$", 3) == 0 ? "$1$" : "$2b$", fresh,
	    sizeof(fresh)) == -1)
		return -1;
	salt = strrchr(fresh, '$') + 1;
	if ((size_t)snprintf(s + len, sizeof(s) - len, "%s", salt) >=
	    sizeof(s) - len) {
		errno = ERANGE;
		return -1;
	}
	/* A password no one knows: the dummy never has to match. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	r = passwd_crypt_to(pw, s, out, n);
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(rnd, sizeof(rnd));
	/* What crypt(3) made must keep the setting whole. */
	if (r == 0 && strncmp(out, setting, len) != 0) {
		errno = EINVAL;
		r = -1;
	}
	return r;
}

int
passwd_check(const char *pw, const char *hash, const char *dummy)
{
	struct crypt_data	cd;
	char			setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;
	size_t			 len;
	int			 r;

	if (hash == NULL || user_hash_locked(hash)) {
		/* No hash to check: the same work, against the dummy. */
		if (dummy == NULL) {
			dummy = setting;
			if (passwd_gensalt(PASSWD_DEFAULT, setting,
			    sizeof(setting)) == -1)
				return 0;
		}
		(void)passwd_crypt(pw, dummy, &cd);
		explicit_bzero(&cd, sizeof(cd));
		return 0;
	}
	/*
	 * A legacy hash costs microseconds: the dummy's work as well, so
	 * that the weakest accounts cannot be picked out by time.
	 */
	if (user_hash_legacy(hash))
		passwd_check(pw, NULL, dummy);
	len = strlen(hash);
	if ((h = passwd_crypt(pw, hash, &cd)) == NULL)
		r = -1;
	else
		r = strlen(h) == len && memeql_sec(h, hash, len);
	explicit_bzero(&cd, sizeof(cd));
	return r;
}

int
passwd_verify(const char *pw, const char *hash, const char *dummy,
    const char **why)
{
	int	r = passwd_check(pw, hash, dummy);

	*why = NULL;
	if (hash == NULL) {
		*why = "unknown user";
		return 0;
	}
	if (r == -1)
		*why = "password hash unusable";
	else if (r == 0)
		*why = user_hash_locked(hash) ? "account locked" :
		    "bad password";
	return r;
}

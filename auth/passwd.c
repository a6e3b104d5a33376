#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/memops.h>

#include "passwd.h"
#include "user.h"

#define PASSWD_DEFAULT	"$y$"

static const struct {
	const char	*name;
	const char	*prefix;
} methods[] = {
	{ "yescrypt",	"$y$" },
	{ "sha512",	"$6$" },
	{ "bcrypt",	"$2b$" },
	{ NULL,		NULL }
};

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
passwd_hash(const char *prefix, const char *pw, char *out, size_t n)
{
	struct crypt_data	cd;
	char			setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*h;
	int			r = -1;

	if (prefix == NULL)
		prefix = PASSWD_DEFAULT;
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting,
	    sizeof(setting)) == NULL)
		return -1;
	memset(&cd, 0, sizeof(cd));
	h = crypt_rn(pw, setting, &cd, sizeof(cd));
	if (h == NULL || h[0] == '*')
		errno = EINVAL;
	else if ((size_t)snprintf(out, n, "%s", h) >= n)
		errno = ERANGE;
	else
		r = 0;
	explicit_bzero(&cd, sizeof(cd));
	return r;
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

void
passwd_dummy(const char *pw)
{
	struct crypt_data	cd;
	char			setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (crypt_gensalt_rn(PASSWD_DEFAULT, 0, NULL, 0, setting,
	    sizeof(setting)) != NULL)
		(void)passwd_crypt(pw, setting, &cd);
	explicit_bzero(&cd, sizeof(cd));
}

int
passwd_verify(const char *pw, const char *hash)
{
	struct crypt_data	cd;
	const char		*h;
	size_t			 len = strlen(hash);
	int			 r;

	if (user_hash_locked(hash)) {
		passwd_dummy(pw);
		return 0;
	}
	if ((h = passwd_crypt(pw, hash, &cd)) == NULL)
		r = -1;
	else
		r = strlen(h) == len && memeql_sec(h, hash, len);
	explicit_bzero(&cd, sizeof(cd));
	return r;
}

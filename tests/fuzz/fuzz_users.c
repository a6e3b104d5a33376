/*
 * libFuzzer target for the users record (auth/user.c), what pop3d-auth
 * reads from users.cdb, its policy field included, and for the setting of a hash that the compile
 * counts and the dummy check takes: a record that parses formats back to
 * one that parses the same; a setting found is a prefix of the hash that
 * ends in '$', and every usable, unlocked hash of a fixed cost has one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d_limits.h"
#include "user.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	line[USERS_LINE_MAX + 2], again[USERS_LINE_MAX + 2];
static char	hash[USERS_LINE_MAX + 2];

static void
check_setting(const uint8_t *data, size_t size)
{
	size_t	len;

	memcpy(hash, data, size);
	hash[size] = '\0';
	len = user_hash_setting(hash);
	if (len == 0)
		return;
	if (len > strlen(hash) || hash[len - 1] != '$' || hash[0] != '$' ||
	    user_hash_locked(hash))
		abort();
	if (strncmp(hash, "$y$", 3) != 0 && strncmp(hash, "$6$", 3) != 0 &&
	    strncmp(hash, "$2", 2) != 0 && strncmp(hash, "$5$", 3) != 0 &&
	    strncmp(hash, "$1$", 3) != 0)
		abort();
}

/* Both unset, or both set to the same. */
static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct user	 u, v;
	const char	*why;

	if (size > USERS_LINE_MAX + 1 || memchr(data, '\0', size) != NULL)
		return 0;
	check_setting(data, size);
	memcpy(line, data, size);
	line[size] = '\0';
	if (user_parse(line, &u, &why) == -1) {
		if (why == NULL)
			abort();
		return 0;
	}
	if (user_hash_setting(u.hash) == 0 && !user_hash_locked(u.hash) &&
	    strncmp(u.hash, "$y$", 3) != 0 && strncmp(u.hash, "$6$r", 4) != 0 &&
	    strncmp(u.hash, "$5$r", 4) != 0 && strncmp(u.hash, "$2", 2) != 0)
		abort();
	if (user_format(&u, again, sizeof(again), &why) == -1 ||
	    user_parse(again, &v, &why) == -1)
		abort();
	if (strcmp(u.name, v.name) != 0 || strcmp(u.hash, v.hash) != 0 ||
	    u.uid != v.uid || u.gid != v.gid || strcmp(u.home, v.home) != 0 ||
	    (u.maildrop == NULL) != (v.maildrop == NULL) ||
	    (u.maildrop != NULL && strcmp(u.maildrop, v.maildrop) != 0) ||
	    (u.apop == NULL) != (v.apop == NULL) ||
	    (u.apop != NULL && strcmp(u.apop, v.apop) != 0) ||
	    !same(u.expire, v.expire) || !same(u.login_delay, v.login_delay))
		abort();
	return 0;
}

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "num.h"

int
num_parse_n(const char *s, size_t len, uint64_t min, uint64_t max,
    uint64_t *out)
{
	uint64_t	v = 0;
	unsigned	d;
	size_t		i;
	int		range = 0;

	if (s == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			errno = EINVAL;
			return -1;
		}
		d = s[i] - '0';
		if (v > (UINT64_MAX - d) / 10)
			range = 1;	/* keep scanning: "9999x" is EINVAL */
		else
			v = v * 10 + d;
	}
	if (range || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return num_parse_n(s, s != NULL ? strlen(s) : 0, min, max, out);
}

int
env_num_strict(const char *name, uint64_t def, uint64_t min, uint64_t max,
    uint64_t *out)
{
	const char	*s = getenv(name);

	*out = def;
	if (s == NULL || *s == '\0' || num_parse(s, min, max, out) == 0)
		return 0;
	log_warn("bad setting: %s is not a number from %llu to %llu", name,
	    (unsigned long long)min, (unsigned long long)max);
	return -1;
}

uint64_t
env_num(const char *name, uint64_t def, uint64_t min, uint64_t max)
{
	uint64_t	v;

	if (env_num_strict(name, def, min, max, &v) == -1) {
		log_warn("setting ignored: using %s=%llu", name,
		    (unsigned long long)def);
		return def;
	}
	return v;
}

int
flag_parse(const char *s, int *out)
{
	if (strcmp(s, "1") == 0 || strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "0") == 0 || strcmp(s, "no") == 0)
		*out = 0;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
text_valid(const char *s, size_t max, int blanks)
{
	const char	*p;

	for (p = s; *p != '\0'; p++)
		if ((*p < 0x20 || *p > 0x7e) && !(blanks && (*p == '\t' ||
		    *p == '\n' || *p == '\r')))
			return 0;
	return (size_t)(p - s) <= max;
}

int
env_flag_strict(const char *name, int def, int *out)
{
	const char	*s = getenv(name);

	*out = def;
	if (s == NULL || *s == '\0')
		return 0;
	if (flag_parse(s, out) == -1) {
		log_warn("bad setting: %s must be 0 or 1", name);
		return -1;
	}
	return 0;
}

int
env_text_strict(const char *name, size_t max, const char **out)
{
	const char	*s = getenv(name);

	*out = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	if (!text_valid(s, max, 0)) {
		log_warn("bad setting: %s must be at most %zu printable"
		    " characters", name, max);
		return -1;
	}
	*out = s;
	return 0;
}

const char *
env_text(const char *name, size_t max)
{
	const char	*s;

	if (env_text_strict(name, max, &s) == -1) {
		log_warn("setting ignored: %s", name);
		return NULL;
	}
	return s;
}

const char *
env_path(const char *name, const char *def)
{
	const char	*s = getenv(name);

	return s != NULL && *s != '\0' ? s : def;
}

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "num.h"

int
num_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	unsigned	d;
	int		range = 0;

	if (s == NULL || *s == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			errno = EINVAL;
			return -1;
		}
		d = *s - '0';
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

uint64_t
env_num(const char *name, uint64_t def, uint64_t min, uint64_t max)
{
	const char	*s = getenv(name);
	uint64_t	 v;

	if (s == NULL || *s == '\0')
		return def;
	if (num_parse(s, min, max, &v) == -1) {
		log_warn("setting ignored: %s is not a number from %llu to %llu;"
		    " using %llu", name, (unsigned long long)min,
		    (unsigned long long)max, (unsigned long long)def);
		return def;
	}
	return v;
}

const char *
env_text(const char *name, size_t max)
{
	const char	*s = getenv(name), *p;

	if (s == NULL || *s == '\0')
		return NULL;
	for (p = s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			break;
	if (*p != '\0' || (size_t)(p - s) > max) {
		log_warn("setting ignored: %s must be at most %zu printable"
		    " characters", name, max);
		return NULL;
	}
	return s;
}

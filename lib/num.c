#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "num.h"
#include "pop3d_limits.h"

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
user_name_valid(const char *s)
{
	size_t	i;
	char	c;

	/* Not "-x" (an option) nor ".x": a name is never taken for either. */
	if (s == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '.')
		return 0;
	for (i = 0; (c = s[i]) != '\0'; i++) {
		if (i >= POP3_USER_MAX)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._+-@", c) != NULL)
			continue;
		return 0;
	}
	return 1;
}

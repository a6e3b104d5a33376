/*
 * The output of pop3d-check (check.h): one line per check, the count of
 * errors, and the reused modules' log lines kept for the line that fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "settings.h"

static int	errors;

/* The lines the reused modules log, kept for the check that failed. */
static char	logged[512];

/* log_to_sink's receiver: the reused modules' lines, joined. */
static void
sink(const char *p, size_t n)
{
	size_t	have = strlen(logged);

	if (have > 0 && have + 2 < sizeof(logged)) {
		memcpy(logged + have, "; ", 2);
		have += 2;
	}
	if (n > sizeof(logged) - have - 1)
		n = sizeof(logged) - have - 1;
	memcpy(logged + have, p, n);
	logged[have + n] = '\0';
}

void
say(const char *level, const char *what, const char *fmt, ...)
{
	char	buf[1024], *p;
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (strcmp(level, "error") == 0)
		errors++;
	printf("%s %s: %s\n", level, what, buf);
	fflush(stdout);
}

void
check_log_start(void)
{
	log_to_sink(sink);
}

void
check_log_clear(void)
{
	logged[0] = '\0';
}

const char *
check_log_text(void)
{
	return logged;
}

int
check_errors(void)
{
	return errors;
}

/* check.h */
const char *
check_value(const char *name)
{
	const struct setting	*s = setting_find(name);
	const char		*v = getenv(name);

	if (v != NULL && *v != '\0')
		return v;
	return s != NULL ? setting_default_text(s) : NULL;
}

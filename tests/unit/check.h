/*
 * The unit tests' whole framework: CHECK prints "ok" or "not ok" with where
 * and what, and check_done prints the count and gives the exit status.
 * tests/run.sh adds the lines of every tester up.
 */
#ifndef POP3D_CHECK_H
#define POP3D_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

static int
check_report(int ok, const char *file, int line, const char *what)
{
	if (ok)
		check_passed++;
	else
		check_failed++;
	printf("%s - %s:%d: %s\n", ok ? "ok" : "not ok", file, line, what);
	return ok;
}

#define CHECK(cond)	check_report((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
#define CHECK_STR(a, b)	check_report(strcmp((a), (b)) == 0, __FILE__, \
			    __LINE__, #a " == " #b)

static int
check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

/*
 * A fresh directory "name.XXXXXX" into buf (size n, at least 64) under
 * $TMPDIR (tests/run.sh points it at a tmpfs, where the fsyncs of the
 * code under test cost nothing), else under /tmp: buf, or NULL.  A
 * TMPDIR over 24 octets is not used: the testers' paths are sized for a
 * short one.
 */
static __attribute__((unused)) char *
check_tmpdir(char *buf, size_t n, const char *name)
{
	const char	*t = getenv("TMPDIR");
	int		 r;

	if (t == NULL || *t != '/' || strlen(t) > 24)
		t = "/tmp";
	r = snprintf(buf, n, "%s/%s.XXXXXX", t, name);
	if (r < 0 || (size_t)r >= n)
		return NULL;
	return mkdtemp(buf);
}

#endif

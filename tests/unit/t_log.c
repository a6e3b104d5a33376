#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "pop3d_limits.h"

int
main(void)
{
	char		out[LOG_VALUE_MAX * 4 + 1], in[LOG_VALUE_MAX + 50];
	struct logline	l;

	log_escape(out, sizeof(out), "alice@example.org");
	CHECK_STR(out, "alice@example.org");
	/* A line stays one line: controls, quotes, backslashes escaped. */
	log_escape(out, sizeof(out), "a b\nc=\"d\\");
	CHECK_STR(out, "a b\\x0ac=\\x22d\\x5c");
	log_escape(out, sizeof(out), "\xff");
	CHECK_STR(out, "\\xff");
	memset(in, 'v', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	log_escape(out, sizeof(out), in);
	CHECK(strlen(out) == LOG_VALUE_MAX);
	log_escape(out, 5, "abcdef");
	CHECK_STR(out, "abcd");

	log_init("/usr/sbin/pop3d-test");
	CHECK_STR(log_progname(), "pop3d-test");
	logline_start(&l, "session");
	logline_str(&l, "user", "bob smith");
	logline_str(&l, "remote", NULL);
	logline_str(&l, "why", "a=b");
	logline_num(&l, "retr", 18446744073709551615ULL);
	l.buf[l.len] = '\0';
	snprintf(out, sizeof(out), "pop3d-test[%ld]: session", (long)getpid());
	CHECK(strncmp(l.buf, out, strlen(out)) == 0);
	CHECK_STR(strchr(l.buf, ' ') + 1, "session user=\"bob smith\" remote=-"
	    " why=\"a=b\" retr=18446744073709551615");
	return check_done();
}

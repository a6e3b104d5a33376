#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "pop3d_limits.h"

/* The lines log_to_sink hands over: the last one, without its prefix. */
static char	sunk[LOGLINE_MAX];

static void
sink(const char *p, size_t n)
{
	snprintf(sunk, sizeof(sunk), "%.*s", (int)n, p);
}

/* What a line ends with once written (fd 2 to a pipe): its last octets. */
static void
written(char *dst, size_t n, void (*emit)(void))
{
	int	fds[2], saved;
	ssize_t	r;

	fflush(stderr);
	if (pipe(fds) == -1 || (saved = dup(2)) == -1 || dup2(fds[1], 2) == -1)
		abort();
	emit();
	dup2(saved, 2);
	close(saved);
	close(fds[1]);
	r = read(fds[0], dst, n - 1);
	dst[r > 0 ? r : 0] = '\0';
	close(fds[0]);
}

static void
emit_event(void)
{
	struct logline	l;

	logline_start(&l, "end");
	logline_str(&l, "remote", "127.0.0.1");
	logline_emit(&l);
}

static void
emit_long(void)
{
	struct logline	l;
	char		v[LOG_VALUE_MAX + 1];
	int		i;

	memset(v, 'x', LOG_VALUE_MAX);
	v[LOG_VALUE_MAX] = '\0';
	logline_start(&l, "long");
	for (i = 0; i < 20; i++)
		logline_str(&l, "k", v);
	logline_emit(&l);
}

static void
emit_warn(void)
{
	log_warn("free text %d", 1);
}

static void
emit_warn_quote(void)
{
	log_warn("a \"b\"\n c=d");
}

static void
emit_warn_word(void)
{
	log_warn("word");
}

static void
emit_warn_long(void)
{
	char	v[3 * LOG_VALUE_MAX];

	memset(v, 'y', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	log_warn("%s", v);
}

/* die in a child, whose stderr is ours. */
static void
emit_die(void)
{
	pid_t	pid = fork();

	if (pid == 0)
		die(111, "cannot go on: %d", 5);
	waitpid(pid, NULL, 0);
}

/* log_warn in a tool (log_cli), in a child: the mode stays its own. */
static void
emit_cli_warn(void)
{
	pid_t	pid = fork();

	if (pid == 0) {
		log_cli();
		emit_warn();
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static int
ends_with(const char *s, const char *tail)
{
	size_t	n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

int
main(void)
{
	char		line[2 * LOGLINE_MAX], cwd[4096], want[8192];
	char		buf[8192];
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

	/* The connection's id ends every line, event or free text. */
	setenv("POP3D_SESSION", "0a1b2c3d", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1 session=0a1b2c3d\n"));
	written(line, sizeof(line), emit_warn);
	CHECK(ends_with(line, ": warning msg=\"free text 1\""
	    " session=0a1b2c3d\n"));
	/* A line cut at LOGLINE_MAX keeps it. */
	written(line, sizeof(line), emit_long);
	CHECK(strlen(line) <= LOGLINE_MAX && strlen(line) > LOGLINE_MAX - 140);
	CHECK(ends_with(line, "x session=0a1b2c3d\n"));
	/* Anything but a short hex id is no id: nothing is added. */
	setenv("POP3D_SESSION", "0a1b c", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1\n"));
	setenv("POP3D_SESSION", "0123456789abcdef0", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1\n"));
	/* A server's free text is an event, its text escaped, not cut short. */
	setenv("POP3D_SESSION", "0a1b2c3d", 1);
	written(line, sizeof(line), emit_warn_quote);
	CHECK(ends_with(line, ": warning msg=\"a \\x22b\\x22\\x0a "
	    "c=d\" session=0a1b2c3d\n"));
	written(line, sizeof(line), emit_warn_word);
	CHECK(ends_with(line, ": warning msg=word session=0a1b2c3d\n"));
	written(line, sizeof(line), emit_warn_long);
	CHECK(ends_with(line, "yy session=0a1b2c3d\n") &&
	    strlen(line) > 3 * LOG_VALUE_MAX);
	written(line, sizeof(line), emit_die);
	CHECK(ends_with(line, ": fatal msg=\"cannot go on: 5\" exit=111"
	    " session=0a1b2c3d\n"));
	/* A tool's (log_cli) is the text as it is. */
	written(line, sizeof(line), emit_cli_warn);
	CHECK(ends_with(line, ": free text 1 session=0a1b2c3d\n"));
	/* Behind a trusted proxy (TCPPROXYIP), every line names it. */
	setenv("TCPPROXYIP", "2001:db8::5", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1 proxy=2001:db8::5"
	    " session=0a1b2c3d\n"));
	written(line, sizeof(line), emit_long);
	CHECK(strlen(line) <= LOGLINE_MAX &&
	    ends_with(line, "x proxy=2001:db8::5 session=0a1b2c3d\n"));
	setenv("TCPPROXYIP", "unknown", 1);
	written(line, sizeof(line), emit_warn);
	CHECK(ends_with(line, " proxy=unknown session=0a1b2c3d\n"));
	/* Nothing that is not an address's text gets into a line. */
	setenv("TCPPROXYIP", "10.0.0.1 session=ffff", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1 session=0a1b2c3d\n"));
	setenv("TCPPROXYIP", "", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1 session=0a1b2c3d\n"));
	unsetenv("POP3D_SESSION");
	setenv("TCPPROXYIP", "10.0.0.1", 1);
	written(line, sizeof(line), emit_event);
	CHECK(ends_with(line, ": end remote=127.0.0.1 proxy=10.0.0.1\n"));
	unsetenv("TCPPROXYIP");
	setenv("POP3D_SESSION", "0a1b2c3d", 1);
	/* Lines for a sink are written inside another's: no id there. */
	setenv("POP3D_SESSION", "0a1b2c3d", 1);
	log_to_sink(sink);
	emit_event();
	CHECK_STR(sunk, "end remote=127.0.0.1");
	/* Free text to a sink stays text: the receiver makes it a value. */
	emit_warn();
	CHECK_STR(sunk, "free text 1");
	unsetenv("POP3D_SESSION");

	/* Paths in lines are absolute: from the cwd, or log_file_base's. */
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_STR(log_abspath("/etc/pop3d/users", buf, sizeof(buf)),
	    "/etc/pop3d/users");
	snprintf(want, sizeof(want), "%s/etc/users.cdb", cwd);
	CHECK_STR(log_abspath("./etc/users.cdb", buf, sizeof(buf)), want);
	CHECK(log_abspath("", buf, sizeof(buf))[0] == '\0');
	/* Too long for the buffer: as it is. */
	CHECK_STR(log_abspath("abc", buf, 4), "abc");
	log_file_base("/");
	CHECK_STR(log_abspath("cur/x", buf, sizeof(buf)), "/cur/x");
	CHECK_STR(log_abspath(".", buf, sizeof(buf)), "/");
	return check_done();
}

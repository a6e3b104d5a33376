/*
 * XTND XMIT's parts: the command split, the user check, the receiver
 * (unstuffing, line ends, the size and line limits) and the program run
 * (exit status, time limit, descriptors).
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "num.h"
#include "io.h"
#include "xmit.h"

static void
test_split(void)
{
	char	buf[256], *argv[XMIT_ARGS_MAX + 1];
	size_t	i;

	snprintf(buf, sizeof(buf), "  /usr/sbin/sendmail  -oi -t ");
	CHECK(xmit_split(buf, argv, XMIT_ARGS_MAX) == 3);
	CHECK_STR(argv[0], "/usr/sbin/sendmail");
	CHECK_STR(argv[1], "-oi");
	CHECK_STR(argv[2], "-t");
	CHECK(argv[3] == NULL);
	snprintf(buf, sizeof(buf), "   ");
	CHECK(xmit_split(buf, argv, XMIT_ARGS_MAX) == -1);
	buf[0] = '\0';
	CHECK(xmit_split(buf, argv, XMIT_ARGS_MAX) == -1);
	for (i = 0; i < 3 * 4; i += 2)
		memcpy(buf + i, "x ", 2);
	buf[i] = '\0';		/* six words */
	CHECK(xmit_split(buf, argv, 6) == 6);
	for (i = 0; i < 3 * 4; i += 2)
		memcpy(buf + i, "x ", 2);
	CHECK(xmit_split(buf, argv, 5) == -1);
}

static void
test_user(void)
{
	char	long_name[POP3_USER_MAX + 2];

	CHECK(user_name_valid("alice"));
	CHECK(user_name_valid("alice.b+tag@example.org"));
	CHECK(user_name_valid("A-9_z"));
	CHECK(!user_name_valid(NULL));
	CHECK(!user_name_valid(""));
	CHECK(!user_name_valid("-fbob"));
	CHECK(!user_name_valid(".hidden"));
	CHECK(!user_name_valid("a b"));
	CHECK(!user_name_valid("a/b"));
	CHECK(!user_name_valid("a;b"));
	CHECK(!user_name_valid("a\nb"));
	CHECK(!user_name_valid("\xc3\xa4"));
	memset(long_name, 'a', POP3_USER_MAX);
	long_name[POP3_USER_MAX] = '\0';
	CHECK(user_name_valid(long_name));
	long_name[POP3_USER_MAX] = 'a';
	long_name[POP3_USER_MAX + 1] = '\0';
	CHECK(!user_name_valid(long_name));
}

/* What the spool holds. */
static size_t
spool(int fd, char *buf, size_t n)
{
	ssize_t	got = pread(fd, buf, n, 0);

	return got < 0 ? 0 : (size_t)got;
}

#define LINE(rx, s)	xmit_rx_line((rx), (s), sizeof(s) - 1)

static void
test_rx(void)
{
	static struct xmit_rx	rx;
	static char		big[4096];
	char			got[256];
	const char		want[] = "Subject: x\n\n.\n..\nx\nbare\rcr\n"
				    "nul\0x\n\n";
	size_t			n;
	int			fd = memfd_create("t_xmit", 0);

	xmit_rx_init(&rx, fd, 1024);
	CHECK(LINE(&rx, "Subject: x") == 0);
	CHECK(LINE(&rx, "") == 0);
	CHECK(LINE(&rx, "..") == 0);		/* a line holding "." */
	CHECK(LINE(&rx, "...") == 0);
	CHECK(LINE(&rx, ".x") == 0);		/* unstuffed all the same */
	CHECK(LINE(&rx, "bare\rcr") == 0);
	CHECK(LINE(&rx, "nul\0x") == 0);
	CHECK(LINE(&rx, "") == 0);
	CHECK(LINE(&rx, ".") == 1);
	CHECK(xmit_rx_finish(&rx) == 0);
	n = spool(fd, got, sizeof(got));
	CHECK(n == sizeof(want) - 1 && memcmp(got, want, n) == 0);
	/* Counted as LIST counts: CRLF, no stuffing. */
	CHECK(rx.octets == sizeof(want) - 1 + 8);
	close(fd);

	/* Exactly at the limit is taken; one octet more is not. */
	fd = memfd_create("t_xmit", 0);
	xmit_rx_init(&rx, fd, 12);
	CHECK(LINE(&rx, "1234") == 0);
	CHECK(LINE(&rx, ".1234") == 0);
	CHECK(xmit_rx_finish(&rx) == 0 && rx.refused == XMIT_ACCEPTED);
	CHECK(LINE(&rx, "") == 0);
	CHECK(rx.refused == XMIT_TOOLARGE);
	CHECK(LINE(&rx, "more") == 0);		/* still read to the end */
	CHECK(LINE(&rx, ".") == 1);
	CHECK(xmit_rx_finish(&rx) == -1 && rx.refused == XMIT_TOOLARGE);
	close(fd);

	/* 998 characters are a line; 999 are not, stuffed or not. */
	fd = memfd_create("t_xmit", 0);
	xmit_rx_init(&rx, fd, 1 << 20);
	memset(big, 'x', sizeof(big));
	big[0] = '.';
	CHECK(xmit_rx_line(&rx, big + 1, XMIT_LINE_TEXT_MAX) == 0);
	CHECK(xmit_rx_line(&rx, big, XMIT_LINE_TEXT_MAX + 1) == 0);
	CHECK(xmit_rx_finish(&rx) == 0);
	CHECK(spool(fd, big + 2000, 2000) == 2 * (XMIT_LINE_TEXT_MAX + 1));
	memset(big, 'x', sizeof(big));
	CHECK(xmit_rx_line(&rx, big, XMIT_LINE_TEXT_MAX + 1) == 0);
	CHECK(rx.refused == XMIT_LONGLINE);
	CHECK(xmit_rx_finish(&rx) == -1);
	close(fd);
	fd = memfd_create("t_xmit", 0);
	xmit_rx_init(&rx, fd, 1 << 20);
	xmit_rx_toolong(&rx);
	CHECK(LINE(&rx, "after") == 0);
	CHECK(xmit_rx_finish(&rx) == -1 && rx.refused == XMIT_LONGLINE);
	close(fd);

	/* The first reason stays. */
	fd = memfd_create("t_xmit", 0);
	xmit_rx_init(&rx, fd, 1024);
	xmit_rx_toolong(&rx);
	for (n = 0; n < 20; n++)
		xmit_rx_line(&rx, big, 100);
	CHECK(rx.refused == XMIT_LONGLINE);
	close(fd);

	/* A spool that cannot be written. */
	fd = open("/dev/null", O_RDONLY);
	xmit_rx_init(&rx, fd, 1024);
	CHECK(LINE(&rx, "x") == 0);
	CHECK(xmit_rx_finish(&rx) == -1 && rx.refused == XMIT_SPOOLERR &&
	    rx.err == EBADF);
	close(fd);

	/* A message far larger than the buffer passes through it. */
	fd = memfd_create("t_xmit", 0);
	xmit_rx_init(&rx, fd, XMIT_SIZE_MAX);
	memset(big, 'y', sizeof(big));
	for (n = 0; n < 1000; n++)
		xmit_rx_line(&rx, big, 900);
	CHECK(xmit_rx_finish(&rx) == 0);
	CHECK(lseek(fd, 0, SEEK_END) == 1000 * 901);
	close(fd);
}

static int
run_sh(const char *script, int ms, int *status)
{
	char	*argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	int	 fd = memfd_create("t_xmit", 0), r;

	r = xmit_run(argv, fd, ms, status);
	close(fd);
	return r;
}

static void
test_run(void)
{
	char	script[128];
	int	status, p[2];
	int64_t	t;

	CHECK(run_sh("exit 0", 5000, &status) == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	CHECK(run_sh("exit 75", 5000, &status) == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 75);
	CHECK(run_sh("kill -SEGV $$", 5000, &status) == 0 &&
	    WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	t = io_now_ms();
	CHECK(run_sh("sleep 30", 300, &status) == 1);
	CHECK(io_now_ms() - t < 5000);
	/* One that ignores SIGTERM gets SIGKILL after the grace. */
	t = io_now_ms();
	CHECK(run_sh("trap '' TERM; sleep 30; sleep 30", 300, &status) == 1 &&
	    WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(io_now_ms() - t >= XMIT_KILL_GRACE_MS);
	/* No descriptor but 0, 1 and 2 reaches the program. */
	if (pipe(p) == 0) {
		snprintf(script, sizeof(script),
		    "test -e /proc/$$/fd/%d && exit 1; exit 0", p[1]);
		CHECK(run_sh(script, 5000, &status) == 0 &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(p[0]);
		close(p[1]);
	}
	/* A program that does not exist exits 127. */
	{
		char	*argv[] = { "/nonexistent/sendmail", NULL };
		int	 fd = memfd_create("t_xmit", 0);

		CHECK(xmit_run(argv, fd, 5000, &status) == 0 &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 127);
		close(fd);
	}
}

int
main(void)
{
	test_split();
	test_user();
	test_rx();
	test_run();
	return check_done();
}

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "pop3d_limits.h"

static struct in	in;
static char		line[POP3_CMD_MAX];
static size_t		len;

/* A reader over a pipe that holds data; the write end is closed. */
static void
feed(const char *data, size_t n)
{
	int	p[2];

	if (pipe(p) == -1 || write(p[1], data, n) != (ssize_t)n)
		abort();
	close(p[1]);
	in_init(&in, p[0], 1000, NULL);
}

static enum in_status
next(void)
{
	return in_line(&in, line, POP3_CMD_MAX, POP3_LINE_HOSTILE, &len);
}

/* A line of n octets of 'x' and the given ending. */
static char *
long_line(size_t n, const char *end)
{
	char	*s = malloc(n + strlen(end) + 1);

	memset(s, 'x', n);
	strcpy(s + n, end);
	return s;
}

/* The waits every deadline goes through, and the helpers beside them. */
static void
test_poll(void)
{
	struct pollfd	pfd[2];
	int		p[2], q[2];
	int64_t		t0;

	if (pipe(p) == -1 || pipe(q) == -1)
		abort();
	CHECK(io_nonblock(p[0]) == 0 && (fcntl(p[0], F_GETFL) & O_NONBLOCK));
	CHECK(io_nonblock(p[0]) == 0);		/* already: no change */
	pfd[0].fd = p[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = q[0];
	pfd[1].events = POLLIN;
	t0 = io_now_ms();
	errno = 0;
	CHECK(io_poll(pfd, 2, t0 + 50) == -1 && errno == ETIMEDOUT &&
	    io_now_ms() - t0 >= 50);
	CHECK(io_wait(p[0], POLLIN, io_now_ms() - 1) == -1 &&
	    errno == ETIMEDOUT);		/* past: no wait at all */
	CHECK(write(q[1], "x", 1) == 1);
	CHECK(io_poll(pfd, 2, io_now_ms() + 1000) == 1 &&
	    pfd[1].revents == POLLIN && pfd[0].revents == 0);
	pfd[1].fd = -1;				/* left out */
	CHECK(io_poll(pfd, 2, io_now_ms() + 20) == -1 && errno == ETIMEDOUT);
	CHECK(io_wait(q[0], POLLIN, io_now_ms() + 1000) == 0);
	errno = ENOSPC;
	close_keep_errno(p[1]);
	CHECK(errno == ENOSPC && fcntl(p[1], F_GETFD) == -1);
	errno = ENOSPC;
	close_keep_errno(p[1]);		/* a close that fails too */
	CHECK(errno == ENOSPC);
	close(p[0]);
	close(q[0]);
	close(q[1]);
}

int
main(void)
{
	char	*s, *t;
	int	 p[2];
	struct out *out;

	test_poll();
	signal(SIGPIPE, SIG_IGN);
	s = "STAT\r\nLIST 1\nNOOP\r\r\n\r\nQUIT";
	feed(s, strlen(s));
	CHECK(next() == IN_LINE && len == 4 && strcmp(line, "STAT") == 0);
	CHECK(next() == IN_LINE && strcmp(line, "LIST 1") == 0);
	/* Only one CR before the LF is the line end; another is data. */
	CHECK(next() == IN_LINE && len == 5 && strcmp(line, "NOOP\r") == 0);
	CHECK(next() == IN_LINE && len == 0);
	CHECK(next() == IN_EOF);		/* "QUIT" had no LF */
	close(in.fd);

	/* The limits count the line end as it came: CRLF or a bare LF. */
	{
		struct {
			size_t		text;
			const char	*end;
			enum in_status	want;
		} cases[] = {
			{ 253, "\r\n", IN_LINE },	/* 255: RFC 2449's most */
			{ 254, "\n", IN_LINE },
			{ 254, "\r\n", IN_TOOLONG },	/* 256 */
			{ 255, "\n", IN_TOOLONG },
			{ 510, "\r\n", IN_TOOLONG },	/* 512: not yet hostile */
			{ 511, "\n", IN_TOOLONG },
			{ 511, "\r\n", IN_HOSTILE },	/* 513 */
			{ 512, "\n", IN_HOSTILE },
		};
		size_t	i;
		char	label[80];

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			s = long_line(cases[i].text, cases[i].end);
			t = malloc(strlen(s) + 7);
			sprintf(t, "%sNOOP\n", s);
			feed(t, strlen(t));
			snprintf(label, sizeof(label), "%zu octets and %s",
			    cases[i].text, cases[i].end[0] == '\r' ? "CRLF" :
			    "LF");
			check_report(next() == cases[i].want, __FILE__,
			    __LINE__, label);
			if (cases[i].want == IN_LINE)
				CHECK(len == cases[i].text && line[len - 1] ==
				    'x');
			/* Within the hostile limit the next line is intact. */
			if (cases[i].want != IN_HOSTILE)
				CHECK(next() == IN_LINE &&
				    strcmp(line, "NOOP") == 0);
			close(in.fd);
			free(s);
			free(t);
		}
	}
	/* 513 octets with no line end at all: hostile without waiting. */
	s = long_line(POP3_LINE_HOSTILE + 1, "");
	if (pipe(p) == -1 || write(p[1], s, strlen(s)) < 0)
		abort();
	in_init(&in, p[0], 1000, NULL);
	CHECK(next() == IN_HOSTILE);
	close(p[0]);
	close(p[1]);
	free(s);

	/* A silent peer: the timeout, not a hang. */
	if (pipe(p) == -1)
		abort();
	in_init(&in, p[0], 50, NULL);
	CHECK(next() == IN_TIMEOUT);
	close(p[0]);

	/* Output: buffered until flushed, CRLF added, counted. */
	out = malloc(sizeof(*out));
	if (pipe(p) == -1)
		abort();
	out_init(out, p[1], 1000);
	out_line(out, "+OK %d messages", 3);
	out_str(out, ".\r\n");
	CHECK(out->total == 0);
	CHECK(out_flush(out) == 0 && out->total == 19);
	{
		char	buf[64];
		ssize_t	n = read(p[0], buf, sizeof(buf));

		CHECK(n == 19 && memcmp(buf, "+OK 3 messages\r\n.\r\n", 19) == 0);
	}
	/* Listing lines: what out_line would queue, without printf. */
	{
		struct out	*a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
		uint64_t	 nums[] = { 0, 1, 9, 10, 12345, UINT64_MAX };
		char		 text[600], *room;
		size_t		 i, j, lens[] = { 0, 3, 70, 480, 600 }, n;

		memset(text, 'u', sizeof(text));
		out_init(a, p[1], 1000);
		out_init(b, p[1], 1000);
		for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
			for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
				out_line(a, "%llu %.*s",
				    (unsigned long long)nums[i], (int)lens[j],
				    text);
				out_item(b, nums[i], text, lens[j]);
			}
			out_line(a, "%llu %llu", (unsigned long long)nums[i],
			    (unsigned long long)nums[5 - i]);
			out_item_num(b, nums[i], nums[5 - i]);
		}
		CHECK(a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0);

		/* Writing in place: a full buffer is flushed first. */
		b->len = 0;
		room = out_room(b, &n);
		CHECK(room == b->buf && n == sizeof(b->buf));
		memset(room, 'z', n);
		out_commit(b, n);
		CHECK(b->len == sizeof(b->buf) && b->total == 0);
		(void)fcntl(p[1], F_SETPIPE_SZ, 4 * sizeof(b->buf));
		room = out_room(b, &n);
		CHECK(b->len == 0 && b->total == sizeof(b->buf) &&
		    room == b->buf && n == sizeof(b->buf));
		out_commit(b, 2);
		CHECK(b->len == 2);
		free(a);
		free(b);
	}

	close(p[0]);
	out_line(out, "+OK");
	CHECK(out_flush(out) == -1 && out->failed);
	out_line(out, "+OK");
	CHECK(out_flush(out) == -1);
	close(p[1]);
	free(out);
	return check_done();
}

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "pop3d_limits.h"

static struct in	in;
static char		line[POP3_CMD_TEXT_MAX + 1];
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
	return in_line(&in, line, POP3_CMD_TEXT_MAX, POP3_LINE_TEXT_MAX, &len);
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

int
main(void)
{
	char	*s, *t;
	int	 p[2];
	struct out *out;

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

	/* 253 octets + CRLF = 255 is the RFC 2449 maximum: accepted. */
	s = long_line(POP3_CMD_TEXT_MAX, "\r\n");
	t = long_line(POP3_CMD_TEXT_MAX + 1, "\r\nNOOP\r\n");
	feed(s, strlen(s));
	CHECK(next() == IN_LINE && len == POP3_CMD_TEXT_MAX);
	close(in.fd);
	/* One more octet: refused, consumed, and the next line is intact. */
	feed(t, strlen(t));
	CHECK(next() == IN_TOOLONG);
	CHECK(next() == IN_LINE && strcmp(line, "NOOP") == 0);
	close(in.fd);
	free(s);
	free(t);

	/* 510 + CRLF = 512: still only too long; with a bare LF as well. */
	s = long_line(POP3_LINE_TEXT_MAX, "\r\nNOOP\n");
	feed(s, strlen(s));
	CHECK(next() == IN_TOOLONG);
	CHECK(next() == IN_LINE && strcmp(line, "NOOP") == 0);
	close(in.fd);
	free(s);
	s = long_line(POP3_LINE_TEXT_MAX + 1, "\n");
	feed(s, strlen(s));
	CHECK(next() == IN_HOSTILE);
	close(in.fd);
	free(s);
	/* 513 octets with no line end at all: hostile without waiting. */
	s = long_line(POP3_LINE_TEXT_MAX + 3, "");
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
	/* A reader that went away: failed, and it stays failed. */
	close(p[0]);
	out_line(out, "+OK");
	CHECK(out_flush(out) == -1 && out->failed);
	out_line(out, "+OK");
	CHECK(out_flush(out) == -1);
	close(p[1]);
	free(out);
	return check_done();
}

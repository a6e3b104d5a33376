#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

/*
 * A signal handler can only leave a note, so this is the one piece of
 * state shared with it: which signal asked the session to end, and the
 * mask that lets it through while waiting (it stays blocked elsewhere, so
 * it can only arrive inside ppoll and never goes unnoticed).
 */
static volatile sig_atomic_t	io_signal;
static sigset_t			io_waitmask;
static int			io_catching;

static void
io_on_signal(int sig)
{
	io_signal = sig;
}

void
io_catch_signals(void)
{
	struct sigaction	sa;
	sigset_t		block;
	/* SIGALRM: the front's bound on a session it became (pop3d.8). */
	int			sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGALRM }, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = io_on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < 4; i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &io_waitmask);
	io_catching = 1;
}

int
io_signalled(void)
{
	return io_signal;
}

int
io_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fl & O_NONBLOCK ? 0 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void
close_keep_errno(int fd)
{
	int	saved = errno;

	close(fd);
	errno = saved;
}

ssize_t
io_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

int
io_pread_exact(int fd, void *buf, size_t n, uint64_t off)
{
	ssize_t	r = io_pread_full(fd, buf, n, off);

	if (r >= 0 && (size_t)r < n)
		errno = EIO;
	return r >= 0 && (size_t)r == n ? 0 : -1;
}

int
io_pwrite_exact(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t	done = 0;
	ssize_t	r;

	while (done < n) {
		r = pwrite(fd, (const char *)buf + done, n - done,
		    (off_t)(off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		done += r;
	}
	return 0;
}

int64_t
io_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
io_poll(struct pollfd *pfd, nfds_t n, int64_t deadline)
{
	struct timespec	ts;
	int64_t		left;
	int		r;

	for (;;) {
		if (io_signal) {
			errno = EINTR;
			return -1;
		}
		left = deadline - io_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		r = ppoll(pfd, n, &ts, io_catching ? &io_waitmask : NULL);
		if (r > 0)
			return r;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

int
io_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd;

	pfd.fd = fd;
	pfd.events = events;
	return io_poll(&pfd, 1, deadline) == -1 ? -1 : 0;
}

void
out_init(struct out *o, int fd, int timeout_ms)
{
	o->fd = fd;
	o->timeout_ms = timeout_ms;
	o->deadline = 0;
	o->failed = 0;
	o->len = 0;
	o->total = 0;
	(void)io_nonblock(fd);
}

int
out_flush(struct out *o)
{
	size_t		off = 0;
	ssize_t		n;
	int64_t		deadline = io_now_ms() + o->timeout_ms;

	while (!o->failed && off < o->len) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n > 0) {
			off += n;
			o->total += n;
			deadline = io_now_ms() + o->timeout_ms;
		} else if (n == -1 && errno == EINTR) {
			continue;
		} else if (n == -1 && errno == EAGAIN) {
			if (o->deadline != 0 && o->deadline < deadline)
				deadline = o->deadline;
			if (io_wait(o->fd, POLLOUT, deadline) == -1)
				o->failed = 1;
		} else {
			o->failed = 1;
		}
	}
	o->len = 0;
	return o->failed ? -1 : 0;
}

void
out_write(struct out *o, const void *p, size_t n)
{
	const char	*s = p;
	size_t		 room;

	while (n > 0 && !o->failed) {
		room = sizeof(o->buf) - o->len;
		if (room == 0) {
			out_flush(o);
			continue;
		}
		if (room > n)
			room = n;
		memcpy(o->buf + o->len, s, room);
		o->len += room;
		s += room;
		n -= room;
	}
}

void
out_str(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

/* Ends a reply line of n octets in line[] (which has room for 2 more). */
static void
out_end_line(struct out *o, char *line, size_t n)
{
	if (o->debug) {
		struct logline	l;

		line[n] = '\0';
		logline_start(&l, "debug");
		logline_str(&l, "server", line);
		logline_emit(&l);
	}
	line[n++] = '\r';
	line[n++] = '\n';
	out_write(o, line, n);
}

void
out_line(struct out *o, const char *fmt, ...)
{
	char	line[POP3_REPLY_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line) - 2)
		n = sizeof(line) - 3;
	out_end_line(o, line, n);
}

/* v in decimal, ending just before end: where it begins. */
static char *
out_decimal(char *end, uint64_t v)
{
	do {
		*--end = '0' + v % 10;
		v /= 10;
	} while (v > 0);
	return end;
}

void
out_item(struct out *o, uint64_t num, const char *text, size_t len)
{
	char	line[POP3_REPLY_MAX], digits[20], *d;
	size_t	n;

	d = out_decimal(digits + sizeof(digits), num);
	n = digits + sizeof(digits) - d;
	memcpy(line, d, n);
	line[n++] = ' ';
	/* Cut as out_line cuts: the line and its NUL fit line[] less 2. */
	if (len > sizeof(line) - 3 - n)
		len = sizeof(line) - 3 - n;
	memcpy(line + n, text, len);
	out_end_line(o, line, n + len);
}

void
out_item_num(struct out *o, uint64_t num, uint64_t val)
{
	char	line[64], *end = line + sizeof(line) - 2, *p;

	p = out_decimal(end, val);
	*--p = ' ';
	p = out_decimal(p, num);
	out_end_line(o, p, end - p);
}

char *
out_room(struct out *o, size_t *room)
{
	if (o->len == sizeof(o->buf))
		out_flush(o);
	*room = sizeof(o->buf) - o->len;
	return o->buf + o->len;
}

void
out_commit(struct out *o, size_t n)
{
	if (o->failed)
		o->len = 0;	/* as out_write: nothing more goes out */
	else
		o->len += n;
}

void
in_init(struct in *in, int fd, int timeout_ms, struct out *flush)
{
	in->fd = fd;
	in->timeout_ms = timeout_ms;
	in->exact = 0;
	in->deadline = 0;
	in->flush = flush;
	in->start = in->end = 0;
	(void)io_nonblock(fd);
}

void
in_exact(struct in *in)
{
	in->exact = 1;
}

void
out_deadline(struct out *o, int ms)
{
	o->deadline = io_now_ms() + ms;
}

void
in_deadline(struct in *in, int ms)
{
	in->deadline = io_now_ms() + ms;
}

/*
 * One read that stops at the first LF: a peek shows how far that is, and
 * only that much is taken.  Not a socket: one octet.
 */
static ssize_t
read_exact(int fd, char *buf, size_t n)
{
	ssize_t	got;
	char	*lf;

	got = recv(fd, buf, n, MSG_PEEK | MSG_DONTWAIT);
	if (got == -1 && errno == ENOTSOCK)
		return read(fd, buf, 1);
	if (got <= 0)
		return got;
	if ((lf = memchr(buf, '\n', got)) != NULL)
		got = lf - buf + 1;
	return read(fd, buf, got);
}

void
in_forget(struct in *in)
{
	explicit_bzero(in->buf, in->start);
}

/* Reads more into the buffer: 1 for data, or the terminal status. */
static int
in_fill(struct in *in, int64_t deadline, enum in_status *st)
{
	ssize_t	n;

	if (in->start == in->end)
		in->start = in->end = 0;
	for (;;) {
		if (in->exact)
			n = read_exact(in->fd, in->buf + in->end,
			    sizeof(in->buf) - in->end);
		else
			n = read(in->fd, in->buf + in->end,
			    sizeof(in->buf) - in->end);
		if (n > 0) {
			in->end += n;
			return 1;
		}
		if (n == 0) {
			*st = IN_EOF;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			*st = IN_ERROR;
			return 0;
		}
		if (in->flush != NULL && in->flush->len > 0)
			out_flush(in->flush);
		if (io_wait(in->fd, POLLIN, deadline) == -1) {
			*st = errno == ETIMEDOUT ? IN_TIMEOUT :
			    errno == EINTR ? IN_SIGNAL : IN_ERROR;
			return 0;
		}
	}
}

void
in_linger(struct in *in)
{
	int64_t	deadline = io_now_ms() + IO_LINGER_MS;
	size_t	left = IO_LINGER_MAX;
	char	drop[IO_INBUF];
	ssize_t	n;

	if (shutdown(in->fd, SHUT_WR) == -1)
		return;			/* not a socket: no reset to fear */
	while (left > 0) {
		if (io_wait(in->fd, POLLIN, deadline) == -1)
			return;		/* the time is up, or a signal */
		n = read(in->fd, drop, sizeof(drop));
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			return;
		if (n > 0)
			left -= (size_t)n < left ? (size_t)n : left;
	}
}

enum in_status
in_line(struct in *in, char *line, size_t max, size_t hostile, size_t *len)
{
	int64_t		deadline = io_now_ms() + in->timeout_ms;
	size_t		seen = 0, chunk, keep;
	char		*lf, last = '\0';
	enum in_status	st;

	if (in->deadline != 0 && in->deadline < deadline)
		deadline = in->deadline;
	/* seen: octets before the LF.  A line of max octets fits in line[]. */
	for (;;) {
		chunk = in->end - in->start;
		lf = memchr(in->buf + in->start, '\n', chunk);
		if (lf != NULL)
			chunk = lf - (in->buf + in->start);
		if (seen < max - 1) {
			keep = max - 1 - seen;
			if (keep > chunk)
				keep = chunk;
			memcpy(line + seen, in->buf + in->start, keep);
		}
		if (chunk > 0)
			last = in->buf[in->start + chunk - 1];
		seen += chunk;
		in->start += chunk;
		if (lf != NULL) {
			in->start++;		/* the LF */
			break;
		}
		if (seen + 1 > hostile)		/* too long even if LF came now */
			return IN_HOSTILE;
		if (!in_fill(in, deadline, &st))
			return st;
	}
	if (seen + 1 > hostile)
		return IN_HOSTILE;
	if (seen + 1 > max)
		return IN_TOOLONG;
	if (last == '\r' && seen > 0)
		seen--;
	line[seen] = '\0';
	*len = seen;
	return IN_LINE;
}

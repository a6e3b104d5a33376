#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "io.h"
#include "pop3d_limits.h"
#include "relay.h"

/* One direction's buffer: len octets from off wait to be written. */
struct pipeline {
	char	buf[TLS_RELAY_BUF];
	size_t	off, len;
};

/* The same, chain to client: bigger, see TLS_RELAY_DOWN_BUF. */
struct downline {
	char	buf[TLS_RELAY_DOWN_BUF];
	size_t	off, len;
};

/*
 * What is blocked on what.  A TLS operation that returned TLS_WANT_POLLIN
 * or TLS_WANT_POLLOUT waits for that event on the socket; a plain read or
 * write that met EAGAIN waits for the plaintext socket.  Nothing blocked
 * is tried again before poll(2) says it may progress.
 */
struct relay {
	struct tls	*tls;
	int		 sock, plain;
	struct pipeline	 up;		/* client to chain */
	struct downline	 down;		/* chain to client */
	short		 tls_rd_wait, tls_wr_wait;	/* POLLIN, POLLOUT, 0 */
	int		 plain_rd_wait, plain_wr_wait;
	int		 client_eof;	/* close_notify or EOF from client */
	int		 client_gone;	/* a FIN that ended the TLS session */
	int		 chain_shut;	/* the chain was told (SHUT_WR) */
	int		 chain_deaf;	/* the chain reads no more: drop */
	int		 chain_eof;	/* the chain ended the session */
	int		 chain_hup;	/* it closed: what it wrote is queued */
	uint64_t	 moved;		/* octets moved, either way */
};

static int __attribute__((format(printf, 3, 4)))
relay_error(char *err, size_t n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

int
relay_handshake(struct tls *cctx, int sock, int timeout_ms, char *err,
    size_t n)
{
	int64_t	deadline = io_now_ms() + timeout_ms;
	int	r;

	if (io_nonblock(sock) == -1)
		return relay_error(err, n, "fcntl: %s", strerror(errno));
	for (;;) {
		if ((r = tls_handshake(cctx)) == 0)
			return 0;
		if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT) {
			const char *e = tls_error(cctx);

			return relay_error(err, n, "%s", e != NULL ? e :
			    "handshake failed");
		}
		if (io_wait(sock, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT,
		    deadline) == -1)
			return errno == ETIMEDOUT ? relay_error(err, n,
			    "handshake timed out after %d s", timeout_ms /
			    1000) : relay_error(err, n, "poll: %s",
			    strerror(errno));
	}
}

/* The client's error, for the log. */
static int
client_error(struct relay *r, const char *op, char *err, size_t n)
{
	const char	*e = tls_error(r->tls);

	return relay_error(err, n, "%s: %s", op, e != NULL ? e : "failed");
}

/*
 * Whether the client's TCP sent its FIN.  libtls over OpenSSL 3 reports
 * a FIN without close_notify as an error ("unexpected eof", and OpenSSL
 * has answered with an alert: nothing more can be sent), and offers no
 * way to ask otherwise.  It is the client's end all the same (many close
 * so), unlike a reset, which leaves the socket in CLOSE.
 */
static int
client_finished(int sock)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_state == TCP_CLOSE_WAIT;
}

/* Each step: 1 if it progressed, 0 if blocked or idle, -1 client error. */
static int
from_client(struct relay *r, char *err, size_t n)
{
	ssize_t	got;

	if (r->client_eof || r->chain_deaf || r->up.len > 0 ||
	    r->tls_rd_wait != 0)
		return 0;
	got = tls_read(r->tls, r->up.buf, sizeof(r->up.buf));
	if (got == TLS_WANT_POLLIN || got == TLS_WANT_POLLOUT) {
		r->tls_rd_wait = got == TLS_WANT_POLLIN ? POLLIN : POLLOUT;
		return 0;
	}
	if (got == -1) {
		if (!client_finished(r->sock))
			return client_error(r, "read", err, n);
		r->client_gone = 1;
	}
	if (got <= 0)
		r->client_eof = 1;
	r->up.off = 0;
	r->up.len = got > 0 ? (size_t)got : 0;
	r->moved += r->up.len;
	r->tls_wr_wait = 0;	/* the TLS state moved: a write may go now */
	return 1;
}

static int
to_chain(struct relay *r)
{
	ssize_t	put;

	if (r->up.len == 0 || r->plain_wr_wait)
		return 0;
	put = write(r->plain, r->up.buf + r->up.off, r->up.len);
	if (put == -1) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN) {
			r->plain_wr_wait = 1;
			return 0;
		}
		/* The chain closed: what the client still sends is no one's. */
		r->chain_deaf = 1;
		r->up.len = 0;
		return 1;
	}
	r->up.off += (size_t)put;
	r->up.len -= (size_t)put;
	r->moved += (size_t)put;
	return 1;
}

static int
from_chain(struct relay *r)
{
	ssize_t	got;

	if (r->chain_eof || r->down.len > 0 || r->plain_rd_wait)
		return 0;
	got = read(r->plain, r->down.buf, sizeof(r->down.buf));
	if (got == -1) {
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN) {
			r->plain_rd_wait = 1;
			return 0;
		}
		got = 0;	/* ECONNRESET and the like: the chain is gone */
	}
	if (got == 0)
		r->chain_eof = 1;
	r->down.off = 0;
	r->down.len = (size_t)got;
	r->moved += (size_t)got;
	return 1;
}

static int
to_client(struct relay *r, char *err, size_t n)
{
	ssize_t	put;
	int	wrote = 0;

	if (r->down.len == 0 || r->tls_wr_wait != 0)
		return 0;
	/*
	 * Nothing can reach the client: the chain's output is dropped, so
	 * that a chain writing still reads what the client sent before.
	 */
	if (r->client_gone) {
		r->down.len = 0;
		return 1;
	}
	/*
	 * libtls writes one record a call (partial writes): the buffer's
	 * records go out together, so that the read tried after a write
	 * (below) comes once a buffer, not once a record.
	 */
	do {
		put = tls_write(r->tls, r->down.buf + r->down.off,
		    r->down.len);
		if (put == TLS_WANT_POLLIN || put == TLS_WANT_POLLOUT) {
			r->tls_wr_wait = put == TLS_WANT_POLLIN ? POLLIN :
			    POLLOUT;
			break;
		}
		if (put == -1)
			return client_error(r, "write", err, n);
		/*
		 * 0 is no progress but the end of this direction: the
		 * client sent close_notify, and its connection refused the
		 * write (OpenSSL says SSL_ERROR_ZERO_RETURN, libtls 0).
		 * Nothing more can reach it: what is left is no one's, and
		 * what it sent before goes to the chain, then EOF.
		 */
		if (put == 0) {
			r->client_eof = r->client_gone = 1;
			r->down.len = 0;
			return 1;
		}
		r->down.off += (size_t)put;
		r->down.len -= (size_t)put;
		r->moved += (size_t)put;
		wrote = 1;
	} while (r->down.len > 0);
	if (wrote)
		r->tls_rd_wait = 0;	/* the TLS state moved: a read may go */
	return wrote;
}

/* One round of every step that can go: 1 if any progressed, or -1. */
static int
relay_round(struct relay *r, char *err, size_t n)
{
	int	a, b, c, d;

	if ((a = from_client(r, err, n)) == -1)
		return -1;
	b = to_chain(r);
	c = from_chain(r);
	if ((d = to_client(r, err, n)) == -1)
		return -1;
	/* All the client sent is with the chain: so is its end. */
	if ((r->client_eof || r->chain_deaf) && r->up.len == 0 &&
	    !r->chain_shut) {
		(void)shutdown(r->plain, SHUT_WR);
		r->chain_shut = 1;
	}
	return a | b | c | d;
}

/* Clears the waits that the events in revents may have ended. */
static void
tls_wake(short *wait, short revents)
{
	if (*wait != 0 && (revents & (*wait | POLLERR | POLLHUP | POLLNVAL)))
		*wait = 0;
}

/* The reason a deadline ended the relay: RELAY_TIMEOUT. */
static int
relay_timeout(struct relay *r, int ms, char *err, size_t n)
{
	if (r->chain_eof || r->chain_hup)
		relay_error(err, n, "the client took nothing for %d s after the"
		    " session ended", ms / 1000);
	else
		relay_error(err, n, "nothing moved either way for %d s", ms /
		    1000);
	return RELAY_TIMEOUT;
}

/*
 * Waits for what the relay waits for, until deadline: 0, RELAY_TIMEOUT
 * (ms said why), or -1.  The chain's hang-up is watched even while its
 * output is not read (the client is slow), once: it starts the client's
 * last idle timeout.
 */
static int
relay_poll(struct relay *r, int64_t deadline, int ms, char *err, size_t n)
{
	struct pollfd	pfd[2];

	pfd[0].fd = r->sock;
	pfd[0].events = r->tls_rd_wait | r->tls_wr_wait;
	pfd[1].fd = r->plain;
	pfd[1].events = (r->plain_rd_wait ? POLLIN : 0) |
	    (r->plain_wr_wait ? POLLOUT : 0) |
	    (r->chain_eof || r->chain_hup ? 0 : POLLRDHUP);
	pfd[0].revents = pfd[1].revents = 0;
	/* A descriptor with no wait is left out: its hang-up is no news. */
	if (pfd[0].events == 0)
		pfd[0].fd = -1;
	if (pfd[1].events == 0)
		pfd[1].fd = -1;
	if (pfd[0].fd == -1 && pfd[1].fd == -1)
		return relay_error(err, n, "relay stalled");
	if (io_poll(pfd, 2, deadline) == -1)
		return errno == ETIMEDOUT ? relay_timeout(r, ms, err, n) :
		    relay_error(err, n, "poll: %s", strerror(errno));
	tls_wake(&r->tls_rd_wait, pfd[0].revents);
	tls_wake(&r->tls_wr_wait, pfd[0].revents);
	if (pfd[1].revents & (POLLRDHUP | POLLHUP))
		r->chain_hup = 1;
	if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL))
		r->plain_rd_wait = 0;
	if (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
		r->plain_wr_wait = 0;
	return 0;
}

int
relay_run(struct tls *cctx, int sock, int plain, int idle_ms, int silence_ms,
    char *err, size_t n)
{
	static struct relay	r;	/* 80 kB of buffers: not on the stack */
	int64_t			deadline;
	uint64_t		moved;
	int			k, ms = silence_ms, ended = 0, rounds = 0;

	memset(&r, 0, sizeof(r));
	r.tls = cctx;
	r.sock = sock;
	r.plain = plain;
	if (io_nonblock(plain) == -1)
		return relay_error(err, n, "fcntl: %s", strerror(errno));
	deadline = io_now_ms() + silence_ms;
	for (;;) {
		moved = r.moved;
		if ((k = relay_round(&r, err, n)) == -1)
			return -1;
		if (r.chain_eof && r.down.len == 0)
			return RELAY_CHAIN_END;
		/* All it sent is with the chain, and nothing can go back. */
		if (r.client_gone && r.chain_shut)
			return RELAY_CLIENT_GONE;
		/* The chain is done: the client has idle_ms to take the rest. */
		if ((r.chain_eof || r.chain_hup) && !ended) {
			ended = 1;
			ms = idle_ms;
			deadline = io_now_ms() + idle_ms;
		} else if (r.moved != moved && !ended)
			deadline = io_now_ms() + silence_ms;
		/* Only a poll or octets moved make a round count as work. */
		if (k == 0 || r.moved != moved)
			rounds = 0;
		else if (++rounds > TLS_RELAY_ROUNDS_MAX)
			return relay_error(err, n, "no progress in %d rounds",
			    rounds);
		if (k == 1 && io_now_ms() >= deadline)
			return relay_timeout(&r, ms, err, n);
		if (k == 0 && (k = relay_poll(&r, deadline, ms, err, n)) != 0)
			return k;
	}
}

void
relay_close(struct tls *cctx, int sock)
{
	int64_t	deadline = io_now_ms() + TLS_CLOSE_MS;
	char	drop[IO_INBUF];
	size_t	dropped = 0;
	ssize_t	got;
	int	r;

	while ((r = tls_close(cctx)) == TLS_WANT_POLLIN ||
	    r == TLS_WANT_POLLOUT)
		if (io_wait(sock, r == TLS_WANT_POLLIN ? POLLIN : POLLOUT,
		    deadline) == -1)
			break;
	/* FIN, then input dropped until the client closes too. */
	if (shutdown(sock, SHUT_WR) == -1)
		return;
	deadline = io_now_ms() + IO_LINGER_MS;
	while (dropped < IO_LINGER_MAX) {
		got = read(sock, drop, sizeof(drop));
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && errno == EAGAIN) {
			if (io_wait(sock, POLLIN, deadline) == -1)
				return;
			continue;
		}
		if (got <= 0)
			return;
		dropped += (size_t)got;
	}
}

/*
 * Line input and buffered output on the client's descriptors, with the idle
 * timeout and the line limits applied here once for every program.
 *
 * Both set O_NONBLOCK on their descriptor and wait with poll(), so that a
 * client that stops reading or writing is dropped after the timeout rather
 * than holding the process forever.
 */
#ifndef POP3D_IO_H
#define POP3D_IO_H

#include <sys/types.h>

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3d_limits.h"

struct out {
	int		fd;
	int		timeout_ms;
	int64_t		deadline;	/* CLOCK_MONOTONIC ms, or 0: none */
	int		failed;		/* sticky: peer gone, stalled or error */
	int		debug;		/* status lines go to the log too */
	size_t		len;
	uint64_t	total;		/* octets handed to the kernel */
	char		buf[IO_OUTBUF];
};

struct in {
	int		fd;
	int		timeout_ms;
	int		exact;		/* never read past the line's LF */
	int64_t		deadline;	/* CLOCK_MONOTONIC ms, or 0: none */
	struct out	*flush;		/* flushed before waiting for input */
	size_t		start, end;
	char		buf[IO_INBUF];
};

enum in_status {
	IN_LINE,	/* a line within max, in line[] without its CRLF or LF */
	IN_TOOLONG,	/* longer than max, within hostile: consumed, dropped */
	IN_HOSTILE,	/* longer than hostile: the rest is left unread */
	IN_EOF,		/* the peer closed (a partial last line is dropped) */
	IN_TIMEOUT,	/* nothing complete within the timeout */
	IN_SIGNAL,	/* SIGTERM, SIGHUP or SIGINT asked to stop */
	IN_ERROR	/* read error; errno is set */
};

/*
 * Makes SIGTERM, SIGHUP, SIGINT and SIGALRM end the session cleanly
 * instead of killing the process: they are blocked except while waiting
 * for the client, where they make in_line return IN_SIGNAL and out_flush
 * fail.
 */
void	io_catch_signals(void);
/* The signal that asked to stop, or 0. */
int	io_signalled(void);

/* CLOCK_MONOTONIC in milliseconds: what every deadline is measured in. */
int64_t	io_now_ms(void);

/*
 * Waits until fd is ready for events (or has an error or hang-up) or the
 * deadline (an io_now_ms time) passes: 0, or -1 with errno ETIMEDOUT at
 * the deadline, EINTR when a signal caught by io_catch_signals asks to
 * stop, or poll's.
 */
int	io_wait(int, short, int64_t);
/*
 * The same for n descriptors, their revents set: the number ready, or -1
 * as io_wait.  A descriptor of -1 is left out, as by poll(2).
 */
int	io_poll(struct pollfd *, nfds_t, int64_t);

/* Sets O_NONBLOCK on fd: 0, or -1 with errno. */
int	io_nonblock(int);

/* close(fd), leaving errno as it was: for the paths that report it. */
void	close_keep_errno(int);

/*
 * pread(2) of a regular file until n octets or its end: how many were
 * read (fewer only at the end), or -1 with errno.  io_pread_exact: all n
 * or -1 (EIO when the file ends first).  io_pwrite_exact: all n written,
 * or -1.  EINTR is retried; a regular file never blocks for long.
 */
ssize_t	io_pread_full(int, void *, size_t, uint64_t);
int	io_pread_exact(int, void *, size_t, uint64_t);
int	io_pwrite_exact(int, const void *, size_t, uint64_t);

void	out_init(struct out *, int, int);
/* Queue bytes; flushed when the buffer fills.  No-ops once failed. */
void	out_write(struct out *, const void *, size_t);
void	out_str(struct out *, const char *);
/* Queue one formatted reply line: text cut to fit, then CRLF. */
void	out_line(struct out *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Queue one line "N TEXT" of a LIST or UIDL listing, as out_line(o,
 * "%llu %.*s", ...) would, without printf: a listing of many messages
 * costs little.
 */
void	out_item(struct out *, uint64_t, const char *, size_t);
/* The same with a number for TEXT: "N M". */
void	out_item_num(struct out *, uint64_t, uint64_t);
/*
 * Writing straight into the buffer: out_room returns where the next octets
 * go and how many fit, at least one (it flushes a full buffer first);
 * out_commit queues the first n of them, as out_write would.
 */
char	*out_room(struct out *, size_t *);
void	out_commit(struct out *, size_t);
/* Write out everything queued; 0, or -1 when the peer is gone. */
int	out_flush(struct out *);

void	in_init(struct in *, int, int, struct out *);
/*
 * Reads one line ending in LF (a CR before the LF is dropped too).  max and
 * hostile count the whole line, its CRLF or LF included.  line must hold
 * max bytes; the text is NUL-terminated there and its length stored in
 * *len.  A line longer than max and at most hostile is consumed whole; a
 * longer one is not.  Before blocking, the output named at in_init is
 * flushed, so that pipelined commands are answered in one write.
 */
enum in_status in_line(struct in *, char *, size_t, size_t, size_t *);
/*
 * Reads no octet past the end of each line (peeking at a socket first, one
 * octet at a time otherwise), so that what follows stays in the kernel for
 * the next program in the chain: pipelined commands after PASS are the
 * mailbox stage's.
 */
void	in_exact(struct in *);
/* No line may end later than ms from now (a deadline for a whole phase). */
void	in_deadline(struct in *, int);
/* No write may wait past ms from now. */
void	out_deadline(struct out *, int);

/* Wipes what has been returned as lines already (it may hold secrets). */
void	in_forget(struct in *);

/*
 * Ends a session that leaves input unread (a hostile line): sends FIN and
 * drops input until the client closes, within IO_LINGER_MS and
 * IO_LINGER_MAX, so that the last reply is not lost to a TCP reset.
 */
void	in_linger(struct in *);

#endif

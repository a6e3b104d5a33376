/*
 * A stored message to its POP3 wire form (RFC 1939 section 3), streamed
 * through fixed buffers: every line ends in CRLF (a bare LF becomes CRLF, an
 * existing CRLF is kept, a CR at the very end ends the last line), a last
 * line without a newline still gets its CRLF, and with dot-stuffing on a
 * line beginning with "." gets another.  The terminating ".\r\n" is the
 * caller's.  A bare CR inside a line is data and passes unchanged.
 *
 * The size of a message (STAT, LIST) is the wire form without dot-stuffing,
 * counted by the same code so that the two can never disagree.
 *
 * The converter works a line at a time (memchr to the next LF, the octets
 * before it copied in one piece), not an octet at a time: a message costs
 * about one instruction per octet.
 */
#ifndef POP3D_WIRE_H
#define POP3D_WIRE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where the wire form is written directly: given the n octets written at
 * the start of the previous window (0 the first time), hands them on and
 * returns the next window, at least one octet long, its length in *room.
 */
typedef char *(*wire_window)(void *, size_t, size_t *);

struct wire {
	wire_window	window;
	void		*wctx;
	char		*ob;		/* the window, or NULL: only count */
	size_t		olen;		/* octets written into it */
	size_t		oroom;		/* its length */
	uint64_t	counted;	/* octets, when only counting */
	int		dotstuff;
	int		at_bol;		/* the next octet starts a line */
	int		cr;		/* the last octet was a CR, held back */
	int		in_body;	/* the header/body blank line is past */
	int		done;		/* TOP's line count is reached */
	size_t		linelen;	/* octets of the current line */
	uint64_t	body_lines;	/* body lines emitted so far */
	uint64_t	top_lines;	/* TOP's limit, or UINT64_MAX */
};

/*
 * The wire form, dot-stuffed or not, written straight into the windows
 * that window hands out; top_lines is TOP's n, or UINT64_MAX for the
 * whole message.
 */
void	wire_init_window(struct wire *, wire_window, void *, int, uint64_t);
void	wire_feed(struct wire *, const char *, size_t);
/* Ends the last line and flushes; the caller then sends ".\r\n". */
void	wire_finish(struct wire *);
/* Whether TOP has all it needs: the caller may stop reading. */
int	wire_done(const struct wire *);

/*
 * Only counting: wire_feed and wire_finish add the unstuffed wire size of
 * what they are given to w->counted, the size STAT and LIST report.
 */
void	wire_init_count(struct wire *);

/*
 * The wire size of an open file read from its current offset: 0 and *size,
 * or -1 with errno from read().
 */
int	wire_size_fd(int, uint64_t *);

#endif

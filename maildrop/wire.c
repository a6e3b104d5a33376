#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pop3d_limits.h"
#include "wire.h"

static void
wire_init_state(struct wire *w, int dotstuff, uint64_t top_lines)
{
	w->olen = 0;
	w->counted = 0;
	w->dotstuff = dotstuff;
	w->at_bol = 1;
	w->cr = 0;
	w->in_body = 0;
	w->done = 0;
	w->linelen = 0;
	w->body_lines = 0;
	w->top_lines = top_lines;
}

void
wire_init_window(struct wire *w, wire_window window, void *ctx, int dotstuff,
    uint64_t top_lines)
{
	wire_init_state(w, dotstuff, top_lines);
	w->window = window;
	w->wctx = ctx;
	w->ob = window(ctx, 0, &w->oroom);
}

/* The part of wire_put that does not fit the window. */
static void
wire_put_slow(struct wire *w, const char *p, size_t n)
{
	size_t	k;

	while (n > w->oroom - w->olen) {
		k = w->oroom - w->olen;
		memcpy(w->ob + w->olen, p, k);
		p += k;
		n -= k;
		w->ob = w->window(w->wctx, w->oroom, &w->oroom);
		w->olen = 0;
	}
	memcpy(w->ob + w->olen, p, n);
	w->olen += n;
}

static inline void
wire_put(struct wire *w, const char *p, size_t n)
{
	if (w->ob == NULL)
		w->counted += n;
	else if (n <= w->oroom - w->olen) {
		memcpy(w->ob + w->olen, p, n);
		w->olen += n;
	} else
		wire_put_slow(w, p, n);
}

static void
wire_end_line(struct wire *w)
{
	wire_put(w, "\r\n", 2);
	if (!w->in_body && w->linelen == 0)
		w->in_body = 1;		/* the blank line after the headers */
	else if (w->in_body)
		w->body_lines++;
	w->at_bol = 1;
	w->linelen = 0;
}

/*
 * A line at a time: its first octet decides TOP's cut-off and the
 * dot-stuffing, the octets up to its LF (less a CR just before it) go out
 * in one piece, then CRLF.  A line that goes on past the end of p goes out
 * as far as p has it, less a CR at the very end, which is held back until
 * the next octet shows whether it ends the line.
 */
void
wire_feed(struct wire *w, const char *p, size_t n)
{
	const char	*end = p + n, *lf, *q;
	size_t		 len;

	while (p < end && !w->done) {
		if (w->cr) {
			w->cr = 0;
			if (*p == '\n') {
				wire_end_line(w);
				p++;
				continue;
			}
			wire_put(w, "\r", 1);	/* a bare CR is data */
			w->linelen++;
		}
		if (w->at_bol) {
			w->at_bol = 0;
			if (w->in_body && w->body_lines >= w->top_lines) {
				w->done = 1;
				break;
			}
			if (w->dotstuff && *p == '.')
				wire_put(w, ".", 1);
		}
		lf = memchr(p, '\n', end - p);
		q = lf != NULL ? lf : end;
		if (q > p && q[-1] == '\r') {
			q--;		/* CRLF, or a CR that may be one */
			if (lf == NULL)
				w->cr = 1;
		}
		len = q - p;
		wire_put(w, p, len);
		w->linelen += len;
		if (lf == NULL)
			break;
		wire_end_line(w);
		p = lf + 1;
	}
}

void
wire_finish(struct wire *w)
{
	if (!w->done && (w->cr || !w->at_bol))
		wire_end_line(w);
	w->cr = 0;
	if (w->ob != NULL) {
		w->ob = w->window(w->wctx, w->olen, &w->oroom);
		w->olen = 0;
	}
}

int
wire_done(const struct wire *w)
{
	return w->done;
}

void
wire_init_count(struct wire *w)
{
	wire_init_state(w, 0, UINT64_MAX);
	w->ob = NULL;		/* only counting: nothing is copied */
	w->window = NULL;
	w->wctx = NULL;
}

int
wire_size_fd(int fd, uint64_t *size)
{
	struct wire	w;
	char		buf[IO_FILEBUF];
	ssize_t		n;

	wire_init_count(&w);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		wire_feed(&w, buf, n);
	}
	wire_finish(&w);
	*size = w.counted;
	return 0;
}

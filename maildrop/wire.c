#include <errno.h>
#include <unistd.h>

#include "pop3d_limits.h"
#include "wire.h"

void
wire_init(struct wire *w, wire_emit emit, void *ctx, int dotstuff,
    uint64_t top_lines)
{
	w->emit = emit;
	w->ctx = ctx;
	w->dotstuff = dotstuff;
	w->at_bol = 1;
	w->cr = 0;
	w->in_body = 0;
	w->done = 0;
	w->linelen = 0;
	w->body_lines = 0;
	w->top_lines = top_lines;
	w->olen = 0;
}

static void
wire_flush(struct wire *w)
{
	if (w->olen > 0)
		w->emit(w->ctx, w->obuf, w->olen);
	w->olen = 0;
}

static void
wire_put(struct wire *w, char c)
{
	if (w->olen == sizeof(w->obuf))
		wire_flush(w);
	w->obuf[w->olen++] = c;
}

static void
wire_end_line(struct wire *w)
{
	wire_put(w, '\r');
	wire_put(w, '\n');
	if (!w->in_body && w->linelen == 0)
		w->in_body = 1;		/* the blank line after the headers */
	else if (w->in_body)
		w->body_lines++;
	w->at_bol = 1;
	w->linelen = 0;
}

/* The first octet of a line: TOP's cut-off, then dot-stuffing. */
static void
wire_begin_line(struct wire *w, char c)
{
	if (!w->at_bol)
		return;
	w->at_bol = 0;
	if (w->in_body && w->body_lines >= w->top_lines) {
		w->done = 1;
		return;
	}
	if (w->dotstuff && c == '.')
		wire_put(w, '.');
}

void
wire_feed(struct wire *w, const char *p, size_t n)
{
	size_t	i;
	char	c;

	for (i = 0; i < n && !w->done; i++) {
		c = p[i];
		if (w->cr) {
			w->cr = 0;
			if (c == '\n') {
				wire_end_line(w);
				continue;
			}
			wire_put(w, '\r');	/* a bare CR is data */
			w->linelen++;
		}
		if (c == '\n' || c == '\r') {
			wire_begin_line(w, c);
			if (w->done)
				break;
			if (c == '\n')
				wire_end_line(w);
			else
				w->cr = 1;
			continue;
		}
		wire_begin_line(w, c);
		if (w->done)
			break;
		wire_put(w, c);
		w->linelen++;
	}
}

void
wire_finish(struct wire *w)
{
	if (!w->done && (w->cr || !w->at_bol))
		wire_end_line(w);
	w->cr = 0;
	wire_flush(w);
}

int
wire_done(const struct wire *w)
{
	return w->done;
}

static void
wire_count(void *ctx, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
}

int
wire_size_fd(int fd, uint64_t *size)
{
	struct wire	w;
	char		buf[IO_FILEBUF];
	uint64_t	total = 0;
	ssize_t		n;

	wire_init(&w, wire_count, &total, 0, UINT64_MAX);
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
	*size = total;
	return 0;
}

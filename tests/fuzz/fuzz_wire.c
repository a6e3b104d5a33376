/*
 * libFuzzer target for the wire converter: whatever the message holds, the
 * RETR form is well formed (CRLF lines, dot-stuffed, so the terminator can
 * never appear inside), its unstuffed length is the size STAT and LIST
 * report, and TOP's output is a prefix of RETR's.  Written into small
 * windows (as RETR writes into the output buffer) and fed in three pieces,
 * the form is the same as through one large window.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct buf {
	char	*p;
	size_t	 len;
};

static void
collect(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;

	if ((b->p = realloc(b->p, b->len + n + 1)) == NULL)
		abort();
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* A window as large as an output buffer's. */
struct big_window {
	struct buf	*b;
	char		 buf[8192];
};

static char *
big_window(void *ctx, size_t n, size_t *room)
{
	struct big_window *bw = ctx;

	collect(bw->b, bw->buf, n);
	*room = sizeof(bw->buf);
	return bw->buf;
}

static struct buf
convert(const uint8_t *data, size_t size, int stuff, uint64_t top)
{
	struct wire		w;
	struct buf		b = { NULL, 0 };
	struct big_window	bw;
	size_t			half = size / 2;

	collect(&b, "", 0);
	bw.b = &b;
	wire_init_window(&w, big_window, &bw, stuff, top);
	wire_feed(&w, (const char *)data, half);	/* two chunks */
	wire_feed(&w, (const char *)data + half, size - half);
	wire_finish(&w);
	return b;
}

struct window {
	struct buf	*b;
	size_t		 size;
	char		 buf[16];
};

static char *
window(void *ctx, size_t n, size_t *room)
{
	struct window	*w = ctx;

	collect(w->b, w->buf, n);
	*room = w->size;
	return w->buf;
}

static struct buf
convert_window(const uint8_t *data, size_t size, size_t piece)
{
	struct wire	w;
	struct window	win;
	struct buf	b = { NULL, 0 };
	size_t		off, n;

	collect(&b, "", 0);
	win.b = &b;
	win.size = 1 + piece % sizeof(win.buf);
	wire_init_window(&w, window, &win, 1, UINT64_MAX);
	for (off = 0; off < size; off += n) {
		n = size - off < piece ? size - off : piece;
		wire_feed(&w, (const char *)data + off, n);
	}
	wire_finish(&w);
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	retr, plain, top, win;
	size_t		i, dots = 0;
	uint64_t	n = size > 0 ? data[0] % 8 : 0;

	retr = convert(data, size, 1, UINT64_MAX);
	plain = convert(data, size, 0, UINT64_MAX);
	top = convert(data, size, 1, n);
	if (retr.len > 0 && (retr.len < 2 || retr.p[retr.len - 2] != '\r' ||
	    retr.p[retr.len - 1] != '\n'))
		abort();
	for (i = 0; i < retr.len; i++) {
		if (retr.p[i] == '\n' && (i == 0 || retr.p[i - 1] != '\r'))
			abort();			/* bare LF sent */
		if ((i == 0 || retr.p[i - 1] == '\n') && retr.p[i] == '.') {
			if (i + 1 >= retr.len || retr.p[i + 1] != '.')
				abort();		/* unstuffed dot */
			dots++;
		}
	}
	if (retr.len - dots != plain.len)
		abort();
	if (top.len > retr.len || memcmp(top.p, retr.p, top.len) != 0)
		abort();
	win = convert_window(data, size, size > 1 ? 1 + data[1] % 7 +
	    size / 3 : 1);
	if (win.len != retr.len || memcmp(win.p, retr.p, retr.len) != 0)
		abort();
	free(win.p);
	free(retr.p);
	free(plain.p);
	free(top.p);
	return 0;
}

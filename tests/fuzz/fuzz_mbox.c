/*
 * libFuzzer target for the mbox parser: whatever the octets, the parse
 * ends (no allocation: memory is the parser's fixed size), and
 *   - fed in pieces of sizes drawn from the input, it gives what it gives
 *     fed whole (result and every message);
 *   - messages are in file order, each From_ line before what is served,
 *     what is served within the input and ending where the next From_
 *     line's separator begins, wire sizes what wire.c counts over exactly
 *     the served octets, UIDLs fit to send;
 *   - parsed from a later message's From_ line on (as after the index),
 *     the messages from there are the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"
#include "mbox_parse.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXMSG	512

struct list {
	struct mbox_found	v[MAXMSG];
	size_t			n, seen;
};

static int
add(void *arg, const struct mbox_found *f)
{
	struct list	*l = arg;

	if (l->n < MAXMSG)
		l->v[l->n++] = *f;
	l->seen++;
	return 0;
}

/* From offset from, in pieces (sizes from the input's octets), or whole. */
static int
run(const char *s, size_t n, size_t from, int pieces, struct list *l)
{
	struct mbox_parser	p;
	size_t			off, k, i = 0;
	int			r = 0;

	l->n = l->seen = 0;
	mbox_parse_init(&p, from, add, l);
	for (off = from; off < n && r == 0; off += k) {
		k = pieces ? 1 + (unsigned char)s[i++ % n] % 23 : n - off;
		if (k > n - off)
			k = n - off;
		r = mbox_feed(&p, s + off, k);
	}
	return r != 0 ? r : mbox_end(&p);
}

static int
same(const struct mbox_found *a, const struct mbox_found *b)
{
	return a->from_off == b->from_off && a->off == b->off &&
	    a->len == b->len && a->wire == b->wire &&
	    a->from_digest == b->from_digest && a->uidl_len == b->uidl_len &&
	    memcmp(a->uidl, b->uidl, a->uidl_len) == 0 &&
	    a->uidl_header == b->uidl_header;
}

static void
check_one(const char *s, size_t n, const struct mbox_found *f, size_t i,
    uint64_t *end)
{
	struct wire	w;

	if ((i == 0 ? f->from_off != 0 : f->from_off < *end + 1 ||
	    f->from_off > *end + 2) || f->off < f->from_off + 5 ||
	    f->off > n || f->len > n - f->off || memcmp(s + f->from_off,
	    "From ", 5) != 0 || f->wire < f->len || f->wire > 2 * f->len + 2 ||
	    !maildir_uidl_plain(f->uidl, f->uidl_len) ||
	    f->uidl[f->uidl_len] != '\0' || (f->internal && i != 0))
		abort();
	wire_init_count(&w);
	wire_feed(&w, s + f->off, f->len);
	wire_finish(&w);
	if (w.counted != f->wire)
		abort();
	*end = f->off + f->len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static struct list	 whole, cut, tail;
	const char		*s = (const char *)data;
	uint64_t		 end = 0;
	size_t			 i, mid;
	int			 r;

	r = run(s, n, 0, 0, &whole);
	if (run(s, n, 0, 1, &cut) != r || cut.seen != whole.seen)
		abort();
	if (r != MBOX_OK)
		return 0;
	if (n > 0 && (whole.seen == 0 || memcmp(s, "From ", 5) != 0))
		abort();
	for (i = 0; i < whole.n; i++) {
		if (!same(&whole.v[i], &cut.v[i]) ||
		    whole.v[i].internal != cut.v[i].internal)
			abort();
		check_one(s, n, &whole.v[i], i, &end);
	}
	if (whole.n == whole.seen && whole.n > 0 && n - end > 2)
		abort();
	if (whole.n < 2)
		return 0;
	mid = 1 + (whole.n - 1) / 2;
	if (run(s, n, whole.v[mid].from_off, 1, &tail) != MBOX_OK)
		abort();
	for (i = 0; i < tail.n && mid + i < whole.n; i++)
		if (!same(&tail.v[i], &whole.v[mid + i]))
			abort();
	if (tail.seen != whole.seen - mid)
		abort();
	return 0;
}

/*
 * For the mbox testers: a parse's messages collected into a list, fed
 * in pieces of a given size or cut in two at a given offset.
 */
#ifndef POP3D_MBOX_LIST_H
#define POP3D_MBOX_LIST_H

#include <stdlib.h>
#include <string.h>

#include "mbox_parse.h"

struct list {
	struct mbox_found	*v;
	size_t			 n;
};

static __attribute__((unused)) int
list_add(void *arg, const struct mbox_found *f)
{
	struct list	*l = arg;

	if ((l->v = realloc(l->v, (l->n + 1) * sizeof(*f))) == NULL)
		abort();
	l->v[l->n++] = *f;
	return 0;
}

static __attribute__((unused)) void
list_free(struct list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Parses [off, n) of s (the file) from offset off, piece octets a feed. */
static __attribute__((unused)) int
list_parse_from(const char *s, size_t n, size_t off, size_t piece,
    struct list *l)
{
	struct mbox_parser	p;
	size_t			k;
	int			r = 0;

	mbox_parse_init(&p, off, list_add, l);
	for (; off < n && r == 0; off += k) {
		k = n - off < piece ? n - off : piece;
		r = mbox_feed(&p, s + off, k);
	}
	return r != 0 ? r : mbox_end(&p);
}

static __attribute__((unused)) int
list_parse(const char *s, size_t n, size_t piece, struct list *l)
{
	memset(l, 0, sizeof(*l));
	return list_parse_from(s, n, 0, piece, l);
}

/* Fed in two pieces, cut at cut. */
static __attribute__((unused)) int
list_parse_cut(const char *s, size_t n, size_t cut, struct list *l)
{
	struct mbox_parser	p;
	int			r;

	memset(l, 0, sizeof(*l));
	mbox_parse_init(&p, 0, list_add, l);
	if ((r = mbox_feed(&p, s, cut)) != 0 ||
	    (r = mbox_feed(&p, s + cut, n - cut)) != 0)
		return r;
	return mbox_end(&p);
}

static __attribute__((unused)) int
found_same(const struct mbox_found *a, const struct mbox_found *b)
{
	return a->from_off == b->from_off && a->off == b->off &&
	    a->len == b->len && a->wire == b->wire &&
	    a->from_digest == b->from_digest && a->uidl_len == b->uidl_len &&
	    memcmp(a->uidl, b->uidl, a->uidl_len) == 0 &&
	    a->uidl[a->uidl_len] == '\0' && b->uidl[b->uidl_len] == '\0' &&
	    a->uidl_header == b->uidl_header && a->internal == b->internal;
}

static __attribute__((unused)) int
list_same(const struct list *a, const struct list *b)
{
	size_t	i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!found_same(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

#endif

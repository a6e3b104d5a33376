/*
 * The files UIDLs are carried over by (migrate.h): Dovecot's
 * dovecot-uidlist and pop3d's own UIDMAP_FILE, parsed from an image in
 * memory (pop3_uidl_format's expansion: lib/uidlfmt.c).  No file access here:
 * tests and fuzz targets feed these anything.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "migrate.h"

/* A line of buf from *off: its start and length (no LF); 0 at the end. */
static int
next_line(const char *buf, size_t len, size_t *off, const char **line,
    size_t *n, int *whole)
{
	const char	*nl;

	if (*off >= len)
		return 0;
	*line = buf + *off;
	nl = memchr(*line, '\n', len - *off);
	*n = nl != NULL ? (size_t)(nl - *line) : len - *off;
	/* A last line without LF may be cut short by a writer: left out. */
	*whole = nl != NULL;
	*off += *n + (nl != NULL);
	return 1;
}

/* Decimal digits of p (n octets) as a 32-bit number above 0: its length. */
static size_t
u32_at(const char *p, size_t n, uint32_t *v)
{
	uint64_t	x = 0;
	size_t		i;

	for (i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		if ((x = x * 10 + (p[i] - '0')) > UINT32_MAX)
			return 0;
	if (i == 0 || x == 0 || (i > 1 && p[0] == '0'))
		return 0;
	*v = (uint32_t)x;
	return i;
}

/* "1 <uidvalidity> <nextuid>" or "3 [<key><value> ...]". */
static int
head_parse(const char *p, size_t n, struct dovecot_head *h)
{
	size_t	i, k;

	if (n < 2 || p[1] != ' ' || p[0] < '1' || p[0] > '3')
		return -1;
	h->version = p[0] - '0';
	if (h->version < 3)
		return u32_at(p + 2, n - 2, &h->uidvalidity) > 0 ? 0 : -1;
	for (i = 2; i < n; i = k + 1) {
		for (k = i; k < n && p[k] != ' '; k++)
			;
		if (p[i] == 'V' && k - i > 1 && u32_at(p + i + 1, k - i - 1,
		    &h->uidvalidity) == k - i - 1)
			return 0;
	}
	return -1;
}

/* The extensions of a version 3 line, up to its " :": G and P noted. */
static int
exts_parse(const char *p, size_t n, struct dovecot_rec *r, size_t *used)
{
	size_t	i = 0, k;

	for (;;) {
		if (i >= n || p[i] != ' ')
			return -1;
		if (++i < n && p[i] == ':') {
			*used = i + 1;
			return 0;
		}
		for (k = i; k < n && p[k] != ' '; k++)
			;
		if (k == i)
			return -1;
		if (p[i] == 'G' && r->guid == NULL) {
			r->guid = p + i + 1;
			r->guid_len = k - i - 1;
		} else if (p[i] == 'P' && r->pop3 == NULL) {
			r->pop3 = p + i + 1;
			r->pop3_len = k - i - 1;
		}
		i = k;
	}
}

static int
rec_parse(const char *p, size_t n, const struct dovecot_head *h,
    struct dovecot_rec *r)
{
	const char	*c;
	size_t		 i, used;

	memset(r, 0, sizeof(*r));
	if ((i = u32_at(p, n, &r->uid)) == 0)
		return -1;
	if (h->version == 3) {
		if (exts_parse(p + i, n - i, r, &used) == -1)
			return -1;
		i += used;
	} else {
		if (i >= n || p[i++] != ' ')
			return -1;
		if (h->version == 2) {
			/* "<uid> <flags> <filename>" */
			while (i < n && p[i] != ' ')
				i++;
			if (i++ >= n)
				return -1;
		}
	}
	r->name = p + i;
	r->name_len = (c = memchr(p + i, ':', n - i)) != NULL ?
	    (size_t)(c - (p + i)) : n - i;
	if (r->name_len == 0 || r->name_len > NAME_MAX ||
	    memchr(r->name, '/', r->name_len) != NULL ||
	    memchr(r->name, '\0', r->name_len) != NULL)
		return -1;
	return 0;
}

int
dovecot_uidlist_parse(const char *buf, size_t len, dovecot_fn fn, void *arg,
    size_t *skipped)
{
	struct dovecot_head	h;
	struct dovecot_rec	r;
	const char		*line;
	size_t			 off = 0, n;
	int			 whole;

	memset(&h, 0, sizeof(h));
	if (!next_line(buf, len, &off, &line, &n, &whole) || !whole ||
	    n > DOVECOT_LINE_MAX || head_parse(line, n, &h) == -1)
		return 1;
	while (next_line(buf, len, &off, &line, &n, &whole)) {
		if (!whole || n > DOVECOT_LINE_MAX ||
		    rec_parse(line, n, &h, &r) == -1) {
			(*skipped)++;
			continue;
		}
		if (fn(arg, &h, &r) == -1)
			return -1;
	}
	return 0;
}

int
uidmap_parse(const char *buf, size_t len, dovecot_fn fn, void *arg,
    size_t *skipped)
{
	struct dovecot_rec	r;
	const char		*line, *sp;
	size_t			 off, n;
	int			 whole;

	off = sizeof(UIDMAP_MAGIC) - 1;
	if (len < off || memcmp(buf, UIDMAP_MAGIC, off) != 0)
		return 1;
	while (next_line(buf, len, &off, &line, &n, &whole)) {
		memset(&r, 0, sizeof(r));
		if (whole && (sp = memchr(line, ' ', n)) != NULL) {
			r.pop3 = line;
			r.pop3_len = sp - line;
			r.name = sp + 1;
			r.name_len = n - r.pop3_len - 1;
		}
		if (r.name == NULL || !maildir_uidl_plain(r.pop3, r.pop3_len) ||
		    r.name_len == 0 || r.name_len > NAME_MAX ||
		    memchr(r.name, '/', r.name_len) != NULL ||
		    memchr(r.name, ':', r.name_len) != NULL ||
		    memchr(r.name, '\0', r.name_len) != NULL) {
			(*skipped)++;
			continue;
		}
		if (fn(arg, NULL, &r) == -1)
			return -1;
	}
	return 0;
}

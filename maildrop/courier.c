/*
 * Courier's courierpop3dsizelist (migrate.h), parsed from an image in
 * memory: the header "/<version> <nextuid> <uidvalidity>" (versions 2 and
 * 3, which Courier 0.43 and later write), then per message
 * "<file name> <size> <uid>:<uidvalidity>[:<utf8>]", the name with its
 * flags and possibly spaces (Courier splits at the last two).  Courier
 * reports "UID<uid>-<uidvalidity>", or "UID<uid>" when the uidvalidity is
 * 0; a uid of 0 means its older form, the file name, which is pop3d's
 * own already.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "migrate.h"

/* Decimal digits of p (n octets), no more than 20: its length, or 0. */
static size_t
u64_at(const char *p, size_t n, uint64_t *v)
{
	uint64_t	x = 0;
	size_t		i;

	for (i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (x > (UINT64_MAX - (p[i] - '0')) / 10)
			return 0;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return i;
}

/* The last ' ' in p (n octets), or NULL. */
static const char *
last_space(const char *p, size_t n)
{
	while (n-- > 0)
		if (p[n] == ' ')
			return p + n;
	return NULL;
}

static int
head_ok(const char *p, size_t n)
{
	uint64_t	v;
	size_t		i;

	if (n < 2 || p[0] != '/' || (i = u64_at(p + 1, n - 1, &v)) == 0 ||
	    (v != 2 && v != 3))
		return 0;
	return 1;
}

/* One line: 0 with r filled (pop3 in buf), -1 malformed or uid 0. */
static int
line_parse(const char *p, size_t n, struct dovecot_rec *r, char *buf,
    size_t bufsz)
{
	const char	*ids, *size, *c;
	uint64_t	 uid, uidv, x;
	size_t		 i, k, len;

	if ((ids = last_space(p, n)) == NULL ||
	    (size = last_space(p, ids - p)) == NULL || size == p)
		return -1;
	len = n - (ids + 1 - p);
	if ((i = u64_at(ids + 1, len, &uid)) == 0 || i >= len ||
	    ids[1 + i] != ':' ||
	    (k = u64_at(ids + 2 + i, len - i - 1, &uidv)) == 0 ||
	    u64_at(size + 1, ids - size - 1, &x) != (size_t)(ids - size - 1) ||
	    ids - size - 1 == 0 || uid == 0)
		return -1;
	/* What may follow: ":<utf8 flag>" (version 3). */
	if (i + 1 + k != len && ids[2 + i + k] != ':')
		return -1;
	memset(r, 0, sizeof(*r));
	r->name = p;
	r->name_len = (c = memchr(p, ':', size - p)) != NULL ?
	    (size_t)(c - p) : (size_t)(size - p);
	if (r->name_len == 0 || r->name_len > NAME_MAX ||
	    memchr(p, '/', r->name_len) != NULL ||
	    memchr(p, '\0', r->name_len) != NULL)
		return -1;
	r->pop3 = buf;
	r->pop3_len = uidv != 0 ?
	    snprintf(buf, bufsz, "UID%llu-%llu", (unsigned long long)uid,
	    (unsigned long long)uidv) :
	    snprintf(buf, bufsz, "UID%llu", (unsigned long long)uid);
	return 0;
}

int
courier_sizelist_parse(const char *buf, size_t len, dovecot_fn fn, void *arg,
    size_t *skipped)
{
	struct dovecot_rec	r;
	char			uidl[48];
	const char		*line, *nl;
	size_t			off, n;

	if ((nl = memchr(buf, '\n', len)) == NULL ||
	    (size_t)(nl - buf) > DOVECOT_LINE_MAX || !head_ok(buf, nl - buf))
		return 1;
	for (off = nl - buf + 1; off < len; off += n + 1) {
		line = buf + off;
		if ((nl = memchr(line, '\n', len - off)) == NULL) {
			/* A last line without LF: cut short, left out. */
			(*skipped)++;
			break;
		}
		n = nl - line;
		if (n > DOVECOT_LINE_MAX ||
		    line_parse(line, n, &r, uidl, sizeof(uidl)) == -1) {
			(*skipped)++;
			continue;
		}
		if (fn(arg, NULL, &r) == -1)
			return -1;
	}
	return 0;
}

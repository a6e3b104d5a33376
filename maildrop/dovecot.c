/*
 * The files UIDLs are carried over by (migrate.h): Dovecot's
 * dovecot-uidlist and pop3d's own UIDMAP_FILE, parsed from an image in
 * memory, and Dovecot's pop3_uidl_format expanded.  No file access here:
 * tests and fuzz targets feed these anything.
 */
#include <ctype.h>
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

/* The value of variable c (or long name) for a record, or NULL. */
static const char *
var_value(const char *name, size_t n, const struct dovecot_head *h,
    const struct dovecot_rec *r, char *num, size_t numsz, size_t *len)
{
	uint32_t	v;

#define IS(s)	(n == strlen(s) && memcmp(name, s, n) == 0)
	if (IS("u") || IS("uid") || IS("v") || IS("uidvalidity")) {
		v = name[0] == 'u' && n != 11 ? r->uid : h->uidvalidity;
		*len = snprintf(num, numsz, "%lu", (unsigned long)v);
		return num;
	}
	if (IS("g") || IS("guid")) {
		if (r->guid != NULL && r->guid_len > 0) {
			*len = r->guid_len;
			return r->guid;
		}
		/* Dovecot's maildir: the base name stands for a GUID. */
		*len = r->name_len;
		return r->name;
	}
	if (IS("f") || IS("filename")) {
		*len = r->name_len;
		return r->name;
	}
#undef IS
	return NULL;
}

/* The modifiers applied to val (len octets) in buf: the new length. */
static size_t
modify(const char *mods, size_t nmods, const char *val, size_t len,
    char *buf, size_t bufsz)
{
	unsigned long long	x;
	size_t			i, j;

	if (len >= bufsz)
		len = bufsz - 1;
	memmove(buf, val, len);
	buf[len] = '\0';
	for (i = 0; i < nmods; i++) {
		if (mods[i] == 'X') {
			/* Dovecot: a string that is no number counts as 0. */
			for (x = 0, j = 0; j < len && isdigit((unsigned char)
			    buf[j]) && x < (1ULL << 60); j++)
				x = x * 10 + (buf[j] - '0');
			if (j != len)
				x = 0;
			len = snprintf(buf, bufsz, "%llx", x);
		}
		for (j = 0; j < len && mods[i] != 'X'; j++)
			buf[j] = mods[i] == 'L' ? tolower((unsigned char)buf[j]) :
			    toupper((unsigned char)buf[j]);
	}
	return len;
}

/*
 * One "%[0][width][modifiers]var" at fmt (after the '%'): appended to
 * out at *o.  The octets of fmt used, or 0 when it is none we take.
 */
static size_t
expand_one(const char *fmt, const struct dovecot_head *h,
    const struct dovecot_rec *r, char *out, size_t n, size_t *o)
{
	char		 num[24], buf[NAME_MAX + 32];
	const char	*p = fmt, *mods, *name, *val;
	size_t		 width = 0, nmods, nlen, len;
	int		 zero = 0;

	if (*p == '0')
		zero = 1, p++;
	while (*p >= '0' && *p <= '9' && width < 1000)
		width = width * 10 + (*p++ - '0');
	for (mods = p; *p == 'X' || *p == 'L' || *p == 'U'; p++)
		;
	if ((nmods = p - mods) > 4)
		return 0;
	name = p;
	nlen = 1;
	if (*p == '{') {
		name = ++p;
		while (*p != '}' && *p != '\0')
			p++;
		if (*p != '}')
			return 0;
		nlen = p - name;
	} else if (*p == '\0')
		return 0;
	if ((val = var_value(name, nlen, h, r, num, sizeof(num), &len)) ==
	    NULL)
		return 0;
	len = modify(mods, nmods, val, len, buf, sizeof(buf));
	if (width > 0 && !zero && len > width)
		len = width;
	for (; zero && width > len; width--)
		if (*o + 1 < n)
			out[(*o)++] = '0';
		else
			return 0;
	if (*o + len >= n)
		return 0;
	memcpy(out + *o, buf, len);
	*o += len;
	return p + 1 - fmt;
}

int
dovecot_uidl_expand(const char *fmt, const struct dovecot_head *h,
    const struct dovecot_rec *r, char *out, size_t n)
{
	size_t	o = 0, used;

	if (n == 0)
		return -1;
	while (*fmt != '\0') {
		if (fmt[0] == '%' && fmt[1] == '%') {
			fmt += 2;
			if (o + 1 >= n)
				return -1;
			out[o++] = '%';
		} else if (*fmt == '%') {
			if ((used = expand_one(fmt + 1, h, r, out, n, &o)) == 0)
				return -1;
			fmt += 1 + used;
		} else {
			if (o + 1 >= n)
				return -1;
			out[o++] = *fmt++;
		}
	}
	out[o] = '\0';
	return (int)o;
}

int
dovecot_uidl_format_ok(const char *fmt)
{
	static const struct dovecot_head h = { 3, 1 };
	static const struct dovecot_rec r = { 1, "1.M1P1.h", 8, NULL, 0,
	    NULL, 0 };
	char	out[UIDL_MAX + 1];

	return dovecot_uidl_expand(fmt, &h, &r, out, sizeof(out)) > 0;
}

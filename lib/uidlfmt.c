/*
 * Dovecot's pop3_uidl_format (POP3D_DOVECOT_UIDL_FORMAT), expanded for a
 * dovecot-uidlist record.  In lib/ because every program that takes the
 * setting (pop3d-rules, pop3d-check, pop3d-users, pop3d-maildrop) checks
 * it with the same code, through the settings table (settings.c), and
 * pop3d-maildrop expands it with it (maildrop/dovecot.c).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pop3d_limits.h"
#include "uidlfmt.h"

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

/*
 * A format the maildrop can use: it expands, to a UIDL (1 to UIDL_MAX
 * octets of 0x21 to 0x7e), and one that tells messages apart; "%v" or
 * plain text would give every message the same UIDL, a space none a
 * valid one.  Two records differing in UID, name and GUID make it
 * differ when it names %u, %f or %g (or their long names).
 */
int
dovecot_uidl_format_ok(const char *fmt)
{
	static const struct dovecot_head h = { 3, 1 };
	static const struct dovecot_rec r1 = { 1, "1.M1P1.h", 8, NULL, 0,
	    NULL, 0 }, r2 = { 2, "2.M2P1.h", 8, NULL, 0, NULL, 0 };
	char	a[UIDL_MAX + 1], b[UIDL_MAX + 1];
	int	n, i;

	if ((n = dovecot_uidl_expand(fmt, &h, &r1, a, sizeof(a))) <= 0 ||
	    dovecot_uidl_expand(fmt, &h, &r2, b, sizeof(b)) <= 0 ||
	    strcmp(a, b) == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (a[i] < 0x21 || a[i] > 0x7e)
			return 0;
	return 1;
}

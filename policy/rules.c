/* The rules file: one line into a rule and the CIDR blocks it covers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "num.h"
#include "rules.h"

/* Every setting of a rule at its longest fits in the rule's buffer. */
_Static_assert(RULE_SETTINGS_MAX * (RULE_NAME_MAX + RULE_VALUE_MAX + 2) <=
    RULE_RECORD_MAX, "struct rule's buf holds every setting");
_Static_assert(RULE_PATTERN_MAX <= 255 && RULE_SETTINGS_MAX <= 255,
    "the record keeps these counts in one octet");

int
rule_err(char *err, size_t n, const char *fmt, ...)
{
	va_list	ap;

	if (n == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Text from the file quoted in a message: at most 40 octets, each control
 * or non-ASCII one as \xHH, so that a message stays one line.
 */
static const char *
rule_show(char *buf, size_t n, const char *s, size_t len)
{
	char	tmp[41];

	if (len > sizeof(tmp) - 1)
		len = sizeof(tmp) - 1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	log_escape(buf, n, tmp);
	return buf;
}

static void
block_add(struct rule_src *src, int family, const unsigned char *octet,
    int len)
{
	struct rule_block	*b = &src->block[src->nblocks++];

	memset(&b->prefix, 0, sizeof(b->prefix));
	b->prefix.family = family;
	memcpy(b->prefix.octet, octet, family == 4 ? 4 : 16);
	addr_mask(&b->prefix, len);
	b->len = len;
}

/*
 * A number, 0 to max, without a leading zero (which some read as octal):
 * the value, or -1.
 */
static int
prefix_parse(const char *s, int max)
{
	uint64_t	v;

	if ((s[0] == '0' && s[1] != '\0') || num_parse(s, 0, max, &v) == -1)
		return -1;
	return (int)v;
}

/* An octet: 1 to 3 digits, at most 255.  The value, advancing *p, or -1. */
static int
octet_parse(const char **p)
{
	char	buf[4];
	size_t	n = strspn(*p, "0123456789");
	int	v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, *p, n);
	buf[n] = '\0';
	if ((v = prefix_parse(buf, 255)) != -1)
		*p += n;
	return v;
}

/* The length of a contiguous netmask of n octets, or -1. */
static int
mask_len(const unsigned char *m, int n)
{
	int	i, len = 0, bit;

	for (i = 0; i < n * 8; i++) {
		bit = (m[i / 8] >> (7 - i % 8)) & 1;
		if (bit && len != i)
			return -1;
		len += bit;
	}
	return len;
}

/*
 * The prefix length after a '/': a number, or a netmask of the family
 * (an IPv4 dotted quad, an IPv6 address).  The length, or -1 after
 * saying what is wrong.
 */
static int
length_parse(const char *s, int family, char *err, size_t n)
{
	unsigned char	m[16];
	char		show[170];
	int		len;

	if (strchr(s, family == 4 ? '.' : ':') != NULL) {
		if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, m) != 1)
			return rule_err(err, n, "bad netmask '%s'",
			    rule_show(show, sizeof(show), s, strlen(s)));
		if ((len = mask_len(m, family == 4 ? 4 : 16)) == -1)
			return rule_err(err, n, "netmask %s is not contiguous "
			    "(ones, then zeros)", s);
		return len;
	}
	if ((len = prefix_parse(s, family == 4 ? 32 : 128)) == -1)
		return rule_err(err, n, "bad prefix length '/%s' (0 to %d)",
		    rule_show(show, sizeof(show), s, strlen(s)),
		    family == 4 ? 32 : 128);
	return len;
}

/* Refuses an address with bits set past the prefix, naming the block. */
static int
host_bits(const struct rule_src *src, const struct addr *a, int len,
    char *err, size_t n)
{
	struct addr	m = *a;
	char		text[ADDR_TEXT_MAX];

	addr_mask(&m, len);
	if (memcmp(m.octet, a->octet, sizeof(m.octet)) == 0)
		return 0;
	addr_format(&m, text, sizeof(text));
	return rule_err(err, n, "host bits set in '%s': did you mean %s/%d?",
	    src->rule.pattern, text, len);
}

/* The bits of an 8-bit range lo-hi at octet at, in the fewest blocks. */
static void
range_blocks(struct rule_src *src, unsigned char *octet, int at, int lo,
    int hi)
{
	int	s;

	while (lo <= hi) {
		/* The largest aligned power of two that starts at lo and fits. */
		for (s = 8; s > 0; s--)
			if (lo % (1 << s) == 0 && lo + (1 << s) - 1 <= hi)
				break;
		octet[at] = lo;
		block_add(src, 4, octet, 8 * at + 8 - s);
		lo += 1 << s;
	}
}

/* One component of a tcprules IPv4 pattern: '*', an octet or a range. */
struct v4part {
	int	star, lo, hi;
};

/* The components of p, up to 4; *dot when p ends with one.  n or -1. */
static int
v4_split(const char *p, struct v4part *c, int *dot, char *err, size_t n)
{
	const char	*s = p, *start;
	char		 show[170];
	int		 k = 0;

	*dot = 0;
	for (;;) {
		if (k == 4)
			return rule_err(err, n, "more than four octets in '%s'",
			    p);
		start = s;
		c[k].star = *s == '*';
		if (c[k].star)
			s++;
		else if ((c[k].lo = c[k].hi = octet_parse(&s)) != -1 &&
		    *s == '-') {
			s++;
			c[k].hi = octet_parse(&s);
		}
		if (!c[k].star && (c[k].lo == -1 || c[k].hi == -1 ||
		    (*s != '.' && *s != '\0')))
			return rule_err(err, n, "bad octet '%s' in '%s' "
			    "(0 to 255, no leading zeros)", rule_show(show,
			    sizeof(show), start, strcspn(start, ".")), p);
		if (!c[k].star && c[k].lo > c[k].hi)
			return rule_err(err, n, "bad range %d-%d in '%s' (the "
			    "low end is above the high end)", c[k].lo, c[k].hi,
			    p);
		if (c[k].star && *s != '.' && *s != '\0')
			return rule_err(err, n, "bad wildcard in '%s' (a '*' "
			    "stands for a whole octet)", p);
		k++;
		if (*s == '\0')
			return k;
		if (*++s == '\0') {
			*dot = 1;
			return k;
		}
	}
}

/*
 * tcprules' IPv4 forms: an address (1.2.3.4), a prefix ending with a dot
 * (10.1.), trailing wildcards (192.168.*), and a range in the last octet
 * given (1.2.3.4-7, 10.2-3.).
 */
static int
v4_pattern(const char *p, struct rule_src *src, char *err, size_t n)
{
	struct v4part	c[4];
	unsigned char	octet[4] = { 0, 0, 0, 0 };
	int		k, dot, fixed, i;

	if ((k = v4_split(p, c, &dot, err, n)) == -1)
		return -1;
	for (fixed = 0; fixed < k && !c[fixed].star; fixed++)
		continue;
	for (i = fixed; i < k; i++)
		if (!c[i].star)
			return rule_err(err, n, "'*' in '%s' before an octet "
			    "(wildcards stand only for trailing octets)", p);
	if (dot && fixed < k)
		return rule_err(err, n, "'%s' has both a wildcard and a "
		    "trailing dot (10.* or 10., not both)", p);
	if (dot && k == 4)
		return rule_err(err, n, "'%s' ends with a dot after four "
		    "octets", p);
	if (!dot && fixed == k && k < 4)
		return rule_err(err, n, "incomplete address '%s' (a prefix "
		    "ends with a dot: '%s.')", p, p);
	for (i = 0; i + 1 < fixed; i++) {
		if (c[i].lo != c[i].hi)
			return rule_err(err, n, "range in '%s' before the last "
			    "octet given (only the last may be a range)", p);
		octet[i] = c[i].lo;
	}
	if (fixed == 0) {
		block_add(src, 4, octet, 0);
		return 0;
	}
	range_blocks(src, octet, fixed - 1, c[fixed - 1].lo, c[fixed - 1].hi);
	return 0;
}

/* IPv4 CIDR (10.0.0.0/8) or address and netmask (10.0.0.0/255.0.0.0). */
static int
v4_cidr(const char *p, const char *slash, struct rule_src *src, char *err,
    size_t n)
{
	struct addr	a;
	char		text[INET_ADDRSTRLEN], show[170];
	int		len;

	memset(&a, 0, sizeof(a));
	a.family = 4;
	if ((size_t)(slash - p) >= sizeof(text) ||
	    (memcpy(text, p, slash - p), text[slash - p] = '\0',
	    inet_pton(AF_INET, text, a.octet) != 1))
		return rule_err(err, n, "bad address '%s' before the '/' "
		    "(CIDR needs all four octets: 10.0.0.0/8)",
		    rule_show(show, sizeof(show), p, slash - p));
	if ((len = length_parse(slash + 1, 4, err, n)) == -1)
		return -1;
	if (host_bits(src, &a, len, err, n) == -1)
		return -1;
	block_add(src, 4, a.octet, len);
	return 0;
}

/*
 * An IPv6 address text with an optional length text: one block, IPv4's
 * when it lies within ::ffff:0:0/96, as peers in it are IPv4 to lookups.
 */
static int
v6_block(const char *text, size_t tlen, const char *lentext,
    struct rule_src *src, char *err, size_t n)
{
	struct addr	a;
	char		buf[INET6_ADDRSTRLEN], show[170];
	int		len = 128;

	rule_show(show, sizeof(show), text, tlen);
	if (memchr(text, '*', tlen) != NULL || memchr(text, '-', tlen) != NULL)
		return rule_err(err, n, "no wildcards or ranges in IPv6 '%s': "
		    "write CIDR (2001:db8::/32)", show);
	if (tlen >= 2 && text[tlen - 1] == ':' && text[tlen - 2] != ':')
		return rule_err(err, n, "no prefixes in IPv6 '%s': write "
		    "CIDR (2001:db8::/32)", show);
	memset(&a, 0, sizeof(a));
	a.family = 6;
	if (tlen >= sizeof(buf) || (memcpy(buf, text, tlen), buf[tlen] = '\0',
	    inet_pton(AF_INET6, buf, a.octet) != 1))
		return rule_err(err, n, "bad IPv6 address '%s'", show);
	if (lentext != NULL && (len = length_parse(lentext, 6, err, n)) == -1)
		return -1;
	if (host_bits(src, &a, len, err, n) == -1)
		return -1;
	if (len >= 96 && memcmp(a.octet, "\0\0\0\0\0\0\0\0\0\0\377\377",
	    12) == 0) {
		block_add(src, 4, a.octet + 12, len - 96);
		return 0;
	}
	block_add(src, 6, a.octet, len);
	return 0;
}

/* [2001:db8::1] or [2001:db8::]/32. */
static int
v6_bracket(const char *p, struct rule_src *src, char *err, size_t n)
{
	const char	*close = strchr(p, ']');
	char		 show[170];

	if (close == NULL)
		return rule_err(err, n, "no ']' in '%s'", p);
	if (close[1] != '\0' && close[1] != '/')
		return rule_err(err, n, "'%s' after ']' in '%s'",
		    rule_show(show, sizeof(show), close + 1,
		    strlen(close + 1)), p);
	if (memchr(p + 1, ':', close - p - 1) == NULL)
		return rule_err(err, n, "brackets hold IPv6 addresses only: "
		    "'%s'", p);
	return v6_block(p + 1, close - p - 1, close[1] == '/' ? close + 2 :
	    NULL, src, err, n);
}

/* The pattern in src->rule.pattern into src's blocks. */
static int
pattern_parse(struct rule_src *src, char *err, size_t n)
{
	const char	*p = src->rule.pattern, *slash;
	unsigned char	 any[16];
	char		 show[170];

	if (*p == '\0') {
		/* The default: every address of both families. */
		memset(any, 0, sizeof(any));
		block_add(src, 4, any, 0);
		block_add(src, 6, any, 0);
		return 0;
	}
	if (*p == '=' || strchr(p, '@') != NULL)
		return rule_err(err, n, "host name and user@ patterns are not "
		    "supported: '%s'", rule_show(show, sizeof(show), p,
		    strlen(p)));
	if (strpbrk(p, " \t") != NULL)
		return rule_err(err, n, "space in the pattern (a rule has no "
		    "spaces)");
	if (p[strspn(p, RULE_PATTERN_CHARS)] != '\0')
		return rule_err(err, n, "bad pattern '%s' (an address, prefix, "
		    "range, wildcard or CIDR block)", rule_show(show,
		    sizeof(show), p, strlen(p)));
	if (*p == '[')
		return v6_bracket(p, src, err, n);
	slash = strchr(p, '/');
	if (strchr(p, ':') != NULL)
		return v6_block(p, slash != NULL ? (size_t)(slash - p) :
		    strlen(p), slash != NULL ? slash + 1 : NULL, src, err, n);
	if (slash != NULL)
		return v4_cidr(p, slash, src, err, n);
	return v4_pattern(p, src, err, n);
}

/* A blank line or a comment (its first character other than blanks '#'). */
static int
line_blank(const char *s, size_t len)
{
	size_t	i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i == len || s[i] == '#';
}

/* Does ":word" at s+i end the pattern (followed by ',' or the end)? */
static int
action_at(const char *s, size_t len, size_t i, const char *word)
{
	size_t	w = strlen(word);

	return s[i] == ':' && len - i - 1 >= w &&
	    memcmp(s + i + 1, word, w) == 0 &&
	    (i + 1 + w == len || s[i + 1 + w] == ',');
}

/*
 * The first ":allow" or ":deny" followed by ',' or the end ends the
 * pattern: hex digits cannot spell either word, so an IPv6 pattern's
 * colons never end it early.  The pattern's length, or -1.
 */
static int
action_find(const char *s, size_t len, char *action, size_t *rest)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (action_at(s, len, i, "allow")) {
			*action = RULE_ALLOW;
			*rest = i + 6;
			return (int)i;
		}
		if (action_at(s, len, i, "deny")) {
			*action = RULE_DENY;
			*rest = i + 5;
			return (int)i;
		}
	}
	return -1;
}

/* Says why no action was found, as precisely as the line allows. */
static int
action_err(const char *s, size_t len, char *err, size_t n)
{
	const char	*colon = memchr(s, ':', len), *w;
	char		 show[170];
	size_t		 i, wl;

	for (i = 0; i < len; i++) {
		wl = s[i] != ':' ? 0 : len - i > 5 &&
		    memcmp(s + i + 1, "allow", 5) == 0 ? 5 : len - i > 4 &&
		    memcmp(s + i + 1, "deny", 4) == 0 ? 4 : 0;
		if (wl == 0)
			continue;
		if (s[i + 1 + wl] == ' ' || s[i + 1 + wl] == '\t')
			return rule_err(err, n, "space after the action (a "
			    "rule has no spaces)");
		return rule_err(err, n, "'%s' after the action (settings "
		    "follow a comma)", rule_show(show, sizeof(show),
		    s + i + 1 + wl, len - i - 1 - wl));
	}
	if (colon == NULL)
		return rule_err(err, n, "no ':' (a rule is pattern:allow or "
		    "pattern:deny)");
	w = colon + 1;
	wl = strcspn(w, ",");
	if (*s != '[' && memchr(w, ':', wl) == NULL) {
		if (wl == 0)
			return rule_err(err, n, "no action after ':' (allow "
			    "or deny)");
		return rule_err(err, n, "unknown action '%s' (allow or deny)",
		    rule_show(show, sizeof(show), w, wl));
	}
	return rule_err(err, n, "no ':allow' or ':deny' after the pattern");
}

/* The name at s (up to '=', ',' or the end of the line), checked. */
static int
setting_name(const struct rule *r, const char *s, size_t len, size_t *nl,
    char *err, size_t n)
{
	char	show[170];

	*nl = strcspn(s, "=,");
	if (*nl > len)
		*nl = len;
	rule_show(show, sizeof(show), s, *nl);
	if (*nl == 0)
		return rule_err(err, n, s[0] == '=' ? "setting with no name" :
		    "empty setting (nothing after a comma)");
	if (*nl > RULE_NAME_MAX)
		return rule_err(err, n, "setting name '%s...' too long (more "
		    "than %d characters)", show, RULE_NAME_MAX);
	/* A valid name but for its LD_: "_..." after "LD" is one. */
	if (*nl >= 3 && memcmp(s, "LD_", 3) == 0 &&
	    rule_name_valid(s + 2, *nl - 2))
		return rule_err(err, n, "setting %s refused: LD_ variables "
		    "steer the dynamic linker", show);
	if (!rule_name_valid(s, *nl))
		return rule_err(err, n, "bad setting name '%s' "
		    "(letters, digits and '_', not a digit first)", show);
	if (*nl == len || s[*nl] != '=')
		return rule_err(err, n, "setting %s has no '=' (settings are "
		    "NAME=value)", show);
	if (rule_setting_seen(r, r->nsettings, s, *nl))
		return rule_err(err, n, "setting %s given twice", show);
	return 0;
}

/*
 * ",NAME=value", ",NAME=\"value\"" or ",NAME='value'" repeated, into the
 * rule's buffer as "NAME=value" strings.  A quoted value may hold commas.
 */
static int
settings_parse(const char *s, size_t len, struct rule *r, char *err,
    size_t n)
{
	size_t	i = 0, ns, nl, vs, vl, used = 0;
	char	q, show[170];

	while (i < len) {
		ns = ++i;	/* past the comma */
		if (r->nsettings == RULE_SETTINGS_MAX)
			return rule_err(err, n, "more than %d settings",
			    RULE_SETTINGS_MAX);
		if (setting_name(r, s + ns, len - ns, &nl, err, n) == -1)
			return -1;
		rule_show(show, sizeof(show), s + ns, nl);
		vs = ns + nl + 1;
		q = vs < len && (s[vs] == '"' || s[vs] == '\'') ? s[vs] : 0;
		if (q != 0)
			vs++;
		for (vl = 0; vs + vl < len && (q != 0 ? s[vs + vl] != q :
		    s[vs + vl] != ','); vl++)
			continue;
		i = vs + vl;
		if (q != 0 && i++ == len)
			return rule_err(err, n, "setting %s: no closing %c",
			    show, q);
		if (i < len && s[i] != ',')
			return rule_err(err, n, "setting %s: text after the "
			    "closing %c", show, q);
		if (vl > RULE_VALUE_MAX)
			return rule_err(err, n, "setting %s: value too long "
			    "(more than %d octets)", show, RULE_VALUE_MAX);
		r->settings[r->nsettings++] = r->buf + used;
		memcpy(r->buf + used, s + ns, nl + 1);
		memcpy(r->buf + used + nl + 1, s + vs, vl);
		used += nl + 1 + vl;
		r->buf[used++] = '\0';
	}
	return 0;
}

int
rule_parse(const char *text, unsigned long lineno, struct rule_src *src,
    char *err, size_t errlen)
{
	struct rule	*r = &src->rule;
	size_t		 len, rest;
	int		 plen;

	/* No memset: the struct is large and compile parses a line each. */
	src->nblocks = 0;
	r->action = 0;
	r->pattern[0] = '\0';
	r->line = lineno;
	r->nsettings = 0;
	if (errlen > 0)
		err[0] = '\0';
	len = strnlen(text, RULES_LINE_MAX + 2);
	if (len > 0 && len <= RULES_LINE_MAX + 1 && text[len - 1] == '\r')
		len--;
	if (len > RULES_LINE_MAX)
		return rule_err(err, errlen, "line too long (more than %d "
		    "octets)", RULES_LINE_MAX);
	if (memchr(text, '\n', len) != NULL || memchr(text, '\r', len) != NULL)
		return rule_err(err, errlen, "line end inside the line");
	/* Trailing blanks go, as tcprules drops them. */
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (line_blank(text, len))
		return 0;
	if ((plen = action_find(text, len, &r->action, &rest)) == -1)
		return action_err(text, len, err, errlen);
	if (plen > RULE_PATTERN_MAX)
		return rule_err(err, errlen, "pattern too long (more than %d "
		    "characters)", RULE_PATTERN_MAX);
	memcpy(r->pattern, text, plen);
	r->pattern[plen] = '\0';
	if (pattern_parse(src, err, errlen) == -1 ||
	    settings_parse(text + rest, len - rest, r, err, errlen) == -1) {
		src->nblocks = 0;
		return -1;
	}
	return 1;
}

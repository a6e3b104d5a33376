/*
 * The PROXY protocol header's parser (proxy.h).  Version 1:
 *
 *	PROXY SP (TCP4|TCP6) SP src SP dst SP sport SP dport CRLF
 *	PROXY SP UNKNOWN [anything] CRLF
 *
 * at most PROXY_V1_MAX octets.  Version 2: the signature, ver/cmd, family,
 * a 16-bit length, then that many octets: the addresses and TLVs.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include <string.h>

#include "pop3d_limits.h"
#include "proxy.h"

const unsigned char proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static const char v1_sig[] = "PROXY ";
#define V1_SHORTEST	(sizeof("PROXY UNKNOWN\r\n") - 1)

static int
refuse(const char **why, const char *text)
{
	*why = text;
	return -1;
}

/* A port: 0 to 65535 in decimal, no sign, no leading zero. */
static int
v1_port(const char *s, size_t n, unsigned *port)
{
	size_t		i;
	unsigned long	v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* An address of the line's family (af), canonical into a. */
static int
v1_addr(const char *s, size_t n, int af, struct addr *a)
{
	unsigned char	bin[16];
	char		text[ADDR_TEXT_MAX];

	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	if (inet_pton(af, text, bin) != 1)
		return -1;
	return addr_parse(text, a);
}

/*
 * The fields after "PROXY TCP4 " or "PROXY TCP6 " up to the CR: exactly
 * four, each separated by one space.
 */
static int
v1_fields(const char *s, size_t n, int af, struct proxy_hdr *h,
    const char **why)
{
	const char	*f[4];
	size_t		 len[4], i, at = 0, w;

	for (i = 0; i < 4; i++) {
		f[i] = s + at;
		w = 0;
		while (at + w < n && s[at + w] != ' ')
			w++;
		len[i] = w;
		at += w;
		if (i < 3 && (at >= n || s[at] != ' '))
			return refuse(why, "v1: too few fields");
		at += i < 3;
	}
	if (at != n)
		return refuse(why, "v1: too many fields");
	if (v1_addr(f[0], len[0], af, &h->src) == -1)
		return refuse(why, "v1: bad source address");
	if (v1_addr(f[1], len[1], af, &h->dst) == -1)
		return refuse(why, "v1: bad destination address");
	if (v1_port(f[2], len[2], &h->sport) == -1)
		return refuse(why, "v1: bad source port");
	if (v1_port(f[3], len[3], &h->dport) == -1)
		return refuse(why, "v1: bad destination port");
	return 0;
}

/* The whole line, CRLF at n - 2. */
static int
v1_line(const char *s, size_t n, struct proxy_hdr *h, const char **why)
{
	const char	*p = s + sizeof(v1_sig) - 1;
	size_t		 rest = n - 2 - (sizeof(v1_sig) - 1);
	int		 af;

	h->version = 1;
	if (memchr(s, '\0', n) != NULL)
		return refuse(why, "v1: NUL in the line");
	if (rest >= 7 && memcmp(p, "UNKNOWN", 7) == 0 &&
	    (rest == 7 || p[7] == ' ')) {
		/* The specification: whatever follows UNKNOWN is ignored. */
		h->kind = PROXY_UNKNOWN;
		return (int)n;
	}
	if (rest < 5 || p[4] != ' ' || (memcmp(p, "TCP4", 4) != 0 &&
	    memcmp(p, "TCP6", 4) != 0))
		return refuse(why, "v1: protocol not TCP4, TCP6 or UNKNOWN");
	af = p[3] == '4' ? AF_INET : AF_INET6;
	h->kind = PROXY_TCP;
	if (v1_fields(p + 5, rest - 5, af, h, why) == -1)
		return -1;
	return (int)n;
}

static int
v1_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
    size_t *more, const char **why)
{
	const char	*s = (const char *)buf;
	size_t		 i, sig = sizeof(v1_sig) - 1;

	if (memcmp(s, v1_sig, len < sig ? len : sig) != 0)
		return refuse(why, "not a PROXY header");
	for (i = 0; i < len && i < PROXY_V1_MAX; i++) {
		if (s[i] != '\n')
			continue;
		if (i < sig + 1 || s[i - 1] != '\r')
			return refuse(why, "v1: line not ended by CRLF");
		return v1_line(s, i + 1, h, why);
	}
	if (i >= PROXY_V1_MAX)
		return refuse(why, "v1: line over 107 octets");
	/*
	 * Only a line feed ends it, and the shortest line is "PROXY
	 * UNKNOWN\r\n": up to there any octet is the header's, past it one
	 * at a time.
	 */
	*more = len < V1_SHORTEST ? V1_SHORTEST - len : 1;
	return 0;
}

/* The TLVs after the addresses: each whole, none past the body. */
static int
v2_tlvs(const unsigned char *p, size_t n, struct proxy_hdr *h,
    const char **why)
{
	size_t	at = 0, vlen;

	while (at < n) {
		if (n - at < 3)
			return refuse(why, "v2: cut TLV");
		vlen = (size_t)p[at + 1] << 8 | p[at + 2];
		if (vlen > n - at - 3)
			return refuse(why, "v2: TLV past the header");
		at += 3 + vlen;
		h->tlvs++;
	}
	return 0;
}

static void
v2_addr(struct addr *a, const unsigned char *p, int family)
{
	char	text[ADDR_TEXT_MAX];

	/* Through the text, so that a mapped address becomes IPv4 here too. */
	inet_ntop(family == 4 ? AF_INET : AF_INET6, p, text, sizeof(text));
	(void)addr_parse(text, a);
}

/* The body (n octets) of a PROXY command of family fam. */
static int
v2_body(const unsigned char *p, size_t n, int fam, struct proxy_hdr *h,
    const char **why)
{
	size_t	alen;

	switch (fam) {
	case 0x00:			/* UNSPEC: no addresses */
		h->kind = PROXY_UNKNOWN;
		return v2_tlvs(p, n, h, why);
	case 0x11:			/* TCP over IPv4 */
		alen = 12;
		break;
	case 0x21:			/* TCP over IPv6 */
		alen = 36;
		break;
	default:
		return refuse(why, "v2: family not TCP over IPv4 or IPv6");
	}
	if (n < alen)
		return refuse(why, "v2: addresses cut short");
	h->kind = PROXY_TCP;
	v2_addr(&h->src, p, fam == 0x11 ? 4 : 6);
	v2_addr(&h->dst, p + alen / 2 - 2, fam == 0x11 ? 4 : 6);
	h->sport = (unsigned)p[alen - 4] << 8 | p[alen - 3];
	h->dport = (unsigned)p[alen - 2] << 8 | p[alen - 1];
	return v2_tlvs(p + alen, n - alen, h, why);
}

static int
v2_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
    size_t *more, const char **why)
{
	size_t	body;

	if (memcmp(buf, proxy_v2_sig, len < 12 ? len : 12) != 0)
		return refuse(why, "not a PROXY header");
	if (len >= 13 && (buf[12] >> 4) != 2)
		return refuse(why, "v2: version not 2");
	if (len >= 13 && (buf[12] & 0x0f) > 1)
		return refuse(why, "v2: command not LOCAL or PROXY");
	if (len < PROXY_V2_HEAD) {
		*more = PROXY_V2_HEAD - len;
		return 0;
	}
	body = (size_t)buf[14] << 8 | buf[15];
	if (body > PROXY_V2_BODY_MAX)
		return refuse(why, "v2: length over the maximum");
	if (len < PROXY_V2_HEAD + body) {
		*more = PROXY_V2_HEAD + body - len;
		return 0;
	}
	h->version = 2;
	if ((buf[12] & 0x0f) == 0) {
		/* LOCAL: the specification says the block is ignored. */
		h->kind = PROXY_LOCAL;
		return (int)(PROXY_V2_HEAD + body);
	}
	if (v2_body(buf + PROXY_V2_HEAD, body, buf[13], h, why) == -1)
		return -1;
	return (int)(PROXY_V2_HEAD + body);
}

int
proxy_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
    size_t *more, const char **why)
{
	memset(h, 0, sizeof(*h));
	*more = 0;
	*why = NULL;
	if (len == 0) {
		/* Both versions are told apart by their first octet. */
		*more = 1;
		return 0;
	}
	if (buf[0] == 'P')
		return v1_parse(buf, len, h, more, why);
	if (buf[0] == proxy_v2_sig[0])
		return v2_parse(buf, len, h, more, why);
	return refuse(why, "not a PROXY header");
}

/*
 * The PROXY protocol header's parser (policy/proxy.c): every field of both
 * versions, every limit crossed, and the promise that a reader taking
 * *more octets at a time never reads past the header.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pop3d_limits.h"
#include "proxy.h"

static struct proxy_hdr	h;
static const char	*why;

/* proxy_parse over a text header (v1). */
static int
v1(const char *s)
{
	size_t	more;

	return proxy_parse((const unsigned char *)s, strlen(s), &h, &more,
	    &why);
}

static const char *
src(void)
{
	static char	t[ADDR_TEXT_MAX];

	addr_format(&h.src, t, sizeof(t));
	return t;
}

static const char *
dst(void)
{
	static char	t[ADDR_TEXT_MAX];

	addr_format(&h.dst, t, sizeof(t));
	return t;
}

/*
 * Feeds buf (n octets, then trailing octets the client sent) as a reader
 * would, *more octets at a time: the header's length, or -1.  It fails
 * the test when a read would pass the header's end.
 */
static int
feed(const unsigned char *buf, size_t n, size_t hlen)
{
	size_t	have = 0, more;
	int	r;

	for (;;) {
		r = proxy_parse(buf, have, &h, &more, &why);
		if (r != 0)
			return r;
		if (more == 0 || (hlen != 0 && have + more > hlen) ||
		    have + more > n)
			return -2;
		have += more;
	}
}

static void
test_v1(void)
{
	CHECK(v1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\r\n") == 45);
	CHECK(h.version == 1 && h.kind == PROXY_TCP);
	CHECK_STR(src(), "192.0.2.1");
	CHECK_STR(dst(), "198.51.100.2");
	CHECK(h.sport == 56324 && h.dport == 110);
	CHECK(v1("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n") > 0);
	CHECK_STR(src(), "2001:db8::1");
	CHECK(h.sport == 0 && h.dport == 65535);
	/* A mapped address is the IPv4 client, as everywhere. */
	CHECK(v1("PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n") > 0);
	CHECK(h.src.family == 4);
	CHECK_STR(src(), "192.0.2.7");
	CHECK(v1("PROXY UNKNOWN\r\n") == 15 && h.kind == PROXY_UNKNOWN);
	CHECK(v1("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n") > 0 &&
	    h.kind == PROXY_UNKNOWN);
	/* Octets after the header are the client's, not looked at. */
	CHECK(v1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nUSER x\r\n") == 32);
}

static void
test_v1_refused(void)
{
	static const char *bad[] = {
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\n",  /* no CR */
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 110 1\r\n",
		"PROXY TCP4 192.0.2.1  198.51.100.2 56324 110\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 110 \r\n",
		"PROXY  TCP4 192.0.2.1 198.51.100.2 56324 110\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",	/* family */
		"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
		"PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.x 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 \r\n",
		"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
		"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
		"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY TCP4\r\n",
		"PROXY \r\n",
		"PROXY\r\n",
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"USER alice\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK(v1(bad[i]) == -1 && why != NULL))
			printf("# accepted: %s", bad[i]);
	CHECK(proxy_parse((const unsigned char *)"PROXY UNKNOWN \0\r\n", 17,
	    &h, &(size_t){0}, &why) == -1);
}

/* The 107-octet line is the longest; 108 is refused before its end. */
static void
test_v1_limit(void)
{
	char	line[256];
	size_t	more;
	int	r;

	memset(line, 0, sizeof(line));
	strcpy(line, "PROXY UNKNOWN ");
	memset(line + 14, 'x', PROXY_V1_MAX - 16);
	strcat(line, "\r\n");
	CHECK(strlen(line) == PROXY_V1_MAX);
	CHECK(v1(line) == PROXY_V1_MAX);
	line[PROXY_V1_MAX - 2] = 'x';
	strcpy(line + PROXY_V1_MAX - 1, "\r\n");
	CHECK(v1(line) == -1);
	CHECK(strstr(why, "107") != NULL);
	/* Without its end, it is refused at 107 octets, not read on. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY ", 6);
	CHECK(proxy_parse((unsigned char *)line, PROXY_V1_MAX - 1, &h, &more,
	    &why) == 0 && more == 1);
	r = proxy_parse((unsigned char *)line, PROXY_V1_MAX, &h, &more, &why);
	CHECK(r == -1);
}

/* Reading by *more never passes the header's end, for either version. */
static void
test_more(void)
{
	const char	*s = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nUSER x\r\n";
	const char	*u = "PROXY UNKNOWN\r\nCAPA\r\n";
	size_t		 more;

	CHECK(feed((const unsigned char *)s, strlen(s), 32) == 32);
	CHECK(feed((const unsigned char *)u, strlen(u), 15) == 15);
	CHECK(proxy_parse((const unsigned char *)"", 0, &h, &more, &why) ==
	    0 && more == 1);
	CHECK(proxy_parse((const unsigned char *)"P", 1, &h, &more, &why) ==
	    0 && more == 14);
	CHECK(proxy_parse((const unsigned char *)"X", 1, &h, &more, &why) ==
	    -1);
	CHECK(proxy_parse((const unsigned char *)"PROXX", 5, &h, &more,
	    &why) == -1);
}

/* A v2 header: head, then body of n octets (family fam, cmd). */
static size_t
v2(unsigned char *b, int ver_cmd, int fam, size_t n)
{
	memcpy(b, proxy_v2_sig, 12);
	b[12] = (unsigned char)ver_cmd;
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)(n >> 8);
	b[15] = (unsigned char)n;
	return PROXY_V2_HEAD + n;
}

static void
test_v2(void)
{
	unsigned char	b[PROXY_V2_HEAD + PROXY_V2_BODY_MAX + 64];
	unsigned char	a4[12] = { 192, 0, 2, 1, 198, 51, 100, 2,
			    0xdc, 0x04, 0x00, 0x6e };
	size_t		n, more;

	memset(b, 0, sizeof(b));
	n = v2(b, 0x21, 0x11, 12);
	memcpy(b + 16, a4, 12);
	memcpy(b + n, "USER x\r\n", 8);
	CHECK(feed(b, n + 8, n) == (int)n);
	CHECK(h.version == 2 && h.kind == PROXY_TCP && h.tlvs == 0);
	CHECK_STR(src(), "192.0.2.1");
	CHECK_STR(dst(), "198.51.100.2");
	CHECK(h.sport == 56324 && h.dport == 110);
	/* TLVs are skipped: an SNI, a NOOP of zero length. */
	n = v2(b, 0x21, 0x11, 12 + 3 + 4 + 3);
	memcpy(b + 16, a4, 12);
	memcpy(b + 28, "\x02\x00\x04mail\x04\x00\x00", 10);
	CHECK(proxy_parse(b, n, &h, &more, &why) == (int)n && h.tlvs == 2);
	/* A TLV cut, or longer than what is left, is refused. */
	n = v2(b, 0x21, 0x11, 12 + 2);
	CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	n = v2(b, 0x21, 0x11, 12 + 3 + 4);
	memcpy(b + 28, "\x02\x00\x05mail", 7);
	CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	/* IPv6, and a mapped address as IPv4. */
	n = v2(b, 0x21, 0x21, 36);
	memset(b + 16, 0, 36);
	b[16] = 0x20; b[17] = 0x01; b[18] = 0x0d; b[19] = 0xb8; b[31] = 9;
	b[47] = 1;
	b[48] = 0; b[49] = 7; b[50] = 0x03; b[51] = 0xe3;
	CHECK(proxy_parse(b, n, &h, &more, &why) == (int)n);
	CHECK_STR(src(), "2001:db8::9");
	CHECK_STR(dst(), "::1");
	CHECK(h.sport == 7 && h.dport == 995);
	memset(b + 16, 0, 16);
	b[26] = 0xff; b[27] = 0xff; b[28] = 10; b[31] = 3;
	CHECK(proxy_parse(b, n, &h, &more, &why) == (int)n);
	CHECK_STR(src(), "10.0.0.3");
}

static void
test_v2_local(void)
{
	unsigned char	b[PROXY_V2_HEAD + 64];
	size_t		n, more;

	memset(b, 0, sizeof(b));
	n = v2(b, 0x20, 0x00, 0);
	CHECK(proxy_parse(b, n, &h, &more, &why) == 16);
	CHECK(h.kind == PROXY_LOCAL);
	/* LOCAL: the block, whatever its family, is skipped. */
	n = v2(b, 0x20, 0x11, 12);
	CHECK(proxy_parse(b, n, &h, &more, &why) == 28 &&
	    h.kind == PROXY_LOCAL);
	/* PROXY with UNSPEC: no address, as v1's UNKNOWN. */
	n = v2(b, 0x21, 0x00, 0);
	CHECK(proxy_parse(b, n, &h, &more, &why) == 16 &&
	    h.kind == PROXY_UNKNOWN);
}

static void
test_v2_refused(void)
{
	unsigned char	b[PROXY_V2_HEAD + PROXY_V2_BODY_MAX + 64];
	size_t		n, more;
	int		fam[] = { 0x12, 0x22, 0x31, 0x32, 0x01, 0x10, 0x41 };
	size_t		i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		n = v2(b, 0x21, fam[i], 216);
		CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	}
	n = v2(b, 0x11, 0x11, 12);		/* version 1 */
	CHECK(proxy_parse(b, 13, &h, &more, &why) == -1);
	n = v2(b, 0x31, 0x11, 12);
	CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	n = v2(b, 0x22, 0x11, 12);		/* command 2 */
	CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	n = v2(b, 0x21, 0x11, 11);		/* addresses cut */
	CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	n = v2(b, 0x21, 0x21, 35);
	CHECK(proxy_parse(b, n, &h, &more, &why) == -1);
	b[5] = 'x';				/* signature */
	CHECK(proxy_parse(b, 6, &h, &more, &why) == -1);
}

/* The body's maximum: PROXY_V2_BODY_MAX read, one more refused unread. */
static void
test_v2_limit(void)
{
	unsigned char	b[PROXY_V2_HEAD + PROXY_V2_BODY_MAX + 64];
	size_t		n, more, i;

	memset(b, 0, sizeof(b));
	n = v2(b, 0x21, 0x11, PROXY_V2_BODY_MAX);
	/* The addresses, then NOOP TLVs filling the rest. */
	for (i = 28; i + 3 <= n; i += 3 + b[i + 2]) {
		b[i] = 0x04;
		b[i + 2] = (unsigned char)(n - i - 3 > 200 ? 200 : n - i - 3);
	}
	CHECK(i == n);
	CHECK(feed(b, n, n) == (int)n);
	CHECK(proxy_parse(b, 16, &h, &more, &why) == 0 &&
	    more == PROXY_V2_BODY_MAX);
	v2(b, 0x21, 0x11, PROXY_V2_BODY_MAX + 1);
	CHECK(proxy_parse(b, 16, &h, &more, &why) == -1);
	CHECK(strstr(why, "maximum") != NULL);
	v2(b, 0x21, 0x11, 65535);
	CHECK(proxy_parse(b, 16, &h, &more, &why) == -1);
	/* A head read in parts asks for the rest of the 16 octets only. */
	CHECK(proxy_parse(b, 1, &h, &more, &why) == 0 && more == 15);
	CHECK(proxy_parse(b, 12, &h, &more, &why) == 0 && more == 4);
}

int
main(void)
{
	test_v1();
	test_v1_refused();
	test_v1_limit();
	test_more();
	test_v2();
	test_v2_local();
	test_v2_refused();
	test_v2_limit();
	return check_done();
}

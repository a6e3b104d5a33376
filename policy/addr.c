#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

/* ::ffff:0:0/96, the IPv4-mapped IPv6 addresses (RFC 4291 2.5.5.2). */
static const unsigned char mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

int
addr_parse(const char *text, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (text == NULL)
		return -1;
	if (inet_pton(AF_INET, text, a->octet) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, a->octet) != 1) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	a->family = 6;
	if (memcmp(a->octet, mapped, sizeof(mapped)) == 0) {
		/* One client, one name: the IPv4 address it carries. */
		memmove(a->octet, a->octet + 12, 4);
		memset(a->octet + 4, 0, 12);
		a->family = 4;
	}
	return 0;
}

void
addr_format(const struct addr *a, char *buf, size_t n)
{
	if (n == 0)
		return;
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->octet, buf,
	    n) == NULL)
		snprintf(buf, n, "?");
}

int
addr_bits(const struct addr *a)
{
	return a->family == 4 ? 32 : 128;
}

void
addr_mask(struct addr *a, int len)
{
	int	bits = addr_bits(a), i;

	if (len < 0)
		len = 0;
	for (i = len / 8; i < bits / 8; i++) {
		if (i == len / 8 && len % 8 != 0)
			a->octet[i] &= (unsigned char)(0xff << (8 - len % 8));
		else
			a->octet[i] = 0;
	}
	/* The octets past the family's stay clear, so keys compare whole. */
	if (a->family == 4)
		memset(a->octet + 4, 0, 12);
}

void
addr_state_key(const struct addr *a, int prefix6, char *buf, size_t n)
{
	struct addr	m = *a;

	if (m.family == 6)
		addr_mask(&m, prefix6);
	addr_format(&m, buf, n);
}

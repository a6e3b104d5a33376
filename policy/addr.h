/*
 * IP addresses as the policy code sees them: IPv4 in 4 octets, IPv6 in 16,
 * an IPv4-mapped IPv6 address (::ffff:a.b.c.d) always as the IPv4 address
 * it carries, so that one rule and one penalty record cover a client
 * whichever socket family the spawner listened on.
 */
#ifndef POP3D_ADDR_H
#define POP3D_ADDR_H

#include <stddef.h>

struct addr {
	int		family;		/* 4 or 6 */
	unsigned char	octet[16];	/* network order; IPv4 in 0-3 */
};

/* Long enough for any address addr_format writes, with its NUL. */
#define ADDR_TEXT_MAX	46

/*
 * Parses a numeric address as inet_pton does (no prefix, no brackets, no
 * zone): 0, or -1 if text is not one.  Mapped IPv6 becomes IPv4.
 */
int	addr_parse(const char *, struct addr *);

/*
 * The canonical text (inet_ntop's form): dotted quad, or RFC 5952 IPv6.
 * It names the address in log lines and penalty box files.
 */
void	addr_format(const struct addr *, char *, size_t);

/* Bits in the family's addresses: 32 or 128. */
int	addr_bits(const struct addr *);

/* Clears every bit past the first len. */
void	addr_mask(struct addr *, int);

/*
 * The text that names a client in the penalty box and the connection
 * slots: an IPv4 address itself; for IPv6 its first prefix6 bits, masked
 * (a client usually holds a whole /64, and could otherwise take a fresh
 * address for every connection).  Canonical text, as addr_format.
 */
void	addr_state_key(const struct addr *, int, char *, size_t);

#endif

/*
 * libFuzzer target for the PROXY protocol header's parser
 * (policy/proxy.c): whatever the octets, a header it takes is no longer
 * than the buffer and than its version's maximum, has a kind and (for a
 * relayed connection) addresses of a family; fed the way the front reads
 * (*more octets at a time), it reaches the same answer and never asks to
 * read past the header's end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d_limits.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_hdr(const struct proxy_hdr *h, int r, size_t len)
{
	if ((size_t)r > len || (h->version != 1 && h->version != 2))
		abort();
	if (h->version == 1 && r > PROXY_V1_MAX)
		abort();
	if (h->version == 2 && r > PROXY_V2_HEAD + PROXY_V2_BODY_MAX)
		abort();
	if (h->kind != PROXY_TCP && h->kind != PROXY_LOCAL &&
	    h->kind != PROXY_UNKNOWN)
		abort();
	if (h->kind == PROXY_TCP && ((h->src.family != 4 &&
	    h->src.family != 6) || (h->dst.family != 4 && h->dst.family != 6) ||
	    h->sport > 65535 || h->dport > 65535))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	 h, g;
	const char		*why;
	size_t			 more, have = 0;
	int			 r, s;

	r = proxy_parse(data, size, &h, &more, &why);
	if (r > 0)
		check_hdr(&h, r, size);
	else if (r == 0 && (more == 0 || size > PROXY_V2_HEAD +
	    PROXY_V2_BODY_MAX))
		abort();
	else if (r == -1 && why == NULL)
		abort();
	/* As the front reads: the same answer, never past the header. */
	for (;;) {
		s = proxy_parse(data, have, &g, &more, &why);
		if (s != 0 || have + more > size)
			break;
		have += more;
	}
	if (s > 0 && (r != s || (size_t)s != have ||
	    memcmp(&g, &h, sizeof(g)) != 0))
		abort();
	if (r > 0 && s <= 0)
		abort();
	return 0;
}

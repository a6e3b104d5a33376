/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2) that a trusted balancer sends before the client's first octet: who
 * the client is.  Pure code over a buffer, strict: anything the
 * specification does not allow is refused, never guessed at, since the
 * answer becomes the address the penalty box and the rules judge.
 */
#ifndef POP3D_PROXY_H
#define POP3D_PROXY_H

#include <stddef.h>

#include "addr.h"

enum proxy_kind {
	PROXY_TCP = 1,	/* a relayed TCP connection: src and dst are set */
	PROXY_LOCAL,	/* v2 LOCAL: the balancer's own (a health check) */
	PROXY_UNKNOWN	/* v1 UNKNOWN, v2 PROXY with family UNSPEC */
};

struct proxy_hdr {
	int		 version;	/* 1 or 2 */
	enum proxy_kind	 kind;
	struct addr	 src, dst;	/* canonical (addr.h): mapped as IPv4 */
	unsigned	 sport, dport;
	size_t		 tlvs;		/* v2: TLVs skipped */
};

/*
 * Parses the header at the start of buf (len octets; octets after the
 * header are not looked at).  The length of the header when buf holds all
 * of it, with h filled; 0 when it needs more, with *more the octets that
 * may yet be read without reading past the header's end (at least 1), so
 * that a reader taking exactly that many never swallows the client's
 * first octets; -1 when buf cannot be the start of a good header, with
 * *why saying why (a constant string).
 */
int	proxy_parse(const unsigned char *, size_t, struct proxy_hdr *,
	    size_t *, const char **);

/* The 12-octet signature that begins every version 2 header. */
extern const unsigned char proxy_v2_sig[12];

#endif

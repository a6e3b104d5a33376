/*
 * The mbox parser: the octets of an mbox file, fed in pieces of any size,
 * to its messages (where each starts, what is served of it, its wire size
 * and its UIDL), with memory bounded whatever the bytes.  It reads no
 * file itself, so that the maildrop, its cache's growth check and the
 * fuzz target all drive the same code.
 *
 * The format (pop3d-maildrop.8, MBOX FORMAT): a message starts at a line
 * beginning "From " at the start of the input or after an empty line;
 * what is served is the octets after its From_ line up to, not including,
 * the empty line that precedes the next From_ line (the last message: to
 * the end, less one trailing empty line).  ">From " is served as stored;
 * Content-Length is ignored.
 */
#ifndef POP3D_MBOX_PARSE_H
#define POP3D_MBOX_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "pop3d_limits.h"
#include "wire.h"

/* One message as the parser found it. */
struct mbox_found {
	uint64_t	from_off;	/* its From_ line */
	uint64_t	off;		/* the first octet served */
	uint64_t	len;		/* octets served (raw, LF line ends) */
	uint64_t	wire;		/* its wire size (wire.h), unstuffed */
	uint64_t	from_digest;	/* 64 bits of the From_ line's digest */
	char		uidl[UIDL_MAX + 1];	/* NUL-terminated */
	uint8_t		uidl_len;
	uint8_t		uidl_header;	/* from an X-UIDL header */
	uint8_t		internal;	/* the folder-internal pseudo message */
};

/*
 * Called once per message, in file order; a nonzero return stops the
 * parse and is returned by mbox_feed/mbox_end.
 */
typedef int (*mbox_found_fn)(void *, const struct mbox_found *);

enum mbox_error {
	MBOX_OK = 0,
	MBOX_NOT_MBOX = -1	/* the input does not begin with "From " */
};

struct mbox_parser;	/* mbox_parse.c; fixed size, no allocation */

/*
 * Starts a parse at offset off of the file (0, or a message boundary the
 * cache recorded: the input then begins with that message's From_ line).
 */
void	mbox_parse_init(struct mbox_parser *, uint64_t, mbox_found_fn,
	    void *);
/* The next n octets: MBOX_OK, MBOX_NOT_MBOX, or the callback's value. */
int	mbox_feed(struct mbox_parser *, const char *, size_t);
/* End of input: the last message, if any, is reported. */
int	mbox_end(struct mbox_parser *);

#endif

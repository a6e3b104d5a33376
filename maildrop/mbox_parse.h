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
 * Content-Length is ignored.  An empty line is "\n", or "\r\n" (a
 * CRLF-stored mbox; its separator is then two octets).
 *
 * The UIDL: the first valid X-UIDL field of the header block (the lines
 * before the message's first empty line), its name in any case, its value
 * unfolded and trimmed of blanks, 1 to UIDL_MAX octets 0x21-0x7E; else
 * popa3d's UIDL (16 lower-case hex digits of an MD5 of a few header
 * fields: mbox_parse.c, popa3d_keeps), so that sites leaving popa3d keep
 * their UIDLs; else, when the message has none of those fields, the
 * digest form (as maildir_uidl_digest: 32 lower-case hex digits of
 * SHA-256) of the From_ line and the header fields other than those mail
 * readers rewrite (mbox_parse.c, digest_keeps).  from_digest: a fast
 * 64-bit hash (mbox_digest.c) of the From_ line with its LF and the
 * header block as stored (the served octets before the first empty
 * line), at most its first MBOX_DIGEST_SERVED octets, so that a message
 * is told from another with the same From_ line (a mail reader's
 * rewrite may put one where it stood).  internal: only a
 * message at offset 0 with an X-IMAP field and "FOLDER INTERNAL DATA" in
 * its Subject.
 */
#ifndef POP3D_MBOX_PARSE_H
#define POP3D_MBOX_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/md5.h>
#include <nettle/sha2.h>

#include "pop3d_limits.h"
#include "wire.h"

/*
 * What the parser makes of a file: raised whenever a change makes it
 * find other boundaries, sizes or UIDLs (the digest rule), so that the
 * index (mbox_cache.h) written by an older parser is not used.
 */
#define MBOX_PARSE_VERSION	5	/* 2: popa3d's UIDLs; 3: FNV-1a from_digest;
					   4: from_digest takes the header;
					   5: from_digest in four lanes */

/* What from_digest takes of the header block at most (above). */
#define MBOX_DIGEST_SERVED	4096

/* from_digest's state (mbox_digest.c). */
#define MBOX_DIGEST_LANES	4
struct mbox_digest {
	uint64_t	h[MBOX_DIGEST_LANES];	/* word i goes to lane i % 4 */
	uint64_t	n;		/* octets so far */
	unsigned char	part[8 * MBOX_DIGEST_LANES];	/* a block cut short */
};

void	 mbox_digest_init(struct mbox_digest *);
void	 mbox_digest_update(struct mbox_digest *, const char *, size_t);
uint64_t mbox_digest_final(struct mbox_digest *);

/* One message as the parser found it. */
struct mbox_found {
	uint64_t	from_off;	/* its From_ line */
	uint64_t	off;		/* the first octet served */
	uint64_t	len;		/* octets served (raw, LF line ends) */
	uint64_t	wire;		/* its wire size (wire.h), unstuffed */
	uint64_t	from_digest;	/* From_ line and header (above) */
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

/*
 * What the parser looks at of a line, bounded whatever the line's length:
 * the first MBOX_LOOK octets of every line ("From ", or an empty line),
 * a header field's name up to MBOX_NAME_MAX octets (the longest one it
 * acts on, "Content-Length", has 14), the first MBOX_SUBJECT_MAX octets
 * of the first message's Subject (the folder-internal pseudo message's
 * is 49).
 */
#define MBOX_LOOK		5
#define MBOX_NAME_MAX		16
#define MBOX_FROM_HELD		256	/* a From_ line held back (uidl_sha) */
#define FROM_HELD_OVER		0xffff	/* ... too long: hashed as it came */
#define MBOX_SUBJECT_MAX	128

/* The parse's state: fixed size, no allocation; the fields are its own. */
struct mbox_parser {
	mbox_found_fn	 fn;
	void		*arg;
	const char	*buf;		/* the piece being fed */
	const char	*sp;		/* its served octets not yet counted */
	uint64_t	 pos;		/* file offset of buf */
	uint64_t	 bol_off;	/* file offset of look[0] */
	int		 result;	/* sticky: an error or the callback's */
	uint8_t		 state;		/* at a line's start, in a line of a kind */
	uint8_t		 hstate;	/* in a header line: start, name, value */
	uint8_t		 open;		/* a message is being read */
	uint8_t		 prev_empty;	/* at the input's start, after an empty line */
	uint8_t		 in_body;	/* the header block is over */
	uint8_t		 pending;	/* octets of an empty line held back */
	uint8_t		 looklen;
	uint8_t		 namelen;
	uint8_t		 hashed;	/* the header field goes into the digest */
	uint8_t		 md5ed;		/* ... into popa3d's MD5 */
	uint8_t		 md5_any;	/* popa3d's MD5 took a field */
	uint8_t		 received;	/* a Received field was seen */
	uint8_t		 field;		/* the field's value is looked at */
	uint8_t		 vstate;	/* X-UIDL's value: empty, in, after, bad */
	uint8_t		 vlen;
	uint8_t		 subjlen;
	uint8_t		 ximap;		/* the first message has X-IMAP: */
	char		 look[MBOX_LOOK];
	char		 name[MBOX_NAME_MAX];
	char		 value[UIDL_MAX];
	char		 subject[MBOX_SUBJECT_MAX];
	struct wire	 wire;		/* counting the served octets */
	struct mbox_digest dg;		/* from_digest so far */
	uint16_t	 dg_left;	/* header octets it still takes */
	const char	*dg_run;	/* ... held back, in the piece */
	size_t		 dg_runlen;
	struct sha256_ctx uidl_sha;	/* the digest UIDL's input */
	/*
	 * The From_ line, held back from uidl_sha until a header field
	 * that popa3d's MD5 does not take shows the digest may be needed
	 * (uidl_sha_flush): most messages' first field is Received.
	 */
	uint16_t	 fromlen;	/* octets in fromline, or FROM_HELD_OVER */
	char		 fromline[MBOX_FROM_HELD];
	struct md5_ctx	 uidl_md5;	/* popa3d's UIDL's input */
	struct mbox_found found;	/* the message being read */
};

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

/*
 * mbox_digest.c: whether the octets from_digest takes of f (from_off,
 * off, len, from_digest) are still in the open file fd where the parse
 * found them: 1 yes, 0 no (other octets, or the file ends before), -1
 * with errno from pread.  Only [from_off, off + min(len, 4 KiB + 1)) is
 * read: the caller checks that from_off is still a boundary (0, or after
 * an empty line), and the end (mbox_end_at), if it must.
 */
int	mbox_from_at(int, const struct mbox_found *);
/*
 * Whether f still ends at off + len in fd: the file ends there, or an
 * empty line follows that ends the file or is followed by "From ".  1,
 * 0, or -1 with errno from pread.
 */
int	mbox_end_at(int, const struct mbox_found *);

#endif

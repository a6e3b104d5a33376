/*
 * What a message's header says (mbox_fields.h): which fields the UIDL
 * rules take (popa3d's MD5, the digest form), an X-UIDL value, and the
 * Subject and X-IMAP fields that mark the folder's internal message.
 * The parser (mbox_parse.c) finds the lines and the names; each name is
 * settled here once, and a line's octets are hashed into the UIDL inputs
 * that take them.
 */
#include <string.h>
#include <strings.h>

#include <nettle/base16.h>

#include "le64.h"
#include "mbox_fields.h"

enum { V_EMPTY, V_IN, V_AFTER, V_BAD };		/* p->vstate */

#define INTERNAL_SUBJECT	"FOLDER INTERNAL DATA"

/*
 * The digest UIDL's input (the UIDL of a message popa3d_keeps takes no
 * field of): the From_ line (always) and every header field but those
 * mail readers rewrite when they mark a message read or keep their own
 * state in it, and X-UIDL itself (its value, when valid, is the UIDL; an
 * invalid one a reader may fix).  Folded lines go with their field.
 */
static int
digest_keeps(const char *name, size_t len)
{
	static const struct { const char *s; size_t n; } skip[] = {
		{ "Status", 6 }, { "X-Status", 8 }, { "X-Keywords", 10 },
		{ "X-UID", 5 }, { "X-IMAP", 6 }, { "X-IMAPbase", 10 },
		{ "Content-Length", 14 }, { "Lines", 5 }, { "X-UIDL", 6 },
	};
	size_t	i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (len == skip[i].n && strncasecmp(name, skip[i].s, len) == 0)
			return 0;
	return 1;
}

/* Every header line asks this several times: the first letter sorts most. */
static int
name_is(const char *name, size_t n, const char *s)
{
	return n > 0 && (name[0] | 0x20) == (s[0] | 0x20) && n == strlen(s) &&
	    strncasecmp(name, s, n) == 0;
}

/*
 * popa3d's UIDL, the rule for a message without a valid X-UIDL, so that
 * sites leaving popa3d keep their UIDLs (found by running popa3d 1.0.3):
 * MD5 over the first Received field, the Date and Message-ID fields
 * before it (after it they are not taken), and every Delivered-To and
 * X-Delivery-ID; each field with its folded lines, line ends as stored.
 * The name as stored must be followed by the colon ("Received :" is not
 * taken); any case.  A message with none of them would get popa3d's MD5
 * of nothing, the same for all, so it keeps the digest (digest_keeps).
 * Where we differ from popa3d, on purpose: the header block also ends at
 * "\r\n" (popa3d reads the body of a CRLF-stored mbox as header), as for
 * X-UIDL and the digest; and popa3d's UIDLs may repeat, ours are made
 * unique by the store, not here.
 */
static int
popa3d_keeps(struct mbox_parser *p, const char *name, size_t len)
{
	if (name_is(name, len, "Received"))
		return p->received ? 0 : (p->received = 1);
	if (name_is(name, len, "Date") || name_is(name, len, "Message-ID"))
		return !p->received;
	return name_is(name, len, "Delivered-To") ||
	    name_is(name, len, "X-Delivery-ID");
}

/* The From_ line held back goes into the digest UIDL's input. */
static void
uidl_sha_flush(struct mbox_parser *p)
{
	if (p->fromlen != FROM_HELD_OVER && p->fromlen > 0)
		sha256_update(&p->uidl_sha, p->fromlen,
		    (const uint8_t *)p->fromline);
	p->fromlen = FROM_HELD_OVER;
}

/*
 * Octets of the header field being read, to the UIDL inputs taking it.
 * Once popa3d's MD5 has a field the digest form is not the UIDL, and is
 * no longer fed (it costs most of a cold parse).
 */
void
mbox_head_hash(struct mbox_parser *p, size_t n, const char *s)
{
	if (p->hashed && !p->md5_any) {
		uidl_sha_flush(p);
		sha256_update(&p->uidl_sha, n, (const uint8_t *)s);
	}
	if (p->md5ed)
		md5_update(&p->uidl_md5, n, (const uint8_t *)s);
}

/*
 * Octets of the From_ line to the digest UIDL's input: held back while
 * they fit, since a message that popa3d's MD5 takes a field of (nearly
 * every one an MTA delivered) never needs the digest.
 */
void
mbox_from_uidl(struct mbox_parser *p, size_t n, const char *s)
{
	if (p->fromlen != FROM_HELD_OVER &&
	    n <= sizeof(p->fromline) - p->fromlen) {
		memcpy(p->fromline + p->fromlen, s, n);
		p->fromlen += n;
		return;
	}
	uidl_sha_flush(p);
	sha256_update(&p->uidl_sha, n, (const uint8_t *)s);
}

/* popa3d's print of its MD5: two little-endian words, "%08x%08x". */
static void
popa3d_uidl(struct mbox_parser *p, char *out)
{
	uint8_t	d[MD5_DIGEST_SIZE];

	static const char hex[] = "0123456789abcdef";
	uint64_t	w;
	int		i, k;

	md5_digest(&p->uidl_md5, sizeof(d), d);
	/* Each 32-bit half as %08x, written out: a cold parse's printf. */
	w = le64_get(d);
	for (k = 0; k < 2; k++)
		for (i = 0; i < 8; i++)
			out[8 * k + i] = hex[(w >> (32 * k + 28 - 4 * i)) &
			    0xf];
	out[16] = '\0';
}

void
mbox_fields_open(struct mbox_parser *p)
{
	p->field = F_NONE;
	p->hashed = 1;
	p->md5ed = 0;
	p->md5_any = 0;
	p->received = 0;
	p->ximap = 0;
	p->fromlen = 0;
	sha256_init(&p->uidl_sha);
	md5_init(&p->uidl_md5);
}

/* The end of a header field (and of its folded lines). */
void
mbox_field_end(struct mbox_parser *p)
{
	struct mbox_found *f = &p->found;

	if (p->field == F_XUIDL && (p->vstate == V_IN ||
	    p->vstate == V_AFTER)) {
		memcpy(f->uidl, p->value, p->vlen);
		f->uidl[p->vlen] = '\0';
		f->uidl_len = p->vlen;
		f->uidl_header = 1;
	}
	if (p->field == F_SUBJECT && f->from_off == 0 &&
	    memmem(p->subject, p->subjlen, INTERNAL_SUBJECT,
	    sizeof(INTERNAL_SUBJECT) - 1) != NULL)
		f->internal = 1;	/* made final with ximap at the end */
	p->field = F_NONE;
}

void
mbox_fields_close(struct mbox_parser *p)
{
	struct mbox_found *f = &p->found;
	uint8_t		 d[SHA256_DIGEST_SIZE];

	mbox_field_end(p);
	if (!f->uidl_header && p->md5_any) {
		popa3d_uidl(p, f->uidl);
		f->uidl_len = 16;
	} else if (!f->uidl_header) {
		/* As maildir_uidl_digest: half the digest, lower-case hex. */
		uidl_sha_flush(p);
		sha256_digest(&p->uidl_sha, 16, d);
		base16_encode_update(f->uidl, 16, d);
		f->uidl[32] = '\0';
		f->uidl_len = 32;
	}
	f->internal = f->internal && p->ximap;
}

/*
 * A header field's name is over (at its colon: whole; else cut short or
 * no name at all): which of its octets the parser must look at, and
 * whether the field goes into the digest.
 */
void
mbox_name_done(struct mbox_parser *p, const char *name, size_t len, int whole)
{
	const struct mbox_found *f = &p->found;
	size_t	n = len;

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	p->field = F_NONE;
	/* Once popa3d's MD5 has a field the digest form is not needed. */
	p->hashed = !p->md5_any && (!whole || digest_keeps(name, n));
	p->md5ed = whole && popa3d_keeps(p, name, len);
	p->md5_any |= p->md5ed;
	if (whole && name_is(name, n, "X-UIDL") && !f->uidl_header) {
		p->field = F_XUIDL;
		p->vstate = V_EMPTY;
		p->vlen = 0;
	} else if (whole && f->from_off == 0 && name_is(name, n,
	    "Subject")) {
		p->field = F_SUBJECT;
		p->subjlen = 0;
	} else if (whole && f->from_off == 0 && name_is(name, n, "X-IMAP"))
		p->ximap = 1;
}

/*
 * X-UIDL's value, unfolded and trimmed of blanks (a CR before the LF
 * counted as one): 1 to UIDL_MAX octets 0x21-0x7E, or no UIDL.
 */
static void
xuidl_rest(struct mbox_parser *p, const char *s, const char *e)
{
	unsigned char	c;

	for (; s < e && p->vstate != V_BAD; s++) {
		c = (unsigned char)*s;
		if (c == ' ' || c == '\t' || c == '\r') {
			if (p->vstate == V_IN)
				p->vstate = V_AFTER;
		} else if (c < 0x21 || c > 0x7e || p->vstate == V_AFTER ||
		    p->vlen == UIDL_MAX)
			p->vstate = V_BAD;
		else {
			p->value[p->vlen++] = (char)c;
			p->vstate = V_IN;
		}
	}
}

void
mbox_value_rest(struct mbox_parser *p, const char *s, const char *e)
{
	size_t	n;

	if (p->field == F_XUIDL)
		xuidl_rest(p, s, e);
	else if (p->field == F_SUBJECT) {
		n = MBOX_SUBJECT_MAX - p->subjlen;
		if (n > (size_t)(e - s))
			n = e - s;
		memcpy(p->subject + p->subjlen, s, n);
		p->subjlen += n;
	}
}

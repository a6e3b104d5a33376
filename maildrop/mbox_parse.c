/*
 * The mbox parser (mbox_parse.h).  Lines are found with memchr; a line is
 * looked at octet by octet only where it must be: the first MBOX_LOOK
 * octets of a line after an empty line, and the names (and a few values)
 * of header fields.  Body octets are counted by wire.c in the pieces they
 * arrive in, so a body costs two memchr passes and nothing per octet.
 *
 * An empty line ("\n", or "\r\n" in a CRLF-stored mbox) is held back
 * until the next line shows whether it is the separator before a From_
 * line (dropped) or content (then counted): that is all the look-ahead
 * the format needs, and it never crosses a message.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <nettle/base16.h>

#include "le64.h"
#include "mbox_parse.h"

enum { S_BOL, S_FROM, S_HEAD, S_BODY };		/* p->state */
enum { H_START, H_NAME, H_VALUE };		/* p->hstate */
enum { F_NONE, F_XUIDL, F_SUBJECT };		/* p->field */
enum { V_EMPTY, V_IN, V_AFTER, V_BAD };		/* p->vstate */
/* What the start of a line says; T_EMPTY + n: an empty line of n octets. */
enum { T_NEED, T_OTHER, T_FROM, T_EMPTY };

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

/* The header octets held back for from_digest go into it. */
static void
dg_flush(struct mbox_parser *p)
{
	if (p->dg_run != NULL)
		mbox_digest_update(&p->dg, p->dg_run, p->dg_runlen);
	p->dg_run = NULL;
	p->dg_runlen = 0;
}

/*
 * Served octets of the piece being fed, in file order, to from_digest
 * while it takes them: the header block's (a body costs nothing more),
 * its first 4 KiB.  They come a line at a time; held back while they
 * follow on in the piece, a header is hashed in one run, not per line.
 */
static void
served_hash(struct mbox_parser *p, const char *s, size_t n)
{
	if (p->in_body || p->dg_left == 0)
		return;
	if (n > p->dg_left)
		n = p->dg_left;
	p->dg_left -= n;
	if (p->dg_run != NULL && p->dg_run + p->dg_runlen == s) {
		p->dg_runlen += n;
		return;
	}
	dg_flush(p);
	p->dg_run = s;
	p->dg_runlen = n;
}

/* ... octets from elsewhere (p->look, a held empty line): at once. */
static void
served_hash_now(struct mbox_parser *p, const char *s, size_t n)
{
	if (p->in_body || p->dg_left == 0)
		return;
	dg_flush(p);
	if (n > p->dg_left)
		n = p->dg_left;
	mbox_digest_update(&p->dg, s, n);
	p->dg_left -= n;
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
 * Octets of the From_ line to the digest UIDL's input: held back while
 * they fit, since a message that popa3d's MD5 takes a field of (nearly
 * every one an MTA delivered) never needs the digest.
 */
static void
from_hash(struct mbox_parser *p, size_t n, const char *s)
{
	dg_flush(p);
	mbox_digest_update(&p->dg, s, n);
	if (p->fromlen != FROM_HELD_OVER &&
	    n <= sizeof(p->fromline) - p->fromlen) {
		memcpy(p->fromline + p->fromlen, s, n);
		p->fromlen += n;
		return;
	}
	uidl_sha_flush(p);
	sha256_update(&p->uidl_sha, n, (const uint8_t *)s);
}

/*
 * Octets of the header field being read, to the UIDL inputs taking it.
 * Once popa3d's MD5 has a field the digest form is not the UIDL, and is
 * no longer fed (it costs most of a cold parse).
 */
static void
head_hash(struct mbox_parser *p, size_t n, const char *s)
{
	if (p->hashed && !p->md5_any) {
		uidl_sha_flush(p);
		sha256_update(&p->uidl_sha, n, (const uint8_t *)s);
	}
	if (p->md5ed)
		md5_update(&p->uidl_md5, n, (const uint8_t *)s);
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
mbox_parse_init(struct mbox_parser *p, uint64_t off, mbox_found_fn fn,
    void *arg)
{
	memset(p, 0, sizeof(*p));
	p->fn = fn;
	p->arg = arg;
	p->pos = off;
	p->state = S_BOL;
	p->prev_empty = 1;
}

/* Counts the served octets from p->sp up to e. */
static void
flush(struct mbox_parser *p, const char *e)
{
	if (p->sp != NULL && e > p->sp) {
		wire_feed(&p->wire, p->sp, e - p->sp);
		served_hash(p, p->sp, e - p->sp);
	}
	p->sp = p->sp != NULL ? e : NULL;
}

/* The file offset of a pointer into the piece being fed. */
static uint64_t
offset_of(const struct mbox_parser *p, const char *q)
{
	return p->pos + (uint64_t)(q - p->buf);
}

/*
 * What a line starting with the k octets at c is (fewer than MBOX_LOOK
 * only when that is all there is yet, or at the end: eof).
 */
static int
line_type(const struct mbox_parser *p, const char *c, size_t k, int eof)
{
	size_t	n = k < MBOX_LOOK ? k : MBOX_LOOK;

	if (k >= 1 && c[0] == '\n')
		return T_EMPTY + 1;
	if (k >= 2 && c[0] == '\r' && c[1] == '\n')
		return T_EMPTY + 2;
	if (k == 0 || (k == 1 && c[0] == '\r'))
		return eof ? T_OTHER : T_NEED;
	if (!p->prev_empty || memcmp(c, "From ", n) != 0)
		return T_OTHER;
	if (n == MBOX_LOOK)
		return T_FROM;
	return eof || memchr(c, '\n', n) != NULL ? T_OTHER : T_NEED;
}

/* The end of a header field (and of its folded lines). */
static void
field_end(struct mbox_parser *p)
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

static void
msg_open(struct mbox_parser *p, uint64_t from_off)
{
	memset(&p->found, 0, sizeof(p->found));
	p->found.from_off = from_off;
	p->open = 1;
	p->in_body = 0;
	p->pending = 0;
	p->field = F_NONE;
	p->hashed = 1;
	p->md5ed = 0;
	p->md5_any = 0;
	p->received = 0;
	p->ximap = 0;
	p->state = S_FROM;
	wire_init_count(&p->wire);
	mbox_digest_init(&p->dg);
	p->dg_left = MBOX_DIGEST_SERVED;
	p->dg_run = NULL;
	p->dg_runlen = 0;
	p->fromlen = 0;
	sha256_init(&p->uidl_sha);
	md5_init(&p->uidl_md5);
}

/* The message ends where its served octets end: reported. */
static int
msg_close(struct mbox_parser *p, uint64_t end)
{
	struct mbox_found *f = &p->found;
	uint8_t		 d[SHA256_DIGEST_SIZE];

	field_end(p);
	if (p->state == S_FROM)
		f->off = end;		/* a From_ line without a newline */
	wire_finish(&p->wire);
	f->len = end - f->off;
	f->wire = p->wire.counted;
	dg_flush(p);
	f->from_digest = mbox_digest_final(&p->dg);
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
	p->open = 0;
	if ((p->result = p->fn(p->arg, f)) != 0)
		return p->result;
	return 0;
}

/* The empty line held back is content after all. */
static void
unhold(struct mbox_parser *p)
{
	if (p->pending > 0) {
		wire_feed(&p->wire, &"\r\n"[2 - p->pending], p->pending);
		served_hash_now(p, &"\r\n"[2 - p->pending], p->pending);
	}
	p->pending = 0;
}

/* A line of type t starts at file offset bol: a message it ends or starts. */
static int
line_start(struct mbox_parser *p, int t, uint64_t bol)
{
	if (!p->open && t != T_FROM)
		return p->result = MBOX_NOT_MBOX;
	if (t == T_FROM) {
		if (p->open && msg_close(p, bol - p->pending) != 0)
			return p->result;
		msg_open(p, bol);
		p->prev_empty = 0;
		return 0;
	}
	unhold(p);
	if (t == T_OTHER) {
		p->prev_empty = 0;
		p->state = p->in_body ? S_BODY : S_HEAD;
		p->hstate = H_START;
		return 0;
	}
	p->pending = (uint8_t)(t - T_EMPTY);
	p->prev_empty = 1;
	if (!p->in_body) {
		field_end(p);
		p->in_body = 1;
	}
	return 0;
}

/*
 * A header field's name is over (at its colon: whole; else cut short or
 * no name at all): which of its octets the parser must look at, and
 * whether the field goes into the digest.
 */
static void
name_done(struct mbox_parser *p, const char *name, size_t len, int whole)
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

/* The name's octets from s: where the rest of the line starts, or end. */
static const char *
name_rest(struct mbox_parser *p, const char *s, const char *end)
{
	size_t		 room = MBOX_NAME_MAX - p->namelen, n = end - s;
	const char	*colon, *lf, *stop;

	/* At most one octet past what the name can hold decides it. */
	if (n > room + 1)
		n = room + 1;
	colon = memchr(s, ':', n);
	lf = memchr(s, '\n', colon != NULL ? (size_t)(colon - s) : n);
	stop = lf != NULL ? lf : colon;
	if (stop == NULL && n <= room) {	/* the piece ends first */
		memcpy(p->name + p->namelen, s, n);
		p->namelen += n;
		return end;
	}
	if (stop == NULL)
		stop = s + room;		/* too long to be a name we want */
	memcpy(p->name + p->namelen, s, stop - s);
	p->namelen += stop - s;
	p->hstate = H_VALUE;
	name_done(p, p->name, p->namelen, stop == colon);
	head_hash(p, p->namelen, p->name);
	if (stop == colon) {
		head_hash(p, 1, colon);
		return colon + 1;
	}
	return stop;
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

static void
value_rest(struct mbox_parser *p, const char *s, const char *e)
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

/* A header line's octets from s (the whole line or a piece of it). */
static const char *
head_rest(struct mbox_parser *p, const char *s, const char *end)
{
	const char	*lf, *q;

	if (p->hstate == H_START) {
		if (*s == ' ' || *s == '\t')
			p->hstate = H_VALUE;	/* folded: the same field */
		else {
			field_end(p);
			p->hstate = H_NAME;
			p->namelen = 0;
		}
	}
	if (p->hstate == H_NAME && (s = name_rest(p, s, end)) == end)
		return end;
	lf = memchr(s, '\n', end - s);
	q = lf != NULL ? lf + 1 : end;
	head_hash(p, q - s, s);
	if (p->field != F_NONE)
		value_rest(p, s, lf != NULL ? lf : end);
	if (lf != NULL)
		p->state = S_BOL;
	return q;
}

/* The octets of the current line from s: where the next line starts, or end. */
static const char *
line_rest(struct mbox_parser *p, const char *s, const char *end)
{
	const char	*lf, *q;

	if (p->state == S_HEAD)
		return head_rest(p, s, end);
	lf = memchr(s, '\n', end - s);
	q = lf != NULL ? lf + 1 : end;
	if (p->state == S_FROM) {
		from_hash(p, q - s, s);
		if (lf != NULL) {
			p->found.off = offset_of(p, q);
			p->sp = q;	/* what is served starts */
		}
	}
	if (lf != NULL)
		p->state = S_BOL;
	return q;
}

/*
 * A line whose first octets came in earlier pieces (p->look), settled
 * with the first octets of this one (eof: there are no more): where the
 * piece's octets go on, or NULL on an error.
 */
static const char *
look_resume(struct mbox_parser *p, const char *buf, const char *end,
    int eof)
{
	char	tmp[2 * MBOX_LOOK];
	size_t	add = (size_t)(end - buf), k = p->looklen;
	int	t;

	if (add > MBOX_LOOK - k)
		add = MBOX_LOOK - k;
	memcpy(tmp, p->look, k);
	memcpy(tmp + k, buf, add);
	t = line_type(p, tmp, k + add, eof);
	if (t == T_NEED) {	/* this piece was all too short too */
		memcpy(p->look + k, buf, add);
		p->looklen += add;
		return end;
	}
	p->looklen = 0;
	if (line_start(p, t, p->bol_off) != 0)
		return NULL;
	if (t >= T_EMPTY) {
		buf += t - T_EMPTY - k;
		p->sp = buf;
		return buf;
	}
	if (t == T_OTHER) {
		wire_feed(&p->wire, p->look, k);
		served_hash_now(p, p->look, k);
	}
	(void)line_rest(p, p->look, p->look + k);	/* no LF in it */
	p->sp = t == T_OTHER ? buf : NULL;
	return buf;
}

/*
 * Body lines after a line that was not empty: none of them can start a
 * message, so they are passed over up to the next line that may be empty
 * (or starts with a CR, which line_type settles), and their octets go to
 * the wire count in one piece at the next flush: most of an mbox's lines
 * cost a memchr and nothing else.
 */
static const char *
body_lines(struct mbox_parser *p, const char *s, const char *end)
{
	const char	*lf, *start;
	uint64_t	 lfs = 0, crlfs = 0;

	flush(p, s);
	start = s;
	for (;;) {
		if ((lf = memchr(s, '\n', end - s)) == NULL) {
			p->state = S_BODY;	/* it goes on in the next piece */
			break;
		}
		lfs++;
		crlfs += lf[-1] == '\r';	/* the line is not empty */
		s = lf + 1;
		if (s == end || *s == '\n' || *s == '\r') {
			p->state = S_BOL;
			break;
		}
	}
	/* The whole lines are counted here; flush takes a line cut short. */
	wire_count_lines(&p->wire, s - start, lfs, crlfs);
	p->sp = s;
	return p->state == S_BOL ? s : end;
}

/*
 * A header line whole in the piece, [s, lf] (not empty): what head_rest
 * does over it, with the name looked at where it lies and the line
 * hashed in one call (the flags name_done sets hold for all of it).
 */
static void
head_line(struct mbox_parser *p, const char *s, const char *lf)
{
	const char	*colon, *v;
	size_t		 len = lf - s;

	if (*s != ' ' && *s != '\t') {		/* else folded: the same field */
		field_end(p);
		colon = memchr(s, ':', len < MBOX_NAME_MAX + 1 ? len :
		    MBOX_NAME_MAX + 1);
		if (colon == NULL && len > MBOX_NAME_MAX)
			len = MBOX_NAME_MAX;	/* too long to be one we want */
		name_done(p, s, colon != NULL ? (size_t)(colon - s) : len,
		    colon != NULL);
		v = colon != NULL ? colon + 1 : s + len;
	} else
		v = s;
	head_hash(p, lf + 1 - s, s);
	if (p->field != F_NONE)
		value_rest(p, v, lf);
	p->hstate = H_VALUE;
	p->state = S_BOL;
}

/*
 * Whole header lines (each ending in this piece, none empty), after a
 * line that was not empty: none of them can start a message or be held
 * back, so each goes straight to head_rest, and their octets go to the
 * wire count and from_digest in one piece, not a line at a time.  A line
 * that goes on in the next piece is left, from its start, to the flush.
 */
static const char *
head_lines(struct mbox_parser *p, const char *s, const char *end)
{
	const char	*start, *lf;
	uint64_t	 lfs = 0, crlfs = 0;

	flush(p, s);
	start = s;
	while (s < end && *s != '\n' && *s != '\r') {
		if ((lf = memchr(s, '\n', end - s)) == NULL) {
			/* It goes on in the next piece: s on is flushed. */
			p->state = S_HEAD;
			p->hstate = H_START;
			(void)head_rest(p, s, end);
			break;
		}
		head_line(p, s, lf);
		lfs++;
		crlfs += lf[-1] == '\r';	/* the line is not empty */
		s = lf + 1;
	}
	wire_count_lines(&p->wire, s - start, lfs, crlfs);
	served_hash(p, start, s - start);
	p->sp = s;
	return p->state == S_BOL ? s : end;
}

int
mbox_feed(struct mbox_parser *p, const char *buf, size_t n)
{
	const char	*s = buf, *end = buf + n;
	int		 t;

	if (p->result != 0)
		return p->result;
	p->buf = buf;
	p->sp = p->open && p->state != S_FROM && p->looklen == 0 ? buf : NULL;
	if (p->looklen > 0 && (s = look_resume(p, buf, end, 0)) == NULL)
		return p->result;
	while (s < end) {
		if (p->state != S_BOL) {
			s = line_rest(p, s, end);
			continue;
		}
		/* The line before was not empty (nothing held back). */
		if (p->open && p->pending == 0 && *s != '\n' && *s != '\r') {
			s = p->in_body ? body_lines(p, s, end) :
			    head_lines(p, s, end);
			continue;
		}
		t = line_type(p, s, end - s, 0);
		/*
		 * Only a line that may end the message or be held back needs
		 * the wire count to have all before it: the octets of other
		 * lines go on being gathered for one wire_feed.
		 */
		if (t != T_OTHER || p->sp == NULL)
			flush(p, s);
		if (t == T_NEED) {	/* kept until the next piece */
			memcpy(p->look, s, end - s);
			p->looklen = end - s;
			p->bol_off = offset_of(p, s);
			p->sp = NULL;
			break;
		}
		if (line_start(p, t, offset_of(p, s)) != 0)
			return p->result;
		if (t >= T_EMPTY)
			s += t - T_EMPTY;
		if (t != T_OTHER || p->sp == NULL)
			p->sp = t == T_FROM ? NULL : s;
	}
	flush(p, end);
	dg_flush(p);	/* the piece is the caller's */
	p->pos += n;
	return 0;
}

int
mbox_end(struct mbox_parser *p)
{
	static const char none[1];

	if (p->result != 0)
		return p->result;
	p->buf = p->look;
	p->sp = NULL;
	if (p->looklen > 0 && look_resume(p, none, none, 1) == NULL)
		return p->result;
	if (!p->open)
		return 0;	/* an empty input: no message */
	return msg_close(p, p->pos - p->pending);
}

/*
 * The mbox parser (mbox_parse.h): the lines, the messages they make, and
 * their sizes; what a header's fields mean is mbox_fields.c's.  Lines are
 * found with memchr; a line is looked at octet by octet only where it
 * must be: the first MBOX_LOOK octets of a line after an empty line, and
 * the names (and a few values) of header fields.  Runs of lines that
 * cannot end a message (after a line that was not empty) are counted in
 * bulk, a memchr a line; the rest go through wire.c in the pieces they
 * arrive in.
 *
 * An empty line ("\n", or "\r\n" in a CRLF-stored mbox) is held back
 * until the next line shows whether it is the separator before a From_
 * line (dropped) or content (then counted): that is all the look-ahead
 * the format needs, and it never crosses a message.
 */
#include <string.h>

#include "mbox_fields.h"

enum { S_BOL, S_FROM, S_HEAD, S_BODY };		/* p->state */
enum { H_START, H_NAME, H_VALUE };		/* p->hstate */
/* What the start of a line says; T_EMPTY + n: an empty line of n octets. */
enum { T_NEED, T_OTHER, T_FROM, T_EMPTY };

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

/* Octets of the From_ line: to from_digest and the UIDL inputs. */
static void
from_hash(struct mbox_parser *p, size_t n, const char *s)
{
	dg_flush(p);
	mbox_digest_update(&p->dg, s, n);
	mbox_from_uidl(p, n, s);
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

static void
msg_open(struct mbox_parser *p, uint64_t from_off)
{
	memset(&p->found, 0, sizeof(p->found));
	p->found.from_off = from_off;
	p->open = 1;
	p->in_body = 0;
	p->pending = 0;
	p->state = S_FROM;
	wire_init_count(&p->wire);
	mbox_digest_init(&p->dg);
	p->dg_left = MBOX_DIGEST_SERVED;
	p->dg_run = NULL;
	p->dg_runlen = 0;
	mbox_fields_open(p);
}

/* The message ends where its served octets end: reported. */
static int
msg_close(struct mbox_parser *p, uint64_t end)
{
	struct mbox_found *f = &p->found;

	mbox_field_end(p);
	if (p->state == S_FROM)
		f->off = end;		/* a From_ line without a newline */
	wire_finish(&p->wire);
	f->len = end - f->off;
	f->wire = p->wire.counted;
	dg_flush(p);
	f->from_digest = mbox_digest_final(&p->dg);
	mbox_fields_close(p);
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
		mbox_field_end(p);
		p->in_body = 1;
	}
	return 0;
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
	mbox_name_done(p, p->name, p->namelen, stop == colon);
	mbox_head_hash(p, p->namelen, p->name);
	if (stop == colon) {
		mbox_head_hash(p, 1, colon);
		return colon + 1;
	}
	return stop;
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
			mbox_field_end(p);
			p->hstate = H_NAME;
			p->namelen = 0;
		}
	}
	if (p->hstate == H_NAME && (s = name_rest(p, s, end)) == end)
		return end;
	lf = memchr(s, '\n', end - s);
	q = lf != NULL ? lf + 1 : end;
	mbox_head_hash(p, q - s, s);
	if (p->field != F_NONE)
		mbox_value_rest(p, s, lf != NULL ? lf : end);
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
		mbox_field_end(p);
		colon = memchr(s, ':', len < MBOX_NAME_MAX + 1 ? len :
		    MBOX_NAME_MAX + 1);
		if (colon == NULL && len > MBOX_NAME_MAX)
			len = MBOX_NAME_MAX;	/* too long to be one we want */
		mbox_name_done(p, s, colon != NULL ? (size_t)(colon - s) : len,
		    colon != NULL);
		v = colon != NULL ? colon + 1 : s + len;
	} else
		v = s;
	mbox_head_hash(p, lf + 1 - s, s);
	if (p->field != F_NONE)
		mbox_value_rest(p, v, lf);
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

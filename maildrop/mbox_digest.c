/*
 * from_digest (mbox_parse.h): a 64-bit hash of a message's From_ line and
 * header block (its first MBOX_DIGEST_SERVED octets), taken eight octets
 * at a time: a cold parse hashes every header, and a hash of one
 * multiply per octet (FNV-1a) would cost a tenth of the parse.  Not
 * cryptographic: it tells a message from the one that now stands where
 * it stood (a mail reader's rewrite), it is no defence
 * against the mailbox's owner, who may write any octets there anyway.
 * Each step ((h ^ w) * odd, then h ^= h >> 29) is a bijection of h for a
 * given word and of the word for a given h, so inputs differing in one
 * word never collide.  The words go round four lanes, each its own chain
 * of steps: one chain waits on each multiply, four keep the multiplier
 * busy (a quarter of the time on a cold parse's headers).  The lanes are
 * then folded with the same step, the length last, and a finaliser
 * (MurmurHash3's fmix64) ends it.  Here too: the checks, on the file,
 * that a message is still the one the parse found (mbox_from_at,
 * mbox_end_at).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "le64.h"
#include "mbox_parse.h"

#define DG_MUL		0x9e3779b97f4a7c15ULL
#define DG_BLOCK	(8 * MBOX_DIGEST_LANES)

static inline uint64_t
dg_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * DG_MUL;
	return h ^ (h >> 29);
}

/* A block of four words, one to each lane. */
static inline void
dg_block(uint64_t *h, const char *s)
{
	h[0] = dg_step(h[0], le64_get(s));
	h[1] = dg_step(h[1], le64_get(s + 8));
	h[2] = dg_step(h[2], le64_get(s + 16));
	h[3] = dg_step(h[3], le64_get(s + 24));
}

void
mbox_digest_init(struct mbox_digest *d)
{
	static const uint64_t iv[MBOX_DIGEST_LANES] = {
		0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL,
		0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	};

	memcpy(d->h, iv, sizeof(d->h));
	d->n = 0;
}

void
mbox_digest_update(struct mbox_digest *d, const char *s, size_t n)
{
	size_t	k = d->n % DG_BLOCK, add;
	uint64_t h[MBOX_DIGEST_LANES];

	d->n += n;
	if (k + n < DG_BLOCK) {		/* not a whole block yet */
		memcpy(d->part + k, s, n);
		return;
	}
	memcpy(h, d->h, sizeof(h));
	if (k > 0) {	/* a block begun in an earlier piece */
		add = DG_BLOCK - k;
		memcpy(d->part + k, s, add);
		s += add;
		n -= add;
		dg_block(h, (const char *)d->part);
	}
	for (; n >= DG_BLOCK; s += DG_BLOCK, n -= DG_BLOCK)
		dg_block(h, s);
	memcpy(d->part, s, n);
	memcpy(d->h, h, sizeof(h));
}

uint64_t
mbox_digest_final(struct mbox_digest *d)
{
	size_t	k = d->n % DG_BLOCK, i;
	uint64_t h[MBOX_DIGEST_LANES], f;

	memcpy(h, d->h, sizeof(h));
	if (k > 0) {	/* zeros after the last octet, then the length */
		memset(d->part + k, 0, DG_BLOCK - k);
		dg_block(h, (const char *)d->part);
	}
	f = h[0];
	for (i = 1; i < MBOX_DIGEST_LANES; i++)
		f = dg_step(f, h[i]);
	f = dg_step(f, d->n);
	f ^= f >> 33;
	f *= 0xff51afd7ed558ccdULL;
	f ^= f >> 33;
	f *= 0xc4ceb93fe53a87c5ULL;
	return f ^ (f >> 33);
}

/*
 * How many of the n served octets at buf from_digest takes: up to the
 * header block's end (an empty line, "\n" or "\r\n", at a line's start),
 * at most MBOX_DIGEST_SERVED.  buf holds one octet more than it may take
 * when the message has it, so that "\r\n" is seen across that limit.
 */
static size_t
head_span(const char *buf, size_t n)
{
	const char	*lf;
	size_t		 at = 0;

	while (at < n && at < MBOX_DIGEST_SERVED) {
		if (buf[at] == '\n' || (buf[at] == '\r' && at + 1 < n &&
		    buf[at + 1] == '\n'))
			return at;
		if ((lf = memchr(buf + at, '\n', n - at)) == NULL)
			break;
		at = lf + 1 - buf;
	}
	return n < MBOX_DIGEST_SERVED ? n : MBOX_DIGEST_SERVED;
}

int
mbox_from_at(int fd, const struct mbox_found *f)
{
	char		 buf[MBOX_DIGEST_SERVED + 1];
	struct mbox_digest d;
	uint64_t	 at = f->from_off;
	size_t		 want;
	ssize_t		 n;

	mbox_digest_init(&d);
	while (at < f->off) {	/* the From_ line */
		want = f->off - at < sizeof(buf) ? f->off - at : sizeof(buf);
		if ((n = io_pread_full(fd, buf, want, at)) == -1)
			return -1;
		if ((size_t)n < want)
			return 0;	/* the file is shorter now */
		mbox_digest_update(&d, buf, n);
		at += n;
	}
	want = f->len < sizeof(buf) ? f->len : sizeof(buf);
	if ((n = io_pread_full(fd, buf, want, f->off)) == -1)
		return -1;
	if ((size_t)n < want)
		return 0;
	mbox_digest_update(&d, buf, head_span(buf, n));
	return mbox_digest_final(&d) == f->from_digest;
}

int
mbox_end_at(int fd, const struct mbox_found *f)
{
	char	b[7];
	ssize_t	n;
	size_t	e;

	if ((n = io_pread_full(fd, b, sizeof(b), f->off + f->len)) == -1)
		return -1;
	if (n == 0)
		return 1;
	e = b[0] == '\n' ? 1 : n >= 2 && b[0] == '\r' && b[1] == '\n' ? 2 : 0;
	if (e == 0)
		return 0;
	return (size_t)n == e || ((size_t)n >= e + 5 &&
	    memcmp(b + e, "From ", 5) == 0);
}

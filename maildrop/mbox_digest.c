/*
 * from_digest (mbox_parse.h): a 64-bit hash of a message's From_ line and
 * header block (its first MBOX_DIGEST_SERVED octets), taken eight octets
 * at a time: a cold parse hashes every header, and a hash of one
 * multiply per octet (FNV-1a) would cost a tenth of the parse.  Not cryptographic: it tells a message from the one that now
 * stands where it stood (a mail reader's rewrite), it is no defence
 * against the mailbox's owner, who may write any octets there anyway.
 * Each step ((h ^ w) * odd, then h ^= h >> 29) is a bijection of h for a
 * given word and of the word for a given h, so inputs differing in one
 * word never collide; the length and a finaliser (MurmurHash3's fmix64)
 * end it.
 */
#include <string.h>

#include "le64.h"
#include "mbox_parse.h"

#define DG_MUL	0x9e3779b97f4a7c15ULL

static inline uint64_t
dg_step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * DG_MUL;
	return h ^ (h >> 29);
}

void
mbox_digest_init(struct mbox_digest *d)
{
	d->h = 0x6a09e667f3bcc908ULL;
	d->n = 0;
}

void
mbox_digest_update(struct mbox_digest *d, const char *s, size_t n)
{
	size_t	k = d->n % 8, add;
	uint64_t h = d->h;

	d->n += n;
	if (k > 0) {	/* a word begun in an earlier piece */
		add = n < 8 - k ? n : 8 - k;
		memcpy(d->part + k, s, add);
		s += add;
		n -= add;
		if (k + add < 8)
			return;
		h = dg_step(h, le64_get(d->part));
	}
	for (; n >= 8; s += 8, n -= 8)
		h = dg_step(h, le64_get(s));
	memcpy(d->part, s, n);
	d->h = h;
}

uint64_t
mbox_digest_final(struct mbox_digest *d)
{
	size_t	k = d->n % 8;
	uint64_t h = d->h;

	if (k > 0) {
		memset(d->part + k, 0, 8 - k);
		h = dg_step(h, le64_get(d->part));
	}
	h = dg_step(h, d->n);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb93fe53a87c5ULL;
	return h ^ (h >> 33);
}

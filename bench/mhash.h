/*
 * The manifest's content hash, shared by gen (which writes it) and popload
 * (which checks every RETR against it).  FNV-1a, one multiply per octet,
 * made popload's check cost more CPU per GB than the servers it measured;
 * this takes 8 octets a step, fed in pieces of any size (popload feeds a
 * line, then its "\n").  Not cryptographic: it only has to catch a wrong
 * or damaged message.
 */
#ifndef POP3D_BENCH_MHASH_H
#define POP3D_BENCH_MHASH_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct mhash {
	uint64_t	h;	/* the state */
	uint64_t	w;	/* a word being filled: n octets so far */
	unsigned	n;
	uint64_t	len;
};

static inline void
mh_init(struct mhash *m)
{
	m->h = 0x6a09e667f3bcc908ULL;
	m->w = 0;
	m->n = 0;
	m->len = 0;
}

static inline void
mh_word(struct mhash *m, uint64_t w)
{
	m->h = (m->h ^ w) * 0x9E3779B97F4A7C15ULL;
	m->h ^= m->h >> 29;
}

static inline void
mh_feed(struct mhash *m, const void *p, size_t n)
{
	const unsigned char	*s = p;
	uint64_t		 w;

	m->len += n;
	for (; n > 0 && m->n > 0; n--) {	/* first the word begun */
		m->w |= (uint64_t)*s++ << (8 * m->n);
		if (++m->n == 8) {
			mh_word(m, m->w);
			m->w = 0;
			m->n = 0;
		}
	}
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		mh_word(m, le64toh(w));
	}
	for (; n > 0; n--)	/* m->n was 0: fewer than 8 follow */
		m->w |= (uint64_t)*s++ << (8 * m->n++);
}

static inline uint64_t
mh_final(struct mhash *m)
{
	mh_word(m, m->w);
	mh_word(m, m->len);
	return m->h;
}

#endif

#include <sys/random.h>

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strhash.h"

static uint64_t
hash_seed(void)
{
	static uint64_t	seed;
	static int	done;
	struct timespec	ts;

	if (!done) {
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(seed)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
			    (uint64_t)ts.tv_sec ^ (uint64_t)getpid() << 32;
		}
		done = 1;
	}
	return seed;
}

/*
 * The seed mixed in before and after, so the slots stay unguessable; the
 * length first, so that trailing zero octets count.  Eight octets a step
 * (two multiplies and a shift, each step a bijection of the state for a
 * given word): the UIDLs of a maildrop of 100,000 are hashed every
 * session.
 */
uint64_t
strhash(const char *s, size_t n)
{
	uint64_t	h = 0x6a09e667f3bcc908ULL ^ hash_seed() ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		/*
		 * Multiplied again after the shift: else a flip of the top
		 * bit would pass the first multiply as itself, and the
		 * difference it leaves be the same under every seed.
		 */
		h = (h ^ h >> 29) * 0xbf58476d1ce4e5b9ULL;
	}
	w = 0;
	if (n > 0)
		memcpy(&w, s, n);
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	h ^= hash_seed();
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 33;
}

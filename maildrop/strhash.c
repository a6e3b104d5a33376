#include <sys/random.h>

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

/* The seed mixed in before and after, so the slots stay unguessable. */
uint64_t
strhash(const char *s, size_t n)
{
	uint64_t	h = 14695981039346656037ULL ^ hash_seed();

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	h ^= hash_seed();
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 33;
}

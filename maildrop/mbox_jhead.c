/*
 * What an mbox's UPDATE journal keeps of the file (mbox_jhead.h), and the
 * check before a redo: see mbox_journal.c's opening comment for why.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "io.h"
#include "le64.h"
#include "mbox.h"
#include "mbox_jhead.h"

/* SHA-256 of fd's octets [off, end). */
static int
hash_range(int fd, uint64_t off, uint64_t end, uint8_t *sum)
{
	struct sha256_ctx ctx;
	char		 buf[J_NEAR];
	size_t		 n;

	sha256_init(&ctx);
	for (; off < end; off += n) {
		n = end - off < sizeof(buf) ? end - off : sizeof(buf);
		if (io_pread_exact(fd, buf, n, off) == -1)
			return -1;
		sha256_update(&ctx, n, (const uint8_t *)buf);
	}
	sha256_digest(&ctx, J_HASH, sum);
	return 0;
}

static uint64_t
pre_start(const struct jhead *h)
{
	return h->F - (h->F < J_NEAR ? h->F : J_NEAR);
}

static uint64_t
tail_start(const struct jhead *h)
{
	return h->S - h->N > J_NEAR ? h->S - J_NEAR : h->N;
}

/* The file's birth time; 0, 0 when the file system does not keep one. */
static void
birth(int fd, uint64_t *sec, uint64_t *nsec)
{
	struct statx	stx;

	*sec = *nsec = 0;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME) != 0) {
		*sec = (uint64_t)stx.stx_btime.tv_sec;
		*nsec = stx.stx_btime.tv_nsec;
	}
}

/* What a redo relies on, from the file as it is before step 1. */
int
mbox_jhead_identity(int fd, struct jhead *h)
{
	memset(h->T, 0, sizeof(h->T));
	birth(fd, &h->bsec, &h->bnsec);
	if (io_pread_exact(fd, h->T, h->k, h->S - h->k) == -1 ||
	    hash_range(fd, pre_start(h), h->F, h->pre) == -1)
		return -1;
	return hash_range(fd, tail_start(h), h->S - h->k, h->tail);
}

void
mbox_jhead_put(char *head, const struct jhead *h)
{
	memcpy(head, J_MAGIC, 8);
	le64_put(head + 8, h->dev);
	le64_put(head + 16, h->ino);
	le64_put(head + 24, h->S);
	le64_put(head + 32, h->F);
	le64_put(head + 40, h->N);
	le64_put(head + 48, h->k);
	le64_put(head + 56, h->bsec);
	le64_put(head + 64, h->bnsec);
	memcpy(head + 72, h->R, J_NONCE);
	memcpy(head + 72 + J_NONCE, h->T, J_NONCE);
	memcpy(head + 72 + 2 * J_NONCE, h->pre, J_HASH);
	memcpy(head + 72 + 2 * J_NONCE + J_HASH, h->tail, J_HASH);
}

void
mbox_jhead_get(const char *head, struct jhead *h)
{
	h->dev = le64_get(head + 8);
	h->ino = le64_get(head + 16);
	h->S = le64_get(head + 24);
	h->F = le64_get(head + 32);
	h->N = le64_get(head + 40);
	h->k = le64_get(head + 48);
	h->bsec = le64_get(head + 56);
	h->bnsec = le64_get(head + 64);
	memcpy(h->R, head + 72, J_NONCE);
	memcpy(h->T, head + 72 + J_NONCE, J_NONCE);
	memcpy(h->pre, head + 72 + 2 * J_NONCE, J_HASH);
	memcpy(h->tail, head + 72 + 2 * J_NONCE + J_HASH, J_HASH);
}

/*
 * Whether the file is still the one the journal was written for, as steps
 * 1 and 2 leave it (its size at least S): NULL, or what differs; NULL
 * with *failed set when it cannot be read.
 */
const char *
mbox_jhead_differs(int fd, const struct jhead *h, int *failed)
{
	uint64_t	sec, nsec;
	uint8_t		sum[J_HASH];
	char		T[J_NONCE];

	*failed = 0;
	birth(fd, &sec, &nsec);
	if ((h->bsec | h->bnsec) != 0 && (sec | nsec) != 0 &&
	    (sec != h->bsec || nsec != h->bnsec))
		return "birth time differs: another file";
	if (hash_range(fd, pre_start(h), h->F, sum) == -1)
		goto fail;
	if (memcmp(sum, h->pre, J_HASH) != 0)
		return "octets before the rewrite changed";
	if (hash_range(fd, tail_start(h), h->S - h->k, sum) == -1 ||
	    io_pread_exact(fd, T, h->k, h->S - h->k) == -1)
		goto fail;
	if (memcmp(sum, h->tail, J_HASH) != 0 || (memcmp(T, h->T, h->k) != 0 &&
	    memcmp(T, h->R, h->k) != 0))
		return "octets at the recorded end changed";
	return NULL;
fail:
	*failed = 1;
	return NULL;
}

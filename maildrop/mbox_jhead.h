/*
 * The header of an mbox's UPDATE journal (mbox_journal.c) and what it
 * keeps of the file so that a redo is done only onto the file it was
 * written for (mbox_jhead.c).
 */
#ifndef MBOX_JHEAD_H
#define MBOX_JHEAD_H

#include <stdint.h>

#include <nettle/sha2.h>

#define J_MAGIC		"P3MBOXJ3"
#define J_MAGIC_OLD	"P3MBOXJ2"	/* kept no identity of the file */
#define J_NONCE		16
#define J_HASH		SHA256_DIGEST_SIZE
#define J_NEAR		4096	/* octets hashed before F and before S - k */
#define J_HEAD		(8 + 8 * 8 + 2 * J_NONCE + 2 * J_HASH)

struct jhead {
	uint64_t	dev, ino, S, F, N, k;
	uint64_t	bsec, bnsec;	/* birth time; 0, 0: not known */
	char		R[J_NONCE];
	char		T[J_NONCE];	/* what [S - k, S) held */
	uint8_t		pre[J_HASH];	/* of [F - min(F, J_NEAR), F) */
	uint8_t		tail[J_HASH];	/* of [max(N, S - J_NEAR), S - k) */
};

/* Into head (J_HEAD octets), and out of it (its MAGIC checked before). */
void	mbox_jhead_put(char *, const struct jhead *);
void	mbox_jhead_get(const char *, struct jhead *);
/*
 * What a redo relies on (birth time, T, pre, tail), from the mbox fd as
 * it is before step 1, S, F, N and k set: 0, or -1 with errno.
 */
int	mbox_jhead_identity(int, struct jhead *);
/*
 * Whether the mbox fd (at least S octets) is still the file the journal
 * was written for, as steps 1 and 2 leave it: NULL, or what differs;
 * NULL with *failed set when it cannot be read.
 */
const char *mbox_jhead_differs(int, const struct jhead *, int *);

#endif

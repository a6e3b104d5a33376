/*
 * UIDLs (RFC 1939 section 7) from Maildir names: the unique part when it
 * can be one, else a digest; then made unique within the maildrop, by a
 * pass an mbox's UIDLs share (uidl_unique, store.h).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base16.h>
#include <nettle/sha2.h>

#include "log.h"
#include "maildir.h"
#include "migrate.h"
#include "strhash.h"

/*
 * Eight octets at a time (every UIDL of an index is checked as it is
 * read): in a word, an octet below 0x21 borrows into its high bit when
 * 0x21 is taken from each, one of 0x7f adds into it when 1 is added to
 * each, and one of 0x80 or more has it.  A borrow or carry that crosses
 * into the next octet comes only from an octet already out of range.
 */
int
maildir_uidl_plain(const char *s, size_t len)
{
	const uint64_t	ones = UINT64_C(0x0101010101010101);
	uint64_t	w, out = 0;
	size_t		i;

	if (len == 0 || len > UIDL_MAX)
		return 0;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		out |= ((w - 0x21 * ones) | (w + ones) | w) & (0x80 * ones);
	}
	for (; i < len; i++)
		out |= (unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e;
	return out == 0;
}

void
maildir_uidl_digest(const char *s, size_t len, char out[33])
{
	struct sha256_ctx	ctx;
	uint8_t			d[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)s);
	sha256_digest(&ctx, sizeof(d), d);
	/* The first half of the digest, lower-case hex (t_uidl pins it). */
	base16_encode_update(out, 16, d);
	out[32] = '\0';
}

static int
uidl_digest_of(const struct uidl_pass *p, struct msg *m, const char *s,
    size_t len)
{
	char	hex[33];

	maildir_uidl_digest(s, len, hex);
	if ((m->uidl = p->dup(p->ctx, hex, 32)) == NULL)
		return -1;
	m->uidl_len = 32;
	return 0;
}

/*
 * Indexes sorted by UIDL; equal ones carried over first (a client knows
 * that one already), then by the store's tiebreak (a Maildir: directory,
 * cur/ first, and inode, which a flag change does not alter; an mbox:
 * file order), so the same message keeps the name.
 */
static int
uidl_cmp(const void *a, const void *b, void *arg)
{
	const struct uidl_pass *p = arg;
	const struct msg *x = &p->msgs[*(const size_t *)a];
	const struct msg *y = &p->msgs[*(const size_t *)b];
	int	c = maildir_bytes_cmp(x->uidl, x->uidl_len, y->uidl,
	    y->uidl_len);

	if (c != 0)
		return c;
	if (x->carried != y->carried)
		return x->carried ? -1 : 1;
	return p->tiebreak(x, y);
}

/* The uidl-clash lines of a scan; the rest are only counted. */
#define CLASH_LOG_MAX	10

/*
 * A carried UIDL another message had too: it lost it (deterministic).
 * The files are the mail user's, who could make a clash of every message:
 * past CLASH_LOG_MAX, *n counts them for one summary line.
 */
static void
clash_log(const struct uidl_pass *p, const struct msg *winner,
    const struct msg *loser, size_t *n)
{
	struct logline	l;
	char		uidl[UIDL_MAX + 1], a[32], b[32];

	if (!winner->carried && !loser->carried)
		return;
	if ((*n)++ >= CLASH_LOG_MAX)
		return;
	memcpy(uidl, winner->uidl, winner->uidl_len);
	uidl[winner->uidl_len] = '\0';
	logline_start(&l, "uidl-clash");
	logline_str(&l, "uidl", uidl);
	logline_str(&l, "kept", p->label(p, winner, a, sizeof(a)));
	logline_str(&l, "changed", p->label(p, loser, b, sizeof(b)));
	logline_emit(&l);
}

static void
clash_total(size_t n)
{
	struct logline	l;

	if (n <= CLASH_LOG_MAX)
		return;
	logline_start(&l, "uidl-clashes-unlogged");
	logline_num(&l, "count", n - CLASH_LOG_MAX);
	logline_emit(&l);
}

/*
 * Two messages with one UIDL: all but the first get a digest of what the
 * store's salt says of them, salted by the round; repeated until no two
 * are equal.
 */
static int
uidls_dedup(const struct uidl_pass *p, size_t *idx)
{
	char	 salted[128];
	size_t	 i, dups, clashes = 0, run;
	int	 round, n;
	struct msg *m, *prev;

	for (round = 0; round < 16; round++) {
		for (i = 0; i < p->count; i++)
			idx[i] = i;
		qsort_r(idx, p->count, sizeof(*idx), uidl_cmp, (void *)p);
		for (i = 1, dups = 0, run = 0; i < p->count; i++) {
			prev = &p->msgs[idx[i - 1]];
			m = &p->msgs[idx[i]];
			if (prev->uidl_len != m->uidl_len ||
			    memcmp(prev->uidl, m->uidl, m->uidl_len) != 0) {
				run = 0;
				continue;
			}
			if (round == 0)
				clash_log(p, prev, m, &clashes);
			n = p->salt(m, round, idx[i], ++run, salted,
			    sizeof(salted));
			if (uidl_digest_of(p, m, salted, n) == -1)
				return -1;
			dups++;
		}
		if (round == 0)
			clash_total(clashes);
		if (dups == 0)
			break;
	}
	return 0;
}

/*
 * A slot of the check's table: 1 + a message's index in the low
 * SLOT_INDEX_BITS, the top bits of the UIDL's hash above them.
 */
#define SLOT_INDEX_BITS	20
#define SLOT_INDEX_MASK	((UINT32_C(1) << SLOT_INDEX_BITS) - 1)
static_assert(MAILDROP_MSGS_MAX < SLOT_INDEX_MASK,
    "1 + a message's index fits a slot");

/* Probes past which a UIDL's slot counts as contested: the sort decides. */
#define DISTINCT_PROBES_MAX	64

/*
 * Whether no two messages share a UIDL, answered in one pass over a hash
 * table: nearly every maildrop has no clash, and the sort that settles
 * clashes costs more than the rest of a warm session of 100,000 messages
 * together.  1: all distinct; 0: a clash, or a run of probes too long to
 * tell cheaply (the strings are senders' X-UIDLs too, and the seeded
 * hash keeps that rare), so the sort decides; -1: out of memory.
 * A slot holds the hash's top bits beside 1 + the message's index: a
 * probe past another UIDL compares those, and only equal bits (one probe
 * in 4,096) cost the walk to that message and its UIDL: two cache misses
 * in a table of 100,000, most of a warm session's check.  Four octets a
 * slot keep the table of 100,000 in 1 MiB.
 */
static int
uidls_distinct(const struct uidl_pass *p)
{
	uint32_t	*slot, tag;
	uint64_t	 h;
	size_t		 size, i, k, probes;
	const struct msg *m, *o;
	int		 r = 1;

	if (p->count >= SLOT_INDEX_MASK)
		return 0;	/* an index would not fit a slot: the sort */
	for (size = 64; size < 2 * p->count; size *= 2)
		;
	if ((slot = calloc(size, sizeof(*slot))) == NULL)
		return -1;
	for (i = 0; i < p->count && r == 1; i++) {
		m = &p->msgs[i];
		h = strhash(m->uidl, m->uidl_len);
		tag = (uint32_t)(h >> 32) & ~SLOT_INDEX_MASK;
		k = h & (size - 1);
		for (probes = 0; slot[k] != 0; k = (k + 1) & (size - 1)) {
			if (++probes > DISTINCT_PROBES_MAX) {
				r = 0;
				break;
			}
			if ((slot[k] & ~SLOT_INDEX_MASK) != tag)
				continue;
			o = &p->msgs[(slot[k] & SLOT_INDEX_MASK) - 1];
			if (o->uidl_len == m->uidl_len && memcmp(o->uidl,
			    m->uidl, m->uidl_len) == 0) {
				r = 0;
				break;
			}
		}
		slot[k] = tag | (uint32_t)(i + 1);
	}
	free(slot);
	return r;
}

int
uidl_unique(const struct uidl_pass *p)
{
	size_t	*idx;
	int	 ret;

	if (p->count < 2)
		return 0;
	if ((ret = uidls_distinct(p)) != 0)
		return ret == 1 ? 0 : -1;
	if ((idx = calloc(p->count, sizeof(*idx))) == NULL)
		return -1;
	ret = uidls_dedup(p, idx);
	free(idx);
	return ret;
}

/* Past 8 rounds, the message number settles it. */
static int
md_salt(const struct msg *m, int round, size_t idx, size_t run, char *buf,
    size_t n)
{
	(void)run;
	return snprintf(buf, n, "%d:%s:%llu:%zu", round,
	    m->dir == MD_NEW ? "new" : "cur", (unsigned long long)m->d_ino,
	    round < 8 ? 0 : idx);
}

static const char *
md_label(const struct uidl_pass *p, const struct msg *m, char *buf, size_t n)
{
	(void)p;
	(void)buf;
	(void)n;
	return m->name;
}

static char *
md_dup(void *ctx, const char *s, size_t n)
{
	return maildir_strdup(ctx, s, n);
}

int
maildir_uidls(struct maildir *md)
{
	struct uidl_pass p = { md->msgs, md->count, maildir_tiebreak,
	    md_salt, md_label, md_dup, md };
	size_t	 i;
	struct msg *m;

	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if (maildir_uidl_plain(m->name, m->uniq_len)) {
			m->uidl = m->name;
			m->uidl_len = m->uniq_len;
		} else if (uidl_digest_of(&p, m, m->name, m->uniq_len) == -1)
			return -1;
	}
	if (migrate_uidls(md, md->dovecot_format) == -1)
		return -1;
	return uidl_unique(&p);
}

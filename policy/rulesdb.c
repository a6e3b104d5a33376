/*
 * rules.cdb: its records and keys (encoded by the compiler, rules.c),
 * and its readers: the front looks a peer up once per connection,
 * pop3d-rules lists and queries.  Nothing read from the file is used
 * before it is checked; anything wrong is -2, never an allow.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdbcheck.h"
#include "rules.h"

size_t
rule_key(const struct rule_block *b, unsigned char *key)
{
	size_t	n = b->prefix.family == 4 ? 4 : 16;

	key[0] = b->prefix.family;
	key[1] = b->len;
	memcpy(key + 2, b->prefix.octet, n);
	return n + 2;
}

/* The characters of an environment variable's name (POSIX portable set). */
static int
rule_name_char(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return 1;
	return !first && c >= '0' && c <= '9';
}

int
rule_name_valid(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > RULE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!rule_name_char(s[i], i == 0))
			return 0;
	/* LD_PRELOAD and friends would steer the dynamic linker of AUTHPROG. */
	return !(n >= 3 && memcmp(s, "LD_", 3) == 0);
}

size_t
rule_encode(const struct rule *r, unsigned char *buf)
{
	size_t	plen = strnlen(r->pattern, sizeof(r->pattern)), o = 0, i, sl;

	if (plen > RULE_PATTERN_MAX || r->nsettings > RULE_SETTINGS_MAX ||
	    r->line > UINT32_MAX)
		return 0;
	buf[o++] = r->action;
	buf[o++] = r->line >> 24;
	buf[o++] = r->line >> 16;
	buf[o++] = r->line >> 8;
	buf[o++] = r->line;
	buf[o++] = plen;
	memcpy(buf + o, r->pattern, plen);
	o += plen;
	buf[o++] = r->nsettings;
	for (i = 0; i < r->nsettings; i++) {
		sl = strlen(r->settings[i]) + 1;
		if (sl > RULE_RECORD_MAX - o)
			return 0;
		memcpy(buf + o, r->settings[i], sl);
		o += sl;
	}
	return o;
}

int
rule_setting_seen(const struct rule *r, size_t n, const char *s, size_t nl)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strncmp(r->settings[i], s, nl) == 0 &&
		    r->settings[i][nl] == '=')
			return 1;
	return 0;
}

/* The settings part of a record, from octet o to its end. */
static int
decode_settings(const unsigned char *rec, size_t len, size_t o,
    struct rule *r)
{
	const char	*s, *end, *eq;
	size_t		 ns, i, used = 0, sl, nl;

	ns = rec[o++];
	if (ns > RULE_SETTINGS_MAX)
		return -1;
	for (i = 0; i < ns; i++) {
		s = (const char *)rec + o;
		if ((end = memchr(s, '\0', len - o)) == NULL)
			return -1;
		sl = end - s;
		if ((eq = memchr(s, '=', sl)) == NULL)
			return -1;
		nl = eq - s;
		if (!rule_name_valid(s, nl) || sl - nl - 1 > RULE_VALUE_MAX ||
		    memchr(eq, '\n', sl - nl) != NULL ||
		    memchr(eq, '\r', sl - nl) != NULL ||
		    rule_setting_seen(r, i, s, nl))
			return -1;
		/* Within RULE_RECORD_MAX: len is, and buf is that long. */
		memcpy(r->buf + used, s, sl + 1);
		r->settings[i] = r->buf + used;
		used += sl + 1;
		o += sl + 1;
	}
	if (o != len)
		return -1;
	r->nsettings = ns;
	return 0;
}

int
rule_decode(const unsigned char *rec, size_t len, struct rule *r)
{
	size_t	plen;

	r->action = 0;
	r->pattern[0] = '\0';
	r->line = 0;
	r->nsettings = 0;
	/* action, line, pattern length, settings count: 7 octets at least */
	if (len < 7 || len > RULE_RECORD_MAX)
		return -1;
	if (rec[0] != RULE_ALLOW && rec[0] != RULE_DENY)
		return -1;
	plen = rec[5];
	if (plen > RULE_PATTERN_MAX || 6 + plen + 1 > len)
		return -1;
	memcpy(r->pattern, rec + 6, plen);
	r->pattern[plen] = '\0';
	if (strspn(r->pattern, RULE_PATTERN_CHARS) != plen)
		return -1;
	r->line = (unsigned long)((uint32_t)rec[1] << 24 |
	    (uint32_t)rec[2] << 16 | (uint32_t)rec[3] << 8 | rec[4]);
	if (r->line == 0 || decode_settings(rec, len, 6 + plen, r) == -1) {
		r->pattern[0] = '\0';
		r->line = 0;
		return -1;
	}
	r->action = rec[0];
	return 0;
}

#define HEAD_FLAGS	sizeof(RULESDB_MAGIC)
#define HEAD_COUNT	(HEAD_FLAGS + 33 + 129)
#define HEAD_HASH	(HEAD_COUNT + 4)

void
rulesdb_head_make(unsigned char *h, const unsigned char *len4,
    const unsigned char *len6, unsigned long records)
{
	uint64_t	hash;
	int		i;

	memcpy(h, RULESDB_MAGIC, sizeof(RULESDB_MAGIC));
	memcpy(h + HEAD_FLAGS, len4, 33);
	memcpy(h + HEAD_FLAGS + 33, len6, 129);
	for (i = 0; i < 4; i++)
		h[HEAD_COUNT + i] = (records >> (24 - 8 * i)) & 0xff;
	hash = cdbcheck_fnv(0, h, HEAD_HASH);
	for (i = 0; i < 8; i++)
		h[HEAD_HASH + i] = (hash >> (56 - 8 * i)) & 0xff;
}

/*
 * The header: ours, of this version, whole (its hash), counting as many
 * records as the hash tables hold; and which prefix lengths are used.
 */
static int
rulesdb_head(struct rulesdb *db)
{
	const unsigned char	*h;
	unsigned char		 want[RULESDB_HEAD_LEN];
	unsigned long		 records;
	unsigned		 len;
	size_t			 i;

	if (cdbcheck_find(&db->cdb, RULESDB_HEAD_KEY, RULESDB_HEAD_KEYLEN, &h,
	    &len) != 1 || len != RULESDB_HEAD_LEN ||
	    memcmp(h, RULESDB_MAGIC, sizeof(RULESDB_MAGIC)) != 0)
		return -1;
	for (i = HEAD_FLAGS; i < HEAD_COUNT; i++)
		if (h[i] > 1)
			return -1;
	records = (unsigned long)h[HEAD_COUNT] << 24 |
	    (unsigned long)h[HEAD_COUNT + 1] << 16 |
	    (unsigned long)h[HEAD_COUNT + 2] << 8 | h[HEAD_COUNT + 3];
	rulesdb_head_make(want, h + HEAD_FLAGS, h + HEAD_FLAGS + 33, records);
	if (memcmp(want, h, RULESDB_HEAD_LEN) != 0 ||
	    records + 1 != db->records)
		return -1;
	memcpy(db->len4, h + HEAD_FLAGS, sizeof(db->len4));
	memcpy(db->len6, h + HEAD_FLAGS + 33, sizeof(db->len6));
	return 0;
}

/* The records in the hash tables (cdb gives each two slots). */
static void
rulesdb_count(struct rulesdb *db)
{
	const unsigned char	*toc = cdb_get(&db->cdb, 2048, 0);
	unsigned		 t;

	db->records = 0;
	for (t = 0; toc != NULL && t < 256; t++)
		db->records += cdb_unpack(toc + 8 * t + 4) / 2;
}

int
rulesdb_open(struct rulesdb *db, const char *path)
{
	int	r, saved;

	memset(db->len4, 0, sizeof(db->len4));
	memset(db->len6, 0, sizeof(db->len6));
	db->probes = 0;
	if ((db->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((r = cdbcheck_init(&db->cdb, db->fd)) != 0) {
		saved = errno;
		close(db->fd);
		db->fd = -1;
		errno = saved;
		return r;
	}
	rulesdb_count(db);
	if (rulesdb_head(db) == -1) {
		rulesdb_close(db);
		return -2;
	}
	return 0;
}

/* One cdb_find for block b: as rulesdb_lookup returns. */
static int
rulesdb_probe(struct rulesdb *db, const struct rule_block *b, struct rule *r)
{
	unsigned char		 key[RULE_KEY_MAX];
	const unsigned char	*rec;
	unsigned		 len;
	int			 found;

	db->probes++;
	found = cdbcheck_find(&db->cdb, key, rule_key(b, key), &rec, &len);
	if (found != 1)
		return found;
	return rule_decode(rec, len, r) == -1 ? -2 : 1;
}

int
rulesdb_match(struct rulesdb *db, const struct addr *a, struct rule *r,
    struct rule_block *b)
{
	const unsigned char	*used;
	int			 len, found;

	db->probes = 0;
	memset(b, 0, sizeof(*b));
	if (a == NULL) {
		/* An unknown peer: the default rule, kept under 0.0.0.0/0. */
		b->prefix.family = 4;
		return db->len4[0] ? rulesdb_probe(db, b, r) : 0;
	}
	if (a->family != 4 && a->family != 6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	used = a->family == 4 ? db->len4 : db->len6;
	/* Most specific first; a length no record has costs nothing. */
	for (len = addr_bits(a); len >= 0; len--) {
		if (!used[len])
			continue;
		b->prefix = *a;
		addr_mask(&b->prefix, len);
		b->len = len;
		if ((found = rulesdb_probe(db, b, r)) != 0)
			return found;
	}
	return 0;
}

int
rulesdb_lookup(struct rulesdb *db, const struct addr *a, struct rule *r)
{
	struct rule_block	b;

	return rulesdb_match(db, a, r, &b);
}

/*
 * The block a key names: 0, or -1 when it is no block's key, is not
 * masked, or has a length the header leaves out (no lookup would find it).
 */
static int
key_block(const struct rulesdb *db, const unsigned char *key, size_t klen,
    struct rule_block *b)
{
	struct addr	m;

	memset(b, 0, sizeof(*b));
	if (klen == 6 && key[0] == 4 && key[1] <= 32 && db->len4[key[1]])
		b->prefix.family = 4;
	else if (klen == 18 && key[0] == 6 && key[1] <= 128 &&
	    db->len6[key[1]])
		b->prefix.family = 6;
	else
		return -1;
	memcpy(b->prefix.octet, key + 2, klen - 2);
	b->len = key[1];
	m = b->prefix;
	addr_mask(&m, b->len);
	return memcmp(m.octet, b->prefix.octet, sizeof(m.octet)) == 0 ? 0 : -1;
}

int
rulesdb_walk(struct rulesdb *db, int (*fn)(const struct rule_block *,
    const struct rule *, void *), void *arg)
{
	struct rule_block	 b;
	struct rule		 r;
	const unsigned char	*key, *rec;
	unsigned		 pos = 2048, klen, len;
	int			 more, ret;

	while ((more = cdbcheck_next(&db->cdb, &pos, &key, &klen, &rec,
	    &len)) == 1) {
		if (klen == RULESDB_HEAD_KEYLEN &&
		    memcmp(key, RULESDB_HEAD_KEY, klen) == 0)
			continue;
		if (key_block(db, key, klen, &b) == -1 ||
		    rule_decode(rec, len, &r) == -1)
			return -2;
		if ((ret = fn(&b, &r, arg)) != 0)
			return ret;
	}
	return more;
}

int
rule_env(const struct rule *r)
{
	char	name[RULE_NAME_MAX + 1];
	size_t	i, n;

	for (i = 0; i < r->nsettings; i++) {
		n = strcspn(r->settings[i], "=");
		/* The database was checked; this only guards the copy. */
		if (n == 0 || n > RULE_NAME_MAX || r->settings[i][n] != '=')
			continue;
		memcpy(name, r->settings[i], n);
		name[n] = '\0';
		if (setenv(name, r->settings[i] + n + 1, 1) == -1)
			return -1;
	}
	return 0;
}

static int
count_one(const struct rule_block *b, const struct rule *r, void *arg)
{
	(void)b;
	(void)r;
	(*(unsigned long *)arg)++;
	return 0;
}

int
rulesdb_rules(struct rulesdb *db, unsigned long *n)
{
	*n = 0;
	return rulesdb_walk(db, count_one, n);
}

void
rulesdb_close(struct rulesdb *db)
{
	if (db->fd == -1)
		return;
	cdb_free(&db->cdb);
	close(db->fd);
	db->fd = -1;
}

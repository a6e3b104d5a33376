/*
 * The whole rules file into rules.cdb (rules_compile), checked as it is
 * read and read back as the front will before it replaces the old one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "cdbcheck.h"
#include "rules.h"
#include "settings.h"
#include "textline.h"

int
rule_settings_check(const struct rule *r, char *err, size_t n)
{
	char		why[256];
	const char	*s;
	size_t		i, nl;

	for (i = 0; i < r->nsettings; i++) {
		s = r->settings[i];
		nl = strcspn(s, "=");
		if (s[nl] != '=')
			return rule_err(err, n, "a setting without '='");
		if (setting_rule_check(s, nl, s + nl + 1, why,
		    sizeof(why)) == -1)
			return rule_err(err, n, "%s", why);
	}
	return 0;
}

/*
 * Compiling: each block is written as its line is read, and its key kept
 * with the line number (24 octets) so that duplicates are found by one
 * sort at the end, not by a lookup per record.
 */
struct seen {
	unsigned char	key[RULE_KEY_MAX];
	uint32_t	line;
};

struct compile {
	const char	*path;
	FILE		*f;
	unsigned long	 lineno;
	int		 writing;
	struct cdb_make	 cm;
	struct seen	*seen;
	size_t		 nseen, cap;
	unsigned char	 len4[33], len6[129];
	char		 line[RULES_LINE_MAX + 2];
	unsigned char	 rec[RULE_RECORD_MAX];
	struct rule_src	 src;
};

/*
 * The next line into c->line, its LF dropped: 1, 0 at the end of the
 * file, -1 with errno, or -2 with err set for a line that is too long or
 * holds a NUL (read to its end all the same).
 */
static int
compile_read(struct compile *c, char *err, size_t n)
{
	size_t	len;
	int	r;

	/* Room for a CR past the longest line: rule_parse drops it. */
	r = textline_read(c->f, c->line, RULES_LINE_MAX + 1, &len);
	if (r == TEXTLINE_ERROR || r == TEXTLINE_EOF)
		return r;
	if (++c->lineno > UINT32_MAX) {
		rule_err(err, n, "%s:%lu: too many lines", c->path, c->lineno);
		return -2;
	}
	if (r == TEXTLINE_LONG) {
		rule_err(err, n, "%s:%lu: line too long (more than %d octets)",
		    c->path, c->lineno, RULES_LINE_MAX);
		return -2;
	}
	if (r == TEXTLINE_NUL) {
		rule_err(err, n, "%s:%lu: NUL in the line", c->path, c->lineno);
		return -2;
	}
	return 1;
}

/* Remembers a block's key for the duplicate check.  0 or -1 (ENOMEM). */
static int
compile_seen(struct compile *c, const unsigned char *key)
{
	struct seen	*s;
	size_t		 cap;

	if (c->nseen == c->cap) {
		cap = c->cap == 0 ? 4096 : c->cap * 2;
		if ((s = reallocarray(c->seen, cap, sizeof(*s))) == NULL)
			return -1;
		c->seen = s;
		c->cap = cap;
	}
	s = &c->seen[c->nseen++];
	memset(s->key, 0, sizeof(s->key));
	memcpy(s->key, key, key[0] == 4 ? 6 : RULE_KEY_MAX);
	s->line = c->lineno;
	return 0;
}

/* Adds the blocks of the rule in c->src.  0, -1 with errno, -2 (err). */
static int
compile_rule(struct compile *c, char *err, size_t n)
{
	const struct rule_src	*src = &c->src;
	unsigned char		 key[RULE_KEY_MAX];
	size_t			 i, klen, rlen;

	if (src->nblocks > RULES_COUNT_MAX - c->nseen) {
		rule_err(err, n, "%s:%lu: too many records (more than %d)",
		    c->path, c->lineno, RULES_COUNT_MAX);
		return -2;
	}
	if ((rlen = rule_encode(&src->rule, c->rec)) == 0) {
		rule_err(err, n, "%s:%lu: rule too long", c->path, c->lineno);
		return -2;
	}
	for (i = 0; i < src->nblocks; i++) {
		klen = rule_key(&src->block[i], key);
		if (compile_seen(c, key) == -1)
			return -1;
		if (key[0] == 4)
			c->len4[key[1]] = 1;
		else
			c->len6[key[1]] = 1;
		if (c->writing && cdbcheck_put(&c->cm, key, klen, c->rec,
		    rlen, CDB_PUT_ADD) != 0)
			return -1;
	}
	return 0;
}

/* Every line of the file.  0, -1 with errno, -2 with err set. */
static int
compile_scan(struct compile *c, char *err, size_t n)
{
	char	why[256];
	int	r;

	while ((r = compile_read(c, err, n)) == 1) {
		r = rule_parse(c->line, c->lineno, &c->src, why, sizeof(why));
		if (r == 1 && rule_settings_check(&c->src.rule, why,
		    sizeof(why)) == -1)
			r = -1;
		if (r == -1) {
			rule_err(err, n, "%s:%lu: %s", c->path, c->lineno,
			    why);
			return -2;
		}
		if (r == 1 && (r = compile_rule(c, err, n)) != 0)
			return r;
	}
	return r;
}

static int
seen_cmp(const void *a, const void *b)
{
	const struct seen	*x = a, *y = b;
	int			 r = memcmp(x->key, y->key, sizeof(x->key));

	if (r != 0)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* The block of a key, as "10.0.0.0/8". */
static void
key_format(const unsigned char *key, char *buf, size_t n)
{
	struct addr	a;
	char		text[ADDR_TEXT_MAX];

	memset(&a, 0, sizeof(a));
	a.family = key[0];
	memcpy(a.octet, key + 2, key[0] == 4 ? 4 : 16);
	addr_format(&a, text, sizeof(text));
	snprintf(buf, n, "%s/%u", text, key[1]);
}

/*
 * Two lines covering the same block: an error naming both.  Of all such
 * pairs the one whose later line comes first, as a reader meets it.
 */
static int
compile_dups(struct compile *c, char *err, size_t n)
{
	const struct seen	*dup = NULL;
	char			 block[ADDR_TEXT_MAX + 5];
	size_t			 i;

	if (c->nseen < 2)
		return 0;
	qsort(c->seen, c->nseen, sizeof(*c->seen), seen_cmp);
	for (i = 1; i < c->nseen; i++)
		if (memcmp(c->seen[i].key, c->seen[i - 1].key,
		    sizeof(c->seen[i].key)) == 0 &&
		    (dup == NULL || c->seen[i].line < dup[1].line))
			dup = &c->seen[i - 1];
	if (dup == NULL)
		return 0;
	key_format(dup->key, block, sizeof(block));
	rule_err(err, n, "%s:%lu: %s is also covered by line %lu (one block, "
	    "one rule)", c->path, (unsigned long)dup[1].line, block,
	    (unsigned long)dup->line);
	return -2;
}

/* The header record: the magic and the prefix lengths in use. */
static int
compile_head(struct compile *c)
{
	unsigned char	head[RULESDB_HEAD_LEN];

	rulesdb_head_make(head, c->len4, c->len6, c->nseen);
	return cdbcheck_put(&c->cm, RULESDB_HEAD_KEY, RULESDB_HEAD_KEYLEN,
	    head, sizeof(head), CDB_PUT_ADD);
}

/*
 * The file as written, read back as the front will: it opens, every
 * record decodes and is found by a lookup, and there are as many as were
 * compiled.  0, or -1 with errno EIO.
 */
static int
compile_verify(const struct compile *c, const char *path)
{
	struct rulesdb	db;
	unsigned long	n, all;
	int		r;

	if (rulesdb_open(&db, path) != 0) {
		errno = EIO;
		return -1;
	}
	r = rulesdb_rules(&db, &n);
	/* Every record found where it is: the hash tables are whole too. */
	if (r == 0)
		r = cdbcheck_verify(&db.cdb, &all);
	rulesdb_close(&db);
	if (r != 0 || n != c->nseen || all != n + 1) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Writes the database behind c: 0 or -1 with errno; out is untouched. */
static int
compile_out(struct compile *c, const char *out, char *err, size_t n)
{
	struct atomic	a;
	int		r, saved;

	if (atomic_open(&a, out, 0) == -1)
		return -1;
	if (cdb_make_start(&c->cm, a.fd) != 0) {
		atomic_abort(&a);
		return -1;
	}
	c->writing = 1;
	if ((r = compile_scan(c, err, n)) == 0 &&
	    (r = compile_dups(c, err, n)) == 0)
		r = compile_head(c) == 0 ? 0 : -1;
	saved = errno;
	/* Finishing also frees what cdb_make holds, so it runs on errors. */
	if (cdb_make_finish(&c->cm) != 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == 0 && compile_verify(c, a.tmp) == -1) {
		r = -1;
		saved = errno;
	}
	if (r != 0) {
		atomic_abort(&a);
		errno = saved;
		return r;
	}
	return atomic_commit(&a);
}

int
rules_compile(const char *in, const char *out, unsigned long *count,
    char *err, size_t n)
{
	struct compile	*c;
	int		 r, saved;

	*count = 0;
	if (n > 0)
		err[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return rule_err(err, n, "%s: %s", in, strerror(errno));
	c->path = in;
	if ((c->f = fopen(in, "re")) == NULL) {
		saved = errno;
		free(c);
		rule_err(err, n, "%s: %s", in, strerror(saved));
		errno = saved;
		return -1;
	}
	if (out != NULL)
		r = compile_out(c, out, err, n);
	else if ((r = compile_scan(c, err, n)) == 0)
		r = compile_dups(c, err, n);
	saved = r == -2 ? EINVAL : errno;
	if (r == -1 && n > 0 && err[0] == '\0')
		rule_err(err, n, "%s: %s", ferror(c->f) || out == NULL ? in :
		    out, strerror(saved));
	if (r == 0)
		*count = c->nseen;
	fclose(c->f);
	free(c->seen);
	free(c);
	errno = saved;
	return r == 0 ? 0 : -1;
}

/*
 * migrate_uidls (migrate.h): the carried UIDLs of a full scan, from
 * pop3d's own UIDMAP_FILE first, then from dovecot-uidlist and
 * courierpop3dsizelist for the messages not recorded yet, which are then
 * recorded.
 */
#include <sys/stat.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "migrate.h"
#include "strhash.h"

static_assert(UIDMAP_FILE_MAX >= (long)UIDMAP_ENTRIES_MAX *
    (UIDL_MAX + NAME_MAX + 2) + (long)sizeof(UIDMAP_MAGIC),
    "a full pop3d-uidl.map must be readable");

struct ent {
	const char	*name, *uidl;
	size_t		 name_len;
	uint8_t		 uidl_len;
};

/* Hash tables of 1 + an index, 0 free; size a power of two. */
struct htab {
	uint32_t	*slot;
	size_t		 size;
};

struct carry {
	struct maildir	*md;
	const char	*fmt;
	struct ent	*ents;
	size_t		 count, cap;
	struct htab	 msgs, names, uidls;
	size_t		 added, clashes, skipped, full;
	int		 map_unread;	/* exists, not read whole: keep it */
};

size_t	migrate_probe_max;

static int
htab_init(struct htab *t, size_t n)
{
	for (t->size = 64; t->size < 2 * n + 2; t->size *= 2)
		;
	return (t->slot = calloc(t->size, sizeof(*t->slot))) != NULL ? 0 : -1;
}

/* The slot holding key (per get), or the free one where it goes. */
static uint32_t *
htab_find(const struct htab *t, const char *k, size_t n,
    const char *(*get)(const struct carry *, uint32_t, size_t *),
    const struct carry *c)
{
	size_t		 i = strhash(k, n) & (t->size - 1), len, probes;
	const char	*s;

	for (probes = 1;; i = (i + 1) & (t->size - 1), probes++) {
		if (probes > migrate_probe_max)
			migrate_probe_max = probes;
		if (t->slot[i] == 0)
			return &t->slot[i];
		s = get(c, t->slot[i] - 1, &len);
		if (len == n && memcmp(s, k, n) == 0)
			return &t->slot[i];
	}
}

static const char *
msg_key(const struct carry *c, uint32_t i, size_t *n)
{
	*n = c->md->msgs[i].uniq_len;
	return c->md->msgs[i].name;
}

static const char *
name_key(const struct carry *c, uint32_t i, size_t *n)
{
	*n = c->ents[i].name_len;
	return c->ents[i].name;
}

static const char *
uidl_key(const struct carry *c, uint32_t i, size_t *n)
{
	*n = c->ents[i].uidl_len;
	return c->ents[i].uidl;
}

/*
 * Records name's UIDL unless either is recorded already: 1 added, 0
 * not (a clash when the UIDL is another's), -1 out of memory.
 */
static int
ent_add(struct carry *c, const char *name, size_t nlen, const char *uidl,
    size_t ulen)
{
	uint32_t	*ns, *us;
	struct ent	*e;

	if (!maildir_uidl_plain(uidl, ulen))
		return 0;
	if (c->count >= UIDMAP_ENTRIES_MAX ||
	    2 * c->count + 2 >= c->names.size) {
		c->full++;
		return 0;
	}
	if (*(ns = htab_find(&c->names, name, nlen, name_key, c)) != 0)
		return 0;
	if (*(us = htab_find(&c->uidls, uidl, ulen, uidl_key, c)) != 0) {
		c->clashes++;
		return 0;
	}
	if (c->count == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		if ((e = reallocarray(c->ents, c->cap, sizeof(*e))) == NULL)
			return -1;
		c->ents = e;
	}
	e = &c->ents[c->count];
	e->name = name;
	e->name_len = nlen;
	e->uidl = uidl;
	e->uidl_len = ulen;
	*ns = *us = ++c->count;
	return 1;
}

/* A line of UIDMAP_FILE: kept whatever messages there are now. */
static int
map_rec(void *arg, const struct dovecot_head *h, const struct dovecot_rec *r)
{
	struct carry	*c = arg;

	(void)h;
	return ent_add(c, r->name, r->name_len, r->pop3, r->pop3_len) == -1 ?
	    -1 : 0;
}

/*
 * A line of dovecot-uidlist, for a message listed now and not recorded:
 * its P UIDL, else (none, unusable or another's) the format's.
 */
static int
dovecot_rec(void *arg, const struct dovecot_head *h,
    const struct dovecot_rec *r)
{
	struct carry	*c = arg;
	char		 buf[UIDL_MAX + 1], *s;
	int		 n, ret;

	if (*htab_find(&c->msgs, r->name, r->name_len, msg_key, c) == 0 ||
	    *htab_find(&c->names, r->name, r->name_len, name_key, c) != 0)
		return 0;
	if (r->pop3 != NULL && (ret = ent_add(c, r->name, r->name_len,
	    r->pop3, r->pop3_len)) != 0)
		goto done;
	if ((n = dovecot_uidl_expand(c->fmt, h, r, buf, sizeof(buf))) <= 0)
		return 0;
	if ((s = maildir_strdup(c->md, buf, n)) == NULL)
		return -1;
	ret = ent_add(c, r->name, r->name_len, s, n);
done:
	if (ret == 1)
		c->added++;
	return ret == -1 ? -1 : 0;
}

/* A line of courierpop3dsizelist, as dovecot_rec: its UIDL as it is. */
static int
courier_rec(void *arg, const struct dovecot_head *h,
    const struct dovecot_rec *r)
{
	struct carry	*c = arg;
	char		*s;
	int		 ret;

	(void)h;
	if (*htab_find(&c->msgs, r->name, r->name_len, msg_key, c) == 0 ||
	    *htab_find(&c->names, r->name, r->name_len, name_key, c) != 0)
		return 0;
	if ((s = maildir_strdup(c->md, r->pop3, r->pop3_len)) == NULL)
		return -1;
	if ((ret = ent_add(c, r->name, r->name_len, s, r->pop3_len)) == 1)
		c->added++;
	return ret == -1 ? -1 : 0;
}

/*
 * The whole of a file of the maildrop, no larger than max, opened as the
 * maildrop's own files are (maildir_file_open: a regular file of this
 * user's).  1 read into *buf (malloc), 0 absent, 2 there but not read
 * whole (logged), -1 out of memory.
 */
static int
file_slurp(struct maildir *md, const char *name, size_t max, char **buf,
    size_t *len)
{
	struct stat	st;
	size_t		off;
	ssize_t		n = 0;
	int		fd;

	if ((fd = maildir_file_open(md, name, O_RDONLY)) == -1) {
		if (errno == ENOENT)
			return 0;
		log_file("uidl-file-ignored", name, errno);
		return 2;
	}
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size > max) {
		log_file("uidl-file-ignored", name, EFBIG);
		close(fd);
		return 2;
	}
	if ((*buf = malloc(st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	for (off = 0; off < (size_t)st.st_size; off += n)
		if ((n = read(fd, *buf + off, st.st_size - off)) <= 0)
			break;
	close(fd);
	if (off < (size_t)st.st_size) {
		log_file("uidl-file-ignored", name, n == 0 ? EIO : errno);
		free(*buf);
		*buf = NULL;
		return 2;
	}
	*len = off;
	return 1;
}

/* UIDMAP_FILE anew, synced: it is the only record once the old goes. */
static int
map_write(struct carry *c)
{
	struct atomic	 a;
	FILE		*f;
	size_t		 i;
	int		 fd, bad;

	if (atomic_openat(&a, c->md->fd, UIDMAP_FILE, 0) == -1)
		return -1;
	if ((fd = dup(a.fd)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		atomic_abort(&a);
		return -1;
	}
	fputs(UIDMAP_MAGIC, f);
	for (i = 0; i < c->count; i++)
		fprintf(f, "%.*s %.*s\n", (int)c->ents[i].uidl_len,
		    c->ents[i].uidl, (int)c->ents[i].name_len,
		    c->ents[i].name);
	/* fclose alone can succeed after a write that failed earlier. */
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		atomic_abort(&a);
		return -1;
	}
	return atomic_commit(&a);
}

/* Every listed message that has a record gets its UIDL. */
static int
carry_apply(struct carry *c, size_t *carried)
{
	struct maildir	*md = c->md;
	struct msg	*m;
	struct ent	*e;
	uint32_t	 s;
	size_t		 i;

	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if ((s = *htab_find(&c->names, m->name, m->uniq_len, name_key,
		    c)) == 0)
			continue;
		e = &c->ents[s - 1];
		if ((m->uidl = maildir_strdup(md, e->uidl, e->uidl_len)) ==
		    NULL)
			return -1;
		m->uidl_len = e->uidl_len;
		m->carried = 1;
		(*carried)++;
	}
	return 0;
}

static void
carry_log(const struct carry *c, size_t carried, int wrote)
{
	struct logline	l;

	if (c->added == 0 && c->clashes == 0 && c->skipped == 0 &&
	    c->full == 0 && wrote == 0)
		return;
	logline_start(&l, "uidl-carried");
	logline_num(&l, "messages", carried);
	logline_num(&l, "recorded", c->added);
	logline_num(&l, "clashes", c->clashes);
	logline_num(&l, "bad-lines", c->skipped);
	if (c->full > 0)
		logline_num(&l, "over-max", c->full);
	if (wrote != 0)
		logline_str(&l, "map", wrote == 1 ? "written" :
		    wrote == 2 ? "kept-unread" : "unwritable");
	logline_emit(&l);
}

typedef int (*parse_fn)(const char *, size_t, dovecot_fn, void *, size_t *);

/* An old server's file, when there is one: 0, or -1 out of memory. */
static int
old_file(struct carry *c, const char *name, size_t max, parse_fn parse,
    dovecot_fn fn, char **buf)
{
	size_t	len;
	int	r;

	if ((r = file_slurp(c->md, name, max, buf, &len)) != 1)
		return r == -1 ? -1 : 0;
	if ((r = parse(*buf, len, fn, c, &c->skipped)) == 1)
		log_file("uidl-file-ignored", name, EINVAL);
	return r == -1 ? -1 : 0;
}

/* Lines in buf, at most max: what the tables need room for. */
static size_t
lines_in(const char *buf, size_t len, size_t max)
{
	const char	*p = buf, *end = buf + len;
	size_t		 n = 0;

	while (n < max && (p = memchr(p, '\n', end - p)) != NULL) {
		p++;
		n++;
	}
	return n;
}

/*
 * Reads both files and fills c, its tables sized by the lines of the map
 * and the messages listed (dovecot-uidlist adds only those); 0, or -1
 * out of memory.
 */
static int
carry_read(struct carry *c, char **map, char **dove, char **courier)
{
	size_t	len = 0, room;
	int	r;

	if ((r = file_slurp(c->md, UIDMAP_FILE, UIDMAP_FILE_MAX, map,
	    &len)) == -1)
		return -1;
	c->map_unread = r == 2;
	room = (r == 1 ? lines_in(*map, len, UIDMAP_ENTRIES_MAX) : 0) +
	    c->md->count;
	if (htab_init(&c->names, room) == -1 ||
	    htab_init(&c->uidls, room) == -1)
		return -1;
	if (r == 1 && (r = uidmap_parse(*map, len, map_rec, c,
	    &c->skipped)) != 0) {
		if (r == -1)
			return -1;
		log_file("uidl-file-ignored", UIDMAP_FILE, EINVAL);
		c->map_unread = 1;
	}
	if (old_file(c, DOVECOT_UIDLIST_FILE, DOVECOT_UIDLIST_MAX,
	    dovecot_uidlist_parse, dovecot_rec, dove) == -1 ||
	    old_file(c, COURIER_SIZELIST_FILE, COURIER_SIZELIST_MAX,
	    courier_sizelist_parse, courier_rec, courier) == -1)
		return -1;
	return 0;
}

static int
exists(const struct maildir *md, const char *name)
{
	return faccessat(md->fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int
migrate_uidls(struct maildir *md, const char *fmt)
{
	struct carry	 c;
	char		*map = NULL, *dove = NULL, *courier = NULL;
	size_t		 i, carried = 0;
	uint32_t	*s;
	int		 ret = -1, wrote = 0;

	/* Nothing to carry: one failed lookup each, no more. */
	if (md->fd == -1 || (!exists(md, UIDMAP_FILE) &&
	    !exists(md, DOVECOT_UIDLIST_FILE) &&
	    !exists(md, COURIER_SIZELIST_FILE)))
		return 0;
	memset(&c, 0, sizeof(c));
	c.md = md;
	c.fmt = fmt != NULL && *fmt != '\0' ? fmt : DOVECOT_UIDL_FORMAT_DEFAULT;
	if (htab_init(&c.msgs, md->count) == -1)
		goto out;
	for (i = 0; i < md->count; i++)
		if (*(s = htab_find(&c.msgs, md->msgs[i].name,
		    md->msgs[i].uniq_len, msg_key, &c)) == 0)
			*s = i + 1;
	if (carry_read(&c, &map, &dove, &courier) == -1)
		goto out;
	/* Rewritten, a map not read whole would lose what it carried. */
	if (c.added > 0)
		wrote = c.map_unread ? 2 : map_write(&c) == 0 ? 1 : -1;
	if (wrote == -1) {
		log_file("uidl-map-unwritable", UIDMAP_FILE, errno);
		md->uidmap_unwritten = 1;
	}
	if (carry_apply(&c, &carried) == -1)
		goto out;
	carry_log(&c, carried, wrote);
	ret = 0;
out:
	free(c.msgs.slot);
	free(c.names.slot);
	free(c.uidls.slot);
	free(c.ents);
	free(map);
	free(dove);
	free(courier);
	return ret;
}

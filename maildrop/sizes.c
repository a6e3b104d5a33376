#include <sys/stat.h>

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "le64.h"
#include "log.h"
#include "pop3d_limits.h"
#include "sizes.h"
#include "wire.h"

/*
 * Record layout: key = unique name and inode (8 octets), so that two files
 * of one unique name have a record each; value = file size, wire size and
 * mtime in nanoseconds, each 8 octets little-endian.  A header record under
 * SIZES_MAGIC holds the record count, so that entries of removed messages
 * are noticed (stale) and the file is rewritten without them.
 */
#define SIZES_MAGIC	"\0pop3d-sizes-3"
#define SIZES_MAGIC_LEN	(sizeof(SIZES_MAGIC) - 1)
#define SIZES_VALUE	24
#define SIZES_KEY_MAX	(NAME_MAX + 8)
#define SIZES_TMP	SIZES_FILE ".tmp"	/* one writer: the lock holder */

/* The key of a message's record: its unique name, then its inode. */
static size_t
cache_key(const struct msg *m, unsigned char *key)
{
	memcpy(key, m->name, m->uniq_len);
	le64_put(key + m->uniq_len, m->st_ino);
	return m->uniq_len + 8;
}

struct cache {
	int		fd;
	int		usable;
	uint64_t	records;
	struct cdb	cdb;
};

static void
cache_close(struct cache *c)
{
	if (c->usable) {
		cdb_free(&c->cdb);
		close(c->fd);
	}
	c->usable = 0;
}

/* Opens the cache: 1 usable, 0 absent, -1 corrupt (rebuilt, not trusted). */
static int
cache_open(struct maildir *md, struct cache *c)
{
	struct stat	st;
	unsigned char	v[8];

	c->usable = 0;
	c->fd = openat(md->fd, SIZES_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (c->fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(c->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < 2048 || st.st_size > SIZECACHE_FILE_MAX ||
	    cdb_init(&c->cdb, c->fd) != 0) {
		close(c->fd);
		return -1;
	}
	c->usable = 1;
	if (cdb_find(&c->cdb, SIZES_MAGIC, SIZES_MAGIC_LEN) != 1 ||
	    cdb_datalen(&c->cdb) != 8 ||
	    cdb_read(&c->cdb, v, 8, cdb_datapos(&c->cdb)) != 0) {
		cache_close(c);
		return -1;
	}
	c->records = le64_get(v);
	return 1;
}

/*
 * 1 and the wire size when a record matches the file (size and mtime; the
 * inode is in the key), 0 when there is none or it is out of date, -1 when
 * it is corrupt.
 */
static int
cache_get(struct cache *c, const struct msg *m, uint64_t *wire)
{
	unsigned char	v[SIZES_VALUE], key[SIZES_KEY_MAX];
	uint64_t	disk, w;
	int		r;

	r = cdb_find(&c->cdb, key, cache_key(m, key));
	if (r != 1)
		return r;
	if (cdb_datalen(&c->cdb) != SIZES_VALUE ||
	    cdb_read(&c->cdb, v, SIZES_VALUE, cdb_datapos(&c->cdb)) != 0)
		return -1;
	disk = le64_get(v);
	w = le64_get(v + 8);
	/* Every octet is sent once, plus at most a CR each and a CRLF. */
	if (w < disk || w > 2 * disk + 2)
		return -1;
	if (disk != m->disk || (int64_t)le64_get(v + 16) != m->mtime_ns)
		return 0;
	*wire = w;
	return 1;
}

/* Writes the cache anew: a temporary file, fsync, rename over the old. */
static int
cache_write(struct maildir *md)
{
	struct cdb_make	 cm;
	unsigned char	 v[SIZES_VALUE], key[SIZES_KEY_MAX];
	uint64_t	 records = 0;
	size_t		 i;
	int		 fd, ok;

	fd = openat(md->fd, SIZES_TMP, O_RDWR | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	ok = cdb_make_start(&cm, fd) == 0;
	for (i = 0; ok && i < md->count; i++) {
		const struct msg *m = &md->msgs[i];

		if (m->size_from != SIZE_CACHE && m->size_from != SIZE_READ)
			continue;
		le64_put(v, m->disk);
		le64_put(v + 8, m->wire);
		le64_put(v + 16, (uint64_t)m->mtime_ns);
		ok = cdb_make_add(&cm, key, cache_key(m, key), v,
		    SIZES_VALUE) == 0;
		records++;
	}
	le64_put(v, records);
	/* cdb_make_finish frees what cdb_make holds, so it runs regardless. */
	ok = ok && cdb_make_add(&cm, SIZES_MAGIC, SIZES_MAGIC_LEN, v, 8) == 0;
	ok = cdb_make_finish(&cm) == 0 && ok;
	ok = ok && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && renameat(md->fd, SIZES_TMP, md->fd, SIZES_FILE) == 0)
		return 0;
	unlinkat(md->fd, SIZES_TMP, 0);
	return -1;
}

/* Errors that say this process, not the message, is in trouble. */
static int
error_of_process(int err)
{
	return err == ENOMEM || err == EMFILE || err == ENFILE;
}

/* What the cache and the later checks know a message's file by. */
static void
msg_identity(struct msg *m, const struct stat *st)
{
	m->disk = st->st_size;
	m->st_ino = st->st_ino;
	m->mtime_ns = maildir_mtime_ns(st);
}

/* The file's identity and size: 1 known, 0 gone, -1 error or no file. */
static int
size_stat(struct maildir *md, struct msg *m)
{
	struct stat	st;

	/* Found again if another program renamed it since the scan. */
	if (maildir_stat_msg(md, m, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : EINVAL;
		return -1;
	}
	msg_identity(m, &st);
	return 1;
}

/* Reads a message to learn its sizes: 1 done, 0 gone, -1 error. */
static int
size_compute(struct maildir *md, struct msg *m)
{
	struct stat	st;
	int		fd;

	if ((fd = maildir_open_msg(md, m)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || wire_size_fd(fd, &m->wire) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	msg_identity(m, &st);
	m->size_from = SIZE_READ;
	return 1;
}

/*
 * One message's size: 1 known, 0 gone, -1 unreadable, -2 corrupt cache.
 * Every message is stat'ed, ",W=" or not: its inode is how later opens
 * and the UPDATE know it is still the same file.
 */
static int
size_one(struct maildir *md, struct msg *m, struct cache *c)
{
	int	r;

	if ((r = size_stat(md, m)) != 1)
		return r;
	if (m->size_from == SIZE_NAME)
		return 1;
	if (c->usable && (r = cache_get(c, m, &m->wire)) != 0) {
		if (r == -1)
			return -2;
		m->size_from = SIZE_CACHE;
		return 1;
	}
	return size_compute(md, m);
}

static void
stats_count(struct sizes_stats *s, const struct maildir *md)
{
	size_t	i;

	s->from_name = s->from_cache = s->computed = 0;
	for (i = 0; i < md->count; i++)
		switch (md->msgs[i].size_from) {
		case SIZE_NAME:
			s->from_name++;
			break;
		case SIZE_CACHE:
			s->from_cache++;
			break;
		case SIZE_READ:
			s->computed++;
			break;
		}
}

/* Sizes every message once: 0, -1 (process out of resources), -2 corrupt. */
static int
sizes_pass(struct maildir *md, struct cache *c, struct sizes_stats *s)
{
	struct msg	*m;
	size_t		 i;
	int		 r;

	s->vanished = s->unreadable = 0;
	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if (m->size_from != SIZE_NAME)
			m->size_from = SIZE_NONE;
		if ((r = size_one(md, m, c)) == -2)
			return -2;
		if (r == 1)
			continue;
		if (r == -1 && error_of_process(errno))
			return -1;
		if (r == 0)
			s->vanished++;
		else {
			log_file("skip", m->name, errno);
			s->unreadable++;
		}
		m->size_from = SIZE_NONE;	/* pruned */
	}
	return 0;
}

int
sizes_fill(struct maildir *md, struct sizes_stats *s)
{
	struct cache	c;
	int		state, r;

	memset(s, 0, sizeof(*s));
	state = cache_open(md, &c);
	s->cache = state == 1 ? "ok" : state == 0 ? "none" : "corrupt";
	if ((r = sizes_pass(md, &c, s)) == -2) {
		/* Trust none of it, not even the records that matched. */
		cache_close(&c);
		s->cache = "corrupt";
		r = sizes_pass(md, &c, s);
	}
	if (r == -1) {
		cache_close(&c);
		return -1;
	}
	stats_count(s, md);
	if (c.usable && s->computed == 0 && s->from_cache == c.records) {
		cache_close(&c);
		return 0;
	}
	if (c.usable)
		s->cache = "stale";
	cache_close(&c);
	if ((s->computed > 0 || s->from_cache > 0 || state != 0) &&
	    cache_write(md) == -1) {
		log_file("cache-unwritable", SIZES_FILE, errno);
		s->cache = "unwritable";
	}
	return 0;
}

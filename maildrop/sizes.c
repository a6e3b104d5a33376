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
#include "scancache.h"
#include "sizes.h"
#include "wire.h"

/*
 * Record layout: key = unique name and inode (8 octets), so that two files
 * of one unique name have a record each; value = file size, wire size and
 * mtime in nanoseconds, then a checksum of the key and those 24 octets,
 * each 8 octets little-endian.  A header record under SIZES_MAGIC holds
 * the record count, so that entries of removed messages are noticed
 * (stale) and the file is rewritten without them.
 */
#define SIZES_MAGIC	"\0pop3d-sizes-4"
#define SIZES_MAGIC_LEN	(sizeof(SIZES_MAGIC) - 1)
#define SIZES_DATA	24	/* what the checksum follows */

/* The checksum of a record: its key, then the first SIZES_DATA octets. */
static uint64_t
record_sum(const unsigned char *key, size_t klen, const unsigned char *v)
{
	char	buf[SIZES_KEY_MAX + SIZES_DATA];

	memcpy(buf, key, klen);
	memcpy(buf + klen, v, SIZES_DATA);
	return scancache_sum(buf, klen + SIZES_DATA);
}

void
sizes_record_make(const unsigned char *key, size_t klen,
    const struct sizes_record *r, unsigned char *v)
{
	le64_put(v, r->disk);
	le64_put(v + 8, r->wire);
	le64_put(v + 16, (uint64_t)r->mtime_ns);
	le64_put(v + SIZES_DATA, record_sum(key, klen, v));
}

int
sizes_record_parse(const unsigned char *key, size_t klen,
    const unsigned char *v, size_t vlen, struct sizes_record *r)
{
	if (klen <= 8 || klen > SIZES_KEY_MAX || vlen != SIZES_VALUE ||
	    le64_get(v + SIZES_DATA) != record_sum(key, klen, v))
		return 0;
	r->disk = le64_get(v);
	r->wire = le64_get(v + 8);
	r->mtime_ns = (int64_t)le64_get(v + 16);
	/* Every octet is sent once, plus at most a CR each and a CRLF. */
	if (r->wire < r->disk || r->wire > 2 * r->disk + 2)
		return 0;
	return 1;
}

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
	/* Not a regular file of this user's: ignored, and replaced. */
	c->fd = maildir_file_open(md, SIZES_FILE, O_RDONLY);
	if (c->fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(c->fd, &st) == -1 || st.st_size < 2048 ||
	    st.st_size > SIZECACHE_FILE_MAX || cdb_init(&c->cdb, c->fd) != 0) {
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
 * it is corrupt (its checksum fails, or its sizes are impossible).
 */
static int
cache_get(struct cache *c, const struct msg *m, uint64_t *wire)
{
	unsigned char	v[SIZES_VALUE], key[SIZES_KEY_MAX];
	struct sizes_record rec;
	size_t		klen = cache_key(m, key);
	int		r;

	r = cdb_find(&c->cdb, key, klen);
	if (r != 1)
		return r;
	if (cdb_datalen(&c->cdb) != SIZES_VALUE ||
	    cdb_read(&c->cdb, v, SIZES_VALUE, cdb_datapos(&c->cdb)) != 0 ||
	    !sizes_record_parse(key, klen, v, SIZES_VALUE, &rec))
		return -1;
	if (rec.disk != m->disk || rec.mtime_ns != m->mtime_ns)
		return 0;
	*wire = rec.wire;
	return 1;
}

/*
 * Writes the cache anew: a file no other writer can share, fsync, rename
 * over the old.
 */
static int
cache_write(struct maildir *md)
{
	struct cdb_make	 cm;
	struct maildir_tmp t;
	struct sizes_record rec;
	unsigned char	 v[SIZES_VALUE], key[SIZES_KEY_MAX];
	uint64_t	 records = 0;
	size_t		 i, klen;
	int		 ok;

	if (maildir_tmp_open(md, &t) == -1)
		return -1;
	ok = cdb_make_start(&cm, t.fd) == 0;
	for (i = 0; ok && i < md->count; i++) {
		const struct msg *m = &md->msgs[i];

		if (m->size_from != SIZE_CACHE && m->size_from != SIZE_READ)
			continue;
		rec.disk = m->disk;
		rec.wire = m->wire;
		rec.mtime_ns = m->mtime_ns;
		klen = cache_key(m, key);
		sizes_record_make(key, klen, &rec, v);
		ok = cdb_make_add(&cm, key, klen, v, SIZES_VALUE) == 0;
		records++;
	}
	le64_put(v, records);
	/* cdb_make_finish frees what cdb_make holds, so it runs regardless. */
	ok = ok && cdb_make_add(&cm, SIZES_MAGIC, SIZES_MAGIC_LEN, v, 8) == 0;
	ok = cdb_make_finish(&cm) == 0 && ok;
	ok = ok && fsync(t.fd) == 0;
	if (!ok) {
		maildir_tmp_discard(md, &t);
		return -1;
	}
	/* An empty directory of the cache's name is in the way: removed. */
	if (unlinkat(md->fd, SIZES_FILE, AT_REMOVEDIR) == -1 &&
	    errno != ENOTDIR && errno != ENOENT && errno != ENOTEMPTY &&
	    errno != EEXIST) {
		maildir_tmp_discard(md, &t);
		return -1;
	}
	return maildir_tmp_install(md, &t, SIZES_FILE);
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
			maildir_log_file("skip", m->dir, m->name, errno);
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
	if (state == -1)
		log_file("cache-damaged", SIZES_FILE, errno);
	if ((r = sizes_pass(md, &c, s)) == -2) {
		/*
		 * A record failed its checksum: trust none of it, not even
		 * the records that matched, and read every message.
		 */
		log_file("cache-damaged", SIZES_FILE, 0);
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

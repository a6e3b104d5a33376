#include <sys/stat.h>

#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3d_limits.h"
#include "sizes.h"
#include "wire.h"

/*
 * Record layout: key = unique name, value = disk size and wire size, each
 * 8 octets little-endian.  A header record under SIZES_MAGIC holds the
 * record count, so that entries of removed messages are noticed (stale).
 */
#define SIZES_MAGIC	"\0pop3d-sizes-1"
#define SIZES_MAGIC_LEN	(sizeof(SIZES_MAGIC) - 1)

static void
put64(unsigned char *p, uint64_t v)
{
	int	i;

	for (i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct cache {
	int		fd;
	int		open;
	uint64_t	records;
	struct cdb	cdb;
};

/* Opens the cache: 1 usable, 0 absent, -1 corrupt (rebuilt, not trusted). */
static int
cache_open(struct maildir *md, struct cache *c)
{
	struct stat		 st;
	unsigned char		 v[8];

	c->open = 0;
	c->fd = openat(md->fd, SIZES_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (c->fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(c->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < 2048 || st.st_size > SIZECACHE_FILE_MAX ||
	    cdb_init(&c->cdb, c->fd) != 0) {
		close(c->fd);
		return -1;
	}
	c->open = 1;
	if (cdb_find(&c->cdb, SIZES_MAGIC, SIZES_MAGIC_LEN) != 1 ||
	    cdb_datalen(&c->cdb) != 8 ||
	    cdb_read(&c->cdb, v, 8, cdb_datapos(&c->cdb)) != 0)
		return -1;
	c->records = get64(v);
	return 1;
}

static void
cache_close(struct cache *c)
{
	if (c->open) {
		cdb_free(&c->cdb);
		close(c->fd);
	}
	c->open = 0;
}

/* 1 and the wire size when a record matches the file, 0 if none, -1 bad. */
static int
cache_get(struct cache *c, const struct msg *m, uint64_t *wire)
{
	unsigned char	v[16];
	uint64_t	disk, w;
	int		r;

	r = cdb_find(&c->cdb, m->name, m->uniq_len);
	if (r != 1)
		return r;
	if (cdb_datalen(&c->cdb) != 16 ||
	    cdb_read(&c->cdb, v, 16, cdb_datapos(&c->cdb)) != 0)
		return -1;
	disk = get64(v);
	w = get64(v + 8);
	/* Every octet is sent once, plus at most a CR each and a CRLF. */
	if (w < disk || w > 2 * disk + 2)
		return -1;
	if (disk != m->disk)
		return 0;		/* another file of that name: stale */
	*wire = w;
	return 1;
}

/* Writes the cache anew: a temporary file, fsync, rename over the old. */
static int
cache_write(struct maildir *md)
{
	struct cdb_make	 cm;
	char		 tmp[64];
	unsigned char	 v[16];
	uint64_t	 records = 0;
	size_t		 i;
	int		 fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", SIZES_FILE,
	    (long)getpid()) >= sizeof(tmp))
		return -1;
	fd = openat(md->fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (cdb_make_start(&cm, fd) != 0)
		goto fail;
	for (i = 0; i < md->count; i++) {
		const struct msg *m = &md->msgs[i];

		if (!m->wire_known || !m->disk_known)
			continue;
		put64(v, m->disk);
		put64(v + 8, m->wire);
		if (cdb_make_add(&cm, m->name, m->uniq_len, v, 16) != 0)
			goto fail;
		records++;
	}
	put64(v, records);
	if (cdb_make_add(&cm, SIZES_MAGIC, SIZES_MAGIC_LEN, v, 8) != 0 ||
	    cdb_make_finish(&cm) != 0 || fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (renameat(md->fd, tmp, md->fd, SIZES_FILE) == -1) {
		unlinkat(md->fd, tmp, 0);
		return -1;
	}
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlinkat(md->fd, tmp, 0);
	return -1;
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
	m->disk = st.st_size;
	m->disk_known = 1;
	m->wire_known = 1;
	return 1;
}

/* The file size, from ",S=" or stat: 1 known, 0 gone, -1 error. */
static int
size_disk(struct maildir *md, struct msg *m)
{
	struct stat	st;

	if (m->disk_known)
		return 1;
	if (fstatat(maildir_dirfd(md, m), m->name, &st,
	    AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	m->disk = st.st_size;
	m->disk_known = 1;
	return 1;
}

int
sizes_fill(struct maildir *md, struct sizes_stats *s)
{
	struct cache	 c;
	struct msg	*m;
	size_t		 i, hits = 0, cacheable = 0;
	int		 cached, r;

	memset(s, 0, sizeof(*s));
	cached = cache_open(md, &c);
	s->cache = cached == 1 ? "ok" : cached == 0 ? "none" : "corrupt";
	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if (m->wire_known) {
			s->from_name++;
			continue;
		}
		if ((r = size_disk(md, m)) == 0 && (r = size_compute(md, m)) ==
		    0) {
			s->vanished++;
			continue;
		}
		if (r == -1)
			goto fail;
		cacheable++;
		if (m->wire_known) {		/* just read by size_compute */
			s->computed++;
			continue;
		}
		if (cached == 1 && (r = cache_get(&c, m, &m->wire)) == 1) {
			m->wire_known = 1;
			s->from_cache++;
			hits++;
			continue;
		}
		if (r == -1 && cached == 1) {
			cached = -1;		/* stop trusting any of it */
			s->cache = "corrupt";
		}
		if ((r = size_compute(md, m)) == 0) {
			s->vanished++;
			continue;
		}
		if (r == -1)
			goto fail;
		s->computed++;
	}
	if (cached == 1 && s->computed == 0 && hits == c.records) {
		cache_close(&c);
		return 0;
	}
	cache_close(&c);
	if (cached == 1)
		s->cache = "stale";
	if (cacheable > 0 || cached != 0) {
		if (cache_write(md) == -1) {
			log_warn("cannot write the size cache %s: %s",
			    SIZES_FILE, strerror(errno));
			s->cache = "unwritable";
		}
	}
	return 0;
fail:
	cache_close(&c);
	return -1;
}

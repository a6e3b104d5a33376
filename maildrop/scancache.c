#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "le64.h"
#include "log.h"
#include "pop3d_limits.h"
#include "scancache.h"

/*
 * File layout (pop3d-maildrop.8, FILES), all integers little-endian:
 * a 104-octet header (magic, uid, the message maximum it was made for,
 * message count, then at 40 the truncated flag and at 41 the list flag
 * (an octet each, then 6 zero octets), device, inode and mtime of cur/
 * and of new/, the time the scan began), the records in session order,
 * and a 64-bit checksum of everything before it, the list flag counted as
 * 0.  A record: order seconds, d_ino, st_ino, file size, mtime (ns), wire
 * size (8 octets each), order microseconds (4), name length (2), UIDL
 * length (1; 0 when the UIDL is the unique part of the name), flags (1:
 * bit 0 new/, bits 1-2 where the size came from); then the name and a
 * NUL, then the UIDL.
 */
#define SC_MAGIC	"pop3d-scan-2\0\0\0"
#define SC_MAGIC_LEN	16
#define SC_HEAD		104
#define SC_REC		56
#define SC_TAIL		8
#define SC_TRUNCATED	40
#define SC_LIST		41	/* cleared in place: outside the checksum */

/*
 * A checksum against torn or damaged files, not against forgery (only the
 * mailbox's owner can write the file, and the mail is theirs anyway).
 */
uint64_t
scancache_sum(const char *p, size_t n)
{
	uint64_t	h = 0x9e3779b97f4a7c15ULL ^ n, w;
	char		word[8];
	size_t		i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(word, p + i, 8);
		if (i == SC_TRUNCATED)
			word[SC_LIST - SC_TRUNCATED] = 0;
		memcpy(&w, word, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, p + i, n - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 29;
}

void
scancache_begin(struct maildir *md, struct scancache *sc)
{
	struct stat	cur, new;

	memset(sc, 0, sizeof(*sc));
	sc->state = "none";
	if (fstat(md->curfd, &cur) == -1 || fstat(md->newfd, &new) == -1)
		return;
	sc->cur_dev = cur.st_dev;
	sc->cur_ino = cur.st_ino;
	sc->cur_mtime = maildir_mtime_ns(&cur);
	sc->new_dev = new.st_dev;
	sc->new_ino = new.st_ino;
	sc->new_mtime = maildir_mtime_ns(&new);
	sc->known = 1;
}

void
scancache_scanning(struct maildir *md, struct scancache *sc)
{
	int64_t	now;

	if (sc->known && maildir_now(md, &now) == 0)
		sc->began = now;
	else
		sc->known = 0;	/* no start time: nothing to trust */
}

static void
head_put(char *h, const struct maildir *md, const struct scancache *sc)
{
	memset(h, 0, SC_HEAD);
	memcpy(h, SC_MAGIC, SC_MAGIC_LEN);
	le64_put(h + 16, geteuid());
	le64_put(h + 24, md->max);
	le64_put(h + 32, md->count);
	h[SC_TRUNCATED] = md->truncated != 0;
	le64_put(h + 48, sc->cur_dev);
	le64_put(h + 56, sc->cur_ino);
	le64_put(h + 64, (uint64_t)sc->cur_mtime);
	le64_put(h + 72, sc->new_dev);
	le64_put(h + 80, sc->new_ino);
	le64_put(h + 88, (uint64_t)sc->new_mtime);
	le64_put(h + 96, (uint64_t)sc->began);
}

/* The stored UIDL: empty when it is the name's unique part. */
static size_t
rec_uidl_len(const struct msg *m)
{
	if (m->uidl == m->name && m->uidl_len == m->uniq_len)
		return 0;
	return m->uidl_len;
}

static char *
rec_put(char *p, const struct msg *m)
{
	size_t	nlen = strlen(m->name), ulen = rec_uidl_len(m);

	le64_put(p, (uint64_t)m->order_sec);
	le64_put(p + 8, m->d_ino);
	le64_put(p + 16, m->st_ino);
	le64_put(p + 24, m->disk);
	le64_put(p + 32, (uint64_t)m->mtime_ns);
	le64_put(p + 40, m->wire);
	memcpy(p + 48, &(uint32_t){ htole32(m->order_usec) }, 4);
	memcpy(p + 52, &(uint16_t){ htole16(nlen) }, 2);
	p[54] = (char)ulen;
	p[55] = (char)((m->dir == MD_NEW) | m->size_from << 1);
	memcpy(p + SC_REC, m->name, nlen + 1);
	memcpy(p + SC_REC + nlen + 1, m->uidl, ulen);
	return p + SC_REC + nlen + 1 + ulen;
}

char *
scancache_image(const struct maildir *md, const struct scancache *sc,
    int list, size_t *lenp)
{
	const struct msg *m;
	size_t		 i, len = SC_HEAD + SC_TAIL;
	char		*buf, *p;

	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		len += SC_REC + strlen(m->name) + 1 + rec_uidl_len(m);
	}
	if (len > SCANCACHE_FILE_MAX || (buf = malloc(len)) == NULL)
		return NULL;
	head_put(buf, md, sc);
	for (i = 0, p = buf + SC_HEAD; i < md->count; i++)
		p = rec_put(p, &md->msgs[i]);
	buf[SC_LIST] = list != 0;
	le64_put(p, scancache_sum(buf, len - SC_TAIL));
	*lenp = len;
	return buf;
}

/*
 * Whether an mtime was SCANCACHE_SETTLE_SEC old when the scan began, and
 * skew seconds more: where each host stamps with its own clock, one
 * whose clock is behind could otherwise make a change of this very tick
 * look settled.  A clock ahead makes the mtime look young: only a cost.
 */
static int
settled(int64_t mtime, int64_t began, int skew)
{
	return began - mtime >=
	    ((int64_t)SCANCACHE_SETTLE_SEC + skew) * 1000000000;
}

/*
 * Whether a header can be this user's cache at all (either job): its
 * magic, owner, flags and count.
 */
static int
head_sane(const char *h, uint64_t *count)
{
	static const char zero[6];

	if (memcmp(h, SC_MAGIC, SC_MAGIC_LEN) != 0 ||
	    le64_get(h + 16) != geteuid() ||
	    (unsigned char)h[SC_TRUNCATED] > 1 ||
	    (unsigned char)h[SC_LIST] > 1 || memcmp(h + 42, zero, 6) != 0)
		return 0;
	*count = le64_get(h + 32);
	return *count <= MAILDROP_MSGS_MAX;
}

/*
 * Whether the header's list is for these directories as they are now and
 * this max, made by a scan that began when their mtimes were settled.
 */
static int
head_list(const char *h, const struct maildir *md,
    const struct scancache *sc)
{
	int64_t	began = (int64_t)le64_get(h + 96);

	return h[SC_LIST] == 1 &&
	    settled(sc->cur_mtime, began, md->skew_sec) &&
	    settled(sc->new_mtime, began, md->skew_sec) &&
	    le64_get(h + 24) == md->max && le64_get(h + 32) <= md->max &&
	    le64_get(h + 48) == sc->cur_dev && le64_get(h + 56) == sc->cur_ino &&
	    (int64_t)le64_get(h + 64) == sc->cur_mtime &&
	    le64_get(h + 72) == sc->new_dev && le64_get(h + 80) == sc->new_ino &&
	    (int64_t)le64_get(h + 88) == sc->new_mtime;
}

/* One record at p (n octets left) into m: its length, or 0 if invalid. */
static size_t
rec_parse(char *p, size_t n, struct msg *m)
{
	uint32_t	usec;
	uint16_t	nlen;
	size_t		ulen, len;
	const char	*colon;
	int		from;

	if (n < SC_REC)
		return 0;
	memcpy(&usec, p + 48, 4);
	memcpy(&nlen, p + 52, 2);
	usec = le32toh(usec);
	nlen = le16toh(nlen);
	ulen = (unsigned char)p[54];
	from = (unsigned char)p[55] >> 1;
	len = SC_REC + (size_t)nlen + 1 + ulen;
	if (nlen == 0 || nlen > NAME_MAX || ulen > UIDL_MAX || len > n ||
	    usec > 999999 || ((unsigned char)p[55] & ~7) != 0 ||
	    (from != SIZE_NAME && from != SIZE_CACHE && from != SIZE_READ))
		return 0;
	m->name = p + SC_REC;
	if (m->name[nlen] != '\0' || memchr(m->name, '\0', nlen) != NULL ||
	    memchr(m->name, '/', nlen) != NULL || m->name[0] == '.')
		return 0;
	m->order_sec = (int64_t)le64_get(p);
	m->order_usec = usec;
	m->d_ino = le64_get(p + 8);
	m->st_ino = le64_get(p + 16);
	m->disk = le64_get(p + 24);
	m->mtime_ns = (int64_t)le64_get(p + 32);
	m->wire = le64_get(p + 40);
	m->dir = (unsigned char)p[55] & 1 ? MD_NEW : MD_CUR;
	m->size_from = from;
	m->deleted = 0;
	colon = memchr(m->name, ':', nlen);
	m->uniq_len = colon != NULL ? (size_t)(colon - m->name) : nlen;
	if (ulen == 0) {
		m->uidl = m->name;
		m->uidl_len = m->uniq_len;
	} else {
		m->uidl = m->name + nlen + 1;
		m->uidl_len = ulen;
	}
	/* Every octet is sent once, plus at most a CR each and a CRLF. */
	if (from != SIZE_NAME && (m->wire < m->disk ||
	    m->wire > 2 * m->disk + 2))
		return 0;
	return len;
}

/*
 * An image's records, when the image is whole and sane: 1 with a
 * malloc'd array, 0 invalid, -1 out of memory.
 */
static int
image_parse(char *buf, size_t len, struct msg **msgsp, uint64_t *countp,
    uint64_t *octetsp)
{
	struct msg	*msgs;
	uint64_t	 count, octets = 0;
	size_t		 i, off, r;

	if (len < SC_HEAD + SC_TAIL || len > SCANCACHE_FILE_MAX ||
	    le64_get(buf + len - SC_TAIL) != scancache_sum(buf, len - SC_TAIL) ||
	    !head_sane(buf, &count) ||
	    count > (len - SC_HEAD - SC_TAIL) / SC_REC)
		return 0;
	if ((msgs = calloc(count ? count : 1, sizeof(*msgs))) == NULL)
		return -1;
	for (i = 0, off = SC_HEAD; i < count; i++, off += r) {
		r = rec_parse(buf + off, len - SC_TAIL - off, &msgs[i]);
		if (r == 0 || octets + msgs[i].wire < octets)
			break;
		octets += msgs[i].wire;
	}
	if (i < count || off != len - SC_TAIL) {
		free(msgs);
		return 0;
	}
	*msgsp = msgs;
	*countp = count;
	*octetsp = octets;
	return 1;
}

int
scancache_parse(struct maildir *md, const struct scancache *sc, char *buf,
    size_t len)
{
	struct msg	*msgs;
	uint64_t	 count, octets;
	size_t		 i;
	int		 r;

	if (!sc->known || len < SC_HEAD || !head_list(buf, md, sc))
		return 0;
	if ((r = image_parse(buf, len, &msgs, &count, &octets)) != 1)
		return r;
	/* UIDLs go on the wire; size hints have no use for them. */
	for (i = 0; i < count; i++)
		if (!maildir_uidl_plain(msgs[i].uidl, msgs[i].uidl_len)) {
			free(msgs);
			return 0;
		}
	free(md->msgs);
	md->msgs = msgs;
	md->count = md->cap = count;
	md->octets = octets;
	md->truncated = buf[SC_TRUNCATED] != 0;
	return 1;
}

int
scancache_parse_hints(struct scancache *sc, char *buf, size_t len)
{
	struct msg	*msgs;
	uint64_t	 count, octets;
	int		 r;

	scancache_done(sc);
	if ((r = image_parse(buf, len, &msgs, &count, &octets)) != 1)
		return r;
	sc->hints.recs = msgs;
	sc->hints.count = count;
	if (sizes_hints_index(&sc->hints) == -1) {
		scancache_done(sc);
		return -1;
	}
	sc->hints_only = buf[SC_LIST] == 0;
	return 1;
}

void
scancache_done(struct scancache *sc)
{
	sizes_hints_free(&sc->hints);
	free(sc->image);
	sc->image = NULL;
	sc->hints_only = 0;
}

/*
 * Reads the whole file: into an arena chunk when its header offers the
 * list for these directories (*list set; md's messages will point into
 * it), else into a buffer of its own for the hints (which outlive a scan
 * that starts md's arena anew).  1, 0 (absent or not one to read:
 * *damaged says which), -1 out of memory.
 */
static int
file_read(struct maildir *md, const struct scancache *sc, char **bufp,
    size_t *lenp, int *damaged, int *list)
{
	struct stat	 st;
	char		*buf, head[SC_HEAD];
	uint64_t	 count;
	size_t		 off;
	ssize_t		 n;
	int		 fd;

	/* Not a regular file of this user's: ignored, and replaced. */
	*damaged = 1;
	if ((fd = maildir_file_open(md, SCANCACHE_FILE, O_RDONLY)) == -1) {
		*damaged = errno != ENOENT;
		return 0;
	}
	/* No more than count records can hold: read no more than that. */
	if (fstat(fd, &st) == -1 || st.st_size < SC_HEAD + SC_TAIL ||
	    st.st_size > SCANCACHE_FILE_MAX ||
	    pread(fd, head, SC_HEAD, 0) != SC_HEAD ||
	    !head_sane(head, &count) || (uint64_t)st.st_size > SC_HEAD +
	    SC_TAIL + count * (SC_REC + NAME_MAX + 1 + UIDL_MAX)) {
		close(fd);
		return 0;
	}
	*list = head_list(head, md, sc);
	buf = *list ? maildir_alloc(md, st.st_size) : malloc(st.st_size);
	if (buf == NULL) {
		close(fd);
		return -1;
	}
	for (off = 0; off < (size_t)st.st_size; off += n)
		if ((n = read(fd, buf + off, st.st_size - off)) <= 0)
			break;
	close(fd);
	if (off != (size_t)st.st_size) {
		if (!*list)
			free(buf);
		return 0;
	}
	*bufp = buf;
	*lenp = off;
	*damaged = 0;
	return 1;
}

/* A file that can serve neither job: logged and out of the way. */
static void
file_damaged(struct maildir *md)
{
	log_file("cache-damaged", SCANCACHE_FILE, 0);
	if (unlinkat(md->fd, SCANCACHE_FILE, 0) == -1 && errno == EISDIR)
		(void)unlinkat(md->fd, SCANCACHE_FILE, AT_REMOVEDIR);
}

/* The file's records as size hints: 0, or -1 out of memory. */
static int
load_hints(struct scancache *sc, char *buf, size_t len, int *damaged)
{
	int	r;

	if ((r = scancache_parse_hints(sc, buf, len)) == 1)
		sc->image = buf;
	else
		free(buf);
	*damaged = r == 0;
	return r == -1 ? -1 : 0;
}

int
scancache_load(struct maildir *md, struct scancache *sc,
    struct sizes_stats *st)
{
	char	*buf;
	size_t	 len, i;
	int	 r, damaged, list = 0;

	memset(st, 0, sizeof(*st));
	if (!sc->known)
		return 0;
	if ((r = file_read(md, sc, &buf, &len, &damaged, &list)) == 1) {
		/* A list that does not parse is damaged: no hints either. */
		if (list && (r = scancache_parse(md, sc, buf, len)) == 0)
			damaged = 1;
		else if (!list)
			r = load_hints(sc, buf, len, &damaged);
	}
	if (r == -1)
		return -1;
	if (r == 0) {
		if (damaged)
			file_damaged(md);
		return 0;
	}
	sc->state = "index";
	for (i = 0; i < md->count; i++)
		if (md->msgs[i].size_from == SIZE_NAME)
			st->from_name++;
		else
			st->from_cache++;
	return 1;
}

/* Whether the directories are as scancache_begin saw them, old enough. */
static int
dirs_settled(struct maildir *md, const struct scancache *sc)
{
	struct stat	cur, new;

	if (fstat(md->curfd, &cur) == -1 || fstat(md->newfd, &new) == -1)
		return 0;
	return maildir_mtime_ns(&cur) == sc->cur_mtime &&
	    maildir_mtime_ns(&new) == sc->new_mtime &&
	    (uint64_t)cur.st_ino == sc->cur_ino &&
	    (uint64_t)new.st_ino == sc->new_ino &&
	    settled(sc->cur_mtime, sc->began, md->skew_sec) &&
	    settled(sc->new_mtime, sc->began, md->skew_sec);
}

/* Writes the image (no fsync: a torn file fails its checksum). */
static int
file_write(struct maildir *md, const char *buf, size_t len)
{
	struct atomic	a;
	size_t		off;
	ssize_t		n;

	if (atomic_openat(&a, md->fd, SCANCACHE_FILE, ATOMIC_NOSYNC) == -1)
		return -1;
	for (off = 0; off < len; off += n)
		if ((n = write(a.fd, buf + off, len - off)) <= 0) {
			if (n == 0)
				errno = EIO;
			atomic_abort(&a);
			return -1;
		}
	return atomic_commit(&a);
}

/*
 * Whether the file read holds what a hints-only file written now would:
 * its list flag clear, every message sized from it, no record to spare.
 */
static int
hints_current(const struct maildir *md, const struct scancache *sc,
    const struct sizes_stats *st)
{
	return sc->hints_only && st->computed == 0 &&
	    sc->hints.count == md->count;
}

void
scancache_save(struct maildir *md, struct scancache *sc,
    const struct sizes_stats *st)
{
	const char	*list_state = "written";
	char		*buf;
	size_t		 len;

	if (!sc->known) {
		scancache_done(sc);
		return;
	}
	/*
	 * A message skipped or gone would vanish from later sessions without
	 * its log line; moving new/ to cur/ changed both mtimes just now (the
	 * next session, finding them settled, writes the list).
	 */
	if (st->unreadable > 0 || st->vanished > 0 || md->skipped > 0)
		list_state = "skipped";
	else if (!dirs_settled(md, sc))
		list_state = "young";
	if (strcmp(list_state, "written") != 0 && hints_current(md, sc, st)) {
		sc->state = "kept";
		scancache_done(sc);
		return;
	}
	scancache_done(sc);
	sc->state = list_state;
	buf = scancache_image(md, sc, strcmp(list_state, "written") == 0,
	    &len);
	if (buf != NULL && file_write(md, buf, len) == 0) {
		free(buf);
		/* The previous versions' size cache: this file serves it. */
		(void)unlinkat(md->fd, SIZES_OLD_FILE, 0);
		return;
	}
	free(buf);
	log_file("cache-unwritable", SCANCACHE_FILE, errno);
	sc->state = "unwritable";
}

void
scancache_drop_list(struct maildir *md)
{
	int	fd, saved = errno;

	fd = maildir_file_open(md, SCANCACHE_FILE, O_RDWR);
	if (fd == -1 && errno == ENOENT) {
		errno = saved;
		return;
	}
	if (fd == -1 || pwrite(fd, "", 1, SC_LIST) != 1)
		(void)unlinkat(md->fd, SCANCACHE_FILE, 0);
	if (fd != -1)
		close(fd);
	errno = saved;
}

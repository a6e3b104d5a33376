#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "io.h"
#include "le64.h"
#include "log.h"
#include "maildir.h"
#include "mbox_cache.h"
#include "pop3d_limits.h"

#define MC_MAGIC	"pop3d-mbox-1\0\0\0"
#define MC_MAGIC_LEN	16
#define MC_HEAD		(88 + MBOX_CACHE_TAIL)
#define MC_REC		42
#define MC_SUM		8
#define MC_OPEN_FLAGS	(O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | \
			    O_CLOEXEC)

/* Header fields (offsets). */
#define H_VERSION	16
#define H_UID		24
#define H_COUNT		32
#define H_DEV		40
#define H_INO		48
#define H_SIZE		56
#define H_MTIME		64
#define H_CTIME		72
#define H_TAILLEN	80
#define H_TAIL		88

/*
 * A checksum against torn or damaged files, not against forgery: only
 * the user can write the file, and the mail is theirs anyway.  Taken a
 * word at a time, so that the writer can sum its buffer as it goes.
 */
#define SUM_SEED	0x9e3779b97f4a7c15ULL

static uint64_t
sum_words(uint64_t h, const char *p, size_t n)
{
	uint64_t	w;
	size_t		i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ le64toh(w)) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

/* The last n octets (any number), of total in all. */
static uint64_t
sum_end(uint64_t h, const char *p, size_t n, uint64_t total)
{
	char	w[8] = { 0 };

	h = sum_words(h, p, n);
	memcpy(w, p + (n & ~(size_t)7), n & 7);
	h = (h ^ le64_get(w) ^ total) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 29;
}

uint64_t
mbox_cache_sum(const char *p, size_t n)
{
	return sum_end(SUM_SEED, p, n, n);
}

/* The checksum of a file taken as it is read, in pieces of any size. */
struct mc_sum {
	uint64_t	h, total;
	char		part[8];	/* a word cut by a piece's end */
	size_t		plen;
};

static void
sum_start(struct mc_sum *s)
{
	s->h = SUM_SEED;
	s->total = 0;
	s->plen = 0;
}

static void
sum_feed(struct mc_sum *s, const char *p, size_t n)
{
	size_t	add;

	s->total += n;
	if (s->plen > 0) {
		add = n < 8 - s->plen ? n : 8 - s->plen;
		memcpy(s->part + s->plen, p, add);
		s->plen += add;
		p += add;
		n -= add;
		if (s->plen < 8)
			return;
		s->h = sum_words(s->h, s->part, 8);
		s->plen = 0;
	}
	s->h = sum_words(s->h, p, n);
	s->plen = n & 7;
	memcpy(s->part, p + (n - s->plen), s->plen);
}

static uint64_t
sum_final(const struct mc_sum *s)
{
	return sum_end(s->h, s->part, s->plen, s->total);
}

static int64_t
ctime_ns(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* Whether a header can be this user's cache of this mbox, and its count. */
static int
head_sane(const char *h, const struct stat *st, uint64_t *count)
{
	static const char zero[MBOX_CACHE_TAIL];
	uint64_t	k = le64_get(h + H_TAILLEN), size = le64_get(h + H_SIZE);

	*count = le64_get(h + H_COUNT);
	return memcmp(h, MC_MAGIC, MC_MAGIC_LEN) == 0 &&
	    le64_get(h + H_VERSION) == MBOX_PARSE_VERSION &&
	    le64_get(h + H_UID) == geteuid() &&
	    *count <= MBOX_CACHE_MAX_RECORDS &&
	    le64_get(h + H_DEV) == (uint64_t)st->st_dev &&
	    le64_get(h + H_INO) == (uint64_t)st->st_ino &&
	    k <= MBOX_CACHE_TAIL && k == (size < MBOX_CACHE_TAIL ? size :
	    MBOX_CACHE_TAIL) &&
	    memcmp(h + H_TAIL + k, zero, MBOX_CACHE_TAIL - k) == 0 &&
	    (size == 0) == (*count == 0);
}

/*
 * The records, read from an image in memory (fd -1) or from the file
 * through one buffer, so that a load's memory does not grow with them.
 */
struct mc_in {
	int		 fd;
	struct mc_sum	*sum;		/* what is read is summed, or NULL */
	const char	*p;		/* the octets at hand */
	size_t		 have, at;	/* how many, and the next one */
	uint64_t	 next;		/* the file offset of p[have] */
	uint64_t	 end;		/* the file offset of the checksum */
	char		*buf;		/* IO_FILEBUF octets, for a file */
};


static void
in_start(struct mc_in *in, int fd, const char *image, uint64_t end,
    char *buf)
{
	in->fd = fd;
	in->sum = NULL;
	in->end = end;
	in->buf = buf;
	in->p = fd == -1 ? image : buf;
	in->have = fd == -1 ? end : 0;
	in->at = fd == -1 ? MC_HEAD : 0;
	in->next = fd == -1 ? end : MC_HEAD;
}

/* Where the next octet is in the file. */
static uint64_t
in_off(const struct mc_in *in)
{
	return in->next - (in->have - in->at);
}

/* At least n (at most a record's) octets at hand before the checksum: 0, -1. */
static int
in_need(struct mc_in *in, size_t n)
{
	size_t	rem = in->have - in->at, want;

	if (rem >= n)
		return 0;
	if (in->fd == -1 || in_off(in) + n > in->end)
		return -1;
	memmove(in->buf, in->p + in->at, rem);
	in->p = in->buf;
	in->at = 0;
	want = IO_FILEBUF - rem;
	if (want > in->end - in->next)
		want = in->end - in->next;
	if (io_pread_exact(in->fd, in->buf + rem, want, in->next) == -1)
		return -1;
	if (in->sum != NULL)
		sum_feed(in->sum, in->buf + rem, want);
	in->have = rem + want;
	in->next += want;
	return 0;
}

/*
 * The next record into f, checked against the previous record's end
 * *end (where the next From_ line may start, give or take the
 * separator): 0, or -1 if no parse could have made it.
 */
static int
rec_parse(struct mc_in *in, struct mbox_found *f, uint64_t *end,
    uint64_t size, uint64_t i)
{
	const char	*r;
	size_t		 ulen;
	unsigned	 flags;

	if (in_need(in, MC_REC) == -1)
		return -1;
	r = in->p + in->at;
	ulen = (unsigned char)r[40];
	flags = (unsigned char)r[41];
	if (ulen == 0 || ulen > UIDL_MAX || flags > 3 ||
	    in_need(in, MC_REC + ulen) == -1)
		return -1;
	r = in->p + in->at;
	in->at += MC_REC + ulen;
	memset(f, 0, sizeof(*f));
	f->from_off = le64_get(r);
	f->off = le64_get(r + 8);
	f->len = le64_get(r + 16);
	f->wire = le64_get(r + 24);
	f->from_digest = le64_get(r + 32);
	memcpy(f->uidl, r + MC_REC, ulen);
	f->uidl_len = (uint8_t)ulen;
	f->uidl_header = flags & 1;
	f->internal = (flags & 2) != 0;
	/* The first From_ line at 0, each after the last's separator. */
	if ((i == 0 ? f->from_off != 0 : f->from_off < *end + 1 ||
	    f->from_off > *end + 2) || f->off < f->from_off + 5 ||
	    f->off > size || f->len > size - f->off ||
	    f->wire < f->len || f->wire > 2 * f->len + 2 ||
	    (f->internal && i != 0) ||
	    !maildir_uidl_plain(f->uidl, f->uidl_len))
		return -1;
	*end = f->off + f->len;
	return 0;
}

/*
 * Every record after the (sane) header h, each checked and given to fn
 * (NULL: only checked; the last is left in *last): 0, -1 one is bad, -2
 * fn returned nonzero.
 */
static int
records_walk(struct mc_in *in, const char *h, mbox_found_fn fn, void *arg,
    struct mbox_found *last)
{
	uint64_t	count = le64_get(h + H_COUNT), size = le64_get(h + H_SIZE);
	uint64_t	i, end = 0;

	for (i = 0; i < count; i++) {
		if (rec_parse(in, last, &end, size, i) == -1)
			return -1;
		if (fn != NULL && fn(arg, last) != 0)
			return -2;
	}
	/* Nothing left over; the last message ends at the end, less one empty line. */
	if (in_off(in) != in->end || (count > 0 && size - end > 2))
		return -1;
	return 0;
}

/* Whether a file of len octets can hold the records h counts. */
static int
len_fits(const char *h, uint64_t len)
{
	uint64_t	count = le64_get(h + H_COUNT);

	return len >= MC_HEAD + MC_SUM && len <= MBOX_CACHE_FILE_MAX &&
	    count <= (len - MC_HEAD - MC_SUM) / MC_REC &&
	    len <= MC_HEAD + MC_SUM + count * (MC_REC + UIDL_MAX);
}

long
mbox_cache_parse(const char *buf, size_t len, const struct stat *st,
    mbox_found_fn fn, void *arg)
{
	struct mc_in		in;
	struct mbox_found	f;
	uint64_t		count;
	int			r;

	if (len < MC_HEAD + MC_SUM || !len_fits(buf, len) ||
	    le64_get(buf + len - MC_SUM) != mbox_cache_sum(buf, len - MC_SUM) ||
	    !head_sane(buf, st, &count))
		return -1;
	/* Checked whole first: fn sees nothing of a file that is bad. */
	in_start(&in, -1, buf, len - MC_SUM, NULL);
	if (records_walk(&in, buf, NULL, NULL, &f) != 0)
		return -1;
	in_start(&in, -1, buf, len - MC_SUM, NULL);
	if (fn != NULL && (r = records_walk(&in, buf, fn, arg, &f)) != 0)
		return r;
	return (long)count;
}

/*
 * Opens the cache when it is a regular file of this user's: the
 * descriptor, or -1 (*damaged: there is a file, but not one to read).
 */
static int
file_open(int dirfd, const char *name, int *damaged)
{
	struct stat	st;
	int		fd;

	/* Not even opened when it is no regular file: a device could act. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		*damaged = errno != ENOENT;
		return -1;
	}
	*damaged = 1;
	if (!S_ISREG(st.st_mode))
		return -1;
	if ((fd = openat(dirfd, name, MC_OPEN_FLAGS)) == -1) {
		*damaged = errno != ENOENT;
		return -1;
	}
	if (fstat(fd, &st) == -1 || !maildir_file_ours(&st) ||
	    st.st_size < MC_HEAD + MC_SUM || st.st_size > MBOX_CACHE_FILE_MAX) {
		close(fd);
		return -1;
	}
	*damaged = 0;
	return fd;
}

/*
 * The file's header (into head, its length into *len), when it names
 * this mbox: 1 (the header is sane), 0 none or another mbox's (or this
 * one's, shrunk), -1 damaged.
 */
static int
file_head(int fd, const struct stat *mbox_st, char *head, uint64_t *len)
{
	struct stat	st;
	uint64_t	count;

	if (fstat(fd, &st) == -1 || io_pread_exact(fd, head, MC_HEAD, 0) == -1 ||
	    memcmp(head, MC_MAGIC, MC_MAGIC_LEN) != 0)
		return -1;
	/*
	 * An mbox made anew, or another, or an index an older parser wrote
	 * (after an upgrade): stale, not damaged.  A version not yet known
	 * (a downgrade, a flipped bit) is damaged: head_sane says so.
	 */
	if (le64_get(head + H_VERSION) < MBOX_PARSE_VERSION ||
	    le64_get(head + H_DEV) != (uint64_t)mbox_st->st_dev ||
	    le64_get(head + H_INO) != (uint64_t)mbox_st->st_ino ||
	    le64_get(head + H_SIZE) > (uint64_t)mbox_st->st_size)
		return 0;
	if (!head_sane(head, mbox_st, &count) || !len_fits(head, st.st_size))
		return -1;
	*len = st.st_size;
	return 1;
}

/*
 * The records after the sane header head, each given to fn as it is
 * read, the file summed on the way and its checksum checked at the end:
 * 0, -1 damaged, -2 fn returned nonzero.
 */
static int
file_walk(int fd, const char *head, uint64_t len, char *buf,
    mbox_found_fn fn, void *arg, struct mbox_found *last)
{
	struct mc_in	in;
	struct mc_sum	sum;
	char		want[MC_SUM];
	int		r;

	sum_start(&sum);
	sum_feed(&sum, head, MC_HEAD);
	in_start(&in, fd, NULL, len - MC_SUM, buf);
	in.sum = &sum;
	if ((r = records_walk(&in, head, fn, arg, last)) != 0)
		return r;
	if (io_pread_exact(fd, want, MC_SUM, len - MC_SUM) == -1 ||
	    le64_get(want) != sum_final(&sum))
		return -1;
	return 0;
}

/* Whether the k octets at t end with an empty line ("\n" or "\r\n"). */
static int
ends_empty(const char *t, size_t k)
{
	return k >= 2 && t[k - 1] == '\n' && (t[k - 2] == '\n' ||
	    (k >= 3 && t[k - 2] == '\r' && t[k - 3] == '\n'));
}

/*
 * What the checked image h covers of the mbox as it is now (module
 * header): MBOX_CACHE_WHOLE, MBOX_CACHE_PREFIX (*resume set) or NONE.
 */
static int
coverage(const char *h, const struct mbox_found *last, int mbox_fd,
    const struct stat *st, uint64_t *resume)
{
	char		 t[MBOX_CACHE_TAIL + 5];
	uint64_t	 size = le64_get(h + H_SIZE), k = le64_get(h + H_TAILLEN);

	if (size == (uint64_t)st->st_size &&
	    (int64_t)le64_get(h + H_MTIME) == maildir_mtime_ns(st) &&
	    (int64_t)le64_get(h + H_CTIME) == ctime_ns(st))
		return MBOX_CACHE_WHOLE;
	/* A file rewritten at its size, or shrunk, or grown from nothing. */
	if (size == 0 || (uint64_t)st->st_size < size + 5 ||
	    io_pread_exact(mbox_fd, t, k + 5, size - k) == -1 ||
	    memcmp(t, h + H_TAIL, k) != 0 || !ends_empty(t, k) ||
	    memcmp(t + k, "From ", 5) != 0 || mbox_from_at(mbox_fd, last) != 1)
		return MBOX_CACHE_NONE;
	*resume = size;
	return MBOX_CACHE_PREFIX;
}

/* The damaged file, named by its absolute path wherever dirfd is. */
static void
log_damaged(int dirfd, const char *name)
{
	char	fdpath[64], dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	ssize_t	n;

	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", dirfd);
	if (dirfd != AT_FDCWD &&
	    (n = readlink(fdpath, dir, sizeof(dir) - 1)) > 0) {
		dir[n] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		name = path;
	}
	log_file("cache-damaged", name, 0);
}

int
mbox_cache_load(int dirfd, const char *name, int mbox_fd,
    const struct stat *st, mbox_found_fn fn, void *arg, uint64_t *resume)
{
	struct mbox_found last;
	uint64_t	 len;
	char		 head[MC_HEAD], *buf;
	int		 fd, r, damaged;

	*resume = 0;
	if ((fd = file_open(dirfd, name, &damaged)) == -1) {
		if (damaged)
			log_damaged(dirfd, name);
		return MBOX_CACHE_NONE;
	}
	if ((buf = malloc(IO_FILEBUF)) == NULL) {
		close(fd);
		return -1;
	}
	/* Read once: what fn got of a file found bad, the caller drops. */
	if ((r = file_head(fd, st, head, &len)) == 1 &&
	    (r = file_walk(fd, head, len, buf, fn, arg, &last)) == 0)
		r = coverage(head, &last, mbox_fd, st, resume);
	else if (r == -2)
		r = -1;
	else if (r == -1) {
		log_damaged(dirfd, name);
		r = MBOX_CACHE_NONE;
	}
	free(buf);
	close(fd);
	return r;
}

/* The writer: the file through one buffer, summed as it goes. */
struct mc_out {
	struct atomic	a;
	uint64_t	h, total;
	size_t		len;
	int		failed;
	char		buf[IO_FILEBUF + MC_SUM];
};

static void
mc_write(struct mc_out *o, size_t n)
{
	size_t	off;
	ssize_t	w;

	for (off = 0; off < n && !o->failed; off += w)
		if ((w = write(o->a.fd, o->buf + off, n - off)) <= 0) {
			if (w == 0)
				errno = EIO;
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			o->failed = 1;
		}
	o->total += n;
	o->len = 0;
}

static void
mc_put(struct mc_out *o, const void *p, size_t n)
{
	const char	*s = p;
	size_t		 k;

	while (n > 0) {
		k = IO_FILEBUF - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == IO_FILEBUF) {	/* a multiple of 8 octets */
			o->h = sum_words(o->h, o->buf, o->len);
			mc_write(o, o->len);
		}
	}
}

static void
head_put(char *h, const struct stat *st, size_t count, const char *tail,
    size_t k)
{
	memset(h, 0, MC_HEAD);
	memcpy(h, MC_MAGIC, MC_MAGIC_LEN);
	le64_put(h + H_VERSION, MBOX_PARSE_VERSION);
	le64_put(h + H_UID, geteuid());
	le64_put(h + H_COUNT, count);
	le64_put(h + H_DEV, st->st_dev);
	le64_put(h + H_INO, st->st_ino);
	le64_put(h + H_SIZE, st->st_size);
	le64_put(h + H_MTIME, (uint64_t)maildir_mtime_ns(st));
	le64_put(h + H_CTIME, (uint64_t)ctime_ns(st));
	le64_put(h + H_TAILLEN, k);
	memcpy(h + H_TAIL, tail, k);
}

static void
rec_put(struct mc_out *o, const struct mbox_found *f)
{
	char	r[MC_REC];

	le64_put(r, f->from_off);
	le64_put(r + 8, f->off);
	le64_put(r + 16, f->len);
	le64_put(r + 24, f->wire);
	le64_put(r + 32, f->from_digest);
	r[40] = (char)f->uidl_len;
	r[41] = (char)((f->uidl_header != 0) | (f->internal != 0) << 1);
	mc_put(o, r, MC_REC);
	mc_put(o, f->uidl, f->uidl_len);
}

int
mbox_cache_save(int dirfd, const char *name, int mbox_fd,
    const struct stat *st, mbox_cache_get get, void *arg, size_t count)
{
	struct mc_out		*o;
	struct mbox_found	 f;
	char			 head[MC_HEAD], tail[MBOX_CACHE_TAIL];
	size_t			 i, k;
	int			 saved;

	k = st->st_size < MBOX_CACHE_TAIL ? (size_t)st->st_size :
	    MBOX_CACHE_TAIL;
	if (count > MBOX_CACHE_MAX_RECORDS || (count == 0) != (k == 0)) {
		errno = count > MBOX_CACHE_MAX_RECORDS ? EFBIG : EINVAL;
		return -1;
	}
	if (io_pread_exact(mbox_fd, tail, k, st->st_size - k) == -1)
		return -1;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return -1;
	if (atomic_openat(&o->a, dirfd, name, ATOMIC_NOSYNC) == -1) {
		free(o);
		return -1;
	}
	o->h = SUM_SEED;
	head_put(head, st, count, tail, k);
	mc_put(o, head, MC_HEAD);
	for (i = 0; i < count && !o->failed; i++) {
		get(arg, i, &f);
		rec_put(o, &f);
	}
	le64_put(o->buf + o->len, sum_end(o->h, o->buf, o->len,
	    o->total + o->len));
	mc_write(o, o->len + MC_SUM);
	if (o->failed) {
		saved = errno;
		atomic_abort(&o->a);
		free(o);
		errno = saved;
		return -1;
	}
	saved = atomic_commit(&o->a);
	free(o);
	return saved;
}

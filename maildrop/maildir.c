#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "maildir.h"
#include "num.h"
#include "scancache.h"

/* Names live in chunks freed together: one allocation per 64 KB of names. */
struct arena {
	struct arena	*next;
	size_t		 used, size;
	char		 data[];
};

#define ARENA_CHUNK	65536

static void	ids_forget(struct maildir *);

char *
maildir_strdup(struct maildir *md, const char *s, size_t n)
{
	struct arena	*c = md->arena;
	char		*p;
	size_t		 size;

	if (c == NULL || c->size - c->used < n + 1) {
		size = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->next = md->arena;
		c->used = 0;
		c->size = size;
		md->arena = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

char *
maildir_alloc(struct maildir *md, size_t n)
{
	struct arena	*c;

	if ((c = malloc(sizeof(*c) + n)) == NULL)
		return NULL;
	c->used = c->size = n;
	if (md->arena != NULL) {
		/* Behind the chunk names are being added to. */
		c->next = md->arena->next;
		md->arena->next = c;
	} else {
		c->next = NULL;
		md->arena = c;
	}
	return c->data;
}

static void
arena_free(struct arena *a)
{
	struct arena	*next;

	for (; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
}

int
maildir_error_temporary(int err)
{
	switch (err) {
	case EACCES: case EPERM: case ENOENT: case ENOTDIR:
	case ELOOP: case ENAMETOOLONG:
		return 0;
	default:
		return 1;
	}
}

int
maildir_open(struct maildir *md, const char *path, size_t max)
{
	memset(md, 0, sizeof(*md));
	md->fd = md->curfd = md->newfd = md->lockfd = -1;
	md->max = max;
	md->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (md->fd == -1)
		return -1;
	md->curfd = openat(md->fd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (md->curfd == -1)
		goto fail;
	md->newfd = openat(md->fd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (md->newfd == -1)
		goto fail;
	return 0;
fail:
	maildir_close(md);
	return -1;
}

static void
msgs_forget(struct maildir *md)
{
	ids_forget(md);
	free(md->msgs);
	md->msgs = NULL;
	md->count = md->cap = 0;
	arena_free(md->arena);
	md->arena = NULL;
}

void
maildir_close(struct maildir *md)
{
	int	saved = errno;

	if (md->fd != -1)
		close(md->fd);
	if (md->curfd != -1)
		close(md->curfd);
	if (md->newfd != -1)
		close(md->newfd);
	if (md->lockfd != -1)
		close(md->lockfd);
	md->fd = md->curfd = md->newfd = md->lockfd = -1;
	msgs_forget(md);
	errno = saved;
}

int
maildir_writable(const struct maildir *md, const char **what)
{
	/*
	 * The effective ids decide, as they do for the renames and unlinks
	 * to come; EROFS comes back for a read-only mount.
	 */
	*what = ".";
	if (faccessat(md->fd, ".", W_OK | X_OK, AT_EACCESS) == -1)
		return -1;
	*what = "cur";
	if (faccessat(md->curfd, ".", W_OK | X_OK, AT_EACCESS) == -1)
		return -1;
	*what = "new";
	if (faccessat(md->newfd, ".", W_OK | X_OK, AT_EACCESS) == -1)
		return -1;
	return 0;
}

/*
 * Every file this stage opens in the maildrop is opened so that nothing
 * named like it can make the open wait (a FIFO), take a terminal, or lead
 * elsewhere (a symbolic link); maildir_file_ours then says whether it is
 * a file to use.
 */
#define MAILDIR_OPEN_FLAGS	(O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC)

int
maildir_file_open(const struct maildir *md, const char *name, int flags)
{
	struct stat	st;
	int		fd, saved;

	/*
	 * Not even opened when it is no regular file: opening a device can
	 * do something.  The fstat below settles what was opened.
	 */
	if (fstatat(md->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : S_ISDIR(st.st_mode) ?
		    EISDIR : EINVAL;
		return -1;
	}
	if ((fd = openat(md->fd, name, flags | MAILDIR_OPEN_FLAGS,
	    0600)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!maildir_file_ours(&st)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int
maildir_file_ours(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid();
}

/*
 * Whether a lock file found unusable may be removed: the maildrop is this
 * user's own directory, so that what is in it is theirs to replace.
 */
static int
lock_repairable(const struct maildir *md)
{
	struct stat	st;

	return fstat(md->fd, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid();
}

/*
 * Removes an unusable MAILDIR_LOCK_FILE (a symbolic link, FIFO, device,
 * directory, or a file not this user's or that this user cannot open):
 * 0, or -1 with errno.  No session of this user holds a lock on it: none
 * can open it, or none would use it.
 */
static int
lock_repair(struct maildir *md, int err)
{
	struct stat	st;
	struct logline	l;
	char		what[64];

	if (!lock_repairable(md)) {
		errno = err;
		return -1;
	}
	if (fstatat(md->fd, MAILDIR_LOCK_FILE, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (unlinkat(md->fd, MAILDIR_LOCK_FILE,
	    S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == -1)
		return errno == ENOENT ? 0 : -1;
	snprintf(what, sizeof(what), "%s uid %lu mode %04o",
	    S_ISLNK(st.st_mode) ? "symlink" : S_ISFIFO(st.st_mode) ? "fifo" :
	    S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file" :
	    "special", (unsigned long)st.st_uid,
	    (unsigned)(st.st_mode & 07777));
	logline_start(&l, "lock-repaired");
	logline_path(&l, "file", MAILDIR_LOCK_FILE);
	logline_str(&l, "was", what);
	logline_emit(&l);
	return 0;
}

/*
 * Whether an error opening MAILDIR_LOCK_FILE says it is the wrong kind of
 * file (a symbolic link, a directory, a FIFO, socket or device, one not
 * this user's) or one this user may not open: nothing a retry mends.
 */
static int
lock_file_bad(int err)
{
	switch (err) {
	case ELOOP: case EACCES: case EPERM: case EISDIR: case EINVAL:
	case ENXIO: case ETXTBSY: case ENODEV:
		return 1;
	default:
		return 0;
	}
}

/* Whether fd is still the file at MAILDIR_LOCK_FILE. */
static int
lock_at_path(const struct maildir *md, int fd)
{
	struct stat	a, b;

	return fstat(fd, &a) == 0 &&
	    fstatat(md->fd, MAILDIR_LOCK_FILE, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
maildir_lock(struct maildir *md)
{
	int	tries, repaired = 0;

	/*
	 * The maildrop's directory itself: nobody can unlink or replace it
	 * under this session, as anyone who can write the maildrop can do
	 * to a lock file.  A file system without flock(2) on directories
	 * (some NFS) leaves the lock file alone to do it.
	 */
	if (flock(md->fd, LOCK_EX | LOCK_NB) == -1 && errno != EINVAL &&
	    errno != ENOLCK && errno != EBADF && errno != EOPNOTSUPP &&
	    errno != ENOSYS) {
		if (errno == EWOULDBLOCK)
			errno = EAGAIN;
		return -1;
	}
	/*
	 * The lock file, for file systems without the above, for pop3d
	 * before it, and for the file system's clock (scancache.c).  Taken,
	 * then checked to be still the file of that name, since one removed
	 * or replaced between the open and the lock locks nothing.
	 */
	for (tries = 0; tries < 5; tries++) {
		md->lockfd = maildir_file_open(md, MAILDIR_LOCK_FILE,
		    O_RDWR | O_CREAT);
		if (md->lockfd == -1) {
			if (!lock_file_bad(errno)) {
				maildir_unlock(md);
				return -1;
			}
			if (repaired++ > 0 || lock_repair(md, errno) == -1) {
				maildir_unlock(md);
				return -2;
			}
			continue;
		}
		if (lock_try(md->lockfd, F_WRLCK, 0, 0) == -1) {
			maildir_unlock(md);
			return -1;
		}
		if (lock_at_path(md, md->lockfd))
			return 0;
		close(md->lockfd);
		md->lockfd = -1;
	}
	maildir_unlock(md);
	errno = EAGAIN;
	return -1;
}

void
maildir_unlock(struct maildir *md)
{
	int	saved = errno;

	if (md->lockfd != -1)
		close(md->lockfd);
	md->lockfd = -1;
	if (md->fd != -1)
		(void)flock(md->fd, LOCK_UN);
	errno = saved;
}

int64_t
maildir_mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int
maildir_dirfd(const struct maildir *md, const struct msg *m)
{
	return m->dir == MD_NEW ? md->newfd : md->curfd;
}

size_t
maildir_uniq_len(const char *name)
{
	const char	*colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

int
maildir_uniq_is(const char *name, const char *uniq, size_t len)
{
	return strncmp(name, uniq, len) == 0 &&
	    (name[len] == ':' || name[len] == '\0');
}

int
maildir_name_size(const char *uniq, size_t len, char key, uint64_t *size)
{
	const char	*end;
	size_t		 i;

	for (i = 0; i + 3 < len; i++) {
		if (uniq[i] != ',' || uniq[i + 1] != key || uniq[i + 2] != '=')
			continue;
		i += 3;
		/* The digits end at the next field or at the name's end. */
		if ((end = memchr(uniq + i, ',', len - i)) == NULL)
			end = uniq + len;
		return num_parse_n(uniq + i, end - (uniq + i), 0, UINT64_MAX,
		    size) == 0;
	}
	return 0;
}

/* The leading digits of s, at most max of them: their count. */
static size_t
digits_len(const char *s, size_t max)
{
	size_t	n = strspn(s, "0123456789");

	return n < max ? n : max;
}

/*
 * Delivery order: the time at the start of a Maildir name
 * "SECONDS.M<usec>P<pid>.host", else the file's mtime.  0, or -1 when the
 * file is gone.
 */
static int
entry_order(int dirfd, const char *name, int64_t *sec, uint32_t *usec)
{
	struct stat	st;
	uint64_t	s, u = 0;
	size_t		n;

	/* 18 digits cannot overflow; 6 are all a microsecond count has. */
	if ((n = digits_len(name, 18)) > 0 &&
	    num_parse_n(name, n, 0, UINT64_MAX, &s) == 0) {
		if (name[n] == '.' && name[n + 1] == 'M' &&
		    num_parse_n(name + n + 2, digits_len(name + n + 2, 6), 0,
		    999999, &u) == -1)
			u = 0;
		*sec = (int64_t)s;
		*usec = (uint32_t)u;
		return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	*sec = st.st_mtim.tv_sec;
	*usec = st.st_mtim.tv_nsec / 1000;
	return 0;
}

/*
 * The messages by identity, their unique name and inode: a file seen
 * again under another name (its flags changed) or in the other directory
 * is the same message.  The scan adds to it as it finds messages (a file
 * seen twice, in one pass or two, is listed once); maildir_locate builds
 * it again over the sorted list and renames every message it finds moved
 * in one read of the directories.  Open addressing; a slot holds an index
 * into md->msgs plus one, 0 when free.
 */
struct idtab {
	size_t		*slot;
	size_t		 size;		/* a power of two, over twice count */
	const struct msg *msgs;		/* what the indices are of */
	size_t		 count;
};

static uint64_t
id_hash(const char *uniq, size_t len, uint64_t ino)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)uniq[i]) * 0x100000001b3ULL;
	h = (h ^ ino) * 0x100000001b3ULL;
	return h ^ h >> 31;
}

/* The slot of the message with this identity, or the free one for it. */
static size_t *
id_slot(const struct maildir *md, const struct idtab *t, const char *uniq,
    size_t len, uint64_t ino)
{
	size_t			 i = id_hash(uniq, len, ino) & (t->size - 1);
	const struct msg	*m;
	for (;; i = (i + 1) & (t->size - 1)) {
		if (t->slot[i] == 0)
			return &t->slot[i];
		m = &md->msgs[t->slot[i] - 1];
		if (m->d_ino == ino && m->uniq_len == len &&
		    memcmp(m->name, uniq, len) == 0)
			return &t->slot[i];
	}
}

/* Makes room for md->msgs[0 .. n - 1]: 0, or -1 (out of memory). */
static int
id_room(struct maildir *md, size_t n)
{
	struct idtab	*t = md->ids, nt;
	struct msg	*m;
	size_t		 i;

	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return -1;
		md->ids = t;
	}
	if (t->size > 2 * n)
		return 0;
	nt.size = t->size ? t->size * 2 : 1024;
	while (nt.size <= 2 * n)
		nt.size *= 2;
	if ((nt.slot = calloc(nt.size, sizeof(*nt.slot))) == NULL)
		return -1;
	nt.msgs = md->msgs;
	nt.count = t->count;
	for (i = 0; i < t->count; i++) {
		m = &md->msgs[i];
		*id_slot(md, &nt, m->name, m->uniq_len, m->d_ino) = i + 1;
	}
	free(t->slot);
	*t = nt;
	return 0;
}

static void
ids_forget(struct maildir *md)
{
	if (md->ids != NULL)
		free(md->ids->slot);
	free(md->ids);
	md->ids = NULL;
}

/*
 * The table over md->msgs as they are now: kept if it was made for them,
 * else built.  0, or -1 (out of memory).
 */
static int
ids_current(struct maildir *md)
{
	struct msg	*m;
	size_t		 i, *slot;

	if (md->ids != NULL && md->ids->msgs == md->msgs &&
	    md->ids->count == md->count)
		return 0;
	ids_forget(md);
	if (id_room(md, md->count) == -1)
		return -1;
	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		slot = id_slot(md, md->ids, m->name, m->uniq_len, m->d_ino);
		if (*slot == 0)
			*slot = i + 1;
	}
	md->ids->msgs = md->msgs;
	md->ids->count = md->count;
	return 0;
}

/* Notes a message's name as a directory read found it: 0, or -1. */
static int
msg_rename(struct maildir *md, struct msg *m, const char *name,
    enum md_dir dir)
{
	char	*copy;

	if (m->dir == dir && strcmp(m->name, name) == 0)
		return 0;
	if ((copy = maildir_strdup(md, name, strlen(name))) == NULL)
		return -1;
	m->name = copy;
	m->dir = dir;
	return 0;
}

/*
 * Adds the message of a directory entry, or, when the scan has seen it
 * already, notes the name and directory it has now.  0, 1 when it is a
 * message not seen yet and md->max are listed already (capped), or -1
 * (out of memory).
 */
static int
msg_add(struct maildir *md, int dirfd, const char *name, enum md_dir dir,
    uint64_t ino, int capped)
{
	struct msg	*m, *n;
	size_t		 len = strlen(name), cap, *slot;

	if (id_room(md, md->count + 1) == -1)
		return -1;
	slot = id_slot(md, md->ids, name, maildir_uniq_len(name), ino);
	if (*slot != 0)
		return msg_rename(md, &md->msgs[*slot - 1], name, dir);
	if (capped && md->count >= md->max)
		return 1;
	if (md->count == md->cap) {
		cap = md->cap ? md->cap * 2 : 256;
		if ((n = reallocarray(md->msgs, cap, sizeof(*n))) == NULL)
			return -1;
		md->msgs = n;
		md->cap = cap;
	}
	m = &md->msgs[md->count];
	memset(m, 0, sizeof(*m));
	if (entry_order(dirfd, name, &m->order_sec, &m->order_usec) == -1)
		return 0;		/* gone already */
	if ((m->name = maildir_strdup(md, name, len)) == NULL)
		return -1;
	m->dir = dir;
	m->d_ino = ino;
	m->uniq_len = maildir_uniq_len(name);
	if (maildir_name_size(name, m->uniq_len, 'W', &m->wire))
		m->size_from = SIZE_NAME;
	*slot = ++md->count;
	md->ids->msgs = md->msgs;
	md->ids->count = md->count;
	return 0;
}

/*
 * Whether a directory entry can be a message: a regular file (or one whose
 * type the file system does not tell: stat decides later) and not a
 * dot-file.  Anything else but a directory is logged as skipped, by the
 * scan's first pass.
 */
void
maildir_log_file(const char *event, enum md_dir dir, const char *name,
    int err)
{
	char	path[8 + NAME_MAX + 1];

	snprintf(path, sizeof(path), "%s/%s", dir == MD_NEW ? "new" : "cur",
	    name);
	log_file(event, path, err);
}

static int
entry_is_message(struct maildir *md, enum md_dir dir,
    const struct dirent *d, int pass)
{
	if (d->d_name[0] == '.' || d->d_type == DT_DIR)
		return 0;
	if (d->d_type == DT_REG || d->d_type == DT_UNKNOWN)
		return 1;
	if (pass == 0) {
		/* Once, not once per pass. */
		md->skipped++;
		maildir_log_file("skip", dir, d->d_name, d->d_type == DT_LNK ?
		    ELOOP : EINVAL);
	}
	return 0;
}

/*
 * Moves new/name to cur/name:2, and stores the name it now has in to:
 * MD_CUR, or MD_NEW when it stays (a name too long, or taken in cur/), or
 * -1 when it is no longer in new/ (another program moved it first: the
 * scan finds it in cur/).
 */
static int
move_to_cur(struct maildir *md, const char *name, char *to, size_t n)
{
	if (strchr(name, ':') != NULL ||
	    (size_t)snprintf(to, n, "%s:2,", name) >= n)
		goto stay;
	if (renameat2(md->newfd, name, md->curfd, to, RENAME_NOREPLACE) == 0)
		return MD_CUR;
	if (errno == EINVAL || errno == ENOSYS) {
		/* No RENAME_NOREPLACE here: check, then rename. */
		if (faccessat(md->curfd, to, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT &&
		    renameat(md->newfd, name, md->curfd, to) == 0)
			return MD_CUR;
	}
	if (errno == ENOENT)
		return -1;
stay:
	snprintf(to, n, "%s", name);
	return MD_NEW;
}

/* Delivery times, compared: the order messages are numbered in. */
struct order {
	int64_t		sec;
	uint32_t	usec;
};

static int
order_cmp(const struct order *a, const struct order *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->usec != b->usec)
		return a->usec < b->usec ? -1 : 1;
	return 0;
}

/*
 * With more messages than md->max, only those delivered at or after the
 * cut are listed; the sorted list is then trimmed to the newest md->max
 * (ties at the cut, and mail delivered since the cut was found, make more).
 */
struct cutoff {
	struct order	at;
};

static int
cutoff_keeps(struct cutoff *c, int dirfd, const char *name)
{
	struct order	o;

	if (entry_order(dirfd, name, &o.sec, &o.usec) == -1)
		return 0;
	return order_cmp(&o, &c->at) >= 0;
}

/*
 * One directory, once: 1 when the scan has found more than md->max
 * messages (cut == NULL), else 0, or -1.
 */
static int
scan_dir(struct maildir *md, enum md_dir dir, struct cutoff *cut, int pass)
{
	int		 fd = dir == MD_NEW ? md->newfd : md->curfd, dfd, at;
	DIR		*dp;
	struct dirent	*d;
	char		 to[NAME_MAX + 1];
	int		 ret = 0;

	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((dp = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((d = readdir(dp)) == NULL) {
			ret = errno != 0 ? -1 : 0;
			break;
		}
		if (!entry_is_message(md, dir, d, pass))
			continue;
		if (cut != NULL && !cutoff_keeps(cut, fd, d->d_name))
			continue;
		snprintf(to, sizeof(to), "%s", d->d_name);
		at = dir;
		if (dir == MD_NEW &&
		    (at = move_to_cur(md, d->d_name, to, sizeof(to))) == -1)
			continue;
		if ((ret = msg_add(md, at == MD_CUR ? md->curfd : md->newfd,
		    to, at, d->d_ino, cut == NULL)) != 0)
			break;
	}
	closedir(dp);
	return ret;
}

/*
 * new/, then cur/, so that a message another program moves from new/ to
 * cur/ meanwhile is read in one or the other; and again, since a rename
 * within a directory during readdir can hide the file under both its
 * names (POSIX leaves it unspecified, and ext4's hash order does it): a
 * message is missed only when every pass misses it.  Passes go on until
 * one finds nothing new, at least 2, at most MAILDIR_SCAN_PASSES.  As
 * scan_dir.
 */
static int
scan_passes(struct maildir *md, struct cutoff *cut)
{
	size_t		before;
	int		pass, r = 0;

	for (pass = 0; pass < MAILDIR_SCAN_PASSES; pass++) {
		before = md->count;
		if ((r = scan_dir(md, MD_NEW, cut, pass)) != 0 ||
		    (r = scan_dir(md, MD_CUR, cut, pass)) != 0)
			break;
		if (pass > 0 && md->count == before)
			break;
	}
	return r;
}

/* Keeps the newest max delivery times seen in a min-heap: heap[0] is cut. */
static void
heap_offer(struct order *heap, size_t *n, size_t max, const struct order *o)
{
	struct order	tmp;
	size_t		i, c;

	if (*n < max) {
		for (i = (*n)++; i > 0 && order_cmp(o, &heap[(i - 1) / 2]) < 0;
		    i = (i - 1) / 2)
			heap[i] = heap[(i - 1) / 2];
		heap[i] = *o;
		return;
	}
	if (order_cmp(o, &heap[0]) <= 0)
		return;
	heap[0] = *o;
	for (i = 0; (c = 2 * i + 1) < *n; i = c) {
		if (c + 1 < *n && order_cmp(&heap[c + 1], &heap[c]) < 0)
			c++;
		if (order_cmp(&heap[c], &heap[i]) >= 0)
			break;
		tmp = heap[i];
		heap[i] = heap[c];
		heap[c] = tmp;
	}
}

/* Reads every entry's delivery time to find where the newest max begin. */
static int
cutoff_find(struct maildir *md, struct cutoff *cut)
{
	int		 fds[2] = { md->curfd, md->newfd }, i, dfd;
	struct order	*heap, o;
	struct dirent	*d;
	size_t		 n = 0;
	DIR		*dp;

	if ((heap = calloc(md->max, sizeof(*heap))) == NULL)
		return -1;
	for (i = 0; i < 2; i++) {
		dfd = openat(fds[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd == -1 || (dp = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			free(heap);
			return -1;
		}
		while ((d = readdir(dp)) != NULL)
			if (d->d_name[0] != '.' && (d->d_type == DT_REG ||
			    d->d_type == DT_UNKNOWN) &&
			    entry_order(fds[i], d->d_name, &o.sec, &o.usec) == 0)
				heap_offer(heap, &n, md->max, &o);
		closedir(dp);
	}
	cut->at = heap[0];
	free(heap);
	return 0;
}

/*
 * Oldest delivery first; at the same time, by unique name, then by
 * directory and inode: nothing a flag change alters.
 */
int
maildir_tiebreak(const struct msg *x, const struct msg *y)
{
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->d_ino < y->d_ino ? -1 : x->d_ino > y->d_ino;
}

int
maildir_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0 || alen == blen)
		return c;
	return alen < blen ? -1 : 1;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	struct order	ox = { x->order_sec, x->order_usec };
	struct order	oy = { y->order_sec, y->order_usec };
	int		c;

	if ((c = order_cmp(&ox, &oy)) != 0)
		return c;
	if ((c = maildir_bytes_cmp(x->name, x->uniq_len, y->name,
	    y->uniq_len)) != 0)
		return c;
	return maildir_tiebreak(x, y);
}

int
maildir_scan(struct maildir *md)
{
	struct cutoff	cut;
	int		r;

	if ((r = scan_passes(md, NULL)) == -1)
		return -1;
	if (r == 1) {
		/* Too many: start again, keeping only the newest. */
		msgs_forget(md);
		md->truncated = 1;
		if (cutoff_find(md, &cut) == -1 ||
		    scan_passes(md, &cut) == -1)
			return -1;
	}
	/* Sorted, the indices change: maildir_locate makes it anew. */
	ids_forget(md);
	if (md->count > 0)
		qsort(md->msgs, md->count, sizeof(*md->msgs), msg_cmp);
	if (md->count > md->max) {
		memmove(md->msgs, md->msgs + (md->count - md->max),
		    md->max * sizeof(*md->msgs));
		md->count = md->max;
	}
	return 0;
}

void
maildir_prune(struct maildir *md)
{
	size_t	i, j;

	ids_forget(md);
	md->octets = 0;
	for (i = j = 0; i < md->count; i++) {
		if (md->msgs[i].size_from == SIZE_NONE)
			continue;
		md->octets += md->msgs[i].wire;
		md->msgs[j++] = md->msgs[i];
	}
	md->count = j;
}

/*
 * One read of new/, then cur/ (so that a move from new/ to cur/ during it
 * cannot hide a file), giving every listed message the name it has now:
 * the same unique name and the same inode, so that another file of that
 * unique name is never taken for it; each message's unseen counts the
 * reads in a row that missed it.  1 when it found want, 0 when not, -1 on
 * error.
 */
static int
names_refresh(struct maildir *md, const struct msg *want)
{
	int		 fds[2] = { md->newfd, md->curfd }, i, dfd, found = 0;
	DIR		*dp;
	struct dirent	*d;
	size_t		*slot, j;
	struct msg	*m;

	if (ids_current(md) == -1)
		return -1;
	for (j = 0; j < md->count; j++)
		if (md->msgs[j].unseen < UINT8_MAX)
			md->msgs[j].unseen++;
	for (i = 0; i < 2; i++) {
		dfd = openat(fds[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd == -1 || (dp = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			return -1;
		}
		while ((d = readdir(dp)) != NULL) {
			if (d->d_name[0] == '.')
				continue;
			slot = id_slot(md, md->ids, d->d_name,
			    maildir_uniq_len(d->d_name), d->d_ino);
			if (*slot == 0)
				continue;	/* not listed: new mail */
			m = &md->msgs[*slot - 1];
			if (msg_rename(md, m, d->d_name, i == 0 ? MD_NEW :
			    MD_CUR) == -1) {
				closedir(dp);
				return -1;
			}
			m->unseen = 0;
			if (m == want)
				found = 1;
		}
		closedir(dp);
	}
	return found;
}

/*
 * One read of the directories finds every message renamed since the
 * last: when another program changes the flags of many messages, they
 * cost one read, not one each.  And a message that the last
 * MAILDIR_LOCATE_PASSES reads all missed is gone, without another read:
 * when another program removed many, they cost that many reads in all.
 */
int
maildir_locate(struct maildir *md, struct msg *m)
{
	int	r;

	while (m->unseen < MAILDIR_LOCATE_PASSES)
		if ((r = names_refresh(md, m)) != 0)
			return r == 1 ? 0 : -1;
	errno = ENOENT;
	return -1;
}

/*
 * fd, just opened under m's name, is m's file: fstat into st and the
 * listed inode.  fd, or -1 with errno (ENOENT: another file took the
 * name) and fd closed.
 */
static int
msg_fd_is(int fd, const struct msg *m, struct stat *st)
{
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		close(fd);
		return -1;
	}
	if (st->st_ino != m->st_ino) {
		close(fd);
		errno = ENOENT;		/* another file took the name */
		return -1;
	}
	return fd;
}

static int
open_checked(struct maildir *md, const struct msg *m)
{
	struct stat	st;
	int		fd;

	/*
	 * O_NOATIME: the access time of a message marked seen is its
	 * retrieval time (expire.h), which this session's reads must not
	 * move; a file of another owner's cannot be opened so (EPERM).
	 */
	fd = openat(maildir_dirfd(md, m), m->name, O_RDONLY | O_NOATIME |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == EPERM)
		fd = openat(maildir_dirfd(md, m), m->name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (msg_fd_is(fd, m, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;		/* a FIFO or device is no message */
		return -1;
	}
	if ((uint64_t)st.st_size != m->disk ||
	    maildir_mtime_ns(&st) != m->mtime_ns) {
		close(fd);
		errno = ESTALE;		/* rewritten in place: not as listed */
		return -1;
	}
	return fd;
}

/*
 * The cache's list goes: a change it cannot see (a message rewritten in
 * place leaves the directories' mtimes as they were) or one this session
 * makes.  The next session scans.
 */
static void
index_drop(struct maildir *md)
{
	int	saved = errno;

	if (md->index_dropped)
		return;
	scancache_drop_list(md);
	md->index_dropped = 1;
	errno = saved;
}

int
maildir_stat_msg(struct maildir *md, struct msg *m, struct stat *st)
{
	int	tries;

	for (tries = 0; tries < MAILDIR_RENAME_TRIES; tries++) {
		if (fstatat(maildir_dirfd(md, m), m->name, st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOENT || maildir_locate(md, m) == -1)
			return -1;
	}
	errno = EAGAIN;		/* renamed faster than it could be followed */
	return -1;
}

int
maildir_open_msg(struct maildir *md, struct msg *m)
{
	int	fd = -1, tries;

	for (tries = 0; tries < MAILDIR_RENAME_TRIES; tries++) {
		if ((fd = open_checked(md, m)) != -1 || errno != ENOENT)
			break;
		if (maildir_locate(md, m) == -1)
			return -1;
	}
	if (tries == MAILDIR_RENAME_TRIES)
		errno = EAGAIN;
	if (fd == -1 && errno == ESTALE)
		index_drop(md);
	return fd;
}

/*
 * A handle on the message's file itself (O_PATH: no read permission
 * needed, and a FIFO put in its place does not block) when its name still
 * holds it: a descriptor, or -1 with errno (ENOENT: no file of its inode
 * there).
 */
static int
hold_msg(struct maildir *md, const struct msg *m)
{
	struct stat	st;
	int		fd;

	fd = openat(maildir_dirfd(md, m), m->name,
	    O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return msg_fd_is(fd, m, &st);
}

/*
 * The file is held once found, so that its link count says when it is
 * gone, whatever renames it: an unlinkat that fails with ENOENT only says
 * that the name went, perhaps to other flags.  A message found neither at
 * its name nor by maildir_locate was removed by another program.
 */
int
maildir_remove(struct maildir *md, struct msg *m)
{
	struct stat	st;
	int		fd = -1, tries, gone = 0, saved;

	/* Belt and braces: the removal changes cur/'s mtime too. */
	index_drop(md);
	for (tries = 0; tries < MAILDIR_RENAME_TRIES; tries++) {
		if (fd == -1 && (fd = hold_msg(md, m)) == -1 &&
		    errno != ENOENT)
			break;
		if (fd != -1) {
			if (unlinkat(maildir_dirfd(md, m), m->name, 0) == -1 &&
			    errno != ENOENT)
				break;
			if (fstat(fd, &st) == -1)
				break;
			if (st.st_nlink == 0) {
				gone = 1;
				break;
			}
		}
		/* Renamed, or linked under another name too: where now? */
		if (maildir_locate(md, m) == -1) {
			if (errno == ENOENT && fd == -1)
				gone = 1;
			else if (errno == ENOENT)
				errno = EAGAIN;	/* out of reach, not gone */
			break;
		}
	}
	if (tries == MAILDIR_RENAME_TRIES)
		errno = EAGAIN;		/* renamed faster than it could go */
	if (fd != -1) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return gone ? 0 : -1;
}

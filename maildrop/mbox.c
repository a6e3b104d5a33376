/*
 * An mbox maildrop (mbox.h): what a path names, opening, listing through
 * the parser, and the store's ops but the UPDATE (mbox_update.c).  The
 * locks are mbox_lock.c's.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "mbox.h"
#include "mbox_cache.h"
#include "mbox_parse.h"

/* UIDLs live in chunks freed together. */
struct mbox_arena {
	struct mbox_arena *next;
	size_t		 used, size;
	char		 data[];
};

#define MBOX_ARENA_CHUNK	65536

static char *
arena_dup(void *ctx, const char *s, size_t n)
{
	struct mbox	 *mb = ctx;
	struct mbox_arena *c = mb->arena;

	if (c == NULL || c->size - c->used < n) {
		if ((c = malloc(sizeof(*c) + MBOX_ARENA_CHUNK)) == NULL)
			return NULL;
		c->next = mb->arena;
		c->used = 0;
		c->size = MBOX_ARENA_CHUNK;
		mb->arena = c;
	}
	memcpy(c->data + c->used, s, n);	/* n <= UIDL_MAX */
	c->used += n;
	return c->data + c->used - n;
}

static void
arena_free(struct mbox *mb)
{
	struct mbox_arena *c, *next;

	for (c = mb->arena; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	mb->arena = NULL;
}

int
mbox_expand(const char *arg, const char *user, char *buf, size_t n)
{
	size_t	len = 0, add;
	const char *p, *s;

	for (p = arg; *p != '\0'; p++) {
		s = p;
		add = 1;
		if (*p == '%') {
			if (p[1] == 'u') {
				s = user;
				add = strlen(user);
			} else if (p[1] != '%') {
				errno = EINVAL;
				return -1;
			}
			p++;
		}
		if (len + add >= n) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(buf + len, s, add);
		len += add;
	}
	buf[len] = '\0';
	return 0;
}

/*
 * Whether the parent directory of path is a mail spool: not this user's,
 * group- or world-writable, with the setgid or sticky bit (/var/mail
 * 2775 root:mail, /var/spool/mail 1777).  Anywhere else a missing path
 * is a Maildir not (yet) there, and a misconfigured one must not read as
 * an empty maildrop.
 */
static int
parent_is_spool(const char *path)
{
	char		 parent[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	struct stat	 st;

	if (slash == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == path)
		snprintf(parent, sizeof(parent), "/");
	else if ((size_t)(slash - path) < sizeof(parent))
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path),
		    path);
	else
		return 0;
	return stat(parent, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid != geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    (st.st_mode & (S_ISGID | S_ISVTX));
}

int
mbox_kind(const char *path, enum maildrop_kind *kind)
{
	struct stat	st;
	size_t		len = strlen(path);

	*kind = KIND_MAILDIR;
	if (len > 0 && path[len - 1] == '/')
		return 0;
	if (lstat(path, &st) == -1) {
		if (errno != ENOENT)
			return -1;
		if (parent_is_spool(path))
			*kind = KIND_MBOX_NONE;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return 0;
	if (S_ISREG(st.st_mode)) {
		*kind = KIND_MBOX;
		return 0;
	}
	/* A link to a Maildir is served as it always was. */
	if (S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	errno = S_ISLNK(st.st_mode) ? ELOOP : EPERM;
	return -1;
}

/* The mbox itself, checked to be a regular file of this user's. */
static int
open_file(struct mbox *mb)
{
	struct stat	st;
	int		fd, err;

	fd = open(mb->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1)
		return -1;
	err = fstat(fd, &st) == -1 ? errno : !S_ISREG(st.st_mode) ? EPERM :
	    st.st_uid != geteuid() ? EPERM : 0;
	if (err != 0) {
		close(fd);
		errno = err;
		return -1;
	}
	mb->fd = fd;
	mb->dev = st.st_dev;
	mb->ino = st.st_ino;
	return 0;
}

int
mbox_open(struct mbox *mb, const char *path, enum maildrop_kind kind,
    size_t max, uint64_t limit)
{
	memset(mb, 0, sizeof(*mb));
	mb->fd = mb->homefd = -1;
	mb->path = path;
	mb->cache = "none";
	mb->max = max;
	mb->limit = limit;
	if ((size_t)snprintf(mb->lockpath, sizeof(mb->lockpath), "%s.lock",
	    path) >= sizeof(mb->lockpath)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	mb->homefd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mb->homefd == -1)
		return -1;
	mb->home_ok = faccessat(mb->homefd, ".", W_OK | X_OK,
	    AT_EACCESS) == 0;
	if (kind == KIND_MBOX && open_file(mb) == -1) {
		mbox_close(mb);
		return -1;
	}
	return 0;
}

void
mbox_close(struct mbox *mb)
{
	int	saved = errno;

	if (mb->dlocked)
		mbox_dunlock(mb);
	if (mb->fd != -1)
		close(mb->fd);
	if (mb->homefd != -1)
		close(mb->homefd);
	mb->fd = mb->homefd = -1;
	if (mb->st.msgs != NULL)
		munmap(mb->st.msgs, mb->max * sizeof(struct msg));
	mb->st.msgs = NULL;
	mb->st.count = 0;
	arena_free(mb);
	errno = saved;
}

/* One message the parser found: listed, skipped or counted. */
static int
found(void *arg, const struct mbox_found *f)
{
	struct mbox	*mb = arg;
	struct msg	*m;

	if (f->internal) {
		/* Never listed, never removed; kept for the cache. */
		mb->internal = *f;
		mb->has_internal = 1;
		return 0;
	}
	mb->total++;
	if (mb->skip > 0) {
		mb->skip--;
		return 0;
	}
	if (mb->st.count == mb->max) {
		mb->st.truncated = 1;
		return 0;
	}
	m = &mb->st.msgs[mb->st.count];
	memset(m, 0, sizeof(*m));
	m->from_off = f->from_off;
	m->off = f->off;
	m->len = f->len;
	m->wire = f->wire;
	m->from_digest = f->from_digest;
	/*
	 * Not carried, even from X-UIDL: a duplicate is settled by file
	 * position only (the earlier keeps it), or a sender could take an
	 * older message's UIDL by writing it in an X-UIDL field.
	 */
	m->carried = 0;
	m->uidl_len = f->uidl_len;
	if ((m->uidl = arena_dup(mb, f->uidl, f->uidl_len)) == NULL)
		return -2;
	mb->st.count++;
	mb->st.octets += m->wire;
	return 0;
}

/* The parser over the octets [off, mb->end). */
static int
parse_from(struct mbox *mb, char *buf, uint64_t off)
{
	struct mbox_parser p;
	ssize_t		 n;
	size_t		 want;
	int		 r = MBOX_OK;

	mbox_parse_init(&p, off, found, mb);
	while (off < mb->end && r == MBOX_OK) {
		want = mb->end - off < MBOX_READ_CHUNK ? mb->end - off :
		    MBOX_READ_CHUNK;
		n = pread(mb->fd, buf, want, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than under lock */
			return -1;
		}
		r = mbox_feed(&p, buf, n);
		off += n;
		mbox_dotlock_keep(mb);	/* a big mbox takes minutes */
	}
	if (r == MBOX_OK)
		r = mbox_end(&p);
	if (r == MBOX_NOT_MBOX)
		errno = EINVAL;
	else if (r != MBOX_OK)
		errno = ENOMEM;
	return r == MBOX_OK ? 0 : -1;
}

static void
list_reset(struct mbox *mb)
{
	mb->total = mb->st.count = 0;
	mb->st.octets = 0;
	mb->has_internal = 0;
	arena_free(mb);
}

/*
 * One pass over the file: what the cache (mbox_cache.h) holds of it,
 * then the parser over the rest.
 */
static int
parse_pass(struct mbox *mb, const struct stat *st, char *buf)
{
	char		name[MBOX_FILE_NAME_MAX];
	uint64_t	resume = 0;
	size_t		skip = mb->skip;
	int		r, truncated = mb->st.truncated;

	mbox_file_name(mb, "cache", name, sizeof(name));
	r = mbox_cache_load(mb->homefd, name, mb->fd, st, found, mb, &resume);
	if (r == -1)
		return -1;
	mb->cache = r == MBOX_CACHE_WHOLE ? "whole" : r == MBOX_CACHE_PREFIX ?
	    "prefix" : "none";
	if (r == MBOX_CACHE_WHOLE)
		return 0;
	if (r == MBOX_CACHE_NONE) {
		/* What found() got of an index found bad is dropped. */
		list_reset(mb);
		mb->skip = skip;
		mb->st.truncated = truncated;
		resume = 0;
	}
	return parse_from(mb, buf, resume);
}

/*
 * The file, twice when it holds more than max messages: the first pass
 * counts them, the second keeps the newest max, so that memory never
 * depends on the file.
 */
static int
parse_file(struct mbox *mb, const struct stat *st)
{
	char	*buf;
	int	 r;

	if ((buf = malloc(MBOX_READ_CHUNK)) == NULL)
		return -1;
	r = parse_pass(mb, st, buf);
	if (r == 0 && mb->st.truncated) {
		mb->skip = mb->total - mb->max;
		list_reset(mb);
		r = parse_pass(mb, st, buf);
	}
	free(buf);
	return r;
}

/* Message i of what the parse found, for the cache. */
static void
cache_get(void *arg, size_t i, struct mbox_found *f)
{
	struct mbox	*mb = arg;
	const struct msg *m;

	if (mb->has_internal && i-- == 0) {
		*f = mb->internal;
		return;
	}
	m = &mb->st.msgs[i];
	memset(f, 0, sizeof(*f));
	f->from_off = m->from_off;
	f->off = m->off;
	f->len = m->len;
	f->wire = m->wire;
	f->from_digest = m->from_digest;
	memcpy(f->uidl, m->uidl, m->uidl_len);
	f->uidl_len = m->uidl_len;
	f->uidl_header = 0;	/* not kept (found: file order only) */
}

/*
 * The parse's list (before the UIDLs are made unique) saved for the next
 * session, when it is the whole file's and the home can hold it.
 */
static void
cache_save(struct mbox *mb, const struct stat *st)
{
	char	name[MBOX_FILE_NAME_MAX];

	if (strcmp(mb->cache, "whole") == 0 || mb->st.truncated ||
	    !mb->home_ok)
		return;
	mbox_file_name(mb, "cache", name, sizeof(name));
	if (mbox_cache_save(mb->homefd, name, mb->fd, st, cache_get, mb,
	    mb->st.count + mb->has_internal) == -1) {
		log_file("cache-write-failed", name, errno);
		mb->cache = "failed";
		return;
	}
	mb->cache = strcmp(mb->cache, "prefix") == 0 ? "prefix-saved" :
	    "saved";
}

/* Read under the delivery locks, a pending UPDATE finished first. */
static int
read_locked(struct mbox *mb)
{
	struct stat	st;

	if (mbox_recover(mb) == -1)
		return -1;
	if (fstat(mb->fd, &st) == -1)
		return -1;
	if ((uint64_t)st.st_size > mb->limit) {
		errno = EFBIG;
		return -1;
	}
	mb->end = st.st_size;
	if (parse_file(mb, &st) == -1 || mbox_end_record(mb) == -1)
		return -1;
	cache_save(mb, &st);
	return 0;
}

static int
mb_tiebreak(const struct msg *x, const struct msg *y)
{
	return x->from_off < y->from_off ? -1 : x->from_off > y->from_off;
}

/*
 * A duplicate's UIDL: its own and its place among the messages that
 * share it, in file order; the same as long as those before it stay.
 */
static int
mb_salt(const struct msg *m, int round, size_t idx, size_t run, char *buf,
    size_t n)
{
	(void)idx;
	return snprintf(buf, n, "%d:%.*s:%zu", round, (int)m->uidl_len,
	    m->uidl, run);
}

static const char *
mb_label(const struct uidl_pass *p, const struct msg *m, char *buf, size_t n)
{
	snprintf(buf, n, "message %zu", (size_t)(m - p->msgs) + 1);
	return buf;
}

int
mbox_list(struct mbox *mb)
{
	struct uidl_pass p = { NULL, 0, mb_tiebreak, mb_salt, mb_label,
	    arena_dup, mb };
	int	r, saved;

	if (mb->fd == -1)
		return 0;
	/* Only touched pages count: memory as the messages need it. */
	mb->st.msgs = mmap(NULL, mb->max * sizeof(struct msg), PROT_READ |
	    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mb->st.msgs == MAP_FAILED) {
		mb->st.msgs = NULL;
		return -1;
	}
	if (mbox_dlock(mb) == -1)
		return -1;
	r = read_locked(mb);
	saved = errno;
	mbox_dunlock(mb);
	errno = saved;
	if (r == -1)
		return -1;
	p.msgs = mb->st.msgs;
	p.count = mb->st.count;
	return uidl_unique(&p);
}

int
mbox_msg_there(struct mbox *mb, const struct msg *m)
{
	struct mbox_found f;
	struct stat	 st;
	int		 r;

	if (fstat(mb->fd, &st) == -1)
		return -1;
	if ((uint64_t)st.st_size < m->off + m->len)
		return 0;
	f.from_off = m->from_off;
	f.off = m->off;
	f.len = m->len;
	f.from_digest = m->from_digest;
	if ((r = mbox_from_at(mb->fd, &f)) != 1)
		return r;
	return mbox_end_at(mb->fd, &f);
}

/*
 * RETR and TOP read the file's own descriptor (a copy: trans.c closes
 * it), once the message is seen to be where it was: a mail reader may
 * have rewritten the file, taking no lock this session would see.
 */
static int
mb_open_msg(struct store *st, struct msg *m, uint64_t *off, uint64_t *len)
{
	struct mbox	*mb = st->impl;
	int		 r;

	if ((r = mbox_msg_there(mb, m)) != 1) {
		if (r == 0)
			errno = ESTALE;	/* "changed by another program" */
		return -1;
	}
	*off = m->off;
	*len = m->len;
	return fcntl(mb->fd, F_DUPFD_CLOEXEC, 0);
}

static void
mb_log_msg(struct store *st, const char *event, const struct msg *m, int err)
{
	struct mbox	*mb = st->impl;
	struct logline	 l;
	char		 path[PATH_MAX];

	logline_start(&l, event);
	logline_str(&l, "file", log_abspath(mb->path, path, sizeof(path)));
	logline_num(&l, "offset", m->from_off);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

static void
mb_unlock(struct store *st)
{
	struct mbox	*mb = st->impl;

	if (mb->dlocked)
		mbox_dunlock(mb);
	if (mb->fd != -1)
		(void)flock(mb->fd, LOCK_UN);
}

static const struct store_ops mbox_ops = {
	mb_open_msg, mb_log_msg, mbox_update, mb_unlock
};

void
mbox_store(struct mbox *mb, struct store *st)
{
	mb->st.ops = &mbox_ops;
	mb->st.impl = mb;
	mb->st.spool_dirfd = mb->homefd;
	mb->st.spool_sub = ".";
	*st = mb->st;
}

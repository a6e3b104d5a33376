#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "maildir.h"

/* Names live in chunks freed together: one allocation per 64 KB of names. */
struct arena {
	struct arena	*next;
	size_t		 used, size;
	char		 data[];
};

#define ARENA_CHUNK	65536

static char *
arena_dup(struct arena **a, const char *s, size_t n)
{
	struct arena	*c = *a;
	char		*p;
	size_t		 size;

	if (c == NULL || c->size - c->used < n + 1) {
		size = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->next = *a;
		c->used = 0;
		c->size = size;
		*a = c;
	}
	p = c->data + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
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
	free(md->msgs);
	md->msgs = NULL;
	arena_free(md->arena);
	md->arena = NULL;
	errno = saved;
}

int
maildir_dirfd(const struct maildir *md, const struct msg *m)
{
	return m->dir == MD_NEW ? md->newfd : md->curfd;
}

static size_t
uniq_len(const char *name)
{
	const char	*colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

int
maildir_name_size(const char *uniq, size_t len, char key, uint64_t *size)
{
	size_t		i;
	uint64_t	v;

	for (i = 0; i + 3 < len; i++) {
		if (uniq[i] != ',' || uniq[i + 1] != key || uniq[i + 2] != '=')
			continue;
		v = 0;
		for (i += 3; i < len && uniq[i] >= '0' && uniq[i] <= '9'; i++) {
			if (v > (UINT64_MAX - 9) / 10)
				return 0;
			v = v * 10 + (uniq[i] - '0');
		}
		if (i < len && uniq[i] != ',')
			return 0;
		*size = v;
		return 1;
	}
	return 0;
}

/*
 * Delivery order from a name "SECONDS.M<usec>P<pid>.host" (the Maildir
 * convention); 0 when the name doesn't start with seconds, and then the
 * file's mtime stands in.
 */
static int
order_from_name(const char *name, int64_t *sec, uint32_t *usec)
{
	int64_t	s = 0;
	uint32_t u = 0;
	int	digits = 0;

	for (; *name >= '0' && *name <= '9' && digits < 18; name++, digits++)
		s = s * 10 + (*name - '0');
	if (digits == 0)
		return 0;
	if (name[0] == '.' && name[1] == 'M')
		for (name += 2, digits = 0; *name >= '0' && *name <= '9' &&
		    digits < 9; name++, digits++)
			u = u * 10 + (*name - '0');
	*sec = s;
	*usec = u;
	return 1;
}

static int
msg_add(struct maildir *md, int dirfd, const char *name, enum md_dir dir)
{
	struct msg	*m, *n;
	struct stat	 st;
	size_t		 len = strlen(name), cap;

	if (md->count == md->cap) {
		cap = md->cap ? md->cap * 2 : 256;
		if ((n = reallocarray(md->msgs, cap, sizeof(*n))) == NULL)
			return -1;
		md->msgs = n;
		md->cap = cap;
	}
	m = &md->msgs[md->count];
	memset(m, 0, sizeof(*m));
	if ((m->name = arena_dup(&md->arena, name, len)) == NULL)
		return -1;
	m->dir = dir;
	m->uniq_len = uniq_len(name);
	m->disk_known = maildir_name_size(name, m->uniq_len, 'S', &m->disk);
	m->wire_known = maildir_name_size(name, m->uniq_len, 'W', &m->wire);
	if (!order_from_name(name, &m->order_sec, &m->order_usec)) {
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return errno == ENOENT ? 0 : -1;
		m->order_sec = st.st_mtim.tv_sec;
		m->order_usec = st.st_mtim.tv_nsec / 1000;
		m->disk = st.st_size;
		m->disk_known = 1;
	}
	md->count++;
	return 0;
}

/* Whether a directory entry can be a message. */
static int
entry_is_message(const struct dirent *d)
{
	if (d->d_name[0] == '.')
		return 0;
	return d->d_type == DT_REG || d->d_type == DT_UNKNOWN ||
	    d->d_type == DT_LNK;
}

/* Moves new/name to cur/name:2, and stores the name it now has in to. */
static enum md_dir
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
stay:
	snprintf(to, n, "%s", name);
	return MD_NEW;
}

static int
scan_dir(struct maildir *md, enum md_dir dir)
{
	int		 fd = dir == MD_NEW ? md->newfd : md->curfd, dfd;
	DIR		*dp;
	struct dirent	*d;
	char		 to[NAME_MAX + 1];
	enum md_dir	 at;
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
			if (errno != 0)
				ret = -1;
			break;
		}
		if (!entry_is_message(d))
			continue;
		if (md->count >= md->max) {
			md->truncated = 1;
			break;
		}
		if (dir == MD_NEW) {
			at = move_to_cur(md, d->d_name, to, sizeof(to));
			if (msg_add(md, at == MD_CUR ? md->curfd : md->newfd,
			    to, at) == -1) {
				ret = -1;
				break;
			}
		} else if (msg_add(md, md->curfd, d->d_name, MD_CUR) == -1) {
			ret = -1;
			break;
		}
	}
	closedir(dp);
	return ret;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;

	if (x->order_sec != y->order_sec)
		return x->order_sec < y->order_sec ? -1 : 1;
	if (x->order_usec != y->order_usec)
		return x->order_usec < y->order_usec ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
maildir_scan(struct maildir *md)
{
	/* cur/ first: what new/ adds to cur/ must not be listed twice. */
	if (scan_dir(md, MD_CUR) == -1 || scan_dir(md, MD_NEW) == -1)
		return -1;
	if (md->count > 0)
		qsort(md->msgs, md->count, sizeof(*md->msgs), msg_cmp);
	return 0;
}

void
maildir_prune(struct maildir *md)
{
	size_t	i, j;

	md->octets = 0;
	for (i = j = 0; i < md->count; i++) {
		if (!md->msgs[i].wire_known)
			continue;
		md->octets += md->msgs[i].wire;
		md->msgs[j++] = md->msgs[i];
	}
	md->count = j;
}

int
maildir_uidl_plain(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > UIDL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

void
maildir_uidl_digest(const char *s, size_t len, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;
	int		i;

	if (EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < 16)
		memset(md, 0, sizeof(md));	/* dedup keeps them unique */
	for (i = 0; i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
}

static int
uidl_digest_of(struct maildir *md, struct msg *m, const char *s, size_t len)
{
	char	hex[33];

	maildir_uidl_digest(s, len, hex);
	if ((m->uidl = arena_dup(&md->arena, hex, 32)) == NULL)
		return -1;
	m->uidl_len = 32;
	return 0;
}

/* Indexes sorted by UIDL, ties by message number (the older keeps it). */
static int
uidl_cmp(const void *a, const void *b, void *arg)
{
	const struct maildir *md = arg;
	const struct msg *x = &md->msgs[*(const size_t *)a];
	const struct msg *y = &md->msgs[*(const size_t *)b];
	size_t	n = x->uidl_len < y->uidl_len ? x->uidl_len : y->uidl_len;
	int	c = memcmp(x->uidl, y->uidl, n);

	if (c != 0)
		return c;
	if (x->uidl_len != y->uidl_len)
		return x->uidl_len < y->uidl_len ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/*
 * The same unique name twice (a copy in new/ and cur/, or one message
 * under two flag sets): the later ones get a digest of where they are,
 * salted by the round; repeated until no two are equal.
 */
static int
uidls_dedup(struct maildir *md, size_t *idx)
{
	char	 salted[NAME_MAX + 32];
	size_t	 i, dups;
	int	 round, n;
	struct msg *m, *prev;

	for (round = 0; round < 16; round++) {
		for (i = 0; i < md->count; i++)
			idx[i] = i;
		qsort_r(idx, md->count, sizeof(*idx), uidl_cmp, md);
		for (i = 1, dups = 0; i < md->count; i++) {
			prev = &md->msgs[idx[i - 1]];
			m = &md->msgs[idx[i]];
			if (prev->uidl_len != m->uidl_len ||
			    memcmp(prev->uidl, m->uidl, m->uidl_len) != 0)
				continue;
			n = snprintf(salted, sizeof(salted), "%d:%s/%s:%zu",
			    round, m->dir == MD_NEW ? "new" : "cur", m->name,
			    round < 8 ? 0 : idx[i]);
			if (n < 0 || (size_t)n >= sizeof(salted))
				n = sizeof(salted) - 1;
			if (uidl_digest_of(md, m, salted, n) == -1)
				return -1;
			dups++;
		}
		if (dups == 0)
			return 0;
	}
	return 0;
}

int
maildir_uidls(struct maildir *md)
{
	size_t	 i, *idx;
	struct msg *m;
	int	 ret;

	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if (maildir_uidl_plain(m->name, m->uniq_len)) {
			m->uidl = m->name;
			m->uidl_len = m->uniq_len;
		} else if (uidl_digest_of(md, m, m->name, m->uniq_len) == -1)
			return -1;
	}
	if (md->count < 2)
		return 0;
	if ((idx = calloc(md->count, sizeof(*idx))) == NULL)
		return -1;
	ret = uidls_dedup(md, idx);
	free(idx);
	return ret;
}

/* Looks for the message's unique name in cur/, then new/. */
static int
msg_locate(struct maildir *md, struct msg *m)
{
	enum md_dir	 dirs[2] = { MD_CUR, MD_NEW };
	DIR		*dp;
	struct dirent	*d;
	char		*name;
	int		 i, dfd, found = 0;

	for (i = 0; i < 2 && !found; i++) {
		dfd = openat(dirs[i] == MD_NEW ? md->newfd : md->curfd, ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd == -1 || (dp = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			return -1;
		}
		while ((d = readdir(dp)) != NULL) {
			if (strncmp(d->d_name, m->name, m->uniq_len) != 0 ||
			    (d->d_name[m->uniq_len] != ':' &&
			    d->d_name[m->uniq_len] != '\0'))
				continue;
			name = arena_dup(&md->arena, d->d_name,
			    strlen(d->d_name));
			if (name != NULL) {
				m->name = name;
				m->dir = dirs[i];
				found = 1;
			}
			break;
		}
		closedir(dp);
	}
	if (!found)
		errno = ENOENT;
	return found ? 0 : -1;
}

int
maildir_open_msg(struct maildir *md, struct msg *m)
{
	struct stat	st;
	int		fd, flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

	fd = openat(maildir_dirfd(md, m), m->name, flags);
	if (fd == -1 && errno == ENOENT && msg_locate(md, m) == 0)
		fd = openat(maildir_dirfd(md, m), m->name, flags);
	if (fd == -1)
		return -1;
	/* A FIFO or device in a maildrop is not a message. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int
maildir_remove(struct maildir *md, struct msg *m)
{
	if (unlinkat(maildir_dirfd(md, m), m->name, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (msg_locate(md, m) == -1)
		return errno == ENOENT ? 0 : -1;
	if (unlinkat(maildir_dirfd(md, m), m->name, 0) == 0 || errno == ENOENT)
		return 0;
	return -1;
}

int
maildir_lock(struct maildir *md)
{
	struct flock	fl;

	md->lockfd = openat(md->fd, MAILDIR_LOCK_FILE,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (md->lockfd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(md->lockfd, F_OFD_SETLK, &fl) == -1) {
		if (errno == EACCES)
			errno = EAGAIN;
		return -1;
	}
	return 0;
}

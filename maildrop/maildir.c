/*
 * The maildir of a session (maildir.h): its memory, opening and closing,
 * the files of its own it keeps (caches, lock, login record), and the
 * parts of a message's name.  The rest of the Maildir code is split by job
 * (maildir_internal.h lists the pieces): the scan, finding a renamed
 * message again, a message's file, the lock.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir_internal.h"
#include "num.h"

/* Names live in chunks freed together: one allocation per 64 KB of names. */
struct arena {
	struct arena	*next;
	size_t		 used, size;
	char		 data[];
};

#define ARENA_CHUNK	65536

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

void
md_msgs_forget(struct maildir *md)
{
	md_ids_forget(md);
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
	md_msgs_forget(md);
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
	return maildir_file_openat(md->fd, name, flags);
}

int
maildir_file_openat(int dirfd, const char *name, int flags)
{
	struct stat	st;
	int		fd, saved;

	/*
	 * Not even opened when it is no regular file: opening a device can
	 * do something.  The fstat below settles what was opened.
	 */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : S_ISDIR(st.st_mode) ?
		    EISDIR : EINVAL;
		return -1;
	}
	if ((fd = openat(dirfd, name, flags | MAILDIR_OPEN_FLAGS,
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

void
maildir_log_file(const char *event, enum md_dir dir, const char *name,
    int err)
{
	char	path[8 + NAME_MAX + 1];

	snprintf(path, sizeof(path), "%s/%s", dir == MD_NEW ? "new" : "cur",
	    name);
	log_file(event, path, err);
}

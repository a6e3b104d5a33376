#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"

/* The directory part of path ("." for none) into dir of size n. */
static int
atomic_dir(const char *path, char *dir, size_t n)
{
	const char	*slash = strrchr(path, '/');
	int		 r;

	if (slash == NULL)
		r = snprintf(dir, n, ".");
	else if (slash == path)
		r = snprintf(dir, n, "/");
	else
		r = snprintf(dir, n, "%.*s", (int)(slash - path), path);
	if (r < 0 || (size_t)r >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The new file takes the old one's mode and owner, or 0600 and ours. */
static int
atomic_perms(int fd, const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1)
		return errno == ENOENT ? fchmod(fd, 0600) : -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EISDIR;
		return -1;
	}
	if (fchmod(fd, st.st_mode & 07777) == -1)
		return -1;
	if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) == -1)
		return -1;
	return 0;
}

int
atomic_open(struct atomic *a, const char *path)
{
	const char	*slash = strrchr(path, '/');
	const char	*base = slash != NULL ? slash + 1 : path;
	char		 dir[PATH_MAX];
	int		 r, saved;

	a->path = path;
	a->fd = -1;
	if (*base == '\0') {
		errno = EISDIR;
		return -1;
	}
	if (atomic_dir(path, dir, sizeof(dir)) == -1)
		return -1;
	r = snprintf(a->tmp, sizeof(a->tmp), "%s/.%s.XXXXXX", dir, base);
	if (r < 0 || (size_t)r >= sizeof(a->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((a->fd = mkostemp(a->tmp, O_CLOEXEC)) == -1)
		return -1;
	if (atomic_perms(a->fd, path) == -1) {
		saved = errno;
		atomic_abort(a);
		errno = saved;
		return -1;
	}
	return 0;
}

static int
atomic_syncdir(const char *path)
{
	char	dir[PATH_MAX];
	int	fd, r;

	if (atomic_dir(path, dir, sizeof(dir)) == -1)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
atomic_commit(struct atomic *a)
{
	int	saved;

	if (fsync(a->fd) == -1) {
		atomic_abort(a);
		return -1;
	}
	/* close frees the descriptor even when it reports an error. */
	saved = close(a->fd);
	a->fd = -1;
	if (saved == -1) {
		atomic_abort(a);
		return -1;
	}
	if (rename(a->tmp, a->path) == -1) {
		saved = errno;
		atomic_abort(a);
		errno = saved;
		return -1;
	}
	/* Renamed: the new file is in place; only its durability is left. */
	return atomic_syncdir(a->path);
}

void
atomic_abort(struct atomic *a)
{
	int	saved = errno;

	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
	unlink(a->tmp);
	errno = saved;
}

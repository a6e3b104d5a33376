#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* Random octets for a temporary name: from the kernel, else the clock. */
static uint64_t
atomic_random(void)
{
	struct timespec	ts;
	uint64_t	r;

	if (getentropy(&r, sizeof(r)) == 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30;
}

/* Nothing of this name can make the open wait, take a tty or lead away. */
#define ATOMIC_AT_FLAGS	(O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | \
	O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/*
 * The temporary file's name, ".BASE.XXXXXX" next to the path (the form
 * statedir_is_temp knows), with six random letters or digits that no one
 * can guess: created there, or with proc the unnamed file linked there.
 * A name taken already (by chance, or by someone who put a file there)
 * is tried again with other letters, a few times.
 */
static int
atomic_tmpfile(struct atomic *a, const char *proc)
{
	static const char	 set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	const char		*slash = strrchr(a->path, '/');
	int			 dlen = slash != NULL ? slash - a->path + 1 : 0;
	int			 len, tries, i;
	uint64_t		 r;

	len = snprintf(a->tmp, sizeof(a->tmp), "%.*s.%s.XXXXXX", dlen,
	    a->path, a->path + dlen);
	if (len < 0 || (size_t)len >= sizeof(a->tmp)) {
		a->tmp[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	for (tries = 0; tries < 10; tries++) {
		r = atomic_random();
		for (i = len - 6; i < len; i++, r /= sizeof(set) - 1)
			a->tmp[i] = set[r % (sizeof(set) - 1)];
		if (proc != NULL ? linkat(AT_FDCWD, proc, a->dirfd, a->tmp,
		    AT_SYMLINK_FOLLOW) == 0 : (a->fd = openat(a->dirfd, a->tmp,
		    ATOMIC_AT_FLAGS, 0600)) != -1)
			return 0;
		if (errno != EEXIST)
			break;
	}
	a->tmp[0] = '\0';
	return -1;
}

int
atomic_open(struct atomic *a, const char *path, int flags)
{
	const char	*slash = strrchr(path, '/');

	a->path = path;
	a->fd = -1;
	a->dirfd = AT_FDCWD;
	a->flags = flags;
	if (*(slash != NULL ? slash + 1 : path) == '\0') {
		a->tmp[0] = '\0';
		errno = EISDIR;
		return -1;
	}
	if (atomic_tmpfile(a, NULL) == -1)
		return -1;
	if (atomic_perms(a->fd, path) == -1) {
		atomic_abort(a);
		return -1;
	}
	return 0;
}

int
atomic_openat(struct atomic *a, int dirfd, const char *name, int flags)
{
	a->path = name;
	a->dirfd = dirfd;
	a->flags = flags;
	a->tmp[0] = '\0';
	if (*name == '\0' || strchr(name, '/') != NULL ||
	    strlen(name) > NAME_MAX - 40) {
		errno = EINVAL;
		return -1;
	}
	a->fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (a->fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR))
		return a->fd == -1 ? -1 : 0;
	/* No unnamed files here: a name no other process can guess. */
	return atomic_tmpfile(a, NULL);
}

/* Gives an unnamed temporary file a name, so that it can be renamed. */
static int
atomic_link(struct atomic *a)
{
	char	proc[64];

	/* AT_EMPTY_PATH would need a capability; /proc does not. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", a->fd);
	return atomic_tmpfile(a, proc);
}

static int
atomic_syncdir(const struct atomic *a)
{
	char	dir[PATH_MAX];
	int	fd, r;

	if (a->flags & ATOMIC_NOSYNC)
		return 0;
	if (a->dirfd != AT_FDCWD)
		return fsync(a->dirfd);
	if (atomic_dir(a->path, dir, sizeof(dir)) == -1)
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

	if ((!(a->flags & ATOMIC_NOSYNC) && fsync(a->fd) == -1) ||
	    (a->tmp[0] == '\0' && atomic_link(a) == -1)) {
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
	if (renameat(a->dirfd, a->tmp, a->dirfd, a->path) == -1) {
		saved = errno;
		atomic_abort(a);
		errno = saved;
		return -1;
	}
	/* Renamed: the new file is in place; only its durability is left. */
	a->tmp[0] = '\0';
	return atomic_syncdir(a);
}

void
atomic_abort(struct atomic *a)
{
	int	saved = errno;

	if (a->fd != -1)
		close(a->fd);
	a->fd = -1;
	if (a->tmp[0] != '\0')
		(void)unlinkat(a->dirfd, a->tmp, 0);
	a->tmp[0] = '\0';
	errno = saved;
}

/*
 * Connection slots: octet i of dir/ADDR locked (an OFD write lock) is slot
 * i taken.  The kernel drops the lock when the last descriptor of the open
 * file goes, so a crashed or killed process never leaves a slot behind,
 * and nothing needs cleaning up.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "penalty.h"

/*
 * Attempts when the file is replaced under us between open and lock: only
 * a sweeper that holds every slot's lock unlinks it, so one more try
 * finds the new file; more than a few means something else is wrong.
 */
#define CONN_RETRIES	8

static void
conn_lock_octet(struct flock *fl, int type, unsigned i)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = i;
	fl->l_len = 1;
}

static void
close_keep_errno(int fd)
{
	int	saved = errno;

	close(fd);
	errno = saved;
}

/* Is fd still the file at path (not unlinked nor replaced)?  1, 0, -1. */
static int
conn_same_file(int fd, const char *path)
{
	struct stat	a, b;

	if (fstat(fd, &a) == -1)
		return -1;
	if (stat(path, &b) == -1)
		return errno == ENOENT ? 0 : -1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * One attempt: 1 and *fd with a slot, 0 when all are taken, 2 when the
 * file went away under us, or -1.
 */
static int
conn_try(const char *dir, const char *path, unsigned limit, int *fd)
{
	struct flock	fl;
	unsigned	i;
	int		same;

	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd == -1 && errno == ENOENT && mkdir(dir, 0700) == 0)
		*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (*fd == -1)
		return -1;
	for (i = 0; i < limit; i++) {
		conn_lock_octet(&fl, F_WRLCK, i);
		if (fcntl(*fd, F_OFD_SETLK, &fl) == 0)
			break;
		if (errno != EAGAIN && errno != EACCES) {
			close_keep_errno(*fd);
			*fd = -1;
			return -1;
		}
	}
	if (i == limit) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	if ((same = conn_same_file(*fd, path)) == 1)
		return 1;
	close_keep_errno(*fd);
	*fd = -1;
	return same == 0 ? 2 : -1;
}

int
conn_slot_take(const char *dir, const char *addr, unsigned limit, int *fd)
{
	char	path[PATH_MAX];
	int	try, r;

	*fd = -1;
	if (limit == 0)
		return 1;
	if (limit > CONN_PER_ADDRESS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (penalty_path(path, sizeof(path), dir, addr) == -1)
		return -1;
	for (try = 0; try < CONN_RETRIES; try++)
		if ((r = conn_try(dir, path, limit, fd)) != 2)
			return r;
	errno = EAGAIN;
	return -1;
}

int
conn_slot_count(const char *dir, const char *addr)
{
	struct flock	fl;
	char		path[PATH_MAX];
	unsigned	i;
	int		fd, n = 0;

	if (penalty_path(path, sizeof(path), dir, addr) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* Our own descriptor holds no lock: every one found is another's. */
	for (i = 0; i < CONN_PER_ADDRESS_MAX; i++) {
		conn_lock_octet(&fl, F_WRLCK, i);
		if (fcntl(fd, F_OFD_GETLK, &fl) == -1) {
			close_keep_errno(fd);
			return -1;
		}
		if (fl.l_type != F_UNLCK)
			n++;
	}
	close(fd);
	return n;
}

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "io.h"
#include "lock.h"

/* Sleeps between tries of a lock held by another open file. */
#define LOCK_NAP_MS	5

static void
lock_range(struct flock *fl, short type, off_t start, off_t len)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	fl->l_len = len;
}

int
lock_try(int fd, short type, off_t start, off_t len)
{
	struct flock	fl;

	lock_range(&fl, type, start, len);
	while (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno == EINTR)
			continue;
		/* POSIX lets a held lock say EACCES too. */
		if (errno == EACCES)
			errno = EAGAIN;
		return -1;
	}
	return 0;
}

int
lock_wait(int fd, short type, off_t start, off_t len, int timeout_ms)
{
	struct timespec	nap = { 0, LOCK_NAP_MS * 1000000L };
	int64_t		deadline = io_now_ms() + timeout_ms;

	while (lock_try(fd, type, start, len) == -1) {
		if (errno != EAGAIN)
			return -1;
		if (io_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

int
lock_held(int fd, off_t start, off_t len)
{
	struct flock	fl;

	lock_range(&fl, F_WRLCK, start, len);
	if (fcntl(fd, F_OFD_GETLK, &fl) == -1)
		return -1;
	return fl.l_type != F_UNLCK;
}

int
lock_own(int fd, off_t octet, off_t gate, int timeout_ms)
{
	struct flock	fl;
	int		r = -1, err;

	if (lock_wait(fd, F_WRLCK, gate, 1, timeout_ms) == -1)
		return -1;
	lock_range(&fl, F_WRLCK, octet, 1);
	if (lock_try(fd, F_UNLCK, octet, 1) == 0)
		while ((r = fcntl(fd, F_SETLK, &fl)) == -1 && errno == EINTR)
			;
	err = errno;
	(void)lock_try(fd, F_UNLCK, gate, 1);
	errno = err;
	return r;
}

/*
 * Connection slots: octet i of dir/ADDR locked (an OFD write lock; a
 * session in the front's place makes it a POSIX lock, lock_own) is slot
 * i taken.  The kernel drops the lock when the last descriptor of the open
 * file goes, so a crashed or killed process never holds a slot; only its
 * file may stay behind.
 *
 * Removing a file safely: a remover (a release or a sweep) locks every
 * slot and the octet past them, CONN_GATE, at once, without waiting; it
 * gets them only when no one holds a slot or is taking one, then unlinks
 * the file and closes.  A taker read-locks CONN_GATE while it looks for a
 * free slot, so that it never mistakes a remover's momentary locks for
 * taken slots, and then checks that the file it locked is still the one
 * the name gives: one unlinked under it is taken again as the new file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "lock.h"
#include "io.h"
#include "penalty.h"
#include "statedir.h"

/*
 * Attempts when the file is replaced under us between open and lock: a
 * remover holds every slot's lock while it unlinks, so one more try
 * finds the new file; more than a few means something else is wrong.
 */
#define CONN_RETRIES	8

/*
 * The first free one of limit slots on fd (the gate held): 1 with it
 * locked, 0 when all are taken, -1.
 */
static int
conn_lock_slot(int fd, unsigned limit, unsigned *slot)
{
	unsigned	i;

	for (i = 0; i < limit; i++) {
		if (lock_try(fd, F_WRLCK, i, 1) == 0) {
			*slot = i;
			return 1;
		}
		if (errno != EAGAIN)
			return -1;
	}
	return 0;
}

/*
 * One attempt: 1 and *fd with a slot, 0 when all are taken, 2 when the
 * file went away under us, or -1.
 */
static int
conn_try(int dfd, const char *addr, unsigned limit, int *fd, unsigned *slot)
{
	int	got, same;

	/* Through the gate, so that a remover's locks are not taken. */
	if ((*fd = statedir_lockat(dfd, addr, O_RDWR | O_CREAT, F_RDLCK,
	    CONN_GATE, 1)) == -1)
		return -1;
	got = conn_lock_slot(*fd, limit, slot);
	if (got == -1 || lock_try(*fd, F_UNLCK, CONN_GATE, 1) == -1)
		goto fail;
	/* Either way: a file unlinked under us says nothing of the count. */
	if ((same = statedir_same(dfd, addr, *fd)) == -1)
		goto fail;
	if (same == 1 && got == 1)
		return 1;
	close(*fd);
	*fd = -1;
	return same == 1 ? 0 : 2;
fail:
	close_keep_errno(*fd);
	*fd = -1;
	return -1;
}

int
conn_slot_take(const char *dir, const char *addr, unsigned limit, int *fd)
{
	unsigned	slot;

	return conn_slot_take_which(dir, addr, limit, fd, &slot);
}

int
conn_slot_take_which(const char *dir, const char *addr, unsigned limit,
    int *fd, unsigned *slot)
{
	int	dfd, try, r = 2;

	*fd = -1;
	*slot = 0;
	if (limit == 0)
		return 1;
	if (limit > CONN_PER_ADDRESS_MAX || addr == NULL ||
	    !statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = statedir_open(dir, 1)) == -1)
		return -1;
	for (try = 0; try < CONN_RETRIES && r == 2; try++)
		r = conn_try(dfd, addr, limit, fd, slot);
	if (r == 2) {
		r = -1;
		errno = EAGAIN;
	}
	close_keep_errno(dfd);
	return r;
}

/*
 * Removes dfd/name, open as fd, if it is still that file and no one holds
 * a slot of it or is taking one: 1 removed, 0 kept, or -1.
 */
static int
conn_remove(int dfd, const char *name, int fd)
{
	int	same;

	if (lock_try(fd, F_WRLCK, 0, CONN_GATE + 1) == -1)
		return errno == EAGAIN ? 0 : -1;
	/* Held by us now: no one takes a slot of it until we close. */
	if ((same = statedir_same(dfd, name, fd)) != 1)
		return same;
	if (unlinkat(dfd, name, 0) == -1)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

int
conn_slot_release(const char *dir, const char *addr, int fd)
{
	struct stat	a, b;
	int		dfd, fd2, r;

	if (fd == -1)
		return 0;
	if (addr == NULL || !statedir_name_valid(addr)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* No directory: no file to remove. */
	if ((dfd = statedir_open(dir, 0)) == -1) {
		close_keep_errno(fd);
		return errno == ENOENT ? 0 : -1;
	}
	fd2 = openat(dfd, addr, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd2 == -1 || fstat(fd, &a) == -1 || fstat(fd2, &b) == -1) {
		r = fd2 == -1 && errno == ENOENT ? 0 : -1;
		goto done;
	}
	/* Not the file our slot is in: someone else's; leave it. */
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		r = 0;
		goto done;
	}
	/*
	 * Our slot goes first (a child forked with fd still holds it, and
	 * then the file stays), then we try for all of them.
	 */
	close(fd);
	fd = -1;
	r = conn_remove(dfd, addr, fd2) == -1 ? -1 : 0;
done:
	if (fd != -1)
		close_keep_errno(fd);
	if (fd2 != -1)
		close_keep_errno(fd2);
	close_keep_errno(dfd);
	return r;
}

int
conn_slot_open(const char *dir, const char *addr)
{
	int	dfd, fd;

	if (addr == NULL || !statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = statedir_open(dir, 0)) == -1)
		return -1;
	/* Through the gate, so that a remover's locks are not counted. */
	fd = statedir_lockat(dfd, addr, O_RDONLY, F_RDLCK, CONN_GATE, 1);
	close_keep_errno(dfd);
	return fd;
}

int
conn_slot_held(int fd, unsigned slot)
{
	if (slot >= CONN_PER_ADDRESS_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* Our own descriptor holds no slot: one found is another's. */
	return lock_held(fd, slot, 1);
}

int
conn_slot_count(const char *dir, const char *addr)
{
	unsigned	i;
	int		fd, n = 0, held;

	if ((fd = conn_slot_open(dir, addr)) == -1)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < CONN_PER_ADDRESS_MAX; i++) {
		if ((held = conn_slot_held(fd, i)) == -1) {
			close_keep_errno(fd);
			return -1;
		}
		n += held;
	}
	close(fd);
	return n;
}

/* A sweep's look at one file: 1 removed, 0 kept, or -1. */
static int
sweep_one(int dfd, const char *name, void *arg)
{
	int	fd, r;

	(void)arg;
	fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		/* Gone, or no slot file (a link, a directory): not ours. */
		return errno == ENOENT || errno == ELOOP || errno == EISDIR ||
		    errno == ENXIO ? 0 : -1;
	r = conn_remove(dfd, name, fd);
	close_keep_errno(fd);
	return r;
}

long
conn_sweep(const char *dir, time_t now)
{
	long	n;
	int	dfd;

	if (!statedir_time_valid(now))
		return -1;
	if ((dfd = statedir_open(dir, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* No update lock here: each removal is safe on its own. */
	n = statedir_sweep(dfd, CONN_SWEEP_INTERVAL, now, NULL, sweep_one,
	    NULL);
	close_keep_errno(dfd);
	return n;
}

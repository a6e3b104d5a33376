/*
 * An mbox's locks (mbox.h).  The session lock is flock(2), which no
 * Debian MTA or mail reader takes on /var/mail, so that it stops only a
 * second POP3 session.  The delivery locks are what they take (Debian
 * Policy 11.6): fcntl on the file, then the dotlock PATH.lock, which
 * liblockfile makes through the setgid-mail helper dotlockfile when this
 * user may not write the spool directory.  They are held only while the
 * file is read and rewritten, never both waited for at once.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <lockfile.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "lock.h"
#include "mbox.h"

int
mbox_still_there(const struct mbox *mb)
{
	struct stat	st;

	return lstat(mb->path, &st) == 0 && (uint64_t)st.st_dev == mb->dev &&
	    (uint64_t)st.st_ino == mb->ino;
}

int
mbox_lock(struct mbox *mb)
{
	struct stat	st;
	int		tries, fd;

	if (mb->fd == -1)
		return 0;	/* no file: nothing for two sessions to clash on */
	for (tries = 0; tries < MBOX_REOPEN_TRIES; tries++) {
		if (flock(mb->fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				errno = EAGAIN;
			return -1;
		}
		if (mbox_still_there(mb))
			return 0;
		/* Replaced meanwhile (a mail reader's rewrite): the new one. */
		fd = open(mb->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC);
		if (fd == -1)
			return -1;
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid()) {
			close(fd);
			errno = EPERM;
			return -1;
		}
		close(mb->fd);
		mb->fd = fd;
		mb->dev = st.st_dev;
		mb->ino = st.st_ino;
	}
	errno = EAGAIN;
	return -1;
}

static void
nap(int ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
mbox_dlock(struct mbox *mb)
{
	int64_t	deadline = io_now_ms() + MBOX_LOCK_WAIT_MS;

	if (mb->dlocked)
		return 0;
	for (;;) {
		if (lock_try(mb->fd, F_WRLCK, 0, 0) == 0) {
			if (lockfile_create(mb->lockpath, 0, L_PID) ==
			    L_SUCCESS) {
				mb->dlocked = 1;
				return 0;
			}
			/* Never hold one while waiting for the other. */
			(void)lock_try(mb->fd, F_UNLCK, 0, 0);
		} else if (errno != EAGAIN && errno != EACCES)
			return -1;
		if (io_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		nap(MBOX_LOCK_RETRY_MS);
	}
}

void
mbox_dunlock(struct mbox *mb)
{
	int	saved = errno;

	if (!mb->dlocked)
		return;
	(void)lockfile_remove(mb->lockpath);
	(void)lock_try(mb->fd, F_UNLCK, 0, 0);
	mb->dlocked = 0;
	errno = saved;
}

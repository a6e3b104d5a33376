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
#include <limits.h>
#include <lockfile.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsshare.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "mbox.h"

int
mbox_still_there(const struct mbox *mb)
{
	struct stat	st;

	return lstat(mb->path, &st) == 0 && (uint64_t)st.st_dev == mb->dev &&
	    (uint64_t)st.st_ino == mb->ino;
}

/*
 * One warning line when the session lock (flock on the mbox) may hold on
 * this host only, as maildir_lock's for a Maildir; the session goes on.
 */
static void
lock_scope(const struct mbox *mb)
{
	struct fsmount	m;
	char		path[PATH_MAX];

	if (fsshare_of_fd(mb->fd, &m) == 1 && (m.flock_share == FS_HOSTLOCAL ||
	    m.flock_share == FS_UNKNOWN))
		log_warn("the mbox lock may hold on this host only: %s is on"
		    " %s, %s", log_abspath(mb->path, path, sizeof(path)),
		    m.fstype, m.flock_why);
}

/*
 * Whether flock on the mbox would be a lock on an NFS or SMB server: the
 * kernel sends it there as a whole-file byte-range lock, which stops the
 * MTA's fcntl lock (mail waits for the whole session) and may share its
 * owner, the open file, with our own fcntl delivery lock (letting that go
 * would let the session lock go).  Logged with the file system's type.
 */
static int
flock_on_server(const struct mbox *mb)
{
	struct fsmount	m;
	struct logline	l;

	if (fsshare_of_fd(mb->fd, &m) != 1 || m.flock_share != FS_SHARED ||
	    (strcmp(m.fstype, "nfs") != 0 && strcmp(m.fstype, "nfs4") != 0 &&
	    strcmp(m.fstype, "cifs") != 0 && strcmp(m.fstype, "smb3") != 0))
		return 0;
	logline_start(&l, "mbox-flock-on-server");
	logline_path(&l, "file", mb->path);
	logline_str(&l, "fstype", m.fstype);
	logline_str(&l, "why", "deliveries would wait for the session");
	logline_emit(&l);
	return 1;
}

int
mbox_lock(struct mbox *mb)
{
	struct stat	st;
	int		tries, fd;

	if (mb->fd == -1)
		return 0;	/* no file: nothing for two sessions to clash on */
	if (flock_on_server(mb)) {
		errno = EREMOTE;
		return -1;
	}
	for (tries = 0; tries < MBOX_REOPEN_TRIES; tries++) {
		if (flock(mb->fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				errno = EAGAIN;
			return -1;
		}
		if (mbox_still_there(mb)) {
			lock_scope(mb);
			return 0;
		}
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

/*
 * lockfile_create failed other than by the lock being held (L_MAXTRYS):
 * no wait mends that (no dotlockfile helper, a name too long, a spool it
 * may not write), so it is said at once, with the code liblockfile gave.
 */
static void
dotlock_failed(const struct mbox *mb, int code, int err)
{
	struct logline	l;

	logline_start(&l, "dotlock-failed");
	logline_path(&l, "file", mb->lockpath);
	logline_num(&l, "code", (uint64_t)code);
	logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

/* The dotlock just made: which file is ours, and when it was touched. */
static void
dotlock_made(struct mbox *mb)
{
	struct stat	st;

	mb->dlock_ino = stat(mb->lockpath, &st) == 0 ? (uint64_t)st.st_ino : 0;
	mb->dlock_dev = mb->dlock_ino != 0 ? (uint64_t)st.st_dev : 0;
	mb->dlock_touched = io_now_ms();
	mb->dlocked = 1;
}

int
mbox_dlock(struct mbox *mb)
{
	int64_t	deadline = io_now_ms() + MBOX_LOCK_WAIT_MS;
	int	r, err;

	if (mb->dlocked)
		return 0;
	for (;;) {
		if (lock_try(mb->fd, F_WRLCK, 0, 0) == 0) {
			errno = 0;
			r = lockfile_create(mb->lockpath, 0, L_PID);
			err = errno;
			if (r == L_SUCCESS) {
				dotlock_made(mb);
				return 0;
			}
			/* Never hold one while waiting for the other. */
			(void)lock_try(mb->fd, F_UNLCK, 0, 0);
			if (r != L_MAXTRYS) {
				dotlock_failed(mb, r, err);
				errno = ENOLCK;
				return -1;
			}
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
mbox_dotlock_keep(struct mbox *mb)
{
	int64_t	now;

	if (!mb->dlocked)
		return;
	now = io_now_ms();
	if (now - mb->dlock_touched < MBOX_DOTLOCK_TOUCH_MS)
		return;
	mb->dlock_touched = now;
	if (lockfile_touch(mb->lockpath) == -1)
		log_file("dotlock-touch-failed", mb->lockpath, errno);
}

/*
 * Whether the dotlock is still the one this process made: the same file,
 * and the pid in it (when it holds one) this process's.  Another
 * program may have taken it for stale and made its own.
 */
static int
dotlock_ours(const struct mbox *mb)
{
	struct stat	st;
	char		buf[32];
	ssize_t		n;
	int		fd;

	if (lstat(mb->lockpath, &st) == -1)
		return 0;
	if (mb->dlock_ino != 0 && ((uint64_t)st.st_ino != mb->dlock_ino ||
	    (uint64_t)st.st_dev != mb->dlock_dev))
		return 0;
	fd = open(mb->lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return mb->dlock_ino != 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return mb->dlock_ino != 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10) == (long)getpid();
}

void
mbox_dunlock(struct mbox *mb)
{
	int	saved = errno;

	if (!mb->dlocked)
		return;
	if (dotlock_ours(mb))
		(void)lockfile_remove(mb->lockpath);
	else
		log_file("dotlock-not-ours-left", mb->lockpath, 0);
	(void)lock_try(mb->fd, F_UNLCK, 0, 0);
	mb->dlocked = 0;
	errno = saved;
}

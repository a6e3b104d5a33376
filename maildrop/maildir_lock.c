/*
 * The session lock (maildir_lock): flock(2) on the maildrop's directory
 * and a lock on MAILDIR_LOCK_FILE, which is repaired when it is unusable.
 * Split from maildir.c (maildir_internal.h lists the pieces).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "fsshare.h"
#include "lock.h"
#include "log.h"
#include "maildir.h"
#include "pop3d_limits.h"

/*
 * Whether a lock file found unusable may be removed: the maildrop is this
 * user's own directory, so that what is in it is theirs to replace.
 */
static int
lock_repairable(const struct maildir *md)
{
	struct stat	st;

	return fstat(md->fd, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid();
}

/*
 * Removes an unusable MAILDIR_LOCK_FILE (a symbolic link, FIFO, device,
 * directory, or a file not this user's or that this user cannot open):
 * 0, or -1 with errno.  No session of this user holds a lock on it: none
 * can open it, or none would use it.
 */
static int
lock_repair(struct maildir *md, int err)
{
	struct stat	st;
	struct logline	l;
	char		what[64];

	if (!lock_repairable(md)) {
		errno = err;
		return -1;
	}
	if (fstatat(md->fd, MAILDIR_LOCK_FILE, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (unlinkat(md->fd, MAILDIR_LOCK_FILE,
	    S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == -1)
		return errno == ENOENT ? 0 : -1;
	snprintf(what, sizeof(what), "%s uid %lu mode %04o",
	    S_ISLNK(st.st_mode) ? "symlink" : S_ISFIFO(st.st_mode) ? "fifo" :
	    S_ISDIR(st.st_mode) ? "directory" : S_ISREG(st.st_mode) ? "file" :
	    "special", (unsigned long)st.st_uid,
	    (unsigned)(st.st_mode & 07777));
	logline_start(&l, "lock-repaired");
	logline_path(&l, "file", MAILDIR_LOCK_FILE);
	logline_str(&l, "was", what);
	logline_emit(&l);
	return 0;
}

/*
 * Whether an error opening MAILDIR_LOCK_FILE says it is the wrong kind of
 * file (a symbolic link, a directory, a FIFO, socket or device, one not
 * this user's) or one this user may not open: nothing a retry mends.
 */
static int
lock_file_bad(int err)
{
	switch (err) {
	case ELOOP: case EACCES: case EPERM: case EISDIR: case EINVAL:
	case ENXIO: case ETXTBSY: case ENODEV:
		return 1;
	default:
		return 0;
	}
}

/* Whether fd is still the file at MAILDIR_LOCK_FILE. */
static int
lock_at_path(const struct maildir *md, int fd)
{
	struct stat	a, b;

	return fstat(fd, &a) == 0 &&
	    fstatat(md->fd, MAILDIR_LOCK_FILE, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Where the lock holds and whose clock stamps the directories: one
 * warning line when the lock may be this host's alone (the session goes
 * on: a single host on such a mount is a sound setup, and nothing tells
 * pop3d whether others share it), and scancache.c's settling margin
 * where the hosts' own clocks stamp the directories, or who stamps them
 * cannot be told.
 */
static void
lock_scope(struct maildir *md)
{
	struct fsmount	m;
	char		path[PATH_MAX];

	md->skew_sec = SCANCACHE_SKEW_SEC;
	if (fsshare_of_fd(md->lockfd, &m) != 1)
		return;
	if (m.one_host || m.server_clock)
		md->skew_sec = 0;
	if (m.share == FS_HOSTLOCAL || m.share == FS_UNKNOWN)
		log_warn("the maildrop lock may hold on this host only: %s is"
		    " on %s, %s", log_abspath(MAILDIR_LOCK_FILE, path,
		    sizeof(path)), m.fstype, m.why);
}

int
maildir_lock(struct maildir *md)
{
	int	tries, repaired = 0;

	/*
	 * The maildrop's directory itself: nobody can unlink or replace it
	 * under this session, as anyone who can write the maildrop can do
	 * to a lock file.  A file system without flock(2) on directories
	 * leaves the lock file alone to do it: NFSv4 refuses an exclusive
	 * flock on a descriptor not open for writing (EBADF), and Linux's
	 * NFS client has no lock operation for directories at all, so that
	 * there the flock holds on this host only.  The lock file's OFD
	 * lock, an NLM or NFSv4 lock on the server, holds on every host.
	 */
	if (fsshare_flock(md->fd, LOCK_EX | LOCK_NB) == -1 &&
	    errno != EINVAL &&
	    errno != ENOLCK && errno != EBADF && errno != EOPNOTSUPP &&
	    errno != ENOSYS) {
		if (errno == EWOULDBLOCK)
			errno = EAGAIN;
		return -1;
	}
	/*
	 * The lock file, for file systems without the above, for pop3d
	 * before it, and for the file system's clock (scancache.c).  Taken,
	 * then checked to be still the file of that name, since one removed
	 * or replaced between the open and the lock locks nothing.
	 */
	for (tries = 0; tries < 5; tries++) {
		md->lockfd = maildir_file_open(md, MAILDIR_LOCK_FILE,
		    O_RDWR | O_CREAT);
		if (md->lockfd == -1) {
			if (!lock_file_bad(errno)) {
				maildir_unlock(md);
				return -1;
			}
			if (repaired++ > 0 || lock_repair(md, errno) == -1) {
				maildir_unlock(md);
				return -2;
			}
			continue;
		}
		if (lock_try(md->lockfd, F_WRLCK, 0, 0) == -1) {
			maildir_unlock(md);
			return -1;
		}
		if (lock_at_path(md, md->lockfd)) {
			lock_scope(md);
			return 0;
		}
		close(md->lockfd);
		md->lockfd = -1;
	}
	maildir_unlock(md);
	errno = EAGAIN;
	return -1;
}

void
maildir_unlock(struct maildir *md)
{
	int	saved = errno;

	if (md->lockfd != -1)
		close(md->lockfd);
	md->lockfd = -1;
	if (md->fd != -1)
		(void)flock(md->fd, LOCK_UN);
	errno = saved;
}

/*
 * Now, by the clock that stamps the directories: the session's lock file
 * touched and read back (an NFS server's clock, skewed or not: the client
 * asks the server to set its own time), else the host's.  On a file
 * system whose hosts stamp with their own clocks this is this host's, and
 * md->skew_sec covers the others'.
 */
int
maildir_now(const struct maildir *md, int64_t *now)
{
	struct timespec	ts;

	if (md->lockfd != -1 && fsshare_touch(md->lockfd, now) == 0)
		return 0;
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	*now = (int64_t)(ts.tv_sec + fsshare_clock_offset()) * 1000000000 +
	    ts.tv_nsec;
	return 0;
}

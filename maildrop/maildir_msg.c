/*
 * A listed message's file, found again when another program renamed it:
 * maildir_stat_msg, maildir_open_msg (for RETR and TOP), maildir_remove
 * (the UPDATE state).  Split from maildir.c (maildir_internal.h lists the
 * pieces).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "maildir.h"
#include "scancache.h"

/*
 * fd, just opened under m's name, is m's file: fstat into st and the
 * listed inode.  fd, or -1 with errno (ENOENT: another file took the
 * name) and fd closed.
 */
static int
msg_fd_is(int fd, const struct msg *m, struct stat *st)
{
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		close(fd);
		return -1;
	}
	if (st->st_ino != m->st_ino) {
		close(fd);
		errno = ENOENT;		/* another file took the name */
		return -1;
	}
	return fd;
}

static int
open_checked(struct maildir *md, const struct msg *m)
{
	struct stat	st;
	int		fd;

	/*
	 * O_NOATIME: the access time of a message marked seen is its
	 * retrieval time (expire.h), which this session's reads must not
	 * move; a file of another owner's cannot be opened so (EPERM).
	 */
	fd = openat(maildir_dirfd(md, m), m->name, O_RDONLY | O_NOATIME |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == EPERM)
		fd = openat(maildir_dirfd(md, m), m->name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (msg_fd_is(fd, m, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;		/* a FIFO or device is no message */
		return -1;
	}
	if ((uint64_t)st.st_size != m->disk ||
	    maildir_mtime_ns(&st) != m->mtime_ns) {
		close(fd);
		errno = ESTALE;		/* rewritten in place: not as listed */
		return -1;
	}
	return fd;
}

/*
 * The cache's list goes: a change it cannot see (a message rewritten in
 * place leaves the directories' mtimes as they were) or one this session
 * makes.  The next session scans.
 */
static void
index_drop(struct maildir *md)
{
	int	saved = errno;

	if (md->index_dropped)
		return;
	scancache_drop_list(md);
	md->index_dropped = 1;
	errno = saved;
}

int
maildir_stat_msg(struct maildir *md, struct msg *m, struct stat *st)
{
	int	tries;

	for (tries = 0; tries < MAILDIR_RENAME_TRIES; tries++) {
		if (fstatat(maildir_dirfd(md, m), m->name, st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOENT || maildir_locate(md, m) == -1)
			return -1;
	}
	errno = EAGAIN;		/* renamed faster than it could be followed */
	return -1;
}

int
maildir_open_msg(struct maildir *md, struct msg *m)
{
	int	fd = -1, tries;

	for (tries = 0; tries < MAILDIR_RENAME_TRIES; tries++) {
		if ((fd = open_checked(md, m)) != -1 || errno != ENOENT)
			break;
		if (maildir_locate(md, m) == -1)
			return -1;
	}
	if (tries == MAILDIR_RENAME_TRIES)
		errno = EAGAIN;
	if (fd == -1 && errno == ESTALE)
		index_drop(md);
	return fd;
}

/*
 * A handle on the message's file itself (O_PATH: no read permission
 * needed, and a FIFO put in its place does not block) when its name still
 * holds it: a descriptor, or -1 with errno (ENOENT: no file of its inode
 * there).
 */
static int
hold_msg(struct maildir *md, const struct msg *m)
{
	struct stat	st;
	int		fd;

	fd = openat(maildir_dirfd(md, m), m->name,
	    O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return msg_fd_is(fd, m, &st);
}

/*
 * The file is held once found, so that its link count says when it is
 * gone, whatever renames it: an unlinkat that fails with ENOENT only says
 * that the name went, perhaps to other flags.  A message found neither at
 * its name nor by maildir_locate was removed by another program.
 */
int
maildir_remove(struct maildir *md, struct msg *m)
{
	struct stat	st;
	int		fd = -1, tries, gone = 0, saved;

	/* Belt and braces: the removal changes cur/'s mtime too. */
	index_drop(md);
	for (tries = 0; tries < MAILDIR_RENAME_TRIES; tries++) {
		if (fd == -1 && (fd = hold_msg(md, m)) == -1 &&
		    errno != ENOENT)
			break;
		if (fd != -1) {
			if (unlinkat(maildir_dirfd(md, m), m->name, 0) == -1 &&
			    errno != ENOENT)
				break;
			if (fstat(fd, &st) == -1)
				break;
			if (st.st_nlink == 0) {
				gone = 1;
				break;
			}
		}
		/* Renamed, or linked under another name too: where now? */
		if (maildir_locate(md, m) == -1) {
			if (errno == ENOENT && fd == -1)
				gone = 1;
			else if (errno == ENOENT)
				errno = EAGAIN;	/* out of reach, not gone */
			break;
		}
	}
	if (tries == MAILDIR_RENAME_TRIES)
		errno = EAGAIN;		/* renamed faster than it could go */
	if (fd != -1) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return gone ? 0 : -1;
}

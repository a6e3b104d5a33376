/*
 * Whether a file system's locks and clock are shared by the hosts that
 * use it, told from /proc/self/mountinfo (the line of the mount holding a
 * file: its type and super options).  The maildrop's session lock and the
 * state directory's locks are OFD (fcntl) locks, plus flock(2) on the
 * maildrop's directory; what each file system does with them is in
 * DESIGN.md ("Several hosts").
 */
#ifndef POP3D_FSSHARE_H
#define POP3D_FSSHARE_H

#include <stddef.h>
#include <stdint.h>

#include "pop3d_limits.h"

enum fsshare {
	FS_LOCAL,	/* one host's file system: nothing to share */
	FS_SHARED,	/* network or cluster: its locks reach every host */
	FS_HOSTLOCAL,	/* network, but its locks stay on this host */
	FS_UNKNOWN,	/* network, not known to share locks */
};

/*
 * One mount, as the judgement needs it: share and why for fcntl (OFD)
 * locks, flock_share and flock_why for flock(2) on a file (an mbox's
 * session lock), which only NFS's local_lock= tells apart.
 */
struct fsmount {
	char		 fstype[FSTYPE_MAX + 1];
	enum fsshare	 share, flock_share;
	const char	*why, *flock_why;	/* static text, or "" */
	int		 server_clock;	/* touching a file stamps the dirs' clock */
	int		 one_host;	/* a type known to live on one host */
};

/*
 * The judgement of a type and its comma-separated super options (optlen
 * octets, not NUL-terminated): fills share, why, server_clock and
 * one_host.  A type neither known local nor known networked is FS_LOCAL
 * (no word of its locks) without one_host (its clocks unknown).
 */
void	fsshare_judge(const char *, const char *, size_t, struct fsmount *);

/*
 * Finds in a mountinfo image (len octets, any content) the line of mount
 * id (when id is not 0), else of device major:minor, and judges it: 1
 * found, 0 not.  Lines longer than MOUNTINFO_LINE_MAX or malformed are
 * skipped.
 */
int	fsshare_find(const char *, size_t, uint64_t, unsigned, unsigned,
	    struct fsmount *);

/*
 * The mount holding fd: a common local type by statfs(2)'s magic, else
 * from /proc/self/mountinfo (at most MOUNTINFO_MAX octets read): 1
 * found, 0 cannot tell (the file unreadable, too large,
 * or no line for it).  TEST_POP3D_MOUNTINFO names another file to read:
 * a test hook, as a network file system cannot be mounted in the tests.
 * Each TEST_POP3D_* hook here is read only in a build with TEST_HOOKS=1
 * (the Makefile: make check's build, never a plain make's).
 */
int	fsshare_of_fd(int, struct fsmount *);

/*
 * A test hook: TEST_POP3D_CLOCK_OFFSET seconds (-86400 to 86400) added to
 * this process's idea of now where it stamps a file, as a host whose clock
 * is that far off would.  0 when unset or out of range.
 */
int64_t	fsshare_clock_offset(void);

/*
 * Now by the clock of the file system holding fd: fd's times set to now
 * (on NFS the server sets its own) and read back, in nanoseconds; with
 * TEST_POP3D_CLOCK_OFFSET, this host's clock that far off, as a host's
 * kernel stamps on a file system whose hosts stamp with their own
 * clocks.  0, or -1 with errno.
 */
int	fsshare_touch(int, int64_t *);

/*
 * flock(2), or a test hook: TEST_POP3D_FLOCK_ERRNO set to a number fails
 * it with that errno, as flock on a directory does on some network file
 * systems.
 */
int	fsshare_flock(int, int);

#endif

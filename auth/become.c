#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "become.h"
#include "log.h"
#include "num.h"
#include "pop3d_limits.h"

/*
 * Is uid the one pop3d's pre-login processes and TLS relays run as
 * (POP3D_PREAUTH_UID, which pop3d exports when root)?  A session of that
 * uid could signal every connection's confined processes.  1, 0, or -1
 * for a malformed value (refused: fail closed).
 */
static int
preauth_uid(uid_t uid)
{
	const char	*v = getenv("POP3D_PREAUTH_UID");
	uint64_t	 n;

	if (v == NULL || *v == '\0')
		return 0;
	if (num_parse(v, 1, UINT32_MAX - 1, &n) == -1)
		return -1;
	return (uid_t)n == uid;
}

/*
 * Becomes the user: never root, never the pre-login processes' uid;
 * without root, only as ourselves.  Returns 0, or -1 with *why.
 */
int
become(const struct user *u, int keep_uid, const char **why)
{
	static char	buf[96];
	int		r;

	*why = "uid or gid 0 refused";
	errno = EPERM;
	if (u->uid == 0 || u->gid == 0)
		return -1;
	if (geteuid() == 0 && (r = preauth_uid(u->uid)) != 0) {
		*why = "bad setting: POP3D_PREAUTH_UID";
		if (r == 1) {
			snprintf(buf, sizeof(buf), "uid %lu is the pre-login"
			    " processes' (POP3D_PREAUTH_UID)",
			    (unsigned long)u->uid);
			*why = buf;
		}
		return -1;
	}
	if (geteuid() != 0) {
		*why = "not root, and the user's uid is not ours";
		if (getuid() != u->uid || geteuid() != u->uid)
			return -1;
		*why = "not root, and the user's gid is not ours";
		if ((getgid() != u->gid || getegid() != u->gid) &&
		    setgid(u->gid) == -1)
			return -1;
		return 0;
	}
	*why = "cannot switch to the user";
	/*
	 * The record's gid and no other: supplementary groups by name
	 * (initgroups) would give a mail user who shares a system account's
	 * name that account's groups, and cost an NSS lookup per login.
	 */
	if (setgroups(1, &u->gid) == -1 ||
	    setresgid(u->gid, u->gid, u->gid) == -1)
		return -1;
	*why = "the user's gid did not take";
	if (getgid() != u->gid || getegid() != u->gid) {
		errno = EPERM;
		return -1;
	}
	/* pop3d-maildrop takes the uid itself (endline_hold). */
	if (keep_uid)
		return 0;
	*why = "cannot switch to the user";
	if (setuid(u->uid) == -1)
		return -1;
	*why = "still privileged after switching";
	if (getuid() != u->uid || geteuid() != u->uid || setuid(0) != -1) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

#define SUID_DUMPABLE	"/proc/sys/fs/suid_dumpable"

int
become_can_hide(void)
{
	char	buf[8];
	ssize_t	n = -1;
	int	fd;

	if ((fd = open(SUID_DUMPABLE, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	/* 0: not dumpable; 2: dumpable by root alone, as for ptrace. */
	if (n == 2 && (buf[0] == '0' || buf[0] == '2') && buf[1] == '\n')
		return 1;
	log_warn("one process a session is off: " SUID_DUMPABLE " is not 0"
	    " or 2, so a session would be open to the user's processes"
	    " (set fs.suid_dumpable = 0 in /etc/sysctl.d)");
	return 0;
}

#define FUSE_TIMEOUT	"/proc/sys/fs/fuse/max_request_timeout"

int
become_fuse_bounded(void)
{
	char		buf[16];
	uint64_t	n;
	ssize_t		len = -1;
	int		fd;

	if (access("/dev/fuse", F_OK) == -1 && errno == ENOENT)
		return 1;
	if ((fd = open(FUSE_TIMEOUT, O_RDONLY | O_CLOEXEC)) != -1) {
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (len <= 1 || buf[len - 1] != '\n')
		return 0;
	buf[len - 1] = '\0';
	return num_parse(buf, 1, FUSE_TIMEOUT_MAX, &n) == 0;
}

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "become.h"
#include "num.h"

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
become(const struct user *u, const char **why)
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
	if (setgroups(1, &u->gid) == -1 || setgid(u->gid) == -1 ||
	    setuid(u->uid) == -1)
		return -1;
	*why = "still privileged after switching";
	if (getuid() != u->uid || geteuid() != u->uid ||
	    getgid() != u->gid || getegid() != u->gid || setuid(0) != -1) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

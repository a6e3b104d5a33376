/*
 * Becoming a mail user after a good login (pop3d-auth.8): in the check,
 * and again in the front's place when pop3d became the session.
 */
#ifndef POP3D_BECOME_H
#define POP3D_BECOME_H

#include "user.h"

/*
 * Becomes the user: never root, never the pre-login processes' uid;
 * without root, only as ourselves.  keep_uid (root only): the user's
 * groups but still uid 0, for pop3d-maildrop in the front's place, which
 * arms its bound before it takes the uid (endline_hold).  Returns 0, or
 * -1 with *why.
 */
int	become(const struct user *, int keep_uid, const char **);

/*
 * Would a change of uid from root leave the process non-dumpable:
 * fs.suid_dumpable is 0 or 2 (proc(5)).  1, or 0 with a warning logged.
 */
int	become_can_hide(void);

/*
 * Can a process of ours wait on a FUSE request for good?  A user may
 * mount a FUSE file system on their Maildir and answer nothing: the
 * session then waits uninterruptibly, SIGKILL and all, and a session in
 * the front's place would keep its slot for good.  1 when there is no
 * FUSE (/dev/fuse missing) or its requests time out within
 * FUSE_TIMEOUT_MAX seconds (fs.fuse.max_request_timeout, Linux 6.14);
 * else 0.
 */
int	become_fuse_bounded(void);

#endif

/*
 * Becoming a mail user after a good login (pop3d-auth.8): in the check,
 * and again in the front's place when pop3d became the session.
 */
#ifndef POP3D_BECOME_H
#define POP3D_BECOME_H

#include "user.h"

/*
 * The real gid a session run in the front's place is exec'd with
 * (become's hidden): the kernel's overflow gid (nogroup), or the one
 * below it when that is the user's own.  Only the loader and our own
 * code run with it, before pop3d-maildrop sets it back.
 */
#define BECOME_HIDDEN_GID	65534

/*
 * Becomes the user: never root, never the pre-login processes' uid;
 * without root, only as ourselves.  hidden (root only): the real gid
 * is not the user's, so that the next exec leaves the process
 * non-dumpable (become.c).  Returns 0, or -1 with *why.
 */
int	become(const struct user *, int hidden, const char **);

/*
 * Would an exec after become(u, 1, ...) leave the process non-dumpable:
 * fs.suid_dumpable is 0 or 2 (proc(5)).  1, or 0 with a warning logged.
 */
int	become_can_hide(void);

#endif

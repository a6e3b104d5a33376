/*
 * Becoming a mail user after a good login (pop3d-auth.8): in the check,
 * and again in the front's place when pop3d became the session.
 */
#ifndef POP3D_BECOME_H
#define POP3D_BECOME_H

#include "user.h"

/*
 * Becomes the user: never root, never the pre-login processes' uid;
 * without root, only as ourselves.  Returns 0, or -1 with *why.
 */
int	become(const struct user *, const char **);

#endif

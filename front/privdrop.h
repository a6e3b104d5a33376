/* The one privilege-drop ritual of the pre-login process. */
#ifndef POP3D_PRIVDROP_H
#define POP3D_PRIVDROP_H

#include <sys/types.h>

struct privdrop {
	int	 root;		/* started as root: chroot and switch users */
	uid_t	 uid;
	gid_t	 gid;
	const char *user;	/* for the log */
	const char *dir;	/* the empty directory to chroot into */
};

/*
 * Chooses the unprivileged user (name, else "nobody") and directory; for a
 * non-root start, notes that only what needs no root will be done.  Runs
 * in the front, where /etc/passwd can still be read.  0, or -1 logged.
 */
int	privdrop_prepare(struct privdrop *, const char *, const char *);

/*
 * In the pre-login process: chroot into the directory, drop groups, gid
 * and uid, forbid new privileges, lower the resource limits, then verify.
 * Any failure is fatal: the process exits 111 without a word to the client.
 */
void	privdrop_apply(const struct privdrop *);

#endif

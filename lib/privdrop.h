/*
 * The one privilege-drop ritual, for every process that handles a
 * stranger's bytes: the front's pre-login process and the TLS relay.
 */
#ifndef POP3D_PRIVDROP_H
#define POP3D_PRIVDROP_H

#include <sys/types.h>

struct privdrop {
	int	 root;		/* started as root: chroot and switch users */
	uid_t	 uid;
	gid_t	 gid;
	const char *user;	/* for the log */
	const char *dir;	/* the empty directory to chroot into */
	const char *role;	/* for messages; NULL: "pre-login" */
	/*
	 * The process logs on stderr after the drop, and stderr may be a
	 * file (tcpserver ... 2>>log): RLIMIT_FSIZE 0 would kill it with
	 * SIGXFSZ at its first line, so the limit is left as it was.
	 */
	int	 logs;
	/*
	 * Non-zero: the process that must outlive this one (the front, the
	 * privileged parent).  The drop asks the kernel to kill this process
	 * when it dies (PR_SET_PDEATHSIG, which a change of ids clears, so
	 * it is set after it) and fails if it is already gone.
	 */
	pid_t	 parent;
};

/*
 * Chooses the unprivileged user (name, else "nobody") and directory; for a
 * non-root start, notes that only what needs no root will be done.  Runs
 * before the drop, where /etc/passwd can still be read.  0, or -1 logged.
 * The caller may set role and logs afterwards.
 */
int	privdrop_prepare(struct privdrop *, const char *, const char *);

/*
 * In the process to confine: chroot into the directory, drop groups, gid
 * and uid, forbid new privileges, lower the resource limits (PREAUTH_NOFILE,
 * PREAUTH_AS: the TLS relay needs no more), verify, and last load the
 * seccomp allow-list (sandbox.h; writes to fd 2 only when logs is set).
 * Any failure is fatal: the process exits 111 without a word to the client.
 */
void	privdrop_apply(const struct privdrop *);

/*
 * In a freshly forked dialogue child, before privdrop_apply: fd, its end
 * of the channel to the privileged parent, moves to fd 3, every
 * descriptor above 3 is closed (nothing else goes into the chroot) and
 * the child dies with its parent.  The parent's end must be close-on-exec
 * or closed by the caller.  0, or -1 with errno.
 */
int	privdrop_child_fds(int);

#endif

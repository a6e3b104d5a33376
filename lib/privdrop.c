#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3d_limits.h"
#include "privdrop.h"
#include "sandbox.h"

/*
 * A user's entry: from /etc/passwd read directly when it is there, since
 * getpwnam() has NSS load its modules (libnss_systemd and the libraries
 * it needs) afresh in every connection, some 0.3 ms of CPU each time;
 * then through NSS, for users kept elsewhere, except in a static build
 * (make STATIC=1), where NSS cannot load.
 */
static struct passwd *
user_lookup(const char *name)
{
	struct passwd	*pw = NULL;
	FILE		*f;

	if ((f = fopen("/etc/passwd", "re")) != NULL) {
		while ((pw = fgetpwent(f)) != NULL &&
		    strcmp(pw->pw_name, name) != 0)
			;
		fclose(f);
	}
#ifdef POP3D_STATIC
	return pw;
#else
	return pw != NULL ? pw : getpwnam(name);
#endif
}

int
privdrop_prepare(struct privdrop *pd, const char *user, const char *dir)
{
	struct passwd	*pw;
	struct stat	 st;
	char		 abs[2 * PATH_MAX];

	memset(pd, 0, sizeof(*pd));
	pd->dir = dir;
	pd->root = geteuid() == 0;
	if (!pd->root) {
		pd->uid = getuid();
		pd->gid = getgid();
		pd->user = "-";
		return 0;
	}
	if ((pw = user_lookup(user)) == NULL &&
	    (pw = user_lookup("nobody")) == NULL) {
		log_warn("no user %s and no user nobody to drop privileges"
		    " to", user);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_warn("the unprivileged user %s must not be root",
		    pw->pw_name);
		return -1;
	}
	pd->uid = pw->pw_uid;
	pd->gid = pw->pw_gid;
	pd->user = strcmp(pw->pw_name, user) == 0 ? user : "nobody";
	/* The messages name it as it is: an absolute path. */
	dir = log_abspath(dir, abs, sizeof(abs));
	/* The empty directory: made root-owned and read-only if missing. */
	if (mkdir(dir, 0555) == -1 && errno != EEXIST) {
		log_warn("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* One the unprivileged user could write to would be no jail. */
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		log_warn("%s must be a directory owned by root and writable"
		    " by no one else", dir);
		return -1;
	}
	return 0;
}

static const char *
privdrop_role(const struct privdrop *pd)
{
	return pd->role != NULL ? pd->role : "pre-login";
}

static void __attribute__((noreturn))
privdrop_fail(const struct privdrop *pd, const char *what)
{
	die(111, "%s privilege drop failed: %s: %s", privdrop_role(pd), what,
	    strerror(errno));
}

/*
 * No capabilities, whatever the start (systemd's AmbientCapabilities= or
 * file capabilities can give a non-root pop3d some): ambient cleared, and
 * effective, permitted and inheritable emptied.
 */
static void
caps_clear(const struct privdrop *pd)
{
	struct __user_cap_header_struct	h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct	d[2];

	memset(d, 0, sizeof(d));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		privdrop_fail(pd, "clearing ambient capabilities");
	if (syscall(SYS_capset, &h, d) == -1)
		privdrop_fail(pd, "capset");
}

static int
caps_empty(void)
{
	struct __user_cap_header_struct	h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct	d[2];
	int				i;

	if (syscall(SYS_capget, &h, d) == -1)
		return 0;
	for (i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return 0;
	return 1;
}

static void
limit(const struct privdrop *pd, int resource, rlim_t value, const char *what)
{
	struct rlimit	rl = { value, value };

	if (setrlimit(resource, &rl) == -1)
		privdrop_fail(pd, what);
}

void
privdrop_apply(const struct privdrop *pd)
{
	if (pd->root) {
		if (chdir(pd->dir) == -1 || chroot(".") == -1 ||
		    chdir("/") == -1)
			privdrop_fail(pd, "chroot");
		if (setgroups(0, NULL) == -1)
			privdrop_fail(pd, "setgroups");
		if (setresgid(pd->gid, pd->gid, pd->gid) == -1)
			privdrop_fail(pd, "setresgid");
		if (setresuid(pd->uid, pd->uid, pd->uid) == -1)
			privdrop_fail(pd, "setresuid");
	}
	/* Dies with its parent: set after the change of ids, which clears it. */
	if (pd->parent != 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
			privdrop_fail(pd, "PR_SET_PDEATHSIG");
		if (getppid() != pd->parent)
			die(111, "%s privilege drop: the parent is gone",
			    privdrop_role(pd));
	}
	/*
	 * The uid change may have made the process dumpable again (with
	 * fs.suid_dumpable set): no ptrace by another process of this uid.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		privdrop_fail(pd, "PR_SET_DUMPABLE");
	caps_clear(pd);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		privdrop_fail(pd, "no_new_privs");
	limit(pd, RLIMIT_NOFILE, PREAUTH_NOFILE, "RLIMIT_NOFILE");
	limit(pd, RLIMIT_NPROC, 0, "RLIMIT_NPROC");
#if !defined(__SANITIZE_ADDRESS__)
	/* A sanitizer's report may go to fd 2 in any process (sandbox.c). */
	if (!pd->logs)
		limit(pd, RLIMIT_FSIZE, 0, "RLIMIT_FSIZE");
#endif
	limit(pd, RLIMIT_CORE, 0, "RLIMIT_CORE");
#if !defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer reserves terabytes of address space. */
	limit(pd, RLIMIT_AS, PREAUTH_AS, "RLIMIT_AS");
#endif
	/* Verify: the ids asked for, no capability, root out of reach. */
	if (!caps_empty() || (pd->root && (getuid() != pd->uid ||
	    geteuid() != pd->uid || getgid() != pd->gid ||
	    getegid() != pd->gid || setuid(0) != -1 || setgid(0) != -1)))
		die(111, "%s privilege drop did not hold", privdrop_role(pd));
	/* Last, when nothing more needs root or a file: the allow-list. */
	if (sandbox_apply(pd->logs) == -1)
		privdrop_fail(pd, "seccomp filter");
}

int
privdrop_child_fds(int fd)
{
	if (fd != 3 && dup2(fd, 3) == -1)
		return -1;
	if (close_range(4, ~0U, 0) == -1)
		return -1;
	return prctl(PR_SET_PDEATHSIG, SIGKILL);
}

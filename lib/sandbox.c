#include <sys/ioctl.h>
#include <sys/mman.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

/*
 * What the confined processes do after the drop, and nothing more.  The
 * pre-login process: read the client (recv with MSG_PEEK), write it, poll
 * with a signal mask, send and receive its IPC messages, the monotonic
 * clock, shutdown before its last read.  The relay, besides: libtls and
 * OpenSSL during the handshake and the relay (getrandom, futex for
 * OpenSSL's once-only initialisation, madvise and mremap for malloc), a
 * syslog line on its connected socket.  Its own ids may be read (a
 * caller may check that it is not root).  rt_sigprocmask: ppoll's mask is
 * the kernel's, but libc's abort() and ASan block signals themselves.
 */
static const int sandbox_allowed[] = {
	SCMP_SYS(read), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(close), SCMP_SYS(shutdown),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getrandom),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(futex), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * Only in the sanitizer build (make sanitize), so that a bug in a
	 * confined process still ends in a report (tests/unit/t_sandbox.c):
	 * AddressSanitizer's own signal stack, UBSan's look for its
	 * executable's name (readlink, which the chroot makes fail), and the
	 * report itself, written to fd 2.  Its symbolizer would need a pipe,
	 * fork and exec: refused, the report has addresses instead.
	 */
	SCMP_SYS(sigaltstack), SCMP_SYS(readlink), SCMP_SYS(write),
#endif
};

/*
 * Calls harmless to refuse, that libc or OpenSSL may make lazily; in the
 * sanitizer build, the pipe a report's symbolizer would be started with.
 */
static const int sandbox_refused[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2),
	SCMP_SYS(socket),
#if defined(__SANITIZE_ADDRESS__)
	SCMP_SYS(pipe), SCMP_SYS(pipe2),
#endif
};

/* fcntl: O_NONBLOCK and close-on-exec, read and set; no locks, no dup. */
static const int sandbox_fcntl[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };

/* The tables: allowed or refused whatever the arguments, fcntl's few. */
static int
sandbox_tables(scmp_filter_ctx ctx)
{
	size_t	i;
	int	r = 0;

	for (i = 0; r == 0 && i < sizeof(sandbox_allowed) /
	    sizeof(sandbox_allowed[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_allowed[i],
		    0);
	for (i = 0; r == 0 && i < sizeof(sandbox_refused) /
	    sizeof(sandbox_refused[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    sandbox_refused[i], 0);
	for (i = 0; r == 0 && i < sizeof(sandbox_fcntl) /
	    sizeof(sandbox_fcntl[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)sandbox_fcntl[i]));
	return r;
}

/* write(2): to any descriptor, or to any but fd 2 unless stderr_ok. */
static int
sandbox_write(scmp_filter_ctx ctx, int stderr_ok)
{
#if !defined(__SANITIZE_ADDRESS__)
	int	r;

	/* The sanitizers write their reports to fd 2: allowed below. */
	if (!stderr_ok) {
		/*
		 * The kernel takes the fd as 32 bits: fd 2 is refused by its
		 * low 32 bits (0x100000002 is fd 2 too), checked first by
		 * libseccomp; the rest is allowed on either side of 2.
		 * (libseccomp 2.5's SCMP_A0_32 still requires the high bits
		 * to be 0, so it cannot serve.)
		 */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EBADF),
		    SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
		    0xffffffffULL, STDERR_FILENO));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(write), 1,
			    SCMP_A0(SCMP_CMP_LT, STDERR_FILENO));
		if (r == 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
			    SCMP_SYS(write), 1,
			    SCMP_A0(SCMP_CMP_GT, STDERR_FILENO));
		return r;
	}
#else
	(void)stderr_ok;
#endif
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 0);
}

/* The calls allowed with some arguments only. */
static int
sandbox_args(scmp_filter_ctx ctx)
{
	scmp_datum_t	self = (scmp_datum_t)getpid();
	int		r;

	/* isatty() (stdio, a sanitizer's report) hears "not a terminal". */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 1,
	    SCMP_A1(SCMP_CMP_EQ, TCGETS));
	/* The relay's look at the client's TCP state (tls/relay.c). */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(getsockopt), 2, SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP),
		    SCMP_A2(SCMP_CMP_EQ, TCP_INFO));
	/* Memory, never executable: no code but what was mapped before. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/*
	 * Signals to itself only (abort(), raise()): the uid it shares with
	 * every other connection's confined processes is worth nothing here.
	 */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
		    SCMP_A0(SCMP_CMP_EQ, self));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
		    SCMP_A0(SCMP_CMP_EQ, self), SCMP_A1(SCMP_CMP_EQ, self));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tkill), 1,
		    SCMP_A0(SCMP_CMP_EQ, self));
	return r;
}

static int
sandbox_rules(scmp_filter_ctx ctx, int stderr_ok)
{
	int	r;

	if ((r = sandbox_tables(ctx)) == 0 &&
	    (r = sandbox_write(ctx, stderr_ok)) == 0)
		r = sandbox_args(ctx);
	return r;
}

int
sandbox_apply(int stderr_ok)
{
	scmp_filter_ctx	ctx;
	int		r;

	/*
	 * Anything not listed kills the whole process, and so does a call
	 * through another ABI than the build's (i386's int 0x80 or x32 on
	 * x86_64): the list names this architecture's calls only.
	 */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		/* libseccomp says no more: it found the kernel's API unusable. */
		errno = EOPNOTSUPP;
		return -1;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = sandbox_rules(ctx, stderr_ok);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

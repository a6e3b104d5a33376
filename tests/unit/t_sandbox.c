/*
 * The confined processes' seccomp allow-list, through the very call the
 * pre-login process and the TLS relay make (privdrop_apply): in a child
 * for each case, every forbidden call is refused (the process killed by
 * SIGSYS, or EACCES for the calls refused softly), and what the job needs
 * still works.  As root the child is chrooted and changes uid too, as in
 * production; without root only the filter and the limits apply.
 */
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "privdrop.h"

#define KILLED	(-1)		/* expected: the process dies of SIGSYS */
#define WORKS	0		/* expected: the call succeeds */

static int	sp[2];		/* a socket pair made before the drop */
static int	pp[2];		/* a pipe made before the drop */

/* Each case makes one call and returns 0 or its errno. */
static int
err(long r)
{
	return r == -1 ? errno : 0;
}

static int
try_kill_parent(void)
{
	return err(kill(getppid(), 0));
}

static int
try_kill_all(void)
{
	return err(kill(-1, 0));	/* 0: no signal, had it got through */
}

static int
try_tgkill_parent(void)
{
	return err(syscall(SYS_tgkill, getppid(), getppid(), 0));
}

static int
try_ptrace_traceme(void)
{
	return err(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static int
try_ptrace_attach(void)
{
	return err(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
}

static int
try_execve(void)
{
	char	*argv[] = { "true", NULL }, *envp[] = { NULL };

	return err(execve("/bin/true", argv, envp));
}

static int
try_execveat(void)
{
	char	*argv[] = { "true", NULL }, *envp[] = { NULL };

	return err(syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, envp,
	    0));
}

static int
try_fork(void)
{
	pid_t	pid = fork();		/* glibc: clone */

	if (pid == 0)
		_exit(0);
	return err(pid);
}

static int
try_sys_fork(void)
{
	long	pid = syscall(SYS_fork);

	if (pid == 0)
		_exit(0);
	return err(pid);
}

static int
try_vfork(void)
{
	long	pid = syscall(SYS_vfork);

	if (pid == 0)
		_exit(0);
	return err(pid);
}

static int
try_clone3(void)
{
	return err(syscall(SYS_clone3, NULL, 0));
}

static int
try_socket_inet(void)
{
	return err(socket(AF_INET, SOCK_STREAM, 0));
}

static int
try_socket_unix(void)
{
	return err(socket(AF_UNIX, SOCK_DGRAM, 0));
}

static int
try_socketpair(void)
{
	int	p[2];

	return err(socketpair(AF_UNIX, SOCK_STREAM, 0, p));
}

static int
try_open(void)
{
	return err(syscall(SYS_open, "/", O_RDONLY));
}

static int
try_openat(void)
{
	return err(openat(AT_FDCWD, "/", O_RDONLY));
}

static int
try_mmap_exec(void)
{
	void	*p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? errno : 0;
}

static int
try_mprotect_exec(void)
{
	static char	page[8192] __attribute__((aligned(4096)));

	return err(mprotect(page, 4096, PROT_READ | PROT_EXEC));
}

static int
try_setuid(void)
{
	return err(syscall(SYS_setuid, 0));
}

static int
try_dup(void)
{
	return err(fcntl(1, F_DUPFD, 5));
}

static int
try_write_stderr(void)
{
	return err(write(2, "", 0));
}

#if !defined(__SANITIZE_ADDRESS__)
/* fd 2 with high bits set: the kernel takes only the low 32. */
static int
try_write_stderr_wide(void)
{
	return err((int)syscall(SYS_write, 0x100000002L, "", 0));
}
#endif

#if defined(__x86_64__)
/* getpid through the i386 ABI (int 0x80, number 20): another arch. */
static int
try_i386_abi(void)
{
	long	r = 20;

	__asm__ volatile ("int $0x80" : "+a"(r) : : "memory");
	return r < 0 ? (int)-r : 0;
}

/* getpid through the x32 ABI (39 with the x32 bit). */
static int
try_x32_abi(void)
{
	return err(syscall(39 | 0x40000000));
}
#endif

#if defined(__SANITIZE_ADDRESS__)
/* A bug in a confined process: the sanitizer's report gets out, exit 1. */
static int
try_asan_report(void)
{
	char *volatile	 p = malloc(8);	/* volatile: no compile-time warning */

	free(p);
	return ((volatile char *)p)[1];
}

static int
try_ubsan_report(void)
{
	volatile int	i = 0x7fffffff;

	return (i + 1) & 0x7f;
}
#endif

/* What the job needs. */
static int
try_pipe_io(void)
{
	char	c = 0;

	if (write(pp[1], "x", 1) != 1 || read(pp[0], &c, 1) != 1 || c != 'x')
		return EIO;
	return 0;
}

static int
try_seqpacket_io(void)
{
	char	c = 0;

	if (send(sp[0], "y", 1, MSG_NOSIGNAL) != 1 ||
	    recv(sp[1], &c, 1, 0) != 1 || c != 'y')
		return EIO;
	return 0;
}

static int
try_ppoll(void)
{
	struct pollfd	pfd = { pp[0], POLLIN, 0 };
	struct timespec	ts = { 0, 1000000 };
	sigset_t	mask;

	sigemptyset(&mask);
	return err(ppoll(&pfd, 1, &ts, &mask));
}

static int
try_malloc(void)
{
	char	*p = malloc(4 * 1024 * 1024);	/* mmap, then munmap */

	if (p == NULL)
		return ENOMEM;
	p[0] = p[4 * 1024 * 1024 - 1] = 1;
	free(p);
	return 0;
}

static int
try_clock_random_pid(void)
{
	struct timespec	ts;
	char		buf[16];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 ||
	    getrandom(buf, sizeof(buf), 0) != sizeof(buf) || getpid() <= 0 ||
	    (geteuid() == 0 && getuid() == 0) || getegid() == (gid_t)-1 ||
	    getgid() == (gid_t)-1)
		return errno != 0 ? errno : EPERM;
	return 0;
}

static int
try_kill_self(void)
{
	return err(kill(getpid(), 0));
}

static int
try_nonblock(void)
{
	int	fl = fcntl(pp[0], F_GETFL);

	return err(fl == -1 ? -1 : fcntl(pp[0], F_SETFL, fl | O_NONBLOCK));
}

static int
try_shutdown(void)
{
	return err(shutdown(sp[0], SHUT_WR));
}

static const struct {
	const char	*what;
	int		(*fn)(void);
	int		 want;		/* KILLED, WORKS or an errno */
	int		 logs;		/* the relay's kind: it logs on fd 2 */
} cases[] = {
	{ "kill of another process", try_kill_parent, KILLED, 0 },
	{ "kill(-1) of every process of the uid", try_kill_all, KILLED, 0 },
	{ "kill of another process, relay", try_kill_parent, KILLED, 1 },
	{ "tgkill of another process", try_tgkill_parent, KILLED, 0 },
	{ "ptrace(TRACEME)", try_ptrace_traceme, KILLED, 0 },
	{ "ptrace(ATTACH)", try_ptrace_attach, KILLED, 1 },
	{ "execve", try_execve, KILLED, 0 },
	{ "execve, relay", try_execve, KILLED, 1 },
	{ "execveat", try_execveat, KILLED, 0 },
	{ "fork (clone)", try_fork, KILLED, 0 },
	{ "fork, relay", try_fork, KILLED, 1 },
	{ "fork (the call)", try_sys_fork, KILLED, 0 },
	{ "vfork", try_vfork, KILLED, 0 },
	{ "clone3", try_clone3, KILLED, 0 },
	{ "socket(AF_INET)", try_socket_inet, EACCES, 0 },
	{ "socket(AF_INET), relay", try_socket_inet, EACCES, 1 },
	{ "socket(AF_UNIX)", try_socket_unix, EACCES, 0 },
	{ "socketpair", try_socketpair, KILLED, 0 },
	{ "open", try_open, EACCES, 0 },
	{ "openat", try_openat, EACCES, 0 },
	{ "openat, relay", try_openat, EACCES, 1 },
	{ "mmap of executable memory", try_mmap_exec, KILLED, 0 },
	{ "mprotect to executable", try_mprotect_exec, KILLED, 1 },
	{ "setuid", try_setuid, KILLED, 0 },
	{ "fcntl(F_DUPFD)", try_dup, KILLED, 0 },
#if !defined(__SANITIZE_ADDRESS__)
	/* The sanitizers' reports go to fd 2: allowed in that build. */
	{ "write to fd 2, pre-login", try_write_stderr, EBADF, 0 },
	{ "write to fd 2 given in 64 bits, pre-login", try_write_stderr_wide,
	    EBADF, 0 },
#endif
	{ "write to fd 2, relay", try_write_stderr, WORKS, 1 },
#if defined(__x86_64__)
	{ "a call through the i386 ABI", try_i386_abi, KILLED, 0 },
	{ "a call through the x32 ABI", try_x32_abi, KILLED, 0 },
#endif
#if defined(__SANITIZE_ADDRESS__)
	{ "AddressSanitizer's report, exit 1", try_asan_report, 1, 0 },
	{ "UBSan's report, exit 1", try_ubsan_report, 1, 1 },
#endif
	{ "read and write a pipe", try_pipe_io, WORKS, 0 },
	{ "send and recv on a socket", try_seqpacket_io, WORKS, 0 },
	{ "send and recv on a socket, relay", try_seqpacket_io, WORKS, 1 },
	{ "ppoll with a mask", try_ppoll, WORKS, 0 },
	{ "malloc and free 4 MB", try_malloc, WORKS, 0 },
	{ "malloc and free 4 MB, relay", try_malloc, WORKS, 1 },
	{ "clock, getrandom, getpid, own ids", try_clock_random_pid, WORKS, 1 },
	{ "kill of itself", try_kill_self, WORKS, 0 },
	{ "O_NONBLOCK", try_nonblock, WORKS, 0 },
	{ "shutdown", try_shutdown, WORKS, 0 },
	{ NULL, NULL, 0, 0 }
};

/* One case in a confined child: KILLED, or what the call returned. */
static int
run(const struct privdrop *base, int (*fn)(void), int logs)
{
	struct privdrop	pd = *base;
	pid_t		pid;
	int		status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -2;
	if (pid == 0) {
		pd.logs = logs;
		privdrop_apply(&pd);
		_exit(fn() & 0x7f);
	}
	if (waitpid(pid, &status, 0) == -1)
		return -2;
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGSYS ? KILLED : -3;
	return WEXITSTATUS(status);
}

int
main(void)
{
	struct privdrop	pd;
	char		dir[] = "/tmp/t_sandbox.XXXXXX", empty[64];
	char		what[128];
	int		i, got;

	if (mkdtemp(dir) == NULL || socketpair(AF_UNIX, SOCK_SEQPACKET, 0,
	    sp) == -1 || pipe(pp) == -1)
		return 1;
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	if (privdrop_prepare(&pd, "pop3d", empty) == -1)
		return 1;
	for (i = 0; cases[i].what != NULL; i++) {
		got = run(&pd, cases[i].fn, cases[i].logs);
		snprintf(what, sizeof(what), "%s: %s (got %d)", cases[i].what,
		    cases[i].want == KILLED ? "killed by SIGSYS" :
		    cases[i].want == WORKS ? "works" : "refused with errno",
		    got);
		check_report(got == cases[i].want, __FILE__, __LINE__, what);
	}
	rmdir(empty);
	rmdir(dir);
	return check_done();
}

/*
 * lib/child.c: a wait for a child always ends by its deadline, sleeping
 * meanwhile; past it the child is killed and reaped, whatever its state.
 * A child about to exec gets its two descriptors on 3 and 4, no more.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "child.h"
#include "io.h"
#include "log.h"

/* A child that sleeps until killed, or exits with code at once (>= 0). */
static pid_t
spawn(int code)
{
	pid_t	pid = fork();

	if (pid == -1)
		abort();
	if (pid == 0) {
		if (code >= 0)
			_exit(code);
		for (;;)
			pause();
	}
	return pid;
}

/* CPU time of this process, in ms. */
static long
cpu_ms(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
	    ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
}

/* The inode of fd, or 0 when it is not open. */
static ino_t
fd_ino(int fd)
{
	struct stat	st;

	return fstat(fd, &st) == -1 ? 0 : st.st_ino;
}

/*
 * child_fds_3_4 in a child: its two descriptors swapped (a on 4, b on 3,
 * the case that needs both out of the way first), and one more above
 * that must not go along.  The child's exit status: 0 when all is right.
 */
static int
fds_swapped(void)
{
	int	a[2], b[2], status;
	ino_t	ia, ib;
	pid_t	pid;

	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		if (pipe(a) == -1 || pipe(b) == -1 || dup2(a[0], 4) != 4 ||
		    dup2(b[0], 3) != 3 || dup2(a[1], 9) != 9)
			_exit(10);
		ia = fd_ino(4);
		ib = fd_ino(3);
		if (child_fds_3_4(4, 3) == -1)
			_exit(11);
		_exit(fd_ino(3) != ia ? 12 : fd_ino(4) != ib ? 13 :
		    fcntl(9, F_GETFD) != -1 ? 14 : fcntl(5, F_GETFD) != -1 ?
		    15 : 0);
	}
	if (child_wait(pid, io_now_ms() + 5000, &status) == -1 ||
	    !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int
main(void)
{
	int64_t	t0;
	long	cpu;
	pid_t	pid;
	int	status, r;

	log_init("t_child");
	/* One that ends: its status, at once. */
	pid = spawn(3);
	CHECK(child_wait(pid, io_now_ms() + 5000, &status) == 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);

	/* One that does not: ETIMEDOUT at the deadline, asleep meanwhile. */
	pid = spawn(-1);
	t0 = io_now_ms();
	cpu = cpu_ms();
	r = child_wait(pid, t0 + 500, &status);
	CHECK(r == -1 && errno == ETIMEDOUT);
	CHECK(io_now_ms() - t0 >= 500 && io_now_ms() - t0 < 5000);
	CHECK(cpu_ms() - cpu < 100);
	/* It still runs: the caller decides. */
	CHECK(kill(pid, 0) == 0);
	CHECK(child_kill(pid, &status) == 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(kill(pid, 0) == -1 && errno == ESRCH);

	/* Stopped: killed and reaped past the deadline, which is logged. */
	pid = spawn(-1);
	kill(pid, SIGSTOP);
	t0 = io_now_ms();
	r = child_wait_kill(pid, t0 + 200, "192.0.2.1", "test child",
	    &status);
	CHECK(r == 1);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(io_now_ms() - t0 < 5000);
	CHECK(waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD);

	/* A deadline already past: no wait at all for one still running. */
	pid = spawn(-1);
	t0 = io_now_ms();
	CHECK(child_wait_kill(pid, 0, NULL, "test child", &status) == 1);
	CHECK(io_now_ms() - t0 < 2000);

	/* One that ended is not killed, even with the deadline past. */
	pid = spawn(0);
	usleep(100000);
	CHECK(child_wait_kill(pid, 0, NULL, "test child", &status) == 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Not a child: an error, no wait. */
	CHECK(child_wait(1, io_now_ms() + 5000, NULL) == -1 &&
	    errno == ECHILD);
	/* Two descriptors onto 3 and 4, whichever they sat on; no more. */
	CHECK(fds_swapped() == 0);
	return check_done();
}

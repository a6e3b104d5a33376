/*
 * lib/child.c: a wait for a child always ends by its deadline, sleeping
 * meanwhile; past it the child is killed and reaped, whatever its state.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
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
	return check_done();
}

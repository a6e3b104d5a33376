#include <sys/pidfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "io.h"
#include "log.h"
#include "pop3d_limits.h"

/*
 * Sleeps until the child may have ended or the deadline comes: on its
 * pidfd, which poll(2) reports readable when it exits, else a nap that
 * grows from 1 ms to CHILD_NAP_MAX_MS (no SIGCHLD handler to race).
 */
static void
child_sleep(int pidfd, int64_t left, int *nap)
{
	struct pollfd	pfd;
	struct timespec	ts;

	if (pidfd != -1) {
		pfd.fd = pidfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		(void)poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		return;
	}
	if (left > *nap)
		left = *nap;
	ts.tv_sec = left / 1000;
	ts.tv_nsec = (long)(left % 1000) * 1000000;
	(void)nanosleep(&ts, NULL);
	if (*nap < CHILD_NAP_MAX_MS)
		*nap *= 2;
}

int
child_wait(pid_t pid, int64_t deadline, int *status)
{
	int64_t	left;
	pid_t	r;
	int	pidfd, st, nap = 1, saved;

	/* Without one (an old kernel, no descriptor left), naps. */
	pidfd = pidfd_open(pid, 0);
	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (status != NULL)
				*status = st;
			saved = 0;
			break;
		}
		if (r == -1 && errno != EINTR) {
			saved = errno;
			break;
		}
		if ((left = deadline - io_now_ms()) <= 0) {
			saved = ETIMEDOUT;
			break;
		}
		child_sleep(pidfd, left, &nap);
	}
	if (pidfd != -1)
		close(pidfd);
	if (saved == 0)
		return 0;
	errno = saved;
	return -1;
}

int
child_kill(pid_t pid, int *status)
{
	if (status != NULL)
		*status = -1;
	(void)kill(pid, SIGKILL);
	return child_wait(pid, io_now_ms() + CHILD_REAP_MS, status);
}

int
child_wait_kill(pid_t pid, int64_t deadline, const char *remote,
    const char *what, int *status)
{
	struct logline	l;

	if (child_wait(pid, deadline, status) == 0)
		return 0;
	if (errno != ETIMEDOUT)
		return -1;
	(void)child_kill(pid, status);
	logline_start(&l, "timeout");
	if (remote != NULL)
		logline_str(&l, "remote", remote);
	logline_str(&l, "wait", what);
	logline_num(&l, "pid", (uint64_t)pid);
	logline_emit(&l);
	return 1;
}

int
child_fds_3_4(int a, int b)
{
	/* Both out of the way first: either may sit on 3 or 4. */
	if ((a = fcntl(a, F_DUPFD, 5)) == -1 ||
	    (b = fcntl(b, F_DUPFD, 5)) == -1 ||
	    dup2(a, 3) == -1 || dup2(b, 4) == -1)
		return -1;
	return close_range(5, ~0U, 0);
}

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "endline.h"
#include "handoff.h"
#include "io.h"
#include "log.h"
#include "num.h"
#include "pop3d_limits.h"

/* Blocking again: a next stage may well expect it. */
static void
set_blocking(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl != -1 && (fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/*
 * In the child: fd 3 is the credentials pipe, fd 4 the "accepted" pipe,
 * then the exec; 111 if that fails.
 */
static void __attribute__((noreturn))
handoff_exec(char **argv, const char *mech, int rd, int ok, int verify)
{
	/* Nothing of the front's (or the spawner's) beyond 0-4 goes along. */
	if (child_fds_3_4(rd, ok) == -1)
		_exit(111);
	set_blocking(STDIN_FILENO);
	set_blocking(STDOUT_FILENO);
	/* The front ignores SIGPIPE; the chain must not inherit that. */
	signal(SIGPIPE, SIG_DFL);
	if (setenv("AUTHMECH", mech, 1) == -1 ||
	    setenv("POP3D_AUTH_OK_FD", "4", 1) == -1 ||
	    (verify ? setenv("POP3D_AUTH_VERIFY", "1", 1) :
	    unsetenv("POP3D_AUTH_VERIFY")) == -1 ||
	    unsetenv("POP3D_AUTH_VERIFIED_FD") == -1 ||
	    unsetenv(ENDLINE_ENV) == -1 || unsetenv(ENDLINE_SLOT_ENV) == -1)
		_exit(111);
	execvp(argv[0], argv);
	log_warn("cannot run %s: %s", argv[0], strerror(errno));
	_exit(111);
}

pid_t
handoff_start(char **argv, const char *mech, const char *cred, size_t len,
    int *okfd, int verify)
{
	int	p[2], ok[2];
	pid_t	pid;
	ssize_t	n;

	*okfd = -1;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(ok, O_CLOEXEC) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		close(ok[0]);
		close(ok[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		close(ok[0]);
		handoff_exec(argv, mech, p[0], ok[1], verify);
	}
	close(p[0]);
	close(ok[1]);
	*okfd = ok[0];
	/* At most 512 octets: the pipe takes them whole, no deadlock. */
	do
		n = write(p[1], cred, len);
	while (n == -1 && errno == EINTR);
	close(p[1]);
	return pid;
}

/* One octet, waiting until deadline: 1, 0 at end of file, or -1. */
static ssize_t
read_one(int fd, char *c, int64_t deadline)
{
	ssize_t	n;

	for (;;) {
		if (io_wait(fd, POLLIN, deadline) == -1)
			return -1;
		if ((n = read(fd, c, 1)) != -1 || errno != EINTR)
			return n;
	}
}

char
handoff_word(int okfd, int64_t deadline)
{
	char	c, word;

	if (okfd == -1)
		return 0;
	/* One word and end of file, or it means nothing: "A" "X" too. */
	if (read_one(okfd, &word, deadline) != 1 || (word != HANDOFF_RUNS &&
	    word != HANDOFF_NO_SECRET && word != HANDOFF_VERIFIED) ||
	    read_one(okfd, &c, deadline) != 0)
		word = 0;
	close(okfd);
	return word;
}

int
handoff_wait(pid_t pid, int64_t deadline, const char *remote)
{
	int	status;

	if (child_wait_kill(pid, deadline, remote, "chain", &status) == -1)
		return -1;
	return status;
}

/* The user's name on a pipe at fd 3, for the exec: 0, or -1. */
static int
inplace_name(const char *user)
{
	int	p[2];
	ssize_t	n;
	size_t	len = strlen(user) + 1;

	/* A name fits the pipe whole: no wait. */
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	do
		n = write(p[1], user, len);
	while (n == -1 && errno == EINTR);
	close(p[1]);
	if (n != (ssize_t)len || (p[0] != 3 && dup2(p[0], 3) == -1) ||
	    fcntl(3, F_SETFD, 0) == -1) {
		close(p[0]);
		return -1;
	}
	if (p[0] != 3)
		close(p[0]);
	return 0;
}

int
handoff_inplace(char **argv, const char *mech, const char *user, int *slot,
    unsigned octet)
{
	char	held[32];
	int	fd;

	/* Out of 3's way, and the one descriptor beyond 0-3 that goes on. */
	if (*slot != -1) {
		if ((fd = fcntl(*slot, F_DUPFD_CLOEXEC, 5)) == -1)
			return -1;
		close(*slot);	/* the lock is fd's open file's: it stays */
		*slot = fd;
	}
	if (inplace_name(user) == -1 ||
	    close_range(4, ~0U, CLOSE_RANGE_CLOEXEC) == -1 ||
	    (*slot != -1 && fcntl(*slot, F_SETFD, 0) == -1))
		return -1;
	set_blocking(STDIN_FILENO);
	set_blocking(STDOUT_FILENO);
	signal(SIGPIPE, SIG_DFL);
	snprintf(held, sizeof(held), "%d:%u", *slot, octet);
	if (setenv("AUTHMECH", mech, 1) == -1 ||
	    (*slot != -1 ? setenv(ENDLINE_SLOT_ENV, held, 1) :
	    unsetenv(ENDLINE_SLOT_ENV)) == -1 ||
	    setenv("POP3D_AUTH_VERIFIED_FD", "3", 1) == -1 ||
	    unsetenv("POP3D_AUTH_OK_FD") == -1 ||
	    unsetenv("POP3D_AUTH_VERIFY") == -1)
		return -1;
	/*
	 * No front is left to kill a session past FRONT_SESSION_MAX: the
	 * timer goes across the execs, and pop3d-maildrop ends the session
	 * at its signal as at SIGTERM.
	 */
	alarm(front_session_max());
	execvp(argv[0], argv);
	alarm(0);
	log_warn("cannot run %s: %s", argv[0], strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	(void)unsetenv("POP3D_AUTH_VERIFIED_FD");
	(void)unsetenv(ENDLINE_ENV);
	(void)unsetenv(ENDLINE_SLOT_ENV);
	close(3);
	return -1;
}

unsigned
front_session_max(void)
{
#ifdef POP3D_TEST_HOOKS
	const char	*v = getenv("TEST_POP3D_SESSION_MAX");
	uint64_t	 n;

	if (v != NULL && num_parse(v, 1, FRONT_SESSION_MAX, &n) == 0)
		return (unsigned)n;
#endif
	return FRONT_SESSION_MAX;
}

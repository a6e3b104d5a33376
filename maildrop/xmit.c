#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "io.h"
#include "log.h"
#include "num.h"
#include "settings.h"
#include "trans.h"
#include "xmit.h"

#define XMIT_DEFAULT_COMMAND	"/usr/sbin/sendmail -oi -t"

int
xmit_split(char *s, char **argv, size_t max)
{
	size_t	n = 0;

	for (;;) {
		while (*s == ' ')
			*s++ = '\0';
		if (*s == '\0')
			break;
		if (n == max)
			return -1;
		argv[n++] = s;
		while (*s != '\0' && *s != ' ')
			s++;
	}
	argv[n] = NULL;
	return n == 0 ? -1 : (int)n;
}

/* The command, or -1 after logging what is wrong with it. */
static int
xmit_command_read(struct xmit_settings *set)
{
	const char	*text;

	if (setting_text("POP3D_XMIT_COMMAND", &text) == -1)
		return -1;
	if (text == NULL)
		text = XMIT_DEFAULT_COMMAND;
	/* Fits: the table bounds its length (XMIT_COMMAND_MAX). */
	snprintf(set->command, sizeof(set->command), "%s", text);
	if (xmit_split(set->command, set->argv, XMIT_ARGS_MAX) == -1) {
		log_warn("bad setting: POP3D_XMIT_COMMAND must be 1 to %d"
		    " words", XMIT_ARGS_MAX);
		return -1;
	}
	if (set->argv[0][0] != '/') {
		log_warn("bad setting: POP3D_XMIT_COMMAND must start with an"
		    " absolute path");
		return -1;
	}
	return 0;
}

int
xmit_settings_read(struct xmit_settings *set)
{
	uint64_t	max, secs, run;

	memset(set, 0, sizeof(*set));
	if (setting_flag("POP3D_XTND_XMIT", &set->enabled) == -1)
		return -1;
	if (!set->enabled)
		return 0;
	if (setting_num("POP3D_XMIT_MAX", &max) == -1 ||
	    setting_num("POP3D_XMIT_TIMEOUT", &secs) == -1 ||
	    setting_num("POP3D_XMIT_COMMAND_TIMEOUT", &run) == -1 ||
	    xmit_command_read(set) == -1) {
		set->enabled = 0;
		return -1;
	}
	set->max = max;
	set->timeout_ms = 1000 * secs;
	set->run_ms = 1000 * run;
	return 0;
}

void
xmit_rx_init(struct xmit_rx *rx, int fd, uint64_t max)
{
	rx->fd = fd;
	rx->max = max;
	rx->octets = 0;
	rx->refused = XMIT_ACCEPTED;
	rx->err = 0;
	rx->len = 0;
}

static void
xmit_rx_refuse(struct xmit_rx *rx, enum xmit_refusal why)
{
	if (rx->refused == XMIT_ACCEPTED)
		rx->refused = why;
}

static void
xmit_rx_flush(struct xmit_rx *rx)
{
	size_t	off = 0;
	ssize_t	n;

	while (off < rx->len && rx->refused == XMIT_ACCEPTED) {
		n = write(rx->fd, rx->buf + off, rx->len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rx->err = n == 0 ? EIO : errno;
			xmit_rx_refuse(rx, XMIT_SPOOLERR);
			break;
		}
		off += n;
	}
	rx->len = 0;
}

static void
xmit_rx_put(struct xmit_rx *rx, const char *p, size_t n)
{
	size_t	room;

	while (n > 0 && rx->refused == XMIT_ACCEPTED) {
		if (rx->len == sizeof(rx->buf))
			xmit_rx_flush(rx);
		room = sizeof(rx->buf) - rx->len;
		if (room > n)
			room = n;
		memcpy(rx->buf + rx->len, p, room);
		rx->len += room;
		p += room;
		n -= room;
	}
}

int
xmit_rx_line(struct xmit_rx *rx, const char *line, size_t len)
{
	if (len == 1 && line[0] == '.')
		return 1;
	if (len > 0 && line[0] == '.') {	/* RFC 1939 section 3 */
		line++;
		len--;
	}
	if (len > XMIT_LINE_TEXT_MAX)
		xmit_rx_refuse(rx, XMIT_LONGLINE);
	/* Counted only while it can matter, so that it cannot wrap. */
	if (rx->octets <= rx->max)
		rx->octets += len + 2;
	if (rx->octets > rx->max)
		xmit_rx_refuse(rx, XMIT_TOOLARGE);
	xmit_rx_put(rx, line, len);
	xmit_rx_put(rx, "\n", 1);
	return 0;
}

void
xmit_rx_toolong(struct xmit_rx *rx)
{
	xmit_rx_refuse(rx, XMIT_LONGLINE);
}

int
xmit_rx_finish(struct xmit_rx *rx)
{
	xmit_rx_flush(rx);
	return rx->refused == XMIT_ACCEPTED ? 0 : -1;
}

/* In the child: never returns. */
static void __attribute__((noreturn))
xmit_child(char *const argv[], int fd)
{
	sigset_t	none;

	/* What pop3d-maildrop blocks and ignores, exec would pass on. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	(void)setpgid(0, 0);
	if (dup2(fd, STDIN_FILENO) == -1 ||
	    dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		die(127, "xmit: dup2: %s", strerror(errno));
	closefrom(STDERR_FILENO + 1);
	execv(argv[0], argv);
	die(127, "xmit: cannot run %s: %s", argv[0], strerror(errno));
}

static void
xmit_kill(pid_t pid, int sig)
{
	if (kill(-pid, sig) == -1)
		(void)kill(pid, sig);
}

int
xmit_run(char *const argv[], int fd, int ms, int *status)
{
	pid_t	pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		xmit_child(argv, fd);
	(void)setpgid(pid, pid);	/* whichever runs first */
	if (child_wait(pid, io_now_ms() + ms, status) == 0)
		return 0;
	if (errno != ETIMEDOUT)
		return -1;
	xmit_kill(pid, SIGTERM);
	if (child_wait(pid, io_now_ms() + XMIT_KILL_GRACE_MS, status) == 0)
		return 1;
	/* The group too, then one reaped within CHILD_REAP_MS or left. */
	xmit_kill(pid, SIGKILL);
	if (child_wait(pid, io_now_ms() + CHILD_REAP_MS, status) == -1)
		*status = W_EXITCODE(0, SIGKILL);
	return 1;
}

/*
 * The spool: an unnamed file (O_TMPFILE) in sub of dirfd (a Maildir's
 * tmp/, an mbox user's home), or on a file system without it a file
 * created there and unlinked at once.
 */
static int
xmit_spool_open(int dirfd, const char *sub)
{
	char	name[80];
	int	fd, tries;

	fd = openat(dirfd, sub, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	for (tries = 0; tries < 100; tries++) {
		snprintf(name, sizeof(name), "%s/.pop3d-xmit.%ld.%d", sub,
		    (long)getpid(), tries);
		fd = openat(dirfd, name, O_CREAT | O_EXCL | O_RDWR |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd == -1 && errno == EEXIST)
			continue;
		if (fd != -1)
			(void)unlinkat(dirfd, name, 0);
		return fd;
	}
	errno = EEXIST;
	return -1;
}

/* The "xmit" log line; extra is a key and value, or NULLs. */
static void
xmit_log(const char *user, uint64_t octets, const char *status,
    const char *key, const char *val)
{
	struct logline	l;

	logline_start(&l, "xmit");
	logline_str(&l, "user", user);
	logline_num(&l, "octets", octets);
	logline_str(&l, "status", status);
	if (key != NULL)
		logline_str(&l, key, val);
	logline_emit(&l);
}

/*
 * The message did not arrive whole: the session cannot find the next
 * command, so it ends, with the last word pop3_run would give.
 */
static enum pop3_next
xmit_cut(struct session *s, enum in_status st, int64_t deadline,
    const char *user, uint64_t octets)
{
	switch (st) {
	case IN_TIMEOUT:
		if (io_now_ms() >= deadline)
			out_line(s->out, "-ERR message not received within"
			    " %d seconds; closing", s->xmit->timeout_ms / 1000);
		else
			out_line(s->out, "-ERR idle for too long; closing");
		s->stop = POP3_END_TIMEOUT;
		break;
	case IN_SIGNAL:
		out_line(s->out, "-ERR [SYS/TEMP] server shutting down;"
		    " closing");
		s->stop = POP3_END_SIGNAL;
		break;
	case IN_EOF:
		s->stop = POP3_END_EOF;
		break;
	default:
		s->stop = POP3_END_IOERR;
		break;
	}
	s->stopped = 1;
	xmit_log(user, octets, "incomplete", "end", pop3_end_name(s->stop));
	return POP3_END;
}

/* Reads the message into the spool: IN_LINE once the final "." came. */
static enum in_status
xmit_receive(struct session *s, struct xmit_rx *rx, int64_t *deadline)
{
	char		line[XMIT_LINE_MAX];
	int64_t		saved = s->in->deadline;
	enum in_status	st;
	size_t		len;

	in_deadline(s->in, s->xmit->timeout_ms);
	*deadline = s->in->deadline;
	for (;;) {
		/* No line is hostile here: a long one is read to its end. */
		st = in_line(s->in, line, sizeof(line), SIZE_MAX, &len);
		if (st == IN_TOOLONG)
			xmit_rx_toolong(rx);
		else if (st != IN_LINE || xmit_rx_line(rx, line, len))
			break;
	}
	s->in->deadline = saved;
	return st;
}

/* Hands the spooled message to the program and answers. */
static void
xmit_submit(struct session *s, int fd, const char *user, uint64_t octets)
{
	char	*argv[XMIT_ARGS_MAX + 3], num[24];
	size_t	 n;
	int	 r, status;

	for (n = 0; s->xmit->argv[n] != NULL; n++)
		argv[n] = s->xmit->argv[n];
	argv[n++] = "-f";
	argv[n++] = (char *)user;
	argv[n] = NULL;
	if (lseek(fd, 0, SEEK_SET) == -1 ||
	    (r = xmit_run(argv, fd, s->xmit->run_ms, &status)) == -1) {
		xmit_log(user, octets, "error", "error", strerror(errno));
		out_line(s->out, "-ERR [SYS/TEMP] message not sent (cannot"
		    " start the submission program)");
		return;
	}
	if (r == 1) {
		xmit_log(user, octets, "timeout", NULL, NULL);
		out_line(s->out, "-ERR [SYS/TEMP] message not sent (submission"
		    " program took more than %d seconds)",
		    s->xmit->run_ms / 1000);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		xmit_log(user, octets, "sent", NULL, NULL);
		out_line(s->out, "+OK message sent");
	} else if (WIFEXITED(status)) {
		snprintf(num, sizeof(num), "%d", WEXITSTATUS(status));
		xmit_log(user, octets, "failed", "exit", num);
		out_line(s->out, "-ERR [SYS/TEMP] message not sent (submission"
		    " program exited %d)", WEXITSTATUS(status));
	} else {
		snprintf(num, sizeof(num), "%d", WTERMSIG(status));
		xmit_log(user, octets, "failed", "signal", num);
		out_line(s->out, "-ERR [SYS/TEMP] message not sent (submission"
		    " program killed by signal %d)", WTERMSIG(status));
	}
}

enum pop3_next
xmit_command(struct session *s)
{
	struct xmit_rx	 rx;
	const char	*user = getenv("USER");
	enum in_status	 st;
	int64_t		 deadline;
	int		 fd;

	if (!user_name_valid(user)) {
		xmit_log(user, 0, "bad-user", NULL, NULL);
		out_line(s->out, "-ERR [SYS/PERM] cannot send mail for this"
		    " user");
		return POP3_CONTINUE;
	}
	fd = xmit_spool_open(s->st->spool_dirfd, s->st->spool_sub);
	if (fd == -1) {
		xmit_log(user, 0, "error", "error", strerror(errno));
		out_line(s->out, "-ERR [SYS/TEMP] cannot take a message now");
		return POP3_CONTINUE;
	}
	out_line(s->out, "+OK send the message, ending with a line \".\"");
	xmit_rx_init(&rx, fd, s->xmit->max);
	st = xmit_receive(s, &rx, &deadline);
	if (st != IN_LINE) {
		close(fd);
		return xmit_cut(s, st, deadline, user, rx.octets);
	}
	if (xmit_rx_finish(&rx) == 0)
		xmit_submit(s, fd, user, rx.octets);
	else if (rx.refused == XMIT_TOOLARGE) {
		xmit_log(user, rx.octets, "too-large", NULL, NULL);
		out_line(s->out, "-ERR message too large (at most %llu"
		    " octets)", (unsigned long long)rx.max);
	} else if (rx.refused == XMIT_LONGLINE) {
		xmit_log(user, rx.octets, "line-too-long", NULL, NULL);
		out_line(s->out, "-ERR message has a line longer than %d"
		    " octets", XMIT_LINE_TEXT_MAX);
	} else {
		xmit_log(user, rx.octets, "error", "error",
		    strerror(rx.err));
		out_line(s->out, "-ERR [SYS/TEMP] message not sent (cannot"
		    " spool it)");
	}
	close(fd);
	return POP3_CONTINUE;
}

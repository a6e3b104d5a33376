/*
 * The front's side of the pre-login dialogue: the pre-login process's
 * messages, and each login it sends, run through the access policy and
 * the chain, answered by a verdict (ipc.h's table).
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "front.h"
#include "handoff.h"
#include "io.h"
#include "ipc.h"
#include "log.h"

int
front_timestamp(char *buf, size_t n, const char *host)
{
	unsigned char	rnd[8];
	int		r;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -1;
	/* Letters, digits and dots only: some clients refuse anything else. */
	r = snprintf(buf, n, "<%ld.%02x%02x%02x%02x%02x%02x%02x%02x@%s>",
	    (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
	    rnd[6], rnd[7], host);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

const struct front_end_name front_ends[] = {
	[END_NONE] = { "error", 0 },
	[END_LOGIN] = { "login", 0 },
	[END_PREAUTH_END] = { "preauth-end", 0 },
	[END_PREAUTH_TIMEOUT] = { "preauth-timeout", 0 },
	[END_AUTH_FAILURES] = { "auth-failures", 1 },
	[END_CRASH] = { "crash", 1 },
	[END_BLOCKED] = { "blocked", 1 },
	[END_STLS] = { "stls", 1 },
	[END_TLS_FAILED] = { "tls-failed", 0 },
	[END_REFUSED] = { "refused", 0 },
	[END_USAGE] = { "usage", 0 },
	[END_PROXY_ERROR] = { "proxy-error", 0 },
};

/* A hostile client: logged, and its address goes to the penalty box. */
static void
front_hostile(struct front *f)
{
	struct logline	l;

	logline_start(&l, "hostile");
	logline_str(&l, "remote", f->remote);
	logline_emit(&l);
	access_hostile(&f->acc);
}

/*
 * The checkpassword data: the user and secret the pre-login process sent,
 * and the front's own timestamp: the APOP one, or for CRAM-MD5 the
 * challenge it issued (used once).  Its length, or 0 if it is too long
 * or no challenge is outstanding.
 */
static size_t
front_cred(struct front *f, const char *msg, size_t len, char *cred)
{
	size_t		 fields = len - 2, tlen;
	const char	*stamp = f->pa.timestamp;

	if (msg[1] == MECH_CRAM) {
		if (f->challenge[0] == '\0')
			return 0;
		stamp = f->challenge;
	}
	tlen = strlen(stamp);

	if (fields + tlen + 1 > CHECKPASSWORD_MAX)
		return 0;
	memcpy(cred, msg + 2, fields);
	memcpy(cred + fields, stamp, tlen + 1);
	f->challenge[0] = '\0';
	return fields + tlen + 1;
}

/*
 * What the auth program's end means, for the log and for the client.  A
 * failure for want of a shared secret (nosecret) was no guess: it is not
 * counted, yet answered as any other.
 */
static char
chain_verdict(int status, int nosecret, struct logline *l)
{
	int	code;

	if (status == -1) {
		logline_str(l, "result", "cannot-run");
		return VERDICT_TEMP;
	}
	if (WIFSIGNALED(status)) {
		logline_str(l, "result", "crash");
		logline_num(l, "signal", WTERMSIG(status));
		return VERDICT_END;
	}
	if ((code = WEXITSTATUS(status)) == 1) {
		logline_str(l, "result", nosecret ? "no-secret" : "fail");
		return VERDICT_FAIL;
	}
	if (code == 2 || code == 111) {
		logline_str(l, "result", code == 2 ? "misuse" : "temp");
		return VERDICT_TEMP;
	}
	/* The chain ran: it answered the client, whatever its status. */
	logline_str(l, "result", code == 0 ? "ok" : "exit");
	logline_num(l, "status", code);
	return 0;
}

/*
 * The front's own check of what the pre-login process may only have been
 * asked for: it enforces these rules too, but is not trusted to.
 */
static int
front_mech_allowed(const struct front *f, char mech)
{
	const struct preauth_settings	*pa = &f->pa;

	if (pa->tls_required && !pa->tls)
		return 0;
	switch (mech) {
	case MECH_APOP:
		return pa->apop;
	case MECH_CRAM:
		return pa->cram;
	default:			/* USER, PLAIN, LOGIN */
		return pa->cleartext;
	}
}

/*
 * The pre-login process and its memory are not needed once the chain has
 * accepted the credentials: the session may idle for hours without it.
 * 0, or -1 when it could not be reaped in time (child_kill).
 */
static int
preauth_end(struct front *f)
{
	int	r;

	if (f->preauth == 0)
		return 0;
	r = child_kill(f->preauth, NULL);
	f->preauth = 0;
	return r;
}

/*
 * The chain under way (pop3d-auth ran the mailbox stage): from now on it
 * answers the client, whatever it ends with, and the login counts against
 * the address no more (not hours later, when the session ends).  Only the
 * log hears how it ended.
 */
static void
chain_runs(struct front *f, const char *user, pid_t pid, int64_t deadline,
    struct logline *l)
{
	int	status;

	(void)access_settle(&f->acc, user, 0);
	(void)preauth_end(f);
	if ((status = handoff_wait(pid, deadline, f->remote)) != -1 &&
	    WIFSIGNALED(status)) {
		logline_str(l, "result", "crash");
		logline_num(l, "signal", WTERMSIG(status));
		return;
	}
	logline_str(l, "result", status == 0 ? "ok" : "exit");
	if (status != -1)
		logline_num(l, "status", WEXITSTATUS(status));
}

/*
 * One process per logged-in session (pop3d.8), under TLS the relay's
 * parent: asked of our pop3d-auth alone (POP3D_AUTH_VERIFY is for no
 * other program), which says yes only before pop3d-maildrop, and only
 * when it can keep the session from the user's other processes.
 */
static int
front_inplace_ok(const struct front *f)
{
	const char	*slash = strrchr(f->authargv[0], '/');

	return strcmp(slash != NULL ? slash + 1 : f->authargv[0],
	    "pop3d-auth") == 0;
}

/*
 * pop3d-auth checked the login and exited (HANDOFF_VERIFIED): exit 0,
 * and main() becomes the chain in place (f->inplace).  0 then, as
 * chain_runs; anything else after a V (no chain has answered the
 * client) is a temporary failure, VERDICT_TEMP.
 */
static char
chain_verified(struct front *f, const char *user, pid_t pid,
    struct logline *l)
{
	int	status;

	/* It said its word just before its exit. */
	status = handoff_wait(pid, io_now_ms() + HANDOFF_EXIT_MS, f->remote);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		logline_str(l, "result", "temp");
		return VERDICT_TEMP;
	}
	/* Not reaped, it would be a child the session knows nothing of. */
	if (preauth_end(f) == -1) {
		logline_str(l, "result", "preauth-stuck");
		return VERDICT_TEMP;
	}
	(void)access_settle(&f->acc, user, 0);
	strcpy(f->verified, user);	/* checked: fits */
	f->inplace = 1;
	logline_str(l, "result", "ok");
	return 0;
}

/* Sleeps until the time given in io_now_ms()'s clock. */
static void
front_sleep_until(int64_t until)
{
	struct timespec	ts;
	int64_t		left;

	while ((left = until - io_now_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = left % 1000 * 1000000L;
		(void)nanosleep(&ts, NULL);
	}
}

/*
 * A failed guess (*failed) counts for the session: at the limit, it is
 * the last.  The verdict to answer.
 */
static char
failure_count(struct front *f, char verdict, int *failed)
{
	*failed = verdict != 0 && verdict_find(verdict)->failure;
	if (*failed && ++f->failures >= f->max_failures)
		return VERDICT_LAST;
	return verdict;
}

/*
 * Checks the credentials message and makes the checkpassword data of it
 * (front_cred) and the user's name; starts the auth line.  The message is
 * wiped.  A pre-login process that sent what it could not have been
 * asked for ends the connection.
 */
static size_t
login_take(struct front *f, char *msg, size_t len, char *cred, char *user,
    struct logline *l)
{
	size_t	clen;

	if (ipc_cred_check(msg, len, &f->mech) == -1)
		die(111, "malformed credentials message from the pre-login"
		    " process");
	if (!front_mech_allowed(f, msg[1]))
		die(111, "a login by %s, which this connection does not"
		    " offer, from the pre-login process", f->mech);
	logline_start(l, "auth");
	logline_str(l, "remote", f->remote);
	logline_str(l, "user", msg + 2);
	logline_str(l, "mech", f->mech);
	if ((clen = front_cred(f, msg, len, cred)) == 0)
		die(111, "credentials too long, or a CRAM-MD5 response to no"
		    " challenge, from the pre-login process");
	memcpy(user, msg + 2, strlen(msg + 2) + 1);	/* checked: fits */
	explicit_bzero(msg, len);
	return clen;
}

/*
 * Runs the chain on the credentials (cred is wiped): 0 when it served the
 * client, else the verdict, the attempt settled with the penalty box;
 * *failed when it was a failed guess.
 */
static char
login_chain(struct front *f, const char *user, char *cred, size_t clen,
    int *failed, struct logline *l)
{
	char	verdict, settled, word;
	pid_t	pid;
	int64_t	deadline;
	int	okfd, nosecret;

	pid = handoff_start(f->authargv, f->mech, cred, clen, &okfd,
	    front_inplace_ok(f));
	explicit_bzero(cred, clen);
	/* The auth stage and the session after it: one bound. */
	deadline = io_now_ms() + front_session_max() * 1000LL;
	word = pid != -1 ? handoff_word(okfd, deadline) : 0;
	if (word == HANDOFF_RUNS) {
		chain_runs(f, user, pid, deadline, l);
		return 0;
	}
	/* Only a digest login can lack a secret. */
	nosecret = word == HANDOFF_NO_SECRET && (strcmp(f->mech, "APOP") ==
	    0 || strcmp(f->mech, "CRAM-MD5") == 0);
	if (word == HANDOFF_VERIFIED) {
		if ((verdict = chain_verified(f, user, pid, l)) == 0)
			return 0;
	} else	/* past the deadline this kills it */
		verdict = chain_verdict(pid == -1 ? -1 : handoff_wait(pid,
		    deadline, f->remote), nosecret, l);
	/*
	 * Counted for the session even without a secret: were it not, a
	 * session that goes on past the limit would tell that the name has
	 * no secret, or no account.
	 */
	verdict = failure_count(f, verdict, failed);
	/* The attempt ends: a failure may block the address. */
	if ((settled = access_settle(&f->acc, user, *failed && !nosecret)) !=
	    0 && verdict != 0)
		verdict = settled;
	return verdict;
}

/*
 * Runs the chain on credentials; 1 when the connection is over (the chain
 * served it, or the front ended it), 0 to go on.
 */
static int
front_login(struct front *f, int ipc, char *msg, size_t len)
{
	struct logline	l;
	char		cred[CHECKPASSWORD_MAX], user[POP3_USER_MAX + 1];
	char		verdict;
	size_t		clen;
	int		failed = 0;
	/*
	 * A failure is answered this long after the credentials came (a
	 * millisecond more: io_now_ms truncates, the delay is never short).
	 */
	int64_t		answer = io_now_ms() + f->auth_delay * INT64_C(1000) +
			    1;

	clen = login_take(f, msg, len, cred, user, &l);
	if ((verdict = access_login(&f->acc, user)) != 0) {
		logline_str(&l, "result", verdict == VERDICT_TEMP ?
		    "state-error" : "blocked");
		/* A refusal counts: no free loop on it. */
		verdict = failure_count(f, verdict, &failed);
	} else
		verdict = login_chain(f, user, cred, clen, &failed, &l);
	explicit_bzero(cred, sizeof(cred));
	logline_emit(&l);
	if (verdict == 0) {
		f->end = END_LOGIN;
		return 1;
	}
	/* Whatever was checked, the same time to a failure's answer. */
	if (failed)
		front_sleep_until(answer);
	if (ipc_send(ipc, IPC_VERDICT, &verdict, 1) == -1) {
		f->end = END_PREAUTH_END;
		return 1;
	}
	/* The front, not the pre-login process, decides that it is over. */
	if (!verdict_find(verdict)->final)
		return 0;
	f->end = verdict == VERDICT_LAST ? END_AUTH_FAILURES :
	    verdict == VERDICT_END ? END_CRASH : END_BLOCKED;
	return 1;
}

/* A fresh CRAM-MD5 challenge, kept for the response's check. */
static void
front_challenge(struct front *f, int ipc)
{
	if (!f->pa.cram)
		die(111, "a CRAM-MD5 challenge asked for, but it is off");
	if (front_timestamp(f->challenge, sizeof(f->challenge),
	    f->pa.hostname) == -1)
		die(111, "no random CRAM-MD5 challenge");
	if (ipc_send(ipc, IPC_CHALLENGE, f->challenge,
	    strlen(f->challenge)) == -1)
		die(111, "the pre-login process is gone");
}

/*
 * STLS: with the relay ready, the pre-login process says +OK and ends;
 * 1 then.  Without it, [SYS/TEMP] and the dialogue goes on: 0.
 */
static int
front_stls(struct front *f, int ipc)
{
	char	verdict = VERDICT_TEMP;

	if (f->pa.stls && starttls_spawn(&f->tls) == 0)
		verdict = VERDICT_TLS;
	else
		f->pa.stls = 0;	/* not again: each try costs a relay */
	if (ipc_send(ipc, IPC_VERDICT, &verdict, 1) == -1) {
		f->end = END_PREAUTH_END;
		return 1;
	}
	if (verdict != VERDICT_TLS)
		return 0;
	f->end = END_STLS;
	return 1;
}

/*
 * A line of the pre-login process's (IPC_LOG): written as one escaped
 * value, tagged as its word, never as the front's own; PREAUTH_LOG_LINES
 * a connection, then one line to say the rest are dropped.
 */
static void
front_preauth_log(struct front *f, const char *msg, size_t len)
{
	struct logline	l;
	char		text[LOG_VALUE_MAX + 1];

	if (ipc_log_check(msg, len, text) == -1)
		die(111, "malformed log message from the pre-login process");
	if (f->preauth_logs > PREAUTH_LOG_LINES)
		return;
	if (++f->preauth_logs > PREAUTH_LOG_LINES) {
		logline_start(&l, "preauth-log-limit");
		logline_str(&l, "remote", f->remote);
		logline_num(&l, "lines", PREAUTH_LOG_LINES);
	} else {
		logline_start(&l, "preauth-log");
		logline_str(&l, "remote", f->remote);
		logline_str(&l, "text", text);
	}
	logline_emit(&l);
}

/* Reads the pre-login process's messages until the session is over. */
static void
front_serve(struct front *f, int ipc)
{
	char	msg[IPC_MAX];
	int	n;

	for (;;) {
		/* It ends itself by then: one still there is stopped, stuck. */
		if (io_wait(ipc, POLLIN, f->preauth_deadline) == -1 &&
		    errno == ETIMEDOUT) {
			(void)child_wait_kill(f->preauth, 0, f->remote,
			    "pre-login process", NULL);
			f->preauth = 0;
			f->end = END_PREAUTH_TIMEOUT;
			return;
		}
		if ((n = ipc_recv(ipc, msg)) <= 0) {
			f->end = END_PREAUTH_END;
			return;
		}
		if (msg[0] == IPC_HOSTILE && n == 1)
			front_hostile(f);
		else if (msg[0] == IPC_CHALLENGE && n == 1)
			front_challenge(f, ipc);
		else if (msg[0] == IPC_LOG)
			front_preauth_log(f, msg, n);
		else if (msg[0] == IPC_STLS && n == 1) {
			if (front_stls(f, ipc))
				return;
		}
		else if (msg[0] == IPC_CRED) {
			if (front_login(f, ipc, msg, n))
				return;
		} else
			die(111, "unknown message from the pre-login process");
	}
}

/*
 * After the front ended the dialogue (too many failures, a crash), the
 * pre-login process still has its last word to write: it gets a moment,
 * then the kill.  After a login nothing is waited for.
 */
static void
front_await(struct front *f, int ipc)
{
	struct pollfd	pfd = { ipc, POLLIN, 0 };
	char		msg[IPC_MAX];
	time_t		until = time(NULL) + 5;
	int		n;

	if (!front_ends[f->end].last_word)
		return;
	/* Its last log lines are written, the rest dropped; EOF is the end. */
	while (time(NULL) < until && poll(&pfd, 1, 1000) >= 0)
		if (pfd.revents & (POLLIN | POLLHUP)) {
			if ((n = ipc_recv(ipc, msg)) <= 0)
				break;
			if (msg[0] == IPC_LOG)
				front_preauth_log(f, msg, n);
		}
}

/*
 * In the pre-login process: its lines go to the front (IPC_LOG), which
 * writes them tagged, and fd 2, the log stream, becomes /dev/null, so
 * that it cannot write a line that looks like the front's.  Not in the
 * sanitizer build, whose reports go to fd 2.
 */
static void
preauth_log_off(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	int	fd;

	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1 || close(fd) == -1)
		die(111, "pre-login setup: /dev/null: %s", strerror(errno));
#endif
	log_to_sink(preauth_log_sink);
}

int
front_preauth(struct front *f)
{
	int	sp[2];
	pid_t	child;

	f->pd.parent = getpid();	/* the pre-login process dies with us */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    (child = fork()) == -1)
		return -1;
	if (child == 0) {
		/* fd 3 to the front and 0-2; nothing else into the chroot. */
		log_to_stderr();
		close(sp[0]);
		if (privdrop_child_fds(sp[1]) == -1)
			die(111, "pre-login setup: %s", strerror(errno));
		preauth_log_off();
		privdrop_apply(&f->pd);
		preauth_run(&f->pa, PREAUTH_IPC_FD);
	}
	close(sp[1]);
	f->preauth = child;
	/* Our sends never wait on it (ipc_send): its reads are its own. */
	if (fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1)
		die(111, "pre-login channel: %s", strerror(errno));
	f->preauth_deadline = io_now_ms() + f->pa.login_ms + PREAUTH_GRACE_MS;
	front_serve(f, sp[0]);
	front_await(f, sp[0]);
	close(sp[0]);
	f->challenge[0] = '\0';	/* it was that process's */
	(void)preauth_end(f);
	return 0;
}


/*
 * pop3d-passwd: the poppassd protocol (port 106), one connection per
 * process on fd 0/1 as a spawner starts it: the user, the old password,
 * the new one; the change goes into the users file and users.cdb
 * (pop3d-passwd.8).
 *
 * This process applies the access policy, then hands the client to an
 * unprivileged, chrooted dialogue process (passwd/dialogue.c) and keeps
 * only the messages it sends (passwd/pwipc.h): it checks each, checks the
 * old password and makes the change, and answers a verdict.  It parses
 * nothing else the client sent.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "change.h"
#include "dialogue.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "pop3d_limits.h"
#include "privdrop.h"
#include "settings.h"
#include "pwipc.h"
#include "user.h"
#include "userdb.h"
#include "usersfile.h"
#include "version.h"

#define EXIT_USAGE	2
#define EXIT_TEMP	111

#define TEMP_REPLY	"500 temporary failure; try again later"

#define DEFAULT_PREAUTH_USER	"pop3d"
#define DEFAULT_CHROOT		"/var/empty"

struct session {
	struct out		 out;	/* refusals before the dialogue */
	struct access		 acc;
	struct change		 ch;
	struct privdrop		 pd;
	struct dialogue_settings ds;
	char			 remote[ADDR_TEXT_MAX];
	char			 user[POP3_USER_MAX + 1];
	char			 old[USERS_PASSWORD_MAX + 1];
	enum pwipc_want		 want;
	unsigned		 delay;		/* POP3D_AUTH_DELAY */
	int			 cleartext;	/* POP3D_CLEARTEXT */
	pid_t			 child;		/* the dialogue process */
	int64_t			 deadline;	/* ... is killed then */
	const char		*end;	/* how the session ended, for the log */
	int			 changed;
};

static void __attribute__((noreturn))
usage(void)
{
	die(EXIT_USAGE, "usage: pop3d-passwd [-d users.cdb] [-f users]");
}

/* A refusal before the dialogue: one line, a log line, exit. */
static void __attribute__((noreturn))
refuse(struct session *s, const char *reply, const char *why, int code)
{
	struct logline	l;

	logline_start(&l, "passwd_refused");
	logline_str(&l, "remote", s->remote);
	logline_str(&l, "reason", why);
	logline_emit(&l);
	out_line(&s->out, "%s", reply);
	out_flush(&s->out);
	access_end(&s->acc);
	exit(code);
}

/*
 * One event of the dialogue in the log (err 0: none): never a password.
 * A failure names the file it concerns, by its absolute path.
 */
static void
event(struct session *s, const char *name, const char *why, int err)
{
	struct logline	l;

	logline_start(&l, name);
	logline_str(&l, "remote", s->remote);
	if (s->user[0] != '\0')
		logline_str(&l, "user", s->user);
	if (why != NULL)
		logline_str(&l, "reason", why);
	if (strcmp(name, "passwd_temp") == 0 && s->ch.failed != NULL)
		logline_path(&l, "file", s->ch.failed);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

/*
 * Every setting, strictly (a bad one refuses the connection): the files,
 * the policy's, this program's own, the dialogue process's user and
 * directory (as pop3d's pre-login process's).
 */
static int
settings_read(struct session *s, const char *file, const char *db)
{
	uint64_t	 min, delay, idle, whole;
	const char	*user, *dir;
	int		 bad = 0;

	if (file == NULL)
		bad |= setting_path(USERSFILE_PATH_ENV, USERSFILE_PATH_DEFAULT,
		    &file) == -1;
	if (db == NULL)
		bad |= setting_path(USERDB_PATH_ENV, USERDB_PATH_DEFAULT,
		    &db) == -1;
	s->ch.file = file;
	s->ch.db = db;
	bad |= setting_num("POP3D_PASSWD_MIN", &min) == -1;
	bad |= setting_num("POP3D_AUTH_DELAY", &delay) == -1;
	bad |= setting_num("POP3D_PASSWD_IDLE", &idle) == -1;
	bad |= setting_num("POP3D_PASSWD_TIMEOUT", &whole) == -1;
	bad |= setting_flag("POP3D_CLEARTEXT", &s->cleartext) == -1;
	bad |= setting_text("POP3D_PREAUTH_USER", &user) == -1;
	bad |= setting_text("POP3D_CHROOT", &dir) == -1;
	bad |= access_settings(&s->acc) == -1;
	if (bad)
		return -1;
	s->ds.min = (unsigned)min;
	s->delay = (unsigned)delay;
	s->ds.idle_ms = (int)idle * 1000;
	s->ds.session_ms = (int)whole * 1000;
	return privdrop_prepare(&s->pd, user != NULL ? user :
	    DEFAULT_PREAUTH_USER, dir != NULL ? dir : DEFAULT_CHROOT);
}

/*
 * Only root, or the owner of the users file, can replace it: say so at
 * once rather than after the user typed two passwords.
 */
static const char *
owner_check(const char *file)
{
	static char	why[3 * PATH_MAX];
	char		path[2 * PATH_MAX];
	struct stat	st;

	file = log_abspath(file, path, sizeof(path));
	if (stat(file, &st) == -1)
		snprintf(why, sizeof(why), "cannot find the users file %s: %s",
		    file, strerror(errno));
	else if (geteuid() != 0 && st.st_uid != geteuid())
		snprintf(why, sizeof(why), "neither root nor the owner of the"
		    " users file %s", file);
	else
		return NULL;
	return why;
}

/*
 * A check of the old password pw (len octets): the access policy's say,
 * then the same crypt(3) work and the same delay whatever fails.
 */
static char
parent_old(struct session *s, const char *pw, size_t len)
{
	int	toolong = len > USERS_PASSWORD_MAX, r;
	char	verdict;

	if ((verdict = access_login(&s->acc, s->user)) != 0) {
		event(s, "passwd_blocked", NULL, 0);
		s->end = "error";
		return verdict == VERDICT_TEMP ? PWV_TEMP : PWV_BLOCKED;
	}
	/* A longer one is no password: it costs a check all the same. */
	memcpy(s->old, toolong ? "" : pw, toolong ? 1 : len + 1);
	r = change_verify(&s->ch, s->user, s->old);
	if (toolong && r == 1) {
		r = 0;
		s->ch.why = "password too long";
	}
	if (r == -1)
		event(s, "passwd_temp", s->ch.why, errno);
	/* Any failure ends the session: the verdict would change nothing. */
	(void)access_settle(&s->acc, s->user, r == 0);
	if (r == 1)
		return PWV_OK;
	explicit_bzero(s->old, sizeof(s->old));
	s->end = "error";
	if (r == -1)
		return PWV_TEMP;
	event(s, "passwd_fail", s->ch.why, 0);
	s->end = "failed";
	if (s->delay > 0)
		sleep(s->delay);
	return PWV_FAIL;
}

/* The new password pw (len octets): refused with a reason, or set. */
static char
parent_new(struct session *s, const char *pw, size_t len)
{
	char	buf[PWIPC_REPLY_MAX], verdict = 0;
	int	r, err;

	if (len < s->ds.min)
		verdict = PWV_SHORT;
	else if (len > USERS_PASSWORD_MAX)
		verdict = PWV_LONG;
	else if (strcmp(pw, s->old) == 0)
		verdict = PWV_SAME;
	if (verdict != 0) {
		/* The reason as the client reads it, after "500 ". */
		event(s, "passwd_refused", pwipc_reply(verdict, s->ds.min, buf,
		    sizeof(buf)) + 4, 0);
		return verdict;	/* the client may offer another */
	}
	r = change_set(&s->ch, s->user, pw);
	err = errno;
	explicit_bzero(s->old, sizeof(s->old));
	if (r == -1) {
		s->end = "error";
		event(s, err == ESTALE || err == ESRCH ? "passwd_refused" :
		    "passwd_temp", s->ch.why, err == ESTALE || err == ESRCH ?
		    0 : err);
		return err == ESTALE ? PWV_STALE : err == ESRCH ? PWV_NOUSER :
		    PWV_TEMP;
	}
	s->changed = 1;
	event(s, "passwd_changed", NULL, 0);
	return PWV_CHANGED;
}

/*
 * What a checked message of type asks, its payload text (NUL-terminated,
 * len octets before the NUL) or none: the verdict to send back, or 0 for
 * none.
 */
static char
parent_act(struct session *s, int type, char *text, size_t len)
{
	char	verdict = 0;

	switch (type) {
	case PWIPC_USER:
		memcpy(s->user, text, len + 1);	/* checked: fits */
		s->want = PWIPC_WANT_PASS;
		break;
	case PWIPC_OLD:
		if ((verdict = parent_old(s, text, len)) == PWV_OK)
			s->want = PWIPC_WANT_NEWPASS;
		break;
	case PWIPC_NEW:
		if ((verdict = parent_new(s, text, len)) == PWV_CHANGED)
			s->want = PWIPC_WANT_QUIT;
		break;
	case PWIPC_HOSTILE:
		event(s, "hostile", NULL, 0);
		access_hostile(&s->acc);
		verdict = PWV_OK;	/* noted: the client may hear it */
		s->want = PWIPC_WANT_END;
		break;
	}
	if (verdict != 0 && !pwipc_goes_on(verdict))
		s->want = PWIPC_WANT_END;
	return verdict;
}

/*
 * Waits for the dialogue process's next message until the deadline: 1
 * when one (or its end) is there, 0 when the deadline has passed.  A
 * signal that asks to stop goes on to the dialogue process, which tells
 * the client and ends, within PASSWD_END_GRACE_MS.
 */
static int
parent_wait(struct session *s, int ipc, int sigfd)
{
	struct pollfd		 pfd[2] = { { ipc, POLLIN, 0 },
				    { sigfd, POLLIN, 0 } };
	struct signalfd_siginfo	 si;
	int64_t			 left;

	for (;;) {
		if ((left = s->deadline - io_now_ms()) <= 0)
			return 0;
		if (poll(pfd, 2, left > INT_MAX ? INT_MAX : (int)left) == -1 &&
		    errno != EINTR)
			return 0;
		if ((pfd[1].revents & POLLIN) &&
		    read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			(void)kill(s->child, (int)si.ssi_signo);
			if (s->deadline > io_now_ms() + PASSWD_END_GRACE_MS)
				s->deadline = io_now_ms() + PASSWD_END_GRACE_MS;
		}
		if (pfd[0].revents != 0)
			return 1;
	}
}

/*
 * Serves the dialogue process's messages until it reports its end: 0,
 * or -1 when it broke off (gone without a word, a malformed message, past
 * the deadline), for the exit status.
 */
static int
parent_serve(struct session *s, int ipc, int sigfd)
{
	char	msg[IPC_MAX], verdict;
	int64_t	began;
	int	n, type;

	s->want = PWIPC_WANT_USER;
	s->deadline = io_now_ms() + s->ds.session_ms + PASSWD_END_GRACE_MS;
	for (;;) {
		if (!parent_wait(s, ipc, sigfd)) {
			log_warn("the dialogue process did not end in time:"
			    " killed");
			s->end = "killed";
			return -1;
		}
		/* Gone; an oversized message (EPROTO) is a malformed one. */
		if ((n = ipc_recv(ipc, msg)) == 0 || (n == -1 &&
		    errno != EPROTO)) {
			if (s->end == NULL)
				s->end = "lost";
			return -1;
		}
		if (n == -1 || (type = pwipc_check(msg, n, s->want)) == -1) {
			explicit_bzero(msg, sizeof(msg));
			log_warn("malformed message from the dialogue process:"
			    " the session ends");
			s->end = "malformed";
			return -1;
		}
		if (type == PWIPC_END) {
			if (s->end == NULL)
				s->end = pwipc_end_name(msg[1]);
			return 0;
		}
		began = io_now_ms();
		verdict = parent_act(s, type, msg + 1, n > 1 ? n - 2 : 0);
		explicit_bzero(msg, n);
		/*
		 * The dialogue waited for a check or a change (crypt(3), the
		 * delay, the users file's lock): that time is not the
		 * dialogue's.  Each is bounded and comes once a session (the
		 * order of the dialogue sees to it); a refused new password
		 * costs nothing and moves nothing.
		 */
		if (type == PWIPC_OLD || (type == PWIPC_NEW &&
		    s->want != PWIPC_WANT_NEWPASS))
			s->deadline += io_now_ms() - began;
		/* A verdict is never outstanding: a full channel is a fault. */
		if (verdict != 0 && ipc_send(ipc, PWIPC_VERDICT, &verdict,
		    1) == -1) {
			log_warn("cannot send the dialogue process its verdict:"
			    " %s", strerror(errno));
			if (s->end == NULL)
				s->end = "lost";
			return -1;
		}
	}
}

/*
 * In the child: fd 3 to the privileged process and 0-2, nothing else;
 * the signals as they were; the one privilege drop of pop3d's pre-login
 * process; then the dialogue.
 */
static void __attribute__((noreturn))
dialogue_start(struct session *s, int sp[2], const sigset_t *mask,
    pid_t parent, int null)
{
	log_to_stderr();
	close(sp[0]);
#if !defined(__SANITIZE_ADDRESS__)
	/*
	 * It logs nothing (the parent logs what it is sent): fd 2, the log
	 * stream, is no place of its to write.  Not in the sanitizer build,
	 * whose reports go to fd 2.
	 */
	if (dup2(null, STDERR_FILENO) == -1)
		_exit(EXIT_TEMP);
#else
	(void)null;
#endif
	if (privdrop_child_fds(sp[1]) == -1 ||
	    sigprocmask(SIG_SETMASK, mask, NULL) == -1)
		die(EXIT_TEMP, "dialogue setup: %s", strerror(errno));
	if (getppid() != parent)
		_exit(EXIT_TEMP);
	io_catch_signals();
	s->pd.parent = parent;
	privdrop_apply(&s->pd);
	dialogue_run(&s->ds, 3);
}

/*
 * The dialogue in its own process, served until it ends: 0, or -1 when
 * it broke off.  From the fork on, this process holds neither the
 * client's socket nor its signals (they come through a signalfd).
 */
static int
session_run(struct session *s)
{
	sigset_t	stop, was;
	pid_t		self = getpid();
	int		sp[2], sigfd, null, r;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stop, &was) == -1 ||
	    (sigfd = signalfd(-1, &stop, SFD_CLOEXEC)) == -1 ||
	    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    (s->child = fork()) == -1)
		refuse(s, TEMP_REPLY, strerror(errno), EXIT_TEMP);
	if (s->child == 0)
		dialogue_start(s, sp, &was, self, null);
	close(sp[1]);
	/*
	 * Nothing here waits on the dialogue process but parent_wait: its
	 * end of the channel never blocks, whatever that process does.
	 */
	if (fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1 ||
	    dup2(null, STDIN_FILENO) == -1 || dup2(null, STDOUT_FILENO) == -1) {
		log_warn("session setup: %s", strerror(errno));
		s->end = "error";
		r = -1;
	} else
		r = parent_serve(s, sp[0], sigfd);
	/* Before the channel closes: a broken-off dialogue says no more. */
	(void)kill(s->child, SIGKILL);
	close(null);
	close(sp[0]);
	close(sigfd);
	while (waitpid(s->child, NULL, 0) == -1 && errno == EINTR)
		;
	return r;
}

int
main(int argc, char **argv)
{
	static struct session	 s;
	struct logline		 l;
	const char		*file = NULL, *db = NULL, *why;
	int			 ch, r;

	log_init(argv[0]);
	version_help(argc, argv, "pop3d-passwd",
	    "usage: pop3d-passwd [-d users.cdb] [-f users]\n"
	    "       pop3d-passwd --help | --version\n"
	    "  -d users.cdb  the users database (POP3D_USERS_CDB, else\n"
	    "                /etc/pop3d/users.cdb)\n"
	    "  -f users      the users text file (POP3D_USERS_FILE, else\n"
	    "                /etc/pop3d/users)\n"
	    "The poppassd protocol on fd 0/1 (port 106):"
	    " see pop3d-passwd(8).\n");
	while ((ch = getopt(argc, argv, "d:f:")) != -1) {
		if (ch == 'd')
			db = optarg;
		else if (ch == 'f')
			file = optarg;
		else
			usage();
	}
	if (optind != argc)
		usage();
	log_session_new();
	if (log_from_env() == -1)
		exit(EXIT_TEMP);
	signal(SIGPIPE, SIG_IGN);
	out_init(&s.out, STDOUT_FILENO, PASSWD_IDLE_DEFAULT * 1000);
	s.acc.code = "500";	/* poppassd's refusal, not "-ERR" */
	if (peer_find(STDIN_FILENO, s.remote, sizeof(s.remote)) == -1)
		die(EXIT_TEMP, "setenv: %s", strerror(errno));
	access_rules(&s.acc, s.remote);
	if (settings_read(&s, file, db) == -1)
		refuse(&s, TEMP_REPLY, "bad settings", EXIT_TEMP);
	if ((why = owner_check(s.ch.file)) != NULL)
		refuse(&s, TEMP_REPLY, why, EXIT_TEMP);
	access_admit(&s.acc);
	if (!s.cleartext && !peer_is_loopback(s.remote))
		refuse(&s, "500 password changes are not allowed from your"
		    " address", "cleartext from a remote address", 0);
	r = session_run(&s);
	explicit_bzero(s.old, sizeof(s.old));
	change_forget(&s.ch);
	access_end(&s.acc);
	logline_start(&l, "end");
	logline_str(&l, "remote", s.remote);
	if (s.user[0] != '\0')
		logline_str(&l, "user", s.user);
	logline_num(&l, "changed", s.changed);
	logline_str(&l, "how", s.end);
	logline_emit(&l);
	return r == 0 ? 0 : EXIT_TEMP;
}

/*
 * pop3d-passwd: the poppassd protocol (port 106), one connection per
 * process on fd 0/1 as a spawner starts it: the user, the old password,
 * the new one; the change goes into the users file and users.cdb
 * (pop3d-passwd.8).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "change.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "pop3.h"
#include "pop3d_limits.h"
#include "user.h"
#include "userdb.h"
#include "usersfile.h"

#define EXIT_USAGE	2
#define EXIT_TEMP	111

#define TEMP_REPLY	"500 temporary failure; try again later"
#define BAD_REPLY	"500 old password is incorrect"

enum want {
	WANT_USER,	/* greeted: "user" */
	WANT_PASS,	/* "pass" with the old password */
	WANT_NEWPASS,	/* verified: "newpass" */
	WANT_QUIT	/* changed: only "quit" */
};

struct session {
	struct in	 in;
	struct out	 out;
	struct access	 acc;
	struct change	 ch;
	char		 remote[ADDR_TEXT_MAX];
	char		 user[POP3_USER_MAX + 1];
	char		 old[USERS_PASSWORD_MAX + 1];
	enum want	 want;
	unsigned	 min;		/* POP3D_PASSWD_MIN */
	unsigned	 delay;		/* POP3D_AUTH_DELAY */
	int		 idle_ms, session_ms;
	int		 cleartext;	/* POP3D_CLEARTEXT */
	const char	*end;		/* how the session ended, for the log */
	int		 changed;
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

/* One event of the dialogue in the log (err 0: none): never a password. */
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
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

/*
 * Every setting, strictly (a bad one refuses the connection): the files,
 * the policy's, this program's own.
 */
static int
settings_read(struct session *s, const char *file, const char *db)
{
	uint64_t	min, delay, idle, whole;
	int		bad = 0;

	s->ch.file = file != NULL ? file :
	    env_path(USERSFILE_PATH_ENV, USERSFILE_PATH_DEFAULT);
	s->ch.db = db != NULL ? db : env_path(USERDB_PATH_ENV,
	    USERDB_PATH_DEFAULT);
	bad |= env_num_strict("POP3D_PASSWD_MIN", PASSWD_MIN_DEFAULT,
	    PASSWD_MIN_MIN, PASSWD_MIN_MAX, &min) == -1;
	bad |= env_num_strict("POP3D_AUTH_DELAY", AUTH_DELAY_DEFAULT, 0,
	    AUTH_DELAY_MAX, &delay) == -1;
	bad |= env_num_strict("POP3D_PASSWD_IDLE", PASSWD_IDLE_DEFAULT, 1,
	    PASSWD_TIMEOUT_MAX, &idle) == -1;
	bad |= env_num_strict("POP3D_PASSWD_TIMEOUT", PASSWD_TIMEOUT_DEFAULT,
	    1, PASSWD_TIMEOUT_MAX, &whole) == -1;
	bad |= env_flag_strict("POP3D_CLEARTEXT", 0, &s->cleartext) == -1;
	bad |= access_settings(&s->acc) == -1;
	s->min = (unsigned)min;
	s->delay = (unsigned)delay;
	s->idle_ms = (int)idle * 1000;
	s->session_ms = (int)whole * 1000;
	return bad ? -1 : 0;
}

/*
 * Only root, or the owner of the users file, can replace it: say so at
 * once rather than after the user typed two passwords.
 */
static const char *
owner_check(const char *file)
{
	struct stat	st;

	if (stat(file, &st) == -1)
		return "cannot find the users file";
	if (geteuid() != 0 && st.st_uid != geteuid())
		return "neither root nor the owner of the users file";
	return NULL;
}

static enum pop3_next
cmd_user(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;

	if (s->want != WANT_USER || strlen(cmd->argv[0]) > POP3_USER_MAX) {
		out_line(&s->out, "500 %s", s->want != WANT_USER ?
		    "user already given" : "user name too long");
		return POP3_END;
	}
	strcpy(s->user, cmd->argv[0]);
	s->want = WANT_PASS;
	out_line(&s->out, "200 your password please");
	return POP3_CONTINUE;
}

/* A failed check: the same delay and reply whatever failed. */
static enum pop3_next
pass_failed(struct session *s, const char *why)
{
	event(s, "passwd_fail", why, 0);
	s->end = "failed";
	if (s->delay > 0) {
		out_flush(&s->out);
		sleep(s->delay);
	}
	out_line(&s->out, BAD_REPLY);
	return POP3_END;
}

/* The penalty box's refusal of a check, as access_login gives it. */
static enum pop3_next
pass_refused(struct session *s, char verdict)
{
	event(s, "passwd_blocked", NULL, 0);
	out_line(&s->out, "500 %s", verdict == VERDICT_TEMP ?
	    "temporary failure; try again later" :
	    "too many failed attempts from your address; try again later");
	return POP3_END;
}

static enum pop3_next
cmd_pass(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	size_t		 len = strlen(cmd->rest);
	int		 toolong = len > USERS_PASSWORD_MAX, r;
	char		 verdict;

	if (s->want != WANT_PASS) {
		out_line(&s->out, "500 %s", s->want == WANT_USER ?
		    "user first" : "password already given");
		return POP3_END;
	}
	if ((verdict = access_login(&s->acc, s->user)) != 0)
		return pass_refused(s, verdict);
	/* A longer one is no password: it costs a check all the same. */
	memcpy(s->old, toolong ? "" : cmd->rest, toolong ? 1 : len + 1);
	explicit_bzero(cmd->rest, len);
	r = change_verify(&s->ch, s->user, s->old);
	if (toolong && r == 1) {
		r = 0;
		s->ch.why = "password too long";
	}
	if (r == -1)
		event(s, "passwd_temp", s->ch.why, errno);
	/* Any failure ends the session: the verdict would change nothing. */
	(void)access_settle(&s->acc, s->user, r == 0);
	if (r == -1) {
		out_line(&s->out, TEMP_REPLY);
		return POP3_END;
	}
	if (r == 0)
		return pass_failed(s, s->ch.why);
	s->want = WANT_NEWPASS;
	out_line(&s->out, "200 your new password please");
	return POP3_CONTINUE;
}

/* Why pw cannot be the new password, or NULL. */
static const char *
newpass_refusal(const struct session *s, const char *pw, char *buf,
    size_t n)
{
	size_t	len = strlen(pw);

	if (len < s->min) {
		snprintf(buf, n, "new password too short: at least %u"
		    " characters", s->min);
		return buf;
	}
	if (len > USERS_PASSWORD_MAX) {
		snprintf(buf, n, "new password too long: at most %d"
		    " characters", USERS_PASSWORD_MAX);
		return buf;
	}
	if (strcmp(pw, s->old) == 0)
		return "new password must differ from the old one";
	return NULL;
}

static enum pop3_next
cmd_newpass(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	const char	*no;
	char		 buf[80];
	int		 r;

	if (s->want != WANT_NEWPASS) {
		explicit_bzero(cmd->rest, strlen(cmd->rest));
		out_line(&s->out, "500 %s", s->want == WANT_QUIT ?
		    "password already changed" : "old password first");
		return POP3_END;
	}
	if ((no = newpass_refusal(s, cmd->rest, buf, sizeof(buf))) != NULL) {
		explicit_bzero(cmd->rest, strlen(cmd->rest));
		event(s, "passwd_refused", no, 0);
		out_line(&s->out, "500 %s", no);
		return POP3_CONTINUE;	/* the client may offer another */
	}
	r = change_set(&s->ch, s->user, cmd->rest);
	explicit_bzero(cmd->rest, strlen(cmd->rest));
	if (r == -1) {
		event(s, errno == ESTALE || errno == ESRCH ? "passwd_refused" :
		    "passwd_temp", s->ch.why, errno == ESTALE ||
		    errno == ESRCH ? 0 : errno);
		out_line(&s->out, "500 %s", errno == ESTALE ?
		    "password not changed: it changed meanwhile" :
		    errno == ESRCH ? "password not changed: no such user" :
		    "temporary failure; try again later");
		return POP3_END;
	}
	s->changed = 1;
	s->want = WANT_QUIT;
	explicit_bzero(s->old, sizeof(s->old));
	event(s, "passwd_changed", NULL, 0);
	out_line(&s->out, "200 password changed");
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_quit(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;

	(void)cmd;
	s->end = "quit";
	out_line(&s->out, "200 bye");
	return POP3_END;
}

/* The poppassd commands, any case; pass and newpass take the rest. */
#define ANY_ARGS	INT_MAX
static const struct pop3_verb verbs[] = {
	{ "USER", 1, 1, "user name", cmd_user },
	{ "PASS", 1, ANY_ARGS, "pass password", cmd_pass },
	{ "NEWPASS", 1, ANY_ARGS, "newpass password", cmd_newpass },
	{ "QUIT", 0, 0, "quit", cmd_quit },
	{ NULL, 0, 0, NULL, NULL }
};

/* One line: the command's reply, or a 500 that ends the session. */
static enum pop3_next
dispatch(struct session *s, char *line, size_t len)
{
	struct pop3_cmd		 cmd;
	const struct pop3_verb	*v = NULL;
	enum pop3_next		 next;

	if (pop3_parse(line, len, &cmd) == POP3_PARSED)
		v = pop3_lookup(verbs, cmd.verb);
	if (v == NULL || cmd.nargs < v->min_args ||
	    cmd.nargs > v->max_args) {
		out_line(&s->out, "500 %s%s", v == NULL ? "unknown command" :
		    "usage: ", v == NULL ? "" : v->usage);
		s->end = "error";
		next = POP3_END;
	} else
		next = v->fn(s, &cmd);
	explicit_bzero(&cmd, sizeof(cmd));
	explicit_bzero(line, len);
	return next;
}

/* The dialogue, until quit, an error, a timeout or the client's end. */
static void
dialogue(struct session *s)
{
	char		line[PASSWD_LINE_MAX];
	size_t		len;
	enum in_status	st;

	out_line(&s->out, "200 pop3d-passwd hello, who are you?");
	s->end = "error";
	for (;;) {
		st = in_line(&s->in, line, sizeof(line), sizeof(line), &len);
		if (st != IN_LINE)
			break;
		if (dispatch(s, line, len) == POP3_END)
			break;
		in_forget(&s->in);
	}
	in_forget(&s->in);
	explicit_bzero(line, sizeof(line));
	if (st == IN_LINE)
		return;
	s->end = st == IN_EOF ? "eof" : st == IN_TIMEOUT ? "timeout" :
	    st == IN_SIGNAL ? "signal" : st == IN_HOSTILE ? "hostile" :
	    "ioerr";
	if (st == IN_TIMEOUT || st == IN_SIGNAL)
		out_line(&s->out, "500 %s", st == IN_TIMEOUT ?
		    "timeout" : "server shutting down");
	if (st == IN_HOSTILE) {
		event(s, "hostile", NULL, 0);
		access_hostile(&s->acc);
		out_line(&s->out, "500 line too long");
		out_flush(&s->out);
		in_linger(&s->in);
	}
}

int
main(int argc, char **argv)
{
	static struct session	 s;
	struct logline		 l;
	const char		*file = NULL, *db = NULL, *why;
	int			 ch;

	log_init(argv[0]);
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
	if (log_from_env() == -1)
		exit(EXIT_TEMP);
	signal(SIGPIPE, SIG_IGN);
	out_init(&s.out, STDOUT_FILENO, PASSWD_IDLE_DEFAULT * 1000);
	access_reply_code("500");
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
	io_catch_signals();
	out_init(&s.out, STDOUT_FILENO, s.idle_ms);
	out_deadline(&s.out, s.session_ms);
	in_init(&s.in, STDIN_FILENO, s.idle_ms, &s.out);
	in_deadline(&s.in, s.session_ms);
	dialogue(&s);
	out_flush(&s.out);
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
	return 0;
}

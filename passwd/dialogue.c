#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "dialogue.h"
#include "io.h"
#include "ipc.h"
#include "pop3.h"
#include "pwipc.h"

_Static_assert(1 + PWIPC_TEXT_MAX + 1 <= IPC_MAX,
    "a password and its NUL must fit one message");

struct dialogue {
	const struct dialogue_settings *set;
	struct in	 in;
	struct out	 out;
	int		 ipc;
	enum pwipc_want	 want;
	char		 end;		/* PWEND_*: how it ended */
};

/*
 * The privileged process's verdict on what was just sent; a broken
 * channel or an answer not known here reads as a temporary failure.  No
 * deadline of its own: that process bounds the wait (it kills this one)
 * and its death ends this one (PR_SET_PDEATHSIG).
 */
static char
dialogue_verdict(struct dialogue *d)
{
	char	msg[IPC_MAX];

	/* Whatever was answered before goes out before the wait. */
	(void)out_flush(&d->out);
	if (ipc_recv(d->ipc, msg) != 2 || msg[0] != PWIPC_VERDICT)
		return PWV_TEMP;
	return msg[1];
}

/*
 * Sends the argument of a command to the privileged process and wipes
 * it: 0, or -1 when that process is gone.
 */
static int
dialogue_send(struct dialogue *d, char type, char *text)
{
	size_t	len = strlen(text);
	int	r;

	r = ipc_send(d->ipc, type, text, len + 1);
	explicit_bzero(text, len);
	return r;
}

/*
 * A password for the privileged process: sent (and wiped), and its
 * verdict phrased as the reply; the dialogue moves on to then when the
 * verdict is ok.
 */
static enum pop3_next
dialogue_ask(struct dialogue *d, char type, char *pw, char ok,
    enum pwipc_want then)
{
	char	buf[PWIPC_REPLY_MAX], v = PWV_TEMP;

	if (dialogue_send(d, type, pw) == 0)
		v = dialogue_verdict(d);
	if (v == ok)
		d->want = then;
	out_line(&d->out, "%s", pwipc_reply(v, d->set->min, buf, sizeof(buf)));
	return pwipc_goes_on(v) ? POP3_CONTINUE : POP3_END;
}

/* A password out of order: wiped unsent, and the session ends. */
static enum pop3_next
dialogue_early(struct dialogue *d, struct pop3_cmd *cmd, const char *why)
{
	explicit_bzero(cmd->rest, strlen(cmd->rest));
	out_line(&d->out, "500 %s", why);
	return POP3_END;
}

static enum pop3_next
cmd_user(void *ctx, struct pop3_cmd *cmd)
{
	struct dialogue	*d = ctx;

	if (d->want != PWIPC_WANT_USER || strlen(cmd->argv[0]) >
	    POP3_USER_MAX) {
		out_line(&d->out, "500 %s", d->want != PWIPC_WANT_USER ?
		    "user already given" : "user name too long");
		return POP3_END;
	}
	if (dialogue_send(d, PWIPC_USER, cmd->argv[0]) == -1) {
		out_line(&d->out, "500 temporary failure; try again later");
		return POP3_END;
	}
	d->want = PWIPC_WANT_PASS;
	out_line(&d->out, "200 your password please");
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_pass(void *ctx, struct pop3_cmd *cmd)
{
	struct dialogue	*d = ctx;

	if (d->want != PWIPC_WANT_PASS)
		return dialogue_early(d, cmd, d->want == PWIPC_WANT_USER ?
		    "user first" : "password already given");
	return dialogue_ask(d, PWIPC_OLD, cmd->rest, PWV_OK,
	    PWIPC_WANT_NEWPASS);
}

static enum pop3_next
cmd_newpass(void *ctx, struct pop3_cmd *cmd)
{
	struct dialogue	*d = ctx;

	if (d->want != PWIPC_WANT_NEWPASS)
		return dialogue_early(d, cmd, d->want == PWIPC_WANT_QUIT ?
		    "password already changed" : "old password first");
	return dialogue_ask(d, PWIPC_NEW, cmd->rest, PWV_CHANGED,
	    PWIPC_WANT_QUIT);
}

static enum pop3_next
cmd_quit(void *ctx, struct pop3_cmd *cmd)
{
	struct dialogue	*d = ctx;

	(void)cmd;
	d->end = PWEND_QUIT;
	out_line(&d->out, "200 bye");
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
dialogue_line(struct dialogue *d, char *line, size_t len)
{
	struct pop3_cmd		 cmd;
	const struct pop3_verb	*v = NULL;
	enum pop3_next		 next;

	if (pop3_parse(line, len, &cmd) == POP3_PARSED)
		v = pop3_lookup(verbs, cmd.verb);
	if (v == NULL || cmd.nargs < v->min_args ||
	    cmd.nargs > v->max_args) {
		out_line(&d->out, "500 %s%s", v == NULL ? "unknown command" :
		    "usage: ", v == NULL ? "" : v->usage);
		next = POP3_END;
	} else
		next = v->fn(d, &cmd);
	explicit_bzero(&cmd, sizeof(cmd));
	explicit_bzero(line, len);
	return next;
}

/*
 * A line past PASSWD_LINE_MAX: the privileged process blocks the address
 * before the client hears the answer, so that its next connection meets
 * the block.
 */
static void
dialogue_hostile(struct dialogue *d)
{
	if (ipc_send(d->ipc, PWIPC_HOSTILE, NULL, 0) == 0)
		(void)dialogue_verdict(d);
	out_line(&d->out, "500 line too long");
	out_flush(&d->out);
	in_linger(&d->in);
}

/* The dialogue, until quit, an error, a timeout or the client's end. */
static void
dialogue_loop(struct dialogue *d)
{
	char		line[PASSWD_LINE_MAX];
	size_t		len;
	enum in_status	st;

	out_line(&d->out, "200 pop3d-passwd hello, who are you?");
	d->end = PWEND_ERROR;
	for (;;) {
		st = in_line(&d->in, line, sizeof(line), sizeof(line), &len);
		if (st != IN_LINE)
			break;
		if (dialogue_line(d, line, len) == POP3_END)
			break;
		in_forget(&d->in);
	}
	in_forget(&d->in);
	explicit_bzero(line, sizeof(line));
	if (st == IN_LINE)
		return;
	d->end = st == IN_EOF ? PWEND_EOF : st == IN_TIMEOUT ? PWEND_TIMEOUT :
	    st == IN_SIGNAL ? PWEND_SIGNAL : st == IN_HOSTILE ? PWEND_HOSTILE :
	    PWEND_IOERR;
	if (st == IN_TIMEOUT || st == IN_SIGNAL)
		out_line(&d->out, "500 %s", st == IN_TIMEOUT ?
		    "timeout" : "server shutting down");
	if (st == IN_HOSTILE)
		dialogue_hostile(d);
}

void
dialogue_run(const struct dialogue_settings *set, int ipc)
{
	static struct dialogue	d;

	d.set = set;
	d.ipc = ipc;
	d.want = PWIPC_WANT_USER;
	out_init(&d.out, STDOUT_FILENO, set->idle_ms);
	out_deadline(&d.out, set->session_ms);
	in_init(&d.in, STDIN_FILENO, set->idle_ms, &d.out);
	in_deadline(&d.in, set->session_ms);
	dialogue_loop(&d);
	out_flush(&d.out);
	/* Last: the privileged process ends the session when it hears it. */
	(void)ipc_send(ipc, PWIPC_END, &d.end, 1);
	_exit(0);
}

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "ipc.h"
#include "log.h"
#include "pop3.h"
#include "preauth.h"
#include "sasl.h"

struct preauth {
	const struct preauth_settings *set;
	struct in	*in;
	struct out	*out;
	int		 ipc;
	int		 have_user;
	int		 hostile;	/* a SASL response far too long */
	int		 stls_failed;	/* STLS was tried and could not be */
	int		 proxy_said;	/* a PROXY line was logged */
	char		 user[POP3_USER_MAX + 1];
};

void
preauth_log_sink(const char *text, size_t len)
{
	if (len == 0)
		return;
	(void)ipc_send(PREAUTH_IPC_FD, IPC_LOG, text,
	    len > LOG_VALUE_MAX ? LOG_VALUE_MAX : len);
}

typedef enum pop3_next mech_run(struct preauth *, struct pop3_cmd *,
    const char *);
static mech_run	auth_plain, auth_login, auth_cram;

/* The SASL mechanisms, in the order CAPA and AUTH list them. */
static const struct mech {
	const char	*name;
	int		 cleartext;	/* the password itself goes over */
	mech_run	*run;
} mechs[] = {
	{ "PLAIN", 1, auth_plain },
	{ "LOGIN", 1, auth_login },
	{ "CRAM-MD5", 0, auth_cram },
	{ NULL, 0, NULL }
};

/*
 * Is m offered here?  PLAIN and LOGIN where cleartext login is (TLS,
 * loopback, POP3D_CLEARTEXT), CRAM-MD5 when configured; none before TLS
 * where it is required.
 */
static int
sasl_offered(const struct preauth_settings *set, const struct mech *m)
{
	if (set->tls_required && !set->tls)
		return 0;
	return m->cleartext ? set->cleartext : set->cram;
}

/* CAPA's SASL line (RFC 5034 section 5): the mechanisms offered, if any. */
static void
sasl_capa(struct preauth *pa)
{
	const struct mech	*m;
	int			 any = 0;

	for (m = mechs; m->name != NULL; m++) {
		if (!sasl_offered(pa->set, m))
			continue;
		out_str(pa->out, any ? " " : "SASL ");
		out_str(pa->out, m->name);
		any = 1;
	}
	if (any)
		out_str(pa->out, "\r\n");
}

static enum pop3_next
cmd_capa(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;
	const struct preauth_settings *set = pa->set;

	(void)cmd;
	out_line(pa->out, "+OK capability list follows");
	if (set->cleartext)
		out_str(pa->out, "USER\r\n");
	if (set->stls && !pa->stls_failed)
		out_str(pa->out, "STLS\r\n");
	sasl_capa(pa);
	out_str(pa->out, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n");
	/*
	 * RFC 2449 6.7, 6.8: USER, as the values may differ per user (the
	 * maildrop stage enforces its own environment's, which a
	 * checkpassword program may set per user); its CAPA, after login,
	 * gives the user's exact values.
	 */
	if (set->expire != NULL)
		out_line(pa->out, "EXPIRE %s USER", set->expire);
	if (set->login_delay >= 0)
		out_line(pa->out, "LOGIN-DELAY %ld USER", set->login_delay);
	if (set->implementation != NULL)
		out_line(pa->out, "IMPLEMENTATION %s", set->implementation);
	out_str(pa->out, ".\r\n");
	return POP3_CONTINUE;
}

/*
 * Copies a user name, mapping the operator's alternate '@' characters;
 * one too long is answered, and -1.
 */
static int
user_copy(struct preauth *pa, const char *name)
{
	size_t	i, len = strlen(name);

	if (len == 0 || len > POP3_USER_MAX) {
		out_line(pa->out, "-ERR [AUTH] user name too long (at most %d"
		    " octets)", POP3_USER_MAX);
		return -1;
	}
	for (i = 0; i <= len; i++) {
		pa->user[i] = name[i];
		if (name[i] != '\0' && pa->set->alt_at != NULL &&
		    strchr(pa->set->alt_at, name[i]) != NULL)
			pa->user[i] = '@';
	}
	return 0;
}

/* A login before TLS where the operator requires it: refused, said so. */
static int
tls_missing(struct preauth *pa)
{
	if (!pa->set->tls_required || pa->set->tls)
		return 0;
	out_line(pa->out, "-ERR [AUTH] TLS is required on this connection:"
	    " use STLS first");
	return 1;
}

static enum pop3_next
cmd_user(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;

	pa->have_user = 0;
	if (tls_missing(pa))
		return POP3_CONTINUE;
	if (!pa->set->cleartext) {
		out_line(pa->out, "-ERR [AUTH] cleartext login is not allowed"
		    " on this connection");
		return POP3_CONTINUE;
	}
	if (user_copy(pa, cmd->argv[0]) == -1)
		return POP3_CONTINUE;
	pa->have_user = 1;
	out_line(pa->out, "+OK send PASS");
	return POP3_CONTINUE;
}

/*
 * Asks the front (type, and a payload wiped once sent: it may hold a
 * secret) and waits for its answer of type want with a payload, into
 * reply (IPC_MAX octets): its length.  When the front is gone, so is the
 * session: this process ends without a word.  A malformed answer ends it
 * with 111.
 */
static int
front_ask(struct preauth *pa, char type, char *payload, size_t len,
    char want, char *reply)
{
	int	n;

	out_flush(pa->out);
	n = ipc_send(pa->ipc, type, payload, len);
	if (len > 0)
		explicit_bzero(payload, len);
	if (n == -1 || (n = ipc_recv(pa->ipc, reply)) <= 0)
		_exit(0);
	if (n < 2 || reply[0] != want)
		_exit(111);
	return n;
}

/* The front's verdict on a request: front_ask for one octet. */
static char
front_verdict(struct preauth *pa, char type, char *payload, size_t len)
{
	char	reply[IPC_MAX];

	if (front_ask(pa, type, payload, len, IPC_VERDICT, reply) != 2)
		_exit(111);
	return reply[1];
}

/*
 * Hands the credentials to the front and answers by its verdict.  Every
 * copy of the secret here is wiped before the wait.  On success the front
 * never answers: the chain has served the client, and this process ends
 * without a word when the front goes.
 */
static enum pop3_next
login(struct preauth *pa, struct pop3_cmd *cmd, char mech, const char *secret,
    size_t slen)
{
	const struct verdict	*v;
	char			 msg[IPC_MAX];
	size_t			 ulen = strlen(pa->user), len;

	len = 1 + ulen + 1 + slen + 1;
	if (len - 1 + strlen(pa->set->timestamp) + 1 > CHECKPASSWORD_MAX) {
		out_line(pa->out, "-ERR [AUTH] credentials too long");
		return POP3_CONTINUE;
	}
	msg[0] = mech;
	memcpy(msg + 1, pa->user, ulen + 1);
	memcpy(msg + 2 + ulen, secret, slen);
	msg[2 + ulen + slen] = '\0';
	explicit_bzero(cmd->rest, strlen(cmd->rest));
	explicit_bzero(cmd->words, sizeof(cmd->words));
	in_forget(pa->in);
	pa->have_user = 0;
	v = verdict_find(front_verdict(pa, IPC_CRED, msg, len));
	out_line(pa->out, "%s", v->reply);
	return v->final ? POP3_END : POP3_CONTINUE;
}

static enum pop3_next
cmd_pass(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;

	if (!pa->have_user) {
		out_line(pa->out, "-ERR give USER first");
		return POP3_CONTINUE;
	}
	/* The password is the raw rest of the line: spaces belong to it. */
	return login(pa, cmd, MECH_USER, cmd->rest, strlen(cmd->rest));
}

/* APOP's digest, 32 hex digits, in lower case into digest[33]; or -1. */
static int
digest_copy(char *digest, const char *hex)
{
	size_t	i;

	if (strlen(hex) != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		digest[i] = hex[i] >= 'A' && hex[i] <= 'F' ?
		    hex[i] + ('a' - 'A') : hex[i];
		if (strchr("0123456789abcdef", digest[i]) == NULL)
			return -1;
	}
	digest[32] = '\0';
	return 0;
}

static enum pop3_next
cmd_apop(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;
	char		 digest[33];

	pa->have_user = 0;
	if (tls_missing(pa))
		return POP3_CONTINUE;
	if (!pa->set->apop) {
		out_line(pa->out, "-ERR APOP is not offered");
		return POP3_CONTINUE;
	}
	if (digest_copy(digest, cmd->argv[1]) == -1) {
		out_line(pa->out, "-ERR [AUTH] the digest is 32 hex digits");
		return POP3_CONTINUE;
	}
	if (user_copy(pa, cmd->argv[0]) == -1)
		return POP3_CONTINUE;
	return login(pa, cmd, MECH_APOP, digest, 32);
}

/*
 * STLS (RFC 2595): the front starts the relay; on its word the +OK goes
 * out and this process ends, having read nothing past the STLS line.
 * Whatever the client sent after it stays in the socket for the relay,
 * which takes it for a TLS handshake: plaintext injected there is never
 * run as a command.  A fresh pre-login process serves the TLS session.
 */
static enum pop3_next
cmd_stls(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;

	(void)cmd;
	if (!pa->set->stls || pa->stls_failed) {
		out_line(pa->out, pa->set->tls ? "-ERR TLS is already active" :
		    "-ERR STLS is not offered");
		return POP3_CONTINUE;
	}
	if (front_verdict(pa, IPC_STLS, NULL, 0) != VERDICT_TLS) {
		pa->stls_failed = 1;	/* the front will not try again */
		out_line(pa->out, "-ERR [SYS/TEMP] TLS is not available now;"
		    " try again later");
		return POP3_CONTINUE;
	}
	out_line(pa->out, "+OK begin TLS negotiation");
	return POP3_END;
}

/* Decoded responses fit here: base64 gives 3 octets for every 4. */
#define SASL_DECODED_MAX	(SASL_LINE_MAX / 4 * 3)

/*
 * Sends a challenge (base64, maybe empty) and reads the response into
 * out (SASL_DECODED_MAX + 1 octets): its decoded length; -1 after the
 * answer that ends the exchange (cancelled, too long, malformed), the
 * dialogue going on; -2 when the session ends (hostile, idle, gone).
 */
static ssize_t
sasl_response(struct preauth *pa, const char *challenge, unsigned char *out)
{
	char		 line[SASL_LINE_MAX + 2];	/* and the CR */
	size_t		 len;
	ssize_t		 n = -2;

	out_line(pa->out, "+ %s", challenge);
	switch (in_line(pa->in, line, sizeof(line), SASL_LINE_HOSTILE, &len)) {
	case IN_LINE:
		pop3_debug_client(NULL, NULL, 0);
		n = -1;
		if (len > SASL_LINE_MAX)	/* a bare LF gave it room */
			out_line(pa->out, "-ERR [AUTH] response too long (at"
			    " most %d octets); authentication reset",
			    SASL_LINE_MAX);
		else if (len == 1 && line[0] == '*')
			out_line(pa->out, "-ERR authentication cancelled");
		else if (len == 0)	/* an empty response (RFC 5034) */
			n = 0;
		else if ((n = sasl_b64_decode(line, len, out,
		    SASL_DECODED_MAX)) < 0)
			out_line(pa->out, "-ERR [AUTH] malformed base64;"
			    " authentication reset");
		break;
	case IN_TOOLONG:
		out_line(pa->out, "-ERR [AUTH] response too long (at most %d"
		    " octets); authentication reset", SASL_LINE_MAX);
		n = -1;
		break;
	case IN_HOSTILE:
		out_line(pa->out, "-ERR response line far too long; closing");
		pa->hostile = 1;
		break;
	case IN_TIMEOUT:
		out_line(pa->out, "-ERR idle for too long; closing");
		break;
	default:
		break;
	}
	/* It may hold a password, whichever way it ended. */
	explicit_bzero(line, sizeof(line));
	in_forget(pa->in);
	return n;
}

/*
 * The first response: the AUTH line's initial one, else the answer to
 * challenge; as sasl_response (an initial one is -1 or its length).
 */
static ssize_t
sasl_first(struct preauth *pa, const char *initial, const char *challenge,
    unsigned char *out)
{
	ssize_t	n;

	if (initial == NULL)
		return sasl_response(pa, challenge, out);
	if ((n = sasl_b64_decode(initial, strlen(initial), out,
	    SASL_DECODED_MAX)) < 0)
		out_line(pa->out, "-ERR [AUTH] malformed base64;"
		    " authentication reset");
	return n;
}

/* What an exchange that ended early means for the command loop. */
static enum pop3_next
sasl_ended(ssize_t n)
{
	return n == -2 ? POP3_END : POP3_CONTINUE;
}

static enum pop3_next
auth_plain(struct preauth *pa, struct pop3_cmd *cmd, const char *initial)
{
	unsigned char	 msg[SASL_DECODED_MAX + 1];
	const char	*why, *user, *pass;
	enum pop3_next	 next;
	ssize_t		 n;

	n = sasl_first(pa, initial, "", msg);
	if (n < 0)
		return sasl_ended(n);
	if ((why = sasl_plain(msg, (size_t)n, &user, &pass)) != NULL) {
		explicit_bzero(msg, sizeof(msg));
		out_line(pa->out, "-ERR [AUTH] %s", why);
		return POP3_CONTINUE;
	}
	user_copy(pa, user);		/* its length is checked */
	next = login(pa, cmd, MECH_PLAIN, pass, strlen(pass));
	explicit_bzero(msg, sizeof(msg));
	return next;
}

/* A LOGIN field: 1 to len octets and no NUL, made a string; or -1. */
static int
login_field(struct preauth *pa, unsigned char *buf, ssize_t n, size_t max,
    const char *what)
{
	if (n < 1 || (size_t)n > max || memchr(buf, '\0', n) != NULL) {
		explicit_bzero(buf, SASL_DECODED_MAX + 1);
		out_line(pa->out, "-ERR [AUTH] bad %s (1 to %zu octets, no"
		    " NUL)", what, max);
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

/* LOGIN: the prompts every client knows, "Username:" and "Password:". */
static enum pop3_next
auth_login(struct preauth *pa, struct pop3_cmd *cmd, const char *initial)
{
	unsigned char	 buf[SASL_DECODED_MAX + 1];
	enum pop3_next	 next;
	ssize_t		 n;

	n = sasl_first(pa, initial, "VXNlcm5hbWU6", buf);
	if (n < 0)
		return sasl_ended(n);
	if (login_field(pa, buf, n, POP3_USER_MAX, "user name") == -1)
		return POP3_CONTINUE;
	user_copy(pa, (const char *)buf);
	if ((n = sasl_response(pa, "UGFzc3dvcmQ6", buf)) < 0)
		return sasl_ended(n);
	if (login_field(pa, buf, n, SASL_SECRET_MAX, "password") == -1)
		return POP3_CONTINUE;
	next = login(pa, cmd, MECH_LOGIN, (const char *)buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return next;
}

/*
 * CRAM-MD5: the challenge is the front's (this process cannot choose
 * what the digest covers); the response is "user digest".
 */
static enum pop3_next
auth_cram(struct preauth *pa, struct pop3_cmd *cmd, const char *initial)
{
	unsigned char	 buf[SASL_DECODED_MAX + 1];
	char		 msg[IPC_MAX], b64[2 * IPC_MAX];
	const char	*why, *user, *digest;
	ssize_t		 n;
	int		 got;

	if (initial != NULL) {
		out_line(pa->out, "-ERR [AUTH] CRAM-MD5 takes no initial"
		    " response");
		return POP3_CONTINUE;
	}
	got = front_ask(pa, IPC_CHALLENGE, NULL, 0, IPC_CHALLENGE, msg);
	if (memchr(msg + 1, '\0', got - 1) != NULL ||
	    sasl_b64_encode((unsigned char *)msg + 1, got - 1, b64,
	    sizeof(b64)) == -1)
		_exit(111);
	if ((n = sasl_response(pa, b64, buf)) < 0)
		return sasl_ended(n);
	if ((why = sasl_cram(buf, (size_t)n, &user, &digest)) != NULL) {
		out_line(pa->out, "-ERR [AUTH] %s", why);
		return POP3_CONTINUE;
	}
	user_copy(pa, user);
	return login(pa, cmd, MECH_CRAM, digest, 32);
}

/*
 * AUTH (RFC 5034): without an argument, the mechanisms offered, one per
 * line (as old Outlook asks); with one, that exchange.
 */
static enum pop3_next
cmd_auth(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth		*pa = ctx;
	const char		*initial = cmd->nargs == 2 ? cmd->argv[1] :
				    NULL;
	const struct mech	*m;

	pa->have_user = 0;
	if (cmd->nargs == 0) {
		out_line(pa->out, "+OK mechanisms follow");
		for (m = mechs; m->name != NULL; m++)
			if (sasl_offered(pa->set, m))
				out_line(pa->out, "%s", m->name);
		out_str(pa->out, ".\r\n");
		return POP3_CONTINUE;
	}
	if (tls_missing(pa))
		return POP3_CONTINUE;
	for (m = mechs; m->name != NULL; m++)
		if (strcasecmp(cmd->argv[0], m->name) == 0)
			break;
	if (m->name != NULL && m->cleartext && !pa->set->cleartext) {
		out_line(pa->out, "-ERR [AUTH] cleartext login is not allowed"
		    " on this connection%s", pa->set->stls && !pa->stls_failed ?
		    ": use STLS first" : "");
		return POP3_CONTINUE;
	}
	if (m->name == NULL || !sasl_offered(pa->set, m)) {
		out_line(pa->out, "-ERR [AUTH] mechanism not offered here;"
		    " AUTH lists those that are");
		return POP3_CONTINUE;
	}
	return m->run(pa, cmd, initial);
}

static enum pop3_next
cmd_quit(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;

	(void)cmd;
	out_line(pa->out, "+OK bye");
	return POP3_END;
}

/*
 * A PROXY header (v1) in the dialogue: not the client's address, only
 * noise, answered so.  From a peer that no rule trusts (POP3D_PROXY) it
 * is logged, so that a balancer missing from the rules is found; after a
 * trusted proxy's header it is a second one (a client's, or a proxy in
 * front of the balancer).  Once: a client repeating it fills no log.
 */
static enum pop3_next
cmd_proxy(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;

	(void)cmd;
	if (!pa->proxy_said && pa->set->proxied)
		log_warn("proxy-in-dialogue: a PROXY line in the dialogue:"
		    " not used");
	else if (!pa->proxy_said)
		log_warn("proxy-untrusted: a PROXY header from a peer that is"
		    " not a trusted proxy (POP3D_PROXY): not used");
	pa->proxy_said = 1;
	out_line(pa->out, "-ERR unknown command");
	return POP3_CONTINUE;
}

static const struct pop3_verb auth_verbs[] = {
	{ "CAPA", 0, 0, "CAPA", cmd_capa },
	{ "USER", 1, 1, "USER name", cmd_user },
	{ "PASS", 1, POP3_CMD_MAX, "PASS password", cmd_pass },
	{ "APOP", 2, 2, "APOP name digest", cmd_apop },
	{ "STLS", 0, 0, "STLS", cmd_stls },
	{ "AUTH", 0, 2, "AUTH [mechanism [initial-response]]", cmd_auth },
	{ "QUIT", 0, 0, "QUIT", cmd_quit },
	{ "PROXY", 0, POP3_CMD_MAX, "", cmd_proxy },
	{ NULL, 0, 0, NULL, NULL }
};

_Static_assert(POP3_REPLY_MAX - 3 - 5 > sizeof(((struct preauth_settings *)0)
    ->timestamp), "the APOP timestamp leaves room for some greeting");

/*
 * "+OK greeting", and with APOP "+OK greeting <timestamp>": the timestamp
 * last, where RFC 1939's example has it and where curl alone looks for
 * it.  The greeting is cut to leave the timestamp room within the line
 * out_line writes (POP3_REPLY_MAX less CRLF and its NUL); the front keeps
 * '<' and '>' out of the greeting, so the timestamp is the only <...>.
 */
static void
greet(struct out *out, const struct preauth_settings *set)
{
	size_t	room, ts = strlen(set->timestamp);

	if (!set->apop) {
		out_line(out, "+OK %s", set->greeting);
		return;
	}
	room = POP3_REPLY_MAX - 3 - strlen("+OK  ") - ts;
	out_line(out, "+OK %.*s %s", (int)room, set->greeting,
	    set->timestamp);
}

void
preauth_run(const struct preauth_settings *set, int ipc)
{
	static struct out	out;
	static struct in	in;
	struct preauth		pa;
	enum pop3_end		end;

	memset(&pa, 0, sizeof(pa));
	pa.set = set;
	pa.in = &in;
	pa.out = &out;
	pa.ipc = ipc;
	out_init(&out, STDOUT_FILENO, set->idle_ms);
	in_init(&in, STDIN_FILENO, set->idle_ms, &out);
	in_exact(&in);
	in_deadline(&in, set->login_ms);
	out_deadline(&out, set->login_ms);
	/* After STLS there is no greeting: the client speaks first. */
	if (set->greet)
		greet(&out, set);
	end = pop3_run(&in, &out, auth_verbs, &pa);
	out_flush(&out);
	if (end == POP3_END_HOSTILE || pa.hostile) {
		(void)ipc_send(ipc, IPC_HOSTILE, NULL, 0);
		in_linger(&in);
	}
	_exit(0);
}

#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "ipc.h"
#include "log.h"
#include "pop3.h"
#include "preauth.h"

struct preauth {
	const struct preauth_settings *set;
	struct in	*in;
	struct out	*out;
	int		 ipc;
	int		 have_user;
	int		 stls_failed;	/* STLS was tried and could not be */
	char		 user[POP3_USER_MAX + 1];
};

int
preauth_timestamp(char *buf, size_t n, const char *host)
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
	out_str(pa->out, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n");
	if (set->expire != NULL)
		out_line(pa->out, "EXPIRE %s", set->expire);
	if (set->login_delay >= 0)
		out_line(pa->out, "LOGIN-DELAY %ld", set->login_delay);
	if (set->implementation != NULL)
		out_line(pa->out, "IMPLEMENTATION %s", set->implementation);
	out_str(pa->out, ".\r\n");
	return POP3_CONTINUE;
}

/* Copies a user name, mapping the operator's alternate '@' characters. */
static int
user_copy(struct preauth *pa, const char *name)
{
	size_t	i, len = strlen(name);

	if (len == 0 || len > POP3_USER_MAX)
		return -1;
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
	if (user_copy(pa, cmd->argv[0]) == -1) {
		out_line(pa->out, "-ERR [AUTH] user name too long (at most %d"
		    " octets)", POP3_USER_MAX);
		return POP3_CONTINUE;
	}
	pa->have_user = 1;
	out_line(pa->out, "+OK send PASS");
	return POP3_CONTINUE;
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
	char	msg[IPC_MAX];
	size_t	ulen = strlen(pa->user), len;
	int	n;

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
	out_flush(pa->out);
	n = ipc_send(pa->ipc, IPC_CRED, msg, len);
	explicit_bzero(msg, sizeof(msg));
	pa->have_user = 0;
	if (n == -1 || (n = ipc_recv(pa->ipc, msg)) <= 0)
		_exit(0);		/* the front is gone: so is the session */
	if (n != 2 || msg[0] != IPC_VERDICT)
		_exit(111);
	switch (msg[1]) {
	case VERDICT_FAIL:
		out_line(pa->out, "-ERR [AUTH] authentication failed");
		return POP3_CONTINUE;
	case VERDICT_LAST:
		out_line(pa->out, "-ERR [AUTH] authentication failed;"
		    " closing");
		return POP3_END;
	case VERDICT_TEMP:
		out_line(pa->out, "-ERR [SYS/TEMP] temporary failure,"
		    " try again later");
		return POP3_CONTINUE;
	case VERDICT_DELAY:
		out_line(pa->out, "-ERR [LOGIN-DELAY] too many failed logins"
		    " for this user from your address; try again later");
		return POP3_CONTINUE;
	case VERDICT_BLOCK:
		out_line(pa->out, "-ERR [LOGIN-DELAY] too many failed logins"
		    " from your address; closing");
		return POP3_END;
	case VERDICT_BUSY:
		out_line(pa->out, "-ERR [LOGIN-DELAY] too many logins at once"
		    " from your address; try again later");
		return POP3_CONTINUE;
	default:
		out_line(pa->out, "-ERR [SYS/TEMP] temporary failure;"
		    " closing");
		return POP3_END;
	}
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

static enum pop3_next
cmd_apop(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;
	char		 digest[33];
	size_t		 i;

	pa->have_user = 0;
	if (tls_missing(pa))
		return POP3_CONTINUE;
	if (!pa->set->apop) {
		out_line(pa->out, "-ERR APOP is not offered");
		return POP3_CONTINUE;
	}
	if (strlen(cmd->argv[1]) != 32) {
		out_line(pa->out, "-ERR [AUTH] the digest is 32 hex digits");
		return POP3_CONTINUE;
	}
	for (i = 0; i < 32; i++) {
		char c = cmd->argv[1][i];
		if (c >= 'A' && c <= 'F')
			c += 'a' - 'A';
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			out_line(pa->out, "-ERR [AUTH] the digest is 32 hex"
			    " digits");
			return POP3_CONTINUE;
		}
		digest[i] = c;
	}
	digest[32] = '\0';
	if (user_copy(pa, cmd->argv[0]) == -1) {
		out_line(pa->out, "-ERR [AUTH] user name too long (at most %d"
		    " octets)", POP3_USER_MAX);
		return POP3_CONTINUE;
	}
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
	char		 msg[IPC_MAX];
	int		 n;

	(void)cmd;
	if (!pa->set->stls || pa->stls_failed) {
		out_line(pa->out, pa->set->tls ? "-ERR TLS is already active" :
		    "-ERR STLS is not offered");
		return POP3_CONTINUE;
	}
	out_flush(pa->out);
	if (ipc_send(pa->ipc, IPC_STLS, NULL, 0) == -1 ||
	    (n = ipc_recv(pa->ipc, msg)) <= 0)
		_exit(0);
	if (n != 2 || msg[0] != IPC_VERDICT)
		_exit(111);
	if (msg[1] != VERDICT_TLS) {
		pa->stls_failed = 1;	/* the front will not try again */
		out_line(pa->out, "-ERR [SYS/TEMP] TLS is not available now;"
		    " try again later");
		return POP3_CONTINUE;
	}
	out_line(pa->out, "+OK begin TLS negotiation");
	return POP3_END;
}

static enum pop3_next
cmd_quit(void *ctx, struct pop3_cmd *cmd)
{
	struct preauth	*pa = ctx;

	(void)cmd;
	out_line(pa->out, "+OK bye");
	return POP3_END;
}

static const struct pop3_verb auth_verbs[] = {
	{ "CAPA", 0, 0, "CAPA", cmd_capa },
	{ "USER", 1, 1, "USER name", cmd_user },
	{ "PASS", 1, POP3_CMD_MAX, "PASS password", cmd_pass },
	{ "APOP", 2, 2, "APOP name digest", cmd_apop },
	{ "STLS", 0, 0, "STLS", cmd_stls },
	{ "QUIT", 0, 0, "QUIT", cmd_quit },
	{ NULL, 0, 0, NULL, NULL }
};

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
	if (set->greet && set->apop)
		out_line(&out, "+OK %s %s", set->timestamp, set->greeting);
	else if (set->greet)
		out_line(&out, "+OK %s", set->greeting);
	end = pop3_run(&in, &out, auth_verbs, &pa);
	out_flush(&out);
	if (end == POP3_END_HOSTILE) {
		(void)ipc_send(ipc, IPC_HOSTILE, NULL, 0);
		in_linger(&in);
	}
	_exit(0);
}

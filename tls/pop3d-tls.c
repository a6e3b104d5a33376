/*
 * pop3d-tls: the TLS relay, and the only program of pop3d that links
 * libtls.  The front starts it with the client's socket on fd 0/1, the
 * chain's plaintext socket on fd 3 and a status pipe on fd 4 (see
 * pop3d-tls.8).  It loads the certificates and keys, configures libtls,
 * clears the configuration's copies of the keys, drops privileges, says
 * "ready", does the handshake, reports its outcome, and relays between the
 * client and the chain until the chain ends the session.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tls.h>

#include "conf.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "pop3d_limits.h"
#include "privdrop.h"
#include "relay.h"
#include "settings.h"
#include "status.h"
#include "version.h"

#define FD_CLIENT	0
#define FD_PLAIN	3
#define FD_STATUS	4

/* The longest reason logged or sent: libtls's messages are shorter. */
#define REASON_MAX	512

/* fd 0 and fd 3 are sockets and fd 4 is open, or this is misuse. */
static void
fds_check(void)
{
	struct stat	st;

	if (fstat(FD_CLIENT, &st) == -1 || !S_ISSOCK(st.st_mode))
		die(2, "usage: fd 0 must be the client's socket");
	if (fstat(FD_PLAIN, &st) == -1 || !S_ISSOCK(st.st_mode))
		die(2, "usage: fd 3 must be the plaintext socket");
	if (fcntl(FD_STATUS, F_GETFD) == -1)
		die(2, "usage: fd 4 must be the status pipe");
}

/*
 * Before "ready": a setting, a file, libtls or the system refused.  One
 * log line, the same reason to the front, exit 111.
 */
/*
 * A failure, logged as event (with remote when known) and told to the
 * front on the status pipe as word and why.
 */
static void
fail_report(const char *event, const char *remote, const char *word,
    const char *why)
{
	struct logline	l;
	struct status	s;

	logline_start(&l, event);
	if (remote != NULL)
		logline_str(&l, "remote", remote);
	logline_str(&l, "error", why);
	logline_emit(&l);
	status_start(&s, word);
	status_add(&s, NULL, why);
	(void)status_send(&s, FD_STATUS);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
config_fail(const char *fmt, ...)
{
	char		why[REASON_MAX];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fail_report("tls-config", NULL, "error", why);
	_exit(111);
}

/*
 * Everything that needs the files and root: the settings, the keys, the
 * libtls server context, the user to become.  The key stays only in the
 * SSL_CTXs of the context returned.
 */
static struct tls *
relay_setup(struct tlsconf *c, struct privdrop *pd)
{
	char		 err[REASON_MAX];
	struct tls	*ctx;

	if (tlsconf_read(c, err, sizeof(err)) == -1)
		config_fail("%s", err);
	if (tls_init() == -1)
		config_fail("tls_init failed");
	if ((ctx = tlsconf_server(c, err, sizeof(err))) == NULL)
		config_fail("%s", err);
	/* privdrop_prepare has logged what is wrong with the user or dir. */
	if (privdrop_prepare(pd, c->user, c->dir) == -1)
		config_fail("no user or directory to drop privileges to");
	pd->role = "TLS relay";
	pd->logs = 1;		/* handshake failures, client errors */
	/*
	 * Without root every stage runs as one uid, so the process that
	 * parses strangers' input could read the key file itself.
	 */
	if (!pd->root && !c->nonroot)
		config_fail("not root: the pre-login process would run as uid"
		    " %ld too and could read the key; POP3D_TLS_NONROOT=1"
		    " accepts that", (long)getuid());
	if (!pd->root)
		log_warn("running as uid %ld, not root: the TLS relay is not"
		    " chrooted and keeps this uid", (long)getuid());
	return ctx;
}

/* The handshake and its outcome on the status pipe, then closed. */
static struct tls *
relay_accept(struct tls *ctx, const char *remote, int timeout_ms)
{
	struct tls	*cctx = NULL;
	struct status	 s;
	char		 err[REASON_MAX];
	const char	*sni;

	if (tls_accept_socket(ctx, &cctx, FD_CLIENT) == -1)
		snprintf(err, sizeof(err), "%s", tls_error(ctx) != NULL ?
		    tls_error(ctx) : "tls_accept_socket failed");
	else if (relay_handshake(cctx, FD_CLIENT, timeout_ms, err,
	    sizeof(err)) == 0) {
		status_start(&s, "ok");
		status_add(&s, "SSL_PROTOCOL", tls_conn_version(cctx));
		status_add(&s, "SSL_CIPHER", tls_conn_cipher(cctx));
		if ((sni = tls_conn_servername(cctx)) != NULL && *sni != '\0')
			status_add(&s, "SSL_TLS_SNI_SERVERNAME", sni);
		if (status_send(&s, FD_STATUS) == -1)
			die(111, "status pipe: %s", strerror(errno));
		close(FD_STATUS);
		return cctx;
	}
	fail_report("tls-handshake-failed", remote, "fail", err);
	_exit(1);
}

/*
 * How long both sides may be silent while the chain runs before the relay
 * gives up: POP3D_IDLE_TIMEOUT and the margin (POP3D_TLS_IDLE_MARGIN),
 * and with XTND XMIT on the submission program's time, read as
 * pop3d-maildrop reads it (a bad value is its to log, and refuses the
 * session there; the longest is taken here meanwhile).
 */
static int
relay_silence_ms(int idle_ms, int margin)
{
	char		err[SETTING_ERR_MAX];
	uint64_t	secs;
	int		on;

	idle_ms += margin * 1000;
	if (setting_flag_err("POP3D_XTND_XMIT", &on, err, sizeof(err)) == -1 ||
	    !on)
		return idle_ms;
	if (setting_num_err("POP3D_XMIT_COMMAND_TIMEOUT", &secs, err,
	    sizeof(err)) == -1)
		secs = XMIT_RUN_MAX;
	return idle_ms + (int)secs * 1000;
}

static void
relay_serve(struct tls *cctx, const char *remote, int idle_ms, int margin)
{
	struct logline	l;
	char		err[REASON_MAX];
	int		end;

	end = relay_run(cctx, FD_CLIENT, FD_PLAIN, idle_ms,
	    relay_silence_ms(idle_ms, margin), err, sizeof(err));
	switch (end) {
	case RELAY_CHAIN_END:
		relay_close(cctx, FD_CLIENT);
		return;
	case RELAY_CLIENT_GONE:
		return;
	default:
		break;
	}
	/*
	 * The client failed or reset, or a deadline passed: the chain's
	 * session ends with it.
	 */
	close(FD_PLAIN);
	logline_start(&l, end == RELAY_TIMEOUT ? "tls-timeout" :
	    "tls-client-error");
	logline_str(&l, "remote", remote);
	logline_str(&l, "error", err);
	logline_emit(&l);
}

/*
 * Has the front died, even before main() looked at our parent?  The
 * status pipe's read end is the front's alone, and it holds it until the
 * handshake's outcome is read: closed, it says so.
 */
static int
front_gone(void)
{
	struct pollfd	pfd = { .fd = FD_STATUS, .events = POLLOUT };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP));
}

int
main(int argc, char **argv)
{
	struct tlsconf	 c;
	struct privdrop	 pd;
	struct status	 s;
	struct tls	*ctx, *cctx;
	char		 remote[INET6_ADDRSTRLEN + 1];
	char		 err[SETTING_ERR_MAX];
	pid_t		 front = getppid();
	uint64_t	 margin;

	log_init(argv[0]);
	version_help(argc, argv, "pop3d-tls",
	    "usage: pop3d-tls\n"
	    "       pop3d-tls --help | --version\n"
	    "Started by pop3d, never by hand: fd 0/1 the client, fd 3 the\n"
	    "plaintext socket, fd 4 the status pipe; POP3D_TLS_* settings.\n"
	    "See pop3d-tls(8).\n");
	opterr = 0;
	if (getopt(argc, argv, "") != -1 || optind != argc) {
		log_warn("usage: pop3d-tls (fd 0/1 client, fd 3 plaintext,"
		    " fd 4 status)");
		return 2;
	}
	fds_check();
	/* No core, no ptrace by the pre-login process's uid: keys inside. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		config_fail("prctl: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	if (close_range(FD_STATUS + 1, ~0U, 0) == -1)
		config_fail("close_range: %s", strerror(errno));
	if (log_from_env() == -1)
		config_fail("bad setting: POP3D_LOG");
	if (setting_num_err("POP3D_TLS_IDLE_MARGIN", &margin, err,
	    sizeof(err)) == -1)
		config_fail("%s", err);
	/* The client the front found (peer.h): one client, one name. */
	if (peer_told(FD_CLIENT, remote, sizeof(remote)) == -1)
		config_fail("setenv: %s", strerror(errno));
	ctx = relay_setup(&c, &pd);
	pd.parent = front;
	/* It sets dumpable off again after the change of ids. */
	privdrop_apply(&pd);
	/*
	 * The front holds the connection's places (the spawner's count, the
	 * per-address slot) and outlives us, waiting: a killed front takes
	 * us along (pd.parent: PR_SET_PDEATHSIG after the change of ids),
	 * even in a handshake that has not seen the end of the plaintext
	 * side.  A front gone before the exec shows in the status pipe.
	 */
	if (front_gone())
		die(111, "the front is gone");
	status_start(&s, "ready");
	if (status_send(&s, FD_STATUS) == -1)
		die(111, "status pipe: %s", strerror(errno));
	cctx = relay_accept(ctx, remote, c.timeout_ms);
	relay_serve(cctx, remote, c.idle_ms, (int)margin);
	/*
	 * _exit: nothing to flush, and the confined process runs no exit
	 * handlers (a sanitizer's leak check would need /proc and a thread).
	 */
	_exit(0);
}

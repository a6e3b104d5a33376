/*
 * pop3d: the front of the chain.  Started once per connection with the
 * client on fd 0/1, it runs the AUTHORIZATION dialogue in an unprivileged,
 * chrooted child, hands the credentials that child sends to the
 * checkpassword program named on its command line, and tells the child the
 * verdict.  It parses nothing the client sent beyond those typed messages.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "child.h"
#include "handoff.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "num.h"
#include "peer.h"
#include "pop3.h"
#include "pop3d_limits.h"
#include "preauth.h"
#include "privdrop.h"
#include "settings.h"
#include "starttls.h"
#include "version.h"

#define DEFAULT_GREETING	"POP3 server ready"
#define DEFAULT_PREAUTH_USER	"pop3d"
#define DEFAULT_CHROOT		"/var/empty"

struct front {
	struct preauth_settings	 pa;
	struct access		 acc;
	struct privdrop		 pd;
	struct starttls		 tls;
	char			**authargv;
	char			 remote[INET6_ADDRSTRLEN];
	char			 relay[PATH_MAX];
	unsigned		 auth_delay, max_failures, failures;
	int			 cleartext;	/* POP3D_CLEARTEXT */
	int			 implicit;	/* -t: TLS before the greeting */
	const char		*cert;		/* POP3D_TLS_CERT */
	char			 challenge[HOSTNAME_MAX + 64]; /* CRAM-MD5's */
	const char		*mech;
	const char		*end;
	pid_t			 preauth;	/* the pre-login process, or 0 */
	unsigned		 preauth_logs;	/* its lines written */
	int64_t			 preauth_deadline; /* for its messages */
};

_Static_assert(HOSTNAME_MAX + 64 <= CRAM_CHALLENGE_MAX + 1,
    "a CRAM-MD5 challenge must fit a reply line (pop3d-auth checks)");

#define USAGE \
	"usage: pop3d [-t] hostname authprog [args...]\n" \
	"       pop3d --help | --version\n" \
	"  -t        implicit TLS: the handshake before the greeting\n" \
	"            (port 995)\n" \
	"  hostname  this server's name, for the greeting and APOP/CRAM-MD5\n" \
	"  authprog  the checkpassword program (pop3d-auth) and the chain\n" \
	"            after it, e.g. pop3d-auth pop3d-maildrop Maildir\n" \
	"Settings come from POP3D_* environment variables: see pop3d(8).\n"

/* With -t nothing goes out before the handshake: a TLS client sees noise. */
static int	plaintext_ok = 1;

/*
 * Every connection ends with exactly one "end" line, however it ends: a
 * return from main, an exit (a deny, a block), a refusal or a die().
 * Only the front's own process writes it: not a child it forked before
 * that child's exec or its end.
 */
static struct front	*end_front;
static pid_t		 end_pid;
static const char	*end_early;	/* refuse()'s, usage's */

/* Answers before any dialogue (bad setup): -ERR [SYS/TEMP] and exit 111. */
static void __attribute__((noreturn))
refuse(const char *why)
{
	const char	msg[] = "-ERR [SYS/TEMP] server misconfigured\r\n";
	ssize_t		n;

	if (plaintext_ok) {
		n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
		(void)n;
	}
	if (end_early == NULL)
		end_early = "refused";
	die(111, "refused: %s", why);
}

static int
hostname_ok(const char *h)
{
	size_t	n = strlen(h), i;

	if (n == 0 || n > HOSTNAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' &&
		    h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
		    h[i] == '.' || h[i] == '-'))
			return 0;
	return 1;
}

/*
 * The mistake of a chain written without the host name ("pop3d pop3d-auth
 * pop3d-maildrop Maildir"): the first argument is a path, or one of this
 * chain's programs (or a checkpassword) found in PATH.  A host name has
 * no '/', and none is named like those programs.
 */
static int
hostname_is_program(const char *h)
{
	const char	*path = getenv("PATH");
	char		 file[PATH_MAX];
	size_t		 n;
	int		 r;

	if (strchr(h, '/') != NULL)
		return 1;
	if (strncmp(h, "pop3d", 5) != 0 && strncmp(h, "checkpassword", 13) !=
	    0)
		return 0;
	while (path != NULL && *path != '\0') {
		n = strcspn(path, ":");
		r = snprintf(file, sizeof(file), "%.*s/%s", (int)n, path, h);
		if (r > 0 && (size_t)r < sizeof(file) && access(file, X_OK) ==
		    0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* A usage error names its cause, answers the client as refuse() does. */
static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	const char	msg[] = "-ERR [SYS/TEMP] server misconfigured\r\n";
	char		why[512];
	va_list		ap;
	ssize_t		n;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);	/* cut, it still says */
	va_end(ap);
	if (plaintext_ok) {
		n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
		(void)n;
	}
	end_early = "usage";
	die(2, "usage: pop3d [-t] hostname authprog [args...]: %s", why);
}

/* Loopback: 127.0.0.0/8, ::1, and IPv4-mapped 127/8. */
static int
remote_is_loopback(const char *a)
{
	return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 ||
	    strncmp(a, "::ffff:127.", 11) == 0;
}

/*
 * The peer, found as every program a spawner starts finds it (peer.h):
 * "unknown" when neither the socket nor the spawner names an address,
 * which access_admit refuses unless POP3D_UNKNOWN_PEER=allow.
 */
static void
remote_find(struct front *f)
{
	if (peer_find(STDIN_FILENO, f->remote, sizeof(f->remote)) == -1)
		die(111, "setenv: %s", strerror(errno));
}

/* One of POP3D_TLS_CERT and POP3D_TLS_KEY without the other. */
static void
tls_half_set(const char *set, const char *unset)
{
	struct logline	l;
	char		error[96];

	snprintf(error, sizeof(error), "%s is set but %s is not", set, unset);
	logline_start(&l, "tls-setting");
	logline_str(&l, "error", error);
	logline_str(&l, "effect", "STLS not offered, -t refused");
	logline_str(&l, "fix", "set both POP3D_TLS_CERT and POP3D_TLS_KEY,"
	    " or neither");
	logline_emit(&l);
}

/*
 * The TLS settings the front itself reads; the relay reads the rest
 * (pop3d-tls.8).  The relay is POP3D_TLS_RELAY, else pop3d-tls beside
 * this program.
 */
static int
tls_settings(struct front *f)
{
	const char	*relay, *key;
	char		*slash;
	ssize_t		 n;
	int		 bad = 0;

	bad |= setting_text("POP3D_TLS_CERT", &f->cert) == -1;
	bad |= setting_text("POP3D_TLS_KEY", &key) == -1;
	bad |= setting_flag("POP3D_TLS_REQUIRED", &f->pa.tls_required) == -1;
	bad |= setting_text("POP3D_TLS_RELAY", &relay) == -1;
	if (bad)
		return -1;
	/*
	 * Both or neither: a certificate without its key serves no one.  One
	 * alone is a mistake, said on every connection: else STLS would only
	 * be missing, and nothing would say why.
	 */
	if (f->cert != NULL && *f->cert == '\0')
		f->cert = NULL;
	if (key != NULL && *key == '\0')
		key = NULL;
	if ((f->cert == NULL) != (key == NULL))
		tls_half_set(f->cert != NULL ? "POP3D_TLS_CERT" :
		    "POP3D_TLS_KEY", f->cert != NULL ? "POP3D_TLS_KEY" :
		    "POP3D_TLS_CERT");
	if (key == NULL)
		f->cert = NULL;
	if (relay != NULL && *relay != '\0')
		strcpy(f->relay, relay);	/* checked: fits */
	else {
		n = readlink("/proc/self/exe", f->relay,
		    sizeof(f->relay) - sizeof("/pop3d-tls"));
		f->relay[n > 0 ? n : 0] = '\0';
		if ((slash = strrchr(f->relay, '/')) != NULL)
			strcpy(slash, "/pop3d-tls");
		else
			strcpy(f->relay, "pop3d-tls");
	}
	f->tls.relay = f->relay;
	if ((f->implicit || f->pa.tls_required) && f->cert == NULL) {
		log_warn("bad setting: %s without POP3D_TLS_CERT and"
		    " POP3D_TLS_KEY",
		    f->implicit ? "-t" : "POP3D_TLS_REQUIRED");
		return -1;
	}
	return 0;
}

/*
 * What TLS changes: under TLS, USER/PASS is fine and STLS is not offered;
 * without it, cleartext login needs POP3D_CLEARTEXT or loopback, and
 * POP3D_TLS_REQUIRED forbids it (and APOP) outright.
 */
static void
front_tls_policy(struct front *f)
{
	struct preauth_settings	*pa = &f->pa;

	pa->cleartext = pa->tls || (!pa->tls_required && (f->cleartext ||
	    remote_is_loopback(f->remote)));
	pa->stls = f->cert != NULL && !pa->tls;
}

/*
 * The chain learns the pre-login processes' uid (POP3D_PREAUTH_UID), so
 * that pop3d-auth never makes a mail user's session of it: a process of
 * that uid could signal every pre-login process and relay, and they it.
 * Without root there is one uid for all, and nothing to say.
 */
static void
preauth_uid_export(const struct front *f)
{
	char	uid[24];

	if (!f->pd.root) {
		if (unsetenv("POP3D_PREAUTH_UID") == -1)
			refuse(strerror(errno));
		return;
	}
	snprintf(uid, sizeof(uid), "%lu", (unsigned long)f->pd.uid);
	if (setenv("POP3D_PREAUTH_UID", uid, 1) == -1)
		refuse(strerror(errno));
}

/* Every setting, strictly: a bad one refuses the connection. */
static void
settings_read(struct front *f)
{
	struct preauth_settings	*pa = &f->pa;
	uint64_t		 idle, login, delay, failures, ldelay;
	const char		*user, *dir;
	int			 bad = 0;

	/* Too long but printable, it is only not used: pop3d.8. */
	pa->greeting = getenv("POP3D_GREETING");
	if (pa->greeting != NULL && strlen(pa->greeting) > GREETING_MAX &&
	    text_valid(pa->greeting, GREETING_MAX * 4, 0)) {
		log_warn("POP3D_GREETING longer than %d characters:"
		    " the default greeting is used", GREETING_MAX);
		pa->greeting = NULL;
	} else
		bad |= setting_text("POP3D_GREETING", &pa->greeting) == -1;
	if (pa->greeting == NULL)
		pa->greeting = DEFAULT_GREETING;
	bad |= setting_flag("POP3D_APOP", &pa->apop) == -1;
	/* Clients take the first '<' (curl, poplib) as the timestamp's. */
	if (pa->apop && strpbrk(pa->greeting, "<>") != NULL) {
		log_warn("POP3D_GREETING has '<' or '>', which would hide the"
		    " APOP timestamp: the default greeting is used");
		pa->greeting = DEFAULT_GREETING;
	}
	bad |= setting_flag("POP3D_CRAM_MD5", &pa->cram) == -1;
	bad |= setting_flag("POP3D_CLEARTEXT", &f->cleartext) == -1;
	bad |= tls_settings(f) == -1;
	bad |= setting_num("POP3D_IDLE_TIMEOUT", &idle) == -1;
	bad |= setting_num("POP3D_LOGIN_TIMEOUT", &login) == -1;
	bad |= setting_num("POP3D_AUTH_DELAY", &delay) == -1;
	bad |= setting_num("POP3D_AUTH_FAILURES", &failures) == -1;
	bad |= setting_text("POP3D_IMPLEMENTATION", &pa->implementation) ==
	    -1;
	bad |= setting_text("POP3D_EXPIRE", &pa->expire) == -1;
	bad |= setting_num("POP3D_LOGIN_DELAY", &ldelay) == -1;
	pa->login_delay = ldelay == SETTING_UNSET ? -1 : (long)ldelay;
	bad |= setting_text("POP3D_ALT_AT", &pa->alt_at) == -1;
	bad |= setting_text("POP3D_PREAUTH_USER", &user) == -1;
	bad |= setting_text("POP3D_CHROOT", &dir) == -1;
	bad |= access_settings(&f->acc) == -1;
	if (bad)
		refuse("bad settings");
	pa->idle_ms = (int)idle * 1000;
	pa->login_ms = (int)login * 1000;
	f->tls.idle_ms = pa->idle_ms;
	f->tls.remote = f->remote;
	front_tls_policy(f);
	f->auth_delay = (unsigned)delay;
	f->max_failures = (unsigned)failures;
	if (privdrop_prepare(&f->pd, user != NULL ? user :
	    DEFAULT_PREAUTH_USER, dir != NULL ? dir : DEFAULT_CHROOT) == -1)
		refuse("pre-login user");
	if (!f->pd.root)
		log_warn("running as uid %ld, not root: the pre-login process"
		    " is not chrooted and keeps this uid", (long)getuid());
	preauth_uid_export(f);
}

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
front_verdict(struct front *f, int status, int nosecret, struct logline *l)
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
		/*
		 * Counted for the session all the same: were it not, a
		 * session that goes on past the limit would tell that the
		 * name has no secret, or no account.
		 */
		f->failures++;
		return f->failures >= f->max_failures ? VERDICT_LAST :
		    VERDICT_FAIL;
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
 */
static void
preauth_end(struct front *f)
{
	if (f->preauth == 0)
		return;
	(void)child_kill(f->preauth, NULL);
	f->preauth = 0;
}

/*
 * The access work before a login (a rule, penalty records: some 70 KB of
 * structures) leaves stack pages that a session idling for hours would
 * keep for nothing.  Those well below this frame go back to the kernel,
 * to come back zero-filled if ever touched again.  This is the main
 * thread's stack: below it lies the kernel's guard gap, so the parts of
 * the range not mapped only make madvise() say ENOMEM.  Two pages are
 * spared under this frame for the call's own.  Not under AddressSanitizer,
 * whose fake stacks for locals lie elsewhere and are not to be zeroed.
 */
static void __attribute__((noinline))
stack_trim(void)
{
#if !defined(__SANITIZE_ADDRESS__)
	uintptr_t	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t	end = ((uintptr_t)__builtin_frame_address(0) &
			    ~(page - 1)) - 2 * page;

	(void)madvise((void *)(end - FRONT_STACK_TRIM), FRONT_STACK_TRIM,
	    MADV_DONTNEED);
#endif
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
	preauth_end(f);
	stack_trim();
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
 * Runs the chain on credentials; 1 when the connection is over (the chain
 * served it, or the front ended it), 0 to go on.
 */
static int
front_login(struct front *f, int ipc, char *msg, size_t len)
{
	struct logline	l;
	char		cred[CHECKPASSWORD_MAX], user[POP3_USER_MAX + 1];
	char		verdict, word = 0;
	size_t		clen;
	pid_t		pid;
	int64_t		deadline;
	int		pause = 0, failed, okfd, nosecret, digest;
	char		settled;
	/*
	 * A failure is answered this long after the credentials came (a
	 * millisecond more: io_now_ms truncates, the delay is never short).
	 */
	int64_t		answer = io_now_ms() + f->auth_delay * INT64_C(1000) +
			    1;

	if (ipc_cred_check(msg, len, &f->mech) == -1)
		die(111, "malformed credentials message from the pre-login"
		    " process");
	if (!front_mech_allowed(f, msg[1]))
		die(111, "a login by %s, which this connection does not"
		    " offer, from the pre-login process", f->mech);
	logline_start(&l, "auth");
	logline_str(&l, "remote", f->remote);
	logline_str(&l, "user", msg + 2);
	logline_str(&l, "mech", f->mech);
	if ((clen = front_cred(f, msg, len, cred)) == 0)
		die(111, "credentials too long, or a CRAM-MD5 response to no"
		    " challenge, from the pre-login process");
	memcpy(user, msg + 2, strlen(msg + 2) + 1);	/* checked: fits */
	digest = msg[1] == MECH_APOP || msg[1] == MECH_CRAM;
	explicit_bzero(msg, len);
	if ((verdict = access_login(&f->acc, user)) != 0) {
		logline_str(&l, "result", verdict == VERDICT_TEMP ?
		    "state-error" : "blocked");
		/* A refusal counts: no free loop on it. */
		if (verdict == VERDICT_DELAY || verdict == VERDICT_BUSY) {
			pause = 1;
			if (++f->failures >= f->max_failures)
				verdict = VERDICT_LAST;
		}
	} else {
		pid = handoff_start(f->authargv, f->mech, cred, clen, &okfd);
		explicit_bzero(cred, sizeof(cred));
		/* The auth stage and the session after it: one bound. */
		deadline = io_now_ms() + FRONT_SESSION_MAX * 1000LL;
		word = pid != -1 ? handoff_word(okfd, deadline) : 0;
		if (word == HANDOFF_RUNS) {
			chain_runs(f, user, pid, deadline, &l);
			verdict = 0;
		} else {
			/* Only a digest login can lack a secret. */
			nosecret = word == HANDOFF_NO_SECRET && digest;
			/* Past the deadline this kills it. */
			verdict = front_verdict(f, pid == -1 ? -1 :
			    handoff_wait(pid, deadline, f->remote), nosecret,
			    &l);
			failed = (verdict == VERDICT_FAIL ||
			    verdict == VERDICT_LAST) && !nosecret;
			/* The attempt ends: a failure may block the address. */
			if ((settled = access_settle(&f->acc, user, failed)) !=
			    0 && verdict != 0)
				verdict = settled;
			/* Whatever was checked, the same time to the answer. */
			pause = verdict == VERDICT_FAIL ||
			    verdict == VERDICT_LAST || verdict == VERDICT_BLOCK;
		}
	}
	explicit_bzero(cred, sizeof(cred));
	logline_emit(&l);
	if (verdict == 0) {
		f->end = "login";
		return 1;
	}
	if (pause)
		front_sleep_until(answer);
	if (ipc_send(ipc, IPC_VERDICT, &verdict, 1) == -1) {
		f->end = "preauth-end";
		return 1;
	}
	/* The front, not the pre-login process, decides that it is over. */
	if (verdict == VERDICT_LAST || verdict == VERDICT_END ||
	    verdict == VERDICT_BLOCK) {
		f->end = verdict == VERDICT_LAST ? "auth-failures" :
		    verdict == VERDICT_END ? "crash" : "blocked";
		return 1;
	}
	return 0;
}

/* A fresh CRAM-MD5 challenge, kept for the response's check. */
static void
front_challenge(struct front *f, int ipc)
{
	if (!f->pa.cram)
		die(111, "a CRAM-MD5 challenge asked for, but it is off");
	if (preauth_timestamp(f->challenge, sizeof(f->challenge),
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
		f->end = "preauth-end";
		return 1;
	}
	if (verdict != VERDICT_TLS)
		return 0;
	f->end = "stls";
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
			f->end = "preauth-timeout";
			return;
		}
		if ((n = ipc_recv(ipc, msg)) <= 0) {
			f->end = "preauth-end";
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

	if (strcmp(f->end, "auth-failures") != 0 &&
	    strcmp(f->end, "crash") != 0 && strcmp(f->end, "blocked") != 0 &&
	    strcmp(f->end, "stls") != 0)
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

/*
 * One pre-login process, served until the dialogue ends: by a login, an
 * end, or STLS (f->end says which).
 */
static void
front_preauth(struct front *f)
{
	int	sp[2];
	pid_t	child;

	f->pd.parent = getpid();	/* the pre-login process dies with us */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    (child = fork()) == -1)
		refuse(strerror(errno));
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
	preauth_end(f);
}

/* The handshake, after STLS or at once (-t): 0, or -1 to end. */
static int
front_tls(struct front *f)
{
	if (f->implicit && starttls_spawn(&f->tls) == -1)
		return -1;
	if (starttls_attach(&f->tls, f->remote) == -1)
		return -1;
	f->pa.tls = 1;
	f->pa.greet = f->implicit;
	front_tls_policy(f);
	return 0;
}

/*
 * Under inetd and xinetd, fd 2 is the client's socket: a log line there
 * would reach the client (or break its TLS stream).  Then the chain logs
 * to syslog unless POP3D_LOG says otherwise, and fd 2 becomes /dev/null
 * for every stage.
 */
static void
stderr_guard(void)
{
	struct stat	in, err;
	int		fd;

	/* A closed 0-2 would be the next file opened, and get log lines. */
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) == -1 && open("/dev/null", O_RDWR) != fd)
			_exit(111);
	if (fstat(STDIN_FILENO, &in) == -1 || fstat(STDERR_FILENO, &err) == -1 ||
	    !S_ISSOCK(in.st_mode) || in.st_dev != err.st_dev ||
	    in.st_ino != err.st_ino)
		return;
	if (getenv("POP3D_LOG") == NULL && setenv("POP3D_LOG", "syslog", 1) ==
	    -1)
		_exit(111);
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		_exit(111);
	close(fd);
}

/*
 * The connection's one "end" line: how it ended (f->end, else the access
 * policy's reason, else refuse()'s, else "error": a die()).  Once, and
 * only in the front's own process.
 */
static void
front_end_line(void)
{
	struct front	*f = end_front;
	struct logline	 l;

	if (f == NULL || getpid() != end_pid)
		return;
	end_front = NULL;
	logline_start(&l, "end");
	logline_str(&l, "remote", f->remote);
	if (f->pa.tls) {
		logline_str(&l, "tls", f->tls.protocol);
		logline_str(&l, "cipher", f->tls.cipher);
		if (f->tls.sni[0] != '\0')
			logline_str(&l, "sni", f->tls.sni);
	}
	logline_num(&l, "auth_failures", f->failures);
	logline_str(&l, "end", f->end != NULL ? f->end : f->acc.end != NULL ?
	    f->acc.end : end_early != NULL ? end_early : "error");
	logline_emit(&l);
}

int
main(int argc, char **argv)
{
	struct front	f;
	char		opt[3] = "-?";
	int		ch;

	log_init(argv[0]);
	/* Only a first argument of exactly these: the rest is the chain's. */
	version_help(argc, argv, "pop3d", USAGE);
	stderr_guard();
	memset(&f, 0, sizeof(f));
	log_session_new();
	end_front = &f;
	end_pid = getpid();
	log_at_die(front_end_line);
	if (atexit(front_end_line) != 0)
		die(111, "atexit failed");
	opterr = 0;		/* usage_error says it, in one line */
	while ((ch = getopt(argc, argv, "+t")) != -1) {
		if (ch != 't') {
			opt[1] = (char)optopt;
			usage_error("unknown option %s", opt);
		}
		f.implicit = 1;
		plaintext_ok = 0;
		access_quiet();
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (log_from_env() == -1)
		refuse("bad settings");
	if (argc < 3)
		usage_error("%s", argc < 2 ? "no host name and no auth"
		    " program" : "no auth program after the host name");
	if (hostname_is_program(argv[1]))
		usage_error("the first argument must be this server's host"
		    " name; got '%s'", argv[1]);
	if (!hostname_ok(argv[1]))
		refuse("the host name must be letters, digits, dots, dashes");
	f.pa.hostname = argv[1];
	f.pa.greet = 1;
	f.authargv = argv + 2;
	signal(SIGPIPE, SIG_IGN);
	remote_find(&f);
	access_rules(&f.acc, f.remote);
	settings_read(&f);
	access_admit(&f.acc);
	if (f.pa.apop && preauth_timestamp(f.pa.timestamp,
	    sizeof(f.pa.timestamp), f.pa.hostname) == -1)
		refuse("no random APOP timestamp");
	if (f.implicit && front_tls(&f) == -1)
		f.end = "tls-failed";
	else
		for (;;) {
			front_preauth(&f);
			if (strcmp(f.end, "stls") != 0)
				break;
			if (front_tls(&f) == -1) {
				f.end = "tls-failed";
				break;
			}
		}
	/* The relay may hold the client a while yet: the slot goes after. */
	starttls_end(&f.tls);
	access_end(&f.acc);
	front_end_line();
	return 0;
}

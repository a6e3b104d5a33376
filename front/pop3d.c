/*
 * pop3d: the front of the chain.  Started once per connection with the
 * client on fd 0/1, it runs the AUTHORIZATION dialogue in an unprivileged,
 * chrooted child, hands the credentials that child sends to the
 * checkpassword program named on its command line, and tells the child the
 * verdict.  It parses nothing the client sent beyond those typed messages.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "endline.h"
#include "handoff.h"
#include "front.h"
#include "io.h"
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

/*
 * How refusals before the dialogue are answered (access.h), here and by
 * the access policy: with -t not at all, as a TLS client would see noise.
 */
static const char	*answer_code = ACCESS_POP3;

/*
 * Every connection ends with exactly one "end" line, however it ends: a
 * return from main, an exit (a deny, a block), a refusal or a die().
 * Only the front's own process writes it: not a child it forked before
 * that child's exec or its end.
 */
static struct front	*end_front;
static pid_t		 end_pid;
static enum front_end	 end_early;	/* refuse()'s, usage's */

/* A bad setup's answer, before any dialogue. */
static void
misconfigured(void)
{
	const char	msg[] = "-ERR [SYS/TEMP] server misconfigured\r\n";
	ssize_t		n;

	if (answer_code != NULL) {
		n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
		(void)n;
	}
}

/* Answers before any dialogue (bad setup): -ERR [SYS/TEMP] and exit 111. */
static void __attribute__((noreturn))
refuse(const char *why)
{
	misconfigured();
	if (end_early == END_NONE)
		end_early = END_REFUSED;
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
	char		why[512];
	va_list		ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);	/* cut, it still says */
	va_end(ap);
	misconfigured();
	end_early = END_USAGE;
	die(2, "usage: pop3d [-t] hostname authprog [args...]: %s", why);
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

	pa->cleartext = !f->nologin && (pa->tls || (!pa->tls_required &&
	    (f->cleartext || peer_is_loopback(f->remote))));
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
	bad |= pop3_debug_read() == -1;
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
	if (f->nologin)
		pa->apop = pa->cram = 0;	/* no mechanism at all */
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

/* The dialogues: one, and after each STLS a fresh one under TLS. */
static void
front_dialogues(struct front *f)
{
	if (f->implicit && front_tls(f) == -1) {
		f->end = END_TLS_FAILED;
		return;
	}
	for (;;) {
		if (front_preauth(f) == -1)
			refuse(strerror(errno));
		if (f->end != END_STLS)
			return;
		if (front_tls(f) == -1) {
			f->end = END_TLS_FAILED;
			return;
		}
	}
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
 * The connection's one "end" line's facts: how it ended (f->end, else the
 * access policy's reason, else refuse()'s, else "error": a die()).
 */
static void
front_endline(const struct front *f, struct endline *e)
{
	memset(e, 0, sizeof(*e));
	strcpy(e->remote, f->remote);
	if (f->pa.tls) {
		strcpy(e->tls, f->tls.protocol);
		strcpy(e->cipher, f->tls.cipher);
		strcpy(e->sni, f->tls.sni);
	}
	e->failures = f->failures;
	/* As starttls_end would have waited for it. */
	if (f->tls.pid > 0) {
		e->relay = (unsigned)f->tls.pid;
		e->relay_ms = (unsigned)f->tls.idle_ms + TLS_CLOSE_MS +
		    IO_LINGER_MS + TLS_END_GRACE_MS;
	}
	snprintf(e->end, sizeof(e->end), "%s", f->end != END_NONE ?
	    front_ends[f->end].name : f->acc.end != NULL ? f->acc.end :
	    front_ends[end_early].name);
}

/* The line, once, and only in the front's own process. */
static void
front_end_line(void)
{
	struct endline	e;

	if (end_front == NULL || getpid() != end_pid)
		return;
	front_endline(end_front, &e);
	end_front = NULL;
	endline_emit(&e);
}

/*
 * A login that pop3d-auth checked (f->inplace): this process, the one
 * the spawner counts, becomes the chain, and the session is one process
 * (and the relay, under TLS).  The slot goes along, and the end line's
 * facts, which the last stage writes (endline.h).  Returns only when
 * that failed: the client is told, and the front ends the connection.
 */
static void
front_become_chain(struct front *f)
{
	struct endline	e;

	front_endline(f, &e);
	access_handover(&f->acc);
	if (endline_export(&e) == -1 || handoff_inplace(f->authargv, f->mech,
	    f->verified, &f->acc.slot, f->acc.slot_octet) == -1) {
		log_warn("cannot become the chain: %s", strerror(errno));
		(void)unsetenv(ENDLINE_ENV);
		endline_closing();
		f->end = END_NONE;
	}
}

/* -t, the host name and the auth program's argv; the log's settings. */
static void
args_read(struct front *f, int argc, char **argv)
{
	char	opt[3] = "-?";
	int	ch;

	opterr = 0;		/* usage_error says it, in one line */
	while ((ch = getopt(argc, argv, "+t")) != -1) {
		if (ch != 't') {
			opt[1] = (char)optopt;
			usage_error("unknown option %s", opt);
		}
		f->implicit = 1;
		answer_code = NULL;
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
	f->pa.hostname = argv[1];
	f->pa.greet = 1;
	f->authargv = argv + 2;
}

int
main(int argc, char **argv)
{
	struct front	f;

	log_init(argv[0]);
	/*
	 * Only the front says a proxy was there, and only after a header:
	 * a spawner's TCPPROXYIP is gone before any line could name it.
	 */
	if (unsetenv("TCPPROXYIP") == -1)
		die(111, "setenv: %s", strerror(errno));
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
	args_read(&f, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	remote_find(&f);
	f.acc.code = answer_code;
	front_env_save();
	access_rules(&f.acc, f.remote);
	if (front_proxy(&f) == -1)
		refuse("bad settings");
	settings_read(&f);
	/*
	 * A connection that cannot log in (a health check, or a client
	 * HAProxy could only call UNKNOWN) is known by the balancer's
	 * address alone: counting or blocking it there would block or fill
	 * every later check, and the balancer would mark this host down.
	 */
	if (f.nologin) {
		f.acc.pc.dir = NULL;
		f.acc.per_address = 0;
	}
	access_admit(&f.acc);
	if (f.pa.apop && front_timestamp(f.pa.timestamp,
	    sizeof(f.pa.timestamp), f.pa.hostname) == -1)
		refuse("no random APOP timestamp");
	front_dialogues(&f);
	if (f.inplace)
		front_become_chain(&f);
	/* The relay may hold the client a while yet: the slot goes after. */
	starttls_end(&f.tls);
	access_end(&f.acc);
	front_end_line();
	return 0;
}

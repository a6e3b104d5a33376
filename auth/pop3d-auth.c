/*
 * pop3d-auth: the checkpassword stage.  Reads user\0secret\0timestamp\0 on
 * fd 3, checks it against users.cdb, becomes the user and execs the rest
 * of its argv (pop3d-auth.8).
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apop.h"
#include "become.h"
#include "endline.h"
#include "io.h"
#include "log.h"
#include "num.h"
#include "passwd.h"
#include "pop3d_limits.h"
#include "settings.h"
#include "userdb.h"
#include "version.h"

/* The checkpassword exit codes (DESIGN.md, pop3d-auth.8). */
#define EXIT_BAD	1	/* bad credentials */
#define EXIT_USAGE	2	/* misuse: no program, bad fd 3 */
#define EXIT_TEMP	111	/* temporary failure: try again later */

#define CREDS_FD	3

enum mech {
	MECH_PASSWORD,	/* USER/PASS, AUTH PLAIN, AUTH LOGIN */
	MECH_APOP,	/* the secret is a digest of the timestamp */
	MECH_CRAM	/* the secret is a digest of the challenge */
};

struct creds {
	char		 buf[CHECKPASSWORD_MAX + 1];
	const char	*user, *secret, *stamp;
	const char	*mech;
};

#define USAGE \
	"usage: pop3d-auth [-d users.cdb] program [args ...]\n" \
	"       pop3d-auth --help | --version\n" \
	"  -d users.cdb  the users database (default: POP3D_USERS_CDB, else\n" \
	"                /etc/pop3d/users.cdb)\n" \
	"  program       the next stage, run as the user: pop3d-maildrop\n" \
	"Reads the credentials on fd 3 (checkpassword): see pop3d-auth(8).\n"

static void __attribute__((noreturn))
usage(void)
{
	struct logline	l;

	logline_start(&l, "auth_usage");
	logline_str(&l, "reason", "usage: pop3d-auth [-d users.cdb] program"
	    " [args ...]");
	logline_emit(&l);
	exit(EXIT_USAGE);
}

/*
 * pop3d's front hears from us on fd 4 (POP3D_AUTH_OK_FD=4), one word:
 * 'A' just before the exec of the next program, with the descriptor
 * close-on-exec, so that the front reads end of file once the exec has
 * happened, and 'X' after it when the exec failed; 'N' just before the
 * exit 1 of an APOP or CRAM-MD5 login for which the user has no shared
 * secret (or is unknown), which the front does not count as a guess: no
 * digest could ever have matched.  The next program gets neither
 * descriptor nor variable.
 */
static int	front_fd = -1;

/*
 * POP3D_AUTH_VERIFY=1: pop3d's front asks for the check alone, to run the
 * session itself in one process (pop3d-auth.8): 'V' on fd 4 instead of
 * 'A', and exit 0 instead of the exec.
 */
static int	verify_only;

/*
 * POP3D_AUTH_VERIFIED_FD=3: we are pop3d's front, exec'd in place after
 * a 'V', with the user's name on fd 3; a failure now ends the connection,
 * and the client hears it from us.
 */
static int	inplace;

/* Takes fd 4 if the front gave it, close-on-exec; unsets the variables. */
static void
front_open(void)
{
	const char	*v = getenv("POP3D_AUTH_OK_FD");
	const char	*w = getenv("POP3D_AUTH_VERIFY");

	verify_only = w != NULL && strcmp(w, "1") == 0;
	unsetenv("POP3D_AUTH_VERIFY");
	if (v == NULL)
		return;
	if (strcmp(v, "4") == 0) {
		/* Without close-on-exec, end of file would not mean the exec. */
		if (fcntl(4, F_SETFD, FD_CLOEXEC) == -1)
			close(4);
		else
			front_fd = 4;
	}
	unsetenv("POP3D_AUTH_OK_FD");
}

static void
front_tell(char word)
{
	ssize_t	n;

	if (front_fd == -1)
		return;
	do
		n = write(front_fd, &word, 1);
	while (n == -1 && errno == EINTR);
}

/*
 * The front (or whichever checkpassword caller started us) holds the
 * session's places: the spawner counts it, not us, and it holds the
 * per-address connection slot and the login in flight.  A session must
 * not run outside them, so we, and the next stage exec'd after us, die
 * with it: SIGKILL when it ends however it ends (prctl's parent-death
 * signal, kept across an exec of a program that is not set-id).  A change
 * of ids clears the setting, so it is made again after become(); and a
 * parent that died before it was made is caught by getppid() no longer
 * being the one we started with, or by fd 4's other end being closed.
 * The front itself always outlives the chain (it waits for it), so only
 * a killed front sets this off.
 */
static pid_t	front_pid;

static int
die_with_front(void)
{
	struct pollfd	pfd = { .fd = front_fd, .events = POLLOUT };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		return -1;
	/*
	 * Gone before: we were given to another parent; or, a front that
	 * died even before main() looked at our parent, fd 4's read end,
	 * which only the front holds, is closed.
	 */
	if (getppid() != front_pid || (front_fd != -1 &&
	    poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP)))) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

/* In place, no front is left to answer: the last words, and the end. */
static void
inplace_fail(void)
{
	endline_closing();
	endline_reason("error");
}

/*
 * Logs one failure (never a secret), naming the file it concerns (NULL:
 * none) by its absolute path, wipes the credentials and exits.
 */
static void __attribute__((noreturn))
auth_exit_file(struct creds *c, int code, const char *reason,
    const char *file, int err)
{
	struct logline	l;

	logline_start(&l, code == EXIT_BAD ? "auth_fail" :
	    code == EXIT_USAGE ? "auth_usage" : "auth_temp");
	if (c->user != NULL)
		logline_str(&l, "user", c->user);
	if (c->mech != NULL)
		logline_str(&l, "mech", c->mech);
	logline_str(&l, "reason", reason);
	if (file != NULL)
		logline_path(&l, "file", file);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
	explicit_bzero(c->buf, sizeof(c->buf));
	if (inplace)
		inplace_fail();
	exit(code);
}

static void __attribute__((noreturn))
auth_exit(struct creds *c, int code, const char *reason, int err)
{
	auth_exit_file(c, code, reason, NULL, err);
}

/*
 * Reads fd 3 to its end, at most CHECKPASSWORD_MAX octets, within
 * AUTH_FD3_TIMEOUT.  Returns the length, or -1: errno EMSGSIZE when there
 * is more, ETIMEDOUT, or the read's error.
 */
static ssize_t
creds_read(char *buf, size_t max)
{
	struct pollfd	pfd = { .fd = CREDS_FD, .events = POLLIN };
	int64_t		deadline = io_now_ms() + AUTH_FD3_TIMEOUT * 1000;
	size_t		len = 0;
	ssize_t		r;
	int		left;

	for (;;) {
		if ((left = deadline - io_now_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((r = poll(&pfd, 1, left)) == -1 && errno != EINTR)
			return -1;
		if (r <= 0)
			continue;
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		r = read(CREDS_FD, buf + len, max + 1 - len);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return r == 0 ? (ssize_t)len : -1;
		if ((len += r) > max) {
			errno = EMSGSIZE;
			return -1;
		}
	}
}

/* user\0secret\0timestamp\0 and nothing else: 0, or -1. */
static int
creds_split(struct creds *c, size_t len)
{
	const char	*f[3];
	size_t		 i, n = 0;

	for (i = 0; i < len && n < 3; i++) {
		f[n++] = c->buf + i;
		i += strlen(c->buf + i);	/* buf[len] is a NUL */
		if (i >= len)
			return -1;	/* the last field is unterminated */
	}
	if (n != 3 || i != len)
		return -1;
	c->user = f[0];
	c->secret = f[1];
	c->stamp = f[2];
	return 0;
}

static void
creds_get(struct creds *c)
{
	ssize_t	len;

	len = creds_read(c->buf, CHECKPASSWORD_MAX);
	close(CREDS_FD);
	if (len == -1)
		auth_exit(c, errno == ETIMEDOUT || errno == EIO ? EXIT_TEMP :
		    EXIT_USAGE, errno == EMSGSIZE ? "fd 3 longer than 512"
		    : "cannot read fd 3", errno == EMSGSIZE ? 0 : errno);
	c->buf[len] = '\0';
	if (creds_split(c, len) == -1)
		auth_exit(c, EXIT_USAGE, "malformed fd 3", 0);
}

/* AUTHMECH: which kind of secret fd 3 holds. */
static enum mech
mech_get(struct creds *c)
{
	const char	*m = getenv("AUTHMECH");

	if (m == NULL || *m == '\0')
		m = "USER";
	c->mech = m;
	if (strcmp(m, "USER") == 0 || strcmp(m, "PLAIN") == 0 ||
	    strcmp(m, "LOGIN") == 0)
		return MECH_PASSWORD;
	if (strcmp(m, "APOP") == 0)
		return MECH_APOP;
	if (strcmp(m, "CRAM-MD5") == 0)
		return MECH_CRAM;
	auth_exit(c, EXIT_USAGE, "unknown AUTHMECH", 0);
}

/*
 * APOP and CRAM-MD5: the secret on fd 3 is a digest made with the user's
 * shared secret (the record's APOP secret) of the timestamp or challenge.
 * Without a shared secret (or a user) the same work is done, the front
 * told that no digest could have matched, and the answer is the same.
 */
static void
creds_verify_digest(struct creds *c, enum mech m, const struct user *u)
{
	const char	*shared = u != NULL ? u->apop : NULL;
	int		 r;

	if (m == MECH_APOP)
		r = apop_verify(c->stamp, shared, c->secret) &&
		    c->stamp[0] != '\0';
	else
		r = cram_verify(c->stamp, shared, c->secret);
	if (m == MECH_CRAM && !cram_challenge_valid(c->stamp))
		auth_exit(c, EXIT_BAD, "bad challenge", 0);
	if (shared == NULL)
		front_tell('N');
	if (u == NULL)
		auth_exit(c, EXIT_BAD, "unknown user", 0);
	if (r)
		return;
	if (shared == NULL)
		auth_exit(c, EXIT_BAD, "no APOP secret", 0);
	auth_exit(c, EXIT_BAD, "bad digest", 0);
}

/*
 * Checks the secret.  For an unknown user (u NULL) or a locked account
 * the same work is done against the database's dummy, a hash of the
 * method and cost most accounts have, so that the answer takes as long.
 * Nothing after the check depends on which it was, but the log's reason.
 */
static void
creds_verify(struct creds *c, enum mech m, const struct user *u,
    const char *dummy)
{
	const char	*why;
	int		 r;

	if (m != MECH_PASSWORD) {
		creds_verify_digest(c, m, u);
		return;
	}
	r = passwd_verify(c->secret, u != NULL ? u->hash : NULL, dummy, &why);
	if (r == -1)
		auth_exit(c, EXIT_TEMP, why, errno);
	if (r == 0)
		auth_exit(c, EXIT_BAD, why, 0);
}

/*
 * The environment of the next stage: USER, HOME, SHELL, MAILDROP, and
 * the user's own EXPIRE, LOGIN-DELAY and UIDL format, which win over the
 * spawner's or a rule's POP3D_EXPIRE, POP3D_LOGIN_DELAY and
 * POP3D_DOVECOT_UIDL_FORMAT (left as they are, the
 * defaults, for a user without).  A record without a maildrop clears
 * MAILDROP: one inherited from the spawner would otherwise win over
 * pop3d-maildrop's argument for every such user (pop3d-maildrop.8).
 */
static int
env_set(const struct user *u)
{
	if (setenv("USER", u->name, 1) == -1 ||
	    setenv("HOME", u->home, 1) == -1 ||
	    setenv("SHELL", "/bin/sh", 1) == -1)
		return -1;
	if (u->expire != NULL && setenv("POP3D_EXPIRE", u->expire, 1) == -1)
		return -1;
	if (u->login_delay != NULL && setenv("POP3D_LOGIN_DELAY",
	    u->login_delay, 1) == -1)
		return -1;
	if (u->uidl_format != NULL && setenv("POP3D_DOVECOT_UIDL_FORMAT",
	    u->uidl_format, 1) == -1)
		return -1;
	if (u->maildrop == NULL)
		return unsetenv("MAILDROP");
	return setenv("MAILDROP", u->maildrop, 1);
}

/* Finds the user: NULL when unknown; exits 111 on a database problem. */
static const struct user *
user_find(struct creds *c, struct userdb *db, const char *path,
    struct user *u)
{
	const char	*why;
	int		 r;

	if (userdb_open(db, path) == -1)
		auth_exit_file(c, EXIT_TEMP, errno == EINVAL ? db->why :
		    "cannot open users database", path, errno == EINVAL ? 0 :
		    errno);
	if ((r = userdb_lookup(db, c->user, u, &why)) == -1)
		auth_exit_file(c, EXIT_TEMP, why != NULL ? why :
		    "users database unreadable", path, why != NULL ? 0 :
		    errno);
	return r == 1 ? u : NULL;
}

static void
accepted(const struct creds *c, const struct user *u)
{
	struct logline	l;

	logline_start(&l, "auth_ok");
	logline_str(&l, "user", u->name);
	logline_str(&l, "mech", c->mech);
	logline_num(&l, "uid", u->uid);
	logline_num(&l, "gid", u->gid);
	logline_emit(&l);
}

/*
 * Is the next program pop3d-maildrop, which writes the connection's end
 * line for the front that became the chain (endline.h)?  Only then is
 * the check alone (verify_only) worth it: after any other program (a
 * wrapper, a script) the front must stay to write that line.
 */
static int
next_is_maildrop(const char *prog)
{
	const char	*slash = strrchr(prog, '/');

	return strcmp(slash != NULL ? slash + 1 : prog, "pop3d-maildrop") ==
	    0;
}

/*
 * The session in the front's place marks its descriptors close-on-exec
 * in one call (endline_hold), which Linux has since 5.11: on an older
 * kernel the session keeps two processes rather than fail.
 */
static int
inplace_kernel(void)
{
	return close_range(~0U, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
}

/*
 * As root, the run in the front's place starts the next program still
 * uid 0 (become's keep_uid): so it must be the pop3d-maildrop installed
 * beside us, the same file, not a wrapper by that name, and root's, that
 * no one else may write.  Both given as absolute paths (self is our
 * argv[0], as the front ran us), so that the check and the run in place
 * judge the same files whatever their working directories.
 */
static int
next_is_sibling(const char *self, const char *prog)
{
	char		path[PATH_MAX];
	const char	*slash = strrchr(self, '/');
	struct stat	a, b;
	int		n;

	if (self[0] != '/' || prog[0] != '/')
		return 0;
	n = snprintf(path, sizeof(path), "%.*s/pop3d-maildrop",
	    (int)(slash - self), self);
	if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &a) == -1 ||
	    stat(prog, &b) == -1)
		return 0;
	return S_ISREG(a.st_mode) && a.st_uid == 0 &&
	    (a.st_mode & (S_IWGRP | S_IWOTH)) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
}

/*
 * The front's process after its exec in place (POP3D_AUTH_VERIFIED_FD=3):
 * the login was checked by the pop3d-auth it ran first, which said 'V'
 * and exited; the name comes on fd 3, a pipe from the front.  No secret
 * is asked: only root can make use of this, as becoming another user
 * needs root (we are not set-id), and root needs no password.  The user
 * is looked up again and becomes as after a check; every failure ends
 * the connection with [SYS/TEMP].
 */
static void __attribute__((noreturn))
inplace_run(struct creds *c, struct userdb *db, const char *dbopt,
    char *self, char **next)
{
	struct user	 u;
	const char	*why;
	char		 uid[24];
	ssize_t		 len;
	int		 err, root = geteuid() == 0;

	inplace = 1;
	(void)unsetenv("POP3D_AUTH_VERIFIED_FD");
	/* Kept for the next stage, which writes it; ours if we fail. */
	if (endline_take(1) != 1)
		auth_exit(c, EXIT_TEMP, "no end line's facts (POP3D_END)", 0);
	len = creds_read(c->buf, POP3_USER_MAX + 1);
	close(CREDS_FD);
	if (len <= 1 || c->buf[len - 1] != '\0' || strlen(c->buf) + 1 !=
	    (size_t)len)
		auth_exit(c, EXIT_USAGE, "malformed fd 3 (verified)", 0);
	c->user = c->buf;
	(void)mech_get(c);
	if (dbopt == NULL && setting_path(USERDB_PATH_ENV,
	    USERDB_PATH_DEFAULT, &dbopt) == -1)
		auth_exit(c, EXIT_TEMP, "bad setting: " USERDB_PATH_ENV, 0);
	if (user_find(c, db, dbopt, &u) == NULL)
		auth_exit(c, EXIT_TEMP, "the verified user is gone", 0);
	if (root && !next_is_sibling(self, next[0]))
		auth_exit_file(c, EXIT_TEMP, "the next program is not root's"
		    " pop3d-maildrop beside pop3d-auth, by absolute paths",
		    next[0], 0);
	/*
	 * As root, pop3d-maildrop takes the uid itself, after it has armed
	 * the session's bound (endline_hold): from our uid change on, the
	 * user could stop the process (SIGSTOP) before that.  It enters
	 * the home directory then, as the user.
	 */
	snprintf(uid, sizeof(uid), "%lu", (unsigned long)u.uid);
	if ((root ? setenv(ENDLINE_UID_ENV, uid, 1) :
	    unsetenv(ENDLINE_UID_ENV)) == -1)
		auth_exit(c, EXIT_TEMP, "cannot set the environment", errno);
	if (become(&u, root, &why) == -1)
		auth_exit(c, EXIT_TEMP, why, errno);
	if (!root && chdir(u.home) == -1)
		auth_exit_file(c, EXIT_TEMP, "cannot enter home", u.home,
		    errno);
	if (env_set(&u) == -1)
		auth_exit(c, EXIT_TEMP, "cannot set the environment", errno);
	userdb_close(db);
	execvp(next[0], next);
	err = errno;
	auth_exit(c, EXIT_TEMP, "cannot run the next program", err);
}

int
main(int argc, char **argv)
{
	static struct creds	c;
	static struct userdb	db;
	struct user		u;
	const struct user	*found;
	const char		*dbopt = NULL, *why;
	enum mech		m;
	int			ch, err, hide;

	log_init(argv[0]);
	front_pid = getppid();
	/* Only a first argument of exactly these: the rest is the chain's. */
	version_help(argc, argv, "pop3d-auth", USAGE);
	while ((ch = getopt(argc, argv, "+d:")) != -1) {
		if (ch != 'd')
			usage();
		dbopt = optarg;
	}
	if (optind >= argc)
		usage();
	if (log_from_env() == -1)
		exit(EXIT_TEMP);
	if (getenv("POP3D_AUTH_VERIFIED_FD") != NULL) {
		if (strcmp(getenv("POP3D_AUTH_VERIFIED_FD"), "3") != 0)
			usage();
		inplace_run(&c, &db, dbopt, argv[0], argv + optind);
	}
	front_open();
	/* No check runs on for a front that is gone. */
	if (die_with_front() == -1)
		auth_exit(&c, EXIT_TEMP, "the caller is gone", errno);
	creds_get(&c);
	m = mech_get(&c);
	if (dbopt == NULL && setting_path(USERDB_PATH_ENV,
	    USERDB_PATH_DEFAULT, &dbopt) == -1)
		auth_exit(&c, EXIT_TEMP, "bad setting: " USERDB_PATH_ENV, 0);
	found = user_find(&c, &db, dbopt, &u);
	creds_verify(&c, m, found, db.dummy);
	/* The user's name stays for the log lines; the secret goes. */
	explicit_bzero(c.buf + (c.secret - c.buf), strlen(c.secret));
	c.secret = NULL;
	hide = geteuid() == 0;
	if (become(&u, 0, &why) == -1)
		auth_exit(&c, EXIT_TEMP, why, errno);
	if (chdir(u.home) == -1)
		auth_exit_file(&c, EXIT_TEMP, "cannot enter home", u.home,
		    errno);
	if (env_set(&u) == -1)
		auth_exit(&c, EXIT_TEMP, "cannot set the environment", errno);
	/* After the last change of ids, which cleared it. */
	if (die_with_front() == -1)
		auth_exit(&c, EXIT_TEMP, "the caller is gone", errno);
	accepted(&c, &u);
	userdb_close(&db);
	/*
	 * The front runs the session itself, in one process, when the
	 * session can be kept from the user's other processes (hide: it
	 * holds the root-owned connection slot; endline_hold).  A program it
	 * could not run fails here, as the exec would: the dialogue goes
	 * on, where a failure in the front's place would end it.
	 */
	if (verify_only && front_fd != -1 && next_is_maildrop(argv[optind]) &&
	    inplace_kernel() && (!hide || (next_is_sibling(argv[0],
	    argv[optind]) && become_fuse_bounded() && become_can_hide()))) {
		if (strchr(argv[optind], '/') != NULL &&
		    access(argv[optind], X_OK) == -1)
			auth_exit(&c, EXIT_TEMP, "cannot run the next program",
			    errno);
		front_tell('V');
		exit(0);
	}
	/* Last: once the exec is done the chain answers the client. */
	front_tell('A');
	execvp(argv[optind], argv + optind);
	err = errno;
	front_tell('X');
	auth_exit(&c, EXIT_TEMP, "cannot run the next program", err);
}

/*
 * pop3d-maildrop: the TRANSACTION and UPDATE states of POP3 over a Maildir,
 * run after authentication as the mail user with the client on fd 0 and 1.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "endline.h"
#include "expire.h"
#include "fsshare.h"
#include "io.h"
#include "log.h"
#include "maildir.h"
#include "mbox.h"
#include "pop3.h"
#include "pop3d_limits.h"
#include "scancache.h"
#include "settings.h"
#include "migrate.h"
#include "num.h"
#include "sizes.h"
#include "trans.h"
#include "version.h"
#include "xmit.h"

/*
 * Exit codes: pop3d-maildrop.8 lists them.  Never 1, 2 or 111: a
 * checkpassword front reads those as the verdict of authentication, and
 * would answer the client a second time.
 */
#define EXIT_SESSION	0	/* the session ran and ended */
#define EXIT_PERM	100	/* refused for good; -ERR [SYS/PERM] sent */
#define EXIT_TEMP	101	/* for now: [SYS/TEMP] [IN-USE] [LOGIN-DELAY] */

/* The time of the last login, LOGIN-DELAY's record (login_delay_check). */
#define LOGIN_FILE	"pop3d-login"

struct settings {
	const char	*path;
	char		 expanded[PATH_MAX];	/* the argument's %u */
	uint64_t	 mbox_max;	/* POP3D_MBOX_MAX */
	int		 timeout_ms;
	size_t		 max_msgs;
	const char	*implementation;
	const char	*expire;
	int64_t		 expire_days;	/* or SETTING_EXPIRE_NEVER */
	const char	*dovecot_format;	/* migrate.h; NULL: default */
	uint64_t	 login_delay;	/* seconds, or SETTING_UNSET */
	struct xmit_settings xmit;
};

/* Tells the client, logs, and exits: the session never started. */
static void __attribute__((noreturn))
refuse(struct out *out, int code, const char *reply, const char *why)
{
	struct logline	l;

	out_line(out, "-ERR %s", reply);
	out_flush(out);
	logline_start(&l, "refused");
	logline_str(&l, "user", getenv("USER"));
	logline_str(&l, "reason", why);
	logline_emit(&l);
	exit(code);
}

/*
 * POP3D_DOVECOT_UIDL_FORMAT: the settings table checks it as the
 * expansion takes it (lib/uidlfmt.c), so that a format that could never
 * carry a UIDL over stops the session rather than quietly changing every
 * UIDL.
 */
static int
dovecot_format_read(const char **fmt)
{
	return setting_text("POP3D_DOVECOT_UIDL_FORMAT", fmt);
}

/*
 * The maildrop: the user's own (MAILDROP, which pop3d-auth sets from the
 * record's field and clears when it has none) wins over the argument,
 * which is only the default for users without one, as the chain's last
 * word is the same for every user; then Maildir.
 */
static int
settings_read(struct settings *set, int argc, char **argv)
{
	const char	*env = getenv("MAILDROP");
	uint64_t	 idle, msgs;
	int		 bad = 0;

	set->path = env != NULL && *env != '\0' ? env :
	    argc > 1 ? argv[1] : "Maildir";
	bad |= setting_num("POP3D_MBOX_MAX", &set->mbox_max) == -1;
	/* Bounds and defaults from the table the front reads them by. */
	if (setting_num("POP3D_IDLE_TIMEOUT", &idle) == -1) {
		bad = 1;
		idle = POP3_IDLE_DEFAULT;	/* to say so to the client */
	}
	set->timeout_ms = 1000 * idle;
	bad |= setting_num("POP3D_MAX_MESSAGES", &msgs) == -1;
	set->max_msgs = msgs;
	bad |= setting_text("POP3D_IMPLEMENTATION", &set->implementation) ==
	    -1;
	bad |= setting_expire(&set->expire, &set->expire_days) == -1;
	bad |= setting_num("POP3D_LOGIN_DELAY", &set->login_delay) == -1;
	bad |= pop3_debug_read() == -1;
	bad |= xmit_settings_read(&set->xmit) == -1;
	bad |= dovecot_format_read(&set->dovecot_format) == -1;
	return bad ? -1 : 0;
}

/*
 * Refuses with the response code that fits errno, naming what failed and
 * its file by its absolute path.
 */
static void __attribute__((noreturn))
refuse_errno(struct out *out, const char *what, const char *file)
{
	char	why[3 * PATH_MAX], path[2 * PATH_MAX];
	int	err = errno, temp = maildir_error_temporary(err);

	snprintf(why, sizeof(why), "%s %s: %s", what, log_abspath(file, path,
	    sizeof(path)), strerror(err));
	refuse(out, temp ? EXIT_TEMP : EXIT_PERM, temp ?
	    "[SYS/TEMP] maildrop unavailable, try again later" :
	    "[SYS/PERM] maildrop unavailable", why);
}

/* Refuses for now, whatever errno says: a lock is never for good. */
static void __attribute__((noreturn))
refuse_temp(struct out *out, const char *what, const char *file)
{
	char	why[3 * PATH_MAX], path[2 * PATH_MAX];
	int	err = errno;

	snprintf(why, sizeof(why), "%s %s: %s", what, log_abspath(file, path,
	    sizeof(path)), strerror(err));
	refuse(out, EXIT_TEMP, "[SYS/TEMP] maildrop unavailable, try again"
	    " later", why);
}

/* The absolute path of name in the maildrop at path, for the log. */
static void
abs_path(char *buf, size_t n, const char *path, const char *name)
{
	char	*real = realpath(path, NULL);

	snprintf(buf, n, "%s/%s", real != NULL ? real : path, name);
	free(real);
}

/*
 * The lock file is unusable and was not repaired (the maildrop's directory
 * is not the user's, or the removal failed): for now, since an
 * administrator can mend it, and the log says how.
 */
static void __attribute__((noreturn))
refuse_lockfile(struct out *out, const char *path)
{
	char	file[PATH_MAX], why[PATH_MAX + 200];
	int	err = errno;

	abs_path(file, sizeof(file), path, MAILDIR_LOCK_FILE);
	snprintf(why, sizeof(why), "lock file %s unusable (%s): remove it,"
	    " pop3d-maildrop creates it anew as a file of the user's, mode"
	    " 0600", file, strerror(err));
	refuse(out, EXIT_TEMP, "[SYS/TEMP] maildrop unavailable, try again"
	    " later", why);
}

/*
 * A maildrop this user may read but not write: POP3 cannot be served as
 * it promises (DELE, new/ moved to cur/), and only an administrator can
 * change that.
 */
static void __attribute__((noreturn))
refuse_readonly(struct out *out, const char *path, const char *what)
{
	char	dir[PATH_MAX], why[PATH_MAX + 200];
	int	err = errno;

	abs_path(dir, sizeof(dir), path, what);
	snprintf(why, sizeof(why), "maildrop not writable: %s: %s", dir,
	    strerror(err));
	refuse(out, maildir_error_temporary(err) ? EXIT_TEMP : EXIT_PERM,
	    maildir_error_temporary(err) ? "[SYS/TEMP] maildrop unavailable,"
	    " try again later" : "[SYS/PERM] maildrop is read-only", why);
}

/*
 * LOGIN-DELAY (RFC 2449 section 6.8): the time of the user's last login is
 * the modification time of LOGIN_FILE in the maildrop (an mbox user's:
 * ".pop3d-mbox.DEV.INO.login" in the home, mbox_file_name), a file of
 * the user's opened as the caches are, set at each login that is let in
 * and only then, so that a client polling too often is not shut out for
 * good.  Checked under the session lock: two logins cannot both pass.
 * 0 to let the login in; -1 with errno when the file is unusable (the
 * login is let in: the delay is a courtesy the server asks, not a
 * protection of the mail); 1 when it comes too soon.
 */
static int
login_delay_check(int dirfd, const char *name, uint64_t delay, long *wait)
{
	struct stat	st;
	struct timespec	last[2];
	int64_t		ns;
	time_t		now;
	int		fd, err, fresh = 0;

	if ((fd = maildir_file_openat(dirfd, name, O_RDWR)) == -1) {
		if (errno != ENOENT)
			return -1;
		if ((fd = maildir_file_openat(dirfd, name, O_RDWR |
		    O_CREAT)) == -1)
			return -1;
		fresh = 1;
	}
	/*
	 * Now by the clock that stamped the record, the file system's: the
	 * record touched and read back (an NFS server's clock off from this
	 * host's would otherwise stretch or void the delay), and its time put
	 * back when the login comes too soon.
	 */
	if (fstat(fd, &st) == -1 || fsshare_touch(fd, &ns) == -1)
		goto fail;
	now = (time_t)(ns / 1000000000);
	/* A clock set back makes the last login "later": let in. */
	if (!fresh && st.st_mtime <= now &&
	    (uint64_t)(now - st.st_mtime) < delay) {
		*wait = (long)(delay - (uint64_t)(now - st.st_mtime));
		last[0] = st.st_atim;
		last[1] = st.st_mtim;
		/* Else the next delay counts from this refused login. */
		if (futimens(fd, last) == -1)
			log_file("login-file-failed", name, errno);
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static void
session_log(const struct session *s, const struct sizes_stats *st,
    const char *cache, enum pop3_end end, int64_t started)
{
	struct logline	l;
	const char	*remote = getenv("TCPREMOTEIP");
	int64_t		 ms = io_now_ms() - started;

	if (remote == NULL)
		remote = getenv("REMOTE_ADDR");
	logline_start(&l, "session");
	logline_str(&l, "user", getenv("USER"));
	logline_str(&l, "remote", remote);
	/* The front exports the handshake's facts (pop3d.8). */
	if (getenv("SSL_PROTOCOL") != NULL)
		logline_str(&l, "tls", getenv("SSL_PROTOCOL"));
	/* How the user logged in, as the front told pop3d-auth. */
	if (getenv("AUTHMECH") != NULL)
		logline_str(&l, "mech", getenv("AUTHMECH"));
	logline_num(&l, "msgs", s->st->count);
	logline_num(&l, "octets", s->st->octets);
	logline_num(&l, "retr", s->retr);
	logline_num(&l, "retr_octets", s->retr_octets);
	logline_num(&l, "top", s->top);
	logline_num(&l, "dele", s->quit ? s->dele : 0);
	logline_num(&l, "dele_octets", s->quit ? s->dele_octets : 0);
	logline_num(&l, "removed", s->removed);
	if (s->expired > 0)
		logline_num(&l, "expired", s->expired);
	if (s->seen > 0)
		logline_num(&l, "seen", s->seen);
	if (s->unremoved > 0)
		logline_num(&l, "unremoved", s->unremoved);
	if (s->st->truncated)
		logline_num(&l, "truncated", 1);
	if (st->unreadable > 0)
		logline_num(&l, "unreadable", st->unreadable);
	logline_num(&l, "size_name", st->from_name);
	logline_num(&l, "size_cache", st->from_cache);
	logline_num(&l, "size_read", st->computed);
	logline_str(&l, "cache", cache);
	logline_str(&l, "end", s->broken ? "ioerr" : pop3_end_name(end));
	logline_num(&l, "ms", ms > 0 ? (uint64_t)ms : 0);
	logline_emit(&l);
}

#define USAGE \
	"usage: pop3d-maildrop [MAILDROP]\n" \
	"       pop3d-maildrop --help | --version\n" \
	"  MAILDROP  the Maildir when the user has none of its own\n" \
	"            (MAILDROP from pop3d-auth); relative to HOME\n" \
	"Runs as the user, the client on fd 0/1: see pop3d-maildrop(8).\n"

/*
 * The process before the maildrop: logging, signals, the settings, and
 * the client's streams; refuses a bad setting, usage or root.
 */
static void
session_start(int argc, char **argv, struct settings *set, struct out *out,
    struct in *in)
{
	const char	*held = NULL;
	int		 bad, exposed;

	log_init(argv[0]);
	version_help(argc, argv, "pop3d-maildrop", USAGE);
	/*
	 * The front became the chain (one process a session): its end line
	 * is ours to write as we exit, however (endline.h), and its slot,
	 * even when POP3D_END is malformed.
	 */
	exposed = endline_take(0) != 0 && endline_hold(&held) == -1;
	/*
	 * A plain checkpassword program hands on the front's "accepted" pipe
	 * (pop3d.8, POP3D_AUTH_OK_FD): this stage, the user's, lets it go.
	 */
	if (getenv("POP3D_AUTH_OK_FD") != NULL) {
		close(4);
		unsetenv("POP3D_AUTH_OK_FD");
	}
	/* A bad setting, POP3D_LOG too, refuses: never a guess. */
	bad = log_from_env() == -1;
	signal(SIGPIPE, SIG_IGN);
	io_catch_signals();
	bad |= settings_read(set, argc, argv) == -1;
	out_init(out, STDOUT_FILENO, set->timeout_ms);
	in_init(in, STDIN_FILENO, set->timeout_ms, out);
	if (bad)
		refuse(out, EXIT_TEMP, "[SYS/TEMP] server misconfigured",
		    "bad settings");
	if (exposed)
		refuse(out, EXIT_TEMP, "[SYS/TEMP] server error", held);
	if (argc > 2)
		refuse(out, EXIT_PERM, "[SYS/PERM] server misconfigured",
		    "usage: pop3d-maildrop [MAILDROP]");
	if (getuid() == 0 || geteuid() == 0)
		refuse(out, EXIT_PERM, "[SYS/PERM] server misconfigured",
		    "refusing to run as root");
}

/* Refuses a login that comes sooner than POP3D_LOGIN_DELAY allows. */
static void
login_delay_enforce(int dirfd, const char *name, uint64_t delay,
    struct out *out)
{
	long	wait = 0;
	char	why[64];
	int	r;

	if (delay == SETTING_UNSET || delay == 0)
		return;
	if ((r = login_delay_check(dirfd, name, delay, &wait)) == 1) {
		snprintf(why, sizeof(why), "login-delay wait=%lds", wait);
		refuse(out, EXIT_TEMP, "[LOGIN-DELAY] minimum time between"
		    " logins not yet passed, try again later", why);
	}
	if (r == -1)
		log_file("login-file-failed", name, errno);
}

/*
 * The maildrop opened (made first for a new account), writable, locked
 * for this session, and the login let in; else refused.
 */
static void
maildrop_enter(struct maildir *md, const struct settings *set,
    struct out *out)
{
	const char	*what;
	int		 r;

	maildir_create(set->path);
	if (maildir_open(md, set->path, set->max_msgs) == -1)
		refuse_errno(out, "maildrop", set->path);
	md->dovecot_format = set->dovecot_format;
	/* From now on a file's name in a line is the maildrop's. */
	log_file_base(set->path);
	if (maildir_writable(md, &what) == -1)
		refuse_readonly(out, set->path, what);
	if ((r = maildir_lock(md)) == -2)
		refuse_lockfile(out, set->path);
	if (r == -1) {
		if (errno == EAGAIN)
			refuse(out, EXIT_TEMP, "[IN-USE] maildrop is in use"
			    " by another session", "in use");
		refuse_temp(out, "lock", MAILDIR_LOCK_FILE);
	}
	login_delay_enforce(md->fd, LOGIN_FILE, set->login_delay, out);
}

/*
 * The messages, numbered, sized and with their UIDLs: from the cache when
 * it holds them, else by a scan (saved to the cache); else refused.
 */
static void
maildrop_list(struct maildir *md, struct scancache *sc,
    struct sizes_stats *st, struct out *out)
{
	int	r;

	scancache_begin(md, sc);
	if ((r = scancache_load(md, sc, st)) == -1)
		refuse_errno(out, "cache", SCANCACHE_FILE);
	if (r != 0)
		return;
	scancache_scanning(md, sc);
	if (maildir_scan(md) == -1)
		refuse_errno(out, "scan", ".");
	if (sizes_fill(md, &sc->hints, st) == -1)
		refuse_errno(out, "sizes", ".");
	maildir_prune(md);
	if (maildir_uidls(md) == -1)
		refuse_errno(out, "uidl", ".");
	/* A cache would serve these UIDLs without the map to keep them. */
	if (md->uidmap_unwritten) {
		sc->state = "skipped";
		scancache_done(sc);
	} else
		scancache_save(md, sc, st);
}

/*
 * The argument's %u, when the path is the argument (pop3d-auth's MAILDROP
 * is the user's own and taken as it is).
 */
static void
maildrop_path(struct settings *set, struct out *out)
{
	const char	*user = getenv("USER");

	if (getenv("MAILDROP") != NULL && *getenv("MAILDROP") != '\0')
		return;
	if (strchr(set->path, '%') == NULL)
		return;
	if (user == NULL || !user_name_valid(user))
		refuse(out, EXIT_PERM, "[SYS/PERM] server misconfigured",
		    "no user name for %u in the maildrop");
	if (mbox_expand(set->path, user, set->expanded,
	    sizeof(set->expanded)) == -1)
		refuse(out, EXIT_PERM, "[SYS/PERM] server misconfigured",
		    errno == EINVAL ? "maildrop: % may only be %u or %%" :
		    "maildrop: too long once %u is expanded");
	set->path = set->expanded;
}

/* An mbox refused: the log names the file by its absolute path. */
static void __attribute__((noreturn))
refuse_mbox(struct out *out, const char *file, int err, uint64_t limit)
{
	char		why[3 * PATH_MAX], path[2 * PATH_MAX];
	const char	*what, *reply = "[SYS/PERM] maildrop unavailable";
	int		code = EXIT_PERM;

	switch (err) {
	case ELOOP:
		what = "a symbolic link: refused";
		break;
	case EINVAL:
		what = "not an mbox (a file beginning \"From \")";
		reply = "[SYS/PERM] maildrop is not an mbox";
		break;
	case EPERM:
		what = "not a regular file of the user's";
		break;
	case EFBIG:
		what = "larger than POP3D_MBOX_MAX";
		reply = "[SYS/PERM] mailbox too large";
		break;
	case ENOTRECOVERABLE:
		what = "its pending UPDATE journal (logged above) unusable";
		reply = "[SYS/TEMP] maildrop unavailable, try again later";
		code = EXIT_TEMP;
		break;
	case EREMOTE:
		/* The file system's type: the line before (mbox_lock). */
		what = "flock would lock it on the server: mount with"
		    " local_lock=flock (SMB: nobrl)";
		break;
	case ETIMEDOUT:
		what = "delivery locks still held by another program";
		reply = "[SYS/TEMP] mailbox locked by another program";
		code = EXIT_TEMP;
		break;
	default:
		errno = err;
		refuse_errno(out, "mbox", file);
	}
	snprintf(why, sizeof(why), "mbox %s: %s", log_abspath(file, path,
	    sizeof(path)), what);
	if (err == EFBIG)
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
		    " (%llu octets)", (unsigned long long)limit);
	refuse(out, code, reply, why);
}

/*
 * An mbox (or none: 0 messages) opened, locked for this session, the
 * login let in, and listed; else refused.
 */
static void
mbox_enter(struct mbox *mb, const struct settings *set,
    enum maildrop_kind kind, struct out *out)
{
	char	login[MBOX_FILE_NAME_MAX];

	if (mbox_open(mb, set->path, kind, set->max_msgs, set->mbox_max) == -1)
		refuse_mbox(out, set->path, errno, set->mbox_max);
	if (mbox_lock(mb) == -1) {
		if (errno == EAGAIN)
			refuse(out, EXIT_TEMP, "[IN-USE] maildrop is in use"
			    " by another session", "in use");
		if (errno == EREMOTE)
			refuse_mbox(out, set->path, errno, set->mbox_max);
		refuse_temp(out, "lock", set->path);
	}
	mbox_file_name(mb, "login", login, sizeof(login));
	login_delay_enforce(mb->homefd, login, set->login_delay, out);
	if (!mb->home_ok)
		log_file("mbox-home-readonly", ".", errno);
	if (mbox_list(mb) == -1)
		refuse_mbox(out, set->path, errno, set->mbox_max);
}

/*
 * EXPIRE N > 0 needs a seen mark an mbox cannot keep without a rewrite:
 * NEVER is advertised and nothing expires by age (logged).  No Maildir
 * size counts; the cache's state.
 */
static void
mbox_settings(struct settings *set, const struct mbox *mb,
    struct sizes_stats *st, struct scancache *sc)
{
	struct logline	l;

	memset(st, 0, sizeof(*st));
	memset(sc, 0, sizeof(*sc));
	sc->state = mb->cache;
	if (set->expire_days <= 0)
		return;
	set->expire = "NEVER";
	set->expire_days = SETTING_EXPIRE_NEVER;
	logline_start(&l, "mbox-expire");
	logline_str(&l, "expire", "unsupported");
	logline_emit(&l);
}

/* The TRANSACTION and UPDATE states, from the greeting: how they ended. */
static enum pop3_end
session_run(struct session *s, struct store *st, struct settings *set,
    struct in *in, struct out *out)
{
	enum pop3_end	end;

	memset(s, 0, sizeof(*s));
	s->st = st;
	s->in = in;
	s->out = out;
	s->xmit = &set->xmit;
	s->implementation = set->implementation;
	s->expire = set->expire;
	s->expire_days = set->expire_days;
	s->login_delay = set->login_delay == SETTING_UNSET ? -1 :
	    (int64_t)set->login_delay;
	out_line(out, "+OK maildrop has %zu messages (%llu octets)",
	    st->count, (unsigned long long)st->octets);
	end = pop3_run(in, out, trans_verbs, s);
	if (s->stopped)
		end = s->stop;	/* not QUIT: XTND XMIT lost its client */
	return end;
}

int
main(int argc, char **argv)
{
	static struct out	out;
	static struct in	in;
	struct settings		set;
	struct maildir		md;
	struct mbox		mb;
	enum maildrop_kind	kind;
	struct store		store;
	struct sizes_stats	st;
	struct session		s;
	struct scancache	sc;
	enum pop3_end		end;
	int64_t			started = io_now_ms();

	session_start(argc, argv, &set, &out, &in);
	maildrop_path(&set, &out);
	if (mbox_kind(set.path, &kind) == -1)
		refuse_mbox(&out, set.path, errno, set.mbox_max);
	if (kind == KIND_MAILDIR) {
		maildrop_enter(&md, &set, &out);
		maildrop_list(&md, &sc, &st, &out);
		maildir_store(&md, &store);
	} else {
		mbox_enter(&mb, &set, kind, &out);
		mbox_store(&mb, &store);
		mbox_settings(&set, &mb, &st, &sc);
	}
	end = session_run(&s, &store, &set, &in, &out);
	session_log(&s, &st, sc.state, end, started);
	if (kind == KIND_MAILDIR)
		maildir_close(&md);
	else
		mbox_close(&mb);
	if (end == POP3_END_HOSTILE)
		in_linger(&in);
	/* The session ended, but not as the client would have it. */
	if (s.unremoved > 0 || s.broken || end == POP3_END_SIGNAL)
		return EXIT_TEMP;
	return EXIT_SESSION;
}

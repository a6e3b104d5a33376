/*
 * pop3d-users: manages the users file and compiles it to users.cdb for
 * pop3d-auth (pop3d-users.8, pop3d-users.5).
 */
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import.h"
#include "log.h"
#include "num.h"
#include "passwd.h"
#include "settings.h"
#include "pop3d_limits.h"
#include "secret.h"
#include "userdb.h"
#include "usersfile.h"
#include "version.h"

/* Exit codes (pop3d-users.8). */
#define EXIT_DATA	1	/* the file, a user or a value is wrong */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_TEMP	111	/* a system error: nothing changed */

struct paths {
	const char	*file;
	const char	*db;
};

struct command {
	const char	*name;
	int		 (*run)(const struct paths *, int, char **);
	const char	*usage;
};

#define USAGE \
	"usage: pop3d-users [-f users] [-d users.cdb] command [args ...]\n" \
	"       pop3d-users --help | --version\n" \
	"  -f users       the users text file (POP3D_USERS_FILE, else\n" \
	"                 /etc/pop3d/users)\n" \
	"  -d users.cdb   the compiled database (POP3D_USERS_CDB, else\n" \
	"                 /etc/pop3d/users.cdb)\n" \
	"commands:\n" \
	"  add [-e days|NEVER] [-l seconds] [-U format]\n" \
	"      name uid gid home [maildrop]\n" \
	"  mod [-e days|NEVER|-] [-l seconds|-] [-U format|-] name\n" \
	"  passwd [-s] [-m yescrypt|sha512|bcrypt] name\n" \
	"  apop [-cs] name\n" \
	"  import [-n|-w] [-os] [-m method] [-u uid] [-g gid] [-h home]\n" \
	"         -D passwd-file [name ...]\n" \
	"  import [-n|-w] [-o] [-P passwd] [-S shadow] -y [name ...]\n" \
	"  delete name\n" \
	"  list\n" \
	"  check\n" \
	"  compile\n" \
	"See pop3d-users(8) and pop3d-users(5).\n"

#define SYNOPSIS "pop3d-users [-f users] [-d users.cdb]"

/* Reports what usersfile_apply refused, and gives the exit code. */
static int
apply_result(const struct paths *p, const char *name, const char *why)
{
	switch (errno) {
	case EINVAL:
		if (why != NULL)
			log_warn("%s: %s", name, why);
		else
			log_warn("%s has errors: nothing changed", p->file);
		return EXIT_DATA;
	case EEXIST:
		log_warn("%s: user exists", name);
		return EXIT_DATA;
	case ESRCH:
		log_warn("%s: no such user", name);
		return EXIT_DATA;
	default:
		log_warn("%s: %s", p->file, strerror(errno));
		return EXIT_TEMP;
	}
}

/*
 * The absolute form of path's directory into buf, for telling what to
 * create: the current directory prefixed to a relative one.  Returns
 * what snprintf does.
 */
static int
dir_abs(char *buf, size_t n, const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		 cwd[PATH_MAX];
	int		 len = slash == NULL ? 0 : slash == path ? 1 :
			    (int)(slash - path);

	if (path[0] == '/')
		return snprintf(buf, n, "%.*s", len, path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return snprintf(buf, n, "%.*s", len > 0 ? len : 1,
		    len > 0 ? path : ".");
	if (len == 0)
		return snprintf(buf, n, "%s", cwd);
	return snprintf(buf, n, "%s/%.*s", strcmp(cwd, "/") == 0 ? "" : cwd,
	    len, path);
}

/*
 * The users file's edit lock (usersfile_lock): a descriptor, or -1 said.
 * A missing directory is the first install's usual mistake: named, with
 * what to do.
 */
static int
lock(const struct paths *p)
{
	char	dir[PATH_MAX];
	int	fd;

	if ((fd = usersfile_lock(p->file, USERS_LOCK_TIMEOUT_MS)) != -1)
		return fd;
	if (errno == ENOENT) {
		if (dir_abs(dir, sizeof(dir), p->file) < 0)
			dir[0] = '\0';
		log_warn("lock %s.lock: %s: create the directory %s (mode"
		    " 0700, owned by root; make install does)", p->file,
		    strerror(errno), dir);
	} else
		log_warn("lock %s.lock: %s", p->file, strerror(errno));
	return -1;
}

/*
 * An edit, and the database compiled from the edited file under the same
 * lock (usersfile_update), so that it takes effect at the next login
 * with no compile of its own, as pop3d-passwd's changes do.
 */
static int
apply(const struct paths *p, const struct usersfile_edit *e)
{
	const char	*why, *failed;
	int		 fd, r = 0;

	if ((fd = lock(p)) == -1)
		return EXIT_TEMP;
	if (usersfile_apply(p->file, e, &why) == -1)
		r = apply_result(p, e->name, why);
	else if (usersfile_install(p->file, p->db, &failed) == -1) {
		log_warn("%s: %s: the change is saved in %s but is not in"
		    " the database yet: mend that, then run pop3d-users"
		    " compile", failed, strerror(errno), p->file);
		r = EXIT_TEMP;
	}
	close(fd);
	return r;
}

/*
 * A uid or gid: decimal, or the name of a system account (group) to copy
 * it from, looked up once here; the record keeps the number.
 */
static int
id_arg(const char *s, int group, unsigned long *v)
{
	struct passwd	*pw;
	struct group	*gr;
	uint64_t	 n;

	if (num_parse(s, 0, USERS_ID_MAX, &n) == 0) {
		*v = n;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9') {
		errno = 0;
		if (!group && (pw = getpwnam(s)) != NULL) {
			*v = pw->pw_uid;
			return 0;
		}
		if (group && (gr = getgrnam(s)) != NULL) {
			*v = gr->gr_gid;
			return 0;
		}
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			log_warn("bad %s: %s: %s", group ? "gid" : "uid", s,
			    strerror(errno));
			return -1;
		}
		log_warn("bad %s: %s: no such %s", group ? "gid" : "uid", s,
		    group ? "group" : "user");
		return -1;
	}
	log_warn("bad %s: %s", group ? "gid" : "uid", s);
	return -1;
}

/* The values of add's and mod's policy options: NULL when not given. */
struct policy_vals {
	const char	*expire, *delay, *uidl;
};

/* Says why v is bad for option o (EXIT_DATA follows), or 0 when good. */
static int
policy_bad(char o, const char *v)
{
	const char	*why;

	if (*v == '\0')
		return 0;
	if (o == 'e' && !user_expire_valid(v))
		log_warn("bad expire: %s (NEVER, or days from 0 to %d)", v,
		    EXPIRE_DAYS_MAX);
	else if (o == 'l' && !user_login_delay_valid(v))
		log_warn("bad login-delay: %s (seconds from 0 to %d)", v,
		    LOGIN_DELAY_MAX);
	else if (o == 'U' && user_uidl_format_check(v, &why) == -1)
		log_warn("%s", why);
	else
		return 0;
	return -1;
}

/*
 * The policy options of add and mod, from argv[1]: -e expire, -l
 * login-delay, -U uidl-format; with clear (mod), "-" for "none of the
 * user's".  Any other argument ends them (a name like an option is then
 * refused as a name).  Returns the index of the first other argument, -1
 * for a usage error, or -2 after saying which value is bad (EXIT_DATA).
 */
static int
policy_opts(int argc, char **argv, int clear, struct policy_vals *pv)
{
	const char	*v;
	int		 i;

	for (i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (strcmp(argv[i], "-e") != 0 && strcmp(argv[i], "-l") != 0 &&
		    strcmp(argv[i], "-U") != 0)
			break;
		if (i + 1 >= argc)
			return -1;
		v = clear && strcmp(argv[i + 1], "-") == 0 ? "" : argv[i + 1];
		if (policy_bad(argv[i][1], v) == -1)
			return -2;
		*(argv[i][1] == 'e' ? &pv->expire : argv[i][1] == 'l' ?
		    &pv->delay : &pv->uidl) = v;
	}
	return i;
}

static int
cmd_add(const struct paths *p, int argc, char **argv)
{
	struct usersfile_edit	e = { .op = UF_ADD };
	struct policy_vals	pv = { NULL, NULL, NULL };
	struct user		u;
	unsigned long		uid, gid;
	const char		*why;
	int			r;

	memset(&u, 0, sizeof(u));
	if ((r = policy_opts(argc, argv, 0, &pv)) < 0)
		return r == -1 ? -1 : EXIT_DATA;
	u.expire = pv.expire;
	u.login_delay = pv.delay;
	u.uidl_format = pv.uidl;
	argc -= r - 1;
	argv += r - 1;
	if (argc != 5 && argc != 6)
		return -1;
	if (id_arg(argv[2], 0, &uid) == -1 ||
	    id_arg(argv[3], 1, &gid) == -1)
		return EXIT_DATA;
	u.name = argv[1];
	u.hash = USER_HASH_LOCKED;
	u.uid = uid;
	u.gid = gid;
	u.home = argv[4];
	u.maildrop = argc == 6 ? argv[5] : NULL;
	if (user_check(&u, &why) == -1) {
		log_warn("%s: %s", argv[1], why);
		return EXIT_DATA;
	}
	e.name = u.name;
	e.user = &u;
	return apply(p, &e);
}

static int
cmd_passwd(const struct paths *p, int argc, char **argv)
{
	struct usersfile_edit	e = { .op = UF_SET_HASH };
	char			pw[USERS_PASSWORD_MAX + 2];
	char			hash[USERS_HASH_MAX + 1];
	const char		*prefix = NULL;
	int			ch, from_stdin = 0, r;

	while ((ch = getopt(argc, argv, "m:s")) != -1) {
		if (ch == 's')
			from_stdin = 1;
		else if (ch == 'm' && (prefix = passwd_prefix(optarg)) != NULL)
			continue;
		else
			return -1;
	}
	if (argc - optind != 1)
		return -1;
	e.name = argv[optind];
	if (secret_read(from_stdin, "password", pw, USERS_PASSWORD_MAX) == -1)
		return EXIT_DATA;
	r = passwd_hash(prefix, pw, hash, sizeof(hash));
	explicit_bzero(pw, sizeof(pw));
	if (r == -1) {
		log_warn("cannot hash the password: %s", strerror(errno));
		return EXIT_TEMP;
	}
	e.value = hash;
	return apply(p, &e);
}

static int
cmd_apop(const struct paths *p, int argc, char **argv)
{
	struct usersfile_edit	e = { .op = UF_SET_APOP };
	char			secret[USERS_APOP_MAX + 2];
	int			ch, from_stdin = 0, clear = 0, r;

	while ((ch = getopt(argc, argv, "cs")) != -1) {
		if (ch == 'c')
			clear = 1;
		else if (ch == 's')
			from_stdin = 1;
		else
			return -1;
	}
	if (argc - optind != 1)
		return -1;
	e.name = argv[optind];
	if (!clear) {
		if (secret_read(from_stdin, "APOP secret", secret,
		    USERS_APOP_MAX) == -1)
			return EXIT_DATA;
		e.value = secret;
	}
	r = apply(p, &e);
	explicit_bzero(secret, sizeof(secret));
	return r;
}

static int
cmd_mod(const struct paths *p, int argc, char **argv)
{
	struct usersfile_edit	e = { .op = UF_SET_POLICY };
	struct policy_vals	pv = { NULL, NULL, NULL };
	int			r;

	if ((r = policy_opts(argc, argv, 1, &pv)) < 0)
		return r == -1 ? -1 : EXIT_DATA;
	if (argc - r != 1 || (pv.expire == NULL && pv.delay == NULL &&
	    pv.uidl == NULL))
		return -1;
	e.expire = pv.expire;
	e.login_delay = pv.delay;
	e.uidl_format = pv.uidl;
	e.name = argv[r];
	return apply(p, &e);
}

static int
cmd_delete(const struct paths *p, int argc, char **argv)
{
	struct usersfile_edit	e = { .op = UF_DELETE };

	if (argc != 2)
		return -1;
	e.name = argv[1];
	return apply(p, &e);
}

/* One record of list: no hash, no secret; "-" for what it has not. */
static void
list_one(const struct user *u)
{
	char	pol[USERS_POLICY_MAX + 1];

	user_policy_format(u, pol, sizeof(pol));
	printf("%s %lu %lu %s %s %s %s %s\n", u->name, (unsigned long)u->uid,
	    (unsigned long)u->gid, u->home, u->maildrop != NULL ? u->maildrop :
	    "-", user_hash_locked(u->hash) ? "locked" : "password",
	    u->apop != NULL ? "apop" : "-", *pol != '\0' ? pol : "-");
}

static int
cmd_list(const struct paths *p, int argc, char **argv)
{
	struct usersfile	uf;
	struct user		u;
	enum usersfile_kind	k;

	(void)argv;
	if (argc != 1)
		return -1;
	if (usersfile_open(&uf, p->file) == -1) {
		log_warn("%s: %s", p->file, strerror(errno));
		return EXIT_TEMP;
	}
	while ((k = usersfile_next(&uf, &u)) != UF_EOF && k != UF_ERROR)
		if (k == UF_RECORD)
			list_one(&u);
	if (k == UF_ERROR)
		log_warn("%s: %s", p->file, strerror(errno));
	usersfile_close(&uf);
	if (fflush(stdout) != 0)
		return EXIT_TEMP;
	return k == UF_ERROR ? EXIT_TEMP : uf.errors > 0 ? EXIT_DATA : 0;
}

/* What usersfile_compile's failure means for the exit code. */
static int
compile_result(const struct paths *p)
{
	if (errno == EINVAL) {
		log_warn("%s has errors", p->file);
		return EXIT_DATA;
	}
	log_warn("%s: %s", p->file, strerror(errno));
	return EXIT_TEMP;
}

/*
 * Warns, for one record, about a home or a maildrop that is not there
 * (a record without a maildrop: home/Maildir, the chain's usual
 * argument); a missing maildrop in a home of the user's is made at the
 * first login (pop3d-maildrop.8), so it is said so.  Returns 1 when it
 * warned.
 */
static int
record_warn(const struct usersfile *uf, const struct user *u)
{
	struct stat	 st;
	char		 md[PATH_MAX * 2], *slash;
	int		 err, made = 0;
	const char	*drop = u->maildrop != NULL ? u->maildrop : "Maildir";

	if (stat(u->home, &st) == -1) {
		log_warn("warning: %s:%lu: %s: home %s: %s", uf->path,
		    uf->lineno, u->name, u->home, strerror(errno));
		return 1;
	}
	if (drop[0] == '/')
		snprintf(md, sizeof(md), "%s", drop);
	else
		snprintf(md, sizeof(md), "%s%s%s", u->home,
		    u->home[strlen(u->home) - 1] == '/' ? "" : "/", drop);
	if (stat(md, &st) == 0)
		return 0;
	err = errno;
	if ((slash = strrchr(md, '/')) != NULL && slash != md) {
		*slash = '\0';
		made = err == ENOENT && lstat(md, &st) == 0 &&
		    S_ISDIR(st.st_mode) && st.st_uid == u->uid;
		*slash = '/';
	}
	log_warn("warning: %s:%lu: %s: maildrop %s: %s%s", uf->path,
	    uf->lineno, u->name, md, strerror(err), err != ENOENT ? "" : made ?
	    " (made at the first login)" : " (and not made at the first"
	    " login: its directory is missing or not the user's)");
	return 1;
}

static int
cmd_check(const struct paths *p, int argc, char **argv)
{
	struct usersfile	uf;
	struct user		u;
	enum usersfile_kind	k;
	FILE			*scratch;
	int			 r;

	(void)argv;
	if (argc != 1)
		return -1;
	/* The same work as compile, into a file nobody reads. */
	if ((scratch = tmpfile()) == NULL) {
		log_warn("temporary file: %s", strerror(errno));
		return EXIT_TEMP;
	}
	r = usersfile_compile(p->file, fileno(scratch));
	if (r == -1)
		r = compile_result(p);
	fclose(scratch);
	if (r != 0 || usersfile_open(&uf, p->file) == -1)
		return r;
	/* Sound: now what the records name, as this user sees it. */
	while ((k = usersfile_next(&uf, &u)) != UF_EOF && k != UF_ERROR) {
		if (k != UF_RECORD)
			continue;
		if (user_hash_legacy(u.hash))
			log_warn("warning: %s:%lu: %s: " USER_LEGACY_WARNING,
			    uf.path, uf.lineno, u.name, u.hash);
		(void)record_warn(&uf, &u);
	}
	usersfile_close(&uf);
	return r;
}

static int
cmd_compile(const struct paths *p, int argc, char **argv)
{
	const char	*failed;
	int		 fd, r = 0;

	(void)argv;
	if (argc != 1)
		return -1;
	if ((fd = lock(p)) == -1)
		return EXIT_TEMP;
	if (usersfile_install(p->file, p->db, &failed) == -1) {
		if (failed == p->file)
			r = compile_result(p);
		else {
			log_warn("%s: %s", p->db, strerror(errno));
			r = EXIT_TEMP;
		}
	}
	close(fd);
	return r;
}

static int
cmd_import(const struct paths *p, int argc, char **argv)
{
	return import_command(p->file, p->db, argc, argv);
}

static const struct command commands[] = {
	{ "add", cmd_add,
	    "add [-e days|NEVER] [-l seconds] [-U format] name uid gid home"
	    " [maildrop]" },
	{ "mod", cmd_mod,
	    "mod [-e days|NEVER|-] [-l seconds|-] [-U format|-] name" },
	{ "passwd", cmd_passwd,
	    "passwd [-s] [-m yescrypt|sha512|bcrypt] name" },
	{ "apop", cmd_apop, "apop [-cs] name" },
	{ "import", cmd_import, "import [-n|-w] [-os] [-m method] [-u uid]"
	    " [-g gid] [-h home]\n           (-D passwd-file | [-P passwd]"
	    " [-S shadow] -y) [name ...]" },
	{ "delete", cmd_delete, "delete name" },
	{ "list", cmd_list, "list" },
	{ "check", cmd_check, "check" },
	{ "compile", cmd_compile, "compile" },
	{ NULL, NULL, NULL }
};

int
main(int argc, char **argv)
{
	static char	file[PATH_MAX], db[PATH_MAX];
	struct paths	p = { NULL, NULL };
	size_t		i;
	int		ch, r;

	log_init(argv[0]);
	log_cli();
	version_help(argc, argv, "pop3d-users", USAGE);
	while ((ch = getopt(argc, argv, "+d:f:")) != -1) {
		if (ch == 'd')
			p.db = optarg;
		else if (ch == 'f')
			p.file = optarg;
		else
			cli_usage(SYNOPSIS, "command [args ...]");
	}
	if ((p.db == NULL && setting_path(USERDB_PATH_ENV,
	    USERDB_PATH_DEFAULT, &p.db) == -1) || (p.file == NULL &&
	    setting_path(USERSFILE_PATH_ENV, USERSFILE_PATH_DEFAULT,
	    &p.file) == -1))
		exit(EXIT_USAGE);
	/* Every message names its file by its absolute path. */
	p.db = log_abspath(p.db, db, sizeof(db));
	p.file = log_abspath(p.file, file, sizeof(file));
	argc -= optind;
	argv += optind;
	i = cli_command(commands, sizeof(commands[0]), argc, argv, SYNOPSIS,
	    "add|mod|passwd|apop|import|delete|list|check|compile ...");
	optind = 0;	/* glibc: start over for the command's options */
	if ((r = commands[i].run(&p, argc, argv)) == -1)
		cli_usage(SYNOPSIS, commands[i].usage);
	return r;
}

/*
 * "pop3d-check login": the real pop3d-auth, with the user name and
 * password on fd 3 as the front writes them, and pop3d-check
 * --report-maildrop as its next stage, which reports and changes nothing.
 */
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "passwd.h"
#include "pop3d_limits.h"
#include "user.h"
#include "userdb.h"

/* The password: from the terminal without echo, or stdin's first line. */
static int
read_password(char *buf, size_t n)
{
	struct termios	 old, quiet;
	int		 tty = isatty(STDIN_FILENO);
	size_t		 len;

	if (tty) {
		if (tcgetattr(STDIN_FILENO, &old) == -1)
			return -1;
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1)
			return -1;
		/* After the flush: what is typed at the prompt is kept. */
		fprintf(stderr, "Password: ");
		fflush(stderr);
	}
	if (fgets(buf, (int)n, stdin) == NULL)
		buf[0] = '\0';
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	return 0;
}

/* The method of a crypt(3) hash, by its prefix (passwd.c's table). */
static const char *
scheme(const char *hash)
{
	const char	*m;

	if (user_hash_locked(hash))
		return "locked (no password can match)";
	if ((m = passwd_method(hash)) != NULL)
		return m;
	return "of another crypt(3) method";
}

/* This program's own path, to run as the next stage. */
static void
self_path(char *buf, size_t n, const char *argv0, char *auth, size_t an)
{
	ssize_t	len = readlink("/proc/self/exe", buf, n - 1);
	char	*slash;

	if (len <= 0)
		len = (ssize_t)strlen(strncpy(buf, argv0, n - 1));
	buf[len] = '\0';
	/* pop3d-auth from the same folder, else from PATH. */
	if ((slash = strrchr(buf, '/')) != NULL &&
	    (size_t)(slash - buf) + sizeof("/pop3d-auth") <= an) {
		memcpy(auth, buf, (size_t)(slash - buf));
		strcpy(auth + (slash - buf), "/pop3d-auth");
		if (access(auth, X_OK) == 0)
			return;
	}
	snprintf(auth, an, "pop3d-auth");
}

/* What the users database holds for name: 0, or EXIT_ERRORS unopened. */
static int
login_lookup(const char *name)
{
	static struct userdb	 db;
	struct user		 u;
	const char		*path = check_value("POP3D_USERS_CDB"), *why;
	int			 r;

	if (userdb_open(&db, path) == -1) {
		say("error", "users", "cannot open users database %s: %s",
		    path, errno == EINVAL ? db.why : strerror(errno));
		return EXIT_ERRORS;
	}
	r = userdb_lookup(&db, name, &u, &why);
	if (r == -1)
		say("error", "user", "%s: %s", name, why);
	else if (r == 0)
		say("error", "user", "%s: not in %s", name, path);
	else
		say("ok", "user", "%s: found in %s: uid %lu, gid %lu, home %s,"
		    " password %s%s%s%s%s%s", name, path, (unsigned long)u.uid,
		    (unsigned long)u.gid, u.home, scheme(u.hash),
		    u.apop != NULL ? ", APOP secret set" : "",
		    u.expire != NULL ? ", expire " : "",
		    u.expire != NULL ? u.expire : "",
		    u.login_delay != NULL ? ", login-delay " : "",
		    u.login_delay != NULL ? u.login_delay : "");
	userdb_close(&db);
	return 0;
}

/*
 * The checkpassword input for name and the password read from the
 * terminal or stdin into cred (CHECKPASSWORD_MAX): 0 and its length in
 * *len, or an exit code.
 */
static int
login_cred(const char *name, char *cred, size_t *len)
{
	char	pw[CHECKPASSWORD_MAX + 2];
	size_t	ulen, plen;

	if (read_password(pw, sizeof(pw)) == -1) {
		say("error", "password", "cannot read: %s", strerror(errno));
		return EXIT_CANNOT;
	}
	ulen = strlen(name);
	plen = strlen(pw);
	if (ulen + plen + 3 > CHECKPASSWORD_MAX) {
		explicit_bzero(pw, sizeof(pw));
		say("error", "password", "user and password longer than %d"
		    " octets", CHECKPASSWORD_MAX);
		return EXIT_ERRORS;
	}
	memcpy(cred, name, ulen + 1);
	memcpy(cred + ulen + 1, pw, plen + 1);
	cred[ulen + plen + 2] = '\0';
	explicit_bzero(pw, sizeof(pw));
	*len = ulen + plen + 3;
	return 0;
}

/*
 * Runs auth with args, cred on its fd 3, and waits for it: 0 and its
 * *status, or an exit code.  cred is wiped.
 */
static int
login_run(const char *auth, char **args, char *cred, size_t len,
    int *status)
{
	pid_t	pid;
	int	p[2];

	fflush(stdout);
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		explicit_bzero(cred, len);
		say("error", "auth", "cannot start %s: %s", auth,
		    strerror(errno));
		return EXIT_CANNOT;
	}
	if (pid == 0) {
		close(p[1]);
		if (p[0] != 3 && (dup2(p[0], 3) == -1 || close(p[0]) == -1))
			_exit(EXIT_CANNOT);
		/* No front to tell: pop3d-auth then says nothing on fd 4. */
		unsetenv("POP3D_AUTH_OK_FD");
		if (setenv("AUTHMECH", "USER", 1) == -1)
			_exit(EXIT_CANNOT);
		execvp(auth, args);
		log_warn("cannot run %s: %s", auth, strerror(errno));
		_exit(EXIT_CANNOT);
	}
	close(p[0]);
	/* A short write shows as pop3d-auth's misuse exit: said after. */
	signal(SIGPIPE, SIG_IGN);
	while (write(p[1], cred, len) == -1 && errno == EINTR)
		;
	close(p[1]);
	explicit_bzero(cred, len);
	while (waitpid(pid, status, 0) == -1)
		if (errno != EINTR) {
			say("error", "auth", "wait: %s", strerror(errno));
			return EXIT_CANNOT;
		}
	return 0;
}

/* What auth's exit status says of name's login: 0, or EXIT_ERRORS. */
static int
login_status(const char *auth, const char *name, int status)
{
	if (!WIFEXITED(status)) {
		say("error", "auth", "%s died of signal %d", auth,
		    WTERMSIG(status));
		return EXIT_ERRORS;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		return 0;
	case 1:
		say("error", "auth", "%s: refused: unknown user, wrong password"
		    " or locked account (its log line above says which)", name);
		break;
	case 2:
		say("error", "auth", "%s: misuse (its log line above)", auth);
		break;
	default:
		say("error", "auth", "%s: exit %d: a temporary failure (its"
		    " log line above says which)", name, WEXITSTATUS(status));
	}
	return EXIT_ERRORS;
}

int
check_login(const char *argv0, const char *name, const char *maildir)
{
	char	cred[CHECKPASSWORD_MAX];
	char	self[PATH_MAX], auth[PATH_MAX];
	char	*args[] = { auth, self, "--report-maildrop", (char *)maildir,
		    NULL };
	size_t	len;
	int	status, r;

	if ((r = login_lookup(name)) != 0 ||
	    (r = login_cred(name, cred, &len)) != 0)
		return r;
	self_path(self, sizeof(self), argv0, auth, sizeof(auth));
	if ((r = login_run(auth, args, cred, len, &status)) != 0 ||
	    (r = login_status(auth, name, status)) != 0)
		return r;
	return check_errors() > 0 ? EXIT_ERRORS : 0;
}

/* Messages of a Maildir folder: its entries but dot files. */
static long
count_dir(const char *maildrop, const char *sub)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*e;
	long		 n = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", maildrop, sub) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * The EXPIRE and LOGIN-DELAY that pop3d-maildrop would enforce and
 * advertise after this login: the user's own, which pop3d-auth has put
 * in the environment, else the spawner's (a rule's are not applied here).
 */
static void
policy_report(void)
{
	const char	*e = getenv("POP3D_EXPIRE");
	const char	*d = getenv("POP3D_LOGIN_DELAY");

	say("ok", "policy", "EXPIRE %s, LOGIN-DELAY %s",
	    e != NULL && *e != '\0' ? e : "none",
	    d != NULL && *d != '\0' ? d : "none");
}

/*
 * The next stage of "login": run by pop3d-auth as the user, in the home.
 * Reports and changes nothing: no rename from new to cur, no index.
 * The maildrop as pop3d-maildrop chooses it.
 */
int
check_report_maildrop(int argc, char **argv)
{
	const char	*env = getenv("MAILDROP"), *home = getenv("HOME");
	const char	*md;
	char		 cwd[PATH_MAX], full[PATH_MAX * 2];
	long		 nnew, ncur;

	/* The user's own (MAILDROP) wins; the argument is the default. */
	md = env != NULL && *env != '\0' ? env : argc > 2 ? argv[2] :
	    "Maildir";
	say("ok", "auth", "%s: password accepted; running as uid %lu, gid"
	    " %lu", getenv("USER") != NULL ? getenv("USER") : "?",
	    (unsigned long)getuid(), (unsigned long)getgid());
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), "%s", home != NULL ? home : "?");
	say("ok", "home", "%s", cwd);
	policy_report();
	nnew = count_dir(md, "new");
	ncur = nnew == -1 ? -1 : count_dir(md, "cur");
	if (nnew == -1 || ncur == -1) {
		say("error", "maildrop", "%s%s%s: %s", md[0] == '/' ? "" : cwd,
		    md[0] == '/' ? "" : "/", md, strerror(errno));
		return EXIT_ERRORS;
	}
	say("ok", "maildrop", "%s%s%s: %ld messages (%ld new, %ld cur)",
	    md[0] == '/' ? "" : cwd, md[0] == '/' ? "" : "/", md,
	    nnew + ncur, nnew, ncur);
	if (md[0] == '/')
		check_locks("maildrop", md);
	else if ((size_t)snprintf(full, sizeof(full), "%s/%s", cwd, md) <
	    sizeof(full))
		check_locks("maildrop", full);
	return 0;
}

/*
 * pop3d-check: the configuration as the chain would see it, checked with
 * the chain's own code (pop3d-check.8).  One line per check, "ok", "warn"
 * or "error", the thing checked, a colon and the detail; exit 0 when no
 * check found an error, 1 when one did, 2 for misuse, 111 when a check
 * could not run at all.
 *
 * It reads every setting through the table of lib/settings.c, opens the
 * databases with the readers pop3d-auth and the front use, checks the
 * directories with privdrop_prepare and statedir_own, and tests a login
 * by running the real pop3d-auth with itself (--report-maildrop) as the
 * next stage, which reports the maildrop and changes nothing.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "cdbcheck.h"
#include "log.h"
#include "penalty.h"
#include "pop3d_limits.h"
#include "privdrop.h"
#include "rules.h"
#include "settings.h"
#include "user.h"
#include "userdb.h"

#define EXIT_ERRORS	1
#define EXIT_USAGE	2
#define EXIT_CANNOT	111

/* A certificate that expires sooner than this many days is a warning. */
#define CERT_WARN_DAYS	30

static int	errors;

/* The lines the reused modules log, kept for the check that failed. */
static char	logged[512];

static void
sink(const char *p, size_t n)
{
	size_t	have = strlen(logged);

	if (have > 0 && have + 2 < sizeof(logged)) {
		memcpy(logged + have, "; ", 2);
		have += 2;
	}
	if (n > sizeof(logged) - have - 1)
		n = sizeof(logged) - have - 1;
	memcpy(logged + have, p, n);
	logged[have + n] = '\0';
}

/*
 * One line: "ok|warn|error what: detail".  Control characters of names
 * from the environment or a file are shown as '?', so a line stays one.
 */
static void __attribute__((format(printf, 3, 4)))
say(const char *level, const char *what, const char *fmt, ...)
{
	char	buf[1024], *p;
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (strcmp(level, "error") == 0)
		errors++;
	printf("%s %s: %s\n", level, what, buf);
	fflush(stdout);
}

/* Misuse: on stderr, exit 2; --help: on stdout, exit 0. */
static void __attribute__((noreturn))
usage_to(FILE *f, int code)
{
	fprintf(f, "usage: pop3d-check [check] [address]\n"
	    "       pop3d-check settings [address]\n"
	    "       pop3d-check login user [maildir]\n"
	    "       pop3d-check --help\n");
	exit(code);
}

static void __attribute__((noreturn))
usage(void)
{
	usage_to(stderr, EXIT_USAGE);
}

/* A setting's value now: the environment's, else the table's default. */
static const char *
value_of(const char *name)
{
	const struct setting	*s = setting_find(name);
	const char		*v = getenv(name);

	if (v != NULL && *v != '\0')
		return v;
	return s != NULL ? setting_default_text(s) : NULL;
}

/* ---- settings ---- */

/* Levenshtein distance, small: for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, prev, cur, d[64];

	if (la >= 64 || lb >= 64)
		return 64;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (cur + 1 < d[j])
				d[j] = cur + 1;
			prev = cur;
		}
	}
	return d[lb];
}

/*
 * The one POP3D_ name outside the table: pop3d exports it to the chain
 * (pop3d-auth.8), so a check run from inside a chain may see it.
 */
static int
chain_name(const char *name)
{
	return strcmp(name, "POP3D_PREAUTH_UID") == 0;
}

/* Every POP3D_ name of the environment that no program reads. */
static void
check_unknown(void)
{
	extern char		**environ;
	const struct setting	*s, *best;
	char			 name[128];
	size_t			 i, n, d, bestd;

	for (i = 0; environ[i] != NULL; i++) {
		if (strncmp(environ[i], "POP3D_", 6) != 0)
			continue;
		n = strcspn(environ[i], "=");
		if (n >= sizeof(name) - 8)
			n = sizeof(name) - 9;
		memcpy(name, environ[i], n);
		name[n] = '\0';
		if (setting_find(name) != NULL || chain_name(name))
			continue;
		best = NULL;
		bestd = 4;
		for (n = 0; (s = setting_at(n)) != NULL; n++)
			if ((d = distance(name, s->name)) < bestd) {
				bestd = d;
				best = s;
			}
		memmove(name + 8, name, strlen(name) + 1);
		memcpy(name, "setting ", 8);
		if (best != NULL)
			say("error", name, "unknown setting, no program reads it"
			    " (did you mean %s?)", best->name);
		else
			say("error", name, "unknown setting, no program reads it"
			    " (pop3d-check(8) lists them)");
	}
}

/* The rule for address, into r: 1, 0 for none, -1 after an error line. */
static int
rule_for(const char *address, struct rule *r)
{
	struct rulesdb	 db;
	struct addr	 a;
	const char	*path = value_of("POP3D_RULES");
	int		 n;

	if (addr_parse(address, &a) == -1) {
		say("error", "address", "%s: not an IPv4 or IPv6 address",
		    address);
		return -1;
	}
	if (path == NULL || *path == '\0') {
		say("ok", "rule", "%s: none (POP3D_RULES is empty)", address);
		return 0;
	}
	if ((n = rulesdb_open(&db, path)) != 0) {
		say("error", "rule", "%s: %s: %s", address, path, n == -2 ?
		    "damaged or not a pop3d rules database" : strerror(errno));
		return -1;
	}
	n = rulesdb_lookup(&db, &a, r);
	rulesdb_close(&db);
	if (n < 0) {
		say("error", "rule", "%s: %s: %s", address, path, n == -2 ?
		    "damaged record" : strerror(errno));
		return -1;
	}
	if (n == 0)
		say("ok", "rule", "%s: no rule matches (allowed, no settings)",
		    address);
	else
		say("ok", "rule", "%s: line %lu, pattern \"%s\", %s", address,
		    r->line, r->pattern, r->action == RULE_DENY ? "deny" :
		    "allow");
	return n;
}

/*
 * Every setting of the table with its value and where it came from, each
 * checked with setting_check; with address, the rule's settings over the
 * environment, as the front applies them.
 */
static void
check_settings(const char *address)
{
	static struct rule	 r;
	const struct setting	*s;
	const char		*v, *from;
	char			 why[256], num[32], what[64], rule[40];
	size_t			 i, j, n;
	int			 have = 0;

	check_unknown();
	if (address != NULL && (have = rule_for(address, &r)) == 1 &&
	    r.action != RULE_DENY && rule_settings_check(&r, why,
	    sizeof(why)) == -1)
		say("error", "rule", "line %lu: %s", r.line, why);
	for (i = 0; (s = setting_at(i)) != NULL; i++) {
		v = getenv(s->name);
		from = "environment";
		for (j = 0; have == 1 && j < r.nsettings; j++) {
			n = strcspn(r.settings[j], "=");
			if (strncmp(r.settings[j], s->name, n) == 0 &&
			    s->name[n] == '\0') {
				v = r.settings[j] + n + 1;
				snprintf(rule, sizeof(rule), "rule line %lu",
				    r.line);
				from = rule;
			}
		}
		snprintf(what, sizeof(what), "setting %s", s->name);
		if (v != NULL && *v != '\0') {
			if (setting_check(s, v, why, sizeof(why)) == -1)
				say("error", what, "%s (%s): %s", v, from, why);
			else
				say("ok", what, "%s (%s)", v, from);
			continue;
		}
		if (s->kind == SETTING_NUM && s->def != SETTING_UNSET) {
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)s->def);
			v = num;
		} else
			v = setting_default_text(s);
		say("ok", what, "%s (default)", v != NULL ? v : "unset");
	}
	/* Its bad values are the lines above; the combinations are not. */
	if (settings_env_check(why, sizeof(why)) == -1 &&
	    strstr(why, "must be") == NULL)
		say("error", "settings", "%s", why);
}

/* ---- databases ---- */

/*
 * Is the database at least as new as its text file?  A text file edited
 * after the last compile is not in force.
 */
static void
check_fresh(const char *what, const char *db, const char *text,
    const char *how)
{
	struct stat	sd, st;

	if (text == NULL || stat(text, &st) == -1) {
		say("ok", what, "%s: no text file %s to compare with", db,
		    text != NULL ? text : "named");
		return;
	}
	if (stat(db, &sd) == -1)
		return;
	if (st.st_mtim.tv_sec > sd.st_mtim.tv_sec ||
	    (st.st_mtim.tv_sec == sd.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec > sd.st_mtim.tv_nsec))
		say("error", what, "%s is older than %s: run %s", db, text,
		    how);
	else
		say("ok", what, "%s is not older than %s", db, text);
}

/* The uids of the mail users, for the pre-login user's check. */
static uid_t	*mail_uids;
static size_t	 mail_nuids;

static void
check_users(void)
{
	static struct userdb	 db;
	struct user		 u;
	const unsigned char	*k, *v;
	unsigned		 pos = 2048, klen, vlen;
	unsigned long		 n = 0;
	const char		*path = value_of("POP3D_USERS_CDB"), *why;
	char			 name[USERS_LINE_MAX + 1];
	uid_t			*more;
	int			 r;

	if (userdb_open(&db, path) == -1) {
		say("error", "users", "cannot open users database %s: %s",
		    path, errno == EINVAL ? db.why : strerror(errno));
		return;
	}
	if (cdbcheck_verify(&db.cdb, &n) != 0) {
		say("error", "users", "%s: damaged: run pop3d-users compile",
		    path);
		userdb_close(&db);
		return;
	}
	n = 0;
	while ((r = cdbcheck_next(&db.cdb, &pos, &k, &klen, &v, &vlen)) == 1) {
		if (klen == 0 || k[0] == '\0')
			continue;
		if (vlen > USERS_LINE_MAX || klen >= sizeof(name)) {
			r = -2;
			break;
		}
		/* Its own copy: the lookup compares it with the record's. */
		memcpy(name, k, klen);
		name[klen] = '\0';
		if ((r = userdb_lookup(&db, name, &u, &why)) != 1) {
			say("error", "users", "%s: user %.*s: %s", path,
			    (int)klen, (const char *)k, why != NULL ? why :
			    "record not found");
			continue;
		}
		n++;
		if ((more = reallocarray(mail_uids, mail_nuids + 1,
		    sizeof(*more))) == NULL)
			die(EXIT_CANNOT, "%s", strerror(errno));
		mail_uids = more;
		mail_uids[mail_nuids++] = u.uid;
	}
	userdb_close(&db);
	if (r == -2)
		say("error", "users", "%s: damaged record: run pop3d-users"
		    " compile", path);
	else
		say("ok", "users", "%s: %lu users", path, n);
	check_fresh("users", path, value_of("POP3D_USERS_FILE"),
	    "pop3d-users compile");
}

static int
count_rule(const struct rule_block *b, const struct rule *r, void *arg)
{
	(void)b;
	(void)r;
	(*(unsigned long *)arg)++;
	return 0;
}

static void
check_rules(void)
{
	struct rulesdb	 db;
	const char	*env = getenv("POP3D_RULES"), *path;
	char		 text[PATH_MAX];
	unsigned long	 n = 0;
	size_t		 len;
	int		 r;

	if (env != NULL && *env == '\0') {
		say("ok", "rules", "POP3D_RULES is empty: no rules");
		return;
	}
	path = value_of("POP3D_RULES");
	if ((r = rulesdb_open(&db, path)) == -1 && errno == ENOENT &&
	    env == NULL) {
		say("warn", "rules", "%s: missing: every address is allowed",
		    path);
		return;
	}
	if (r == -1) {
		say("error", "rules", "cannot open rules database %s: %s",
		    path, strerror(errno));
		return;
	}
	if (r == -2) {
		say("error", "rules", "%s: damaged, or not a pop3d rules"
		    " database of this version: run pop3d-rules compile",
		    path);
		return;
	}
	r = rulesdb_walk(&db, count_rule, &n);
	rulesdb_close(&db);
	if (r != 0) {
		say("error", "rules", "%s: damaged record: run pop3d-rules"
		    " compile", path);
		return;
	}
	say("ok", "rules", "%s: %lu rule records", path, n);
	/* rules.cdb is compiled from rules (pop3d-rules.8). */
	len = strlen(path);
	if (len > 4 && len < sizeof(text) &&
	    strcmp(path + len - 4, ".cdb") == 0) {
		memcpy(text, path, len - 4);
		text[len - 4] = '\0';
		check_fresh("rules", path, text, "pop3d-rules compile");
	}
}

/* ---- directories and the pre-login user ---- */

static void
check_chroot(void)
{
	struct privdrop	 pd;
	const char	*user = value_of("POP3D_PREAUTH_USER");
	const char	*dir = value_of("POP3D_CHROOT");
	const char	*given = getenv("POP3D_PREAUTH_USER");
	struct passwd	*pw;
	size_t		 i;

	logged[0] = '\0';
	if (privdrop_prepare(&pd, user, dir) == -1) {
		say("error", "chroot", "%s: %s", dir, logged);
		return;
	}
	if (!pd.root) {
		say("warn", "chroot", "%s: not checked: not run as root (the"
		    " programs chroot only when started as root)", dir);
		return;
	}
	say("ok", "chroot", "%s: a directory owned by root, writable by no"
	    " one else", dir);
	if ((pw = getpwnam(user)) == NULL)
		say("error", "preauth-user", "no user %s: the pre-login"
		    " processes would run as nobody", user);
	if (strcmp(pd.user, "nobody") == 0 && (given == NULL ||
	    strcmp(given, "nobody") != 0))
		say("error", "preauth-user", "nobody: shared with other"
		    " services; create the user %s (or set"
		    " POP3D_PREAUTH_USER=nobody to accept it)", user);
	else if (strcmp(pd.user, "nobody") == 0)
		say("warn", "preauth-user", "nobody (POP3D_PREAUTH_USER):"
		    " shared with other services");
	for (i = 0; i < mail_nuids; i++)
		if (mail_uids[i] == pd.uid) {
			say("error", "preauth-user", "%s: uid %lu is a mail"
			    " user's uid: pop3d-auth refuses its logins and"
			    " the pre-login processes could signal its"
			    " sessions", pd.user, (unsigned long)pd.uid);
			return;
		}
	say("ok", "preauth-user", "%s: uid %lu, gid %lu, no mail user's uid",
	    pd.user, (unsigned long)pd.uid, (unsigned long)pd.gid);
}

static void
check_statedir(void)
{
	const char	*dir = value_of("POP3D_STATE_DIR");
	struct stat	 st;

	if (lstat(dir, &st) == -1 && errno == ENOENT) {
		say("warn", "state-dir", "%s: missing: the front makes it"
		    " (mode 0700) at its first connection", dir);
		return;
	}
	if (statedir_own(dir) == -1) {
		say("error", "state-dir", "%s: %s", dir, errno == EPERM ?
		    "must be owned by the uid the front runs as and writable"
		    " by no one else" : errno == ELOOP ?
		    "a symbolic link" : strerror(errno));
		return;
	}
	say("ok", "state-dir", "%s: owned by uid %lu, writable by no one"
	    " else", dir, (unsigned long)geteuid());
}

/* ---- the certificate and key ---- */

static const char *
ssl_error(void)
{
	static char	buf[256];
	unsigned long	e = ERR_get_error();

	if (e == 0)
		return "not in PEM form";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* The names a certificate covers: its DNS subjectAltNames, else its CN. */
static void
cert_names(X509 *x, char *out, size_t n)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	const unsigned char	*d;
	char			 cn[256];
	int			 i;

	out[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(g->d.dNSName);
		snprintf(out + strlen(out), n - strlen(out), "%s%.*s",
		    out[0] != '\0' ? "," : "",
		    ASN1_STRING_length(g->d.dNSName), (const char *)d);
	}
	GENERAL_NAMES_free(gens);
	if (out[0] == '\0' && X509_NAME_get_text_by_NID(
	    X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
		snprintf(out, n, "CN=%s", cn);
}

static void
check_pair(const char *cert, const char *key)
{
	struct stat	 st;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	FILE		*f;
	char		 names[512];
	int		 days = 0, secs = 0;

	if ((f = fopen(cert, "re")) == NULL) {
		say("error", "tls-cert", "cannot open %s: %s", cert,
		    strerror(errno));
		goto out;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		say("error", "tls-cert", "%s: not a certificate: %s", cert,
		    ssl_error());
		goto out;
	}
	if ((f = fopen(key, "re")) == NULL) {
		say("error", "tls-key", "cannot open %s: %s", key,
		    strerror(errno));
		goto out;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		say("warn", "tls-key", "%s: mode %03o: readable by others than"
		    " its owner", key, (unsigned)(st.st_mode & 0777));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		say("error", "tls-key", "%s: not a private key: %s", key,
		    ssl_error());
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		say("error", "tls-key", "%s does not match the certificate %s",
		    key, cert);
		goto out;
	}
	say("ok", "tls-key", "%s matches %s", key, cert);
	cert_names(x, names, sizeof(names));
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		say("error", "tls-cert", "%s: unreadable expiry date", cert);
	else if (days < 0 || secs < 0)
		say("error", "tls-cert", "%s: expired %d days ago (names %s)",
		    cert, -days, names);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		say("error", "tls-cert", "%s: not valid yet (names %s)", cert,
		    names);
	else
		say(days < CERT_WARN_DAYS ? "warn" : "ok", "tls-cert",
		    "%s: names %s, expires in %d days", cert, names, days);
out:
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
check_tls(void)
{
	const char	*cert = getenv("POP3D_TLS_CERT");
	const char	*key = getenv("POP3D_TLS_KEY");
	const char	*pairs = getenv("POP3D_TLS_KEYPAIRS");
	char		 buf[TLS_KEYPAIRS_TEXT_MAX + 1], *item, *last, *colon;
	int		 c = cert != NULL && *cert != '\0';
	int		 k = key != NULL && *key != '\0';

	if (c != k) {
		say("error", "tls", "%s set without %s: STLS and the TLS port"
		    " would not work", c ? "POP3D_TLS_CERT" : "POP3D_TLS_KEY",
		    c ? "POP3D_TLS_KEY" : "POP3D_TLS_CERT");
		return;
	}
	if (!c)
		say("ok", "tls", "no certificate: STLS is not offered");
	else
		check_pair(cert, key);
	if (pairs == NULL || *pairs == '\0' || strlen(pairs) >= sizeof(buf))
		return;
	strcpy(buf, pairs);
	for (item = strtok_r(buf, " \t\r\n", &last); item != NULL;
	    item = strtok_r(NULL, " \t\r\n", &last)) {
		if ((colon = strchr(item, ':')) == NULL) {
			say("error", "tls", "POP3D_TLS_KEYPAIRS item %s is not"
			    " cert:key", item);
			continue;
		}
		*colon = '\0';
		check_pair(item, colon + 1);
	}
}

/* ---- login ---- */

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

/* The scheme of a crypt(3) hash, by its prefix. */
static const char *
scheme(const char *hash)
{
	if (user_hash_locked(hash))
		return "locked (no password can match)";
	if (strncmp(hash, "$y$", 3) == 0)
		return "yescrypt";
	if (strncmp(hash, "$gy$", 4) == 0)
		return "gost-yescrypt";
	if (strncmp(hash, "$7$", 3) == 0)
		return "scrypt";
	if (strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0 ||
	    strncmp(hash, "$2a$", 4) == 0)
		return "bcrypt";
	if (strncmp(hash, "$6$", 3) == 0)
		return "sha512crypt";
	if (strncmp(hash, "$5$", 3) == 0)
		return "sha256crypt";
	if (strncmp(hash, "$1$", 3) == 0)
		return "md5crypt (weak)";
	return "unknown";
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

static int
check_login(const char *argv0, const char *name, const char *maildir)
{
	static struct userdb	 db;
	struct user		 u;
	const char		*path = value_of("POP3D_USERS_CDB"), *why;
	char			 pw[CHECKPASSWORD_MAX + 2], cred[CHECKPASSWORD_MAX];
	char			 self[PATH_MAX], auth[PATH_MAX];
	char			*args[6];
	size_t			 ulen, plen;
	pid_t			 pid;
	int			 p[2], status, r;

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
		    " password %s%s", name, path, (unsigned long)u.uid,
		    (unsigned long)u.gid, u.home, scheme(u.hash),
		    u.apop != NULL ? ", APOP secret set" : "");
	userdb_close(&db);
	if (read_password(pw, sizeof(pw)) == -1) {
		say("error", "password", "cannot read: %s", strerror(errno));
		return EXIT_CANNOT;
	}
	ulen = strlen(name);
	plen = strlen(pw);
	if (ulen + plen + 3 > sizeof(cred)) {
		explicit_bzero(pw, sizeof(pw));
		say("error", "password", "user and password longer than %d"
		    " octets", CHECKPASSWORD_MAX);
		return EXIT_ERRORS;
	}
	memcpy(cred, name, ulen + 1);
	memcpy(cred + ulen + 1, pw, plen + 1);
	cred[ulen + plen + 2] = '\0';
	explicit_bzero(pw, sizeof(pw));
	self_path(self, sizeof(self), argv0, auth, sizeof(auth));
	args[0] = auth;
	args[1] = self;
	args[2] = "--report-maildrop";
	args[3] = (char *)maildir;
	args[4] = NULL;
	fflush(stdout);
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		explicit_bzero(cred, sizeof(cred));
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
	/* A short write shows as pop3d-auth's misuse exit: said below. */
	signal(SIGPIPE, SIG_IGN);
	while (write(p[1], cred, ulen + plen + 3) == -1 && errno == EINTR)
		;
	close(p[1]);
	explicit_bzero(cred, sizeof(cred));
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			say("error", "auth", "wait: %s", strerror(errno));
			return EXIT_CANNOT;
		}
	if (!WIFEXITED(status)) {
		say("error", "auth", "%s died of signal %d", auth,
		    WTERMSIG(status));
		return EXIT_ERRORS;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		break;
	case 1:
		say("error", "auth", "%s: refused: unknown user, wrong password"
		    " or locked account (its log line above says which)", name);
		return EXIT_ERRORS;
	case 2:
		say("error", "auth", "%s: misuse (its log line above)", auth);
		return EXIT_ERRORS;
	default:
		say("error", "auth", "%s: exit %d: a temporary failure (its"
		    " log line above says which)", name, WEXITSTATUS(status));
		return EXIT_ERRORS;
	}
	return errors > 0 ? EXIT_ERRORS : 0;
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
 * The next stage of "login": run by pop3d-auth as the user, in the home.
 * Reports and changes nothing: no rename from new to cur, no index.
 * The maildrop as pop3d-maildrop chooses it.
 */
static int
report_maildrop(int argc, char **argv)
{
	const char	*env = getenv("MAILDROP"), *md, *home = getenv("HOME");
	char		 cwd[PATH_MAX];
	long		 nnew, ncur;

	md = argc > 2 ? argv[2] : env != NULL && *env != '\0' ? env :
	    "Maildir";
	say("ok", "auth", "%s: password accepted; running as uid %lu, gid"
	    " %lu", getenv("USER") != NULL ? getenv("USER") : "?",
	    (unsigned long)getuid(), (unsigned long)getgid());
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), "%s", home != NULL ? home : "?");
	say("ok", "home", "%s", cwd);
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
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*cmd = argc > 1 ? argv[1] : "check";

	log_init(argv[0]);
	if (argc == 2 && strcmp(cmd, "--help") == 0)
		usage_to(stdout, 0);
	if (argc > 1 && strcmp(cmd, "--report-maildrop") == 0) {
		if (argc > 3)
			usage();
		return report_maildrop(argc, argv);
	}
	log_to_sink(sink);
	if (strcmp(cmd, "login") == 0) {
		if (argc < 3 || argc > 4)
			usage();
		return check_login(argv[0], argv[2], argc > 3 ? argv[3] :
		    NULL);
	}
	if (strcmp(cmd, "settings") == 0) {
		if (argc > 3)
			usage();
		check_settings(argc > 2 ? argv[2] : NULL);
		return errors > 0 ? EXIT_ERRORS : 0;
	}
	if (strcmp(cmd, "check") == 0) {
		argv++;
		argc--;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		usage();
	check_settings(argc > 1 ? argv[1] : NULL);
	check_users();
	check_rules();
	check_chroot();
	check_statedir();
	check_tls();
	return errors > 0 ? EXIT_ERRORS : 0;
}

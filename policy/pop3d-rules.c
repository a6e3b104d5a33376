/*
 * pop3d-rules: compiles the rules file to rules.cdb, lists and queries it,
 * and shows and clears the penalty box (pop3d-rules.8, pop3d-rules.5).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "num.h"
#include "penalty.h"
#include "pop3d_limits.h"
#include "rules.h"
#include "settings.h"
#include "statedir.h"
#include "version.h"

/* Exit codes (pop3d-rules.8). */
#define EXIT_DATA	1	/* the rules file or an address is wrong */
#define EXIT_USAGE	2	/* bad command line */
#define EXIT_TEMP	111	/* a system error, or a corrupt database */

/* The layout the front uses too (pop3d.8). */
#define RULES_FILE_DEFAULT	"/etc/pop3d/rules"
#define RULES_CDB_DEFAULT	"/etc/pop3d/rules.cdb"
#define RULES_CDB_ENV		"POP3D_RULES"
#define STATE_DIR_DEFAULT	"/var/lib/pop3d"
#define STATE_DIR_ENV		"POP3D_STATE_DIR"

struct paths {
	const char	*file;
	const char	*db;		/* NULL: POP3D_RULES empty, no rules */
	int		 db_optional;	/* the default: may be missing */
	const char	*state;
	char		 penalty[PATH_MAX];
	char		 conn[PATH_MAX];
};

struct command {
	const char	*name;
	int		 (*run)(struct paths *, int, char **);
	const char	*usage;
};

#define USAGE \
	"usage: pop3d-rules [-f rules] [-d rules.cdb] [-s statedir] command" \
	" [args ...]\n" \
	"       pop3d-rules --help | --version\n" \
	"  -f rules      the rules text file (default /etc/pop3d/rules)\n" \
	"  -d rules.cdb  the compiled database (POP3D_RULES, else\n" \
	"                /etc/pop3d/rules.cdb)\n" \
	"  -s statedir   the penalty box's directory (POP3D_STATE_DIR, else\n" \
	"                /var/lib/pop3d)\n" \
	"commands:\n" \
	"  compile\n" \
	"  check\n" \
	"  list\n" \
	"  query address\n" \
	"  penalty list | penalty clear address|all\n" \
	"See pop3d-rules(8) and pop3d-rules(5).\n"

#define SYNOPSIS "pop3d-rules [-f rules] [-d rules.cdb] [-s statedir]"

/* A value from the database or the penalty box, one printable line. */
static void
print_text(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			putchar(*p);
		else
			printf("\\x%02x", *p);
}

static void
print_time(time_t t)
{
	struct tm	tm;
	char		buf[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		printf("%lld", (long long)t);
	else
		fputs(buf, stdout);
}

static void
print_block(const struct rule_block *b)
{
	char	text[ADDR_TEXT_MAX];

	addr_format(&b->prefix, text, sizeof(text));
	printf("%s/%d", text, b->len);
}

/* stdout written whole, or the system error's exit code. */
static int
flushed(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("standard output: %s", strerror(errno));
		return EXIT_TEMP;
	}
	return code;
}

/* What rules_compile's failure means for the exit code. */
static int
compile_result(const char *err)
{
	int	data = errno == EINVAL;

	log_warn("%s", err);
	return data ? EXIT_DATA : EXIT_TEMP;
}

/* POP3D_RULES set but empty, and no -d: there is no database to use. */
static int
no_db(const struct paths *p)
{
	if (p->db != NULL)
		return 0;
	log_warn("POP3D_RULES is empty (no rules): name a database with -d");
	return 1;
}

/* compile, and check: the same without writing the database. */
static int
cmd_compile(struct paths *p, int argc, char **argv)
{
	char		err[512];
	unsigned long	n;
	int		check = strcmp(argv[0], "check") == 0;

	if (argc != 1)
		return -1;
	if (!check && no_db(p))
		return EXIT_USAGE;
	if (rules_compile(p->file, check ? NULL : p->db, &n, err,
	    sizeof(err)) == -1)
		return compile_result(err);
	if (check)
		printf("checked %lu records in %s\n", n, p->file);
	else
		printf("compiled %lu records from %s into %s\n", n, p->file,
		    p->db);
	return flushed(0);
}

/* rulesdb_open's failure, reported: the exit code. */
static int
open_result(const struct paths *p, int r)
{
	if (r == -2)
		log_warn("%s: not a pop3d rules database, or a corrupt one",
		    p->db);
	else
		log_warn("%s: %s", p->db, strerror(errno));
	return EXIT_TEMP;
}

static void
print_settings(const struct rule *r, const char *before)
{
	size_t	i;

	for (i = 0; i < r->nsettings; i++) {
		fputs(before, stdout);
		print_text(r->settings[i]);
		if (*before != ' ')
			putchar('\n');
	}
}

static int
list_one(const struct rule_block *b, const struct rule *r, void *arg)
{
	(void)arg;
	print_block(b);
	printf(" %s line %lu pattern \"%s\"",
	    r->action == RULE_ALLOW ? "allow" : "deny", r->line, r->pattern);
	print_settings(r, " ");
	putchar('\n');
	return 0;
}

static int
cmd_list(struct paths *p, int argc, char **argv)
{
	struct rulesdb	db;
	int		r;

	(void)argv;
	if (argc != 1)
		return -1;
	if (no_db(p))
		return EXIT_USAGE;
	if ((r = rulesdb_open(&db, p->db)) != 0)
		return open_result(p, r);
	r = rulesdb_walk(&db, list_one, NULL);
	rulesdb_close(&db);
	if (r != 0) {
		log_warn("%s: corrupt record", p->db);
		fflush(stdout);
		return EXIT_TEMP;
	}
	return flushed(0);
}

/*
 * An address argument, canonical (a mapped IPv6 address is IPv4), and the
 * name of its state: for IPv6 its POP3D_PENALTY_PREFIX6 prefix (pop3d.8).
 */
static int
address_arg(const char *s, struct addr *a, char *text, char *key)
{
	uint64_t	prefix6;

	if (addr_parse(s, a) == -1) {
		log_warn("bad address: %s", s);
		return -1;
	}
	addr_format(a, text, ADDR_TEXT_MAX);
	if (setting_num("POP3D_PENALTY_PREFIX6", &prefix6) == -1)
		exit(EXIT_TEMP);
	addr_state_key(a, (int)prefix6, key, ADDR_TEXT_MAX);
	return 0;
}

/*
 * The "action" line of a rule, as the front would act: deny; refused,
 * when the front would refuse a setting of the rule (from a database
 * compiled before pop3d-rules checked them) or the settings it leaves in
 * force, the rule's over this program's environment (the front's may
 * differ); else allow.  0, or EXIT_DATA for a refusal.
 */
static int
query_action(const struct rule *r)
{
	char	why[256];

	if (r->action == RULE_DENY) {
		printf("action deny\n");
		return 0;
	}
	if (rule_settings_check(r, why, sizeof(why)) == -1) {
		fputs("action refused [SYS/TEMP]: bad setting in rule line ",
		    stdout);
		printf("%lu: ", r->line);
		print_text(why);
		putchar('\n');
		return EXIT_DATA;
	}
	if (rule_env(r) == -1) {
		log_warn("setenv: %s", strerror(errno));
		exit(EXIT_TEMP);
	}
	if (settings_env_check(why, sizeof(why)) == -1) {
		fputs("action refused [SYS/TEMP]: ", stdout);
		print_text(why);
		fputs(" (with this environment)\n", stdout);
		return EXIT_DATA;
	}
	printf("action allow\n");
	return 0;
}

/* The "rule" and "action" lines of query.  0 or an exit code. */
static int
query_rule(const struct paths *p, const struct addr *a)
{
	struct rulesdb		 db;
	struct rule		*r;
	struct rule_block	 b;
	int			 found, saved;

	/* As the front (pop3d.8, POP3D_RULES) would have it. */
	if (p->db == NULL) {
		printf("rule none (POP3D_RULES is empty: no rules)\n"
		    "action allow\n");
		return 0;
	}
	if ((found = rulesdb_open(&db, p->db)) == -1 && errno == ENOENT &&
	    p->db_optional) {
		printf("rule none (no database: allowed)\naction allow\n");
		return 0;
	}
	if (found != 0) {
		saved = errno;
		printf("rule unavailable (%s)\naction refused [SYS/TEMP]\n",
		    found == -2 ? "corrupt database" : strerror(saved));
		errno = saved;
		return open_result(p, found);
	}
	if ((r = malloc(sizeof(*r))) == NULL) {
		rulesdb_close(&db);
		log_warn("%s", strerror(errno));
		return EXIT_TEMP;
	}
	found = rulesdb_match(&db, a, r, &b);
	rulesdb_close(&db);
	if (found < 0) {
		free(r);
		if (found == -2)
			log_warn("%s: corrupt record", p->db);
		else
			log_warn("%s: %s", p->db, strerror(errno));
		return EXIT_TEMP;
	}
	if (found == 0)
		printf("rule none (no rule matches: allowed)\naction allow\n");
	else {
		fputs("rule ", stdout);
		print_block(&b);
		printf(" line %lu (pattern \"%s\")\n", r->line, r->pattern);
		found = query_action(r);
		print_settings(r, "setting ");
	}
	free(r);
	return found;
}

/* The penalty box's settings as the front reads them (pop3d.8). */
static void
penalty_setup(const struct paths *p, struct penalty_conf *pc)
{
	uint64_t	window;

	if (setting_num("POP3D_PENALTY_WINDOW", &window) == -1)
		exit(EXIT_TEMP);
	memset(pc, 0, sizeof(*pc));
	pc->dir = p->penalty;
	pc->window = (unsigned)window;
	pc->failures = PENALTY_FAILURES_DEFAULT;
	pc->block = PENALTY_BLOCK_DEFAULT;
	pc->hostile = PENALTY_HOSTILE_DEFAULT;
	pc->address_failures = PENALTY_ADDRESS_DEFAULT;
}

static const char *
penalty_why(int why)
{
	return why == PENALTY_HOSTILE ? "hostile input" : "failed logins";
}

/* The "penalty", "penalty-user" and "connections" lines of query. */
static int
query_state(const struct paths *p, const char *text)
{
	struct penalty_conf	pc;
	struct penalty_entry	e;
	size_t			i;
	int			n;

	penalty_setup(p, &pc);
	memset(&e, 0, sizeof(e));
	if (penalty_check(&pc, text, time(NULL), &e) == -1 &&
	    errno != ENOENT) {
		log_warn("%s: %s", p->penalty, strerror(errno));
		return EXIT_TEMP;
	}
	if (e.why != PENALTY_NONE) {
		fputs("penalty blocked until ", stdout);
		print_time(e.until);
		printf(" (%s)\n", penalty_why(e.why));
	} else if (e.failures > 0)
		printf("penalty %u failures in the window\n", e.failures);
	else
		printf("penalty none\n");
	for (i = 0; i < e.nusers && i < PENALTY_USERS_MAX; i++) {
		fputs("penalty-user ", stdout);
		print_text(e.user[i].name);
		fputs(" blocked until ", stdout);
		print_time(e.user[i].until);
		putchar('\n');
	}
	if ((n = conn_slot_count(p->conn, text)) == -1) {
		if (errno != ENOENT) {
			log_warn("%s: %s", p->conn, strerror(errno));
			return EXIT_TEMP;
		}
		n = 0;
	}
	printf("connections %d\n", n);
	return 0;
}

static int
cmd_query(struct paths *p, int argc, char **argv)
{
	struct addr	a;
	char		text[ADDR_TEXT_MAX], key[ADDR_TEXT_MAX];
	int		r, s = 0;

	if (argc != 2)
		return -1;
	if (address_arg(argv[1], &a, text, key) == -1)
		return EXIT_DATA;
	printf("address %s\n", text);
	if (strcmp(key, text) != 0)
		printf("key %s\n", key);
	/* A refused rule (EXIT_DATA) still shows the address's state. */
	if (((r = query_rule(p, &a)) != 0 && r != EXIT_DATA) ||
	    (s = query_state(p, key)) != 0) {
		fflush(stdout);
		return r != 0 && r != EXIT_DATA ? r : s;
	}
	return flushed(r);
}

static int
penalty_one(const struct penalty_entry *e, void *arg)
{
	size_t	i;

	(void)arg;
	print_text(e->addr);
	printf(" %s ", e->why == PENALTY_HOSTILE ? "hostile" :
	    e->why == PENALTY_FAILURES ? "blocked" : "open");
	if (e->why != PENALTY_NONE)
		print_time(e->until);
	else
		putchar('-');
	printf(" %u ", e->failures);
	if (e->nusers == 0)
		putchar('-');
	for (i = 0; i < e->nusers && i < PENALTY_USERS_MAX; i++) {
		if (i > 0)
			putchar(',');
		print_text(e->user[i].name);
	}
	putchar('\n');
	return 0;
}

static int
penalty_cmd_list(struct paths *p)
{
	struct penalty_conf	pc;

	penalty_setup(p, &pc);
	if (penalty_list(p->penalty, pc.window, time(NULL), penalty_one,
	    NULL) == -1) {
		fflush(stdout);
		log_warn("%s: %s", p->penalty, strerror(errno));
		return EXIT_TEMP;
	}
	return flushed(0);
}

static int
penalty_cmd_clear(struct paths *p, const char *arg)
{
	struct addr	 a;
	char		 text[ADDR_TEXT_MAX], key[ADDR_TEXT_MAX];
	long		 n;
	int		 all = strcmp(arg, "all") == 0;

	if (!all && address_arg(arg, &a, text, key) == -1)
		return EXIT_DATA;
	if ((n = penalty_clear(p->penalty, all ? NULL : key)) == -1) {
		if (!all && errno == ENOENT) {
			log_warn("no penalty record for %s", key);
			return EXIT_DATA;
		}
		log_warn("%s: %s", p->penalty, strerror(errno));
		return EXIT_TEMP;
	}
	printf("cleared %ld record%s\n", n, n == 1 ? "" : "s");
	return flushed(0);
}

static int
cmd_penalty(struct paths *p, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return penalty_cmd_list(p);
	if (argc == 3 && strcmp(argv[1], "clear") == 0)
		return penalty_cmd_clear(p, argv[2]);
	return -1;
}

static const struct command commands[] = {
	{ "compile", cmd_compile, "compile" },
	{ "check", cmd_compile, "check" },
	{ "list", cmd_list, "list" },
	{ "query", cmd_query, "query address" },
	{ "penalty", cmd_penalty, "penalty list | penalty clear address|all" },
	{ NULL, NULL, NULL }
};

/* statedir/part into dst, or a usage error for a path too long. */
static void
state_path(char *dst, const char *dir, const char *part)
{
	if (statedir_path(dst, dir, part) == -1) {
		log_warn("state directory too long: %s", dir);
		exit(EXIT_USAGE);
	}
}

int
main(int argc, char **argv)
{
	static char	file[PATH_MAX], db[PATH_MAX], state[PATH_MAX];
	struct paths	p;
	const char	*env;
	size_t		i;
	int		ch, r;

	log_init(argv[0]);
	log_cli();
	version_help(argc, argv, "pop3d-rules", USAGE);
	memset(&p, 0, sizeof(p));
	p.file = RULES_FILE_DEFAULT;
	if ((env = getenv(RULES_CDB_ENV)) == NULL) {
		p.db = RULES_CDB_DEFAULT;
		p.db_optional = 1;
	} else
		p.db = *env != '\0' ? env : NULL;
	while ((ch = getopt(argc, argv, "+d:f:s:")) != -1) {
		if (ch == 'd') {
			p.db = optarg;
			p.db_optional = 0;
		}
		else if (ch == 'f')
			p.file = optarg;
		else if (ch == 's')
			p.state = optarg;
		else
			cli_usage(SYNOPSIS, "command [args ...]");
	}
	if (p.state == NULL && setting_path(STATE_DIR_ENV, STATE_DIR_DEFAULT,
	    &p.state) == -1)
		exit(EXIT_TEMP);
	/* Every message names its file by its absolute path. */
	p.file = log_abspath(p.file, file, sizeof(file));
	p.db = log_abspath(p.db, db, sizeof(db));
	p.state = log_abspath(p.state, state, sizeof(state));
	argc -= optind;
	argv += optind;
	i = cli_command(commands, sizeof(commands[0]), argc, argv, SYNOPSIS,
	    "compile|check|list|query|penalty ...");
	state_path(p.penalty, p.state, "penalty");
	state_path(p.conn, p.state, "conn");
	if ((r = commands[i].run(&p, argc, argv)) == -1)
		cli_usage(SYNOPSIS, commands[i].usage);
	return r;
}

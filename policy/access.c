/*
 * The access policy: rules.cdb, the penalty box and the
 * per-address connection limit (see access.h and pop3d.8).
 *
 * Failure modes are chosen per part: a rules database that is configured
 * but cannot be read refuses every connection, because a silent allow
 * would open what the operator closed.  A state directory that cannot be
 * used (made here when missing) is logged on each connection; clients are
 * still greeted, but no login is tried that the penalty box could not
 * count: guessing must not get free while the disk is full.  An operator
 * turns the box off explicitly (POP3D_STATE_DIR empty).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "conn.h"
#include "ipc.h"
#include "log.h"
#include "num.h"
#include "rules.h"
#include "settings.h"
#include "statedir.h"

#define DEFAULT_RULES		"/etc/pop3d/rules.cdb"
#define DEFAULT_STATE_DIR	"/var/lib/pop3d"

/* A one-line answer before any greeting, as a->code says; then an exit. */
static void
answer(const struct access *a, const char *line)
{
	char	buf[POP3_REPLY_MAX];
	int	n;

	if (a->code == NULL)
		return;
	if (strcmp(a->code, ACCESS_POP3) != 0) {
		line += strcspn(line, " ") + 1;		/* "-ERR " */
		if (*line == '[')
			line += strcspn(line, " ") + 1;	/* "[SYS/PERM] " */
		n = snprintf(buf, sizeof(buf), "%s %s\r\n", a->code, line);
	} else
		n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	if (n > 0 && (size_t)n < sizeof(buf) &&
	    write(STDOUT_FILENO, buf, (size_t)n) == -1)
		return;		/* the client is gone: nothing to tell */
}

/*
 * The rules cannot be obeyed: logged (with the rule's line when one has a
 * setting the front refuses, from a database compiled before pop3d-rules
 * checked them, so that the log says which rule to mend), and refused.
 */
static void __attribute__((noreturn))
rules_broken(struct access *a, const char *path, const struct rule *r,
    const char *why, int err)
{
	struct logline	l;

	a->end = "rules-error";
	logline_start(&l, "rules-error");
	logline_path(&l, "file", path);
	if (r != NULL) {
		logline_num(&l, "line", r->line);
		logline_str(&l, "rule", r->pattern);
	}
	logline_str(&l, "error", err ? strerror(err) : why);
	logline_emit(&l);
	answer(a, r != NULL ? "-ERR [SYS/TEMP] server misconfigured" :
	    "-ERR [SYS/TEMP] access rules unavailable; try again later");
	exit(111);
}

/* The rule that matched: a deny ends the connection, else its settings. */
static void
rules_obey(struct access *a, const char *path, const struct rule *rule)
{
	struct logline	 l;
	char		 why[256];

	if (rule->action == RULE_DENY) {
		logline_start(&l, "deny");
		logline_str(&l, "remote", a->remote);
		logline_str(&l, "rule", rule->pattern);
		logline_num(&l, "line", rule->line);
		logline_emit(&l);
		a->end = "deny";
		answer(a, "-ERR [SYS/PERM] access denied");
		exit(0);
	}
	if (rule_settings_check(rule, why, sizeof(why)) == -1)
		rules_broken(a, path, rule, why, 0);
	if (rule_env(rule) == -1)
		die(111, "setenv: %s", strerror(errno));
}

void
access_rules(struct access *a, const char *remote)
{
	struct rulesdb	 db;
	struct rule	*rule;
	const char	*path = getenv("POP3D_RULES");
	int		 optional = path == NULL, r;

	a->remote = remote;
	a->slot = -1;
	a->token.fd = -1;
	a->known = addr_parse(remote, &a->addr) == 0;
	if (path == NULL)
		path = DEFAULT_RULES;
	if (*path == '\0')
		return;
	if ((r = rulesdb_open(&db, path)) == -1 && errno == ENOENT &&
	    optional)
		return;
	if (r == -1)
		rules_broken(a, path, NULL, NULL, errno);
	if (r == -2)
		rules_broken(a, path, NULL, "not a pop3d rules database of this "
		    "version, or a damaged one: run pop3d-rules compile", 0);
	/*
	 * A rule is some 35 KB: mapped and unmapped, its pages go back to
	 * the kernel, not to a stack or heap that a session idling for
	 * hours would keep.
	 */
	rule = mmap(NULL, sizeof(*rule), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rule == MAP_FAILED)
		rules_broken(a, path, NULL, NULL, errno);
	r = rulesdb_lookup(&db, a->known ? &a->addr : NULL, rule);
	rulesdb_close(&db);
	if (r == -1)
		rules_broken(a, path, NULL, NULL, errno);
	if (r == -2)
		rules_broken(a, path, NULL, "damaged: run pop3d-rules compile", 0);
	if (r == 1)
		rules_obey(a, path, rule);
	munmap(rule, sizeof(*rule));
}

int
access_settings(struct access *a)
{
	struct penalty_conf	*pc = &a->pc;
	const char		*dir = getenv("POP3D_STATE_DIR"), *scope;
	const char		*unknown, *checked;
	uint64_t		 fail, win, block, hostile, addrmax, per, p6;
	int			 bad = 0;

	bad |= setting_num("POP3D_PENALTY_FAILURES", &fail) == -1;
	bad |= setting_num("POP3D_PENALTY_WINDOW", &win) == -1;
	bad |= setting_num("POP3D_PENALTY_BLOCK", &block) == -1;
	bad |= setting_num("POP3D_PENALTY_HOSTILE", &hostile) == -1;
	bad |= setting_num("POP3D_PENALTY_ADDRESS_FAILURES", &addrmax) == -1;
	bad |= setting_num("POP3D_MAX_PER_ADDRESS", &per) == -1;
	bad |= setting_num("POP3D_PENALTY_PREFIX6", &p6) == -1;
	bad |= setting_text("POP3D_PENALTY_SCOPE", &scope) == -1;
	bad |= setting_text("POP3D_UNKNOWN_PEER", &unknown) == -1;
	bad |= setting_text("POP3D_STATE_DIR", &checked) == -1;
	if (bad)
		return -1;
	pc->failures = (unsigned)fail;
	pc->window = (unsigned)win;
	pc->block = (unsigned)block;
	pc->hostile = (unsigned)hostile;
	pc->address_failures = (unsigned)addrmax;
	pc->per_user = scope != NULL && strcmp(scope, "user") == 0;
	a->per_address = (unsigned)per;
	a->unknown_ok = unknown != NULL && strcmp(unknown, "allow") == 0;
	if (a->known)
		addr_state_key(&a->addr, (int)p6, a->key, sizeof(a->key));
	if (dir == NULL)
		dir = DEFAULT_STATE_DIR;
	pc->dir = NULL;
	strcpy(a->state_dir, dir);	/* the table's bound: it fits */
	if (*dir != '\0') {
		if (statedir_path(a->penalty_dir, dir, "penalty") == 0 &&
		    statedir_path(a->conn_dir, dir, "conn") == 0)
			pc->dir = a->penalty_dir;
		else
			log_warn("POP3D_STATE_DIR too long: penalty box off");
	}
	return 0;
}

/* How to mend a state directory statedir_own refused, for the log. */
static const char *
state_fix(int err)
{
	switch (err) {
	case ELOOP:
		return "make it a real directory, not a symbolic link";
	case EPERM:
		return "chown it to the front's uid and chmod 0700 it";
	case ENOTDIR:
		return "make it a directory";
	default:
		return NULL;
	}
}

/* A state directory that cannot be used: logged by its absolute path. */
static void
state_unusable(const char *dir, int err)
{
	struct logline	l;
	const char	*fix = state_fix(err);

	logline_start(&l, "state-error");
	logline_path(&l, "file", dir);
	logline_str(&l, "error", strerror(err));
	if (fix != NULL)
		logline_str(&l, "fix", fix);
	logline_emit(&l);
}

/*
 * The state directory and its parts exist (made here on first use, mode
 * 0700) and are the front's alone, checked as every penalty box operation
 * checks its own directory, but strictly (owned by this uid even for
 * root): whoever could write the state directory could rename the penalty
 * box away and lift every block.  Else the penalty box is off for this
 * connection, logged; a login is then refused (access_login).
 */
static int
state_ready(struct access *a)
{
	const char	*dirs[3] = { a->state_dir, a->penalty_dir, a->conn_dir };
	size_t		 i;

	if (a->pc.dir == NULL || !a->known)
		return 0;
	for (i = 0; i < 3; i++)
		if (statedir_own(dirs[i]) == -1) {
			state_unusable(dirs[i], errno);
			a->broken = 1;
			return 0;
		}
	return 1;
}

/*
 * An unknown peer would go past the penalty box and the connection limit:
 * refused, unless the operator said the spawner vouches for its peers.
 */
static void
unknown_peer(struct access *a)
{
	struct logline	l;

	logline_start(&l, "unknown-peer");
	logline_str(&l, "remote", a->remote);
	logline_str(&l, "action", a->unknown_ok ? "allow" : "refuse");
	if (a->unknown_ok)
		logline_str(&l, "note", "no penalty box, no connection limit");
	logline_emit(&l);
	if (a->unknown_ok)
		return;
	a->end = "unknown-peer";
	answer(a, "-ERR [SYS/TEMP] your address is unknown; try again later");
	exit(111);
}

static void
penalty_broken(const struct access *a, int err)
{
	log_file("penalty-error", a->penalty_dir, err);
}

static void
blocked_log(const struct access *a, const char *why, time_t until,
    const char *user)
{
	struct logline	l;
	time_t		now = time(NULL);

	logline_start(&l, "blocked");
	logline_str(&l, "remote", a->remote);
	if (strcmp(a->key, a->remote) != 0)
		logline_str(&l, "key", a->key);
	if (user != NULL)
		logline_str(&l, "user", user);
	logline_str(&l, "why", why);
	if (until != 0)		/* 0: not known here */
		logline_num(&l, "seconds", until > now ?
		    (uint64_t)(until - now) : 0);
	logline_emit(&l);
}

void
access_admit(struct access *a)
{
	struct penalty_entry	e;
	struct logline		l;
	int			r;

	if (!a->known && (a->pc.dir != NULL || a->per_address != 0))
		unknown_peer(a);
	if (!state_ready(a))
		return;
	if (penalty_check(&a->pc, a->key, time(NULL), &e) == -1)
		penalty_broken(a, errno);
	else if (e.why != PENALTY_NONE) {
		blocked_log(a, e.why == PENALTY_HOSTILE ? "hostile" :
		    "failures", e.until, NULL);
		answer(a, e.why == PENALTY_HOSTILE ?
		    "-ERR [SYS/TEMP] your address is blocked after hostile"
		    " input; try again later" :
		    "-ERR [LOGIN-DELAY] too many failed logins from your"
		    " address; try again later");
		a->end = "blocked";
		exit(0);
	}
	if (a->per_address == 0)
		return;
	if ((r = conn_slot_take_which(a->conn_dir, a->key, a->per_address,
	    &a->slot, &a->slot_octet)) == -1)
		log_file("conn-error", a->conn_dir, errno);
	else if (r == 0) {
		logline_start(&l, "limit");
		logline_str(&l, "remote", a->remote);
		if (strcmp(a->key, a->remote) != 0)
			logline_str(&l, "key", a->key);
		logline_num(&l, "max", a->per_address);
		logline_emit(&l);
		a->end = "limit";
		answer(a, "-ERR [SYS/TEMP] too many connections from your"
		    " address; try again later");
		exit(0);
	}
}

/*
 * Counts a login: -1 when the penalty box cannot, else the state.  Logins
 * in flight at the threshold (PENALTY_BUSY) are waited out in a queue, in
 * turn and asleep (penalty_attempt_wait): a burst of good logins (an
 * office polling on the full minute) queues for milliseconds, while
 * guesses gain nothing by it.
 */
static int
login_attempt(struct access *a, const char *user, int *state)
{
	return penalty_attempt_wait(&a->pc, a->key, user, LOGIN_BUSY_WAIT_MS,
	    state, &a->token);
}

char
access_login(struct access *a, const char *user)
{
	int	state;

	a->attempt = 0;
	if (a->pc.dir == NULL || !a->known)
		return 0;
	/* No login that the penalty box could not count. */
	if (a->broken || login_attempt(a, user, &state) == -1) {
		if (!a->broken)
			penalty_broken(a, errno);
		return VERDICT_TEMP;
	}
	switch (state) {
	case PENALTY_NONE:
		a->attempt = a->pc.failures != 0;
		return 0;
	case PENALTY_USER:
		blocked_log(a, "user-failures", 0, user);
		return VERDICT_DELAY;
	case PENALTY_BUSY:
		blocked_log(a, "busy", 0, user);
		return VERDICT_BUSY;
	default:
		/* Another connection from here had it blocked meanwhile. */
		blocked_log(a, state == PENALTY_HOSTILE ? "hostile" :
		    "failures", 0, NULL);
		return VERDICT_BLOCK;
	}
}

char
access_settle(struct access *a, const char *user, int failed)
{
	time_t	now = time(NULL);
	int	blocked = 0;

	if (!a->attempt)
		return 0;
	a->attempt = 0;
	if (penalty_settle(&a->pc, a->key, user, &a->token, now, failed,
	    &blocked) == -1) {
		penalty_broken(a, errno);
		return failed ? VERDICT_LAST : 0;
	}
	if (penalty_sweep(&a->pc, now) == -1)
		penalty_broken(a, errno);
	if (blocked == PENALTY_FAILURES) {
		blocked_log(a, "failures", now + a->pc.block, NULL);
		return VERDICT_BLOCK;
	}
	if (blocked == -1)
		blocked_log(a, "user-failures", now + a->pc.block, user);
	return 0;
}

void
access_end(struct access *a)
{
	if (a->slot == -1)
		return;
	if (conn_slot_release(a->conn_dir, a->key, a->slot) == -1 ||
	    conn_sweep(a->conn_dir, time(NULL)) == -1)
		log_file("conn-error", a->conn_dir, errno);
	a->slot = -1;
}

void
access_handover(struct access *a)
{
	if (a->slot != -1 && conn_sweep(a->conn_dir, time(NULL)) == -1)
		log_file("conn-error", a->conn_dir, errno);
}

void
access_hostile(struct access *a)
{
	if (a->pc.dir == NULL || !a->known || a->pc.hostile == 0)
		return;
	if (penalty_hostile(&a->pc, a->key, time(NULL)) == -1)
		penalty_broken(a, errno);
	else
		blocked_log(a, "hostile", time(NULL) + a->pc.hostile, NULL);
}

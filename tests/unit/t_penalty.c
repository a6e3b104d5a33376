/*
 * The penalty box and the connection slots (policy/penalty*.c, conn.c).
 * Time is passed in, so nothing sleeps; concurrency is real processes.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "check.h"
#include "conn.h"
#include "penalty.h"
#include "penalty_record.h"
#include "statedir.h"

#define ADDR	"192.0.2.1"
#define T0	1000000
#define DAY	PENALTY_WINDOW_MAX	/* the longest window a rule sets */

/* A record with nothing live in it. */
#define DEAD	"pop3d-penalty 1\nfail 1 0000000000000001\nend\n"

static char	base[64];

/* A child's end: killed, or a minute on should the tester die first. */
static void __attribute__((noreturn))
hold(void)
{
	alarm(60);
	for (;;)
		pause();
}

/* A fresh directory under base with the default settings. */
static void
conf_new(struct penalty_conf *c, const char *name)
{
	static char	dirs[64][128];
	static int	ndirs;
	char		*d = dirs[ndirs++ % 64];

	snprintf(d, sizeof(dirs[0]), "%s/%s", base, name);
	c->dir = d;
	c->failures = 3;
	c->window = 600;
	c->block = 900;
	c->hostile = 3600;
	c->per_user = 0;
	c->address_failures = 10;
}

/* A failure with no attempt before it: penalty_settle without a token. */
static int
fail1(const struct penalty_conf *c, const char *addr, const char *user,
    time_t now, int *blocked)
{
	struct penalty_token	t = { 0, -1, 0 };

	return penalty_settle(c, addr, user, &t, now, 1, blocked);
}

/* Is user blocked from addr: 1 and *until, 0, or -1 (penalty_check). */
static int
check_user(const struct penalty_conf *c, const char *addr, const char *user,
    time_t now, time_t *until)
{
	struct penalty_entry	e;
	size_t			i;

	if (penalty_check(c, addr, now, &e) == -1)
		return -1;
	for (i = 0; i < e.nusers; i++)
		if (strcmp(e.user[i].name, user) == 0) {
			*until = e.user[i].until;
			return 1;
		}
	return 0;
}

/* n failures of user at now: the last *blocked, or -9 on an error. */
static int
fail_n(const struct penalty_conf *c, const char *addr, const char *user,
    time_t now, int n)
{
	int	blocked = 0;

	while (n-- > 0)
		if (fail1(c, addr, user, now, &blocked) == -1)
			return -9;
	return blocked;
}

static int
why_at(const struct penalty_conf *c, const char *addr, time_t now)
{
	struct penalty_entry	e;

	if (penalty_check(c, addr, now, &e) == -1)
		return -1;
	return e.why;
}

static long
failures_at(const struct penalty_conf *c, const char *addr, time_t now)
{
	struct penalty_entry	e;

	if (penalty_check(c, addr, now, &e) == -1)
		return -1;
	return e.failures;
}

static int
user_blocked(const struct penalty_conf *c, const char *addr,
    const char *user, time_t now)
{
	time_t	until;

	return check_user(c, addr, user, now, &until);
}

/*
 * An attempt's state, or -9 on an error; *token when one began.  Without
 * token, the attempt's slot is held until the tester ends.
 */
static int
try_at(const struct penalty_conf *c, const char *addr, const char *user,
    time_t now, struct penalty_token *token)
{
	struct penalty_token	t;
	int			state;

	if (penalty_attempt(c, addr, user, now, &state, &t) == -1)
		return -9;
	if (token != NULL)
		*token = t;
	return state;
}

/* Settles an attempt: *blocked, or -9 on an error. */
static int
settle(const struct penalty_conf *c, const char *addr, const char *user,
    struct penalty_token *token, time_t now, int failed)
{
	int	blocked;

	if (penalty_settle(c, addr, user, token, now, failed, &blocked) == -1)
		return -9;
	return blocked;
}

static long
attempts_at(const struct penalty_conf *c, const char *addr, time_t now)
{
	struct penalty_entry	e;

	if (penalty_check(c, addr, now, &e) == -1)
		return -1;
	return e.attempts;
}

static const char *
path_of(const char *dir, const char *name)
{
	static char	path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int
exists(const char *dir, const char *name)
{
	return access(path_of(dir, name), F_OK) == 0;
}

/* The file's text (NUL-terminated) into buf: its length, or -1. */
static long
slurp(const char *dir, const char *name, char *buf, size_t n)
{
	ssize_t	len;
	int	fd;

	if ((fd = open(path_of(dir, name), O_RDONLY)) == -1)
		return -1;
	len = read(fd, buf, n - 1);
	close(fd);
	if (len >= 0)
		buf[len] = '\0';
	return len;
}

static int
put(const char *dir, const char *name, const char *text, size_t len)
{
	int	fd, ok;

	mkdir(dir, 0700);
	fd = open(path_of(dir, name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

static void
test_empty(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	time_t			until;

	conf_new(&c, "empty");
	/* No directory yet: nothing is blocked, and nothing is created. */
	CHECK(penalty_check(&c, ADDR, T0, &e) == 0 && e.why == PENALTY_NONE);
	CHECK(e.until == 0 && e.failures == 0 && e.nusers == 0);
	CHECK_STR(e.addr, ADDR);
	CHECK(check_user(&c, ADDR, "alice", T0, &until) == 0);
	CHECK(access(c.dir, F_OK) == -1);
	mkdir(c.dir, 0700);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	CHECK(failures_at(&c, ADDR, T0) == 0);
}

static void
test_threshold(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	char			buf[4096];

	conf_new(&c, "threshold");
	CHECK(fail_n(&c, ADDR, "alice", T0, 2) == 0);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	CHECK(failures_at(&c, ADDR, T0) == 2);
	/* The record is text, and holds no user name in address scope. */
	CHECK(slurp(c.dir, ADDR, buf, sizeof(buf)) > 0);
	CHECK(strncmp(buf, "pop3d-penalty 1\n", 16) == 0);
	CHECK(strstr(buf, "alice") == NULL);
	CHECK(fail_n(&c, ADDR, "alice", T0 + 1, 1) == PENALTY_FAILURES);
	CHECK(penalty_check(&c, ADDR, T0 + 1, &e) == 0);
	CHECK(e.why == PENALTY_FAILURES && e.until == T0 + 1 + 900);
	CHECK(why_at(&c, ADDR, T0 + 900) == PENALTY_FAILURES);
	/* Block expiry: the block ends at until. */
	CHECK(why_at(&c, ADDR, T0 + 901) == PENALTY_NONE);
	/* Another address is not touched. */
	CHECK(why_at(&c, "192.0.2.2", T0 + 1) == PENALTY_NONE);
}

static void
test_window(void)
{
	struct penalty_conf	c;

	conf_new(&c, "window");
	CHECK(fail_n(&c, ADDR, "bob", T0, 1) == 0);
	CHECK(fail_n(&c, ADDR, "bob", T0 + 100, 1) == 0);
	CHECK(failures_at(&c, ADDR, T0 + 599) == 2);
	CHECK(failures_at(&c, ADDR, T0 + 600) == 1);
	/* The first has left the window: this third makes two, no block. */
	CHECK(fail_n(&c, ADDR, "bob", T0 + 650, 1) == 0);
	CHECK(why_at(&c, ADDR, T0 + 650) == PENALTY_NONE);
	CHECK(failures_at(&c, ADDR, T0 + 650) == 2);
	CHECK(fail_n(&c, ADDR, "bob", T0 + 660, 1) == PENALTY_FAILURES);
}

static void
test_block_resets(void)
{
	struct penalty_conf	c;

	conf_new(&c, "reset");
	c.block = 100;		/* shorter than the window */
	CHECK(fail_n(&c, ADDR, "carol", T0, 3) == PENALTY_FAILURES);
	CHECK(failures_at(&c, ADDR, T0) == 0);
	CHECK(why_at(&c, ADDR, T0 + 101) == PENALTY_NONE);
	/* The three before the block are forgotten, though in the window. */
	CHECK(fail_n(&c, ADDR, "carol", T0 + 101, 1) == 0);
	CHECK(failures_at(&c, ADDR, T0 + 101) == 1);
	CHECK(why_at(&c, ADDR, T0 + 101) == PENALTY_NONE);
}

static void
test_hostile(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;

	conf_new(&c, "hostile");
	CHECK(penalty_hostile(&c, ADDR, T0) == 0);
	CHECK(penalty_check(&c, ADDR, T0, &e) == 0);
	CHECK(e.why == PENALTY_HOSTILE && e.until == T0 + 3600);
	/* A failures block ending sooner does not shorten it. */
	CHECK(fail_n(&c, ADDR, "dave", T0 + 10, 3) == PENALTY_FAILURES);
	CHECK(penalty_check(&c, ADDR, T0 + 10, &e) == 0);
	CHECK(e.why == PENALTY_HOSTILE && e.until == T0 + 3600);
	/* Nor does a shorter hostile block. */
	c.hostile = 10;
	CHECK(penalty_hostile(&c, ADDR, T0 + 20) == 0);
	CHECK(penalty_check(&c, ADDR, T0 + 20, &e) == 0 && e.until == T0 + 3600);
	CHECK(why_at(&c, ADDR, T0 + 3599) == PENALTY_HOSTILE);
	CHECK(why_at(&c, ADDR, T0 + 3600) == PENALTY_NONE);
	/* A longer failures block does lengthen it. */
	c.block = 7200;
	CHECK(penalty_hostile(&c, "192.0.2.9", T0) == 0);
	CHECK(fail_n(&c, "192.0.2.9", "dave", T0, 3) == PENALTY_FAILURES);
	CHECK(penalty_check(&c, "192.0.2.9", T0, &e) == 0);
	CHECK(e.why == PENALTY_FAILURES && e.until == T0 + 7200);
}

static void
test_per_user(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	time_t			until = 0;
	char			name[16], longname[POP3_USER_MAX + 2];
	int			i;

	conf_new(&c, "peruser");
	c.per_user = 1;
	c.block = 100;		/* shorter than the window */
	CHECK(fail_n(&c, ADDR, "alice", T0, 2) == 0);
	CHECK(fail_n(&c, ADDR, "alice", T0, 1) == -1);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	CHECK(check_user(&c, ADDR, "alice", T0, &until) == 1);
	CHECK(until == T0 + 100);
	CHECK(user_blocked(&c, ADDR, "bob", T0) == 0);
	CHECK(user_blocked(&c, "192.0.2.2", "alice", T0) == 0);
	CHECK(penalty_check(&c, ADDR, T0, &e) == 0 && e.nusers == 1);
	CHECK_STR(e.user[0].name, "alice");
	/* The block ended: alice starts afresh (her count was reset). */
	CHECK(user_blocked(&c, ADDR, "alice", T0 + 99) == 1);
	CHECK(user_blocked(&c, ADDR, "alice", T0 + 100) == 0);
	CHECK(fail_n(&c, ADDR, "alice", T0 + 100, 1) == 0);
	CHECK(user_blocked(&c, ADDR, "alice", T0 + 100) == 0);
	CHECK(fail_n(&c, ADDR, "alice", T0 + 100, 2) == -1);

	/* The address ceiling: 10 failures of any users block it all. */
	conf_new(&c, "ceiling");
	c.per_user = 1;
	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		CHECK(fail_n(&c, ADDR, name, T0, 1) == 0);
	}
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	CHECK(fail_n(&c, ADDR, "u9", T0, 1) == PENALTY_FAILURES);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_FAILURES);
	CHECK(failures_at(&c, ADDR, T0) == 0);

	/* Failures that blocked their user still count towards it. */
	conf_new(&c, "ceiling2");
	c.per_user = 1;
	CHECK(fail_n(&c, ADDR, "a", T0, 3) == -1);
	CHECK(fail_n(&c, ADDR, "b", T0, 3) == -1);
	CHECK(fail_n(&c, ADDR, "c", T0, 3) == -1);
	CHECK(failures_at(&c, ADDR, T0) == 9);
	CHECK(fail_n(&c, ADDR, "d", T0, 1) == PENALTY_FAILURES);

	/* Names with spaces, "%" and controls survive the record. */
	conf_new(&c, "escape");
	c.per_user = 1;
	CHECK(fail_n(&c, ADDR, "a b%c\n\xff", T0, 3) == -1);
	CHECK(user_blocked(&c, ADDR, "a b%c\n\xff", T0) == 1);
	CHECK(user_blocked(&c, ADDR, "a b%c", T0) == 0);
	CHECK(penalty_check(&c, ADDR, T0, &e) == 0 && e.nusers == 1);
	CHECK_STR(e.user[0].name, "a b%c\n\xff");

	/* A name longer than any account's is refused. */
	memset(longname, 'x', POP3_USER_MAX);
	longname[POP3_USER_MAX] = '\0';
	CHECK(fail_n(&c, ADDR, longname, T0, 1) == 0);
	longname[POP3_USER_MAX] = 'x';
	longname[POP3_USER_MAX + 1] = '\0';
	CHECK(fail_n(&c, ADDR, longname, T0, 1) == -9 && errno == EINVAL);
}

static void
test_user_table(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	char			name[16];
	int			i, ok = 1;

	conf_new(&c, "table");
	c.per_user = 1;
	c.failures = 1;
	c.address_failures = 0;		/* no ceiling */
	for (i = 0; i < PENALTY_USERS_MAX; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		if (fail_n(&c, ADDR, name, T0 + i, 1) != -1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(penalty_check(&c, ADDR, T0 + 20, &e) == 0);
	CHECK(e.nusers == PENALTY_USERS_MAX);
	/*
	 * Full: no active block makes room (the old code lifted u0's); the
	 * new name's block becomes the whole address's.
	 */
	CHECK(why_at(&c, ADDR, T0 + 20) == PENALTY_NONE);
	CHECK(fail_n(&c, ADDR, "new", T0 + 20, 1) == PENALTY_FAILURES);
	CHECK(penalty_check(&c, ADDR, T0 + 20, &e) == 0);
	CHECK(e.nusers == PENALTY_USERS_MAX);
	CHECK(user_blocked(&c, ADDR, "new", T0 + 20) == 0);
	CHECK(user_blocked(&c, ADDR, "u0", T0 + 20) == 1);
	CHECK(user_blocked(&c, ADDR, "u1", T0 + 20) == 1);
	CHECK(user_blocked(&c, ADDR, "u15", T0 + 20) == 1);
	CHECK(why_at(&c, ADDR, T0 + 20) == PENALTY_FAILURES);
	/* When blocks end, their slots are free again. */
	CHECK(why_at(&c, ADDR, T0 + 20 + 900) == PENALTY_NONE);
	CHECK(fail_n(&c, ADDR, "later", T0 + 20 + 900, 1) == -1);
	CHECK(user_blocked(&c, ADDR, "later", T0 + 20 + 900) == 1);
}

/*
 * Issue 14: a real user's block outlives failures under any number of
 * other names (the old table lifted it after 16 of them).
 */
static void
test_user_block_kept(void)
{
	struct penalty_conf	c;
	char			name[32];
	int			i, ok = 1, address = 0;

	conf_new(&c, "kept");
	c.per_user = 1;
	c.failures = 2;
	c.address_failures = PENALTY_ADDRESS_MAX;	/* far off */
	CHECK(fail_n(&c, ADDR, "alice", T0, 2) == -1);
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "other%d", i);
		if (fail_n(&c, ADDR, name, T0 + 1 + i, 2) == PENALTY_FAILURES)
			address = 1;
		if (user_blocked(&c, ADDR, "alice", T0 + 1 + i) != 1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(user_blocked(&c, ADDR, "alice", T0 + 50) == 1);
	/* The 16th name past alice found the table full. */
	CHECK(address);
	CHECK(why_at(&c, ADDR, T0 + 50) == PENALTY_FAILURES);
}

/*
 * statedir_own, the front's check of the state directory itself (issue
 * 14): a symbolic link, another uid's directory, one writable by group or
 * other are refused even for root; a missing one is made 0700.
 */
static void
test_statedir_own(void)
{
	char		dir[160], link[160];
	struct stat	st;

	snprintf(dir, sizeof(dir), "%s/own", base);
	snprintf(link, sizeof(link), "%s/own-link", base);
	CHECK(statedir_own(dir) == 0);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(symlink("own", link) == 0);
	CHECK(statedir_own(link) == -1 && errno == ELOOP);
	CHECK(chmod(dir, 0770) == 0);
	CHECK(statedir_own(dir) == -1 && errno == EPERM);
	CHECK(chmod(dir, 0707) == 0);
	CHECK(statedir_own(dir) == -1 && errno == EPERM);
	CHECK(chmod(dir, 0700) == 0);
	CHECK(statedir_own(dir) == 0);
	if (geteuid() == 0) {
		CHECK(chown(dir, 65534, 65534) == 0);
		CHECK(statedir_own(dir) == -1 && errno == EPERM);
		CHECK(chown(dir, 0, 0) == 0);
	}
}

/* The largest record there can be is written and read back whole. */
static void
test_biggest(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	char			name[POP3_USER_MAX + 1];
	static char		big[128 * 1024];
	time_t			now = ((time_t)1 << 40) - 100;
	int			i, ok = 1;

	conf_new(&c, "biggest");
	c.per_user = 1;
	c.failures = 1;
	c.address_failures = 0;
	c.block = 50;
	/*
	 * Failures and attempts of the longest text, then a user block for
	 * each slot.
	 */
	strcpy(big, "pop3d-penalty 1\n");
	for (i = 0; i < PENALTY_ADDRESS_MAX; i++)
		strcat(big, "fail 1099511627676 0000000000000000\n");
	for (i = 0; i < PENALTY_ATTEMPTS_MAX; i++)
		strcat(big, "try 1099511627676 ffffffffffffffff 999\n");
	strcat(big, "end\n");
	CHECK(put(c.dir, ADDR, big, strlen(big)) == 0);
	/* Read whole (not corrupt), but no process holds their slots. */
	CHECK(failures_at(&c, ADDR, now) == PENALTY_ADDRESS_MAX);
	CHECK(attempts_at(&c, ADDR, now) == 0);
	/* Attempts of processes gone make room at once. */
	CHECK(try_at(&c, ADDR, "new", now, NULL) == PENALTY_NONE);
	memset(name, '\x01', POP3_USER_MAX);	/* each octet written as %01 */
	name[POP3_USER_MAX] = '\0';
	for (i = 0; i < PENALTY_USERS_MAX; i++) {
		name[0] = '\x80' + i % PENALTY_USERS_MAX;
		if (fail_n(&c, ADDR, name, now, 1) != -1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(penalty_check(&c, ADDR, now, &e) == 0);
	CHECK(e.failures == PENALTY_ADDRESS_MAX);
	CHECK(e.attempts == 1);
	CHECK(e.nusers == PENALTY_USERS_MAX);
	CHECK(e.user[3].until == now + 50 && strlen(e.user[3].name) == 128);
	CHECK(e.user[3].name[0] == '\x83' && e.user[3].name[127] == 1);
}

static void
test_no_failures(void)
{
	struct penalty_conf	c;

	conf_new(&c, "zero");
	c.failures = 0;
	CHECK(fail_n(&c, ADDR, "eve", T0, 50) == 0);
	CHECK(!exists(c.dir, ADDR));
	CHECK(failures_at(&c, ADDR, T0) == 0);
	c.per_user = 1;
	CHECK(fail_n(&c, ADDR, "eve", T0, 50) == 0);
	CHECK(user_blocked(&c, ADDR, "eve", T0) == 0);
}

static void
test_attempt(void)
{
	struct penalty_conf	c;
	struct penalty_token	tok[4];
	char			before[4096], after[4096];
	int			i, ok = 1;

	/* Exactly N attempts in flight, then busy; nothing recorded. */
	conf_new(&c, "attempt");
	for (i = 0; i < 3; i++)
		if (try_at(&c, ADDR, "alice", T0 + i, &tok[i]) !=
		    PENALTY_NONE || tok[i].when != T0 + i)
			ok = 0;
	CHECK(ok);
	CHECK(attempts_at(&c, ADDR, T0 + 2) == 3);
	CHECK(slurp(c.dir, ADDR, before, sizeof(before)) > 0);
	CHECK(strstr(before, "\ntry 1000000 ") != NULL);
	CHECK(strstr(before, "alice") == NULL);
	CHECK(try_at(&c, ADDR, "bob", T0 + 2, NULL) == PENALTY_BUSY);
	CHECK(slurp(c.dir, ADDR, after, sizeof(after)) > 0);
	CHECK_STR(before, after);
	CHECK(attempts_at(&c, ADDR, T0 + 2) == 3);
	/* A success frees its slot, and records no failure. */
	CHECK(settle(&c, ADDR, "alice", &tok[1], T0 + 3, 0) == 0);
	CHECK(attempts_at(&c, ADDR, T0 + 3) == 2);
	CHECK(failures_at(&c, ADDR, T0 + 3) == 0);
	/* Settled again: the slot went back once; nothing to remove. */
	CHECK(tok[1].fd == -1);
	CHECK(settle(&c, ADDR, "alice", &tok[1], T0 + 3, 0) == 0);
	CHECK(attempts_at(&c, ADDR, T0 + 3) == 2);
	CHECK(try_at(&c, ADDR, "bob", T0 + 3, &tok[1]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "bob", T0 + 3, NULL) == PENALTY_BUSY);
	CHECK(attempts_at(&c, ADDR, T0 + 3) == 3);
	/* Failures count as the attempts did: the third blocks. */
	CHECK(settle(&c, ADDR, "alice", &tok[0], T0 + 4, 1) == 0);
	CHECK(failures_at(&c, ADDR, T0 + 4) == 1);
	CHECK(attempts_at(&c, ADDR, T0 + 4) == 2);
	CHECK(try_at(&c, ADDR, "carol", T0 + 4, NULL) == PENALTY_BUSY);
	CHECK(settle(&c, ADDR, "bob", &tok[1], T0 + 4, 1) == 0);
	CHECK(settle(&c, ADDR, "alice", &tok[2], T0 + 5, 1) ==
	    PENALTY_FAILURES);
	CHECK(why_at(&c, ADDR, T0 + 5) == PENALTY_FAILURES);
	CHECK(attempts_at(&c, ADDR, T0 + 5) == 0);
	/* Blocked: reported, and nothing recorded. */
	CHECK(slurp(c.dir, ADDR, before, sizeof(before)) > 0);
	CHECK(try_at(&c, ADDR, "dave", T0 + 6, &tok[0]) ==
	    PENALTY_FAILURES && tok[0].when == 0);
	CHECK(slurp(c.dir, ADDR, after, sizeof(after)) > 0);
	CHECK_STR(before, after);
	CHECK(penalty_hostile(&c, "192.0.2.2", T0) == 0);
	CHECK(try_at(&c, "192.0.2.2", "dave", T0, NULL) == PENALTY_HOSTILE);
	CHECK(attempts_at(&c, "192.0.2.2", T0) == 0);

	/* Failures recorded before count with the attempts. */
	conf_new(&c, "attempt2");
	CHECK(fail_n(&c, ADDR, "x", T0, 2) == 0);
	CHECK(try_at(&c, ADDR, "x", T0, &tok[0]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "y", T0, NULL) == PENALTY_BUSY);
	/* Two of one user in one second: both settle. */
	conf_new(&c, "attempt3");
	CHECK(try_at(&c, ADDR, "x", T0, &tok[0]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "x", T0, &tok[1]) == PENALTY_NONE);
	CHECK(settle(&c, ADDR, "x", &tok[0], T0, 0) == 0);
	CHECK(settle(&c, ADDR, "x", &tok[1], T0, 0) == 0);
	CHECK(attempts_at(&c, ADDR, T0) == 0);
	/* Nothing left: the record is gone. */
	CHECK(!exists(c.dir, ADDR));

	/* failures 0: no attempt is ever refused or recorded. */
	conf_new(&c, "attempt0");
	c.failures = 0;
	for (i = 0; i < 10; i++)
		if (try_at(&c, ADDR, "x", T0, &tok[0]) != PENALTY_NONE ||
		    settle(&c, ADDR, "x", &tok[0], T0, 1) != 0)
			ok = 0;
	CHECK(ok);
	CHECK(access(c.dir, F_OK) == -1);
}

static void
test_attempt_ttl(void)
{
	struct penalty_conf	c;
	struct penalty_token	tok[3];
	int			i, ok = 1;

	conf_new(&c, "ttl");
	for (i = 0; i < 3; i++)
		if (try_at(&c, ADDR, "x", T0, &tok[i]) != PENALTY_NONE)
			ok = 0;
	CHECK(ok);
	CHECK(try_at(&c, ADDR, "x", T0 + PENALTY_ATTEMPT_TTL - 1, NULL) ==
	    PENALTY_BUSY);
	CHECK(attempts_at(&c, ADDR, T0 + PENALTY_ATTEMPT_TTL - 1) == 3);
	/* Unsettled that long: taken for successes, they stop counting. */
	CHECK(attempts_at(&c, ADDR, T0 + PENALTY_ATTEMPT_TTL) == 0);
	CHECK(try_at(&c, ADDR, "x", T0 + PENALTY_ATTEMPT_TTL, &tok[0]) ==
	    PENALTY_NONE);
	CHECK(attempts_at(&c, ADDR, T0 + PENALTY_ATTEMPT_TTL) == 1);
	/* A late failure of an expired attempt still counts. */
	CHECK(settle(&c, ADDR, "x", &tok[1], T0 + PENALTY_ATTEMPT_TTL, 1) ==
	    0);
	CHECK(failures_at(&c, ADDR, T0 + PENALTY_ATTEMPT_TTL) == 1);
	CHECK(attempts_at(&c, ADDR, T0 + PENALTY_ATTEMPT_TTL) == 1);
	/* The clock went back: an attempt from the future expires too. */
	CHECK(attempts_at(&c, ADDR, T0 + 1) == 1);
	CHECK(attempts_at(&c, ADDR, T0) == 0);
}

/*
 * A process that began an attempt and was killed before settling it holds
 * nothing: its slot is free at once, not PENALTY_ATTEMPT_TTL later.
 */
static void
test_attempt_dead(void)
{
	struct penalty_conf	c;
	struct penalty_token	tok;
	pid_t			pid;
	char			x;
	int			p[2], state, status;

	conf_new(&c, "dead");
	c.failures = 1;
	CHECK(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (penalty_attempt(&c, ADDR, "x", T0, &state, &tok) == -1 ||
		    state != PENALTY_NONE)
			_exit(1);
		x = 'y';
		if (write(p[1], &x, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK(pid > 0 && read(p[0], &x, 1) == 1 && x == 'y');
	close(p[0]);
	CHECK(attempts_at(&c, ADDR, T0) == 1);
	CHECK(try_at(&c, ADDR, "y", T0, NULL) == PENALTY_BUSY);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	/* The same second: no time has passed for a record to expire. */
	CHECK(attempts_at(&c, ADDR, T0) == 0);
	CHECK(try_at(&c, ADDR, "y", T0, &tok) == PENALTY_NONE);
	CHECK(attempts_at(&c, ADDR, T0) == 1);
	CHECK(settle(&c, ADDR, "y", &tok, T0, 0) == 0);
	CHECK(attempts_at(&c, ADDR, T0) == 0);
	/* Nothing left: the record and the slot file are gone. */
	CHECK(!exists(c.dir, ADDR));
	CHECK(!exists(c.dir, "inflight/" ADDR));
}

static void
test_attempt_user(void)
{
	struct penalty_conf	c;
	struct penalty_token	a[2], b[2], k[2];

	conf_new(&c, "tryuser");
	c.per_user = 1;
	c.failures = 2;
	c.address_failures = 5;
	CHECK(try_at(&c, ADDR, "alice", T0, &a[0]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "alice", T0, &a[1]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "alice", T0, NULL) == PENALTY_BUSY);
	/* Others have their own count... */
	CHECK(try_at(&c, ADDR, "bob", T0, &b[0]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "bob", T0, &b[1]) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "carol", T0, &k[0]) == PENALTY_NONE);
	/* ...up to the address's ceiling. */
	CHECK(try_at(&c, ADDR, "carol", T0, NULL) == PENALTY_BUSY);
	CHECK(try_at(&c, ADDR, "dave", T0, NULL) == PENALTY_BUSY);
	CHECK(settle(&c, ADDR, "carol", &k[0], T0, 0) == 0);
	CHECK(try_at(&c, ADDR, "dave", T0, &k[1]) == PENALTY_NONE);
	/* alice's own two failures block her, not the address. */
	CHECK(settle(&c, ADDR, "alice", &a[0], T0 + 1, 1) == 0);
	CHECK(try_at(&c, ADDR, "alice", T0 + 1, NULL) == PENALTY_BUSY);
	CHECK(settle(&c, ADDR, "alice", &a[1], T0 + 1, 1) == -1);
	CHECK(user_blocked(&c, ADDR, "alice", T0 + 1) == 1);
	CHECK(try_at(&c, ADDR, "alice", T0 + 1, &a[0]) == PENALTY_USER &&
	    a[0].when == 0);
	CHECK(attempts_at(&c, ADDR, T0 + 1) == 3);
	CHECK(why_at(&c, ADDR, T0 + 1) == PENALTY_NONE);
	/* 2 failures and 3 attempts: the address ceiling is reached. */
	CHECK(try_at(&c, ADDR, "erin", T0 + 1, NULL) == PENALTY_BUSY);
	CHECK(settle(&c, ADDR, "bob", &b[0], T0 + 2, 1) == 0);
	CHECK(settle(&c, ADDR, "bob", &b[1], T0 + 2, 1) == -1);
	CHECK(settle(&c, ADDR, "dave", &k[1], T0 + 2, 1) == PENALTY_FAILURES);
	CHECK(try_at(&c, ADDR, "erin", T0 + 2, NULL) == PENALTY_FAILURES);

	/* address_failures 0: no ceiling, each user on their own. */
	conf_new(&c, "tryuser0");
	c.per_user = 1;
	c.failures = 1;
	c.address_failures = 0;
	CHECK(try_at(&c, ADDR, "a", T0, NULL) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "b", T0, NULL) == PENALTY_NONE);
	CHECK(try_at(&c, ADDR, "a", T0, NULL) == PENALTY_BUSY);
	CHECK(attempts_at(&c, ADDR, T0) == 2);
}

/*
 * Each child waits for the start, begins an attempt and, when it may
 * check, takes a while as a password check does and fails: exits 1 when
 * it checked, 0 when refused, 255 on an error.
 */
static int
guesser(const struct penalty_conf *c, const char *user, int start)
{
	struct timespec	check = { 0, 50 * 1000000L };
	struct penalty_token	token;
	char		x;
	int		state, blocked;

	if (read(start, &x, 1) != 0)
		return 255;
	if (penalty_attempt(c, ADDR, user, T0, &state, &token) == -1)
		return 255;
	if (state != PENALTY_NONE)
		return 0;
	nanosleep(&check, NULL);
	if (penalty_settle(c, ADDR, user, &token, T0, 1, &blocked) == -1)
		return 255;
	return 1;
}

/* Reaps n children: the sum of their exit codes, or -1 if one failed. */
static int
reap_sum(const pid_t *pid, int n)
{
	int	i, status, sum = 0;

	for (i = 0; i < n; i++) {
		if (waitpid(pid[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) == 255)
			sum = -1;
		else if (sum != -1)
			sum += WEXITSTATUS(status);
	}
	return sum;
}

/* n processes guessing at once: the number that checked, or -1. */
static int
guessers(const struct penalty_conf *c, const char *user, int n)
{
	pid_t	pid[64];
	int	p[2], i;

	if (n > 64 || pipe(p) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((pid[i] = fork()) == -1)
			return -1;
		if (pid[i] == 0) {
			close(p[1]);
			_exit(guesser(c, user, p[0]));
		}
	}
	/* All start at once: the pipe's end wakes them together. */
	close(p[0]);
	close(p[1]);
	return reap_sum(pid, n);
}

static void
test_attempt_parallel(void)
{
	struct penalty_conf	c;
	int			n;

	/* 30 connections at once against a threshold of 5. */
	conf_new(&c, "parallel");
	c.failures = 5;
	n = guessers(&c, "mallory", 30);
	printf("# %d of 30 parallel connections checked a password\n", n);
	CHECK(n >= 1 && n <= 5);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_FAILURES);
	CHECK(attempts_at(&c, ADDR, T0) == 0);
	/* Blocked: a second wave checks nothing. */
	CHECK(guessers(&c, "mallory", 30) == 0);

	/* Per user: one user gets no more than their threshold. */
	conf_new(&c, "parallel2");
	c.per_user = 1;
	c.failures = 3;
	n = guessers(&c, "alice", 30);
	CHECK(n >= 1 && n <= 3);
	CHECK(user_blocked(&c, ADDR, "alice", T0) == 1);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
}

/* Sends stderr to base/stderr until log_count. */
static int
log_capture(void)
{
	int	saved, fd;

	saved = dup(STDERR_FILENO);
	fd = open(path_of(base, "stderr"), O_WRONLY | O_CREAT | O_TRUNC,
	    0600);
	if (saved == -1 || fd == -1 || dup2(fd, STDERR_FILENO) == -1)
		return -1;
	close(fd);
	return saved;
}

/* Ends the capture: the lines logged about a corrupt record. */
static int
log_count(int saved)
{
	char		 buf[8192], *p;
	int		 n = 0;

	if (saved == -1 || dup2(saved, STDERR_FILENO) == -1)
		return -1;
	close(saved);
	if (slurp(base, "stderr", buf, sizeof(buf)) == -1)
		return -1;
	for (p = buf; (p = strstr(p, "penalty-corrupt")) != NULL; p++)
		n++;
	return n;
}

/* A record as text: each corrupt variant counts as none. */
static void
test_corrupt_one(const char *text, size_t len)
{
	struct penalty_conf	c;
	char			buf[4096];
	int			saved;

	conf_new(&c, "corrupt");
	c.per_user = 1;
	CHECK(put(c.dir, ADDR, text, len) == 0);
	saved = log_capture();
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	CHECK(failures_at(&c, ADDR, T0) == 0);
	CHECK(user_blocked(&c, ADDR, "alice", T0) == 0);
	/* The next update replaces it with a good record. */
	CHECK(fail_n(&c, ADDR, "bob", T0, 1) == 0);
	CHECK(failures_at(&c, ADDR, T0) == 1);
	CHECK(fail_n(&c, ADDR, "bob", T0, 1) == 0);
	/* Logged once: by the update that replaced it. */
	CHECK(log_count(saved) == 1);
	CHECK(slurp(c.dir, ADDR, buf, sizeof(buf)) > 0);
	CHECK(strncmp(buf, "pop3d-penalty 1\n", 16) == 0);
	unlink(path_of(c.dir, ADDR));
}

#define GOOD	"pop3d-penalty 1\nblock hostile 2000000\n" \
		"user 2000000 alice\nfail 1000000 0123456789abcdef\n" \
		"try 1000000 0123456789abcdef 7\nend\n"

static void
test_corrupt(void)
{
	static char		big[80000];
	struct penalty_conf	c;
	struct penalty_entry	e;
	size_t			i;
	const char		*bad[] = {
		"",
		"garbage\n",
		"pop3d-penalty 2\nend\n",
		"pop3d-penalty 1\n",
		"pop3d-penalty 1\nend",
		"pop3d-penalty 1\nend\nend\n",
		"pop3d-penalty 1\nblock angry 2000000\nend\n",
		"pop3d-penalty 1\nblock hostile 0\nend\n",
		"pop3d-penalty 1\nblock hostile -5\nend\n",
		"pop3d-penalty 1\nblock hostile 99999999999999999999\nend\n",
		"pop3d-penalty 1\nblock hostile 2000000\n"
		    "block hostile 2000000\nend\n",
		"pop3d-penalty 1\nuser 2000000\nend\n",
		"pop3d-penalty 1\nuser 2000000 al ice\nend\n",
		"pop3d-penalty 1\nuser 2000000 al%00ice\nend\n",
		"pop3d-penalty 1\nuser 2000000 al%zzice\nend\n",
		"pop3d-penalty 1\nuser 2000000 a\nuser 2000001 a\nend\n",
		"pop3d-penalty 1\nfail 1000000 0123\nend\n",
		"pop3d-penalty 1\nfail 1000000 0123456789ABCDEF\nend\n",
		"pop3d-penalty 1\nfail 1000000 0123456789abcdef0\nend\n",
		"pop3d-penalty 1\nfail 1000000 0123456789abcdef\n"
		    "user 2000000 alice\nend\n",
		"pop3d-penalty 1\nuser 2000000 alice\n"
		    "block hostile 2000000\nend\n",
		"pop3d-penalty 1\nfail  1000000 0123456789abcdef\nend\n",
		"pop3d-penalty 1\ntry 1000000\nend\n",
		"pop3d-penalty 1\ntry x 0123456789abcdef\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123\nend\n",
		"pop3d-penalty 1\ntry 1000000 0000000000000000\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef x\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef 1000\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef -1\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef 1 2\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef \nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef\n"
		    "fail 1000000 0123456789abcdef\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef\n"
		    "user 2000000 alice\nend\n",
		"pop3d-penalty 1\ntry 1000000 0123456789abcdef\n"
		    "block hostile 2000000\nend\n",
	};

	/* The good record first, so that the bad ones' "none" means it. */
	conf_new(&c, "good");
	CHECK(put(c.dir, ADDR, GOOD, strlen(GOOD)) == 0);
	CHECK(penalty_check(&c, ADDR, T0, &e) == 0);
	CHECK(e.why == PENALTY_HOSTILE && e.until == 2000000);
	/* Its attempt's slot is held by no process: it counts not. */
	CHECK(e.failures == 1 && e.nusers == 1 && e.attempts == 0);
	CHECK_STR(e.user[0].name, "alice");
	/* Cut anywhere, it is none. */
	for (i = 0; i < strlen(GOOD); i++) {
		CHECK(put(c.dir, ADDR, GOOD, i) == 0);
		if (why_at(&c, ADDR, T0) != PENALTY_NONE)
			break;
	}
	CHECK(i == strlen(GOOD));
	/* A NUL inside. */
	memcpy(big, GOOD, sizeof(GOOD));
	big[20] = '\0';
	CHECK(put(c.dir, ADDR, big, strlen(GOOD)) == 0);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	/* Symbolic link to a good record: not followed. */
	CHECK(put(c.dir, "192.0.2.7", GOOD, strlen(GOOD)) == 0);
	CHECK(why_at(&c, "192.0.2.7", T0) == PENALTY_HOSTILE);
	CHECK(symlink("192.0.2.7", path_of(c.dir, "192.0.2.8")) == 0);
	CHECK(why_at(&c, "192.0.2.8", T0) == PENALTY_NONE);
	/* Not a file. */
	CHECK(mkdir(path_of(c.dir, "192.0.2.9"), 0700) == 0);
	CHECK(why_at(&c, "192.0.2.9", T0) == PENALTY_NONE);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_corrupt_one(bad[i], strlen(bad[i]));
	/* Too large: a good record padded with failures past the cap. */
	strcpy(big, "pop3d-penalty 1\n");
	while (strlen(big) < sizeof(big) - 100)
		strcat(big, "fail 1000000 0123456789abcdef\n");
	strcat(big, "end\n");
	test_corrupt_one(big, strlen(big));
	/* One attempt more than a record holds. */
	strcpy(big, "pop3d-penalty 1\n");
	for (i = 0; i <= PENALTY_ATTEMPTS_MAX; i++)
		strcat(big, "try 1000000 0123456789abcdef\n");
	strcat(big, "end\n");
	test_corrupt_one(big, strlen(big));
	/* Binary garbage. */
	for (i = 0; i < 4096; i++)
		big[i] = (char)(i * 7919 >> 3);
	test_corrupt_one(big, 4096);
}

static void
test_names(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	char			longname[64];
	struct penalty_token	token;
	int			fd, blocked, state, i, ok = 1;
	const char		*bad[] = {
		"", ".", "..", "../x", "a/b", "1.2.3.4/", "/etc/passwd",
		".lock", ".swept", "..1", "ABCD::1", "1.2.3.4\n", "x",
		/* Only 0-9 a-f . : but no address, or not as addr_format
		 * writes it. */
		"bc", "dead", "add", "cafe", "1.2.3", "1.2.3.4.5", "::0001",
		"2001:db8:0::1", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8:9",
		longname,
	};

	conf_new(&c, "names");
	memset(longname, '1', 48);
	longname[48] = '\0';
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		errno = 0;
		if (penalty_check(&c, bad[i], T0, &e) != -1 ||
		    errno != EINVAL)
			ok = 0;
		if (penalty_attempt(&c, bad[i], "a", T0, &state,
		    &token) != -1 || errno != EINVAL)
			ok = 0;
		token.fd = -1;
		if (penalty_settle(&c, bad[i], "a", &token, T0, 1,
		    &blocked) != -1 || errno != EINVAL)
			ok = 0;
		if (penalty_hostile(&c, bad[i], T0) != -1 || errno != EINVAL)
			ok = 0;
		if (penalty_clear(c.dir, bad[i]) != -1 || errno != EINVAL)
			ok = 0;
		if (conn_slot_take(c.dir, bad[i], 3, &fd) != -1 ||
		    errno != EINVAL)
			ok = 0;
		if (conn_slot_count(c.dir, bad[i]) != -1 || errno != EINVAL)
			ok = 0;
		if (!ok) {
			printf("# bad name accepted: \"%s\"\n", bad[i]);
			break;
		}
	}
	CHECK(ok);
	/* Nothing was written anywhere. */
	CHECK(access(c.dir, F_OK) == -1);
	CHECK(access(path_of(base, "x"), F_OK) == -1);
	/* The longest IPv6 text, and the short ones, are fine. */
	CHECK(penalty_hostile(&c, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    T0) == 0);
	CHECK(why_at(&c, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", T0) ==
	    PENALTY_HOSTILE);
	CHECK(penalty_hostile(&c, "::1", T0) == 0);
	CHECK(why_at(&c, "::1", T0) == PENALTY_HOSTILE);
	CHECK(penalty_hostile(&c, "255.255.255.255", T0) == 0);
	/* A /64 prefix as the front may name an IPv6 client. */
	CHECK(penalty_hostile(&c, "2001:db8:1:2::", T0) == 0);
	CHECK(why_at(&c, "2001:db8:1:2::", T0) == PENALTY_HOSTILE);
	CHECK(conn_slot_take(c.dir, "2001:db8:1:2::", 1, &fd) == 1);
	CHECK(conn_slot_release(c.dir, "2001:db8:1:2::", fd) == 0);
	longname[47] = '\0';
	CHECK(penalty_hostile(&c, longname, T0) == -1 && errno == EINVAL);
}

/* Files named almost like addresses: sweep, clear and list leave them. */
static void
test_names_kept(void)
{
	struct penalty_conf	c;
	char			dir[128];
	const char		*junk[] = { "bc", "dead", "add", "::0001" };
	size_t			i;
	int			ok = 1;

	conf_new(&c, "namekeep");
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (put(c.dir, junk[i], DEAD, strlen(DEAD)) == -1)
			ok = 0;
	CHECK(ok);
	CHECK(penalty_hostile(&c, ADDR, T0) == 0);
	CHECK(penalty_sweep(&c, T0 + 5000) == 1);
	CHECK(penalty_clear(c.dir, NULL) == 0);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (!exists(c.dir, junk[i]))
			ok = 0;
	CHECK(ok);
	/* Nor does the connection sweep. */
	snprintf(dir, sizeof(dir), "%s/connkeep", base);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (put(dir, junk[i], "", 0) == -1)
			ok = 0;
	CHECK(ok && conn_sweep(dir, T0) == 0);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (!exists(dir, junk[i]))
			ok = 0;
	CHECK(ok);
}

static void
test_clear(void)
{
	struct penalty_conf	c;

	conf_new(&c, "clear");
	CHECK(penalty_clear(c.dir, NULL) == 0);		/* no directory */
	CHECK(penalty_clear(c.dir, ADDR) == -1 && errno == ENOENT);
	CHECK(penalty_hostile(&c, ADDR, T0) == 0);
	CHECK(penalty_hostile(&c, "192.0.2.2", T0) == 0);
	CHECK(penalty_hostile(&c, "2001:db8::1", T0) == 0);
	CHECK(put(c.dir, ".keep", "x", 1) == 0);
	CHECK(penalty_clear(c.dir, ADDR) == 1);
	CHECK(why_at(&c, ADDR, T0) == PENALTY_NONE);
	CHECK(why_at(&c, "192.0.2.2", T0) == PENALTY_HOSTILE);
	CHECK(penalty_clear(c.dir, ADDR) == -1 && errno == ENOENT);
	CHECK(penalty_clear(c.dir, NULL) == 2);
	CHECK(why_at(&c, "2001:db8::1", T0) == PENALTY_NONE);
	CHECK(exists(c.dir, ".lock") && exists(c.dir, ".keep"));
	CHECK(penalty_clear(c.dir, NULL) == 0);
}

struct seen {
	int			n;
	int			stop;
	struct penalty_entry	e[8];
};

static int
list_fn(const struct penalty_entry *e, void *arg)
{
	struct seen	*s = arg;

	if (s->n < 8)
		s->e[s->n] = *e;
	s->n++;
	return s->stop;
}

static void
test_list(void)
{
	struct penalty_conf	c;
	struct seen		s;

	conf_new(&c, "list");
	memset(&s, 0, sizeof(s));
	CHECK(penalty_list(c.dir, 600, T0, list_fn, &s) == 0 && s.n == 0);
	CHECK(penalty_hostile(&c, "10.0.0.1", T0) == 0);
	CHECK(fail_n(&c, "9.9.9.9", "x", T0, 2) == 0);
	CHECK(fail_n(&c, "5.5.5.5", "x", T0 - 700, 1) == 0);	/* dead */
	c.per_user = 1;
	CHECK(fail_n(&c, "::1", "bob", T0, 3) == -1);
	CHECK(put(c.dir, "1.2.3.4", "junk", 4) == 0);		/* corrupt */
	CHECK(penalty_list(c.dir, 600, T0, list_fn, &s) == 0);
	CHECK(s.n == 3);
	/* In address order, not the names' text order. */
	CHECK_STR(s.e[0].addr, "9.9.9.9");
	CHECK(s.e[0].why == PENALTY_NONE && s.e[0].failures == 2);
	CHECK_STR(s.e[1].addr, "10.0.0.1");
	CHECK(s.e[1].why == PENALTY_HOSTILE && s.e[1].until == T0 + 3600);
	CHECK_STR(s.e[2].addr, "::1");
	CHECK(s.e[2].nusers == 1 && s.e[2].user[0].until == T0 + 900);
	CHECK_STR(s.e[2].user[0].name, "bob");
	/* Later, 9.9.9.9's failures have left the window. */
	memset(&s, 0, sizeof(s));
	CHECK(penalty_list(c.dir, 600, T0 + 600, list_fn, &s) == 0);
	CHECK(s.n == 2 && strcmp(s.e[0].addr, "10.0.0.1") == 0);
	memset(&s, 0, sizeof(s));
	s.stop = 1;
	CHECK(penalty_list(c.dir, 600, T0, list_fn, &s) == 0 && s.n == 1);
}

static void
test_sweep(void)
{
	struct penalty_conf	c;
	struct stat		st;
	struct penalty_token	token;
	char			text[64];
	int			i, state, ok = 1;

	conf_new(&c, "sweep");
	CHECK(penalty_sweep(&c, T0) == 0);	/* nothing to sweep */
	CHECK(stat(path_of(c.dir, ".swept"), &st) == 0 && st.st_mtime == T0);
	CHECK(fail_n(&c, "192.0.2.1", "x", T0 + 1000, 1) == 0);
	CHECK(penalty_hostile(&c, "192.0.2.2", T0 + 1000) == 0);
	CHECK(fail_n(&c, "192.0.2.3", "x", T0 + 1000, 1) == 0);
	CHECK(fail_n(&c, "192.0.2.4", "x", T0 + 1500, 1) == 0);
	CHECK(put(c.dir, "192.0.2.5", "junk", 4) == 0);
	CHECK(put(c.dir, ".192.0.2.6.AbC123", "tmp", 3) == 0);
	CHECK(put(c.dir, ".keep", "x", 1) == 0);
	CHECK(penalty_attempt(&c, "192.0.2.7", "x", T0 + 1000, &state,
	    &token) == 0 && state == PENALTY_NONE);
	/*
	 * .1 and .3 have left this connection's window, but a rule may give
	 * their addresses a longer one: they stay.  .5 is corrupt, .7's
	 * attempt has outlived PENALTY_ATTEMPT_TTL; .2 and .4 live.
	 */
	CHECK(penalty_sweep(&c, T0 + 2000) == 2);
	CHECK(!exists(c.dir, "192.0.2.5") && !exists(c.dir, "192.0.2.7"));
	CHECK(exists(c.dir, "192.0.2.1") && exists(c.dir, "192.0.2.3"));
	CHECK(exists(c.dir, "192.0.2.2") && exists(c.dir, "192.0.2.4"));
	CHECK(!exists(c.dir, ".192.0.2.6.AbC123"));
	CHECK(exists(c.dir, ".keep") && exists(c.dir, ".lock"));
	/* A rule's window of a day: .1's failure still counts there. */
	c.window = DAY;
	CHECK(failures_at(&c, "192.0.2.1", T0 + 2000) == 1);
	c.window = 600;
	/* The last sweep is too recent (sweeps run once per window). */
	CHECK(penalty_sweep(&c, T0 + 2599) == 0);
	/* The hostile block has ended; the failures are younger than a day. */
	CHECK(penalty_sweep(&c, T0 + 4600) == 1);
	CHECK(!exists(c.dir, "192.0.2.2") && exists(c.dir, "192.0.2.1"));
	CHECK(penalty_sweep(&c, T0 + 400 + DAY) == 0);
	CHECK(penalty_sweep(&c, T0 + 1000 + DAY) == 2);
	CHECK(!exists(c.dir, "192.0.2.1") && !exists(c.dir, "192.0.2.3"));
	CHECK(exists(c.dir, "192.0.2.4"));
	CHECK(penalty_sweep(&c, T0 + 1600 + DAY) == 1);
	CHECK(!exists(c.dir, "192.0.2.4"));

	/* More dead records than one sweep looks at: the next goes on. */
	conf_new(&c, "sweepmany");
	for (i = 0; i < PENALTY_SWEEP_MAX + 1; i++) {
		snprintf(text, sizeof(text), "10.0.%d.%d", i / 256, i % 256);
		if (put(c.dir, text, DEAD, strlen(DEAD)) == -1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(penalty_sweep(&c, T0) == PENALTY_SWEEP_MAX);
	CHECK(penalty_sweep(&c, T0 + 600) == 1);
	CHECK(penalty_sweep(&c, T0 + 1200) == 0);
}

/* A penalty_conf for dir with the default settings. */
static void
conf_at(struct penalty_conf *c, const char *dir)
{
	conf_new(c, "unused");
	c->dir = dir;
}

/* Every operation in dir fails with err: 1, or 0 (and says which not). */
static int
all_refused(const char *dir, int err)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	struct seen		s;
	struct penalty_token	tok;
	int			state, b, fd, n = 0, total = 0;

#define REFUSED(call) do {						\
	total++;							\
	errno = 0;							\
	if ((call) == -1 && errno == err)				\
		n++;							\
	else								\
		printf("# %s in %s: not refused with %s\n", #call,	\
		    dir, strerror(err));				\
} while (0)
	conf_at(&c, dir);
	memset(&s, 0, sizeof(s));
	REFUSED(penalty_check(&c, ADDR, T0, &e));
	REFUSED(penalty_attempt(&c, ADDR, "a", T0, &state, &tok));
	tok.fd = -1;
	tok.slot = 0;
	REFUSED(penalty_settle(&c, ADDR, "a", &tok, T0, 1, &b));
	REFUSED(penalty_hostile(&c, ADDR, T0));
	REFUSED(penalty_clear(dir, ADDR));
	REFUSED(penalty_clear(dir, NULL));
	REFUSED(penalty_list(dir, 600, T0, list_fn, &s));
	REFUSED(penalty_sweep(&c, T0));
	REFUSED(conn_slot_take(dir, ADDR, 3, &fd));
	REFUSED(conn_slot_count(dir, ADDR));
	REFUSED(conn_sweep(dir, T0));
	fd = open("/dev/null", O_RDONLY);
	REFUSED(conn_slot_release(dir, ADDR, fd));
#undef REFUSED
	return n == total;
}

static void
test_dir_checks(void)
{
	struct penalty_conf	c;
	char			real[128], link[128], slash[130], bad[128];
	char			before[4096], after[4096];
	int			fd;

	/* A symbolic link to a good directory: refused, nothing touched. */
	snprintf(real, sizeof(real), "%s/real", base);
	snprintf(link, sizeof(link), "%s/link", base);
	snprintf(slash, sizeof(slash), "%s/", link);
	conf_at(&c, real);
	CHECK(penalty_hostile(&c, ADDR, T0) == 0);
	CHECK(conn_slot_take(real, ADDR, 1, &fd) == 1);
	CHECK(symlink("real", link) == 0);
	CHECK(slurp(real, ADDR, before, sizeof(before)) > 0);
	CHECK(all_refused(link, ELOOP));
	CHECK(all_refused(slash, ELOOP));
	CHECK(slurp(real, ADDR, after, sizeof(after)) > 0);
	CHECK_STR(before, after);
	CHECK(conn_slot_count(real, ADDR) == 1);
	close(fd);

	/* Writable by group or other. */
	snprintf(bad, sizeof(bad), "%s/groupw", base);
	CHECK(mkdir(bad, 0700) == 0 && chmod(bad, 0770) == 0);
	CHECK(all_refused(bad, EPERM));
	CHECK(chmod(bad, 0702) == 0);
	CHECK(all_refused(bad, EPERM));
	CHECK(chmod(bad, 0755) == 0);
	conf_at(&c, bad);
	CHECK(penalty_hostile(&c, ADDR, T0) == 0);	/* 0755 is fine */
	CHECK(chmod(bad, 0700) == 0);

	/* Another's directory: refused; root may use a mail uid's. */
	if (geteuid() == 0) {
		pid_t	pid;
		int	status;

		snprintf(bad, sizeof(bad), "%s/other", base);
		CHECK(mkdir(bad, 0700) == 0 && chown(bad, 65534, 65534) == 0);
		conf_at(&c, bad);
		CHECK(penalty_hostile(&c, ADDR, T0) == 0);
		snprintf(bad, sizeof(bad), "%s/roots", base);
		CHECK(mkdir(bad, 0755) == 0 && chmod(base, 0711) == 0);
		if ((pid = fork()) == 0) {
			conf_at(&c, bad);
			if (setgid(65534) == -1 || setuid(65534) == -1)
				_exit(2);
			_exit(penalty_hostile(&c, ADDR, T0) == -1 &&
			    errno == EPERM ? 0 : 1);
		}
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(access(path_of(bad, ".lock"), F_OK) == -1);
		CHECK(chmod(base, 0700) == 0);
	} else
		CHECK(all_refused("/", EPERM));

	/* Not a directory; a FIFO is not even opened (it would hang). */
	CHECK(put(base, "file", "x", 1) == 0);
	CHECK(all_refused(path_of(base, "file"), ENOTDIR));
	CHECK(mkfifo(path_of(base, "fifo"), 0600) == 0);
	CHECK(all_refused(path_of(base, "fifo"), ENOTDIR));
}

/* A process holding dir/.lock: its pid, once it holds it, or -1. */
static pid_t
lock_holder(const char *dir, int ms)
{
	struct flock	fl;
	struct timespec	ts = { ms / 1000, ms % 1000 * 1000000L };
	pid_t		pid;
	int		p[2], fd;
	char		x;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(p[0]);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if ((fd = open(path_of(dir, ".lock"), O_RDWR)) == -1 ||
		    fcntl(fd, F_OFD_SETLKW, &fl) == -1 ||
		    write(p[1], "y", 1) != 1)
			_exit(1);
		if (ms == 0)
			hold();
		nanosleep(&ts, NULL);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &x, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

static long long
ms_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The lock wait of these cases, which wait it out. */
#define LOCK_SHORT_MS	200

static void
test_lock_timeout(void)
{
	struct penalty_conf	c;
	long long		t;
	struct penalty_token	tok;
	pid_t			pid;
	int			blocked, state, status;

	/* A guard: a wait without end kills the tester. */
	alarm(30);
	conf_new(&c, "timeout");
	CHECK(penalty_hostile(&c, ADDR, T0) == 0);
	CHECK((pid = lock_holder(c.dir, 0)) > 0);
	/* The wait is the programs' unless a tester shortens it, as here. */
	CHECK(statedir_lock_ms == PENALTY_LOCK_TIMEOUT_MS);
	statedir_lock_ms = LOCK_SHORT_MS;
	t = ms_now();
	CHECK(fail1(&c, ADDR, "x", T0, &blocked) == -1 &&
	    errno == ETIMEDOUT);
	t = ms_now() - t;
	printf("# gave up after %lld ms\n", t);
	CHECK(t >= LOCK_SHORT_MS - 10 && t < LOCK_SHORT_MS + 1000);
	t = ms_now();
	CHECK(penalty_attempt(&c, ADDR, "x", T0, &state, &tok) == -1 &&
	    errno == ETIMEDOUT);
	CHECK(penalty_clear(c.dir, ADDR) == -1 && errno == ETIMEDOUT);
	t = ms_now() - t;
	CHECK(t >= 2 * LOCK_SHORT_MS - 10 && t < 2 * LOCK_SHORT_MS + 1000);
	statedir_lock_ms = PENALTY_LOCK_TIMEOUT_MS;
	/* Readers take no lock. */
	CHECK(why_at(&c, ADDR, T0) == PENALTY_HOSTILE);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(fail1(&c, ADDR, "x", T0, &blocked) == 0);
	/* A holder that lets go within the time: the update waits. */
	CHECK((pid = lock_holder(c.dir, 300)) > 0);
	t = ms_now();
	CHECK(fail1(&c, ADDR, "x", T0, &blocked) == 0);
	CHECK(ms_now() - t >= 200);
	CHECK(failures_at(&c, ADDR, T0) == 2);
	CHECK(waitpid(pid, &status, 0) == pid);
	alarm(0);
}

static void
test_clear_nolock(void)
{
	struct penalty_conf	c;
	struct seen		s;

	conf_new(&c, "nolock");
	CHECK(put(c.dir, ADDR, GOOD, strlen(GOOD)) == 0);
	/* Readers and clear create no file. */
	CHECK(why_at(&c, ADDR, T0) == PENALTY_HOSTILE);
	memset(&s, 0, sizeof(s));
	CHECK(penalty_list(c.dir, 600, T0, list_fn, &s) == 0 && s.n == 1);
	CHECK(penalty_clear(c.dir, "192.0.2.2") == -1 && errno == ENOENT);
	CHECK(!exists(c.dir, ".lock"));
	CHECK(penalty_clear(c.dir, ADDR) == 1);
	CHECK(!exists(c.dir, ".lock") && !exists(c.dir, ADDR));
	CHECK(put(c.dir, ADDR, GOOD, strlen(GOOD)) == 0);
	CHECK(put(c.dir, "192.0.2.2", GOOD, strlen(GOOD)) == 0);
	CHECK(penalty_clear(c.dir, NULL) == 2);
	CHECK(!exists(c.dir, ".lock"));
	CHECK(penalty_clear(c.dir, NULL) == 0);
	CHECK(!exists(c.dir, ".lock"));
}

/* Each child records 25 failures: how many of them blocked, or 255. */
static int
writer(const struct penalty_conf *c)
{
	int	i, blocked, n = 0;

	for (i = 0; i < 25; i++) {
		if (fail1(c, ADDR, "mallory", T0, &blocked) == -1)
			return 255;
		if (blocked == PENALTY_FAILURES)
			n++;
	}
	return n;
}

/* 8 processes at once: the sum of their blocks, or -1 if one failed. */
static int
writers(const struct penalty_conf *c)
{
	pid_t	pid[8];
	int	i;

	for (i = 0; i < 8; i++) {
		if ((pid[i] = fork()) == -1)
			return -1;
		if (pid[i] == 0)
			_exit(writer(c));
	}
	return reap_sum(pid, 8);
}

static void
test_concurrent(void)
{
	struct penalty_conf	c;

	conf_new(&c, "race");
	c.failures = 1000;
	CHECK(writers(&c) == 0);
	CHECK(failures_at(&c, ADDR, T0) == 200);
	/* 200 failures at a threshold of 30: exactly 6 blocks, 20 left. */
	conf_new(&c, "race2");
	c.failures = 30;
	CHECK(writers(&c) == 6);
	CHECK(failures_at(&c, ADDR, T0) == 20);
}

static void
test_conn(void)
{
	char	dir[128];
	int	fd[4], extra, status, p[2];
	pid_t	pid;
	char	c;

	snprintf(dir, sizeof(dir), "%s/conn", base);
	CHECK(conn_slot_take(dir, ADDR, 0, &fd[0]) == 1 && fd[0] == -1);
	CHECK(conn_slot_count(dir, ADDR) == 0);		/* no file */
	CHECK(conn_slot_take(dir, ADDR, CONN_PER_ADDRESS_MAX + 1, &extra) ==
	    -1 && errno == EINVAL);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[0]) == 1 && fd[0] >= 0);
	CHECK((fcntl(fd[0], F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[1]) == 1);
	CHECK((fcntl(fd[1], F_GETFD) & FD_CLOEXEC) != 0);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[2]) == 1);
	CHECK(conn_slot_count(dir, ADDR) == 3);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[3]) == 0 && fd[3] == -1);
	/* A raised limit has room. */
	CHECK(conn_slot_take(dir, ADDR, 4, &fd[3]) == 1);
	CHECK(conn_slot_count(dir, ADDR) == 4);
	close(fd[3]);
	/* Another process is refused too. */
	if ((pid = fork()) == 0)
		_exit(conn_slot_take(dir, ADDR, 3, &extra) == 0 ? 0 : 1);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* A closed slot is free again. */
	close(fd[1]);
	CHECK(conn_slot_count(dir, ADDR) == 2);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[1]) == 1);
	CHECK(conn_slot_take(dir, ADDR, 3, &extra) == 0);
	close(fd[0]);
	close(fd[1]);
	close(fd[2]);
	CHECK(conn_slot_count(dir, ADDR) == 0);

	/* A killed holder's slot is free again. */
	CHECK(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (conn_slot_take(dir, ADDR, 1, &extra) != 1 ||
		    write(p[1], "y", 1) != 1)
			_exit(1);
		hold();
	}
	close(p[1]);
	CHECK(pid > 0 && read(p[0], &c, 1) == 1 && c == 'y');
	close(p[0]);
	CHECK(conn_slot_count(dir, ADDR) == 1);
	CHECK(conn_slot_take(dir, ADDR, 1, &extra) == 0);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	CHECK(conn_slot_count(dir, ADDR) == 0);
	CHECK(conn_slot_take(dir, ADDR, 1, &extra) == 1);
	close(extra);

	/* The file replaced while held: a new taker locks the new file. */
	CHECK(conn_slot_take(dir, ADDR, 1, &fd[0]) == 1);
	CHECK(unlink(path_of(dir, ADDR)) == 0);
	CHECK(conn_slot_take(dir, ADDR, 1, &fd[1]) == 1);
	CHECK(conn_slot_count(dir, ADDR) == 1);
	close(fd[0]);
	close(fd[1]);
}

/* A process holding a slot of addr in dir until killed: pid, or -1. */
static pid_t
slot_holder(const char *dir, const char *addr)
{
	pid_t	pid;
	int	p[2], fd;
	char	x;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		close(p[0]);
		if (conn_slot_take(dir, addr, 5, &fd) != 1 ||
		    write(p[1], "y", 1) != 1)
			_exit(1);
		hold();
	}
	close(p[1]);
	if (read(p[0], &x, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

static int
killed(pid_t pid)
{
	int	status;

	return kill(pid, SIGKILL) == 0 && waitpid(pid, &status, 0) == pid;
}

static void
test_conn_release(void)
{
	char	dir[128];
	int	fd[2];
	pid_t	pid;

	snprintf(dir, sizeof(dir), "%s/connrel", base);
	CHECK(conn_slot_release(dir, ADDR, -1) == 0);
	/* The last holder removes the file. */
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[0]) == 1);
	CHECK(exists(dir, ADDR));
	CHECK(conn_slot_release(dir, ADDR, fd[0]) == 0);
	CHECK(!exists(dir, ADDR));
	CHECK(fcntl(fd[0], F_GETFD) == -1 && errno == EBADF);
	/* Not the last: the file stays for the other. */
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[0]) == 1);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[1]) == 1);
	CHECK(conn_slot_release(dir, ADDR, fd[0]) == 0);
	CHECK(exists(dir, ADDR) && conn_slot_count(dir, ADDR) == 1);
	CHECK(conn_slot_release(dir, ADDR, fd[1]) == 0);
	CHECK(!exists(dir, ADDR));
	/* Nor when another process holds one. */
	CHECK((pid = slot_holder(dir, ADDR)) > 0);
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[0]) == 1);
	CHECK(conn_slot_release(dir, ADDR, fd[0]) == 0);
	CHECK(exists(dir, ADDR) && conn_slot_count(dir, ADDR) == 1);
	CHECK(killed(pid));
	CHECK(conn_slot_count(dir, ADDR) == 0);
	/* A child forked with the slot still holds it. */
	CHECK(conn_slot_take(dir, ADDR, 3, &fd[0]) == 1);
	if ((pid = fork()) == 0)
		hold();
	CHECK(pid > 0 && conn_slot_release(dir, ADDR, fd[0]) == 0);
	CHECK(exists(dir, ADDR) && conn_slot_count(dir, ADDR) == 1);
	CHECK(killed(pid));
	/* Left behind, as by a killed process: the sweep's job. */
	CHECK(exists(dir, ADDR) && conn_slot_count(dir, ADDR) == 0);
	CHECK(conn_sweep(dir, T0) == 1 && !exists(dir, ADDR));
}

static void
test_conn_sweep(void)
{
	char	dir[128], name[32];
	pid_t	pid[3];
	int	i, fd, ok = 1;

	snprintf(dir, sizeof(dir), "%s/connsweep", base);
	CHECK(conn_sweep(dir, T0) == 0 && access(dir, F_OK) == -1);
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "10.0.0.%d", i + 1);
		if ((pid[i] = slot_holder(dir, name)) <= 0)
			ok = 0;
	}
	CHECK(ok);
	CHECK(put(dir, ".keep", "x", 1) == 0);
	CHECK(killed(pid[0]) && killed(pid[1]));
	CHECK(exists(dir, "10.0.0.1") && exists(dir, "10.0.0.2"));
	CHECK(conn_sweep(dir, T0) == 2);
	CHECK(!exists(dir, "10.0.0.1") && !exists(dir, "10.0.0.2"));
	/* A held one stays, and so does what is not a slot file. */
	CHECK(exists(dir, "10.0.0.3") && conn_slot_count(dir, "10.0.0.3") == 1);
	CHECK(exists(dir, ".keep"));
	/* One sweep per interval. */
	CHECK(conn_slot_take(dir, "10.0.0.4", 1, &fd) == 1);
	close(fd);
	CHECK(conn_sweep(dir, T0 + CONN_SWEEP_INTERVAL - 1) == 0);
	CHECK(exists(dir, "10.0.0.4"));
	CHECK(conn_sweep(dir, T0 + CONN_SWEEP_INTERVAL) == 1);
	CHECK(!exists(dir, "10.0.0.4"));
	CHECK(killed(pid[2]));

	/* More than one sweep looks at: the next goes on. */
	snprintf(dir, sizeof(dir), "%s/connmany", base);
	for (i = 0; i < PENALTY_SWEEP_MAX + 1; i++) {
		snprintf(name, sizeof(name), "10.1.%d.%d", i / 256, i % 256);
		if (put(dir, name, "", 0) == -1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(conn_sweep(dir, T0) == PENALTY_SWEEP_MAX);
	CHECK(conn_sweep(dir, T0 + CONN_SWEEP_INTERVAL) == 1);
	CHECK(conn_sweep(dir, T0 + 2 * CONN_SWEEP_INTERVAL) == 0);
}

/*
 * A remover holds every octet of the file when a taker comes, then
 * unlinks it: the taker waits, and takes its slot in the new file.
 */
static void
test_conn_race(void)
{
	struct timespec	nap = { 0, 200 * 1000000L };
	struct flock	fl;
	char		dir[128];
	pid_t		pid;
	int		p[2], rfd, fd;
	signed char	r = -9;

	snprintf(dir, sizeof(dir), "%s/connrace", base);
	CHECK(put(dir, ADDR, "", 0) == 0);
	CHECK((rfd = open(path_of(dir, ADDR), O_RDWR)) != -1);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_len = CONN_PER_ADDRESS_MAX + 1;
	CHECK(fcntl(rfd, F_OFD_SETLK, &fl) == 0);
	CHECK(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		close(rfd);	/* else the remover's lock lives on in us */
		r = conn_slot_take(dir, ADDR, 1, &fd);
		if (write(p[1], &r, 1) != 1)
			_exit(1);
		hold();
	}
	close(p[1]);
	nanosleep(&nap, NULL);
	CHECK(unlink(path_of(dir, ADDR)) == 0);
	close(rfd);
	CHECK(read(p[0], &r, 1) == 1);
	close(p[0]);
	CHECK(r == 1);
	CHECK(exists(dir, ADDR) && conn_slot_count(dir, ADDR) == 1);
	CHECK(conn_slot_take(dir, ADDR, 1, &fd) == 0);
	CHECK(killed(pid));
	CHECK(conn_slot_count(dir, ADDR) == 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A record's temporary file (lib/atomic) is one a sweep knows and removes. */
static void
test_temp_name(void)
{
	struct atomic	a;
	char		path[256], tmp[sizeof(a.tmp)];

	snprintf(path, sizeof(path), "%s/%s", base, ADDR);
	CHECK(atomic_open(&a, path, ATOMIC_NOSYNC) == 0);
	snprintf(tmp, sizeof(tmp), "%s", a.tmp);
	CHECK(strncmp(tmp, base, strlen(base)) == 0 &&
	    tmp[strlen(base)] == '/' && statedir_is_temp(tmp + strlen(base) +
	    1));
	atomic_abort(&a);
	CHECK(access(tmp, F_OK) == -1 && errno == ENOENT);
}

int
main(void)
{
	if (check_tmpdir(base, sizeof(base), "t_penalty") == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_empty();
	test_temp_name();
	test_threshold();
	test_window();
	test_block_resets();
	test_hostile();
	test_per_user();
	test_user_table();
	test_user_block_kept();
	test_statedir_own();
	test_biggest();
	test_no_failures();
	test_corrupt();
	test_names();
	test_clear();
	test_list();
	test_sweep();
	test_names_kept();
	test_dir_checks();
	test_clear_nolock();
	test_lock_timeout();
	test_attempt();
	test_attempt_ttl();
	test_attempt_dead();
	test_attempt_user();
	test_attempt_parallel();
	test_concurrent();
	test_conn();
	test_conn_release();
	test_conn_sweep();
	test_conn_race();
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_done();
}

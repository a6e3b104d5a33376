/*
 * The penalty box and the connection slots (policy/penalty.c, conn.c).
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

#include "check.h"
#include "conn.h"
#include "penalty.h"

#define ADDR	"192.0.2.1"
#define T0	1000000

static char	base[] = "/tmp/t_penalty.XXXXXX";

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

/* n failures of user at now: the last *blocked, or -9 on an error. */
static int
fail_n(const struct penalty_conf *c, const char *addr, const char *user,
    time_t now, int n)
{
	int	blocked = 0;

	while (n-- > 0)
		if (penalty_fail(c, addr, user, now, &blocked) == -1)
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

	return penalty_check_user(c, addr, user, now, &until);
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
	CHECK(penalty_check_user(&c, ADDR, "alice", T0, &until) == 0);
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
	CHECK(penalty_check_user(&c, ADDR, "alice", T0, &until) == 1);
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
	/* Full: the block ending soonest (u0's) makes room. */
	CHECK(fail_n(&c, ADDR, "new", T0 + 20, 1) == -1);
	CHECK(penalty_check(&c, ADDR, T0 + 20, &e) == 0);
	CHECK(e.nusers == PENALTY_USERS_MAX);
	CHECK(user_blocked(&c, ADDR, "new", T0 + 20) == 1);
	CHECK(user_blocked(&c, ADDR, "u0", T0 + 20) == 0);
	CHECK(user_blocked(&c, ADDR, "u1", T0 + 20) == 1);
	CHECK(user_blocked(&c, ADDR, "u15", T0 + 20) == 1);
	/* address_failures 0: 17 failures, and the address is not blocked. */
	CHECK(why_at(&c, ADDR, T0 + 20) == PENALTY_NONE);
	CHECK(failures_at(&c, ADDR, T0 + 20) == 17);
}

/* The largest record there can be is written and read back whole. */
static void
test_biggest(void)
{
	struct penalty_conf	c;
	struct penalty_entry	e;
	char			name[POP3_USER_MAX + 1];
	static char		big[64 * 1024];
	time_t			now = ((time_t)1 << 40) - 100;
	int			i, ok = 1;

	conf_new(&c, "biggest");
	c.per_user = 1;
	c.failures = 1;
	c.address_failures = 0;
	c.block = 50;
	/* Failures of the longest text, then a user block for each slot. */
	strcpy(big, "pop3d-penalty 1\n");
	for (i = 0; i < PENALTY_ADDRESS_MAX; i++)
		strcat(big, "fail 1099511627676 0000000000000000\n");
	strcat(big, "end\n");
	CHECK(put(c.dir, ADDR, big, strlen(big)) == 0);
	CHECK(failures_at(&c, ADDR, now) == PENALTY_ADDRESS_MAX);
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
		"user 2000000 alice\nfail 1000000 0123456789abcdef\nend\n"

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
	};

	/* The good record first, so that the bad ones' "none" means it. */
	conf_new(&c, "good");
	CHECK(put(c.dir, ADDR, GOOD, strlen(GOOD)) == 0);
	CHECK(penalty_check(&c, ADDR, T0, &e) == 0);
	CHECK(e.why == PENALTY_HOSTILE && e.until == 2000000);
	CHECK(e.failures == 1 && e.nusers == 1);
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
	int			fd, blocked, i, ok = 1;
	const char		*bad[] = {
		"", ".", "..", "../x", "a/b", "1.2.3.4/", "/etc/passwd",
		".lock", ".swept", "..1", "ABCD::1", "1.2.3.4\n", "x",
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
		if (penalty_fail(&c, bad[i], "a", T0, &blocked) != -1 ||
		    errno != EINVAL)
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
	longname[47] = '\0';
	CHECK(penalty_hostile(&c, longname, T0) == 0);
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

#define DEAD	"pop3d-penalty 1\nfail 1 0000000000000001\nend\n"

static void
test_sweep(void)
{
	struct penalty_conf	c;
	struct stat		st;
	char			text[64];
	int			i, ok = 1;

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
	/* .1 and .3 have left the window, .5 is corrupt; .2 and .4 live. */
	CHECK(penalty_sweep(&c, T0 + 2000) == 3);
	CHECK(!exists(c.dir, "192.0.2.1") && !exists(c.dir, "192.0.2.3"));
	CHECK(!exists(c.dir, "192.0.2.5"));
	CHECK(exists(c.dir, "192.0.2.2") && exists(c.dir, "192.0.2.4"));
	CHECK(!exists(c.dir, ".192.0.2.6.AbC123"));
	CHECK(exists(c.dir, ".keep") && exists(c.dir, ".lock"));
	/* .4 is dead by T0 + 2100, but the last sweep is too recent. */
	CHECK(penalty_sweep(&c, T0 + 2100) == 0);
	CHECK(exists(c.dir, "192.0.2.4"));
	CHECK(penalty_sweep(&c, T0 + 2599) == 0);
	CHECK(penalty_sweep(&c, T0 + 2600) == 1);
	CHECK(!exists(c.dir, "192.0.2.4") && exists(c.dir, "192.0.2.2"));

	/* More dead records than one sweep looks at: the next goes on. */
	conf_new(&c, "sweepmany");
	for (i = 0; i < 10001; i++) {
		snprintf(text, sizeof(text), "10.0.%d.%d", i / 256, i % 256);
		if (put(c.dir, text, DEAD, strlen(DEAD)) == -1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(penalty_sweep(&c, T0) == 10000);
	CHECK(penalty_sweep(&c, T0 + 600) == 1);
	CHECK(penalty_sweep(&c, T0 + 1200) == 0);
}

/* Each child records 25 failures: how many of them blocked, or 255. */
static int
writer(const struct penalty_conf *c)
{
	int	i, blocked, n = 0;

	for (i = 0; i < 25; i++) {
		if (penalty_fail(c, ADDR, "mallory", T0, &blocked) == -1)
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
	int	i, status, sum = 0;

	for (i = 0; i < 8; i++) {
		if ((pid[i] = fork()) == -1)
			return -1;
		if (pid[i] == 0)
			_exit(writer(c));
	}
	for (i = 0; i < 8; i++) {
		if (waitpid(pid[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) == 255)
			sum = -1;
		else if (sum != -1)
			sum += WEXITSTATUS(status);
	}
	return sum;
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
		for (;;)
			pause();
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

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_empty();
	test_threshold();
	test_window();
	test_block_resets();
	test_hostile();
	test_per_user();
	test_user_table();
	test_biggest();
	test_no_failures();
	test_corrupt();
	test_names();
	test_clear();
	test_list();
	test_sweep();
	test_concurrent();
	test_conn();
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_done();
}

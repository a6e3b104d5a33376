/*
 * The login queue (policy/penalty_queue.c): waiting logins get in first
 * come first served, asleep, within their deadline, and a waiter or an
 * attempt whose process is SIGKILLed holds no one up.  Real processes
 * and the real clock: each waiter is a child calling penalty_attempt_wait.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "lock.h"
#include "penalty.h"
#include "penalty_queue.h"

#define ADDR	"192.0.2.7"

static char	base[64];

/* One attempt in flight is the threshold: every other login waits. */
static void
conf_new(struct penalty_conf *c, const char *name)
{
	static char	dirs[16][128];
	static int	ndirs;
	char		*d = dirs[ndirs++ % 16];

	snprintf(d, sizeof(dirs[0]), "%s/%s", base, name);
	memset(c, 0, sizeof(*c));
	c->dir = d;
	c->failures = 1;
	c->window = 600;
	c->block = 900;
	c->hostile = 3600;
}

/* What a waiter tells: who it is, its state (-9: error), its wait. */
struct said {
	int	who;
	int	state;
	int64_t	ms;
};

/*
 * A child that waits up to wait_ms for its turn, says so on fd, and when
 * let in holds the attempt hold_ms, then settles it as a success.
 */
static pid_t
waiter(const struct penalty_conf *c, int who, int wait_ms, int hold_ms,
    int fd)
{
	struct penalty_token	t;
	struct timespec		ts = { 0, hold_ms * 1000000L };
	struct said		s = { who, -9, 0 };
	int64_t			t0;
	int			blocked;
	pid_t			pid;

	if ((pid = fork()) != 0)
		return pid;
	t0 = io_now_ms();
	if (penalty_attempt_wait(c, ADDR, "u", wait_ms, &s.state, &t) == -1)
		s.state = -9;
	s.ms = io_now_ms() - t0;
	if (write(fd, &s, sizeof(s)) != sizeof(s))
		_exit(1);
	if (s.state == PENALTY_NONE) {
		nanosleep(&ts, NULL);
		(void)penalty_settle(c, ADDR, "u", &t, time(NULL), 0,
		    &blocked);
	}
	_exit(0);
}

/* Does someone hold ticket t of lane 0 of ADDR's queue?  1 or 0. */
static int
queued(const struct penalty_conf *c, uint64_t t)
{
	char	path[256];
	int	fd, r;

	snprintf(path, sizeof(path), "%s/%s/%s", c->dir, PENALTY_QUEUE, ADDR);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	r = lock_held(fd, PENALTY_QUEUE_BASE + (off_t)t, 1) == 1;
	close(fd);
	return r;
}

/* Waits (up to 5 s) until ticket t is drawn: 1, or 0. */
static int
until_queued(const struct penalty_conf *c, uint64_t t)
{
	struct timespec	nap = { 0, 5 * 1000000L };
	int		i;

	for (i = 0; i < 1000; i++) {
		if (queued(c, t))
			return 1;
		nanosleep(&nap, NULL);
	}
	return 0;
}

static int
heard(int fd, struct said *s)
{
	return read(fd, s, sizeof(*s)) == sizeof(*s);
}

/* The parent's own attempt, holding the one place: 1 with *t, or 0. */
static int
take(const struct penalty_conf *c, struct penalty_token *t)
{
	int	state;

	return penalty_attempt(c, ADDR, "u", time(NULL), &state, t) == 0 &&
	    state == PENALTY_NONE;
}

static int
release(const struct penalty_conf *c, struct penalty_token *t)
{
	int	blocked;

	return penalty_settle(c, ADDR, "u", t, time(NULL), 0, &blocked) == 0;
}

static int
reaped(pid_t pid)
{
	int	status;

	return waitpid(pid, &status, 0) == pid;
}

/* Waiters started in a known order are let in in that order. */
static void
test_fifo(void)
{
	struct penalty_conf	c;
	struct penalty_token	t;
	struct said		s;
	pid_t			pid[6];
	int			p[2], i, ok = 1;

	conf_new(&c, "fifo");
	CHECK(pipe(p) == 0);
	CHECK(take(&c, &t));
	for (i = 0; i < 6; i++) {
		pid[i] = waiter(&c, i, 10000, 30, p[1]);
		CHECK(until_queued(&c, (uint64_t)i + 1));
	}
	CHECK(release(&c, &t));
	for (i = 0; i < 6; i++) {
		if (!heard(p[0], &s) || s.who != i || s.state != PENALTY_NONE)
			ok = 0;
		printf("# let in %d: waiter %d, state %d, after %lld ms\n", i,
		    s.who, s.state, (long long)s.ms);
	}
	CHECK(ok);
	for (i = 0; i < 6; i++)
		CHECK(reaped(pid[i]));
	close(p[0]);
	close(p[1]);
	/* The last to leave removed the file. */
	CHECK(!queued(&c, 1) && !queued(&c, 6));
}

/*
 * No newcomer overtakes a waiter: with the place free but a (stopped)
 * waiter queued, a new attempt is refused; the waiter, let go, gets in.
 */
static void
test_no_overtaking(void)
{
	struct penalty_conf	c;
	struct penalty_token	t, t2;
	struct said		s;
	pid_t			pid;
	int			p[2];

	conf_new(&c, "overtake");
	CHECK(pipe(p) == 0);
	CHECK(take(&c, &t));
	pid = waiter(&c, 1, 10000, 0, p[1]);
	CHECK(until_queued(&c, 1));
	CHECK(kill(pid, SIGSTOP) == 0);
	CHECK(release(&c, &t));
	CHECK(!take(&c, &t2));
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(heard(p[0], &s) && s.who == 1 && s.state == PENALTY_NONE);
	CHECK(reaped(pid));
	CHECK(take(&c, &t2) && release(&c, &t2));
	close(p[0]);
	close(p[1]);
}

/*
 * A waiter whose time is up by the time it reaches the queue (the
 * penalty box's own locks took it) gives up at once: the timer for its
 * wait would be none, and it must not sleep until the one ahead leaves.
 */
static void
test_late_deadline(void)
{
	struct penalty_conf	c;
	struct penalty_token	t;
	struct said		s;
	pid_t			a, b;
	int			p[2];

	conf_new(&c, "late");
	CHECK(pipe(p) == 0);
	CHECK(take(&c, &t));
	a = waiter(&c, 1, 10000, 0, p[1]);
	CHECK(until_queued(&c, 1));
	b = waiter(&c, 2, 1, 0, p[1]);
	CHECK(heard(p[0], &s) && s.who == 2 && s.state == PENALTY_BUSY &&
	    s.ms < 1000);
	CHECK(reaped(b));
	CHECK(release(&c, &t));
	CHECK(heard(p[0], &s) && s.who == 1 && s.state == PENALTY_NONE);
	CHECK(reaped(a));
	close(p[0]);
	close(p[1]);
}

/* The CPU time (ms) and voluntary switches of the reaped child pid. */
static int
usage(pid_t pid, long *cpu_ms, long *switches)
{
	struct rusage	ru;
	int		status;

	if (wait4(pid, &status, 0, &ru) != pid)
		return 0;
	*cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
	*switches = ru.ru_nvcsw;
	printf("# waiter %d: %ld ms CPU, %ld voluntary switches\n", (int)pid,
	    *cpu_ms, *switches);
	return 1;
}

/*
 * Waits that run out: BUSY after the deadline, not before, and asleep
 * all along, at the head (woken by attempts' ends) and behind it (asleep
 * in the kernel until its turn): almost no CPU time and a handful of
 * wake-ups (polling every 20 ms would be 100 over 2 s), though attempts
 * of another address come and go meanwhile.
 */
static void
test_asleep(void)
{
	struct penalty_conf	c, other;
	struct penalty_token	t, o;
	struct said		s;
	struct timespec		nap = { 0, 100 * 1000000L };
	pid_t			pid[2];
	int			p[2], i, state, blocked;
	long			cpu_ms = 0, sw = 0;

	conf_new(&c, "asleep");
	CHECK(pipe(p) == 0);
	CHECK(take(&c, &t));
	pid[0] = waiter(&c, 0, 2000, 0, p[1]);
	CHECK(until_queued(&c, 1));
	pid[1] = waiter(&c, 1, 1900, 0, p[1]);
	CHECK(until_queued(&c, 2));
	other = c;
	for (i = 0; i < 10; i++) {
		nanosleep(&nap, NULL);
		if (penalty_attempt(&other, "192.0.2.8", "v", time(NULL),
		    &state, &o) == 0 && state == PENALTY_NONE)
			(void)penalty_settle(&other, "192.0.2.8", "v", &o,
			    time(NULL), 0, &blocked);
	}
	CHECK(heard(p[0], &s) && s.who == 1 && s.state == PENALTY_BUSY);
	printf("# behind: gave up after %lld ms\n", (long long)s.ms);
	CHECK(s.ms >= 1900 && s.ms < 2900);
	CHECK(heard(p[0], &s) && s.who == 0 && s.state == PENALTY_BUSY);
	printf("# head: gave up after %lld ms\n", (long long)s.ms);
	CHECK(s.ms >= 2000 && s.ms < 3000);
	for (i = 0; i < 2; i++) {
		CHECK(usage(pid[i], &cpu_ms, &sw));
		CHECK(cpu_ms < 50);
		CHECK(sw < 40);
	}
	CHECK(release(&c, &t));
	close(p[0]);
	close(p[1]);
}

/*
 * A SIGKILLed waiter ahead holds up no one; a waiter behind a head
 * still gives up at its own deadline.
 */
static void
test_dead_waiter(void)
{
	struct penalty_conf	c;
	struct penalty_token	t;
	struct said		s;
	pid_t			pid[3];
	int64_t			t0;
	int			p[2];

	conf_new(&c, "deadwaiter");
	CHECK(pipe(p) == 0);
	CHECK(take(&c, &t));
	pid[0] = waiter(&c, 0, 10000, 0, p[1]);
	CHECK(until_queued(&c, 1));
	pid[1] = waiter(&c, 1, 10000, 0, p[1]);
	CHECK(until_queued(&c, 2));
	pid[2] = waiter(&c, 2, 700, 0, p[1]);
	CHECK(until_queued(&c, 3));
	CHECK(heard(p[0], &s) && s.who == 2 && s.state == PENALTY_BUSY);
	CHECK(s.ms >= 700 && s.ms < 1700);
	CHECK(kill(pid[0], SIGKILL) == 0 && reaped(pid[0]));
	t0 = io_now_ms();
	CHECK(release(&c, &t));
	CHECK(heard(p[0], &s) && s.who == 1 && s.state == PENALTY_NONE);
	printf("# let in %lld ms after the release\n",
	    (long long)(io_now_ms() - t0));
	CHECK(io_now_ms() - t0 < 1000);
	CHECK(reaped(pid[1]) && reaped(pid[2]));
	close(p[0]);
	close(p[1]);
}

/*
 * The attempt's process SIGKILLed: the head gets in at once (its slot's
 * file closed by the kernel wakes it), long before its deadline; and a
 * queue file left by a SIGKILLed last waiter is swept.
 */
static void
test_dead_holder(void)
{
	struct penalty_conf	c;
	struct penalty_token	t;
	struct said		s;
	pid_t			holder, pid;
	int			p[2];
	char			ok = 0;
	int64_t			t0;

	conf_new(&c, "deadholder");
	CHECK(pipe(p) == 0);
	if ((holder = fork()) == 0) {
		ok = take(&c, &t);
		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(read(p[0], &ok, 1) == 1 && ok);
	pid = waiter(&c, 1, 10000, 0, p[1]);
	CHECK(until_queued(&c, 1));
	t0 = io_now_ms();
	CHECK(kill(holder, SIGKILL) == 0 && reaped(holder));
	CHECK(heard(p[0], &s) && s.state == PENALTY_NONE);
	printf("# let in %lld ms after the holder's death\n",
	    (long long)(io_now_ms() - t0));
	CHECK(io_now_ms() - t0 < 1000);
	CHECK(reaped(pid));

	/* A lone waiter killed: its file stays, for the sweep. */
	CHECK(take(&c, &t));
	pid = waiter(&c, 2, 10000, 0, p[1]);
	CHECK(until_queued(&c, 1));
	CHECK(kill(pid, SIGKILL) == 0 && reaped(pid));
	CHECK(!queued(&c, 1));
	CHECK(penalty_queue_sweep(c.dir, time(NULL)) == 1);
	CHECK(release(&c, &t));
	CHECK(take(&c, &t) && release(&c, &t));
	close(p[0]);
	close(p[1]);
}

/*
 * A burst: 16 processes each logging in 25 times, 5 in flight at most,
 * each held 20 ms: every wait is a few tens of ms, none runs out (a lost
 * wake-up would leave the queue asleep until its deadline).
 */
static void
test_burst(void)
{
	struct penalty_conf	c;
	struct said		s;
	pid_t			pid[16];
	int			p[2], i, k, refused = 0, status;
	int64_t			worst = 0;

	conf_new(&c, "burst");
	c.failures = 5;
	CHECK(pipe(p) == 0);
	for (i = 0; i < 16; i++)
		if ((pid[i] = fork()) == 0) {
			close(p[0]);
			for (k = 0; k < 25; k++)
				if (reaped(waiter(&c, i, 3000, 20, p[1])) == 0)
					_exit(1);
			_exit(0);
		}
	close(p[1]);
	for (k = 0; k < 16 * 25 && heard(p[0], &s); k++) {
		refused += s.state != PENALTY_NONE;
		if (s.ms > worst)
			worst = s.ms;
	}
	printf("# %d logins, %d refused, the longest wait %lld ms\n", k,
	    refused, (long long)worst);
	CHECK(k == 16 * 25 && refused == 0);
	for (i = 0; i < 16; i++)
		CHECK(waitpid(pid[i], &status, 0) == pid[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(p[0]);
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
	if (check_tmpdir(base, sizeof(base), "t_penalty_queue") == NULL) {
		perror("mkdtemp");
		return 1;
	}
	alarm(120);	/* a hung queue fails the tester, never the run */
	test_fifo();
	test_no_overtaking();
	test_late_deadline();
	test_asleep();
	test_dead_waiter();
	test_dead_holder();
	test_burst();
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return check_done();
}

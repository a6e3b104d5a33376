/*
 * The login queue: a login that finds its address's logins in flight at
 * a threshold (PENALTY_BUSY) waits its turn, first come first served,
 * asleep, for at most the caller's time (LOGIN_BUSY_WAIT_MS).
 *
 * Tickets.  dir/queue/ADDR holds a counter per lane (8 octets at 8 *
 * lane) and one lockable octet per ticket: a waiter holds ticket t of
 * lane l by an OFD write lock on octet QUEUE_BASE + l * QUEUE_LANE_SPAN
 * + t.  Tickets are drawn under the penalty box's update lock, in the
 * same hold that found the attempt BUSY, so the queue's order is the
 * order in which logins were refused; and an attempt that would start
 * is refused while anyone of its lane waits (penalty_queue_state), so no
 * newcomer overtakes a waiter.  Only the head (no ticket held below its
 * own) tries again.  The kernel drops a lock when the last descriptor of
 * its open file goes, so a waiter that dies, however it dies, leaves the
 * queue at once: no one ever waits behind a dead ticket, and no cleanup
 * is needed for the order to hold.  A lane is the whole address, or with
 * per-user counting (POP3D_PENALTY_SCOPE=user) a user's (by the hash of
 * the name, QUEUE_LANES of them): one user's logins waiting out their own
 * threshold hold up no one else's.
 *
 * Sleeping behind the head.  A waiter sleeps in the kernel, in
 * F_OFD_SETLKW for a read lock of its predecessor's octet: the kernel
 * wakes it when that lock goes, whether the predecessor left or died,
 * and wakes no one else.  It then looks again (F_OFD_GETLK over the
 * tickets below its own): a predecessor that died or gave up may have
 * left others ahead, which it waits on in turn.  A blocking lock wait can
 * be bounded only by a signal: SIGALRM from an interval timer, caught
 * for this wait alone (the front uses no SIGALRM otherwise; the handler
 * and mask are put back after, and no timer is left).  A leaver unlocks
 * its ticket before it closes the file.
 *
 * Sleeping at the head.  The head waits for any one of the attempts in
 * flight to end, which no single lock wait can say: it sleeps in poll on
 * an inotify descriptor watching dir/inflight for IN_CLOSE_WRITE, since
 * every attempt ends with a close of its slot's file opened for writing
 * (settled, or its process dead and its descriptors closed by the
 * kernel).  The watch is set before the state it waits on is looked at,
 * so no wake-up falls between; the kernel reports a close just before it
 * drops the file's locks, so news that changed nothing is looked at once
 * more LOGIN_BUSY_STEP_MS later.  The sleep also ends at the deadline and
 * at the second an attempt or failure stops counting by time alone
 * (penalty_queue.change), and after QUEUE_HEAD_LOOK_MS: another host
 * sharing the directory ends attempts that no inotify here reports.
 * Only heads hold an inotify instance, one per
 * busy address (lane), not one per waiting login: root's instances
 * (fs.inotify.max_user_instances, 128 by default) are shared with other
 * daemons.  Without one (that limit reached) the head tries again every
 * LOGIN_BUSY_STEP_MS, as before the queue; the order still holds.
 *
 * Removal.  A leaver that finds no other lock on the file (it takes the
 * whole file at once, without waiting) unlinks it; a joiner read-locks
 * QUEUE_GATE while it draws, and checks that the file it locked is still
 * the one the name gives (as conn.c's takers do).  A file left by a dead
 * last waiter is swept (penalty_queue_sweep), or reused.
 */
#include <sys/inotify.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdalign.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "lock.h"
#include "penalty_queue.h"

#define QUEUE_GATE	0
#define QUEUE_LANES	PENALTY_QUEUE_LANES
#define QUEUE_LANE_SPAN	PENALTY_QUEUE_SPAN
#define QUEUE_BASE	PENALTY_QUEUE_BASE
#define QUEUE_RETRIES	8			/* as CONN_RETRIES */
#define QUEUE_REFIRE_MS	10
/*
 * The head looks again at least this often: inotify sees only this
 * host's closes, and hosts sharing the state directory (DESIGN.md,
 * "Several hosts") end attempts of their own.
 */
#define QUEUE_HEAD_LOOK_MS	1000

_Static_assert(QUEUE_BASE + (off_t)QUEUE_LANES * QUEUE_LANE_SPAN <
    ((off_t)1 << 62), "every ticket's octet is a valid offset");

/* The lane of a login of the user with hash. */
static unsigned
queue_lane(const struct penalty_conf *conf, uint64_t hash)
{
	return conf->per_user ? (unsigned)(hash % QUEUE_LANES) : 0;
}

static off_t
lane_start(unsigned lane)
{
	return QUEUE_BASE + (off_t)lane * QUEUE_LANE_SPAN;
}

/* dir/queue opened (create: made when missing): or -1 with errno. */
static int
queue_dir(const char *dir, int create)
{
	char	path[PATH_MAX];

	if (statedir_path(path, dir, PENALTY_QUEUE) == -1)
		return -1;
	return statedir_open(path, create);
}

/*
 * Is a login waiting ahead of q (q NULL or not queued: any of lane) in
 * dir's queue of addr?  1, 0, or -1 with errno.
 */
static int
queue_ahead(const char *dir, const char *addr, unsigned lane,
    const struct penalty_queue *q)
{
	int	dfd, fd, r;

	if (q != NULL && q->fd != -1)
		return lock_held(q->fd, lane_start(q->lane), (off_t)q->ticket);
	if ((dfd = queue_dir(dir, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	fd = openat(dfd, addr, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close_keep_errno(dfd);
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	r = lock_held(fd, lane_start(lane), QUEUE_LANE_SPAN);
	close_keep_errno(fd);
	return r;
}

/* Draws the next ticket of q->lane on fd (the gate held): 0, or -1. */
static int
queue_draw(int fd, struct penalty_queue *q)
{
	uint64_t	last = 0;
	ssize_t		n;

	n = pread(fd, &last, sizeof(last), (off_t)q->lane * 8);
	if (n == -1)
		return -1;
	if (n != sizeof(last))
		last = 0;		/* a new file, or a new lane */
	if (last + 1 >= (uint64_t)QUEUE_LANE_SPAN) {
		errno = EOVERFLOW;	/* a queue never empty for ages */
		return -1;
	}
	q->ticket = last + 1;
	if (pwrite(fd, &q->ticket, sizeof(q->ticket), (off_t)q->lane * 8) !=
	    sizeof(q->ticket)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return lock_try(fd, F_WRLCK, lane_start(q->lane) + (off_t)q->ticket,
	    1);
}

/* One try at a ticket: 1 with it, 2 when the file went under us, -1. */
static int
queue_join_try(int dfd, const char *addr, struct penalty_queue *q)
{
	int	fd, same;

	if ((fd = statedir_lockat(dfd, addr, O_RDWR | O_CREAT, F_RDLCK,
	    QUEUE_GATE, 1)) == -1)
		return -1;
	if ((same = statedir_same(dfd, addr, fd)) != 1) {
		close_keep_errno(fd);
		return same == 0 ? 2 : -1;
	}
	if (queue_draw(fd, q) == -1 ||
	    lock_try(fd, F_UNLCK, QUEUE_GATE, 1) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	q->fd = fd;
	return 1;
}

static int
queue_join(const char *dir, const char *addr, unsigned lane,
    struct penalty_queue *q)
{
	int	dfd, try, r = 2;

	if ((dfd = queue_dir(dir, 1)) == -1)
		return -1;
	q->lane = lane;
	q->head = 0;
	for (try = 0; try < QUEUE_RETRIES && r == 2; try++)
		r = queue_join_try(dfd, addr, q);
	close_keep_errno(dfd);
	if (r == 2)
		errno = EAGAIN;
	return r == 1 ? 0 : -1;
}

/*
 * The second by which r, found BUSY at now, may change by time alone:
 * the first attempt to outlive PENALTY_ATTEMPT_TTL or failure to leave
 * the window (penalty_prune's rules); 0 when none will.
 */
static time_t
busy_change(const struct penalty_conf *conf, const struct penalty_record *r,
    time_t now)
{
	time_t	t, first = 0;
	size_t	i;

	for (i = 0; i < r->ntries; i++) {
		t = r->try[i].when + PENALTY_ATTEMPT_TTL;
		if (t > now && (first == 0 || t < first))
			first = t;
	}
	for (i = 0; i < r->nfails; i++) {
		t = r->fail[i].when + conf->window;
		if (t > now && (first == 0 || t < first))
			first = t;
	}
	return first;
}

int
penalty_queue_state(const struct penalty_conf *conf, const char *addr,
    uint64_t hash, const struct penalty_queue *q)
{
	int	ahead;

	ahead = queue_ahead(conf->dir, addr, queue_lane(conf, hash), q);
	return ahead == -1 ? -1 : ahead ? PENALTY_BUSY : PENALTY_NONE;
}

int
penalty_queue_busy(const struct penalty_conf *conf, const char *addr,
    uint64_t hash, const struct penalty_record *r, time_t now,
    struct penalty_queue *q)
{
	q->change = busy_change(conf, r, now);
	if (q->fd != -1)
		return 0;
	return queue_join(conf->dir, addr, queue_lane(conf, hash), q);
}

/* Leaves the queue, removing its file when no one else is in it. */
static void
queue_leave(const char *dir, const char *addr, struct penalty_queue *q)
{
	int	dfd;

	if (q->ino != -1)
		close(q->ino);
	q->ino = -1;
	if (q->fd == -1)
		return;
	/* Ours alone (our own ticket is no conflict): no one waits. */
	if (lock_try(q->fd, F_WRLCK, 0, 0) == 0 &&
	    (dfd = queue_dir(dir, 0)) != -1) {
		if (statedir_same(dfd, addr, q->fd) == 1)
			(void)unlinkat(dfd, addr, 0);
		close(dfd);
	}
	/*
	 * Unlocked before the close: the kernel reports a close before it
	 * drops the file's locks, and the waiter it wakes must find ours
	 * gone.
	 */
	(void)lock_try(q->fd, F_UNLCK, 0, 0);
	close(q->fd);
	q->fd = -1;
}

/*
 * q is at the head: it watches dir/inflight for the close of a slot's
 * file, an attempt's end (without inotify it will look in steps).
 */
static void
queue_head(const char *dir, struct penalty_queue *q)
{
	char	path[PATH_MAX];

	q->head = 1;
	if ((q->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return;
	/* A missing inflight/ has no attempt to wait for: still watched. */
	if (statedir_path(path, dir, PENALTY_INFLIGHT) == -1 ||
	    (inotify_add_watch(q->ino, path, IN_CLOSE_WRITE | IN_ONLYDIR |
	    IN_DONT_FOLLOW) == -1 && errno != ENOENT)) {
		close(q->ino);
		q->ino = -1;
	}
}

static volatile sig_atomic_t	queue_rang;

static void
queue_on_alarm(int sig)
{
	(void)sig;
	queue_rang = 1;
}

/* The timer for queue_wait_turn: left ms, then every QUEUE_REFIRE_MS. */
static void
queue_timer(int64_t left)
{
	struct itimerval	it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = left / 1000;
	it.it_value.tv_usec = (left % 1000) * 1000;
	if (left > 0)
		it.it_interval.tv_usec = QUEUE_REFIRE_MS * 1000;
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * The octet of a ticket held ahead of q to wait on: its predecessor's
 * when held (each waiter then sleeps on one other, and a leaver wakes
 * one), else any held below (one that died or gave up left a gap).  1
 * with *off, 0 when none is held (q's turn), or -1 with errno.
 */
static int
queue_ahead_of(const struct penalty_queue *q, off_t *off)
{
	struct flock	fl;
	off_t		start = lane_start(q->lane);
	int		r;

	if (q->ticket > 1 && (r = lock_held(q->fd, start +
	    (off_t)q->ticket - 1, 1)) != 0) {
		*off = start + (off_t)q->ticket - 1;
		return r;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = (off_t)q->ticket;
	if (fcntl(q->fd, F_OFD_GETLK, &fl) == -1)
		return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	/* A remover's lock spans the whole file: wait at the lane's start. */
	*off = fl.l_start > start ? fl.l_start : start;
	return 1;
}

/*
 * Sleeps in the kernel until no ticket of q's lane below its own is held
 * (F_OFD_SETLKW for a read lock of the octet of one held ahead, released
 * at once, until none is): 1, its turn; 0 at deadline; -1 with errno.
 * Only a signal can bound a blocking lock wait: SIGALRM, caught here
 * alone for this wait, without SA_RESTART and let through for it, its
 * handler put back after.  A first signal that comes just before the
 * wait begins is missed; the timer fires again every QUEUE_REFIRE_MS, so
 * the deadline is late by that at most.
 */
static int
queue_wait_turn(struct penalty_queue *q, int64_t deadline)
{
	struct sigaction	sa, old;
	struct flock		fl;
	sigset_t		alrm, mask;
	off_t			off;
	int64_t			left = deadline - io_now_ms();
	int			r;

	/* Out of time already: a timer of 0 would be none, and never ring. */
	if (left <= 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = queue_on_alarm;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (sigaction(SIGALRM, &sa, &old) == -1)
		return -1;
	sigprocmask(SIG_UNBLOCK, &alrm, &mask);
	queue_timer(left);
	while ((r = queue_ahead_of(q, &off)) == 1) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_RDLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = off;
		fl.l_len = 1;
		if (fcntl(q->fd, F_OFD_SETLKW, &fl) == 0)
			r = lock_try(q->fd, F_UNLCK, off, 1);
		else if (errno == EINTR)
			r = io_now_ms() < deadline ? 0 : -2;
		else
			r = -1;
		if (r != 0)
			break;
	}
	queue_timer(0);		/* no signal after this */
	sigprocmask(SIG_SETMASK, &mask, NULL);
	sigaction(SIGALRM, &old, NULL);
	queue_rang = 0;
	return r == 0 ? 1 : r == -2 ? 0 : -1;
}

/* Did the events in buf[0..n) concern name (or the watches themselves)? */
static int
queue_news(const char *buf, ssize_t n, const char *name)
{
	const struct inotify_event	*ev;
	ssize_t				 off;

	for (off = 0; off + (ssize_t)sizeof(*ev) <= n;
	    off += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)(buf + off);
		if (ev->len == 0 || (ev->mask & IN_Q_OVERFLOW) ||
		    strcmp(ev->name, name) == 0)
			return 1;
	}
	return 0;
}

/*
 * Sleeps until something that may let q on happens to addr's files (1),
 * or until (an io_now_ms time, 0).  A signal ends it early: the caller
 * looks again, no harm.
 */
static int
queue_sleep(struct penalty_queue *q, const char *addr, int64_t until)
{
	alignas(struct inotify_event) char	buf[4096];
	struct pollfd				pfd;
	struct timespec				ts;
	int64_t					left;
	ssize_t					n;

	while ((left = until - io_now_ms()) > 0) {
		if (q->ino == -1) {
			if (left > LOGIN_BUSY_STEP_MS)
				left = LOGIN_BUSY_STEP_MS;
			ts.tv_sec = 0;
			ts.tv_nsec = (long)left * 1000000L;
			(void)nanosleep(&ts, NULL);
			return 0;
		}
		pfd.fd = q->ino;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) != 1)
			return 0;
		/* Other addresses' closes wake us too: sleep on. */
		if ((n = read(q->ino, buf, sizeof(buf))) <= 0)
			return 0;
		if (queue_news(buf, n, addr))
			return 1;
	}
	return 0;
}

/* The io_now_ms time of the wall clock's second t (0: never). */
static int64_t
second_ms(time_t t)
{
	struct timespec	ts;

	if (t == 0 || clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return INT64_MAX;
	return io_now_ms() + ((int64_t)t - ts.tv_sec) * 1000 -
	    ts.tv_nsec / 1000000;
}

int
penalty_attempt_wait(const struct penalty_conf *conf, const char *addr,
    const char *user, int wait_ms, int *state, struct penalty_token *token)
{
	struct penalty_queue	q;
	int64_t			deadline = io_now_ms() + wait_ms, until;
	int			rc, turn, news = 0;

	memset(&q, 0, sizeof(q));
	q.fd = q.ino = -1;
	rc = penalty_attempt_q(conf, addr, user, time(NULL), state, token,
	    wait_ms > 0 ? &q : NULL);
	while (rc == 0 && *state == PENALTY_BUSY && q.fd != -1) {
		if (!q.head) {
			if ((turn = queue_wait_turn(&q, deadline)) != 1) {
				rc = turn;	/* 0: still BUSY */
				break;
			}
			/* Watching the slots now: look at them afresh. */
			queue_head(conf->dir, &q);
			rc = penalty_attempt_q(conf, addr, user, time(NULL),
			    state, token, &q);
			continue;
		}
		if (io_now_ms() >= deadline)
			break;
		until = second_ms(q.change) < deadline ?
		    second_ms(q.change) : deadline;
		if (until > io_now_ms() + QUEUE_HEAD_LOOK_MS)
			until = io_now_ms() + QUEUE_HEAD_LOOK_MS;
		/*
		 * A dead process's close is reported just before the kernel
		 * drops its locks: after news that changed nothing, one more
		 * look a moment later.
		 */
		if (news && until > io_now_ms() + LOGIN_BUSY_STEP_MS)
			until = io_now_ms() + LOGIN_BUSY_STEP_MS;
		news = queue_sleep(&q, addr, until);
		rc = penalty_attempt_q(conf, addr, user, time(NULL), state,
		    token, &q);
	}
	queue_leave(conf->dir, addr, &q);
	return rc;
}

/* A sweep's look at one queue file: 1 removed, 0 kept, or -1. */
static int
sweep_one(int dfd, const char *name, void *arg)
{
	int	fd, r = 0;

	(void)arg;
	fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT || errno == ELOOP || errno == EISDIR ||
		    errno == ENXIO ? 0 : -1;
	/* Every octet at once: no one waits, and no one draws. */
	if (lock_try(fd, F_WRLCK, 0, 0) == -1)
		r = errno == EAGAIN ? 0 : -1;
	else if ((r = statedir_same(dfd, name, fd)) == 1 &&
	    unlinkat(dfd, name, 0) == -1)
		r = errno == ENOENT ? 0 : -1;
	close_keep_errno(fd);
	return r;
}

long
penalty_queue_sweep(const char *dir, time_t now)
{
	long	n;
	int	dfd;

	if ((dfd = queue_dir(dir, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = statedir_sweep(dfd, CONN_SWEEP_INTERVAL, now, NULL, sweep_one,
	    NULL);
	close_keep_errno(dfd);
	return n;
}

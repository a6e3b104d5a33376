/*
 * The penalty box's rules: what a failure, an attempt or hostile input
 * does to an address's record, and the interface that reads and updates
 * records (penalty_record.c holds their text and files, penalty_list.c
 * clearing, listing and sweeping).  Every update is the same three steps
 * under the directory's lock: load the record, change it, store it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "io.h"
#include "penalty.h"
#include "penalty_queue.h"
#include "penalty_record.h"

int
penalty_path(char *buf, size_t n, const char *dir, const char *addr)
{
	int	r;

	if (addr == NULL || !statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(buf, n, "%s/%s", dir, addr);
	if (r < 0 || (size_t)r >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* now + secs, never past PENALTY_TIME_MAX. */
static time_t
penalty_time_after(time_t now, unsigned secs)
{
	return now + secs > PENALTY_TIME_MAX ? PENALTY_TIME_MAX : now + secs;
}

/* FNV-1a: stable across processes and versions, unlike a seeded hash. */
static uint64_t
penalty_user_hash(const char *user)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *user != '\0'; user++) {
		h ^= (unsigned char)*user;
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;	/* 0 marks a spent failure */
}

/* A threshold, never past what a record can count. */
static size_t
threshold(unsigned n)
{
	return n > PENALTY_FAILS_MAX ? PENALTY_FAILS_MAX : n;
}

/* user (NULL: "") and addr as an update takes them: 0, or -1 (EINVAL). */
static int
args_valid(const char *addr, const char **user, time_t now)
{
	if (*user == NULL)
		*user = "";
	if (strlen(*user) > POP3_USER_MAX || addr == NULL ||
	    !statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	return statedir_time_valid(now) ? 0 : -1;
}

/* ---- what a record still holds ---- */

void
penalty_prune(struct penalty_record *r, unsigned window, time_t now)
{
	size_t	i, n;
	time_t	age;

	if (r->why != PENALTY_NONE && r->until <= now) {
		r->why = PENALTY_NONE;
		r->until = 0;
	}
	for (i = n = 0; i < r->nusers; i++)
		if (r->user[i].until > now)
			r->user[n++] = r->user[i];
	r->nusers = n;
	/* A failure "from the future" (the clock went back) still counts. */
	for (i = n = 0; i < r->nfails; i++)
		if (r->fail[i].when > now || now - r->fail[i].when < window)
			r->fail[n++] = r->fail[i];
	r->nfails = n;
	/* An attempt counts for PENALTY_ATTEMPT_TTL either way. */
	for (i = n = 0; i < r->ntries; i++) {
		age = r->try[i].when > now ? r->try[i].when - now :
		    now - r->try[i].when;
		if (age < PENALTY_ATTEMPT_TTL)
			r->try[n++] = r->try[i];
	}
	r->ntries = n;
}

int
penalty_tries_alive(const char *dir, const char *addr,
    struct penalty_record *r)
{
	char	path[PATH_MAX];
	size_t	i, n;
	int	fd, held;

	if (r->ntries == 0)
		return 0;
	if (statedir_path(path, dir, PENALTY_INFLIGHT) == -1)
		return -1;
	/* No slot file: no attempt's process lives. */
	if ((fd = conn_slot_open(path, addr)) == -1 && errno != ENOENT)
		return -1;
	for (i = n = 0; i < r->ntries; i++) {
		held = 0;
		if (fd != -1 && r->try[i].slot != PENALTY_SLOT_NONE &&
		    (held = conn_slot_held(fd, r->try[i].slot)) == -1) {
			close_keep_errno(fd);
			return -1;
		}
		if (held)
			r->try[n++] = r->try[i];
	}
	r->ntries = n;
	if (fd != -1)
		close(fd);
	return 0;
}

int
penalty_live(const struct penalty_record *r)
{
	return r->why != PENALTY_NONE || r->nusers > 0 || r->nfails > 0 ||
	    r->ntries > 0;
}

/* ---- an update ---- */

struct update {
	const char		*dir;
	int			 dfd;	/* the directory */
	int			 lock;	/* its lock file, locked */
	struct penalty_record	*r;	/* addr's record */
};

/* Closes and frees what update_begin took, keeping errno. */
static void
update_free(struct update *u)
{
	close_keep_errno(u->lock);
	close_keep_errno(u->dfd);
	penalty_record_free(u->r);
}

/*
 * Opens and locks dir (making it when missing) and loads addr's record
 * into u->r, forgetting what has ended by now: 0, or -1 with errno.
 */
static int
update_begin(const struct penalty_conf *conf, const char *addr, time_t now,
    struct update *u)
{
	u->dir = conf->dir;
	if ((u->r = penalty_record_new()) == NULL)
		return -1;
	u->lock = -1;
	if ((u->dfd = statedir_open(conf->dir, 1)) == -1 ||
	    (u->lock = penalty_lock(u->dfd, 1)) == -1 ||
	    penalty_load(conf->dir, u->dfd, addr, u->r, 1) == -1)
		goto fail;
	penalty_prune(u->r, conf->window, now);
	/* Under the lock: no attempt begins or settles meanwhile. */
	if (penalty_tries_alive(conf->dir, addr, u->r) == -1)
		goto fail;
	return 0;
fail:
	update_free(u);
	return -1;
}

/* Stores the record when store is set, and unlocks: 0, or -1 with errno. */
static int
update_end(struct update *u, const char *addr, int store)
{
	int	rc = 0;

	if (store)
		rc = penalty_store(u->dfd, addr, u->r);
	update_free(u);
	return rc;
}

/* ---- blocks and failures ---- */

/* Blocks the address until then, never shortening a longer block. */
static void
block_address(struct penalty_record *r, int why, time_t until)
{
	if (r->why != PENALTY_NONE && r->until >= until)
		return;
	r->why = why;
	r->until = until;
}

/* Is user blocked in r (already pruned)?  The block's index, or -1. */
static long
user_blocked(const struct penalty_record *r, const char *user)
{
	size_t	i;

	for (i = 0; i < r->nusers; i++)
		if (strcmp(r->user[i].name, user) == 0)
			return (long)i;
	return -1;
}

/*
 * Blocks user: 0, or -1 when PENALTY_USERS_MAX other users are blocked
 * from the address already (r is pruned: every block there is active).
 * An active block is never given up for another's: failures under other
 * names must not lift a real user's block.
 */
static int
block_user(struct penalty_record *r, const char *user, time_t until)
{
	long	i;

	if ((i = user_blocked(r, user)) != -1) {
		if (r->user[i].until < until)
			r->user[i].until = until;
		return 0;
	}
	if (r->nusers == PENALTY_USERS_MAX)
		return -1;
	i = r->nusers++;
	memcpy(r->user[i].name, user, strlen(user) + 1);
	r->user[i].until = until;
	return 0;
}

/* Adds a failure; a full list loses its oldest. */
static void
fail_add(struct penalty_record *r, time_t now, uint64_t user)
{
	if (r->nfails == PENALTY_FAILS_MAX) {
		memmove(r->fail, r->fail + 1,
		    (PENALTY_FAILS_MAX - 1) * sizeof(r->fail[0]));
		r->nfails--;
	}
	r->fail[r->nfails].when = now;
	r->fail[r->nfails].user = user;
	r->nfails++;
}

static size_t
fail_count(const struct penalty_record *r, uint64_t user)
{
	size_t	i, n = 0;

	for (i = 0; i < r->nfails; i++)
		if (r->fail[i].user == user)
			n++;
	return n;
}

/*
 * A user block starts the user's count afresh, but the failures still
 * count towards the address's ceiling: otherwise trying each name up to
 * its threshold would never block the address.
 */
static void
fail_spend(struct penalty_record *r, uint64_t user)
{
	size_t	i;

	for (i = 0; i < r->nfails; i++)
		if (r->fail[i].user == user)
			r->fail[i].user = 0;
}

/* The address scope: N failures within the window block the address. */
static int
fail_address(const struct penalty_conf *conf, struct penalty_record *r,
    time_t now)
{
	if (r->nfails < threshold(conf->failures))
		return 0;
	block_address(r, PENALTY_FAILURES,
	    penalty_time_after(now, conf->block));
	/* A block resets the count: after it, the address starts afresh. */
	r->nfails = 0;
	return PENALTY_FAILURES;
}

/*
 * The per-user scope: N of a user's block that user from the address.
 * When the table of user blocks is full, the address is blocked instead:
 * so many names reaching their threshold from one address is a hunt for
 * names, not one user's typos, and no block already there is lifted.
 */
static int
fail_user(const struct penalty_conf *conf, struct penalty_record *r,
    const char *user, uint64_t hash, time_t now)
{
	time_t	until = penalty_time_after(now, conf->block);
	int	blocked = 0, full = 0;

	if (fail_count(r, hash) >= threshold(conf->failures)) {
		full = block_user(r, user, until) == -1;
		fail_spend(r, hash);
		blocked = -1;
	}
	if (full || (conf->address_failures != 0 &&
	    r->nfails >= threshold(conf->address_failures))) {
		block_address(r, PENALTY_FAILURES, until);
		r->nfails = 0;
		blocked = PENALTY_FAILURES;
	}
	return blocked;
}

/* A failure of user at now, and the block it makes (penalty_settle). */
static int
fail_record(const struct penalty_conf *conf, struct penalty_record *r,
    const char *user, time_t now)
{
	uint64_t	hash = penalty_user_hash(user);

	fail_add(r, now, hash);
	if (conf->per_user)
		return fail_user(conf, r, user, hash, now);
	return fail_address(conf, r, now);
}

/* ---- attempts in flight ---- */

static size_t
try_count(const struct penalty_record *r, uint64_t user)
{
	size_t	i, n = 0;

	for (i = 0; i < r->ntries; i++)
		if (r->try[i].user == user)
			n++;
	return n;
}

/*
 * May user begin an attempt?  PENALTY_NONE, or the state that refuses
 * it.  An attempt counts as a failure would, so that however many run at
 * once, no more checks run than failures could before a block.
 */
static int
try_state(const struct penalty_conf *conf, const struct penalty_record *r,
    const char *user, uint64_t hash)
{
	if (r->why != PENALTY_NONE)
		return r->why;
	if (conf->per_user) {
		if (user_blocked(r, user) != -1)
			return PENALTY_USER;
		if (fail_count(r, hash) + try_count(r, hash) >=
		    threshold(conf->failures))
			return PENALTY_BUSY;
		if (conf->address_failures != 0 && r->nfails + r->ntries >=
		    threshold(conf->address_failures))
			return PENALTY_BUSY;
	} else if (r->nfails + r->ntries >= threshold(conf->failures))
		return PENALTY_BUSY;
	if (r->ntries == PENALTY_ATTEMPTS_MAX)
		return PENALTY_BUSY;
	return PENALTY_NONE;
}

/*
 * Removes the attempt that holds slot (no other can while it does): 1,
 * or 0 when it is gone already (it outlived PENALTY_ATTEMPT_TTL).
 */
static int
try_remove(struct penalty_record *r, unsigned slot)
{
	size_t	i;

	for (i = 0; i < r->ntries; i++) {
		if (r->try[i].slot != slot)
			continue;
		memmove(r->try + i, r->try + i + 1,
		    (r->ntries - i - 1) * sizeof(r->try[0]));
		r->ntries--;
		return 1;
	}
	return 0;
}

/* ---- the interface ---- */

/*
 * Loads addr's record for a look, without the lock: 0 (an empty record
 * when dir is missing), or -1 with errno.
 */
static int
check_load(const struct penalty_conf *conf, const char *addr, time_t now,
    struct penalty_record *r)
{
	int	dfd, rc;

	penalty_record_empty(r);
	if (addr == NULL || !statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = statedir_open(conf->dir, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	rc = penalty_load(conf->dir, dfd, addr, r, 0);
	close_keep_errno(dfd);
	if (rc == 0) {
		penalty_prune(r, conf->window, now);
		rc = penalty_tries_alive(conf->dir, addr, r);
	}
	return rc;
}

int
penalty_check(const struct penalty_conf *conf, const char *addr, time_t now,
    struct penalty_entry *e)
{
	struct penalty_record	*r;
	int			 rc;

	if ((r = penalty_record_new()) == NULL)
		return -1;
	if ((rc = check_load(conf, addr, now, r)) == 0)
		penalty_entry_fill(e, addr, r);
	penalty_record_free(r);
	return rc;
}

_Static_assert(PENALTY_ATTEMPTS_MAX <= CONN_PER_ADDRESS_MAX,
    "an attempt's slot is a connection slot of dir/inflight");

/* Gives the slot of token back, whatever happens: 0, or -1 with errno. */
static int
token_release(const struct penalty_conf *conf, const char *addr,
    struct penalty_token *token)
{
	char	dir[PATH_MAX];
	int	fd = token->fd;

	token->fd = -1;
	if (fd == -1)
		return 0;
	if (statedir_path(dir, conf->dir, PENALTY_INFLIGHT) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	return conn_slot_release(dir, addr, fd);
}

/*
 * Takes a slot for an attempt of user at now into r: 1 with *token, 0
 * when every slot is held, or -1.
 */
static int
try_begin(const struct penalty_conf *conf, const char *addr,
    struct penalty_record *r, uint64_t hash, time_t now,
    struct penalty_token *token)
{
	char	dir[PATH_MAX];
	int	got;

	if (statedir_path(dir, conf->dir, PENALTY_INFLIGHT) == -1)
		return -1;
	if ((got = conn_slot_take_which(dir, addr, PENALTY_ATTEMPTS_MAX,
	    &token->fd, &token->slot)) != 1)
		return got;
	r->try[r->ntries].when = now;
	r->try[r->ntries].user = hash;
	r->try[r->ntries].slot = token->slot;
	r->ntries++;
	token->when = now;
	return 1;
}

int
penalty_attempt(const struct penalty_conf *conf, const char *addr,
    const char *user, time_t now, int *state, struct penalty_token *token)
{
	return penalty_attempt_q(conf, addr, user, now, state, token, NULL);
}

int
penalty_attempt_q(const struct penalty_conf *conf, const char *addr,
    const char *user, time_t now, int *state, struct penalty_token *token,
    struct penalty_queue *q)
{
	struct update	u;
	uint64_t	hash;
	int		s, got = 0;

	*state = PENALTY_NONE;
	token->when = 0;
	token->fd = -1;
	token->slot = 0;
	if (args_valid(addr, &user, now) == -1)
		return -1;
	if (conf->failures == 0)
		return 0;
	if (update_begin(conf, addr, now, &u) == -1)
		return -1;
	hash = penalty_user_hash(user);
	if ((s = try_state(conf, u.r, user, hash)) == PENALTY_NONE)
		s = penalty_queue_state(conf, addr, hash, q);
	if (s == PENALTY_NONE &&
	    (got = try_begin(conf, addr, u.r, hash, now, token)) == 0)
		s = PENALTY_BUSY;	/* every slot held */
	/* Queued in the order refused: under the lock that refused it. */
	if (s == -1 || got == -1 || (s == PENALTY_BUSY && q != NULL &&
	    penalty_queue_busy(conf, addr, hash, u.r, now, q) == -1)) {
		(void)update_end(&u, addr, 0);
		return -1;
	}
	/* A refusal changes nothing: no need to write. */
	if (update_end(&u, addr, s == PENALTY_NONE) == -1) {
		(void)token_release(conf, addr, token);
		token->when = 0;
		return -1;
	}
	*state = s;
	return 0;
}

int
penalty_settle(const struct penalty_conf *conf, const char *addr,
    const char *user, struct penalty_token *token, time_t now, int failed,
    int *blocked)
{
	struct update	u;
	int		b = 0, changed, rc, saved;

	*blocked = 0;
	if (args_valid(addr, &user, now) == -1 ||
	    (conf->failures != 0 && update_begin(conf, addr, now, &u) == -1)) {
		saved = errno;
		(void)token_release(conf, addr, token);
		errno = saved;
		return -1;
	}
	if (conf->failures == 0)
		return token_release(conf, addr, token);
	changed = token->fd != -1 && try_remove(u.r, token->slot);
	if (failed) {
		b = fail_record(conf, u.r, user, now);
		changed = 1;
	}
	rc = changed ? penalty_store(u.dfd, addr, u.r) : 0;
	/* Still under the lock: the failure counts before the slot frees. */
	if (token_release(conf, addr, token) == -1)
		rc = -1;
	if (update_end(&u, addr, 0) == -1)
		rc = -1;
	if (rc == 0)
		*blocked = b;
	return rc;
}

int
penalty_hostile(const struct penalty_conf *conf, const char *addr,
    time_t now)
{
	struct update	u;
	const char	*user = NULL;

	if (args_valid(addr, &user, now) == -1)
		return -1;
	if (update_begin(conf, addr, now, &u) == -1)
		return -1;
	block_address(u.r, PENALTY_HOSTILE,
	    penalty_time_after(now, conf->hostile));
	return update_end(&u, addr, 1);
}

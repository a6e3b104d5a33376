/*
 * The penalty box: failed logins, login attempts in flight and hostile
 * input, remembered per client address across connections and processes
 * (DESIGN.md).  Every function refuses a directory that is a symbolic link
 * (ELOOP), not a directory (ENOTDIR), or not owned by the effective uid or
 * writable by others (EPERM): whoever could write there could forge or
 * lift blocks; updates make their directories (0700) when missing.  A
 * lock is waited for PENALTY_LOCK_TIMEOUT_MS (ETIMEDOUT).
 */
#ifndef POP3D_PENALTY_H
#define POP3D_PENALTY_H

#include <stddef.h>
#include <time.h>

#include "pop3d_limits.h"

struct penalty_conf {
	const char	*dir;		/* the penalty box directory */
	unsigned	 failures;	/* failed logins that block */
	unsigned	 window;	/* seconds they count within */
	unsigned	 block;		/* seconds a failures block lasts */
	unsigned	 hostile;	/* seconds a hostile-input block lasts */
	int		 per_user;	/* count per address and user */
	unsigned	 address_failures; /* per_user: whole address blocks */
};

#define PENALTY_NONE		0
#define PENALTY_FAILURES	1	/* too many failed logins */
#define PENALTY_HOSTILE		2	/* a line over 512 octets */
/* States penalty_attempt reports besides the three above: */
#define PENALTY_USER		3	/* the user is blocked from this
					   address (per_user) */
#define PENALTY_BUSY		4	/* attempts in flight already reach
					   a threshold */

/*
 * A login attempt in flight, as penalty_attempt began it: the slot it
 * holds among its address's (an OFD lock on a file under dir/inflight/,
 * through fd), so that its process ending, however it ends, ends the
 * attempt at once.  when is the second it began, 0 for none.
 */
struct penalty_token {
	long long	 when;
	int		 fd;		/* holds the slot, or -1 */
	unsigned	 slot;
};

/* A user blocked from an address, and until when. */
struct penalty_user {
	char	 name[POP3_USER_MAX + 1];
	time_t	 until;
};

/* An address's state, as penalty_check and penalty_list report it. */
struct penalty_entry {
	char		 addr[48];	/* the file's name: the address */
	int		 why;		/* PENALTY_* of the address block */
	time_t		 until;		/* end of the address block, or 0 */
	unsigned	 failures;	/* failures within the window */
	unsigned	 attempts;	/* login attempts in flight */
	size_t		 nusers;	/* per-user blocks */
	struct penalty_user	 user[PENALTY_USERS_MAX];
};

/*
 * dir/addr into buf (size n): 0, or -1 with ENAMETOOLONG, or EINVAL when
 * addr is not an address's canonical text (addr_format's, so no name
 * leaves dir or is a dot file; a masked IPv6 prefix is one).  Records
 * and slot files are named so; a sweep or clear touches no other names.
 */
int	penalty_path(char *, size_t, const char *, const char *);

/*
 * Makes dir (0700) when missing and checks it as strictly as the front
 * needs: owned by the effective uid, root included.  0, or -1 with errno.
 */
int	statedir_own(const char *);

/*
 * Is addr blocked now?  0 and e filled (e->why PENALTY_NONE when not;
 * failures within conf->window, attempts in flight), or -1 with errno.  A
 * missing or corrupt record, or a missing directory, is no block.
 */
int	penalty_check(const struct penalty_conf *, const char *, time_t,
	    struct penalty_entry *);

/*
 * Starts a login attempt of user from addr.  *state is the address's
 * block (PENALTY_FAILURES, PENALTY_HOSTILE), PENALTY_USER for a user
 * blocked from addr (per_user), or PENALTY_BUSY when failures in the
 * window plus attempts in flight reach a threshold (per_user: the user's
 * against failures, the address's against address_failures if not 0), or
 * all PENALTY_ATTEMPTS_MAX slots are held: then nothing is recorded.
 * Else PENALTY_NONE, the attempt is recorded and *token holds its slot:
 * it counts while the slot is held (a child forked with the descriptor
 * holds it too), so a killed front frees its place at once; unsettled, it
 * stops counting after PENALTY_ATTEMPT_TTL (with a checkpassword program
 * other than pop3d-auth, the front learns of a success only at the end).
 * conf->failures 0: PENALTY_NONE, nothing recorded, token->fd -1.  0, or
 * -1 with errno.
 */
int	penalty_attempt(const struct penalty_conf *, const char *addr,
	    const char *user, time_t now, int *state,
	    struct penalty_token *token);

/*
 * penalty_attempt that, finding the address BUSY, waits at most wait_ms
 * for its turn in a first-come-first-served queue of the address's
 * waiting logins (of the user's, per_user), asleep: it tries again when
 * a login ahead leaves the queue or, at its head, when an attempt in
 * flight ends (penalty_queue.c).  A login that would start while others
 * wait queues behind them.  Returns as penalty_attempt, *state BUSY when
 * the wait ran out.
 */
int	penalty_attempt_wait(const struct penalty_conf *, const char *addr,
	    const char *user, int wait_ms, int *state,
	    struct penalty_token *token);

/*
 * Ends the attempt token of user from addr and, when failed, records a
 * failure (a hash of user) before its slot is given back, under the lock,
 * so that no one sees the attempt gone before its failure counts; a token
 * with fd -1 records the failure alone.  *blocked: PENALTY_FAILURES when
 * the address is now blocked, -1 when only the user is (per_user), else
 * 0.  A block starts its count afresh (a user's failures still count
 * towards address_failures).  The slot is given back whatever happens.
 * 0, or -1 with errno; conf->failures 0 does nothing.
 */
int	penalty_settle(const struct penalty_conf *, const char *addr,
	    const char *user, struct penalty_token *token, time_t now,
	    int failed, int *blocked);

/* Blocks addr for conf->hostile seconds, never shortening a block. */
int	penalty_hostile(const struct penalty_conf *, const char *, time_t);

/*
 * Removes the record of addr, or every record with addr NULL (0 when dir
 * does not exist): the number removed, or -1 with errno (ENOENT: no such
 * record).  Creates no file, not even the lock file.
 */
long	penalty_clear(const char *, const char *);

/*
 * Calls fn for each address with a live record (a block, or failures
 * within window seconds of now; attempts in flight alone are not listed),
 * in address order, until fn returns non-zero.  0 (also when dir does not
 * exist) or -1.
 */
int	penalty_list(const char *, unsigned, time_t,
	    int (*)(const struct penalty_entry *, void *), void *);

/*
 * Removes records with nothing live left (within PENALTY_WINDOW_MAX,
 * the longest window a rule may set), unfinished updates' temporary
 * files, and unheld slot files of dir/inflight/: at most once per
 * conf->window, PENALTY_SWEEP_MAX records a call (statedir_sweep).  The
 * number of records removed, or -1 with errno.
 */
long	penalty_sweep(const struct penalty_conf *, time_t);

#endif

/*
 * The penalty box: failed logins, login attempts in flight and hostile
 * input, remembered per client address across connections and processes
 * (DESIGN.md).  Every function refuses a directory that is a symbolic link
 * (ELOOP), not a directory (ENOTDIR), or not owned by the effective uid or
 * writable by others (EPERM): whoever could write there could forge or
 * lift blocks.  A lock is waited for PENALTY_LOCK_TIMEOUT_MS (ETIMEDOUT).
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
 * dir/addr into buf (size n): 0, or -1 with EINVAL when addr is not an
 * address's canonical text (addr_parse reads it and addr_format gives the
 * same text back, so no name can leave dir or be a dot file, and a masked
 * IPv6 prefix such as 2001:db8:1:2:: is one), or ENAMETOOLONG.  Penalty
 * records and connection slot files are named so, and a sweep or clear
 * touches no other names.
 */
int	penalty_path(char *, size_t, const char *, const char *);

/*
 * Makes dir (mode 0700) when it is missing and checks it as strictly as
 * the front needs: a directory, no symbolic link, owned by the effective
 * uid (root included) and writable by no one else.  0, or -1 with errno
 * (ELOOP, EPERM, ENOTDIR, or the system's).
 */
int	statedir_own(const char *);

/*
 * Is addr (canonical text, see addr_format) blocked now?  0 and e filled
 * (e->why PENALTY_NONE when it is not; e->failures those within
 * conf->window, e->attempts those in flight), or -1 with errno.  A missing
 * record or directory is no block; a corrupt record is logged, counts as
 * none and is replaced by the next update.
 */
int	penalty_check(const struct penalty_conf *, const char *, time_t,
	    struct penalty_entry *);

/*
 * Starts a login attempt of user from addr.  Under the lock: when the
 * address is blocked, *state is its PENALTY_FAILURES or PENALTY_HOSTILE;
 * when per_user and the user is blocked from addr, PENALTY_USER; when
 * failures within the window plus attempts in flight would reach a
 * threshold (address scope: all of them against conf->failures; per_user:
 * the user's own against conf->failures, and all of the address's against
 * conf->address_failures when that is not 0), PENALTY_BUSY; in all those
 * cases nothing is recorded.  Otherwise *state is PENALTY_NONE, an attempt
 * is recorded (when = now, the user's hash, a slot) and *token holds its
 * slot: the attempt counts while the slot is held and no longer, so one
 * whose process died (a killed front) frees its place at once; the token's
 * descriptor is close-on-exec, and a child forked with it holds the slot
 * too until it closes it or ends.  An attempt left unsettled stops
 * counting PENALTY_ATTEMPT_TTL seconds after it began (the front cannot
 * tell a success until the session ends with a checkpassword program
 * other than pop3d-auth), though its slot stays taken until settled.
 * conf->failures 0: always PENALTY_NONE, nothing recorded, token->fd -1.
 * 0, or -1 with errno.
 *
 * A record holds at most PENALTY_ATTEMPTS_MAX attempts, and an address
 * has as many slots; past either, PENALTY_BUSY too.  Makes dir and
 * dir/inflight 0700 if they are missing.
 */
int	penalty_attempt(const struct penalty_conf *, const char *addr,
	    const char *user, time_t now, int *state,
	    struct penalty_token *token);

/*
 * Ends the attempt token of user (at most POP3_USER_MAX octets) from
 * addr: removes it (if still there) and, when failed, records a failed
 * login at now (only a hash of user is kept with it); then gives its slot
 * back (under the lock, so that no one sees the attempt gone before its
 * failure counts).  A token with no attempt (fd -1) records the failure
 * alone.  *blocked is set to PENALTY_FAILURES when this failure blocked
 * the address, to -1 when it blocked only the user from this address
 * (per_user), else 0.  A block starts the count afresh: the address's
 * failures are forgotten when it is blocked, a user's when the user is
 * (they still count towards address_failures, which 0 turns off).  The
 * slot is given back and token->fd is -1 whatever the outcome.  0, or -1
 * with errno.  conf->failures 0 does nothing: penalty_attempt recorded
 * nothing.  Makes dir 0700 if it is missing.
 */
int	penalty_settle(const struct penalty_conf *, const char *addr,
	    const char *user, struct penalty_token *token, time_t now,
	    int failed, int *blocked);

/*
 * Blocks addr for conf->hostile seconds from now, never shortening a
 * longer block; makes dir 0700 if it is missing.  0 or -1 with errno.
 */
int	penalty_hostile(const struct penalty_conf *, const char *, time_t);

/*
 * Removes the record of addr, or of every address with addr NULL (0 when
 * dir does not exist).  The number removed, or -1 with errno (ENOENT: no
 * such record).  Creates no file (not even the lock file): in a
 * directory without one no update has ever run, and what records there
 * are (none, unless put there by hand) are removed without the lock.
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
 * Removes records with nothing live left: no block, no failure within
 * PENALTY_WINDOW_MAX (the longest window any rule may set, whatever
 * conf->window is) and no attempt within PENALTY_ATTEMPT_TTL whose slot
 * is held; also temporary files of updates that never finished, and
 * (conn_sweep, on its own schedule) slot files under dir/inflight/ that
 * no one holds.  Runs at most once per conf->window, so a busy server
 * pays for it rarely (dir/.swept's mtime says when it last ran), looking
 * at no more than PENALTY_SWEEP_MAX records per call; the next call goes
 * on from there.  The number of records removed, or -1 with errno.
 */
long	penalty_sweep(const struct penalty_conf *, time_t);

#endif

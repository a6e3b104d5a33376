/*
 * The penalty box: failed logins and hostile input, remembered per client
 * address across connections and processes.  State is one small file per
 * address in a directory only the front can write; a reader sees a whole
 * record (each update is a new file renamed into place, under a lock on the
 * directory's lock file), and an expired record is removed by the next
 * update or sweep.  Allow rules do not lift a block; only
 * "pop3d-rules penalty clear" does.
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

/* An address's state, as penalty_check and penalty_list report it. */
struct penalty_entry {
	char		 addr[48];	/* the file's name: the address */
	int		 why;		/* PENALTY_* of the address block */
	time_t		 until;		/* end of the address block, or 0 */
	unsigned	 failures;	/* failures within the window */
	size_t		 nusers;	/* per-user blocks */
	struct {
		char	 name[POP3_USER_MAX + 1];
		time_t	 until;
	}		 user[PENALTY_USERS_MAX];
};

/*
 * dir/addr into buf (size n): 0, or -1 with EINVAL when addr is not an
 * address's canonical text (only 0-9 a-f . :, shorter than 48, not
 * starting with a dot, so no name can leave dir or be a dot file), or
 * ENAMETOOLONG.  Penalty records and connection slot files are named so.
 */
int	penalty_path(char *, size_t, const char *, const char *);

/*
 * Is addr (canonical text, see addr_format) blocked now?  0 and e filled
 * (e->why PENALTY_NONE when it is not), or -1 with errno.  A missing record
 * is no block; a corrupt one is logged, counts as none and is replaced by
 * the next update.
 */
int	penalty_check(const struct penalty_conf *, const char *, time_t,
	    struct penalty_entry *);

/*
 * Is user blocked from addr (per_user scope)?  1 with *until, 0, or -1.
 */
int	penalty_check_user(const struct penalty_conf *, const char *,
	    const char *, time_t, time_t *);

/*
 * Records a failed login of user (at most POP3_USER_MAX octets; only a
 * hash of it is kept with the failure) from addr.  0, with *blocked set to
 * PENALTY_FAILURES when this failure blocked the address, to -1 when it
 * blocked only the user from this address (per_user), else 0; or -1 with
 * errno.  A block starts the count afresh: the address's failures are
 * forgotten when it is blocked, a user's when the user is (they still
 * count towards address_failures, which 0 turns off).  failures 0 records
 * nothing.
 */
int	penalty_fail(const struct penalty_conf *, const char *, const char *,
	    time_t, int *);

/*
 * Blocks addr for conf->hostile seconds from now, never shortening a
 * longer block.  0 or -1 with errno.
 */
int	penalty_hostile(const struct penalty_conf *, const char *, time_t);

/*
 * Removes the record of addr, or of every address with addr NULL (0 when
 * dir does not exist).  The number removed, or -1 with errno (ENOENT: no
 * such record).
 */
long	penalty_clear(const char *, const char *);

/*
 * Calls fn for each address with a live record (a block or failures
 * within window seconds of now), in address order, until fn returns
 * non-zero.  0 or -1.
 */
int	penalty_list(const char *, unsigned, time_t,
	    int (*)(const struct penalty_entry *, void *), void *);

/*
 * Removes records with nothing live left (at most once per window, so a
 * busy server pays for it rarely: dir/.swept's mtime says when it last
 * ran), looking at no more than 10000 records per call; the next call
 * goes on from there.  The number removed, or -1 with errno.
 */
long	penalty_sweep(const struct penalty_conf *, time_t);

#endif

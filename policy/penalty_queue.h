/*
 * Private to policy/penalty*.c: the queue of logins waiting for their
 * address's logins in flight to drop below a threshold (penalty_queue.c
 * says how it is kept fair and how its waiters sleep).
 */
#ifndef POP3D_PENALTY_QUEUE_H
#define POP3D_PENALTY_QUEUE_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include "penalty_record.h"

/* dir/queue: one file per address, an OFD lock per waiting login. */
#define PENALTY_QUEUE	"queue"

/*
 * A queue file: a counter of 8 octets per lane, then each lane's tickets,
 * ticket t of lane l the octet BASE + l * SPAN + t (tickets from 1).
 */
#define PENALTY_QUEUE_LANES	1024
#define PENALTY_QUEUE_SPAN	((off_t)1 << 40)
#define PENALTY_QUEUE_BASE	(PENALTY_QUEUE_LANES * 8)

/*
 * One waiting login: its ticket (an OFD lock on an octet of the queue
 * file, through fd), and an inotify descriptor that wakes it when a
 * login ahead leaves the queue or, once at its head, when a login in
 * flight ends.  fd -1: not queued.
 */
struct penalty_queue {
	int		 fd;
	int		 ino;		/* inotify, or -1: wait in steps */
	int		 head;		/* no ticket ahead of ours */
	unsigned	 lane;		/* per_user: the user's; else 0 */
	uint64_t	 ticket;
	time_t		 change;	/* BUSY until this second at most,
					   by time alone; 0: not by time */
};

/*
 * Under the update lock, for an attempt of the user with hash that the
 * thresholds let through: PENALTY_BUSY when a login of its lane waits
 * ahead of q (q NULL or not queued: any), so that no newcomer overtakes
 * a waiter; else PENALTY_NONE; or -1 with errno.
 */
int	penalty_queue_state(const struct penalty_conf *, const char *,
	    uint64_t, const struct penalty_queue *);

/*
 * Under the update lock, for an attempt (of the user with hash) found
 * BUSY: q joins its lane of the queue of addr at the tail (when not
 * queued yet), and q->change is set from r.
 * 0, or -1 with errno.
 */
int	penalty_queue_busy(const struct penalty_conf *, const char *,
	    uint64_t, const struct penalty_record *, time_t,
	    struct penalty_queue *);

/* Removes dir's queue files no login waits in (penalty_sweep): or -1. */
long	penalty_queue_sweep(const char *, time_t);

/*
 * penalty_attempt, and with q not NULL its BUSY queued (see
 * penalty_queue_busy); penalty.c's.
 */
int	penalty_attempt_q(const struct penalty_conf *, const char *,
	    const char *, time_t, int *, struct penalty_token *,
	    struct penalty_queue *);

#endif

/*
 * Concurrent connections per client address, counted across processes
 * by slots (conn.c says how), for the connection limit and the penalty
 * box's logins in flight.  The directory and locks are as the penalty
 * box's (penalty.h).
 */
#ifndef POP3D_CONN_H
#define POP3D_CONN_H

#include <time.h>

/*
 * Takes one of limit (at most CONN_PER_ADDRESS_MAX) slots of addr (a name
 * as penalty_path takes) in dir, made 0700 when missing: 1 and *fd, which
 * holds the slot until it is closed or the process ends (a child forked
 * with it holds it too); 0 when all are taken; -1 with errno.  limit 0
 * is no limit: 1 and *fd -1.
 */
int	conn_slot_take(const char *, const char *, unsigned, int *);

/* As conn_slot_take, and *slot the slot taken, for conn_slot_held. */
int	conn_slot_take_which(const char *, const char *, unsigned, int *,
	    unsigned *);

/*
 * Opens addr's slot file in dir to look at its slots, holding the gate
 * until it is closed (close it before a release of addr): the descriptor,
 * or -1 with errno (ENOENT: no file or directory, so no slot is held).
 */
int	conn_slot_open(const char *, const char *);

/*
 * Is slot held by a live process through another descriptor than fd
 * (from conn_slot_open)?  1, 0, or -1 with errno.
 */
int	conn_slot_held(int, unsigned);

/*
 * Gives back the slot fd (-1 is nothing) and closes it, removing the file
 * when no other process holds or takes a slot of addr.  0, or -1 with
 * errno (the slot is free all the same; the file may stay for a sweep).
 */
int	conn_slot_release(const char *dir, const char *addr, int fd);

/*
 * Slots of addr held now by any process (for pop3d-rules): the count, 0
 * with no file or no directory, or -1.
 */
int	conn_slot_count(const char *, const char *);

/*
 * Removes the slot files no process holds, at most once per
 * CONN_SWEEP_INTERVAL seconds (statedir_sweep): the number removed (0
 * when dir does not exist), or -1 with errno.
 */
long	conn_sweep(const char *dir, time_t now);

#endif

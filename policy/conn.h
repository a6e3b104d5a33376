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
 * Takes one of limit (at most CONN_PER_ADDRESS_MAX) connection slots of
 * addr (a name as penalty_path takes) in dir, making dir 0700 if it is
 * missing: 1 and *fd, which holds the slot until it is closed or the
 * process ends however it ends (an OFD lock; close-on-exec, but a child
 * forked with it holds the slot too until it closes it or ends); 0 when
 * all limit slots are taken; -1 with errno.  limit 0 is no limit: 1 and
 * *fd -1.  A file removed under it (by a release or sweep) is taken
 * again as the file that replaces it.
 */
int	conn_slot_take(const char *, const char *, unsigned, int *);

/*
 * As conn_slot_take, and *slot is the slot taken (0 to limit - 1; the
 * octet locked), so that a caller may name it in a record of its own and
 * ask conn_slot_held later whether its holder still lives.
 */
int	conn_slot_take_which(const char *, const char *, unsigned, int *,
	    unsigned *);

/*
 * Opens addr's slot file in dir to look at its slots, holding the gate
 * (so that a remover's momentary locks are not taken for slots) until it
 * is closed: the descriptor, or -1 with errno (ENOENT when there is no
 * file or no directory: no slot is held).  Close it before a release of
 * the same address, which could not remove the file meanwhile.
 */
int	conn_slot_open(const char *, const char *);

/*
 * Is slot held by a live process through another descriptor than fd
 * (from conn_slot_open)?  1, 0, or -1 with errno.
 */
int	conn_slot_held(int, unsigned);

/*
 * Gives back the slot fd (from conn_slot_take for addr in dir; -1 is
 * nothing) and closes it, whatever the outcome.  When no other process
 * holds a slot of addr, or is taking one, the file is removed too: all
 * its slots are locked through a second descriptor first, so no one can
 * take one of the removed file meanwhile.  0, or -1 with errno (the slot
 * is free all the same; the file may stay for a sweep).
 */
int	conn_slot_release(const char *dir, const char *addr, int fd);

/*
 * Slots of addr held now by any process (for pop3d-rules): the count, 0
 * with no file or no directory, or -1.
 */
int	conn_slot_count(const char *, const char *);

/*
 * Removes the slot files no process holds (those of processes that ended
 * without conn_slot_release), as the release does, at most once per
 * CONN_SWEEP_INTERVAL seconds (dir/.swept's mtime says when it last ran)
 * and looking at no more than PENALTY_SWEEP_MAX files per call; the next
 * call goes on from there.  The number removed (0 when dir does not
 * exist), or -1 with errno.
 */
long	conn_sweep(const char *dir, time_t now);

#endif

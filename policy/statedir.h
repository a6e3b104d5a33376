/*
 * Private to policy/: the state directories (the penalty box, its
 * inflight/ slots, the connection slots), opened checked once per
 * operation, the names their files have, and sweeping them.
 */
#ifndef POP3D_STATEDIR_H
#define POP3D_STATEDIR_H

#include <sys/types.h>

#include <dirent.h>
#include <stdint.h>
#include <time.h>

#include "penalty.h"

/*
 * Times beyond this (the year 36812) are corrupt, and adding a block's
 * seconds to one cannot overflow; 13 digits.
 */
#define PENALTY_TIME_MAX	((time_t)1 << 40)

/*
 * How long the state directory's locks are waited for, in ms:
 * PENALTY_LOCK_TIMEOUT_MS.  Only a tester changes it, so as not to wait
 * out the whole time in every case that tests the wait.
 */
extern long	statedir_lock_ms;

/* An address's file name: shorter than penalty_entry's addr. */
#define PENALTY_NAME_MAX	(sizeof(((struct penalty_entry *)0)->addr) - 1)

/*
 * Is s a name a record or slot file may have: an address's canonical
 * text (penalty_path)?  1 or 0.
 */
int	statedir_name_valid(const char *);

/*
 * Opens dir for work relative to it: the descriptor (O_DIRECTORY,
 * close-on-exec), or -1 with errno: ENOENT when it is missing (create
 * makes it 0700 first), ELOOP when it is a symbolic link, EPERM when it
 * is not owned by the effective uid or is writable by group or other,
 * ENOTDIR.
 */
int	statedir_open(const char *, int);

/*
 * Is fd still the file name in dfd (not unlinked nor replaced)?  1, 0,
 * or -1 with errno.
 */
int	statedir_same(int, const char *, int);

/* A stream of dfd's names, its offset apart from dfd's: or NULL. */
DIR	*statedir_opendir(int);

/* Reads at most max octets of fd into buf: the count, or -1. */
ssize_t	statedir_read(int, char *, size_t);

/* Writes all len octets of p to fd: 0, or -1. */
int	statedir_write(int, const char *, size_t);

/*
 * Sweeping a state directory, a bounded part per call: the stamp
 * dir/.swept's mtime says when the last sweep ran, its text how many
 * files the next one passes over.  sweep_due (a stat, no lock) is 1 when
 * one is due: without a stamp, every seconds after it, or when the clock
 * went back.  sweep_begin takes the stamp's lock without waiting and
 * checks again: 1 with *fd and *resume to go on, 0 when another process
 * sweeps or just did, -1.  sweep visits each name that is an address's
 * (removing temporary files of updates too when temps is set: the caller
 * holds the update lock), passing over *resume of them and calling fn on
 * PENALTY_SWEEP_MAX more at most, and sets *resume to where the next
 * sweep starts: the sum of fn's results (1 removed, 0 kept), or -1 when
 * fn or the directory failed.  sweep_end writes the stamp and closes fd.
 */
int	statedir_sweep_due(int, unsigned, time_t);
int	statedir_sweep_begin(int, unsigned, time_t, uint64_t *, int *);
long	statedir_sweep(int, uint64_t *, int,
	    int (*)(int, const char *, void *), void *);
int	statedir_sweep_end(int, uint64_t, time_t);

/* now is a time a record can hold: 1, or 0 with EINVAL. */
int	statedir_time_valid(time_t);

/*
 * Is name ".ADDR.XXXXXX", the temporary file of an update of ADDR?  With
 * the lock held no update is under way, so such a file can go.  1 or 0.
 */
int	statedir_is_temp(const char *);

#endif

/*
 * Private to policy/: the state directories (the penalty box, its
 * inflight/ slots, the connection slots), their names and sweeps.
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

/* Is s a name a record or slot file may have (penalty_path)? 1 or 0. */
int	statedir_name_valid(const char *);

/*
 * Is name ".ADDR.XXXXXX", the temporary file lib/atomic makes for an
 * update of ADDR's record?  1 or 0.  A sweep under the update lock (no
 * update under way) removes such files.
 */
int	statedir_is_temp(const char *);

/*
 * Opens dir (create: made 0700 when missing), checked as penalty.h says:
 * the descriptor, or -1 with errno.
 */
int	statedir_open(const char *, int);

/* Is fd still the file name in dfd?  1, 0, or -1 with errno. */
int	statedir_same(int, const char *, int);

/* Opens name in dfd (no link; O_CREAT: 0600) and waits for a lock on it. */
int	statedir_lockat(int, const char *, int, short, off_t, off_t);

/* dir/name into buf (PATH_MAX octets): 0, or -1 with ENAMETOOLONG. */
int	statedir_path(char *, const char *, const char *);

/* A stream of dfd's names, its offset apart from dfd's: or NULL. */
DIR	*statedir_opendir(int);

/* Reads at most max octets of fd into buf: the count, or -1. */
ssize_t	statedir_read(int, char *, size_t);

/* Writes all len octets of p to fd: 0, or -1. */
int	statedir_write(int, const char *, size_t);

/*
 * Sweeps dfd when due (its stamp .swept says when the last sweep ran and
 * where it stopped: every seconds after it, or when the clock went back),
 * a bounded part per call: fn on at most PENALTY_SWEEP_MAX names that
 * are an address's (1 removed, 0 kept, -1 failed), from where the last
 * one stopped.  With lock (penalty_lock), under that lock, and temporary
 * files of unfinished updates go too.  The number removed; 0 when not
 * due or another process sweeps; -1 with errno.
 */
long	statedir_sweep(int, unsigned, time_t, int (*)(int, int),
	    int (*)(int, const char *, void *), void *);

/* now is a time a record can hold: 1, or 0 with EINVAL. */
int	statedir_time_valid(time_t);

#endif

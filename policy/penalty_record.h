/*
 * Private to policy/penalty*.c and policy/conn.c: the state directories
 * (opened checked, names, timed locks) and a penalty record, its text and
 * its file.  penalty_record.c describes the text.
 */
#ifndef POP3D_PENALTY_RECORD_H
#define POP3D_PENALTY_RECORD_H

#include <sys/types.h>

#include <dirent.h>
#include <stdint.h>
#include <time.h>

#include "penalty.h"

/* Failures a record keeps: enough to reach the highest threshold. */
#define PENALTY_FAILS_MAX	PENALTY_ADDRESS_MAX

/*
 * Times beyond this (the year 36812) are corrupt, and adding a block's
 * seconds to one cannot overflow; 13 digits.
 */
#define PENALTY_TIME_MAX	((time_t)1 << 40)

/* An address's file name: shorter than penalty_entry's addr. */
#define PENALTY_NAME_MAX	(sizeof(((struct penalty_entry *)0)->addr) - 1)

struct fail {
	time_t		 when;
	uint64_t	 user;	/* FNV-1a of the name; 0: spent on a block */
};

/*
 * A login attempt in flight: when it began, who, and the slot whose lock
 * its process holds while it runs (penalty.h): the attempt counts only
 * while that lock is held, so that one of a process that died counts no
 * more.  PENALTY_SLOT_NONE (a record of an older version) never counts.
 */
struct attempt {
	time_t		 when;
	uint64_t	 user;	/* FNV-1a of the name, never 0 */
	unsigned	 slot;	/* < PENALTY_ATTEMPTS_MAX, or NONE */
};

#define PENALTY_SLOT_NONE	((unsigned)-1)

struct record {
	int		 why;		/* PENALTY_* */
	time_t		 until;
	size_t		 nusers;
	struct {
		char	 name[POP3_USER_MAX + 1];
		time_t	 until;
	}		 user[PENALTY_USERS_MAX];
	size_t		 nfails;
	struct fail	 fail[PENALTY_FAILS_MAX];
	size_t		 ntries;
	struct attempt	 try[PENALTY_ATTEMPTS_MAX];
};

/* ---- the state directories ---- */

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
 * Takes an OFD lock of type on len octets of fd from start, waiting for
 * it at most PENALTY_LOCK_TIMEOUT_MS: 0, or -1 with errno (ETIMEDOUT).
 */
int	statedir_lock(int, short, off_t, off_t);
/*
 * How long statedir_lock waits, in ms: PENALTY_LOCK_TIMEOUT_MS.  Only a
 * tester changes it, so as not to wait out the whole time each time.
 */
extern long	statedir_lock_ms;

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

/* ---- records ---- */

/*
 * Takes the penalty box's update lock (dfd/.lock): the lock file's
 * descriptor (closing it releases the lock), or -1 with errno (ETIMEDOUT;
 * ENOENT when there is no lock file and create is 0, so that a reader or
 * root never leaves one the owner could not open).
 */
int	record_lock(int, int);


/* now is a time a record can hold: 1, or 0 with EINVAL. */
int	record_time_valid(time_t);

/* now + secs, never past PENALTY_TIME_MAX. */
time_t	record_time_after(time_t, unsigned);

/* A user name's hash as records keep it: FNV-1a, never 0. */
uint64_t record_user_hash(const char *);

void	record_empty(struct record *);

/*
 * Loads addr's record from dfd (dir names it in log lines): 0 with r
 * filled, or empty when there is none or it is corrupt; -1 with errno
 * when it cannot be read.  A corrupt record is logged when warn is set:
 * by the update that replaces it or the sweep that removes it, holding
 * the lock, so once, not on every connection.
 */
int	record_load(const char *, int, const char *, struct record *, int);

/*
 * Replaces addr's record in dfd with r (a temporary file renamed into
 * place, synced), or removes it when nothing is left: 0, or -1 with
 * errno, the old record untouched.
 */
int	record_store(int, const char *, const struct record *);

/*
 * Forgets what has ended by now: blocks, failures older than window,
 * attempts older than PENALTY_ATTEMPT_TTL.
 */
void	record_prune(struct record *, unsigned, time_t);

/*
 * The directory of the slots of attempts in flight, dir/inflight, into
 * buf (PATH_MAX octets): 0, or -1 with ENAMETOOLONG.
 */
int	record_inflight_dir(char *, const char *);

/*
 * Forgets r's attempts whose slot no process holds (their process ended
 * without settling them, however it ended): 0, or -1 with errno.
 */
int	record_tries_alive(const char *, const char *, struct record *);

/* Has r anything left to keep on disk?  1 or 0. */
int	record_live(const struct record *);

/* e filled from addr's record r. */
void	record_entry(struct penalty_entry *, const char *,
	    const struct record *);

/*
 * Is name ".ADDR.XXXXXX", the temporary file of an update of ADDR?  With
 * the lock held no update is under way, so such a file can go.  1 or 0.
 */
int	record_is_temp(const char *);

#endif

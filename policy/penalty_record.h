/* Private to policy/penalty*.c: a record, its text (penalty_record.c). */
#ifndef POP3D_PENALTY_RECORD_H
#define POP3D_PENALTY_RECORD_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include "penalty.h"
#include "statedir.h"

/* Failures a record keeps: enough to reach the highest threshold. */
#define PENALTY_FAILS_MAX	PENALTY_ADDRESS_MAX

struct penalty_failure {
	time_t		 when;
	uint64_t	 user;	/* FNV-1a of the name; 0: spent on a block */
};

/*
 * A login attempt in flight: when it began, who, and the slot whose lock
 * its process holds while it runs (penalty.h): the attempt counts only
 * while that lock is held, so that one of a process that died counts no
 * more.  PENALTY_SLOT_NONE (a record of an older version) never counts.
 */
struct penalty_try {
	time_t		 when;
	uint64_t	 user;	/* FNV-1a of the name, never 0 */
	unsigned	 slot;	/* < PENALTY_ATTEMPTS_MAX, or NONE */
};

#define PENALTY_SLOT_NONE	((unsigned)-1)

struct penalty_record {
	int		 why;		/* PENALTY_* */
	time_t		 until;
	size_t		 nusers;
	struct penalty_user	 user[PENALTY_USERS_MAX];
	size_t		 nfails;
	struct penalty_failure	 fail[PENALTY_FAILS_MAX];
	size_t		 ntries;
	struct penalty_try	 try[PENALTY_ATTEMPTS_MAX];
};

/*
 * Takes the update lock (dfd/.lock): its descriptor, or -1 with errno
 * (ETIMEDOUT; ENOENT when there is no lock file and create is 0, so that
 * root never leaves one the owner could not open).
 */
int	penalty_lock(int, int);

void	penalty_record_empty(struct penalty_record *);

/*
 * An empty record in pages of its own (some 40 KB, which no front's stack
 * or heap should keep through a session), or NULL with errno; freed (NULL
 * is nothing) keeping errno.
 */
struct penalty_record *penalty_record_new(void);
void	penalty_record_free(struct penalty_record *);

/*
 * Loads addr's record from dfd (dir names it in log lines): 0 with r
 * filled, or empty when there is none or it is corrupt; -1 with errno.
 * A corrupt record is logged with warn set: by the update or sweep that
 * holds the lock, so once, not on every connection.
 */
int	penalty_load(const char *, int, const char *, struct penalty_record *,
	    int);

/*
 * Replaces addr's record in dfd with r (a temporary file renamed into
 * place, not synced), or removes it when nothing is left: 0, or -1 with
 * errno, the old record untouched.
 */
int	penalty_store(int, const char *, const struct penalty_record *);

/* Forgets blocks ended by now, failures past window, stale attempts. */
void	penalty_prune(struct penalty_record *, unsigned, time_t);

/* dir/inflight: the slots of attempts in flight. */
#define PENALTY_INFLIGHT	"inflight"

/*
 * Forgets r's attempts whose slot no process holds (their process ended
 * without settling them, however it ended): 0, or -1 with errno.
 */
int	penalty_tries_alive(const char *, const char *,
	    struct penalty_record *);

/* Has r anything left to keep on disk?  1 or 0. */
int	penalty_live(const struct penalty_record *);

/* e filled from addr's record r. */
void	penalty_entry_fill(struct penalty_entry *, const char *,
	    const struct penalty_record *);

#endif

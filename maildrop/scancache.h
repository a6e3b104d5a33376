/*
 * The maildrop cache (SCANCACHE_FILE), the one file pop3d-maildrop keeps
 * in a Maildir, serving two jobs from one format:
 *
 * The list: what maildir_scan, sizes_fill, maildir_prune and
 * maildir_uidls produced (every message's name, order, identity, sizes
 * and UIDL, in session order), so that a later session finds the same
 * list without reading the directories or stat'ing a single message.  It
 * is used only while cur/ and new/ are the same directories with the same
 * mtimes (nanoseconds) as when it was written, when those mtimes were
 * already SCANCACHE_SETTLE_SEC old before the scan began and did not
 * change during it, and when no session has cleared its list flag since
 * (maildir_remove).  Any doubt means a full scan.
 *
 * The size hints: when the list cannot be used, its records still tell a
 * full scan each message's wire size, used only when the file's size,
 * inode and mtime (stat) are still the record's, so that no message is
 * read twice.  A file that is damaged (its checksum fails), not this
 * user's, or out of bounds serves neither job and is replaced.
 */
#ifndef POP3D_SCANCACHE_H
#define POP3D_SCANCACHE_H

#include <stdint.h>

#include "maildir.h"
#include "sizes.h"

/* The directories as seen before the scan: what the cache is checked by. */
struct scancache {
	uint64_t	 cur_dev, cur_ino, new_dev, new_ino;
	int64_t		 cur_mtime, new_mtime;	/* nanoseconds */
	int64_t		 began;			/* CLOCK_REALTIME, ns */
	int		 known;			/* the above were read */
	int		 hints_only;	/* the file read was no list */
	struct sizes_hints hints;	/* its records, for sizes_fill */
	char		*image;		/* what they point into (malloc) */
	/*
	 * The session line's cache=: none, index, written, young, skipped,
	 * kept, unwritable (pop3d-maildrop.8).
	 */
	const char	*state;
};

/*
 * Notes the identity and mtimes of cur/ and new/, before anything is
 * read.  Never fails: without them, nothing is cached.
 */
void	scancache_begin(struct maildir *, struct scancache *);

/*
 * Notes the time a full scan starts, by the file system's clock (the lock
 * file touched): only a scan, not a session the cache serves, pays it.
 */
void	scancache_scanning(struct maildir *, struct scancache *);

/*
 * Fills md (msgs, count, octets, truncated) from the cache when its list
 * is valid for the directories noted by scancache_begin; st gets the
 * counts a sizes_fill would report.  1 loaded; 0 not (md untouched), with
 * sc->hints holding the file's records when it is undamaged; -1 out of
 * memory.  A damaged file is logged (cache-damaged) and removed.
 */
int	scancache_load(struct maildir *, struct scancache *,
	    struct sizes_stats *);

/*
 * After a full scan, sizes_fill, maildir_prune and maildir_uidls: writes
 * the cache (lib/atomic.c, without fsync: a torn file fails its checksum)
 * with its list flag set when the list can be trusted (cur/ and new/
 * unchanged since scancache_begin, old enough when scancache_scanning
 * noted the start, and the scan skipped nothing), else as size hints
 * only, unless the hints read are already what it would write.  Removes
 * SIZES_OLD_FILE when it writes.  Must run under the maildrop lock.
 * Failure only means no cache: sc->state says which.  Frees sc->hints.
 */
void	scancache_save(struct maildir *, struct scancache *,
	    const struct sizes_stats *);

/* Frees sc->hints and sc->image (scancache_save does). */
void	scancache_done(struct scancache *);

/*
 * Parses a cache image (the whole file) into md as the list, checked
 * against sc: the core of scancache_load, separate so that tests can feed
 * it anything.  1 loaded, 0 invalid or no list, -1 out of memory.  buf
 * must stay allocated as long as md's messages (their names point into
 * it).
 */
int	scancache_parse(struct maildir *, const struct scancache *,
	    char *, size_t);

/*
 * Parses an image's records into sc->hints, whatever directories it was
 * written for: 1, 0 invalid, -1 out of memory.  buf must stay allocated
 * as long as the hints (not in md's arena, which a scan may free).
 */
int	scancache_parse_hints(struct scancache *, char *, size_t);

/*
 * The checksum that ends an image of n octets (the list flag counted as
 * 0, so that clearing it in place keeps the file whole).
 */
uint64_t scancache_sum(const char *, size_t);

/* Builds the image scancache_save writes: a malloc'd buffer, or NULL. */
char	*scancache_image(const struct maildir *, const struct scancache *,
	    int, size_t *);

/*
 * Clears the list flag of the maildrop's cache in place, so that no later
 * session trusts its list (the size hints stay); removes the file when
 * that fails.  errno is kept.
 */
void	scancache_drop_list(struct maildir *);

#endif

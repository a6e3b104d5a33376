/*
 * The scan cache: what maildir_scan, sizes_fill, maildir_prune and
 * maildir_uidls produced for a maildrop (every message's name, order,
 * identity, sizes and UIDL, in session order), kept in one file so that a
 * later session finds the same list without reading the directories or
 * stat'ing a single message.  It is used only while cur/ and new/ are the
 * same directories with the same mtimes (nanoseconds) as when it was
 * written, and written only when those mtimes were already
 * SCANCACHE_SETTLE_SEC old before the scan began and did not change
 * during it.  Any doubt means a full scan.
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
	/* none, hit, stale, corrupt, young, written, unwritable, skipped */
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
 * Fills md (msgs, count, octets, truncated) from the cache when it is
 * there and valid for the directories noted by scancache_begin; st gets
 * the counts a sizes_fill would report.  1 loaded, 0 not (sc->state says
 * why; md untouched), -1 out of memory.  A stale or corrupt cache file is
 * removed.
 */
int	scancache_load(struct maildir *, struct scancache *,
	    struct sizes_stats *);

/*
 * After a full scan, sizes_fill, maildir_prune and maildir_uidls: writes
 * the cache (temporary file, then rename) when it can be trusted, that is
 * when cur/ and new/ are unchanged since scancache_begin, were old enough
 * when scancache_scanning noted the start, and the scan skipped nothing.  Must run under the maildrop lock.
 * Failure only means no cache: sc->state says which.
 */
void	scancache_save(struct maildir *, struct scancache *,
	    const struct sizes_stats *);

/*
 * Parses a cache image (the whole file) into md, checked against sc:
 * the core of scancache_load, separate so that tests can feed it
 * anything.  1 loaded, 0 invalid, -1 out of memory.  buf must stay
 * allocated as long as md's messages (their names point into it).
 */
int	scancache_parse(struct maildir *, const struct scancache *,
	    char *, size_t);

/* The checksum that ends an image, of the n octets before it. */
uint64_t scancache_sum(const char *, size_t);

/* Builds the image scancache_save writes: a malloc'd buffer, or NULL. */
char	*scancache_image(const struct maildir *, const struct scancache *,
	    size_t *);

#endif

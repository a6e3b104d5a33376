/*
 * The wire size of every message, read as cheaply as it can be: from
 * ",W=" in the name, else from the maildrop cache's records (scancache.h),
 * each checked against the file's size, inode and mtime, else by reading
 * the message once.
 */
#ifndef POP3D_SIZES_H
#define POP3D_SIZES_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"

/*
 * The size cache of earlier versions (a CDB file): the maildrop cache
 * serves it now, and removes it when it writes (pop3d-maildrop.8, FILES).
 */
#define SIZES_OLD_FILE	"pop3d-sizes.cdb"

struct sizes_stats {
	size_t	from_name;	/* ",W=" in the file name */
	size_t	from_cache;
	size_t	computed;	/* message bodies read */
	size_t	vanished;	/* gone between the scan and now */
	size_t	unreadable;	/* skipped, with a log line each */
};

/*
 * Sizes known from an earlier session: records (the cache's, names
 * pointing into its image) found by unique name and inode.
 */
struct sizes_hints {
	struct msg	*recs;
	size_t		 count;
	uint32_t	*slot;		/* 1 + index into recs; 0 empty */
	size_t		 nslot;		/* a power of 2, or 0 */
};

/* Indexes h->recs: 0, or -1 out of memory (h is then without). */
int	sizes_hints_index(struct sizes_hints *);

/* Frees recs and the index. */
void	sizes_hints_free(struct sizes_hints *);

/*
 * The record of the file m was stat'ed as (unique name, inode, size,
 * mtime all the same) whose size was measured, not taken from a name;
 * or NULL.
 */
const struct msg *sizes_hint_find(const struct sizes_hints *,
	    const struct msg *);

/*
 * Fills in the wire size of every message that can be read; the others
 * (gone, or unreadable: logged) are left without, for maildir_prune.
 * hints may be NULL.  0, or -1 with errno when the process itself is out
 * of a resource (memory, descriptors): then no message can be read.
 */
int	sizes_fill(struct maildir *, const struct sizes_hints *,
	    struct sizes_stats *);

#endif

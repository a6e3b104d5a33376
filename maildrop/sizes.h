/*
 * The wire size of every message, read as cheaply as it can be: from
 * ",W=" in the name, else from the size cache (a CDB file in the maildrop,
 * keyed by unique name, checked against the file's size), else by reading
 * the message once.  The cache is rewritten atomically when it changed.
 */
#ifndef POP3D_SIZES_H
#define POP3D_SIZES_H

#include <stddef.h>

#include "maildir.h"

#define SIZES_FILE	"pop3d-sizes.cdb"

struct sizes_stats {
	size_t	from_name;	/* ",W=" in the file name */
	size_t	from_cache;
	size_t	computed;	/* message bodies read */
	size_t	vanished;	/* gone between the scan and now */
	const char *cache;	/* none, ok, stale, corrupt, unwritable */
};

/*
 * Fills in wire for every message that still exists (the others are left
 * without and pruned by the caller).  0, or -1 with errno when a message
 * cannot be read for a reason other than having gone.
 */
int	sizes_fill(struct maildir *, struct sizes_stats *);

#endif

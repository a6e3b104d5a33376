/*
 * The wire size of every message, read as cheaply as it can be: from
 * ",W=" in the name, else from the size cache (a CDB file in the maildrop,
 * keyed by unique name, each record checked against the file's size, inode
 * and mtime), else by reading the message once.  The cache is rewritten
 * atomically when it changed.
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
	size_t	unreadable;	/* skipped, with a log line each */
	const char *cache;	/* none, ok, stale, corrupt, unwritable */
};

/*
 * Fills in the wire size of every message that can be read; the others
 * (gone, or unreadable: logged) are left without, for maildir_prune.
 * 0, or -1 with errno when the process itself is out of a resource
 * (memory, descriptors): then no message can be read.
 */
int	sizes_fill(struct maildir *, struct sizes_stats *);

#endif

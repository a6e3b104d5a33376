/*
 * The wire size of every message, read as cheaply as it can be: from
 * ",W=" in the name, else from the size cache (a CDB file in the maildrop,
 * keyed by unique name, each record checked against the file's size, inode
 * and mtime), else by reading the message once.  The cache is rewritten
 * atomically when it changed.
 */
#ifndef POP3D_SIZES_H
#define POP3D_SIZES_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

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

/* A record of the size cache: its key is the unique name and inode. */
#define SIZES_VALUE	32
#define SIZES_KEY_MAX	(NAME_MAX + 8)

struct sizes_record {
	uint64_t	disk;		/* the file's size */
	uint64_t	wire;		/* what RETR sends */
	int64_t		mtime_ns;
};

/* Writes a record's value (SIZES_VALUE octets, checksummed) for a key. */
void	sizes_record_make(const unsigned char *, size_t,
	    const struct sizes_record *, unsigned char *);

/*
 * Reads a record's value for its key: 1 when its checksum holds and its
 * sizes can be a message's, else 0 (damaged: never to be served).
 */
int	sizes_record_parse(const unsigned char *, size_t,
	    const unsigned char *, size_t, struct sizes_record *);

#endif

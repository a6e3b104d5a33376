/*
 * The mbox index (MBOX_CACHE_FILE, in the user's home): what a parse of
 * the mbox found (mbox_parse.h: every message's offsets, sizes, From_
 * digest, UIDL and internal flag), with the mbox's identity and size at
 * that parse, so that a later session reads no mbox octet when the file
 * is unchanged, and only what was appended when it only grew.
 *
 * Its presence never changes what is served: it is used for the whole
 * file only when dev, inode, size, mtime and ctime (nanoseconds) are all
 * what it recorded; for a prefix only when dev and inode are, the file is
 * larger, the last MBOX_CACHE_TAIL octets before the recorded end are
 * still the recorded ones, those end with an empty line and "From "
 * follows (so that a full parse would find a boundary there too), and the
 * last recorded message's From_ line is still where it was.  A file that
 * is not a regular file of this user's, of another format or parser
 * version, fails its checksum, or holds a record a parse could not have
 * made is ignored and logged (cache-damaged); the next save replaces it.
 *
 * Layout (all integers little-endian): a 152-octet header (magic 16, the
 * parser version, euid, message count, then the mbox's dev, inode, size,
 * mtime and ctime in nanoseconds, the tail length k, then the tail: the k
 * octets before the recorded end, zero-padded to MBOX_CACHE_TAIL), the
 * records, and a 64-bit checksum of everything before it.  A record:
 * from_off, off, len, wire, from_digest (8 octets each), UIDL length (1),
 * flags (1: bit 0 uidl_header, bit 1 internal), the UIDL.
 */
#ifndef POP3D_MBOX_CACHE_H
#define POP3D_MBOX_CACHE_H

#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>

#include "mbox_parse.h"

#define MBOX_CACHE_FILE		".pop3d-mbox.cache"
#define MBOX_CACHE_TAIL		64

/* mbox_cache_load's answers (else -1). */
enum {
	MBOX_CACHE_NONE = 0,	/* nothing given: parse the whole file */
	MBOX_CACHE_WHOLE = 1,	/* every message given: nothing to parse */
	MBOX_CACHE_PREFIX = 2	/* parse on from *resume_off */
};

/*
 * Reads the cache name in the directory dirfd (AT_FDCWD: the current
 * one) for the mbox open as mbox_fd, whose fstat is st (taken under the
 * delivery lock, so that the file does not change during the parse that
 * may follow).  Calls fn with each cached message in file order as the
 * file is read (read once), then checks its checksum and what it covers
 * of the mbox: MBOX_CACHE_WHOLE, or MBOX_CACHE_PREFIX with *resume_off
 * set to the recorded end (the caller parses the rest with
 * mbox_parse_init(p, *resume_off, ...) from that offset), or
 * MBOX_CACHE_NONE: no cache, another mbox's, stale, or found bad (then
 * logged), with fn perhaps called for part of it: the caller drops what
 * fn got and parses the whole mbox.  A read error of the cache is
 * MBOX_CACHE_NONE.  -1 when fn returned nonzero (errno is fn's) or
 * memory ran out.  Memory: one IO_FILEBUF buffer, whatever the number of
 * messages.
 */
int	mbox_cache_load(int, const char *, int, const struct stat *,
	    mbox_found_fn, void *, uint64_t *);

/*
 * Fills in message i (0 <= i < count) of the list to save, as the parse
 * found it.
 */
typedef void (*mbox_cache_get)(void *, size_t, struct mbox_found *);

/*
 * Writes the cache name in dirfd (lib/atomic.c, without fsync: a torn
 * file fails its checksum) for the mbox open as mbox_fd, as st describes
 * it when it was parsed to its end (st_size octets), with its count
 * messages got from get.  Its tail octets are read from mbox_fd.  0, or
 * -1 with errno (EFBIG: more than MBOX_CACHE_MAX_RECORDS messages; the
 * old file is then left as it was): failure only means no cache.
 */
int	mbox_cache_save(int, const char *, int, const struct stat *,
	    mbox_cache_get, void *, size_t);

/*
 * The image of a cache (the whole file, len octets) checked and its
 * records given to fn, for tests and the fuzz target: the number of
 * records; -1 when the image is not one mbox_cache_load would trust for
 * the mbox st describes (its identity; its size may be larger), and fn
 * was not called; -2 when fn returned nonzero.  fn may be NULL.
 */
long	mbox_cache_parse(const char *, size_t, const struct stat *,
	    mbox_found_fn, void *);

/* The checksum that ends an image of n octets. */
uint64_t mbox_cache_sum(const char *, size_t);

#endif

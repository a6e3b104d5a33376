/*
 * Replacing a file atomically: a temporary file in the same directory,
 * written, synced and renamed over the old one, so that a reader sees the
 * old file or the new one and never part of one.  On any failure the old
 * file stays as it was.
 */
#ifndef POP3D_ATOMIC_H
#define POP3D_ATOMIC_H

#include <limits.h>

struct atomic {
	const char	*path;	/* relative to dirfd */
	char		 tmp[PATH_MAX];	/* "": unnamed (O_TMPFILE) */
	int		 fd;	/* the temporary file, read-write */
	int		 dirfd;	/* AT_FDCWD for atomic_open */
	int		 flags;
};

/*
 * No fsync of the file or the directory: for a file whose reader checks
 * what it reads (a cache with a checksum), where a crash may lose it.
 */
#define ATOMIC_NOSYNC	0x1

/*
 * Creates the temporary file for path, ".BASE.XXXXXX" in its directory
 * (six random letters or digits, O_EXCL), with the mode and owner of the file
 * it will replace (0600 and the caller's for a new one).  flags: 0 or
 * ATOMIC_NOSYNC.  Returns 0, or -1 with errno.
 */
int	atomic_open(struct atomic *, const char *, int);

/*
 * The same for name (no '/') in the directory dirfd, for a directory
 * others may put files in (a user's Maildir): the temporary file is
 * unnamed (O_TMPFILE) until the commit links it, else created under its
 * random name, never following a symbolic link or opening a FIFO or
 * terminal put there; it is always 0600 and the caller's, whatever the
 * file it replaces.  flags: 0 or ATOMIC_NOSYNC.
 */
int	atomic_openat(struct atomic *, int, const char *, int);

/*
 * Syncs and closes the temporary file, renames it to the path and syncs
 * the directory (neither sync with ATOMIC_NOSYNC).  Returns 0, or -1
 * with errno after removing the temporary file.
 */
int	atomic_commit(struct atomic *);

/* Closes and removes the temporary file; the old file is untouched. */
void	atomic_abort(struct atomic *);

#endif

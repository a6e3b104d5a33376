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
	const char	*path;
	char		 tmp[PATH_MAX];
	int		 fd;	/* the temporary file, read-write */
};

/*
 * Creates the temporary file for path, with the mode and owner of the file
 * it will replace (0600 and the caller's for a new one).  Returns 0, or -1
 * with errno.
 */
int	atomic_open(struct atomic *, const char *);

/*
 * Syncs and closes the temporary file, renames it to the path and syncs
 * the directory.  Returns 0, or -1 with errno after removing the
 * temporary file.
 */
int	atomic_commit(struct atomic *);

/* Closes and removes the temporary file; the old file is untouched. */
void	atomic_abort(struct atomic *);

#endif

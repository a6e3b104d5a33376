/*
 * A Maildir as one session of pop3d-maildrop sees it: the messages of cur/
 * and new/ (new ones moved to cur/ at the scan), numbered oldest delivery
 * first, each with its wire size and its UIDL.  A message is known by its
 * directory entry's inode number as well as its name, so that a file
 * renamed by another program is found again, and never confused with
 * another file of the same unique name.
 */
#ifndef POP3D_MAILDIR_H
#define POP3D_MAILDIR_H

#include <stddef.h>
#include <stdint.h>

#include "pop3d_limits.h"
#include "store.h"

struct arena;
struct idtab;

struct maildir {
	int		 fd, curfd, newfd, lockfd;
	struct msg	*msgs;
	size_t		 count, cap, max;
	int		 truncated;	/* more messages than max */
	uint64_t	 octets;	/* sum of wire sizes */
	size_t		 skipped;	/* entries logged as no message */
	int		 index_dropped;	/* the cache's list was dropped */
	struct arena	*arena;
	struct idtab	*ids;		/* msgs by identity (maildir_internal.h) */
	const char	*dovecot_format; /* migrate.h; NULL: the default */
	int		 uidmap_unwritten; /* new carried UIDLs not recorded */
};

/*
 * log_file for a file of cur/ or new/: named by its absolute path once
 * log_file_base names the maildrop.
 */
void	maildir_log_file(const char *, enum md_dir, const char *, int);

/* Whether a failure is worth retrying later: [SYS/TEMP], else [SYS/PERM]. */
int	maildir_error_temporary(int);

/*
 * Opens the maildrop at path (a directory with cur/ and new/): 0, or -1
 * with errno (ENOTDIR when path or cur/ or new/ is not a directory).
 */
int	maildir_open(struct maildir *, const char *, size_t);
void	maildir_close(struct maildir *);

/*
 * Moves each file of new/ into cur/ (adding ":2,") and lists it, then
 * lists cur/; sorts them oldest delivery first.  Dot-files, directories
 * and symbolic links are skipped.  Every message that exists for the
 * whole scan is listed once, even when another program renames it
 * meanwhile: the directories are read again until a pass finds nothing
 * new (MAILDIR_SCAN_PASSES), and a file seen under two names (same unique
 * name, same inode) is one message, listed under the name seen last.
 * With more than md->max messages, the newest md->max are listed (so that
 * new mail shows) and md->truncated is set.  0, or -1 with errno.
 */
int	maildir_scan(struct maildir *);

/*
 * Drops the messages whose wire size is unknown (gone or unreadable since
 * the scan) and adds up md->octets.
 */
void	maildir_prune(struct maildir *);

/*
 * Gives every message its UIDL: the one carried over from the old server
 * when there is one (migrate.h), else the unique part of its name when
 * that is 1 to UIDL_MAX octets 0x21-0x7E, otherwise a stable digest of
 * it; then makes the UIDLs unique within the maildrop, a carried one
 * winning over pop3d's own (the clash logged).  0, or -1 (out of memory).
 */
int	maildir_uidls(struct maildir *);

/*
 * Orders two messages that share a unique name or UIDL by what a flag
 * change does not alter: cur/ before new/, then inode number.
 */
int	maildir_tiebreak(const struct msg *, const struct msg *);

/* Compares two octet strings as memcmp would, the shorter first on a tie. */
int	maildir_bytes_cmp(const char *, size_t, const char *, size_t);

/* A copy of n octets of s that lives as long as the maildir; or NULL. */
char	*maildir_strdup(struct maildir *, const char *, size_t);

/*
 * n octets that live as long as the maildir (one allocation of their own);
 * or NULL.
 */
char	*maildir_alloc(struct maildir *, size_t);

/* The descriptor of the directory a message lives in. */
int	maildir_dirfd(const struct maildir *, const struct msg *);

/* The length of a file name's unique part: up to its ':', or all of it. */
size_t	maildir_uniq_len(const char *);

/*
 * Whether a file name has the unique part uniq (len octets, no ':'): the
 * same message under any flags ("uniq", "uniq:2,S", "uniq:2,RS").
 */
int	maildir_uniq_is(const char *, const char *, size_t);

/*
 * Finds a message's file again after another program renamed it (its
 * flags changed, or it moved from new/ to cur/): the same unique name and
 * the same inode as the scan saw (d_ino), in new/ or cur/, so that another
 * file of that unique name is never taken for it.  Each read of the
 * directories finds every listed message; one counts as gone only when
 * MAILDIR_LOCATE_PASSES reads in a row missed it (reads made for other
 * messages count), since a rename during a read can hide a file.  0 with
 * m->name and m->dir updated, or -1 with errno (ENOENT: not there,
 * removed by another program).
 */
int	maildir_locate(struct maildir *, struct msg *);

/*
 * fstatat of a message's file (not following a symbolic link), found
 * again by maildir_locate when it was renamed.  0, or -1 with errno
 * (ENOENT: gone; EAGAIN: renamed MAILDIR_RENAME_TRIES times while being
 * followed).
 */
struct stat;
int	maildir_stat_msg(struct maildir *, struct msg *, struct stat *);

/*
 * Opens a message for reading, making sure it is the file that was sized
 * (same inode), found again by maildir_locate when it was renamed.  A
 * descriptor, or -1 with errno (ENOENT: removed behind this session's
 * back; EAGAIN: renamed too often to be followed; EINVAL: not a regular
 * file; ESTALE: its size is no longer the one listed).  st_ino must be
 * known (sizes_fill).
 */
int	maildir_open_msg(struct maildir *, struct msg *);

/*
 * Removes a message's file, the one maildir_open_msg would open, found
 * again when it was renamed.  0 only when the file is gone: removed here,
 * or by another program (its link count is 0, or it was never found); -1
 * with errno when it could not be removed (EAGAIN: renamed faster than it
 * could be removed, or still linked somewhere outside new/ and cur/).  The
 * first removal of a session clears the list flag of the maildrop cache
 * (SCANCACHE_FILE) first, so that its list can never name a message that
 * is gone.
 */
int	maildir_remove(struct maildir *, struct msg *);

/*
 * Parses ",S=" or ",W=" (key 'S' or 'W') and its digits from a unique name:
 * 1 if found, 0 if absent or malformed.
 */
int	maildir_name_size(const char *, size_t, char, uint64_t *);

/* Whether the unique part of a name can be a UIDL as it is. */
int	maildir_uidl_plain(const char *, size_t);

/*
 * Writes the digest form of a UIDL for data: the first 32 hexadecimal
 * digits of its SHA-256, NUL-terminated.
 */
void	maildir_uidl_digest(const char *, size_t, char[33]);

#define MAILDIR_LOCK_FILE	"pop3d.lock"
#define SCANCACHE_FILE		"pop3d-scan.cache"	/* scancache.h */

/*
 * Takes the maildrop's session lock: flock(2) on the maildrop's directory
 * (which cannot be unlinked or replaced under the session, as a file in
 * it can), and an open file description lock on MAILDIR_LOCK_FILE, checked
 * after locking to be still the file of that name.  Both are released by
 * the kernel however the process ends.  A lock file that is not a regular
 * file of this user's that the user can open (a symbolic link, FIFO,
 * device or directory; another owner; mode 000) is removed and created
 * anew when the maildrop directory is the user's own, and logged.  0; -1
 * with errno (EAGAIN: another session holds it); -2 with errno when the
 * lock file is unusable and could not be repaired.
 */
int	maildir_lock(struct maildir *);

/* A file's modification time in nanoseconds, as the caches keep it. */
struct stat;
int64_t	maildir_mtime_ns(const struct stat *);

/* Ends the session's hold (QUIT, once the UPDATE state is done). */
void	maildir_unlock(struct maildir *);

/*
 * Whether this user may write the maildrop, cur/ and new/ (as the moves,
 * removals and caches need): 0, or -1 with errno and *what the directory
 * (".", "cur" or "new").
 */
int	maildir_writable(const struct maildir *, const char **);

/*
 * Opens a file of the maildrop's directory (a cache, the lock) without
 * following a symbolic link, without blocking on a FIFO and without taking
 * a terminal, and keeps it only when it is a regular file owned by this
 * user.  flags: O_RDONLY, or O_RDWR | O_CREAT (mode 0600).  A descriptor
 * (O_NONBLOCK: no matter for a regular file), or -1 with errno (EINVAL:
 * not a regular file of this user's).
 */
int	maildir_file_open(const struct maildir *, const char *, int);
/* The same in the directory dirfd (an mbox user's home). */
int	maildir_file_openat(int, const char *, int);

/* Whether a file is a regular file owned by this user. */
int	maildir_file_ours(const struct stat *);

/*
 * A new account's maildrop, made at its first login as Dovecot does, so
 * that it is not refused until the first delivery: only when path does
 * not exist and its parent is a real directory of this user's; made
 * whole under a name of its own and renamed into place (maildir_create.c).
 * Anything else is left to maildir_open to refuse.
 */
void	maildir_create(const char *);

/*
 * The listed maildir as the session's store (store_maildir.c), once
 * its list is final.
 */
void	maildir_store(struct maildir *, struct store *);

#endif

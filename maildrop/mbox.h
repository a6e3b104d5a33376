/*
 * An mbox maildrop (pop3d-maildrop.8, MBOX) as a store (store.h): the
 * file read through the parser (mbox_parse.h) under the delivery locks,
 * the session's flock, RETR from the file's octets, and UPDATE's
 * journalled rewrite in place (mbox_update.c).
 *
 * Files beside it live in the user's home, the stage's working
 * directory: /var/mail is writable only by group mail.
 */
#ifndef POP3D_MBOX_H
#define POP3D_MBOX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "mbox_parse.h"
#include "store.h"

#define MBOX_JOURNAL_FILE	".pop3d-mbox.journal"
#define MBOX_LOGIN_FILE		".pop3d-login"

/* What a maildrop path names (mbox_kind). */
enum maildrop_kind {
	KIND_MAILDIR,		/* a directory, or one to make */
	KIND_MBOX,		/* a regular file */
	KIND_MBOX_NONE		/* no file, where no Maildir is made: empty */
};

struct mbox_arena;

struct mbox {
	int		 fd;		/* the mbox; -1: none (0 messages) */
	int		 homefd;	/* the journal, cache, login file */
	const char	*path;
	char		 lockpath[PATH_MAX];	/* the dotlock */
	uint64_t	 dev, ino;
	uint64_t	 end;		/* the octets listed: size when read */
	uint64_t	 limit;		/* POP3D_MBOX_MAX */
	size_t		 max;		/* POP3D_MAX_MESSAGES */
	size_t		 total, skip;	/* while listing */
	int		 home_ok;	/* the home is writable */
	int		 dlocked;	/* the delivery locks are held */
	const char	*cache;		/* what the index gave, for the log */
	struct mbox_found internal;	/* the folder-internal message */
	int		 has_internal;
	struct mbox_arena *arena;	/* UIDLs */
	struct store	 st;
};

/*
 * The argument's "%u" (the user name) and "%%" into buf (size n): 0, or
 * -1 with errno (ENAMETOOLONG; EINVAL for another '%' sequence).
 */
int	mbox_expand(const char *, const char *, char *, size_t);

/*
 * What path is: a trailing '/' or a directory (a symbolic link to one
 * too, as always) is a Maildir; a regular file an mbox; nothing there is
 * a Maildir to make when its parent is a directory of this user's, an
 * empty mbox when it is another's that this user may not write (a spool
 * such as /var/mail), else a Maildir (that maildir_open refuses).  0, or -1 with errno: ELOOP (a symbolic link to
 * other than a directory), EPERM (a FIFO, device or socket), or lstat's.
 */
int	mbox_kind(const char *, enum maildrop_kind *);

/*
 * Opens the mbox at path (a regular file of this user's, never through a
 * symbolic link; -1 with errno EPERM when another user owns it) or, for
 * KIND_MBOX_NONE, none; and the home (the working directory).  0, or -1.
 */
int	mbox_open(struct mbox *, const char *, enum maildrop_kind, size_t,
	    uint64_t);
void	mbox_close(struct mbox *);

/*
 * The session lock: flock(2) on the mbox, then the path checked to name
 * the locked file still (else it is opened anew).  0, or -1 with errno
 * (EAGAIN: another session holds it).
 */
int	mbox_lock(struct mbox *);

/*
 * The delivery locks: an fcntl write lock on the whole file, then the
 * dotlock PATH.lock (liblockfile), both tried without waiting every
 * MBOX_LOCK_RETRY_MS, the fcntl lock let go between tries, until
 * MBOX_LOCK_WAIT_MS.  0, or -1 with errno (ETIMEDOUT).
 */
int	mbox_dlock(struct mbox *);
void	mbox_dunlock(struct mbox *);

/* Whether the path still names the file this session opened. */
int	mbox_still_there(const struct mbox *);

/*
 * Lists the messages: under the delivery locks, a pending UPDATE
 * finished (mbox_recover), the file read through the parser, the
 * newest max messages kept, the folder-internal message left out; then
 * the UIDLs made unique.  0, or -1 with errno: EFBIG (over the limit),
 * EINVAL (not an mbox), ETIMEDOUT (locked), or another.
 */
int	mbox_list(struct mbox *);

/* The listed mbox as the session's store. */
void	mbox_store(struct mbox *, struct store *);

/*
 * Whether m is still where it was listed: the file is at least as long,
 * and its From_ line has the digest the parser gave (mbox_from_at).  1,
 * 0, or -1.
 */
int	mbox_msg_there(struct mbox *, const struct msg *);

/* mbox_update.c: a pending journal finished or dropped: 0, or -1. */
int	mbox_recover(struct mbox *);
/* The UPDATE (store_ops.update). */
struct session;
void	mbox_update(struct store *, struct session *);

#endif

/*
 * What the pieces of maildir.h's implementation share, and nothing else
 * includes.  The Maildir code is split by job:
 *   maildir.c         the maildir's memory, opening, names and own files;
 *   maildir_scan.c    listing cur/ and new/ (new mail moved to cur/) and
 *                     numbering the messages oldest delivery first;
 *   maildir_locate.c  the messages by identity (unique name and inode),
 *                     and finding one again after another program
 *                     renamed it;
 *   maildir_msg.c     a listed message's file: stat, open, remove;
 *   maildir_lock.c    the session lock and its lock file.
 */
#ifndef POP3D_MAILDIR_INTERNAL_H
#define POP3D_MAILDIR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"

/*
 * The messages by identity, their unique name and inode: a file seen
 * again under another name (its flags changed) or in the other directory
 * is the same message.  The scan adds to it as it finds messages (a file
 * seen twice, in one pass or two, is listed once); maildir_locate builds
 * it again over the sorted list and renames every message it finds moved
 * in one read of the directories.  Open addressing; a slot holds an index
 * into md->msgs plus one, 0 when free.
 */
struct idtab {
	size_t		*slot;
	size_t		 size;		/* a power of two, over twice count */
	const struct msg *msgs;		/* what the indices are of */
	size_t		 count;
};

/* Drops the list of messages, their names and the identity table. */
void	md_msgs_forget(struct maildir *);

/* Frees the identity table (its indices no longer match md->msgs). */
void	md_ids_forget(struct maildir *);

/* Makes room in md->ids for md->msgs[0 .. n - 1]: 0, or -1 (no memory). */
int	md_id_room(struct maildir *, size_t);

/*
 * The slot of t for the message with this unique name (len octets) and
 * inode, or the free slot for it.
 */
size_t	*md_id_slot(const struct maildir *, const struct idtab *,
	    const char *, size_t, uint64_t);

/* Notes a message's name as a directory read found it: 0, or -1. */
int	md_msg_rename(struct maildir *, struct msg *, const char *,
	    enum md_dir);

#endif

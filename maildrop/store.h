/*
 * What the TRANSACTION state (trans.c) serves, whatever holds the mail: a
 * Maildir (maildir.h) or an mbox file (mbox.h).  Both fill the same list
 * of messages; the few things that differ (where a message's octets are,
 * the UPDATE, the end of the session's hold) are the store's ops.
 */
#ifndef POP3D_STORE_H
#define POP3D_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pop3d_limits.h"

enum md_dir { MD_CUR, MD_NEW };

/* Where a message's wire size came from. */
enum md_size { SIZE_NONE, SIZE_NAME, SIZE_CACHE, SIZE_READ };

/*
 * One message.  The fields of its place differ by store (an anonymous
 * union, so that neither store's code names the other's): a Maildir's
 * file, or an mbox's octets.
 */
struct msg {
	char		*name;		/* Maildir: name in cur/ or new/ */
	const char	*uidl;		/* not NUL-terminated: uidl_len */
	union {
		struct {		/* Maildir */
			int64_t	 order_sec;	/* delivery time, name */
			uint32_t order_usec;
			uint64_t d_ino;		/* readdir's inode number */
			uint64_t disk;		/* stat: size, inode, mtime */
			uint64_t st_ino;
			int64_t	 mtime_ns;
		};
		struct {		/* mbox */
			uint64_t from_off;	/* its From_ line */
			uint64_t off;		/* first octet served */
			uint64_t len;		/* octets served */
			uint64_t from_digest;	/* of the From_ line */
		};
	};
	uint64_t	 wire;		/* octets RETR sends, unstuffed */
	uint16_t	 uniq_len;	/* the name up to its ':' */
	uint8_t		 uidl_len;
	uint8_t		 dir;		/* enum md_dir */
	uint8_t		 size_from;	/* enum md_size; SIZE_NONE: unknown */
	uint8_t		 deleted;
	uint8_t		 retrieved;	/* RETR sent it whole (EXPIRE) */
	uint8_t		 unseen;	/* reads of the dirs that missed it */
	uint8_t		 carried;	/* UIDL kept from elsewhere (migrate.h,
					   an mbox's X-UIDL) */
};

struct store;
struct session;

struct store_ops {
	/*
	 * Opens a message for reading: a descriptor and where in it the
	 * message's octets are (*off, *len; len UINT64_MAX: to the end), or
	 * -1 with errno (ENOENT: removed by another program).
	 */
	int	(*open_msg)(struct store *, struct msg *, uint64_t *,
		    uint64_t *);
	/* Logs event for a message (naming its file), with err. */
	void	(*log_msg)(struct store *, const char *, const struct msg *,
		    int);
	/*
	 * The UPDATE state: removes what the session marked, counting in
	 * s->removed, expired, seen, unremoved (and s->update_why).
	 */
	void	(*update)(struct store *, struct session *);
	/* Ends the session's hold on the maildrop. */
	void	(*unlock)(struct store *);
};

struct store {
	struct msg	*msgs;
	size_t		 count;
	uint64_t	 octets;	/* sum of wire sizes */
	int		 truncated;	/* more messages than the maximum */
	const struct store_ops *ops;
	void		*impl;		/* struct maildir, struct mbox */
	int		 spool_dirfd;	/* XTND XMIT's spool: this dir's */
	const char	*spool_sub;	/* ... subdirectory */
};

/*
 * Making a maildrop's UIDLs unique, deterministically (uidl.c): messages
 * with one UIDL are sorted, one carried over from elsewhere first, then
 * by tiebreak; all but the first get the digest (maildir_uidl_digest) of
 * what salt writes of them, in rounds until no two are equal.  salt gets
 * the round, the message's index and its place among the equal ones (1
 * for the first duplicate); label names a message in the clash log; dup
 * copies a UIDL into memory that lives as long as the list.
 */
struct uidl_pass {
	struct msg	*msgs;
	size_t		 count;
	int		(*tiebreak)(const struct msg *, const struct msg *);
	int		(*salt)(const struct msg *, int, size_t, size_t, char *,
			    size_t);
	const char	*(*label)(const struct uidl_pass *, const struct msg *,
			    char *, size_t);
	char		*(*dup)(void *, const char *, size_t);
	void		*ctx;
};

/* 0, or -1 (out of memory). */
int	uidl_unique(const struct uidl_pass *);

#endif

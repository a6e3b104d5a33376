/*
 * UPDATE of an mbox (mbox.h): the messages removed by a rewrite in place,
 * under both delivery locks, through the redo journal (mbox_journal.c)
 * that makes a crash at any instant lose and duplicate nothing.  The file
 * keeps its inode, owner, group and mode: Debian's MTAs take fcntl on the
 * open file before the dotlock, and would append to a file renamed away.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "trans.h"

int
mbox_end_record(struct mbox *mb)
{
	mb->tailk = mb->end < MBOX_END_TAIL ? mb->end : MBOX_END_TAIL;
	return io_pread_exact(mb->fd, mb->tail, mb->tailk, mb->end - mb->tailk);
}

/*
 * Where the listed octets end is where they ended: the octets before it
 * unchanged, and the file ends there or goes on with a message of its own
 * (an empty line, then "From ").  A local mail reader that grew or shrank
 * the last message in place would otherwise leave its remnants glued to
 * a kept message, or cut the start off mail delivered since.
 */
static int
end_unchanged(struct mbox *mb, uint64_t S)
{
	char	buf[MBOX_END_TAIL];

	if (S < mb->end || io_pread_exact(mb->fd, buf, mb->tailk,
	    mb->end - mb->tailk) == -1 ||
	    memcmp(buf, mb->tail, mb->tailk) != 0)
		return 0;
	if (S == mb->end)
		return 1;
	if (mb->end < 2 || memcmp(mb->tail + mb->tailk - 2, "\n\n", 2) != 0 ||
	    S - mb->end < 5 || io_pread_exact(mb->fd, buf, 5, mb->end) == -1)
		return 0;
	return memcmp(buf, "From ", 5) == 0;
}

/*
 * Step 2: the file is still what was listed: the same file at the path,
 * every message from the first removed on where it was, and the listed
 * end where it was.  Mail appended since is kept.
 */
static int
still_listed(struct mbox *mb, size_t first, uint64_t *S)
{
	struct stat	st;
	size_t		i;

	if (!mbox_still_there(mb) || fstat(mb->fd, &st) == -1 ||
	    !end_unchanged(mb, st.st_size))
		return 0;
	for (i = first; i < mb->st.count; i++) {
		if (mbox_msg_there(mb, &mb->st.msgs[i]) != 1)
			return 0;
		mbox_dotlock_keep(mb);
	}
	*S = st.st_size;
	return 1;
}

static void
update_log(const char *path, const char *why, int err)
{
	struct logline	l;

	logline_start(&l, "mbox-update-failed");
	logline_path(&l, "file", path);
	logline_path(&l, "home", ".");
	logline_str(&l, "why", why);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

/*
 * The index no longer describes the file: removed, so that the next
 * session reads the file anew rather than trust offsets that moved.
 */
void
mbox_cache_drop(struct mbox *mb)
{
	char	name[MBOX_FILE_NAME_MAX];

	mbox_file_name(mb, "cache", name, sizeof(name));
	if (unlinkat(mb->homefd, name, 0) == -1 && errno != ENOENT)
		log_file("cache-remove-failed", name, errno);
}

/* Under the delivery locks: NULL when done, else what the client hears. */
static const char *
update_locked(struct mbox *mb)
{
	size_t		i, first;
	uint64_t	S, gone = 0;

	if (mbox_recover(mb) == -1) {
		update_log(mb->path, "journal recovery failed", errno);
		return "cannot rewrite the mailbox now";
	}
	if (mb->jforeign) {
		update_log(mb->path, "another file's journal in the way", 0);
		return "cannot rewrite the mailbox now";
	}
	for (first = 0; !mb->st.msgs[first].deleted; first++)
		;
	if (!still_listed(mb, first, &S)) {
		update_log(mb->path, "mailbox changed by another program", 0);
		return "mailbox changed by another program";
	}
	for (i = first; i < mb->st.count; i++)
		if (mb->st.msgs[i].deleted)
			gone += mbox_region_end(mb, i) -
			    mb->st.msgs[i].from_off;
	/* 1: committed, finished at the next lock: removed all the same. */
	if (mbox_rewrite(mb, first, S, S - gone) == -1) {
		update_log(mb->path, "journal not written", errno);
		return "cannot rewrite the mailbox now";
	}
	mbox_cache_drop(mb);
	return NULL;
}

/*
 * Removes the deleted messages, and under EXPIRE 0 the retrieved ones,
 * all or none; once the journal is committed they are removed, if need
 * be by the next lock of the mbox.  EXPIRE N > 0 is never in force for an
 * mbox (its messages cannot carry a seen mark without a rewrite).
 */
void
mbox_update(struct store *st, struct session *s)
{
	struct mbox	*mb = st->impl;
	struct msg	*m;
	size_t		 i;
	uint64_t	 n = 0, e = 0;
	const char	*why;

	for (i = 0; i < mb->st.count; i++) {
		m = &mb->st.msgs[i];
		if (!m->deleted && s->expire_days == 0 && m->retrieved) {
			m->deleted = 1;
			e++;
		}
		n += m->deleted;
	}
	if (n == 0)
		return;
	if (!mb->home_ok) {
		update_log(mb->path, "home not writable: no journal", EACCES);
		why = "cannot remove messages: no place for the journal";
	} else if (mbox_dlock(mb) == -1) {
		update_log(mb->path, "delivery locks not taken", errno);
		/* ENOLCK: liblockfile could not make the dotlock at all. */
		why = errno == ETIMEDOUT ? "mailbox locked by another program" :
		    "mailbox cannot be locked";
	} else {
		why = update_locked(mb);
		mbox_dunlock(mb);
	}
	if (why != NULL) {
		s->unremoved = n;
		s->update_why = why;
		return;
	}
	s->removed = n;
	s->expired = e;
}

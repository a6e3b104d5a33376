/*
 * The messages by identity (unique name and inode), and maildir_locate:
 * finding a message's file again after another program renamed it.  The
 * scan (maildir_scan.c) fills the same table as it lists.  Split from
 * maildir.c (maildir_internal.h lists the pieces).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir_internal.h"

static uint64_t
id_hash(const char *uniq, size_t len, uint64_t ino)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)uniq[i]) * 0x100000001b3ULL;
	h = (h ^ ino) * 0x100000001b3ULL;
	return h ^ h >> 31;
}

/* The slot of the message with this identity, or the free one for it. */
size_t *
md_id_slot(const struct maildir *md, const struct idtab *t, const char *uniq,
    size_t len, uint64_t ino)
{
	size_t			 i = id_hash(uniq, len, ino) & (t->size - 1);
	const struct msg	*m;
	for (;; i = (i + 1) & (t->size - 1)) {
		if (t->slot[i] == 0)
			return &t->slot[i];
		m = &md->msgs[t->slot[i] - 1];
		if (m->d_ino == ino && m->uniq_len == len &&
		    memcmp(m->name, uniq, len) == 0)
			return &t->slot[i];
	}
}

/* Makes room for md->msgs[0 .. n - 1]: 0, or -1 (out of memory). */
int
md_id_room(struct maildir *md, size_t n)
{
	struct idtab	*t = md->ids, nt;
	struct msg	*m;
	size_t		 i;

	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return -1;
		md->ids = t;
	}
	if (t->size > 2 * n)
		return 0;
	nt.size = t->size ? t->size * 2 : 1024;
	while (nt.size <= 2 * n)
		nt.size *= 2;
	if ((nt.slot = calloc(nt.size, sizeof(*nt.slot))) == NULL)
		return -1;
	nt.msgs = md->msgs;
	nt.count = t->count;
	for (i = 0; i < t->count; i++) {
		m = &md->msgs[i];
		*md_id_slot(md, &nt, m->name, m->uniq_len, m->d_ino) = i + 1;
	}
	free(t->slot);
	*t = nt;
	return 0;
}

void
md_ids_forget(struct maildir *md)
{
	if (md->ids != NULL)
		free(md->ids->slot);
	free(md->ids);
	md->ids = NULL;
}

/*
 * The table over md->msgs as they are now: kept if it was made for them,
 * else built.  0, or -1 (out of memory).
 */
static int
ids_current(struct maildir *md)
{
	struct msg	*m;
	size_t		 i, *slot;

	if (md->ids != NULL && md->ids->msgs == md->msgs &&
	    md->ids->count == md->count)
		return 0;
	md_ids_forget(md);
	if (md_id_room(md, md->count) == -1)
		return -1;
	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		slot = md_id_slot(md, md->ids, m->name, m->uniq_len, m->d_ino);
		if (*slot == 0)
			*slot = i + 1;
	}
	md->ids->msgs = md->msgs;
	md->ids->count = md->count;
	return 0;
}

/* Notes a message's name as a directory read found it: 0, or -1. */
int
md_msg_rename(struct maildir *md, struct msg *m, const char *name,
    enum md_dir dir)
{
	char	*copy;

	if (m->dir == dir && strcmp(m->name, name) == 0)
		return 0;
	if ((copy = maildir_strdup(md, name, strlen(name))) == NULL)
		return -1;
	m->name = copy;
	m->dir = dir;
	return 0;
}

/*
 * One read of new/, then cur/ (so that a move from new/ to cur/ during it
 * cannot hide a file), giving every listed message the name it has now:
 * the same unique name and the same inode, so that another file of that
 * unique name is never taken for it; each message's unseen counts the
 * reads in a row that missed it.  1 when it found want, 0 when not, -1 on
 * error.
 */
static int
names_refresh(struct maildir *md, const struct msg *want)
{
	int		 fds[2] = { md->newfd, md->curfd }, i, dfd, found = 0;
	DIR		*dp;
	struct dirent	*d;
	size_t		*slot, j;
	struct msg	*m;

	if (ids_current(md) == -1)
		return -1;
	for (j = 0; j < md->count; j++)
		if (md->msgs[j].unseen < UINT8_MAX)
			md->msgs[j].unseen++;
	for (i = 0; i < 2; i++) {
		dfd = openat(fds[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd == -1 || (dp = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			return -1;
		}
		while ((d = readdir(dp)) != NULL) {
			if (d->d_name[0] == '.')
				continue;
			slot = md_id_slot(md, md->ids, d->d_name,
			    maildir_uniq_len(d->d_name), d->d_ino);
			if (*slot == 0)
				continue;	/* not listed: new mail */
			m = &md->msgs[*slot - 1];
			if (md_msg_rename(md, m, d->d_name, i == 0 ? MD_NEW :
			    MD_CUR) == -1) {
				closedir(dp);
				return -1;
			}
			m->unseen = 0;
			if (m == want)
				found = 1;
		}
		closedir(dp);
	}
	return found;
}

/*
 * One read of the directories finds every message renamed since the
 * last: when another program changes the flags of many messages, they
 * cost one read, not one each.  And a message that the last
 * MAILDIR_LOCATE_PASSES reads all missed is gone, without another read:
 * when another program removed many, they cost that many reads in all.
 */
int
maildir_locate(struct maildir *md, struct msg *m)
{
	int	r;

	while (m->unseen < MAILDIR_LOCATE_PASSES)
		if ((r = names_refresh(md, m)) != 0)
			return r == 1 ? 0 : -1;
	errno = ENOENT;
	return -1;
}

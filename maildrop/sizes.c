#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "le64.h"
#include "log.h"
#include "pop3d_limits.h"
#include "sizes.h"
#include "wire.h"

/*
 * By inode alone: cheaper than hashing names, and within one maildrop an
 * inode is one file, or a few namesakes (the lookup compares the name).
 * A lookup probes at most HINT_PROBES slots, so that a file of many
 * records of one inode (made by hand) costs no more than that: a record
 * it would take more to reach is left out, and its message read.
 */
#define HINT_PROBES	64

static size_t
hint_hash(uint64_t ino, size_t nslot)
{
	ino *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(ino ^ ino >> 29) & (nslot - 1);
}

int
sizes_hints_index(struct sizes_hints *h)
{
	const struct msg *r;
	size_t		 i, n = 16, at, probes;

	while (n < 2 * h->count)
		n *= 2;
	if ((h->slot = calloc(n, sizeof(*h->slot))) == NULL)
		return -1;
	h->nslot = n;
	for (i = 0; i < h->count; i++) {
		r = &h->recs[i];
		/* ",W=" sizes are in the name: no record needed. */
		if (r->size_from == SIZE_NAME)
			continue;
		at = hint_hash(r->st_ino, n);
		for (probes = 1; h->slot[at] != 0 && probes < HINT_PROBES;
		    probes++)
			at = (at + 1) & (n - 1);
		if (h->slot[at] == 0)
			h->slot[at] = (uint32_t)i + 1;
	}
	return 0;
}

void
sizes_hints_free(struct sizes_hints *h)
{
	free(h->recs);
	free(h->slot);
	memset(h, 0, sizeof(*h));
}

const struct msg *
sizes_hint_find(const struct sizes_hints *h, const struct msg *m)
{
	const struct msg *r;
	size_t		 at, probes;

	if (h == NULL || h->nslot == 0)
		return NULL;
	at = hint_hash(m->st_ino, h->nslot);
	for (probes = 0; h->slot[at] != 0 && probes < HINT_PROBES;
	    probes++, at = (at + 1) & (h->nslot - 1)) {
		r = &h->recs[h->slot[at] - 1];
		if (r->st_ino == m->st_ino && r->uniq_len == m->uniq_len &&
		    r->disk == m->disk && r->mtime_ns == m->mtime_ns &&
		    memcmp(r->name, m->name, m->uniq_len) == 0)
			return r;
	}
	return NULL;
}

/* Errors that say this process, not the message, is in trouble. */
static int
error_of_process(int err)
{
	return err == ENOMEM || err == EMFILE || err == ENFILE;
}

/* What the cache and the later checks know a message's file by. */
static void
msg_identity(struct msg *m, const struct stat *st)
{
	m->disk = st->st_size;
	m->st_ino = st->st_ino;
	m->mtime_ns = maildir_mtime_ns(st);
}

/* The file's identity and size: 1 known, 0 gone, -1 error or no file. */
static int
size_stat(struct maildir *md, struct msg *m)
{
	struct stat	st;

	/* Found again if another program renamed it since the scan. */
	if (maildir_stat_msg(md, m, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : EINVAL;
		return -1;
	}
	msg_identity(m, &st);
	return 1;
}

/* Reads a message to learn its sizes: 1 done, 0 gone, -1 error. */
static int
size_compute(struct maildir *md, struct msg *m)
{
	struct stat	st;
	int		fd;

	if ((fd = maildir_open_msg(md, m)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || wire_size_fd(fd, &m->wire) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	msg_identity(m, &st);
	m->size_from = SIZE_READ;
	return 1;
}

/*
 * One message's size: 1 known, 0 gone, -1 unreadable.  Every message is
 * stat'ed, ",W=" or not: its inode is how later opens and the UPDATE know
 * it is still the same file.
 */
static int
size_one(struct maildir *md, struct msg *m, const struct sizes_hints *h)
{
	const struct msg *r;
	int		 ret;

	if ((ret = size_stat(md, m)) != 1)
		return ret;
	if (m->size_from == SIZE_NAME)
		return 1;
	if ((r = sizes_hint_find(h, m)) != NULL) {
		m->wire = r->wire;
		m->size_from = SIZE_CACHE;
		return 1;
	}
	return size_compute(md, m);
}

static void
stats_count(struct sizes_stats *s, const struct maildir *md)
{
	size_t	i;

	s->from_name = s->from_cache = s->computed = 0;
	for (i = 0; i < md->count; i++)
		switch (md->msgs[i].size_from) {
		case SIZE_NAME:
			s->from_name++;
			break;
		case SIZE_CACHE:
			s->from_cache++;
			break;
		case SIZE_READ:
			s->computed++;
			break;
		}
}

int
sizes_fill(struct maildir *md, const struct sizes_hints *h,
    struct sizes_stats *s)
{
	struct msg	*m;
	size_t		 i;
	int		 r;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if (m->size_from != SIZE_NAME)
			m->size_from = SIZE_NONE;
		if ((r = size_one(md, m, h)) == 1)
			continue;
		if (r == -1 && error_of_process(errno))
			return -1;
		if (r == 0)
			s->vanished++;
		else {
			maildir_log_file("skip", m->dir, m->name, errno);
			s->unreadable++;
		}
		m->size_from = SIZE_NONE;	/* pruned */
	}
	stats_count(s, md);
	return 0;
}

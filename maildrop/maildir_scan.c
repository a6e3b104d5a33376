/*
 * maildir_scan: listing new/ (moving each file to cur/) and cur/, over as
 * many passes as renames by other programs need, keeping the newest when
 * there are too many, and numbering oldest delivery first; maildir_prune.
 * Split from maildir.c (maildir_internal.h lists the pieces).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir_internal.h"
#include "num.h"

/* The leading digits of s, at most max of them: their count. */
static size_t
digits_len(const char *s, size_t max)
{
	size_t	n = strspn(s, "0123456789");

	return n < max ? n : max;
}

/*
 * Delivery order: the time at the start of a Maildir name
 * "SECONDS.M<usec>P<pid>.host", else the file's mtime.  0, or -1 when the
 * file is gone.
 */
static int
entry_order(int dirfd, const char *name, int64_t *sec, uint32_t *usec)
{
	struct stat	st;
	uint64_t	s, u = 0;
	size_t		n;

	/* 18 digits cannot overflow; 6 are all a microsecond count has. */
	if ((n = digits_len(name, 18)) > 0 &&
	    num_parse_n(name, n, 0, UINT64_MAX, &s) == 0) {
		if (name[n] == '.' && name[n + 1] == 'M' &&
		    num_parse_n(name + n + 2, digits_len(name + n + 2, 6), 0,
		    999999, &u) == -1)
			u = 0;
		*sec = (int64_t)s;
		*usec = (uint32_t)u;
		return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	*sec = st.st_mtim.tv_sec;
	*usec = st.st_mtim.tv_nsec / 1000;
	return 0;
}

/*
 * Adds the message of a directory entry, or, when the scan has seen it
 * already, notes the name and directory it has now.  0, 1 when it is a
 * message not seen yet and md->max are listed already (capped), or -1
 * (out of memory).
 */
static int
msg_add(struct maildir *md, int dirfd, const char *name, enum md_dir dir,
    uint64_t ino, int capped)
{
	struct msg	*m, *n;
	size_t		 len = strlen(name), cap, *slot;

	if (md_id_room(md, md->count + 1) == -1)
		return -1;
	slot = md_id_slot(md, md->ids, name, maildir_uniq_len(name), ino);
	if (*slot != 0)
		return md_msg_rename(md, &md->msgs[*slot - 1], name, dir);
	if (capped && md->count >= md->max)
		return 1;
	if (md->count == md->cap) {
		cap = md->cap ? md->cap * 2 : 256;
		if ((n = reallocarray(md->msgs, cap, sizeof(*n))) == NULL)
			return -1;
		md->msgs = n;
		md->cap = cap;
	}
	m = &md->msgs[md->count];
	memset(m, 0, sizeof(*m));
	if (entry_order(dirfd, name, &m->order_sec, &m->order_usec) == -1)
		return 0;		/* gone already */
	if ((m->name = maildir_strdup(md, name, len)) == NULL)
		return -1;
	m->dir = dir;
	m->d_ino = ino;
	m->uniq_len = maildir_uniq_len(name);
	if (maildir_name_size(name, m->uniq_len, 'W', &m->wire))
		m->size_from = SIZE_NAME;
	*slot = ++md->count;
	md->ids->msgs = md->msgs;
	md->ids->count = md->count;
	return 0;
}

/*
 * Whether a directory entry can be a message: a regular file (or one whose
 * type the file system does not tell: stat decides later) and not a
 * dot-file.  Anything else but a directory is logged as skipped, by the
 * scan's first pass.
 */
static int
entry_is_message(struct maildir *md, enum md_dir dir,
    const struct dirent *d, int pass)
{
	if (d->d_name[0] == '.' || d->d_type == DT_DIR)
		return 0;
	if (d->d_type == DT_REG || d->d_type == DT_UNKNOWN)
		return 1;
	if (pass == 0) {
		/* Once, not once per pass. */
		md->skipped++;
		maildir_log_file("skip", dir, d->d_name, d->d_type == DT_LNK ?
		    ELOOP : EINVAL);
	}
	return 0;
}

/*
 * Moves new/name to cur/name:2, and stores the name it now has in to:
 * MD_CUR, or MD_NEW when it stays (a name too long, or taken in cur/), or
 * -1 when it is no longer in new/ (another program moved it first: the
 * scan finds it in cur/).
 */
static int
move_to_cur(struct maildir *md, const char *name, char *to, size_t n)
{
	if (strchr(name, ':') != NULL ||
	    (size_t)snprintf(to, n, "%s:2,", name) >= n)
		goto stay;
	if (renameat2(md->newfd, name, md->curfd, to, RENAME_NOREPLACE) == 0)
		return MD_CUR;
	if (errno == EINVAL || errno == ENOSYS) {
		/* No RENAME_NOREPLACE here: check, then rename. */
		if (faccessat(md->curfd, to, F_OK, AT_SYMLINK_NOFOLLOW) == -1 &&
		    errno == ENOENT &&
		    renameat(md->newfd, name, md->curfd, to) == 0)
			return MD_CUR;
	}
	if (errno == ENOENT)
		return -1;
stay:
	snprintf(to, n, "%s", name);
	return MD_NEW;
}

/* Delivery times, compared: the order messages are numbered in. */
struct order {
	int64_t		sec;
	uint32_t	usec;
};

static int
order_cmp(const struct order *a, const struct order *b)
{
	if (a->sec != b->sec)
		return a->sec < b->sec ? -1 : 1;
	if (a->usec != b->usec)
		return a->usec < b->usec ? -1 : 1;
	return 0;
}

/*
 * With more messages than md->max, only those delivered at or after the
 * cut are listed; the sorted list is then trimmed to the newest md->max
 * (ties at the cut, and mail delivered since the cut was found, make more).
 */
struct cutoff {
	struct order	at;
};

static int
cutoff_keeps(struct cutoff *c, int dirfd, const char *name)
{
	struct order	o;

	if (entry_order(dirfd, name, &o.sec, &o.usec) == -1)
		return 0;
	return order_cmp(&o, &c->at) >= 0;
}

/*
 * One directory, once: 1 when the scan has found more than md->max
 * messages (cut == NULL), else 0, or -1.
 */
static int
scan_dir(struct maildir *md, enum md_dir dir, struct cutoff *cut, int pass)
{
	int		 fd = dir == MD_NEW ? md->newfd : md->curfd, dfd, at;
	DIR		*dp;
	struct dirent	*d;
	char		 to[NAME_MAX + 1];
	int		 ret = 0;

	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((dp = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((d = readdir(dp)) == NULL) {
			ret = errno != 0 ? -1 : 0;
			break;
		}
		if (!entry_is_message(md, dir, d, pass))
			continue;
		if (cut != NULL && !cutoff_keeps(cut, fd, d->d_name))
			continue;
		snprintf(to, sizeof(to), "%s", d->d_name);
		at = dir;
		if (dir == MD_NEW &&
		    (at = move_to_cur(md, d->d_name, to, sizeof(to))) == -1)
			continue;
		if ((ret = msg_add(md, at == MD_CUR ? md->curfd : md->newfd,
		    to, at, d->d_ino, cut == NULL)) != 0)
			break;
	}
	closedir(dp);
	return ret;
}

/*
 * new/, then cur/, so that a message another program moves from new/ to
 * cur/ meanwhile is read in one or the other; and again, since a rename
 * within a directory during readdir can hide the file under both its
 * names (POSIX leaves it unspecified, and ext4's hash order does it): a
 * message is missed only when every pass misses it.  Passes go on until
 * one finds nothing new, at least 2, at most MAILDIR_SCAN_PASSES.  As
 * scan_dir.
 */
static int
scan_passes(struct maildir *md, struct cutoff *cut)
{
	size_t		before;
	int		pass, r = 0;

	for (pass = 0; pass < MAILDIR_SCAN_PASSES; pass++) {
		before = md->count;
		if ((r = scan_dir(md, MD_NEW, cut, pass)) != 0 ||
		    (r = scan_dir(md, MD_CUR, cut, pass)) != 0)
			break;
		if (pass > 0 && md->count == before)
			break;
	}
	return r;
}

/* Keeps the newest max delivery times seen in a min-heap: heap[0] is cut. */
static void
heap_offer(struct order *heap, size_t *n, size_t max, const struct order *o)
{
	struct order	tmp;
	size_t		i, c;

	if (*n < max) {
		for (i = (*n)++; i > 0 && order_cmp(o, &heap[(i - 1) / 2]) < 0;
		    i = (i - 1) / 2)
			heap[i] = heap[(i - 1) / 2];
		heap[i] = *o;
		return;
	}
	if (order_cmp(o, &heap[0]) <= 0)
		return;
	heap[0] = *o;
	for (i = 0; (c = 2 * i + 1) < *n; i = c) {
		if (c + 1 < *n && order_cmp(&heap[c + 1], &heap[c]) < 0)
			c++;
		if (order_cmp(&heap[c], &heap[i]) >= 0)
			break;
		tmp = heap[i];
		heap[i] = heap[c];
		heap[c] = tmp;
	}
}

/* Reads every entry's delivery time to find where the newest max begin. */
static int
cutoff_find(struct maildir *md, struct cutoff *cut)
{
	int		 fds[2] = { md->curfd, md->newfd }, i, dfd;
	struct order	*heap, o;
	struct dirent	*d;
	size_t		 n = 0;
	DIR		*dp;

	if ((heap = calloc(md->max, sizeof(*heap))) == NULL)
		return -1;
	for (i = 0; i < 2; i++) {
		dfd = openat(fds[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd == -1 || (dp = fdopendir(dfd)) == NULL) {
			if (dfd != -1)
				close(dfd);
			free(heap);
			return -1;
		}
		while ((d = readdir(dp)) != NULL)
			if (d->d_name[0] != '.' && (d->d_type == DT_REG ||
			    d->d_type == DT_UNKNOWN) &&
			    entry_order(fds[i], d->d_name, &o.sec, &o.usec) == 0)
				heap_offer(heap, &n, md->max, &o);
		closedir(dp);
	}
	cut->at = heap[0];
	free(heap);
	return 0;
}

/*
 * Oldest delivery first; at the same time, by unique name, then by
 * directory and inode: nothing a flag change alters.
 */
int
maildir_tiebreak(const struct msg *x, const struct msg *y)
{
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->d_ino < y->d_ino ? -1 : x->d_ino > y->d_ino;
}

int
maildir_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0 || alen == blen)
		return c;
	return alen < blen ? -1 : 1;
}

static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	struct order	ox = { x->order_sec, x->order_usec };
	struct order	oy = { y->order_sec, y->order_usec };
	int		c;

	if ((c = order_cmp(&ox, &oy)) != 0)
		return c;
	if ((c = maildir_bytes_cmp(x->name, x->uniq_len, y->name,
	    y->uniq_len)) != 0)
		return c;
	return maildir_tiebreak(x, y);
}

int
maildir_scan(struct maildir *md)
{
	struct cutoff	cut;
	int		r;

	if ((r = scan_passes(md, NULL)) == -1)
		return -1;
	if (r == 1) {
		/* Too many: start again, keeping only the newest. */
		md_msgs_forget(md);
		md->truncated = 1;
		if (cutoff_find(md, &cut) == -1 ||
		    scan_passes(md, &cut) == -1)
			return -1;
	}
	/* Sorted, the indices change: maildir_locate makes it anew. */
	md_ids_forget(md);
	if (md->count > 0)
		qsort(md->msgs, md->count, sizeof(*md->msgs), msg_cmp);
	if (md->count > md->max) {
		memmove(md->msgs, md->msgs + (md->count - md->max),
		    md->max * sizeof(*md->msgs));
		md->count = md->max;
	}
	return 0;
}

void
maildir_prune(struct maildir *md)
{
	size_t	i, j;

	md_ids_forget(md);
	md->octets = 0;
	for (i = j = 0; i < md->count; i++) {
		if (md->msgs[i].size_from == SIZE_NONE)
			continue;
		md->octets += md->msgs[i].wire;
		md->msgs[j++] = md->msgs[i];
	}
	md->count = j;
}

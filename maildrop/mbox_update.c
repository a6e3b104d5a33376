/*
 * UPDATE of an mbox (mbox.h): the messages removed by a rewrite in place,
 * under both delivery locks, with a redo journal in the home so that a
 * crash at any instant loses and duplicates nothing.  The file keeps its
 * inode, owner, group and mode: Debian's MTAs take fcntl on the open
 * file before the dotlock, and would append to a file renamed away.
 *
 * The journal: a header (MAGIC, dev, ino, S the size before, F the first
 * octet rewritten, N the size after, k and the original octets
 * [S - k, S), k = min(MBOX_JOURNAL_TAIL, S - N)), the new content of
 * [F, N), and the first 8 octets of a SHA-256 of all that.  Applied:
 * pwrite at F, fsync, ftruncate(N), fsync, unlink.  A journal found at
 * the next lock is applied again unless the truncate is seen done (the
 * size below S, or the octets at [S - k, S) no longer the recorded
 * ones); mail appended after S meanwhile is added to its content first.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "atomic.h"
#include "le64.h"
#include "log.h"
#include "maildir.h"
#include "mbox.h"
#include "trans.h"

#define J_MAGIC		"P3MBOXJ1"
#define J_HEAD		(8 + 6 * 8 + MBOX_JOURNAL_TAIL)
#define J_SUM		8
#define J_BUF		65536

struct jhead {
	uint64_t	dev, ino, S, F, N, k;
	char		tail[MBOX_JOURNAL_TAIL];
};

/* A journal being written. */
struct jw {
	struct atomic		a;
	struct sha256_ctx	h;
	size_t			used;
	int			failed;
	char			buf[J_BUF];
};

static int
full_pread(int fd, char *p, size_t n, uint64_t off)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = pread(fd, p, n, (off_t)off)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= r;
		off += r;
	}
	return 0;
}

static int
full_pwrite(int fd, const char *p, size_t n, uint64_t off)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = pwrite(fd, p, n, (off_t)off)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		p += r;
		n -= r;
		off += r;
	}
	return 0;
}

static void
jw_flush(struct jw *w)
{
	ssize_t	r;
	size_t	off = 0;

	while (off < w->used && !w->failed) {
		r = write(w->a.fd, w->buf + off, w->used - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			w->failed = r == 0 ? EIO : errno;
		else
			off += r;
	}
	w->used = 0;
}

static void
jw_put(struct jw *w, const char *p, size_t n)
{
	size_t	room;

	sha256_update(&w->h, n, (const uint8_t *)p);
	while (n > 0) {
		if (w->used == sizeof(w->buf))
			jw_flush(w);
		room = sizeof(w->buf) - w->used;
		if (room > n)
			room = n;
		memcpy(w->buf + w->used, p, room);
		w->used += room;
		p += room;
		n -= room;
	}
}

/* Octets [off, off + len) of fd into the journal. */
static void
jw_copy(struct jw *w, int fd, uint64_t off, uint64_t len)
{
	char	buf[J_BUF];
	size_t	n;

	while (len > 0 && !w->failed) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		if (full_pread(fd, buf, n, off) == -1) {
			w->failed = errno;
			return;
		}
		jw_put(w, buf, n);
		off += n;
		len -= n;
	}
}

static void
head_encode(const struct jhead *h, char *p)
{
	memcpy(p, J_MAGIC, 8);
	le64_put(p + 8, h->dev);
	le64_put(p + 16, h->ino);
	le64_put(p + 24, h->S);
	le64_put(p + 32, h->F);
	le64_put(p + 40, h->N);
	le64_put(p + 48, h->k);
	memcpy(p + 56, h->tail, MBOX_JOURNAL_TAIL);
}

static int
jw_begin(struct jw *w, struct mbox *mb, const struct jhead *h)
{
	char	head[J_HEAD];

	w->used = 0;
	w->failed = 0;
	sha256_init(&w->h);
	if (atomic_openat(&w->a, mb->homefd, MBOX_JOURNAL_FILE, 0) == -1)
		return -1;
	head_encode(h, head);
	jw_put(w, head, sizeof(head));
	return 0;
}

/* The checksum, then the journal synced and in place: 0, or -1. */
static int
jw_commit(struct jw *w)
{
	uint8_t	sum[SHA256_DIGEST_SIZE];

	sha256_digest(&w->h, sizeof(sum), sum);
	jw_put(w, (const char *)sum, J_SUM);
	jw_flush(w);
	if (w->failed) {
		atomic_abort(&w->a);
		errno = w->failed;
		return -1;
	}
	return atomic_commit(&w->a);
}

/* The original last k octets before S, for the recovery's test. */
static int
head_tail(struct mbox *mb, struct jhead *h)
{
	h->k = h->S - h->N < MBOX_JOURNAL_TAIL ? h->S - h->N :
	    MBOX_JOURNAL_TAIL;
	memset(h->tail, 0, sizeof(h->tail));
	return full_pread(mb->fd, h->tail, h->k, h->S - h->k);
}

/*
 * Steps 4 to 6: the content at F, the file cut at N, each synced, the
 * journal gone.  0, or -1 with the journal left for the next lock.
 */
static int
journal_apply(struct mbox *mb, const struct jhead *h)
{
	char		buf[J_BUF];
	uint64_t	off = 0, len = h->N - h->F;
	size_t		n;
	int		jfd;

	jfd = maildir_file_openat(mb->homefd, MBOX_JOURNAL_FILE, O_RDONLY);
	if (jfd == -1)
		return -1;
	while (off < len) {
		n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		if (full_pread(jfd, buf, n, J_HEAD + off) == -1 ||
		    full_pwrite(mb->fd, buf, n, h->F + off) == -1) {
			close(jfd);
			return -1;
		}
		off += n;
	}
	close(jfd);
	if (fsync(mb->fd) == -1 || ftruncate(mb->fd, (off_t)h->N) == -1 ||
	    fsync(mb->fd) == -1)
		return -1;
	if (unlinkat(mb->homefd, MBOX_JOURNAL_FILE, 0) == -1 &&
	    errno != ENOENT)
		return -1;
	return fsync(mb->homefd);
}

/* Reads and checks a journal: 1 with *h, 0 when bad (errno says), -1. */
static int
journal_read(int jfd, struct jhead *h)
{
	struct sha256_ctx ctx;
	struct stat	 st;
	char		 head[J_HEAD], buf[J_BUF];
	uint8_t		 sum[SHA256_DIGEST_SIZE];
	uint64_t	 off, end;
	size_t		 n;

	if (fstat(jfd, &st) == -1)
		return -1;
	if ((uint64_t)st.st_size < J_HEAD + J_SUM ||
	    full_pread(jfd, head, J_HEAD, 0) == -1 ||
	    memcmp(head, J_MAGIC, 8) != 0)
		return errno = EINVAL, 0;
	h->dev = le64_get(head + 8);
	h->ino = le64_get(head + 16);
	h->S = le64_get(head + 24);
	h->F = le64_get(head + 32);
	h->N = le64_get(head + 40);
	h->k = le64_get(head + 48);
	memcpy(h->tail, head + 56, MBOX_JOURNAL_TAIL);
	if (h->F > h->N || h->N > h->S || h->k > MBOX_JOURNAL_TAIL ||
	    h->k != (h->S - h->N < MBOX_JOURNAL_TAIL ? h->S - h->N :
	    MBOX_JOURNAL_TAIL) ||
	    (uint64_t)st.st_size != J_HEAD + (h->N - h->F) + J_SUM)
		return errno = EINVAL, 0;
	sha256_init(&ctx);
	end = (uint64_t)st.st_size - J_SUM;
	for (off = 0; off < end; off += n) {
		n = end - off < sizeof(buf) ? end - off : sizeof(buf);
		if (full_pread(jfd, buf, n, off) == -1)
			return -1;
		sha256_update(&ctx, n, (const uint8_t *)buf);
	}
	sha256_digest(&ctx, sizeof(sum), sum);
	if (full_pread(jfd, buf, J_SUM, end) == -1)
		return -1;
	return memcmp(buf, sum, J_SUM) == 0 ? 1 : (errno = EBADMSG, 0);
}

static void
journal_log(const char *event, const char *why)
{
	struct logline	l;

	logline_start(&l, event);
	logline_path(&l, "file", MBOX_JOURNAL_FILE);
	if (why != NULL)
		logline_str(&l, "why", why);
	logline_emit(&l);
}

/*
 * Not finished, and mail came after S (delivered after the crash): the
 * journal again with that mail added to its content, then applied.
 */
static int
journal_extend(struct mbox *mb, int jfd, struct jhead *h, uint64_t Z)
{
	struct jw	*w;
	struct jhead	 nh = *h;
	int		 r = -1;

	nh.N = h->N + (Z - h->S);
	nh.S = Z;
	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	if (head_tail(mb, &nh) == 0 && jw_begin(w, mb, &nh) == 0) {
		jw_copy(w, jfd, J_HEAD, h->N - h->F);
		jw_copy(w, mb->fd, h->S, Z - h->S);
		r = jw_commit(w);
	}
	free(w);
	if (r == 0)
		*h = nh;
	return r;
}

/* Whether the rewrite a valid journal records was cut before its end. */
static int
journal_pending(struct mbox *mb, const struct jhead *h, uint64_t Z)
{
	char	tail[MBOX_JOURNAL_TAIL];

	if (Z < h->S)
		return 0;
	if (full_pread(mb->fd, tail, h->k, h->S - h->k) == -1)
		return -1;
	return memcmp(tail, h->tail, h->k) == 0;
}

int
mbox_recover(struct mbox *mb)
{
	struct jhead	h;
	struct stat	st;
	int		jfd, r;

	jfd = maildir_file_openat(mb->homefd, MBOX_JOURNAL_FILE, O_RDONLY);
	if (jfd == -1)
		return errno == ENOENT ? 0 : -1;
	if ((r = journal_read(jfd, &h)) == 1 &&
	    (h.dev != mb->dev || h.ino != mb->ino)) {
		r = 0;
		errno = ESTALE;
	}
	if (r == 0) {
		close(jfd);
		journal_log("mbox-journal-dropped", strerror(errno));
		return unlinkat(mb->homefd, MBOX_JOURNAL_FILE, 0) == -1 &&
		    errno != ENOENT ? -1 : 0;
	}
	if (r == -1 || fstat(mb->fd, &st) == -1 ||
	    (r = journal_pending(mb, &h, st.st_size)) == -1) {
		close(jfd);
		return -1;
	}
	if (r == 1 && (uint64_t)st.st_size > h.S &&
	    journal_extend(mb, jfd, &h, st.st_size) == -1) {
		close(jfd);
		return -1;
	}
	close(jfd);
	journal_log("mbox-journal-recovered", r ? "rewrite redone" :
	    "rewrite was complete");
	if (r == 1)
		return journal_apply(mb, &h);
	if (unlinkat(mb->homefd, MBOX_JOURNAL_FILE, 0) == -1 &&
	    errno != ENOENT)
		return -1;
	return fsync(mb->homefd);
}

/* The end of the octets that are message i's (its separator too). */
static uint64_t
region_end(const struct mbox *mb, size_t i)
{
	return i + 1 < mb->st.count ? mb->st.msgs[i + 1].from_off : mb->end;
}

/*
 * Step 2: the file is still what was listed: the same file at the path,
 * no shorter, and every message from the first removed on where it was.
 * Mail appended since is kept.
 */
static int
still_listed(struct mbox *mb, size_t first, uint64_t *S)
{
	struct stat	st;
	size_t		i;
	int		r;

	if (!mbox_still_there(mb) || fstat(mb->fd, &st) == -1 ||
	    (uint64_t)st.st_size < mb->end)
		return 0;
	for (i = first; i < mb->st.count; i++)
		if ((r = mbox_msg_there(mb, &mb->st.msgs[i])) != 1)
			return 0;
	*S = st.st_size;
	return 1;
}

/* Step 3: the journal of the rewrite, synced and in place. */
static int
journal_write(struct mbox *mb, size_t first, struct jhead *h)
{
	struct jw	*w;
	size_t		 i;
	int		 r = -1;

	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	if (head_tail(mb, h) == 0 && jw_begin(w, mb, h) == 0) {
		for (i = first; i < mb->st.count; i++)
			if (!mb->st.msgs[i].deleted)
				jw_copy(w, mb->fd, mb->st.msgs[i].from_off,
				    region_end(mb, i) - mb->st.msgs[i].from_off);
		jw_copy(w, mb->fd, mb->end, h->S - mb->end);
		r = jw_commit(w);
	}
	free(w);
	return r;
}

static void
update_log(const char *why, int err)
{
	struct logline	l;

	logline_start(&l, "mbox-update-failed");
	logline_path(&l, "home", ".");
	logline_str(&l, "why", why);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

/* Under the delivery locks: NULL when done, else what the client hears. */
static const char *
update_locked(struct mbox *mb)
{
	struct jhead	h;
	size_t		i, first;
	uint64_t	gone = 0;

	if (mbox_recover(mb) == -1) {
		update_log("journal recovery failed", errno);
		return "cannot rewrite the mailbox now";
	}
	for (first = 0; !mb->st.msgs[first].deleted; first++)
		;
	if (!still_listed(mb, first, &h.S)) {
		update_log("mailbox changed by another program", 0);
		return "mailbox changed by another program";
	}
	for (i = first; i < mb->st.count; i++)
		if (mb->st.msgs[i].deleted)
			gone += region_end(mb, i) - mb->st.msgs[i].from_off;
	h.dev = mb->dev;
	h.ino = mb->ino;
	h.F = mb->st.msgs[first].from_off;
	h.N = h.S - gone;
	if (journal_write(mb, first, &h) == -1) {
		update_log("journal not written", errno);
		return "cannot rewrite the mailbox now";
	}
	if (journal_apply(mb, &h) == -1) {
		/* The next lock finishes it from the journal. */
		update_log("rewrite cut short", errno);
		return "mailbox rewrite not finished";
	}
	return NULL;
}

/*
 * Removes the deleted messages, and under EXPIRE 0 the retrieved ones,
 * all or none.  EXPIRE N > 0 is never in force for an mbox (its
 * messages cannot carry a seen mark without a rewrite).
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
		update_log("home not writable: no journal", EACCES);
		why = "cannot remove messages: no place for the journal";
	} else if (mbox_dlock(mb) == -1) {
		update_log("delivery locks not taken", errno);
		why = "mailbox locked by another program";
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

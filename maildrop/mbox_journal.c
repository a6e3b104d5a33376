/*
 * UPDATE's redo journal for an mbox (mbox.h): written before the file is
 * touched, applied, and at the next lock of the mbox redone or dropped,
 * so that a crash at any instant loses and duplicates nothing.
 *
 * Names: every file beside an mbox is named by the mbox's dev and ino
 * (mbox_file_name), so that mailboxes sharing a home (single-uid virtual
 * users, one user with two records) never read, replace or remove each
 * other's journal, cache or login record.
 *
 * The journal: a header (MAGIC, dev, ino, S the size before, F the first
 * octet rewritten, N the size after, k = min(J_NONCE, S - N), the file's
 * birth time, a random nonce R of k octets, what the file holds at
 * [S - k, S), SHA-256s of its octets [F - min(F, 4096), F) and
 * [max(N, S - 4096), S - k)), the new content of [F, N), and the first 8
 * octets of a SHA-256 of all that.  Applied:
 *   1. the content pwritten at F, fsync;
 *   2. R written over [S - k, S) (octets about to be cut), fsync;
 *   3. the journal renamed to its "cutting" name, the home fsync'd;
 *   4. ftruncate(N), fsync; 5. the cutting journal unlinked, fsync'd.
 * Why this is unambiguous: the file is cut only once the cutting name is
 * durable, so a journal under its first name means the cut never began:
 * it is always redone (mail appended since the crash, [S, Z), added to its
 * content first).  Under the cutting name, the cut may or may not have
 * happened: R still at [S - k, S) means it did not (mail delivered after
 * a cut would have to repeat a random nonce it never saw), anything else
 * that it did, and what lies past N is mail to keep.  The old scheme's
 * test, the file's own last octets, could be repeated by a delivery of
 * equal length with the same closing lines (a daily cron report).
 *
 * dev, ino and the size do not say the file is the one the journal was
 * written for: after a crash a mail reader may rewrite the half-written
 * file (or remove it, and a new one get its inode) and new mail grow it
 * past S before the next login.  Redone, the journal would bring back old
 * messages and cut new mail as if appended after the crash.  So before a
 * redo the file must still have its birth time (when the file system
 * keeps one), and the octets steps 1 and 2 never touch as they were: the
 * 4 KiB before F, and those before [S - k, S), which must hold the
 * octets recorded or R.  Otherwise the file is the newer truth: the
 * journal is renamed aside (".stale.TIME"), logged, and not applied.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "atomic.h"
#include "io.h"
#include "le64.h"
#include "log.h"
#include "maildir.h"
#include "mbox.h"
#include "mbox_jhead.h"

#define J_SUM		8
#define J_BUF		65536

/* A journal being written. */
struct jw {
	struct mbox		*mb;		/* its dotlock kept fresh */
	struct atomic		a;
	struct sha256_ctx	h;
	size_t			used;
	int			failed;
	char			name[MBOX_FILE_NAME_MAX];
	char			buf[J_BUF];
};

void
mbox_file_name(const struct mbox *mb, const char *what, char *buf, size_t n)
{
	if (mb->fd == -1)
		snprintf(buf, n, ".pop3d-mbox.none.%s", what);
	else
		snprintf(buf, n, ".pop3d-mbox.%" PRIu64 ".%" PRIu64 ".%s",
		    mb->dev, mb->ino, what);
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
		if (io_pread_exact(fd, buf, n, off) == -1) {
			w->failed = errno;
			return;
		}
		jw_put(w, buf, n);
		off += n;
		len -= n;
		if (w->mb != NULL)
			mbox_dotlock_keep(w->mb);	/* gigabytes take minutes */
	}
}

/* k and a fresh nonce for the header. */
static int
head_nonce(struct jhead *h)
{
	h->k = h->S - h->N < J_NONCE ? h->S - h->N : J_NONCE;
	return getrandom(h->R, sizeof(h->R), 0) == (ssize_t)sizeof(h->R) ?
	    0 : -1;
}

static int
jw_begin(struct jw *w, struct mbox *mb, struct jhead *h)
{
	char	head[J_HEAD];

	w->mb = mb;
	w->used = 0;
	w->failed = 0;
	sha256_init(&w->h);
	if (head_nonce(h) == -1 || mbox_jhead_identity(mb->fd, h) == -1)
		return -1;
	mbox_file_name(mb, "journal", w->name, sizeof(w->name));
	if (atomic_openat(&w->a, mb->homefd, w->name, 0) == -1)
		return -1;
	mbox_jhead_put(head, h);
	jw_put(w, head, sizeof(head));
	return 0;
}

/*
 * The checksum, then the journal synced and in place.  A descriptor of
 * it, the one applied (never the name opened again: it could be another
 * journal by then); -1 with errno and *committed set when it is in place
 * all the same (only the home's sync failed).
 */
static int
jw_commit(struct jw *w, int homefd, int *committed)
{
	struct stat	a, b;
	uint8_t		sum[SHA256_DIGEST_SIZE];
	int		fd, err;

	*committed = 0;
	sha256_digest(&w->h, sizeof(sum), sum);
	jw_put(w, (const char *)sum, J_SUM);
	jw_flush(w);
	if (w->failed || (fd = fcntl(w->a.fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		err = w->failed ? w->failed : errno;
		atomic_abort(&w->a);
		errno = err;
		return -1;
	}
	if (atomic_commit(&w->a) == 0)
		return fd;
	err = errno;
	*committed = fstat(fd, &a) == 0 && fstatat(homefd, w->name, &b,
	    AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino;
	close(fd);
	errno = err;
	return -1;
}

/* Steps 1 and 2: the content at F, then the nonce, each synced. */
static int
apply_content(struct mbox *mb, int jfd, const struct jhead *h)
{
	char		buf[J_BUF];
	uint64_t	off = 0, len = h->N - h->F;
	size_t		n;

	while (off < len) {
		n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		if (io_pread_exact(jfd, buf, n, J_HEAD + off) == -1 ||
		    io_pwrite_exact(mb->fd, buf, n, h->F + off) == -1)
			return -1;
		off += n;
		mbox_dotlock_keep(mb);
	}
	if (fsync(mb->fd) == -1 ||
	    io_pwrite_exact(mb->fd, h->R, h->k, h->S - h->k) == -1)
		return -1;
	return fsync(mb->fd);
}

/*
 * Steps 1 to 5 (from step 4 when *cutting: the journal has its cutting
 * name already; set once it has): 0, or -1 with the journal left for the
 * next lock.
 */
static int
journal_apply(struct mbox *mb, int jfd, const struct jhead *h, int *cutting)
{
	char	jname[MBOX_FILE_NAME_MAX], cname[MBOX_FILE_NAME_MAX];

	mbox_file_name(mb, "journal", jname, sizeof(jname));
	mbox_file_name(mb, "cutting", cname, sizeof(cname));
	if (!*cutting) {
		if (apply_content(mb, jfd, h) == -1 ||
		    renameat(mb->homefd, jname, mb->homefd, cname) == -1)
			return -1;
		*cutting = 1;
		if (fsync(mb->homefd) == -1)
			return -1;
	}
	if (ftruncate(mb->fd, (off_t)h->N) == -1 || fsync(mb->fd) == -1)
		return -1;
	if (unlinkat(mb->homefd, cname, 0) == -1 && errno != ENOENT)
		return -1;
	return fsync(mb->homefd);
}

/*
 * Reads and checks a journal: 1 with *h, 0 when bad (errno says), 2 when
 * of the older format, -1 when it cannot be read (then it is left: an I/O
 * error is no proof it is bad).
 */
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
	if (st.st_size < 8)
		return errno = EINVAL, 0;
	if (io_pread_exact(jfd, head, 8, 0) == -1)
		return -1;
	if (memcmp(head, J_MAGIC_OLD, 8) == 0)
		return 2;
	if (memcmp(head, J_MAGIC, 8) != 0 ||
	    (uint64_t)st.st_size < J_HEAD + J_SUM)
		return errno = EINVAL, 0;
	if (io_pread_exact(jfd, head, J_HEAD, 0) == -1)
		return -1;
	mbox_jhead_get(head, h);
	if (h->F > h->N || h->N >= h->S || h->k != (h->S - h->N < J_NONCE ?
	    h->S - h->N : J_NONCE) ||
	    (uint64_t)st.st_size != J_HEAD + (h->N - h->F) + J_SUM)
		return errno = EINVAL, 0;
	sha256_init(&ctx);
	end = (uint64_t)st.st_size - J_SUM;
	for (off = 0; off < end; off += n) {
		n = end - off < sizeof(buf) ? end - off : sizeof(buf);
		if (io_pread_exact(jfd, buf, n, off) == -1)
			return -1;
		sha256_update(&ctx, n, (const uint8_t *)buf);
	}
	sha256_digest(&ctx, sizeof(sum), sum);
	if (io_pread_exact(jfd, buf, J_SUM, end) == -1)
		return -1;
	return memcmp(buf, sum, J_SUM) == 0 ? 1 : (errno = EBADMSG, 0);
}

/* A journal event; the log names the journal by its absolute path. */
static void
journal_log(const char *event, const char *name, const char *why, int err)
{
	struct logline	l;

	logline_start(&l, event);
	logline_path(&l, "file", name);
	if (why != NULL)
		logline_str(&l, "why", why);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

/*
 * Not finished, and mail came after S (delivered after the crash): the
 * journal again, under its first name with a new nonce, with that mail
 * added to its content.  The new journal's descriptor, or -1.
 */
static int
journal_extend(struct mbox *mb, int jfd, struct jhead *h, uint64_t Z)
{
	struct jw	*w;
	struct jhead	 nh = *h;
	int		 fd = -1, committed;

	nh.N = h->N + (Z - h->S);
	nh.S = Z;
	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	if (jw_begin(w, mb, &nh) == 0) {
		jw_copy(w, jfd, J_HEAD, h->N - h->F);
		jw_copy(w, mb->fd, h->S, Z - h->S);
		fd = jw_commit(w, mb->homefd, &committed);
	}
	free(w);
	if (fd != -1)
		*h = nh;
	return fd;
}

/* Under the cutting name: whether the nonce is still there (not cut). */
static int
nonce_there(struct mbox *mb, const struct jhead *h, uint64_t Z)
{
	char	R[J_NONCE];

	if (Z < h->S)
		return 0;
	if (io_pread_exact(mb->fd, R, h->k, h->S - h->k) == -1)
		return -1;
	return memcmp(R, h->R, h->k) == 0;
}

static int
journal_drop(struct mbox *mb, const char *name)
{
	if (unlinkat(mb->homefd, name, 0) == -1 && errno != ENOENT)
		return -1;
	return fsync(mb->homefd);
}

/*
 * Written for content the file no longer holds (another program rewrote
 * it after the crash; it is the newer truth): renamed aside, under a name
 * that holds no UPDATE back, for the administrator.
 */
static int
journal_stale(struct mbox *mb, const char *name, int cutting,
    const char *why)
{
	struct logline	l;
	char		what[64], sname[MBOX_FILE_NAME_MAX];

	snprintf(what, sizeof(what), "%s.stale.%lld", cutting ? "cutting" :
	    "journal", (long long)time(NULL));
	mbox_file_name(mb, what, sname, sizeof(sname));
	if (renameat(mb->homefd, name, mb->homefd, sname) == -1)
		return -1;
	/* Unsynced, the next lock finds it again and moves it again. */
	(void)fsync(mb->homefd);
	logline_start(&l, "mbox-journal-stale");
	logline_path(&l, "file", name);
	logline_path(&l, "stale", sname);
	logline_path(&l, "mbox", mb->path);
	logline_str(&l, "why", why);
	logline_str(&l, "action", "not applied: the mbox kept as it is");
	logline_emit(&l);
	return 0;
}

/*
 * A valid journal of this file: redone, or dropped when done, or put
 * aside when the file is no longer what it was written for.  0, or -1
 * (logged with the journal's name).
 */
static int
journal_redo(struct mbox *mb, int jfd, struct jhead *h, const char *name,
    int cutting)
{
	struct stat	 st;
	const char	*why;
	char		 now[MBOX_FILE_NAME_MAX];
	int		 pending, nfd = -1, r, err;

	if (fstat(mb->fd, &st) == -1 || (pending = cutting ? nonce_there(mb,
	    h, st.st_size) : (uint64_t)st.st_size >= h->S) == -1)
		goto fail;
	if (!pending) {
		journal_log("mbox-journal-recovered", name, cutting ?
		    "rewrite was complete" : "file shorter than recorded:"
		    " another program changed it; journal dropped", 0);
		if (journal_drop(mb, name) == 0)
			return 0;
		goto fail;
	}
	why = mbox_jhead_differs(mb->fd, h, &r);
	if (r || (why != NULL && journal_stale(mb, name, cutting, why) == -1))
		goto fail;
	if (why != NULL)
		return 0;
	if ((uint64_t)st.st_size > h->S &&
	    (nfd = journal_extend(mb, jfd, h, st.st_size)) == -1)
		goto fail;
	journal_log("mbox-journal-recovered", name, "rewrite redone", 0);
	cutting = cutting && nfd == -1;
	r = journal_apply(mb, nfd != -1 ? nfd : jfd, h, &cutting);
	err = errno;
	if (nfd != -1)
		close(nfd);
	errno = err;
	if (r == 0)
		return 0;
fail:
	/* Logged where the journal is now: it may have been renamed. */
	err = errno;
	mbox_file_name(mb, cutting ? "cutting" : "journal", now, sizeof(now));
	journal_log("mbox-journal-failed", now, "recovery failed", err);
	errno = err;
	return -1;
}

/*
 * The journal under name: 0 none, 1 dealt with (the index dropped), 2
 * another file's or of the older format (left alone, logged), 3 a bad one dropped, -1 with errno ENOTRECOVERABLE
 * once logged.
 */
static int
recover_one(struct mbox *mb, const char *what, int cutting)
{
	struct jhead	h;
	char		name[MBOX_FILE_NAME_MAX];
	int		jfd, r;

	mbox_file_name(mb, what, name, sizeof(name));
	jfd = maildir_file_openat(mb->homefd, name, O_RDONLY);
	if (jfd == -1 && errno == ENOENT)
		return 0;
	if (jfd == -1 || (r = journal_read(jfd, &h)) == -1) {
		journal_log("mbox-journal-failed", name, "journal unusable",
		    errno);
		goto fail;
	}
	if (r == 0) {
		journal_log("mbox-journal-dropped", name, strerror(errno), 0);
		r = journal_drop(mb, name);
		close(jfd);
		return r == -1 ? -1 : 3;
	}
	/* An older format cannot tell whether the file is still its own. */
	if (r == 2 || h.dev != mb->dev || h.ino != mb->ino) {
		close(jfd);
		journal_log("mbox-journal-foreign", name, r == 2 ? "journal of"
		    " an older format: left alone, no removal until it is gone"
		    : "another file's journal: left alone, no removal until it"
		    " is gone", 0);
		return 2;
	}
	if (journal_redo(mb, jfd, &h, name, cutting) == -1)
		goto fail;
	close(jfd);
	/* Offsets the index holds may have moved (or it predates the crash). */
	mbox_cache_drop(mb);
	return 1;
fail:
	if (jfd != -1)
		close(jfd);
	errno = ENOTRECOVERABLE;
	return -1;
}

int
mbox_recover(struct mbox *mb)
{
	char	cname[MBOX_FILE_NAME_MAX];
	int	r;

	mb->jforeign = 0;
	if (mb->fd == -1)
		return 0;
	/*
	 * A valid journal under the first name was written after any under
	 * the cutting name (made only by renaming the first): that one is
	 * stale.
	 */
	if ((r = recover_one(mb, "journal", 0)) == 0 || r == 3)
		r = recover_one(mb, "cutting", 1);
	else if (r == 1) {
		mbox_file_name(mb, "cutting", cname, sizeof(cname));
		if (journal_drop(mb, cname) == -1)
			r = -1;
	}
	if (r == 2)
		mb->jforeign = 1;
	return r == -1 ? -1 : 0;
}

uint64_t
mbox_region_end(const struct mbox *mb, size_t i)
{
	return i + 1 < mb->st.count ? mb->st.msgs[i + 1].from_off : mb->end;
}

/* Step 0: the journal of the rewrite, synced and in place. */
static int
journal_write(struct mbox *mb, size_t first, struct jhead *h,
    int *committed)
{
	struct jw	*w;
	size_t		 i;
	int		 fd = -1;

	*committed = 0;
	if ((w = malloc(sizeof(*w))) == NULL)
		return -1;
	if (jw_begin(w, mb, h) == 0) {
		for (i = first; i < mb->st.count; i++)
			if (!mb->st.msgs[i].deleted)
				jw_copy(w, mb->fd, mb->st.msgs[i].from_off,
				    mbox_region_end(mb, i) -
				    mb->st.msgs[i].from_off);
		jw_copy(w, mb->fd, mb->end, h->S - mb->end);
		fd = jw_commit(w, mb->homefd, committed);
	}
	free(w);
	return fd;
}

int
mbox_rewrite(struct mbox *mb, size_t first, uint64_t S, uint64_t N)
{
	struct jhead	h;
	char		name[MBOX_FILE_NAME_MAX];
	int		jfd, committed, cutting = 0, r, err;

	h.dev = mb->dev;
	h.ino = mb->ino;
	h.S = S;
	h.F = mb->st.msgs[first].from_off;
	h.N = N;
	mbox_file_name(mb, "journal", name, sizeof(name));
	if ((jfd = journal_write(mb, first, &h, &committed)) == -1) {
		err = errno;
		journal_log(committed ? "mbox-journal-unsynced" :
		    "mbox-journal-failed", name, committed ? "journal in"
		    " place, its directory not synced: the removal completes"
		    " at the next lock" : "journal not written", err);
		errno = err;
		return committed ? 1 : -1;
	}
	r = journal_apply(mb, jfd, &h, &cutting);
	err = errno;
	close(jfd);
	if (r == -1) {
		/* Committed: the next lock of the mbox finishes it. */
		mbox_file_name(mb, cutting ? "cutting" : "journal", name,
		    sizeof(name));
		journal_log("mbox-journal-pending", name, "rewrite cut short:"
		    " the removal completes at the next lock", err);
		errno = err;
		return 1;
	}
	return 0;
}

/*
 * The mbox index: what it gives is what a full parse gives, whole or as
 * a prefix after appends; and it gives nothing for a file that is
 * damaged, truncated, foreign, of another format, or for an mbox that
 * was replaced, shrunk, rewritten in place or grown other than by an
 * append.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "le64.h"
#include "mbox_cache.h"
#include "mbox_parse.h"

#include "mbox_list.h"

static char	dir[128], mbox[192], cache[192];
static int	dirfd_;

static void
get(void *arg, size_t i, struct mbox_found *f)
{
	*f = ((const struct list *)arg)->v[i];
}

static char *
slurp(const char *path, size_t *n)
{
	struct stat	 st;
	char		*b;
	int		 fd = open(path, O_RDONLY);

	if (fd == -1 || fstat(fd, &st) == -1 ||
	    (b = malloc(st.st_size + 1)) == NULL ||
	    read(fd, b, st.st_size) != st.st_size)
		abort();
	close(fd);
	*n = st.st_size;
	return b;
}

static void
spew(const char *path, const char *s, int flags)
{
	int	fd = open(path, O_WRONLY | O_CREAT | flags, 0600);

	if (fd == -1 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
	close(fd);
}

/* The mbox parsed whole. */
static struct list
full(void)
{
	struct list	 l;
	size_t		 n;
	char		*s = slurp(mbox, &n);

	if (list_parse(s, n, 4096, &l) != 0)
		abort();
	free(s);
	return l;
}

/* Parsed whole and its index written. */
static void
save(void)
{
	struct list	 l = full();
	struct stat	 st;
	int		 fd = open(mbox, O_RDONLY);

	if (fd == -1 || fstat(fd, &st) == -1 ||
	    mbox_cache_save(dirfd_, MBOX_CACHE_FILE, fd, &st, get, &l,
	    l.n) == -1)
		abort();
	close(fd);
	list_free(&l);
}

/*
 * As a session would: what the index gives, the rest parsed; *how says
 * which answer the load gave.  Equal to full() or not: the result.
 */
static int
served_same(int *how)
{
	struct list	 l = { NULL, 0 }, want = full();
	struct stat	 st;
	uint64_t	 resume;
	size_t		 n;
	char		*s = slurp(mbox, &n);
	int		 fd = open(mbox, O_RDONLY), same;

	if (fd == -1 || fstat(fd, &st) == -1)
		abort();
	*how = mbox_cache_load(dirfd_, MBOX_CACHE_FILE, fd, &st, list_add, &l,
	    &resume);
	close(fd);
	if (*how == MBOX_CACHE_NONE) {
		resume = 0;
		list_free(&l);	/* what fn got of a bad file is dropped */
	}
	if (*how != MBOX_CACHE_WHOLE &&
	    list_parse_from(s, n, resume, 4096, &l) != 0)
		abort();
	same = list_same(&l, &want);
	list_free(&l);
	list_free(&want);
	free(s);
	return same;
}

static int
how_now(void)
{
	int	how;

	return served_same(&how) ? how : -9;
}

#define M1	"From a@b Thu Dec  3 08:00:00 2026\nSubject: one\n\nbody 1\n\n"
#define M2	"From c@d Thu Dec  3 08:01:00 2026\nX-UIDL: u2\n\nbody 2\n\n"
#define M3	"From e@f Thu Dec  3 08:02:00 2026\nReceived: by h\n" \
		"Subject: three\n\nb3\n\n"	/* popa3d's UIDL, 16 digits */

static void
test_round_trip(void)
{
	struct list	l;

	spew(mbox, M1 M2, O_TRUNC);
	CHECK(how_now() == MBOX_CACHE_NONE);
	save();
	CHECK(how_now() == MBOX_CACHE_WHOLE);
	spew(mbox, M3, O_APPEND);
	CHECK(how_now() == MBOX_CACHE_PREFIX);
	save();
	CHECK(how_now() == MBOX_CACHE_WHOLE);
	l = full();	/* the three UIDL forms, all through the index */
	CHECK(l.n == 3 && l.v[0].uidl_len == 32 && l.v[1].uidl_header &&
	    l.v[2].uidl_len == 16);
	list_free(&l);
	/* An empty mbox, then mail. */
	spew(mbox, "", O_TRUNC);
	save();
	CHECK(how_now() == MBOX_CACHE_WHOLE);
	spew(mbox, M1, O_APPEND);
	CHECK(how_now() == MBOX_CACHE_NONE);
	/* No empty line at the end: "From " appended is not a boundary. */
	spew(mbox, "From a\nS: 1\n\nbody\n", O_TRUNC);
	save();
	spew(mbox, M2, O_APPEND);
	CHECK(how_now() == MBOX_CACHE_NONE);
	/* CRLF stored, with a CRLF empty line at the end. */
	spew(mbox, "From a\r\nS: 1\r\n\r\nbody\r\n\r\n", O_TRUNC);
	save();
	spew(mbox, M2, O_APPEND);
	CHECK(how_now() == MBOX_CACHE_PREFIX);
	/* Appended octets that are no From_ line. */
	spew(mbox, M1, O_TRUNC);
	save();
	spew(mbox, "Frim x\n\n", O_APPEND);
	CHECK(how_now() == MBOX_CACHE_NONE);
}

/* The index written for M1 M2, then the mbox changed by change. */
static int
after(void (*change)(void))
{
	spew(mbox, M1 M2, O_TRUNC);
	save();
	usleep(20000);		/* past the file system's time stamp tick */
	change();
	return how_now();
}

static void
replaced(void)
{
	char	tmp[256];

	snprintf(tmp, sizeof(tmp), "%s.new", mbox);
	spew(tmp, M1 M2, O_TRUNC);
	if (rename(tmp, mbox) == -1)
		abort();
}

static void
shrunk(void)
{
	if (truncate(mbox, strlen(M1 M2) - 1) == -1)
		abort();
}

static void
rewritten(void)
{
	spew(mbox, M1 "From c@d Thu Dec  3 08:01:00 2026\nX-UIDL: u3\n\n"
	    "body 2\n\n", O_TRUNC);
}

static void
tail_changed(void)
{
	spew(mbox, M1 M2, O_TRUNC);
	spew(mbox, M3, O_APPEND);
	{
		int	fd = open(mbox, O_WRONLY);

		if (fd == -1 || pwrite(fd, "B", 1, strlen(M1 M2) - 4) != 1)
			abort();
		close(fd);
	}
}

/* The last message's From_ line, before the recorded tail octets. */
static void
from_changed(void)
{
	int	fd = open(mbox, O_WRONLY);

	if (fd == -1 || pwrite(fd, "x", 1, strlen(M1) + 6) != 1)
		abort();
	close(fd);
	spew(mbox, M3, O_APPEND);
}

#define LONG	"From c@d Thu Dec  3 08:01:00 2026\nS: 2\n\n" \
		"a body line longer than the tail the index keeps, which is " \
		"sixty-four octets\n\n"

static void
test_mbox_changed(void)
{
	CHECK(after(replaced) == MBOX_CACHE_NONE);
	CHECK(after(shrunk) == MBOX_CACHE_NONE);
	CHECK(after(rewritten) == MBOX_CACHE_NONE);
	CHECK(after(tail_changed) == MBOX_CACHE_NONE);
	spew(mbox, M1 LONG, O_TRUNC);
	save();
	spew(mbox, M3, O_APPEND);
	CHECK(how_now() == MBOX_CACHE_PREFIX);
	spew(mbox, M1 LONG, O_TRUNC);
	save();
	from_changed();
	CHECK(how_now() == MBOX_CACHE_NONE);
}


/* The index file with octet off set to v (checksum put right: fix). */
static int
forged(size_t off, int v, int fix)
{
	size_t	 n;
	char	*b = slurp(cache, &n);
	int	 fd;

	spew(mbox, M1 M2, O_TRUNC);
	save();
	free(b);
	b = slurp(cache, &n);
	if (off < n)
		b[off] = (char)v;
	if (fix)
		le64_put(b + n - 8, mbox_cache_sum(b, n - 8));
	fd = open(cache, O_WRONLY | O_TRUNC);
	if (fd == -1 || write(fd, b, n) != (ssize_t)n)
		abort();
	close(fd);
	free(b);
	return how_now();
}

/* forged(), with what the load logged on stderr kept in *logged. */
static int
forged_logged(size_t off, int v, int *logged)
{
	char	 tmpl[] = "/tmp/t_mbox_cache.log.XXXXXX", got[256];
	int	 fd = mkstemp(tmpl), saved = dup(STDERR_FILENO), how;
	ssize_t	 n;

	if (fd == -1 || saved == -1 || dup2(fd, STDERR_FILENO) == -1)
		abort();
	how = forged(off, v, 1);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, got, sizeof(got) - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	*logged = strstr(got, "cache-damaged") != NULL;
	close(fd);
	unlink(tmpl);
	return how;
}

/*
 * An index an older parser wrote (after an upgrade) is stale: not used,
 * written anew, and not logged as damaged; one from a version not yet
 * known is damaged.
 */
static void
test_older_version(void)
{
	int	logged = -1;

	spew(mbox, M1 M2, O_TRUNC);
	save();
	CHECK(forged_logged(16, MBOX_PARSE_VERSION - 1, &logged) ==
	    MBOX_CACHE_NONE && logged == 0);
	save();
	CHECK(how_now() == MBOX_CACHE_WHOLE);
	CHECK(forged_logged(16, MBOX_PARSE_VERSION + 1, &logged) ==
	    MBOX_CACHE_NONE && logged == 1);
}

static void
test_damaged(void)
{
	struct stat	 st;
	size_t		 n, rec2;
	char		*b;

	CHECK(forged(SIZE_MAX, 0, 1) == MBOX_CACHE_WHOLE);	/* none */
	CHECK(forged(200, 'x', 0) == MBOX_CACHE_NONE);	/* checksum */
	CHECK(forged(0, 'q', 1) == MBOX_CACHE_NONE);	/* magic */
	CHECK(forged(16, 9, 1) == MBOX_CACHE_NONE);	/* parser version */
	CHECK(forged(16, 1, 1) == MBOX_CACHE_NONE);	/* before popa3d's UIDLs */
	CHECK(forged(24, 1, 1) == MBOX_CACHE_NONE);	/* another user */
	CHECK(forged(56, 0, 1) == MBOX_CACHE_NONE);	/* size */
	CHECK(forged(152 + 16, 0x7f, 1) == MBOX_CACHE_NONE);	/* len */
	rec2 = 152 + 42 + 32;
	CHECK(forged(rec2 + 41, 2, 1) == MBOX_CACHE_NONE);	/* internal */
	CHECK(forged(rec2 + 42, ' ', 1) == MBOX_CACHE_NONE);	/* UIDL */
	CHECK(forged(rec2, 3, 1) == MBOX_CACHE_NONE);	/* from_off */
	CHECK(forged(rec2 + 24, 1, 1) == MBOX_CACHE_NONE);	/* wire < len */
	b = slurp(cache, &n);
	CHECK(truncate(cache, n - 1) == 0 && how_now() == MBOX_CACHE_NONE);
	CHECK(truncate(cache, 100) == 0 && how_now() == MBOX_CACHE_NONE);
	free(b);
	/* Not the user's, not a regular file. */
	save();
	if (geteuid() == 0) {
		CHECK(chown(cache, 12345, 12345) == 0 &&
		    how_now() == MBOX_CACHE_NONE);
	}
	CHECK(unlink(cache) == 0 && symlink(mbox, cache) == 0 &&
	    how_now() == MBOX_CACHE_NONE);
	CHECK(lstat(cache, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(unlink(cache) == 0 && mkdir(cache, 0700) == 0 &&
	    how_now() == MBOX_CACHE_NONE && rmdir(cache) == 0);
	/* Too many messages for an index: none written. */
	{
		struct stat	 mst;
		int		 fd = open(mbox, O_RDONLY);

		CHECK(fd != -1 && fstat(fd, &mst) == 0 &&
		    mbox_cache_save(dirfd_, MBOX_CACHE_FILE, fd, &mst, get,
		    NULL, MBOX_CACHE_MAX_RECORDS + 1) == -1 && errno == EFBIG);
		close(fd);
	}
}

/* A callback's stop is the load's -1. */
static int
refuse(void *arg, const struct mbox_found *f)
{
	(void)arg;
	(void)f;
	errno = ENOMEM;
	return -1;
}

static void
test_stop(void)
{
	struct stat	 st;
	uint64_t	 resume;
	int		 fd;

	spew(mbox, M1 M2, O_TRUNC);
	save();
	fd = open(mbox, O_RDONLY);
	CHECK(fd != -1 && fstat(fd, &st) == 0 &&
	    mbox_cache_load(dirfd_, MBOX_CACHE_FILE, fd, &st, refuse, NULL,
	    &resume) == -1 && errno == ENOMEM);
	close(fd);
}

/* Deliveries and sessions in turn: every session serves a full parse. */
static void
test_appends(void)
{
	char	 m[256];
	int	 round, i, how, bad = 0, prefix = 0;

	spew(mbox, "", O_TRUNC);
	srandom(7);
	for (round = 0; round < 200; round++) {
		for (i = random() % 3; i > 0; i--) {
			snprintf(m, sizeof(m), "From r%d Thu\n%sSubject: %d\n"
			    "\n%s%s", round, random() % 2 ? "X-UIDL: x\n" : "",
			    i, random() % 2 ? "From in body\n" : "text\n",
			    random() % 5 ? "\n" : "");
			spew(mbox, m, O_APPEND);
		}
		if (!served_same(&how))
			bad++;
		prefix += how == MBOX_CACHE_PREFIX;
		if (random() % 4)
			save();
	}
	CHECK(bad == 0);
	CHECK(prefix > 20);
}

/* An index larger than the loader's buffer: read in pieces, the same. */
static void
test_big(void)
{
	char	 m[128];
	int	 i, fd;

	fd = open(mbox, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (i = 0; i < 3000; i++) {
		snprintf(m, sizeof(m), "From big%d Thu\nSubject: %d\n%s\nb\n\n",
		    i, i, i % 3 ? "X-UIDL: same\n" : "");
		if (fd == -1 || write(fd, m, strlen(m)) != (ssize_t)strlen(m))
			abort();
	}
	close(fd);
	save();
	CHECK(how_now() == MBOX_CACHE_WHOLE);
	spew(mbox, M1, O_APPEND);
	CHECK(how_now() == MBOX_CACHE_PREFIX);
}

int
main(void)
{
	char	cmd[256];

	if (check_tmpdir(dir, sizeof(dir), "t_mbox_cache") == NULL ||
	    (dirfd_ = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	snprintf(mbox, sizeof(mbox), "%s/mbox", dir);
	snprintf(cache, sizeof(cache), "%s/%s", dir, MBOX_CACHE_FILE);
	test_round_trip();
	test_mbox_changed();
	test_damaged();
	test_older_version();
	test_stop();
	test_appends();
	test_big();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
	return check_done();
}

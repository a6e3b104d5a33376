/*
 * The maildrop cache's size hints never serve a damaged record: every
 * octet of a written pop3d-scan.cache is changed in turn by a small amount
 * (+-1..3, as a bit error or a torn write would), and every session that
 * follows must give every message its true wire size, reading the message
 * when the record for it is damaged.  Then the hint lookup alone: a record
 * serves only a file of its unique name, inode, size and mtime.  Then the
 * cache's writer (lib/atomic.c in the maildrop): two at once never share
 * a file, and none leaves one behind.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "atomic.h"
#include "maildir.h"
#include "scancache.h"
#include "sizes.h"

static char	root[64];

/* Names without ",W=", so that every size comes from the cache or a read. */
static const char *const names[] = {
	"1600000001.M1P1.a:2,S",
	"1600000002.M1P1.b:2,",
	"1600000003.M1P1.c:2,",
	"1600000004.M1P1.d:2,RS",
};
static const char *const bodies[] = {
	"A: b\n\nbody\n.\n",
	"A: b\r\n\r\nx\r\n",
	"Subject: lf\n\nline\nline\nline\n",
	"",
};
#define NMSG	(sizeof(names) / sizeof(names[0]))

static uint64_t	truth[NMSG];
static size_t	session_max = 100;	/* POP3D_MAX_MESSAGES */

static void
put(const char *path, const char *data, size_t len)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1 ||
	    (buf = malloc(st.st_size)) == NULL ||
	    read(fd, buf, st.st_size) != st.st_size)
		abort();
	close(fd);
	*len = st.st_size;
	return buf;
}

/*
 * One session's sizes: how many messages got a wrong size, or -1 when a
 * message is missing.  st says where the sizes came from.
 */
static int
session(struct sizes_stats *st)
{
	struct maildir	 md;
	struct scancache sc;
	size_t		 i, j;
	int		 wrong = 0;

	/* As pop3d-maildrop does it, with the cache. */
	if (maildir_open(&md, root, session_max) == -1)
		abort();
	scancache_begin(&md, &sc);
	if (scancache_load(&md, &sc, st) != 0)
		abort();	/* never a list: the directories are young */
	scancache_scanning(&md, &sc);
	if (maildir_scan(&md) == -1 || sizes_fill(&md, &sc.hints, st) == -1)
		abort();
	maildir_prune(&md);
	if (maildir_uidls(&md) == -1)
		abort();
	scancache_save(&md, &sc, st);
	if (md.count != (NMSG < session_max ? NMSG : session_max))
		wrong = -1;
	for (i = 0; wrong != -1 && i < md.count; i++)
		for (j = 0; j < NMSG; j++)
			if (strcmp(md.msgs[i].name, names[j]) == 0 &&
			    md.msgs[i].wire != truth[j])
				wrong++;
	maildir_close(&md);
	return wrong;
}

int
main(void)
{
	static const int	 deltas[] = { 1, -1, 2, -2, 3, -3 };
	struct sizes_stats	 st;
	struct msg		 recs[2], m;
	struct sizes_hints	 h;
	char			 path[512], cache[512], *img, *bad;
	size_t			 len, off, d, i, wrong = 0, missing = 0;
	size_t			 runs = 0, read_again = 0;
	int			 r, saved, null;

	if (check_tmpdir(root, sizeof(root), "t_sizes") == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/cur", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/new", root);
	mkdir(path, 0700);
	for (i = 0; i < NMSG; i++) {
		snprintf(path, sizeof(path), "%s/cur/%s", root, names[i]);
		put(path, bodies[i], strlen(bodies[i]));
	}
	/* The truth: sizes read from the messages, no cache yet. */
	{
		struct maildir	md;
		size_t		j;

		if (maildir_open(&md, root, 100) == -1 ||
		    maildir_scan(&md) == -1 ||
		    sizes_fill(&md, NULL, &st) == -1)
			abort();
		for (i = 0; i < md.count; i++)
			for (j = 0; j < NMSG; j++)
				if (strcmp(md.msgs[i].name, names[j]) == 0)
					truth[j] = md.msgs[i].wire;
		maildir_close(&md);
	}
	CHECK(st.computed == NMSG);
	CHECK(session(&st) == 0 && st.computed == NMSG);
	CHECK(session(&st) == 0 && st.from_cache == NMSG && st.computed == 0);
	CHECK(truth[1] == 11 && truth[3] == 0);

	/*
	 * A scan that finds more than the maximum starts md's arena anew:
	 * the hints (read before it) must not live there (run under ASan).
	 */
	session_max = 2;
	CHECK(session(&st) == 0 && st.from_cache == 2 && st.computed == 0);
	session_max = 100;
	CHECK(session(&st) == 0 && st.from_cache == 2 && st.computed == 2);
	CHECK(session(&st) == 0 && st.from_cache == NMSG);
	snprintf(cache, sizeof(cache), "%s/%s", root, SCANCACHE_FILE);
	img = slurp(cache, &len);
	bad = malloc(len);
	/* Each damage is logged: thousands of lines, of no use here. */
	saved = dup(2);
	if ((null = open("/dev/null", O_WRONLY)) == -1 || dup2(null, 2) == -1)
		abort();
	for (off = 0; off < len; off++)
		for (d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
			memcpy(bad, img, len);
			bad[off] = (char)((unsigned char)bad[off] + deltas[d]);
			put(cache, bad, len);
			r = session(&st);
			runs++;
			if (r == -1)
				missing++;
			else
				wrong += r;
			if (st.computed > 0)
				read_again++;
		}
	dup2(saved, 2);
	close(saved);
	close(null);
	printf("# %zu damaged caches (%zu octets x %zu changes): %zu wrong"
	    " sizes, %zu missing, %zu read the messages again\n", runs, len,
	    sizeof(deltas) / sizeof(deltas[0]), wrong, missing, read_again);
	CHECK(runs == len * 6);
	CHECK(wrong == 0);
	CHECK(missing == 0);
	CHECK(read_again > 0);

	/* A hint serves only the file it was made for. */
	memset(recs, 0, sizeof(recs));
	recs[0].name = "1600000001.M1P1.a:2,S";
	recs[0].uniq_len = 17;
	recs[0].st_ino = 7;
	recs[0].disk = 12;
	recs[0].wire = 14;
	recs[0].mtime_ns = 1700000000123456789LL;
	recs[0].size_from = SIZE_READ;
	recs[1] = recs[0];
	recs[1].name = "1600000002.M1P1.b,W=14";
	recs[1].uniq_len = 22;
	recs[1].size_from = SIZE_NAME;
	h.recs = malloc(sizeof(recs));
	memcpy(h.recs, recs, sizeof(recs));
	h.count = 2;
	CHECK(sizes_hints_index(&h) == 0);
	m = recs[0];
	m.name = "1600000001.M1P1.a:2,RS";	/* flags do not matter */
	CHECK(sizes_hint_find(&h, &m) != NULL &&
	    sizes_hint_find(&h, &m)->wire == 14);
	m.st_ino = 8;
	CHECK(sizes_hint_find(&h, &m) == NULL);
	m = recs[0];
	m.disk = 13;
	CHECK(sizes_hint_find(&h, &m) == NULL);
	m = recs[0];
	m.mtime_ns++;
	CHECK(sizes_hint_find(&h, &m) == NULL);
	m = recs[0];
	m.name = "1600000001.M1P1.b:2,S";
	CHECK(sizes_hint_find(&h, &m) == NULL);
	m.name = "1600000001.M1P1.ab";
	m.uniq_len = 18;
	CHECK(sizes_hint_find(&h, &m) == NULL);
	/* A size from a name is no measured size to hand out. */
	CHECK(sizes_hint_find(&h, &recs[1]) == NULL);
	CHECK(sizes_hint_find(NULL, &recs[0]) == NULL);
	sizes_hints_free(&h);
	CHECK(sizes_hint_find(&h, &recs[0]) == NULL);
	/*
	 * Many records of one inode (a file made by hand): each lookup
	 * probes a bounded number of slots; the records beyond are left out.
	 */
	{
		static char	names_many[100000][24];
		size_t		k, found = 0;

		h.count = 100000;
		if ((h.recs = calloc(h.count, sizeof(*h.recs))) == NULL)
			abort();
		for (k = 0; k < h.count; k++) {
			snprintf(names_many[k], sizeof(names_many[k]), "%zu.x",
			    k);
			h.recs[k] = recs[0];
			h.recs[k].name = names_many[k];
			h.recs[k].uniq_len = strlen(names_many[k]);
		}
		CHECK(sizes_hints_index(&h) == 0);
		for (k = 0; k < h.count; k++)
			found += sizes_hint_find(&h, &h.recs[k]) != NULL;
		CHECK(found >= 1 && found <= 64);
		CHECK(sizes_hint_find(&h, &h.recs[0]) == &h.recs[0]);
		sizes_hints_free(&h);
	}

	/* Two cache writers at once never share a file. */
	{
		struct maildir		md;
		struct atomic		t1, t2;
		struct stat		s1, s2;
		DIR			*dir;
		struct dirent		*e;
		size_t			left = 0;

		if (maildir_open(&md, root, 100) == -1)
			abort();
		CHECK(atomic_openat(&t1, md.fd, "t-one", ATOMIC_NOSYNC) == 0 &&
		    atomic_openat(&t2, md.fd, "t-two", 0) == 0);
		CHECK(fstat(t1.fd, &s1) == 0 && fstat(t2.fd, &s2) == 0 &&
		    s1.st_ino != s2.st_ino && (s1.st_mode & 07777) == 0600 &&
		    s1.st_uid == geteuid());
		CHECK(write(t1.fd, "one", 3) == 3 &&
		    write(t2.fd, "two", 3) == 3);
		CHECK(atomic_commit(&t1) == 0);
		CHECK(atomic_commit(&t2) == 0);
		snprintf(path, sizeof(path), "%s/t-one", root);
		free(img);
		img = slurp(path, &len);
		CHECK(len == 3 && memcmp(img, "one", 3) == 0);
		unlink(path);
		snprintf(path, sizeof(path), "%s/t-two", root);
		unlink(path);
		/* A name with a '/' is no name in the directory. */
		CHECK(atomic_openat(&t1, md.fd, "cur/x", 0) == -1);
		/* A discarded one leaves nothing behind either. */
		CHECK(atomic_openat(&t1, md.fd, "t-one", 0) == 0);
		atomic_abort(&t1);
		if ((dir = opendir(root)) == NULL)
			abort();
		while ((e = readdir(dir)) != NULL)
			if (strncmp(e->d_name, ".t-", 3) == 0 ||
			    strncmp(e->d_name, "t-", 2) == 0)
				left++;
		closedir(dir);
		CHECK(left == 0);
		maildir_close(&md);
	}

	free(img);
	free(bad);
	for (i = 0; i < NMSG; i++) {
		snprintf(path, sizeof(path), "%s/cur/%s", root, names[i]);
		unlink(path);
	}
	unlink(cache);
	snprintf(path, sizeof(path), "%s/pop3d.lock", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/cur", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/new", root);
	rmdir(path);
	rmdir(root);
	return check_done();
}

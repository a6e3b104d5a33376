/*
 * The size cache never serves a damaged record: every octet of a written
 * pop3d-sizes.cdb is changed in turn by a small amount (+-1..3, as a bit
 * error or a torn write would), and every session that follows must give
 * every message its true wire size, reading the message when the record
 * for it is damaged.  Then its record reader alone: a record is accepted
 * only as it was made.
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
#include "maildir.h"
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
	struct maildir	md;
	size_t		i, j;
	int		wrong = 0;

	if (maildir_open(&md, root, 100) == -1 || maildir_scan(&md) == -1 ||
	    sizes_fill(&md, st) == -1)
		abort();
	maildir_prune(&md);
	if (md.count != NMSG)
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
	struct sizes_record	 rec, back;
	unsigned char		 key[SIZES_KEY_MAX], v[SIZES_VALUE];
	char			 path[512], cache[512], *img, *bad;
	size_t			 len, off, d, i, wrong = 0, missing = 0;
	size_t			 runs = 0, read_again = 0, accepted;
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
		    maildir_scan(&md) == -1 || sizes_fill(&md, &st) == -1)
			abort();
		for (i = 0; i < md.count; i++)
			for (j = 0; j < NMSG; j++)
				if (strcmp(md.msgs[i].name, names[j]) == 0)
					truth[j] = md.msgs[i].wire;
		maildir_close(&md);
	}
	CHECK(st.computed == NMSG);
	CHECK(session(&st) == 0 && st.from_cache == NMSG);
	CHECK(truth[1] == 11 && truth[3] == 0);

	snprintf(cache, sizeof(cache), "%s/%s", root, SIZES_FILE);
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

	/* A record reads back as made... */
	memcpy(key, "1600000001.M1P1.a", 17);
	memset(key + 17, 7, 8);
	rec.disk = 12;
	rec.wire = 14;
	rec.mtime_ns = 1700000000123456789LL;
	sizes_record_make(key, 25, &rec, v);
	CHECK(sizes_record_parse(key, 25, v, sizeof(v), &back) == 1 &&
	    back.disk == 12 && back.wire == 14 &&
	    back.mtime_ns == 1700000000123456789LL);
	/* ...and not with any octet of its key or value changed a little. */
	accepted = 0;
	for (off = 0; off < 25 + SIZES_VALUE; off++)
		for (d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
			unsigned char	k2[SIZES_KEY_MAX], v2[SIZES_VALUE];
			unsigned char	*p;

			memcpy(k2, key, 25);
			memcpy(v2, v, SIZES_VALUE);
			p = off < 25 ? &k2[off] : &v2[off - 25];
			*p = (unsigned char)(*p + deltas[d]);
			accepted += sizes_record_parse(k2, 25, v2, SIZES_VALUE,
			    &back);
		}
	CHECK(accepted == 0);
	CHECK(sizes_record_parse(key, 25, v, SIZES_VALUE - 1, &back) == 0);
	/* A size no message can have is refused even when checksummed. */
	rec.wire = 2 * rec.disk + 3;
	sizes_record_make(key, 25, &rec, v);
	CHECK(sizes_record_parse(key, 25, v, SIZES_VALUE, &back) == 0);

	/* Two cache writers at once never share a file. */
	{
		struct maildir		md;
		struct maildir_tmp	t1, t2;
		struct stat		s1, s2;
		DIR			*dir;
		struct dirent		*e;
		size_t			left = 0;

		if (maildir_open(&md, root, 100) == -1)
			abort();
		CHECK(maildir_tmp_open(&md, &t1) != -1 &&
		    maildir_tmp_open(&md, &t2) != -1);
		CHECK(fstat(t1.fd, &s1) == 0 && fstat(t2.fd, &s2) == 0 &&
		    s1.st_ino != s2.st_ino);
		CHECK(write(t1.fd, "one", 3) == 3 &&
		    write(t2.fd, "two", 3) == 3);
		CHECK(maildir_tmp_install(&md, &t1, "t-one") == 0);
		CHECK(maildir_tmp_install(&md, &t2, "t-two") == 0);
		snprintf(path, sizeof(path), "%s/t-one", root);
		free(img);
		img = slurp(path, &len);
		CHECK(len == 3 && memcmp(img, "one", 3) == 0);
		unlink(path);
		snprintf(path, sizeof(path), "%s/t-two", root);
		unlink(path);
		/* A discarded one leaves nothing behind either. */
		CHECK(maildir_tmp_open(&md, &t1) != -1);
		maildir_tmp_discard(&md, &t1);
		if ((dir = opendir(root)) == NULL)
			abort();
		while ((e = readdir(dir)) != NULL)
			if (strncmp(e->d_name, MAILDIR_TMP_PREFIX,
			    strlen(MAILDIR_TMP_PREFIX)) == 0)
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

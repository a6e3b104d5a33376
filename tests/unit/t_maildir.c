/*
 * Following a message through renames by another program: the unique-name
 * match, maildir_locate, maildir_stat_msg, maildir_open_msg and
 * maildir_remove on real directories made here, and a scan that meets
 * one file under two names.  The races themselves are driven by
 * tests/e2e/test_renames.py.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "expire.h"
#include "maildir.h"

static char	root[] = "/tmp/t_maildir.XXXXXX";

static void
put(const char *dir, const char *name)
{
	char	path[512];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, "A: b\n\nbody\n", 11) != 11)
		abort();
	close(fd);
}

static void
mv(const char *from, const char *to)
{
	char	a[512], b[512];

	snprintf(a, sizeof(a), "%s/%s", root, from);
	snprintf(b, sizeof(b), "%s/%s", root, to);
	if (rename(a, b) == -1)
		abort();
}

static int
exists(const char *name)
{
	char	path[512];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	return access(path, F_OK) == 0;
}

static struct msg *
find(struct maildir *md, const char *prefix)
{
	size_t	i;

	for (i = 0; i < md->count; i++)
		if (strncmp(md->msgs[i].name, prefix, strlen(prefix)) == 0)
			return &md->msgs[i];
	return NULL;
}

/* Scans and stats as a session does: every message's identity known. */
static void
session(struct maildir *md)
{
	struct stat	st;
	size_t		i;

	if (maildir_open(md, root, 100) == -1 || maildir_scan(md) == -1)
		abort();
	for (i = 0; i < md->count; i++) {
		if (maildir_stat_msg(md, &md->msgs[i], &st) == -1)
			abort();
		md->msgs[i].st_ino = st.st_ino;
		md->msgs[i].disk = st.st_size;
		md->msgs[i].mtime_ns = maildir_mtime_ns(&st);
		md->msgs[i].size_from = SIZE_READ;
	}
}

int
main(void)
{
	struct maildir	 md;
	struct msg	*m;
	struct stat	 st;
	char		 path[512], other[512];
	size_t		 n, j;
	int		 fd, i, ok;

	/* The unique part: up to the ':', whatever the flags. */
	CHECK(maildir_uniq_len("1.M2P3.h:2,S") == 8);
	CHECK(maildir_uniq_len("1.M2P3.h") == 8);
	CHECK(maildir_uniq_len(":2,") == 0);
	CHECK(maildir_uniq_is("1.M2P3.h:2,S", "1.M2P3.h", 8));
	CHECK(maildir_uniq_is("1.M2P3.h:2,", "1.M2P3.h", 8));
	CHECK(maildir_uniq_is("1.M2P3.h", "1.M2P3.h", 8));
	CHECK(maildir_uniq_is("1.M2P3.h:2,RS", "1.M2P3.h:2,S", 8));
	/* A longer or shorter unique part is another message. */
	CHECK(!maildir_uniq_is("1.M2P3.hx:2,S", "1.M2P3.h", 8));
	CHECK(!maildir_uniq_is("1.M2P3.h", "1.M2P3.hx", 9));
	CHECK(!maildir_uniq_is("1.M2P3.", "1.M2P3.h", 8));
	CHECK(!maildir_uniq_is("2.M2P3.h:2,S", "1.M2P3.h", 8));
	CHECK(!maildir_uniq_is("", "1", 1));

	if (mkdtemp(root) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/cur", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/new", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tmp", root);
	mkdir(path, 0700);
	put("cur", "1000.M1P1.h:2,S");
	put("cur", "1001.M1P1.h:2,");
	put("new", "1002.M1P1.h");
	/* One file under two names (a hard link): one message. */
	put("cur", "1003.M1P1.h:2,");
	snprintf(path, sizeof(path), "%s/cur/1003.M1P1.h:2,", root);
	snprintf(other, sizeof(other), "%s/cur/1003.M1P1.h:2,T", root);
	CHECK(link(path, other) == 0);

	session(&md);
	CHECK(md.count == 4);
	m = find(&md, "1002.");
	CHECK(m != NULL && m->dir == MD_CUR &&
	    strcmp(m->name, "1002.M1P1.h:2,") == 0);

	/* Flags changed: found again by unique name and inode. */
	mv("cur/1000.M1P1.h:2,S", "cur/1000.M1P1.h:2,RS");
	m = find(&md, "1000.");
	CHECK(maildir_stat_msg(&md, m, &st) == 0 &&
	    strcmp(m->name, "1000.M1P1.h:2,RS") == 0);
	mv("cur/1000.M1P1.h:2,RS", "cur/1000.M1P1.h:2,FRS");
	fd = maildir_open_msg(&md, m);
	CHECK(fd != -1 && strcmp(m->name, "1000.M1P1.h:2,FRS") == 0);
	if (fd != -1)
		close(fd);
	/* Moved back to new/ even: still found. */
	mv("cur/1000.M1P1.h:2,FRS", "new/1000.M1P1.h");
	CHECK(maildir_locate(&md, m) == 0 && m->dir == MD_NEW &&
	    strcmp(m->name, "1000.M1P1.h") == 0);
	/* One read renames every message found moved. */
	mv("cur/1001.M1P1.h:2,", "cur/1001.M1P1.h:2,S");
	mv("cur/1002.M1P1.h:2,", "cur/1002.M1P1.h:2,S");
	CHECK(maildir_locate(&md, find(&md, "1001.")) == 0);
	CHECK(strcmp(find(&md, "1002.")->name, "1002.M1P1.h:2,S") == 0);

	/* A namesake (same unique name, other inode) is not the message. */
	mv("cur/1001.M1P1.h:2,S", "tmp/1001.M1P1.h");
	put("cur", "1001.M1P1.h:2,S");
	m = find(&md, "1001.");
	errno = 0;
	CHECK(maildir_locate(&md, m) == -1 && errno == ENOENT);
	CHECK(maildir_open_msg(&md, m) == -1 && errno == ENOENT);
	/*
	 * Removing the message leaves the namesake; the message, found
	 * nowhere in new/ or cur/, is out of the maildrop: removed.
	 */
	CHECK(maildir_remove(&md, m) == 0);
	CHECK(exists("cur/1001.M1P1.h:2,S"));

	/* Renamed since the scan: the file itself goes. */
	m = find(&md, "1002.");
	mv("cur/1002.M1P1.h:2,S", "cur/1002.M1P1.h:2,RS");
	CHECK(maildir_remove(&md, m) == 0);
	CHECK(!exists("cur/1002.M1P1.h:2,RS"));
	/* Removed by another program: gone counts as removed. */
	m = find(&md, "1000.");
	snprintf(path, sizeof(path), "%s/new/1000.M1P1.h", root);
	CHECK(unlink(path) == 0);
	CHECK(maildir_remove(&md, m) == 0);
	/* Both names of the hard-linked message go. */
	CHECK(maildir_remove(&md, find(&md, "1003.")) == 0);
	CHECK(!exists("cur/1003.M1P1.h:2,") && !exists("cur/1003.M1P1.h:2,T"));
	maildir_close(&md);

	/* A message also linked outside new/ and cur/ is not gone. */
	put("cur", "1004.M1P1.h:2,");
	session(&md);
	snprintf(path, sizeof(path), "%s/cur/1004.M1P1.h:2,", root);
	snprintf(other, sizeof(other), "%s/tmp/elsewhere", root);
	CHECK(link(path, other) == 0);
	errno = 0;
	CHECK(maildir_remove(&md, find(&md, "1004.")) == -1 && errno == EAGAIN);
	maildir_close(&md);

	/*
	 * Many messages removed by another program: the first one looked
	 * for costs MAILDIR_LOCATE_PASSES reads, which missed all the
	 * others too; they count as gone without another read.
	 */
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%d.M1P1.gone:2,", 2000 + i);
		put("cur", path);
	}
	session(&md);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "%s/cur/%d.M1P1.gone:2,", root,
		    2000 + i);
		if (unlink(path) == -1)
			abort();
	}
	CHECK(maildir_remove(&md, find(&md, "2000.")) == 0);
	ok = 1;
	for (j = 0; j < md.count; j++) {
		m = &md.msgs[j];
		if (strstr(m->name, ".gone:") != NULL)
			ok &= m->unseen == MAILDIR_LOCATE_PASSES;
		else
			ok &= m->unseen == 0;
	}
	CHECK(ok);
	for (i = 1; i < 20; i++) {
		snprintf(path, sizeof(path), "%d.", 2000 + i);
		m = find(&md, path);
		ok &= m != NULL && maildir_remove(&md, m) == 0 &&
		    m->unseen == MAILDIR_LOCATE_PASSES;
	}
	CHECK(ok);
	maildir_close(&md);

	/*
	 * Exactly as many messages as the maximum: not truncated, though
	 * the second pass meets them all again.  One fewer: truncated.
	 */
	put("new", "1005.M1P1.h");
	put("cur", "1006.M1P1.h:2,");
	CHECK(maildir_open(&md, root, 100) == 0 && maildir_scan(&md) == 0);
	n = md.count;
	maildir_close(&md);
	CHECK(n == 3);
	CHECK(maildir_open(&md, root, n) == 0 && maildir_scan(&md) == 0);
	CHECK(md.count == n && !md.truncated);
	maildir_close(&md);
	CHECK(maildir_open(&md, root, n - 1) == 0 && maildir_scan(&md) == 0);
	CHECK(md.count == n - 1 && md.truncated);
	maildir_close(&md);

	/* EXPIRE's seen mark: S added in its sorted place, once. */
	{
		char	b[64];

		CHECK(expire_seen_name("1.M1P1.h", b, sizeof(b)) == 1 &&
		    strcmp(b, "1.M1P1.h:2,S") == 0);
		CHECK(expire_seen_name("1.M1P1.h:2,", b, sizeof(b)) == 1 &&
		    strcmp(b, "1.M1P1.h:2,S") == 0);
		CHECK(expire_seen_name("1.M1P1.h:2,FRT", b, sizeof(b)) == 1 &&
		    strcmp(b, "1.M1P1.h:2,FRST") == 0);
		CHECK(expire_seen_name("1.M1P1.h:2,a", b, sizeof(b)) == 1 &&
		    strcmp(b, "1.M1P1.h:2,Sa") == 0);
		CHECK(expire_seen_name("1.M1P1.h:2,RS", b, sizeof(b)) == 0);
		CHECK(expire_seen_name("1.M1P1.h:1,x", b, sizeof(b)) == -1);
		CHECK(expire_seen_name("1.M1P1.h:2,", b, 12) == -1);
		CHECK(expire_seen_name("1.M1P1.h:2,", b, 13) == 1);
	}

	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		return 1;
	return check_done();
}

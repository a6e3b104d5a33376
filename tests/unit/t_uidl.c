/*
 * UIDL mapping and the Maildir name parsing behind it, on real directories
 * made here: plain names, names that need the digest form, duplicates.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "maildir.h"
#include "strhash.h"

static char	root[] = "/tmp/t_uidl.XXXXXX";

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

static const struct msg *
find(const struct maildir *md, const char *prefix)
{
	size_t	i;

	for (i = 0; i < md->count; i++)
		if (strncmp(md->msgs[i].name, prefix, strlen(prefix)) == 0)
			return &md->msgs[i];
	return NULL;
}

static int
uidl_is(const struct msg *m, const char *want)
{
	return m != NULL && m->uidl_len == strlen(want) &&
	    memcmp(m->uidl, want, m->uidl_len) == 0;
}

/*
 * The tables' hash (strhash.c): the same string the same hash; one octet
 * changed anywhere, or a zero octet more, in lengths across its
 * eight-octet steps, another (a clash there would be a fault, not luck).
 */
static void
test_strhash(void)
{
	char		 s[40];
	uint64_t	 h;
	size_t		 len, at;
	int		 same = 1, differs = 1;

	memset(s, 'u', sizeof(s));
	for (len = 0; len < sizeof(s); len++) {
		h = strhash(s, len);
		same &= strhash(s, len) == h;
		for (at = 0; at < len; at++) {
			s[at] ^= 1;
			differs &= strhash(s, len) != h;
			s[at] ^= 1;
		}
		s[len] = '\0';
		differs &= strhash(s, len + 1) != h;
		s[len] = 'u';
	}
	CHECK(same);
	CHECK(differs);
}

int
main(void)
{
	struct maildir	 md;
	const struct msg *m, *a, *b;
	char		 path[512], digest[33], seventy[80], seventyone[80];
	uint64_t	 v;
	size_t		 i, j;
	int		 unique;

	/* ,S= and ,W= in unique names. */
	CHECK(maildir_name_size("1.M2.h,S=1234,W=1260", 20, 'S', &v) &&
	    v == 1234);
	CHECK(maildir_name_size("1.M2.h,S=1234,W=1260", 20, 'W', &v) &&
	    v == 1260);
	CHECK(!maildir_name_size("1.M2.h,S=12x4", 13, 'S', &v));
	CHECK(!maildir_name_size("1.M2.h", 6, 'S', &v));
	CHECK(!maildir_name_size("1.M2.h,S=99999999999999999999999", 32, 'S',
	    &v));

	/* Plain UIDLs: 1 to 70 octets of 0x21-0x7E. */
	memset(seventy, 'u', 70);
	seventy[70] = '\0';
	memset(seventyone, 'u', 71);
	seventyone[71] = '\0';
	CHECK(maildir_uidl_plain(seventy, 70));
	CHECK(!maildir_uidl_plain(seventyone, 71));
	CHECK(!maildir_uidl_plain("", 0));
	CHECK(!maildir_uidl_plain("a b", 3));
	CHECK(!maildir_uidl_plain("caf\xc3\xa9", 5));
	/* Every octet value at every place of every length, against the rule. */
	{
		char	u[24];
		size_t	len, at;
		int	octet, all = 1;

		for (len = 1; len <= sizeof(u); len++)
			for (at = 0; at < len; at++)
				for (octet = 0; octet < 256; octet++) {
					memset(u, 'a' + (int)(len % 26), len);
					u[at] = (char)octet;
					all &= maildir_uidl_plain(u, len) ==
					    (octet >= 0x21 && octet <= 0x7e);
				}
		CHECK(all);
	}
	CHECK(!maildir_uidl_plain("del\x7f", 4));
	/* The digest form: stable, 32 hex digits, so itself plain. */
	maildir_uidl_digest("a b", 3, digest);
	CHECK(strlen(digest) == 32 && maildir_uidl_plain(digest, 32));
	/*
	 * A client keeps the UIDLs it has seen: the form is the first half of
	 * the SHA-256 in lower-case hex, whichever library computes it.
	 */
	CHECK_STR(digest, "c8687a08aa5d6ed2044328fa6a697ab8");
	{
		char again[33];

		maildir_uidl_digest("a b", 3, again);
		CHECK_STR(digest, again);
		maildir_uidl_digest("a c", 3, again);
		CHECK(strcmp(digest, again) != 0);
	}

	if (mkdtemp(root) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/cur", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/new", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tmp", root);
	mkdir(path, 0700);
	put("cur", "1000.M1P1.host:2,S");
	put("cur", "1001.M1P1.host:2,");		/* duplicate unique name */
	put("new", "1001.M1P1.host");			/* ... and again */
	put("new", "1002.M5P1.host");
	put("cur", "1003.has space.host:2,");
	snprintf(path, sizeof(path), "1004.%s:2,", seventyone);
	put("cur", path);
	snprintf(path, sizeof(path), "1005.%.*s", 65, seventy);	/* 70 */
	put("new", path);
	put("cur", ".hidden");
	put("tmp", "1006.M1P1.host");

	CHECK(maildir_open(&md, root, 100) == 0);
	CHECK(maildir_scan(&md) == 0);
	for (i = 0; i < md.count; i++)
		md.msgs[i].size_from = SIZE_READ;
	maildir_prune(&md);
	CHECK(maildir_uidls(&md) == 0);
	CHECK(md.count == 7);		/* no dot-file, nothing from tmp/ */
	/* Oldest first. */
	CHECK(strncmp(md.msgs[0].name, "1000.", 5) == 0);
	CHECK(strncmp(md.msgs[6].name, "1005.", 5) == 0);
	/* new/ moved into cur/ with ":2,". */
	m = find(&md, "1002.M5P1.host");
	CHECK(m != NULL && m->dir == MD_CUR &&
	    strcmp(m->name, "1002.M5P1.host:2,") == 0);
	CHECK(uidl_is(m, "1002.M5P1.host"));
	CHECK(uidl_is(find(&md, "1000."), "1000.M1P1.host"));
	snprintf(path, sizeof(path), "1005.%.*s", 65, seventy);
	CHECK(uidl_is(find(&md, "1005."), path));
	/* Names that cannot be UIDLs get the digest of the unique part. */
	maildir_uidl_digest("1003.has space.host", 19, digest);
	CHECK(uidl_is(find(&md, "1003."), digest));
	m = find(&md, "1004.");
	CHECK(m != NULL && m->uidl_len == 32);
	/* The duplicate: the older file keeps the name, the other differs. */
	a = b = NULL;
	for (i = 0; i < md.count; i++)
		if (strncmp(md.msgs[i].name, "1001.", 5) == 0) {
			if (a == NULL)
				a = &md.msgs[i];
			else
				b = &md.msgs[i];
		}
	CHECK(a != NULL && b != NULL);
	CHECK(uidl_is(a, "1001.M1P1.host"));
	CHECK(b != NULL && b->uidl_len == 32);
	unique = 1;
	for (i = 0; i < md.count; i++)
		for (j = i + 1; j < md.count; j++)
			if (md.msgs[i].uidl_len == md.msgs[j].uidl_len &&
			    memcmp(md.msgs[i].uidl, md.msgs[j].uidl,
			    md.msgs[i].uidl_len) == 0)
				unique = 0;
	CHECK(unique);
	maildir_close(&md);

	/* The same maildrop scanned again gives the same UIDLs. */
	CHECK(maildir_open(&md, root, 100) == 0 && maildir_scan(&md) == 0);
	for (i = 0; i < md.count; i++)
		md.msgs[i].size_from = SIZE_READ;
	maildir_prune(&md);
	CHECK(maildir_uidls(&md) == 0);
	CHECK(uidl_is(find(&md, "1003."), digest));
	CHECK(uidl_is(find(&md, "1002."), "1002.M5P1.host"));
	maildir_close(&md);

	/* A message limit: only that many are listed, and it says so. */
	CHECK(maildir_open(&md, root, 3) == 0 && maildir_scan(&md) == 0);
	CHECK(md.count == 3 && md.truncated);
	maildir_close(&md);

	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		return 1;
	test_strhash();
	return check_done();
}

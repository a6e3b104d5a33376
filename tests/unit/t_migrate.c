/*
 * UIDLs carried over from Dovecot: the dovecot-uidlist and pop3d-uidl.map
 * parsers, pop3_uidl_format's expansion, and migrate_uidls on real
 * Maildirs made here (recorded, kept after the old file goes and after a
 * rename, clashes settled, hostile files survived).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "maildir.h"
#include "migrate.h"

static char	root[] = "/tmp/t_migrate.XXXXXX";

struct got {
	struct dovecot_head	h;
	struct dovecot_rec	r[8];
	int			n;
};

static int
collect(void *arg, const struct dovecot_head *h, const struct dovecot_rec *r)
{
	struct got	*g = arg;

	if (h != NULL)
		g->h = *h;
	if (g->n < 8)
		g->r[g->n++] = *r;
	return 0;
}

static int
text_is(const char *p, size_t n, const char *want)
{
	return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

static void
test_parse(void)
{
	static const char v3[] = "3 V1796213252 N4 G3085f01b7f11094c\n"
	    "1 G3085f01b7f11094c W1394 S1355 :1276528487.M3P9.kurkku,S=1355\n"
	    "2 P0000abcd :1276528488.M4P9.kurkku:2,S\n"
	    "x :bad\n"
	    "3 :\n"
	    "4 W12 :1276528489.M5P9.kurkku";		/* no LF: cut short */
	static const char v1[] = "1 1234 3\n1 1.M1.h:2,S\n2 2.M2.h\n";
	struct got	g;
	size_t		skipped = 0;

	memset(&g, 0, sizeof(g));
	CHECK(dovecot_uidlist_parse(v3, sizeof(v3) - 1, collect, &g,
	    &skipped) == 0);
	CHECK(g.n == 2 && skipped == 3);
	CHECK(g.h.version == 3 && g.h.uidvalidity == 1796213252);
	CHECK(g.r[0].uid == 1 && text_is(g.r[0].name, g.r[0].name_len,
	    "1276528487.M3P9.kurkku,S=1355"));
	CHECK(text_is(g.r[0].guid, g.r[0].guid_len, "3085f01b7f11094c"));
	CHECK(g.r[0].pop3 == NULL && g.r[1].guid == NULL);
	CHECK(text_is(g.r[1].pop3, g.r[1].pop3_len, "0000abcd"));
	CHECK(text_is(g.r[1].name, g.r[1].name_len, "1276528488.M4P9.kurkku"));

	memset(&g, 0, sizeof(g));
	skipped = 0;
	CHECK(dovecot_uidlist_parse(v1, sizeof(v1) - 1, collect, &g,
	    &skipped) == 0 && g.n == 2 && skipped == 0);
	CHECK(g.h.version == 1 && g.h.uidvalidity == 1234);
	CHECK(text_is(g.r[0].name, g.r[0].name_len, "1.M1.h"));

	/* Headers that are none: nothing called. */
	CHECK(dovecot_uidlist_parse("4 V1\n", 5, collect, &g, &skipped) == 1);
	CHECK(dovecot_uidlist_parse("3 N1\n", 5, collect, &g, &skipped) == 1);
	CHECK(dovecot_uidlist_parse("3 V0\n", 5, collect, &g, &skipped) == 1);
	CHECK(dovecot_uidlist_parse("3 V4294967296\n", 14, collect, &g,
	    &skipped) == 1);
	CHECK(dovecot_uidlist_parse("3 V1", 4, collect, &g, &skipped) == 1);
	/* An empty V (the fuzzer's find): no UIDVALIDITY, no header. */
	CHECK(dovecot_uidlist_parse("3 V V\n", 6, collect, &g, &skipped) == 1);
	CHECK(dovecot_uidlist_parse("", 0, collect, &g, &skipped) == 1);
}

static void
test_line_max(void)
{
	char	*buf;
	size_t	 len, skipped = 0;
	struct got g;

	/*
	 * One line at DOVECOT_LINE_MAX is read; one past it is left out
	 * ("<uid> X<a's> :n<uid>": an extension makes it long).
	 */
	len = 8 + (DOVECOT_LINE_MAX + 1) + (DOVECOT_LINE_MAX + 2);
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, "3 V7 N3\n", 8);
	memset(buf + 8, 'a', len - 8);
	memcpy(buf + 8, "1 X", 3);
	memcpy(buf + 8 + DOVECOT_LINE_MAX - 4, " :n1\n", 5);
	memcpy(buf + 9 + DOVECOT_LINE_MAX, "2 X", 3);
	memcpy(buf + len - 5, " :n2\n", 5);
	memset(&g, 0, sizeof(g));
	CHECK(dovecot_uidlist_parse(buf, len, collect, &g, &skipped) == 0);
	CHECK(g.n == 1 && g.r[0].uid == 1 && skipped == 1);
	free(buf);
}

static void
test_expand(void)
{
	struct dovecot_head	h = { 3, 0x6b100604 };
	struct dovecot_rec	r = { 1, "1276528487.M3P9.kurkku", 22,
	    NULL, 0, NULL, 0 };
	char			out[UIDL_MAX + 1];

	CHECK(dovecot_uidl_expand(DOVECOT_UIDL_FORMAT_DEFAULT, &h, &r, out,
	    sizeof(out)) == 16);
	CHECK_STR(out, "000000016b100604");
	CHECK(dovecot_uidl_expand("%08XUu%08XUv", &h, &r, out,
	    sizeof(out)) == 16);
	CHECK_STR(out, "000000016B100604");
	CHECK(dovecot_uidl_expand("%v.%u", &h, &r, out, sizeof(out)) > 0);
	CHECK_STR(out, "1796212228.1");
	CHECK(dovecot_uidl_expand("%f", &h, &r, out, sizeof(out)) == 22);
	CHECK_STR(out, "1276528487.M3P9.kurkku");
	/* No G: Dovecot's maildir gives the base name as the GUID. */
	CHECK(dovecot_uidl_expand("%g", &h, &r, out, sizeof(out)) == 22);
	r.guid = "3085f01b";
	r.guid_len = 8;
	CHECK(dovecot_uidl_expand("%{guid}-%{uid}%%", &h, &r, out,
	    sizeof(out)) > 0);
	CHECK_STR(out, "3085f01b-1%");
	CHECK(dovecot_uidl_expand("%4f", &h, &r, out, sizeof(out)) == 4);
	CHECK_STR(out, "1276");
	CHECK(dovecot_uidl_expand("%Xf", &h, &r, out, sizeof(out)) > 0);
	CHECK_STR(out, "0");		/* no number: 0, as Dovecot */
	CHECK(dovecot_uidl_expand("%012u", &h, &r, out, sizeof(out)) == 12);
	CHECK_STR(out, "000000000001");
	/* What it does not take. */
	CHECK(dovecot_uidl_expand("%m", &h, &r, out, sizeof(out)) == -1);
	CHECK(dovecot_uidl_expand("%{md5}", &h, &r, out, sizeof(out)) == -1);
	CHECK(dovecot_uidl_expand("%{u", &h, &r, out, sizeof(out)) == -1);
	CHECK(dovecot_uidl_expand("%", &h, &r, out, sizeof(out)) == -1);
	CHECK(dovecot_uidl_expand("%Ru", &h, &r, out, sizeof(out)) == -1);
	CHECK(dovecot_uidl_expand("%0999u", &h, &r, out, sizeof(out)) == -1);
	CHECK(dovecot_uidl_expand("%f%f%f%f", &h, &r, out, sizeof(out)) ==
	    -1);
	CHECK(dovecot_uidl_format_ok(DOVECOT_UIDL_FORMAT_DEFAULT));
	CHECK(dovecot_uidl_format_ok("%f"));
	CHECK(!dovecot_uidl_format_ok("%m"));
	CHECK(!dovecot_uidl_format_ok(""));
	/* Ones that can never work: no valid UIDL, or one for all. */
	CHECK(!dovecot_uidl_format_ok("%u %v"));
	CHECK(!dovecot_uidl_format_ok("abc"));
	CHECK(!dovecot_uidl_format_ok("%v"));
	CHECK(!dovecot_uidl_format_ok("%{uidvalidity}x"));
	CHECK(dovecot_uidl_format_ok("%{uid}-%v"));
	CHECK(dovecot_uidl_format_ok("%g"));
	CHECK(dovecot_uidl_format_ok("%Uf"));
}

static void
test_map_parse(void)
{
	static const char map[] = UIDMAP_MAGIC "000000016b100604 1.M1.h\n"
	    "bad\n" " 2.M2.h\n" "x 3/3\n" "y 4:2,S\n" "u\001 5\n"
	    "ok 6.M6.h\n" "cut 7";
	struct got	g;
	size_t		skipped = 0;

	memset(&g, 0, sizeof(g));
	CHECK(uidmap_parse(map, sizeof(map) - 1, collect, &g, &skipped) == 0);
	CHECK(g.n == 2 && skipped == 6);
	CHECK(text_is(g.r[0].pop3, g.r[0].pop3_len, "000000016b100604"));
	CHECK(text_is(g.r[0].name, g.r[0].name_len, "1.M1.h"));
	CHECK(text_is(g.r[1].pop3, g.r[1].pop3_len, "ok"));
	CHECK(uidmap_parse("pop3d-uidl 2\n", 13, collect, &g, &skipped) == 1);
}

static void
test_courier(void)
{
	static const char list[] = "/3 7 1600000000\n"
	    "1600000001.M1P1.h:2,S 1234 1:1600000000:0\n"
	    "1600000002.M2P1 with space.h 99 2:1600000000\n"
	    "1600000003.M3P1.h 99 3:0:1\n"
	    "1600000004.M4P1.h 99 0:1600000000:0\n"	/* uid 0: old form */
	    "1600000005.M5P1.h x 5:1600000000:0\n"
	    "nospace\n" " 1 2:3\n"
	    "1600000006.M6P1.h 99 18446744073709551616:1\n"
	    "1600000007.M7P1.h 99 7:1600000000:0";	/* no LF */
	struct got	g;
	size_t		skipped = 0;

	memset(&g, 0, sizeof(g));
	CHECK(courier_sizelist_parse(list, sizeof(list) - 1, collect, &g,
	    &skipped) == 0);
	/* The UIDLs are in a buffer of the parser's: checked by length. */
	CHECK(g.n == 3 && skipped == 6);
	CHECK(text_is(g.r[0].name, g.r[0].name_len, "1600000001.M1P1.h"));
	CHECK(g.r[0].pop3_len == strlen("UID1-1600000000"));
	CHECK(text_is(g.r[1].name, g.r[1].name_len,
	    "1600000002.M2P1 with space.h"));
	CHECK(g.r[2].pop3_len == strlen("UID3"));
	CHECK(courier_sizelist_parse("/4 1 1\n", 7, collect, &g, &skipped) ==
	    1);
	CHECK(courier_sizelist_parse("/2 1 1\n", 7, collect, &g, &skipped) ==
	    0);
	CHECK(courier_sizelist_parse("1 1 1\n", 6, collect, &g, &skipped) ==
	    1);
}

static void
put(const char *name, const char *text)
{
	char	path[512];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static void
drop(const char *name)
{
	char	path[512];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	unlink(path);
}

/* The UIDL of the message whose name starts with prefix, or "". */
static const char *
uidl_of(struct maildir *md, const char *prefix)
{
	static char	out[UIDL_MAX + 1];
	size_t		i;

	for (i = 0; i < md->count; i++)
		if (strncmp(md->msgs[i].name, prefix, strlen(prefix)) == 0) {
			memcpy(out, md->msgs[i].uidl, md->msgs[i].uidl_len);
			out[md->msgs[i].uidl_len] = '\0';
			return out;
		}
	return "";
}

/* A session's UIDLs: the maildrop scanned and named. */
static int
session(struct maildir *md, const char *fmt)
{
	if (maildir_open(md, root, 100) == -1 || maildir_scan(md) == -1)
		return -1;
	md->dovecot_format = fmt;
	return maildir_uidls(md);
}

static int
all_unique(const struct maildir *md)
{
	size_t	i, j;

	for (i = 0; i < md->count; i++)
		for (j = i + 1; j < md->count; j++)
			if (md->msgs[i].uidl_len == md->msgs[j].uidl_len &&
			    memcmp(md->msgs[i].uidl, md->msgs[j].uidl,
			    md->msgs[i].uidl_len) == 0)
				return 0;
	return 1;
}

static void
test_carry(void)
{
	struct maildir	md;
	struct stat	st;
	char		a[512], b[512];

	put("cur/100.M1P1.h:2,S", "A: b\n\nx\n");
	put("new/101.M2P1.h", "A: b\n\nx\n");
	put("cur/102.M3P1.h:2,", "A: b\n\nx\n");	/* P clashes with 1 */
	put("cur/103.M4P1.h:2,", "A: b\n\nx\n");	/* not listed */
	put("cur/104.M5P1.h:2,", "A: b\n\nx\n");	/* its UIDL is 1's */
	put("dovecot-uidlist", "3 V1796212228 N5 Gabc\n"
	    "1 P000000016b100604 :100.M1P1.h\n"
	    "2 W9 :101.M2P1.h\n"
	    "3 P000000016b100604 :102.M3P1.h\n"
	    "4 :gone.M9P1.h\n");
	/* Named like a carried UIDL: pop3d's own loses to the carried one. */
	rename(strcat(strcpy(a, root), "/cur/104.M5P1.h:2,"),
	    strcat(strcpy(b, root), "/cur/000000026b100604"));
	CHECK(session(&md, NULL) == 0 && md.count == 5);
	CHECK_STR(uidl_of(&md, "100."), "000000016b100604");
	CHECK_STR(uidl_of(&md, "101."), "000000026b100604");
	CHECK_STR(uidl_of(&md, "102."), "000000036b100604");
	CHECK_STR(uidl_of(&md, "103."), "103.M4P1.h");
	CHECK(strcmp(uidl_of(&md, "0000000"), "000000026b100604") != 0);
	CHECK(all_unique(&md));
	maildir_close(&md);
	CHECK(stat(strcat(strcpy(a, root), "/" UIDMAP_FILE), &st) == 0 &&
	    (st.st_mode & 0777) == 0600);

	/* The old file gone, a flag changed, a message deleted: the same. */
	drop("dovecot-uidlist");
	rename(strcat(strcpy(a, root), "/cur/100.M1P1.h:2,S"),
	    strcat(strcpy(b, root), "/cur/100.M1P1.h:2,RS"));
	drop("cur/102.M3P1.h:2,");
	CHECK(session(&md, "%f") == 0 && md.count == 4);
	CHECK_STR(uidl_of(&md, "100."), "000000016b100604");
	CHECK_STR(uidl_of(&md, "101."), "000000026b100604");
	CHECK_STR(uidl_of(&md, "103."), "103.M4P1.h");
	CHECK(all_unique(&md));
	maildir_close(&md);

	/* A hostile map: binary, a UIDL twice, a name twice. */
	put(UIDMAP_FILE, UIDMAP_MAGIC "\001\002\377 x\n"
	    "same 100.M1P1.h\nsame 101.M2P1.h\nother 100.M1P1.h\n");
	CHECK(session(&md, NULL) == 0 && md.count == 4);
	CHECK_STR(uidl_of(&md, "100."), "same");
	CHECK_STR(uidl_of(&md, "101."), "101.M2P1.h");
	CHECK(all_unique(&md));
	maildir_close(&md);

	/* Courier's: UID<n>-<uidvalidity>, matched by unique part. */
	drop(UIDMAP_FILE);
	put(COURIER_SIZELIST_FILE, "/3 9 1700000000\n"
	    "100.M1P1.h:2,S 8 4:1700000000:0\n"
	    "103.M4P1.h:2, 8 5:1700000000:0\n");
	CHECK(session(&md, NULL) == 0 && md.count == 4);
	CHECK_STR(uidl_of(&md, "100."), "UID4-1700000000");
	CHECK_STR(uidl_of(&md, "103."), "UID5-1700000000");
	CHECK_STR(uidl_of(&md, "101."), "101.M2P1.h");
	CHECK(all_unique(&md));
	maildir_close(&md);
	drop(COURIER_SIZELIST_FILE);
	CHECK(session(&md, NULL) == 0);
	CHECK_STR(uidl_of(&md, "103."), "UID5-1700000000");
	maildir_close(&md);

	/* Not the user's kind of file: ignored. */
	drop(UIDMAP_FILE);
	CHECK(symlink("/dev/zero", strcat(strcpy(a, root),
	    "/dovecot-uidlist")) == 0);
	CHECK(session(&md, NULL) == 0 && md.count == 4);
	CHECK_STR(uidl_of(&md, "100."), "100.M1P1.h");
	maildir_close(&md);
}

/* The map's hash before it was seeded: FNV-1a, fixed basis. */
static uint64_t
old_hash(const char *s, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/*
 * A map of 1,000 names (and UIDLs) that all took the same slot of any
 * table up to 4,096 slots under the old hash: every lookup walked them
 * all.  Seeded, the longest probe stays short.
 */
static void
test_collide(void)
{
	struct maildir	md;
	char		*map, name[32];
	size_t		len = 0, found = 0, i;

	if ((map = malloc(1000 * 2 * sizeof(name) + 64)) == NULL)
		abort();
	len = strlen(strcpy(map, UIDMAP_MAGIC));
	for (i = 0; found < 1000; i++) {
		snprintf(name, sizeof(name), "c%zx", i);
		if ((old_hash(name, strlen(name)) & 0xfff) != 0)
			continue;
		len += sprintf(map + len, "%s %s\n", name, name);
		found++;
	}
	put(UIDMAP_FILE, map);
	free(map);
	migrate_probe_max = 0;
	CHECK(session(&md, NULL) == 0);
	maildir_close(&md);
	CHECK(migrate_probe_max > 0 && migrate_probe_max < 64);
	drop(UIDMAP_FILE);
}

/* The map's whole text, or "" (at most 4095 octets read). */
static const char *
map_text(void)
{
	static char	buf[4096];
	char		path[512];
	ssize_t		n;
	int		fd;

	snprintf(path, sizeof(path), "%s/" UIDMAP_FILE, root);
	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf;
	if ((n = read(fd, buf, sizeof(buf) - 1)) >= 0)
		buf[n] = '\0';
	close(fd);
	return buf;
}

/*
 * A map not read whole (bad magic, too large) is not replaced by one of
 * this session's records only, even when dovecot-uidlist gives new ones.
 */
static void
test_map_unread(void)
{
	static const char bad[] = "pop3d-uidl 9\nkept 100.M1P1.h\n";
	struct maildir	md;
	struct stat	st;
	struct rlimit	old, lim = { 0, 0 };
	char		path[512];

	drop("dovecot-uidlist");	/* test_carry's symbolic link */
	put("dovecot-uidlist", "3 V1796212228 N5 Gabc\n"
	    "1 P000000016b100604 :100.M1P1.h\n");
	put(UIDMAP_FILE, bad);
	CHECK(session(&md, NULL) == 0);
	CHECK_STR(uidl_of(&md, "100."), "000000016b100604");
	maildir_close(&md);
	CHECK_STR(map_text(), bad);

	put(UIDMAP_FILE, UIDMAP_MAGIC "kept 100.M1P1.h\n");
	snprintf(path, sizeof(path), "%s/" UIDMAP_FILE, root);
	CHECK(truncate(path, UIDMAP_FILE_MAX + 1) == 0);
	CHECK(session(&md, NULL) == 0);
	CHECK_STR(uidl_of(&md, "100."), "000000016b100604");
	maildir_close(&md);
	CHECK(stat(path, &st) == 0 && st.st_size == UIDMAP_FILE_MAX + 1);
	CHECK_STR(map_text(), UIDMAP_MAGIC "kept 100.M1P1.h\n");

	/* Read whole, the same map is written with the new record. */
	CHECK(truncate(path, strlen(UIDMAP_MAGIC "kept 100.M1P1.h\n")) == 0);
	put("cur/105.M6P1.h:2,", "A: b\n\nx\n");
	put("dovecot-uidlist", "3 V1796212228 N5 Gabc\n"
	    "6 P000000066b100604 :105.M6P1.h\n");
	CHECK(session(&md, NULL) == 0);
	CHECK_STR(uidl_of(&md, "100."), "kept");
	maildir_close(&md);
	CHECK(strstr(map_text(), "kept 100.M1P1.h\n") != NULL &&
	    strstr(map_text(), "000000066b100604 105.M6P1.h\n") != NULL);
	drop(UIDMAP_FILE);

	/* Unwritable (the file size limit): said, for the cache to wait. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim.rlim_max = old.rlim_max;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK(session(&md, NULL) == 0 && md.uidmap_unwritten == 1);
	CHECK_STR(uidl_of(&md, "105."), "000000066b100604");
	maildir_close(&md);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(session(&md, NULL) == 0 && md.uidmap_unwritten == 0);
	maildir_close(&md);
	CHECK(strstr(map_text(), "000000066b100604 105.M6P1.h\n") != NULL);
	drop("cur/105.M6P1.h:2,");
	drop("dovecot-uidlist");
	drop(UIDMAP_FILE);
}

int
main(void)
{
	char	path[512];

	test_parse();
	test_line_max();
	test_expand();
	test_map_parse();
	test_courier();
	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/cur", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/new", root);
	mkdir(path, 0700);
	test_carry();
	test_collide();
	test_map_unread();
	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		return 1;
	return check_done();
}

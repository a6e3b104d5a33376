/*
 * The mbox parser: boundaries, what is served of each message, its wire
 * size (against wire_size_fd over exactly those octets), its UIDL (X-UIDL
 * or the digest), the pseudo message; the same answer however the input
 * is cut into pieces, and for lines of any length.  The index cache's
 * tests are in t_mbox_cache.c.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "maildir.h"
#include "mbox_parse.h"
#include "wire.h"

#include "mbox_list.h"

static char	dir[128];

/* Every message's wire size is wire_size_fd's over its served octets. */
static int
wire_sizes_agree(const char *data, const struct list *l)
{
	char		 path[256];
	uint64_t	 w;
	size_t		 i;
	int		 fd, ok = 1;

	snprintf(path, sizeof(path), "%s/msg", dir);
	for (i = 0; i < l->n; i++) {
		const struct mbox_found *f = &l->v[i];

		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || write(fd, data + f->off, f->len) !=
		    (ssize_t)f->len || lseek(fd, 0, SEEK_SET) != 0 ||
		    wire_size_fd(fd, &w) == -1)
			abort();
		close(fd);
		if (w != f->wire)
			ok = 0;
	}
	return ok;
}

/* Parses s whole, checks the wire sizes, and that every split agrees. */
static int
parse(const char *s, struct list *l)
{
	struct list	 other;
	size_t		 n = strlen(s), cut;
	int		 r;

	r = list_parse(s, n, n + 1, l);
	if (r == MBOX_OK && !wire_sizes_agree(s, l))
		return 99;
	for (cut = 0; cut <= n && n < 4096; cut++) {
		if (list_parse_cut(s, n, cut, &other) != r ||
		    !list_same(l, &other))
			r = 98;
		list_free(&other);
	}
	if (list_parse(s, n, 1, &other) != r || !list_same(l, &other))
		r = 97;
	list_free(&other);
	return r;
}

/* The served octets of message i. */
static int
served(const char *s, const struct list *l, size_t i, const char *want)
{
	return i < l->n && l->v[i].len == strlen(want) &&
	    memcmp(s + l->v[i].off, want, l->v[i].len) == 0;
}

static void
test_format(void)
{
	struct list	l;
	const char	*s;

	CHECK(parse("", &l) == MBOX_OK && l.n == 0);
	list_free(&l);
	CHECK(parse("Hello\n", &l) == MBOX_NOT_MBOX);
	list_free(&l);
	CHECK(parse("\nFrom a\n", &l) == MBOX_NOT_MBOX);
	list_free(&l);
	CHECK(parse("From", &l) == MBOX_NOT_MBOX);
	list_free(&l);
	CHECK(parse("from a\n\nx\n", &l) == MBOX_NOT_MBOX);
	list_free(&l);

	s = "From a@b Thu Dec  3 08:00:00 2026\nSubject: x\n\nbody\n";
	CHECK(parse(s, &l) == MBOX_OK && l.n == 1);
	CHECK(l.v[0].from_off == 0 && l.v[0].off == 34);
	CHECK(served(s, &l, 0, "Subject: x\n\nbody\n"));
	CHECK(l.v[0].wire == strlen("Subject: x\n\nbody\n") + 3);
	list_free(&l);

	s = "From a\nS: 1\n\none\n\nFrom b\nS: 2\n\ntwo\n\nFrom c\nS: 3\n\n"
	    "three\n\n";
	CHECK(parse(s, &l) == MBOX_OK && l.n == 3);
	CHECK(served(s, &l, 0, "S: 1\n\none\n"));
	CHECK(served(s, &l, 1, "S: 2\n\ntwo\n"));
	CHECK(served(s, &l, 2, "S: 3\n\nthree\n"));
	CHECK(l.n == 3 && l.v[1].from_off == 18 && l.v[2].from_off == 36);
	list_free(&l);

	/* "From " not after an empty line is body; ">From " as stored. */
	s = "From a\nS: 1\n\nline\nFrom b\n>From c\n\n>From d\n";
	CHECK(parse(s, &l) == MBOX_OK && l.n == 1);
	CHECK(served(s, &l, 0, "S: 1\n\nline\nFrom b\n>From c\n\n>From d\n"));
	list_free(&l);

	/* The end: without a newline, with one, two, three. */
	CHECK(parse(s = "From a\nS: 1\n\nbody", &l) == 0 &&
	    served(s, &l, 0, "S: 1\n\nbody") && l.v[0].wire == 14);
	list_free(&l);
	CHECK(parse(s = "From a\nS: 1\n\nbody\n", &l) == 0 &&
	    served(s, &l, 0, "S: 1\n\nbody\n"));
	list_free(&l);
	CHECK(parse(s = "From a\nS: 1\n\nbody\n\n", &l) == 0 &&
	    served(s, &l, 0, "S: 1\n\nbody\n"));
	list_free(&l);
	CHECK(parse(s = "From a\nS: 1\n\nbody\n\n\n", &l) == 0 &&
	    served(s, &l, 0, "S: 1\n\nbody\n\n"));
	list_free(&l);
	CHECK(parse(s = "From a", &l) == 0 && l.n == 1 &&
	    l.v[0].off == 6 && l.v[0].len == 0 && l.v[0].wire == 0);
	list_free(&l);
	CHECK(parse(s = "From a\n\nFrom b\n", &l) == 0 && l.n == 2 &&
	    served(s, &l, 0, "") && served(s, &l, 1, ""));
	list_free(&l);
	/* A last line of a bare CR is content (counted as a line). */
	CHECK(parse(s = "From a\nS: 1\n\nx\n\r", &l) == 0 &&
	    served(s, &l, 0, "S: 1\n\nx\n\r") && l.v[0].wire == 13);
	list_free(&l);
}

static void
test_shapes(void)
{
	struct list	l;
	const char	*s;

	/* CRLF stored, with CRLF separators or the MTA's LF one. */
	s = "From a\r\nS: 1\r\n\r\nbody\r\n\r\nFrom b\r\nS: 2\r\n\r\nb\r\n\r\n";
	CHECK(parse(s, &l) == 0 && l.n == 2);
	CHECK(served(s, &l, 0, "S: 1\r\n\r\nbody\r\n"));
	CHECK(served(s, &l, 1, "S: 2\r\n\r\nb\r\n"));
	CHECK(l.n == 2 && l.v[0].wire == l.v[0].len);
	list_free(&l);
	s = "From a\nS: 1\r\n\r\nbody\r\n\nFrom b\nS: 2\r\n\r\nb\r\n\n";
	CHECK(parse(s, &l) == 0 && l.n == 2);
	CHECK(served(s, &l, 0, "S: 1\r\n\r\nbody\r\n"));
	CHECK(served(s, &l, 1, "S: 2\r\n\r\nb\r\n"));
	list_free(&l);

	/* An empty body; a message of headers only. */
	s = "From a\nS: 1\n\n\nFrom b\nS: 2\n\nFrom c\nS: 3\n";
	CHECK(parse(s, &l) == 0 && l.n == 3);
	CHECK(served(s, &l, 0, "S: 1\n\n"));
	CHECK(served(s, &l, 1, "S: 2\n"));
	CHECK(served(s, &l, 2, "S: 3\n"));
	list_free(&l);

	/* Dots and blank runs are the wire's business, counted right. */
	s = "From a\nS: 1\n\n.\n..\n\n\n\n.x\n\nFrom b\n\n\n\n";
	CHECK(parse(s, &l) == 0 && l.n == 2);
	CHECK(served(s, &l, 0, "S: 1\n\n.\n..\n\n\n\n.x\n"));
	CHECK(served(s, &l, 1, "\n\n"));
	list_free(&l);
}

static const char *
uidl_of(const char *s)
{
	static char	 u[UIDL_MAX + 3];
	struct list	 l;

	u[0] = '\0';
	if (parse(s, &l) == 0 && l.n >= 1)
		snprintf(u, sizeof(u), "%s%s", l.v[0].uidl_header ? "H:" : "",
		    l.v[0].uidl);
	list_free(&l);
	return u;
}

static void
test_xuidl(void)
{
	char	 s[512], v71[72];

	CHECK_STR(uidl_of("From a\nX-UIDL: abc\n\nb\n"), "H:abc");
	CHECK_STR(uidl_of("From a\nx-uidl:   abc \t \n\nb\n"), "H:abc");
	CHECK_STR(uidl_of("From a\r\nX-UIDL: abc\r\n\r\nb\r\n"), "H:abc");
	CHECK_STR(uidl_of("From a\nX-UIDL:\n  abc\n\nb\n"), "H:abc");
	CHECK_STR(uidl_of("From a\nX-UIDL: 1\nX-UIDL: 2\n\nb\n"), "H:1");
	CHECK_STR(uidl_of("From a\nX-UIDL: a b\nX-UIDL: 2\n\nb\n"), "H:2");
	/* No valid X-UIDL: the digest (32 hex digits), for each of these. */
	CHECK(strlen(uidl_of("From a\nX-UIDL: a b\n\nb\n")) == 32);
	CHECK(strlen(uidl_of("From a\nX-UIDL: ab\n c\n\nb\n")) == 32);
	CHECK(strlen(uidl_of("From a\nX-UIDL: a\x80\n\nb\n")) == 32);
	CHECK(strlen(uidl_of("From a\nX-UIDL: \n\nb\n")) == 32);
	CHECK(strlen(uidl_of("From a\nX-UIDL: a\rb\n\nb\n")) == 32);
	CHECK(strlen(uidl_of("From a\nS: 1\n\nX-UIDL: abc\n")) == 32);
	CHECK(strlen(uidl_of("From a\nX-UIDLs: abc\n\nb\n")) == 32);
	memset(v71, 'u', 71);
	v71[71] = '\0';
	snprintf(s, sizeof(s), "From a\nX-UIDL: %s\n\nb\n", v71);
	CHECK(strlen(uidl_of(s)) == 32);
	v71[70] = '\0';
	snprintf(s, sizeof(s), "From a\nX-UIDL: %s\n\nb\n", v71);
	CHECK(strlen(uidl_of(s)) == 72 && strncmp(uidl_of(s), "H:uuu", 5) == 0);
}

static void
test_digest(void)
{
	char	 want[33], base[33];

	/* The rule pinned: the From_ line and the kept fields, raw. */
	maildir_uidl_digest("From a\nSubject: s\nTo: t\n", 24, want);
	CHECK_STR(uidl_of("From a\nSubject: s\nTo: t\n\nbody\n"), want);
	snprintf(base, sizeof(base), "%s", want);
	CHECK_STR(uidl_of("From a\nSubject: s\nTo: t\n\nother body\n"), base);
	CHECK_STR(uidl_of("From a\nSubject: s\nStatus: RO\nTo: t\n\nbody\n"),
	    base);
	CHECK_STR(uidl_of("From a\nStatus: O\nX-Status: A\nSubject: s\n"
	    "X-Keywords: $x\n  $y\nTo: t\nX-UID: 7\nContent-Length: 5\n"
	    "Lines: 1\nX-IMAPbase: 1 2\nX-UIDL: a b\n\nbody\n"), base);
	CHECK_STR(uidl_of("From a\nSubject: s\nTo: t\nstatus : RO\n\nbody\n"),
	    base);
	CHECK(strcmp(uidl_of("From a\nSubject: s2\nTo: t\n\nbody\n"),
	    base) != 0);
	CHECK(strcmp(uidl_of("From b\nSubject: s\nTo: t\n\nbody\n"),
	    base) != 0);
	CHECK(strcmp(uidl_of("From a\nSubject: s\nTo: t\n x\n\nbody\n"),
	    base) != 0);
}

static void
test_internal(void)
{
	struct list	 l;
	const char	*pseudo = "From MAILER-DAEMON Thu Dec  3 08:00:00 2026\n"
	    "Date: Thu, 03 Dec 2026 08:00:00 +0000\n"
	    "From: Mail System Internal Data <MAILER-DAEMON@h>\n"
	    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	    "X-IMAP: 1033522733 0000000002\nStatus: RO\n\n"
	    "This text is part of the internal format of your mail folder.\n"
	    "\n";
	char		 s[1024];

	snprintf(s, sizeof(s), "%s%s", pseudo, pseudo);
	CHECK(parse(s, &l) == 0 && l.n == 2 && l.v[0].internal &&
	    !l.v[1].internal);
	list_free(&l);
	CHECK(parse("From a\nSubject: FOLDER INTERNAL DATA\n\nx\n", &l) == 0 &&
	    l.n == 1 && !l.v[0].internal);
	list_free(&l);
	CHECK(parse("From a\nX-IMAP: 1 2\nSubject: hello\n\nx\n", &l) == 0 &&
	    l.n == 1 && !l.v[0].internal);
	list_free(&l);
}

/* Lines of a megabyte: From_ line, header, X-UIDL, body. */
static void
test_long_lines(void)
{
	struct list	 l, other;
	size_t		 big = 1 << 20, n;
	char		*s = malloc(4 * big + 200), *p = s;

	p += sprintf(p, "From ");
	memset(p, 'f', big);
	p += big;
	p += sprintf(p, "\nSubject: ");
	memset(p, 's', big);
	p += big;
	p += sprintf(p, "\nX-UIDL: ");
	memset(p, 'u', big);
	p += big;
	p += sprintf(p, "\n\n");
	memset(p, 'b', big);
	p += big;
	p += sprintf(p, "\n\nFrom b\nX-UIDL: ok\n\nshort\n");
	n = p - s;
	CHECK(list_parse(s, n, 65536, &l) == 0 && l.n == 2);
	CHECK(l.n == 2 && l.v[0].off == 5 + big + 1 && !l.v[0].uidl_header &&
	    l.v[0].len == 3 * big + 21);
	CHECK(l.n == 2 && l.v[1].uidl_header && wire_sizes_agree(s, &l));
	CHECK(list_parse(s, n, 7, &other) == 0 && list_same(&l, &other));
	list_free(&other);
	CHECK(list_parse(s, n, n, &other) == 0 && list_same(&l, &other));
	list_free(&other);
	list_free(&l);
	free(s);
}

/* mbox_from_at: the From_ line still where it was, or not. */
static void
test_from_at(void)
{
	struct list	 l;
	const char	*s = "From a\nS: 1\n\nx\n\nFrom bb\nS: 2\n\ny\n";
	char		 path[256];
	int		 fd;

	snprintf(path, sizeof(path), "%s/mbox", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(parse(s, &l) == 0 && l.n == 2);
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	CHECK(mbox_from_at(fd, &l.v[0]) == 1 && mbox_from_at(fd, &l.v[1]) == 1);
	CHECK(pwrite(fd, "c", 1, l.v[1].from_off + 6) == 1);
	CHECK(mbox_from_at(fd, &l.v[0]) == 1 && mbox_from_at(fd, &l.v[1]) == 0);
	CHECK(ftruncate(fd, l.v[1].from_off + 3) == 0);
	CHECK(mbox_from_at(fd, &l.v[1]) == 0);
	close(fd);
	list_free(&l);
}

/* A stop asked by the callback is returned, and sticks. */
static int
stop_at_2(void *arg, const struct mbox_found *f)
{
	(void)f;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static void
test_stop(void)
{
	struct mbox_parser	 p;
	const char		*s = "From a\n\nFrom b\n\nFrom c\n";
	int			 calls = 0;

	mbox_parse_init(&p, 0, stop_at_2, &calls);
	CHECK(mbox_feed(&p, s, strlen(s)) == 42 && calls == 2);
	CHECK(mbox_feed(&p, s, 3) == 42 && mbox_end(&p) == 42 && calls == 2);
}

/*
 * Random mboxes of the shapes above, fed in random pieces: the same
 * list as fed whole, wire sizes right.
 */
static void
test_random(void)
{
	static const char *const lines[] = {
		"From x", "", "\r", ".", "X-UIDL: r1", "Status: RO",
		"Subject: s", " folded", ">From y", "body line", "From ",
		"X-UIDL: bad value", "\r\n",
	};
	struct list	 l, other;
	char		*s = malloc(1 << 16);
	size_t		 n, piece, k, bad = 0;
	int		 round, i;

	srandom(19);
	for (round = 0; round < 2000; round++) {
		n = (size_t)sprintf(s, "From r%d\n", round);
		for (i = random() % 40; i > 0; i--) {
			k = random() % (sizeof(lines) / sizeof(lines[0]));
			n += (size_t)sprintf(s + n, "%s%s", lines[k],
			    random() % 8 ? "\n" : "");
		}
		piece = 1 + random() % 13;
		if (list_parse(s, n, n + 1, &l) != 0 ||
		    list_parse(s, n, piece, &other) != 0 ||
		    !list_same(&l, &other) || !wire_sizes_agree(s, &l))
			bad++;
		list_free(&l);
		list_free(&other);
	}
	CHECK(bad == 0);
	free(s);
}

int
main(void)
{
	if (check_tmpdir(dir, sizeof(dir), "t_mbox") == NULL)
		abort();
	test_format();
	test_shapes();
	test_xuidl();
	test_digest();
	test_internal();
	test_long_lines();
	test_from_at();
	test_stop();
	test_random();
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			abort();
	}
	return check_done();
}

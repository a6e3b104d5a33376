/*
 * The mbox parser: boundaries, what is served of each message, its wire
 * size (against wire_size_fd over exactly those octets), its UIDL (X-UIDL,
 * popa3d's or the digest), the pseudo message; the same answer however
 * the input is cut into pieces, and for lines of any length.  The index
 * cache's tests are in t_mbox_cache.c.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "maildir.h"
#include "mbox.h"
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

/*
 * From_ lines shorter and longer than the part the parser holds back
 * (MBOX_FROM_HELD) until the digest is needed: the same rule either way,
 * and from_digest takes the From_ line with its LF and the header.
 */
/*
 * from_digest's own rule (mbox_digest.c): fed in pieces of every size
 * that cut its words and its four-word blocks anywhere, the same as fed
 * whole; and one octet changed, anywhere in lengths on both sides of a
 * block, always another digest (a changed word never collides).
 */
static void
test_digest_lanes(void)
{
	char		 buf[200];
	struct mbox_digest d;
	uint64_t	 whole, other;
	size_t		 len, piece, at, i;
	int		 same = 1, differs = 1;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 37 + 11);
	for (len = 0; len <= sizeof(buf); len += 7) {
		mbox_digest_init(&d);
		mbox_digest_update(&d, buf, len);
		whole = mbox_digest_final(&d);
		for (piece = 1; piece <= 40; piece++) {
			mbox_digest_init(&d);
			for (at = 0; at < len; at += piece)
				mbox_digest_update(&d, buf + at, len - at <
				    piece ? len - at : piece);
			same &= mbox_digest_final(&d) == whole;
		}
		for (at = 0; at < len; at++) {
			buf[at] ^= 0x20;
			mbox_digest_init(&d);
			mbox_digest_update(&d, buf, len);
			other = mbox_digest_final(&d);
			buf[at] ^= 0x20;
			differs &= other != whole;
		}
	}
	CHECK(same);
	CHECK(differs);
	/* The length counts: zeros added are another input. */
	memset(buf, 0, sizeof(buf));
	mbox_digest_init(&d);
	mbox_digest_update(&d, buf, 31);
	whole = mbox_digest_final(&d);
	mbox_digest_init(&d);
	mbox_digest_update(&d, buf, 32);
	CHECK(mbox_digest_final(&d) != whole);
}

static void
test_digest_long_from(void)
{
	static char	 in[2048 + 16], raw[2048];
	char		 want[33];
	size_t		 len, rawlen;
	struct mbox_digest d;
	struct list	 l;

	for (len = MBOX_FROM_HELD - 8; len <= MBOX_FROM_HELD + 8; len++) {
		memset(raw, 0, sizeof(raw));
		memcpy(raw, "From ", 5);
		memset(raw + 5, 'f', len - 6);
		raw[len - 1] = '\n';
		rawlen = len + (size_t)sprintf(raw + len, "Subject: s\n");
		maildir_uidl_digest(raw, rawlen, want);
		snprintf(in, sizeof(in), "%s\nbody\n", raw);
		CHECK_STR(uidl_of(in), want);
		if (list_parse(in, strlen(in), 7, &l) != 0 || l.n != 1) {
			CHECK(0);
			list_free(&l);
			continue;
		}
		CHECK_STR(l.v[0].uidl, want);
		mbox_digest_init(&d);
		mbox_digest_update(&d, raw, rawlen);
		CHECK(l.v[0].from_digest == mbox_digest_final(&d));
		list_free(&l);
	}
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
	test_digest_long_from();
	test_digest_lanes();
}

/*
 * popa3d's UIDL (mbox_fields.c, popa3d_keeps).  The expected values were
 * made in Python over the octets after the From_ line, selecting fields
 * by popa3d's rule (hashlib.md5 of them, then "%08x%08x" % struct.unpack(
 * "<II", digest[:8])), and listed by popa3d 1.0.3 itself (Debian's, inetd
 * mode) from one mbox holding them all: the same UIDLs, but where we
 * differ on purpose (X-UIDL, no field taken, a CRLF empty line).
 */
#define RCVD	"Received: from h.example by mx.example; " \
		"Thu, 3 Dec 2026 08:00:00 +0000\n"
#define DATE	"Date: Thu, 3 Dec 2026 07:59:00 +0000\n" \
		"Message-ID: <1@h.example>\n"

static void
test_popa3d(void)
{
	char	 want[33];

	/* One Received; only the first of two counts. */
	CHECK_STR(uidl_of("From a\n" RCVD "Subject: s\n\nbody\n"),
	    "4a71a894a764a44a");
	CHECK_STR(uidl_of("From b\n" RCVD "Received: from x by h.example\n"
	    "Subject: s\n\nother body\n"), "4a71a894a764a44a");
	CHECK_STR(uidl_of("From a\nReceived: from x by h.example\n" RCVD
	    "Subject: s\n\nbody\n"), "d621fd63eb41a973");
	CHECK_STR(uidl_of("From a\n" "rECEIVED: from h.example by mx.example; "
	    "Thu, 3 Dec 2026 08:00:00 +0000\nSubject: s\n\nbody\n"),
	    "3182b09f2184c6a9");
	/* Date and Message-ID before the first Received count, not after. */
	CHECK_STR(uidl_of("From a\n" DATE RCVD "Subject: s\n\nbody\n"),
	    "f0477a24f9cd9b42");
	CHECK_STR(uidl_of("From a\n" RCVD DATE "Subject: s\n\nbody\n"),
	    "4a71a894a764a44a");
	/* Every Delivered-To and X-Delivery-ID, anywhere in the header. */
	CHECK_STR(uidl_of("From a\nDelivered-To: u@example\n" RCVD
	    "Subject: s\nX-Delivery-ID: 42\n\nbody\n"), "e6eb7c2b84f51050");
	/* A folded Received, with its folded lines; CRLF as stored. */
	CHECK_STR(uidl_of("From a\nReceived: from h.example\n\tby mx.example;"
	    "\n Thu, 3 Dec 2026\nSubject: s\n\nbody\n"), "4405654c1172334d");
	CHECK_STR(uidl_of("From a\r\nReceived: from h.example by mx.example; "
	    "Thu, 3 Dec 2026 08:00:00 +0000\r\nSubject: s\r\n\r\nbody\r\n"),
	    "80055685a9747b65");
	/* "Received :" is not Received: only the Delivered-To counts. */
	CHECK_STR(uidl_of("From a\nReceived : from x\nDelivered-To: u@example\n"
	    "Subject: s\n\nbody\n"), "5339a5d88896d229");
	CHECK_STR(uidl_of("From a\nDelivered-To: u@example\nSubject: s\n\n"
	    "body\n"), "5339a5d88896d229");
	/* Status and X-Status added by a mail reader: the same. */
	CHECK_STR(uidl_of("From a\n" RCVD "Status: RO\nX-Status: A\n"
	    "Subject: s\n\nbody\n"), "4a71a894a764a44a");
	/*
	 * Checked against popa3d only (the Python function adds a LF): a
	 * last line without one is hashed as stored; a folded line first
	 * is no field of popa3d's.
	 */
	CHECK_STR(uidl_of("From a\nReceived: x"), "8f8f596df7f674f6");
	CHECK_STR(uidl_of("From a\n Received: x\nReceived: y\n\nb\n"),
	    "3a1495a8952f46e3");
	/* A valid X-UIDL wins. */
	CHECK_STR(uidl_of("From a\n" RCVD "X-UIDL: abc\n\nbody\n"), "H:abc");
	/*
	 * No field popa3d takes (it would give all such d98c1dd404b2008f):
	 * the digest, as before.  Nor does "Received-SPF", nor a Received
	 * after a CRLF empty line (popa3d would: its header goes on).
	 */
	maildir_uidl_digest("From a\nReceived : x\nReceived-SPF: p\n", 36,
	    want);
	CHECK_STR(uidl_of("From a\nReceived : x\nReceived-SPF: p\n\nbody\n"),
	    want);
	CHECK(strlen(want) == 32);
	CHECK(strlen(uidl_of("From a\r\nSubject: s\r\n\r\n" RCVD)) == 32);
}

/* A Received field of a megabyte, folded, in pieces of any size. */
static void
test_popa3d_long(void)
{
	struct list	 l;
	size_t		 big = 1 << 20, n, piece;
	char		*s = malloc(big + 100), *p = s;
	int		 bad = 0;

	p += sprintf(p, "From a\nReceived: ");
	memset(p, 'r', big);
	p += big;
	p += sprintf(p, "\n\tby x\nSubject: s\n\nbody\n");
	n = p - s;
	/* Made as above, over the same octets after the From_ line. */
	for (piece = 1; piece <= n; piece = piece * 7 + 3) {
		if (list_parse(s, n, piece, &l) != 0 || l.n != 1 ||
		    strcmp(l.v[0].uidl, "07a1cac8631ee148") != 0)
			bad++;
		list_free(&l);
	}
	CHECK(bad == 0);
	free(s);
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

/*
 * from_digest of each message is the digest of the octets it takes: the
 * From_ line, then the served lines up to the first empty one ("\n" or
 * "\r\n"), at most MBOX_DIGEST_SERVED octets of them.
 */
static int
digests_agree(const char *s, const struct list *l)
{
	struct mbox_digest d;
	size_t		 i;
	uint64_t	 end, lim;

	for (i = 0; i < l->n; i++) {
		lim = l->v[i].off + l->v[i].len;
		for (end = l->v[i].off; end < lim; end++) {
			if ((end == l->v[i].off || s[end - 1] == '\n') &&
			    (s[end] == '\n' || (s[end] == '\r' &&
			    end + 1 < lim && s[end + 1] == '\n')))
				break;
		}
		if (end > l->v[i].off + MBOX_DIGEST_SERVED)
			end = l->v[i].off + MBOX_DIGEST_SERVED;
		mbox_digest_init(&d);
		mbox_digest_update(&d, s + l->v[i].from_off, end -
		    l->v[i].from_off);
		if (mbox_digest_final(&d) != l->v[i].from_digest)
			return 0;
	}
	return 1;
}

/*
 * from_digest takes the header block (its first 4 KiB): two messages with
 * one From_ line differ, an octet past 4 KiB served does not count.
 */
static void
test_digest_span(void)
{
	static char	 a[8192], b[8192];
	struct list	 la, lb;
	size_t		 n;

	n = (size_t)snprintf(a, sizeof(a), "From x\nSubject: A\n\nbody\n");
	memcpy(b, a, n);
	b[16] = 'B';
	CHECK(parse(a, &la) == 0 && parse(b, &lb) == 0 && la.n == 1 &&
	    lb.n == 1 && la.v[0].from_digest != lb.v[0].from_digest);
	list_free(&lb);
	b[16] = 'A';
	b[20] = 'B';	/* the body: not taken */
	CHECK(parse(b, &lb) == 0 && lb.n == 1 &&
	    la.v[0].from_digest == lb.v[0].from_digest);
	list_free(&la);
	list_free(&lb);
	memcpy(a, "From x\nX: ", 10);
	memset(a + 10, 'h', 6000);
	memcpy(a + 6010, "\n\nbody\n", 8);
	memcpy(b, a, sizeof(a));
	b[7 + MBOX_DIGEST_SERVED] = 'k';	/* past what it takes */
	CHECK(parse(a, &la) == 0 && parse(b, &lb) == 0 && la.n == 1 &&
	    lb.n == 1 && la.v[0].from_digest == lb.v[0].from_digest &&
	    digests_agree(a, &la));
	list_free(&lb);
	b[6 + MBOX_DIGEST_SERVED] = 'k';	/* the last octet it takes */
	CHECK(parse(b, &lb) == 0 && lb.n == 1 &&
	    la.v[0].from_digest != lb.v[0].from_digest);
	list_free(&la);
	list_free(&lb);
}

/*
 * mbox_end_at: the message still ends where it did (the end of the
 * file, or an empty line and then the end or "From ").
 */
static void
test_end_at(void)
{
	static const struct { const char *tail; int want; } t[] = {
		{ "", 1 }, { "\n", 1 }, { "\r\n", 1 }, { "\nFrom z", 1 },
		{ "\r\nFrom z", 1 }, { "x", 0 }, { "\nx", 0 },
		{ "\nFrom", 0 }, { "\n\nFrom z", 0 }, { "\r", 0 },
	};
	struct list	 l;
	const char	*s = "From a\nS: 1\n\nx\n";
	char		 path[256];
	size_t		 i;
	int		 fd;

	snprintf(path, sizeof(path), "%s/mbox-end", dir);
	CHECK(parse(s, &l) == 0 && l.n == 1);
	for (i = 0; i < sizeof(t) / sizeof(t[0]) && l.n == 1; i++) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s) &&
		    write(fd, t[i].tail, strlen(t[i].tail)) ==
		    (ssize_t)strlen(t[i].tail));
		CHECK(mbox_end_at(fd, &l.v[0]) == t[i].want);
		close(fd);
	}
	list_free(&l);
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
	/* Another message with the same From_ line where the first was. */
	CHECK(pwrite(fd, "From a\nS: 2\n\nx\n", 15, 0) == 15);
	CHECK(mbox_from_at(fd, &l.v[0]) == 0);
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
 * Where messages start, read line by line with nothing held back: a line
 * beginning "From " at the start or after an empty line ("" or "\r").
 * Whether the list agrees, count and every from_off.
 */
static int
boundaries_agree(const char *s, size_t n, const struct list *l)
{
	size_t	i = 0, at = 0, next, len;
	int	prev_empty = 1;
	const char *lf;

	while (at < n) {
		lf = memchr(s + at, '\n', n - at);
		next = lf != NULL ? (size_t)(lf - s) + 1 : n;
		len = next - at - (lf != NULL);
		if (prev_empty && n - at >= 5 && memcmp(s + at, "From ", 5) ==
		    0 && len >= 5) {
			if (i >= l->n || l->v[i].from_off != at)
				return 0;
			i++;
			prev_empty = 0;
		} else
			prev_empty = len == 0 || (len == 1 && s[at] == '\r');
		at = next;
	}
	return i == l->n;
}

/* Every message of s (n octets) as a file is where the parse put it. */
static int
all_there(const char *s, size_t n, const struct list *l)
{
	char	path[256];
	size_t	i;
	int	fd, ok;

	snprintf(path, sizeof(path), "%s/mbox-random", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		return 0;
	ok = write(fd, s, n) == (ssize_t)n;
	for (i = 0; ok && i < l->n; i++)
		ok = mbox_from_at(fd, &l->v[i]) == 1 &&
		    mbox_end_at(fd, &l->v[i]) == 1;
	close(fd);
	return ok;
}

/*
 * Random mboxes of the shapes above, fed in random pieces: the same
 * list as fed whole, boundaries where a plain reading puts them, wire
 * sizes right, each message found there again (mbox_from_at, _end_at).
 */
static void
test_random(void)
{
	static const char *const lines[] = {
		"From x", "", "\r", ".", "X-UIDL: r1", "Status: RO",
		"Subject: s", " folded", ">From y", "body line", "From ",
		"X-UIDL: bad value", "\r\n", "Received: r", "Date: d",
		"Delivered-To: t", "received :x",
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
		    !list_same(&l, &other) || !wire_sizes_agree(s, &l) ||
		    !boundaries_agree(s, n, &l) || !digests_agree(s, &l) ||
		    !all_there(s, n, &l))
			bad++;
		list_free(&l);
		list_free(&other);
	}
	CHECK(bad == 0);
	free(s);
}

/*
 * The dotlock: touched once MBOX_DOTLOCK_TOUCH_MS have passed (others
 * take an old one for stale), removed at the end only while it is ours.
 */
static void
test_dotlock(void)
{
	struct mbox	 mb;
	struct stat	 st;
	struct timeval	 old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char		 path[256], lock[300], buf[16];
	int		 fd, cwd = open(".", O_RDONLY | O_DIRECTORY);

	snprintf(path, sizeof(path), "%s/mbox-lock", dir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1 && write(fd, "From a\n\nx\n", 10) == 10);
	close(fd);
	CHECK(chdir(dir) == 0);
	CHECK(mbox_open(&mb, path, KIND_MBOX, 10, 1 << 20) == 0);
	CHECK(mbox_dlock(&mb) == 0 && stat(lock, &st) == 0);
	CHECK(utimes(lock, old) == 0);
	mbox_dotlock_keep(&mb);		/* too soon: not touched */
	CHECK(stat(lock, &st) == 0 && st.st_mtime == 1000000000);
	mb.dlock_touched -= MBOX_DOTLOCK_TOUCH_MS;
	mbox_dotlock_keep(&mb);
	CHECK(stat(lock, &st) == 0 && st.st_mtime > 1000000000);
	mbox_dunlock(&mb);
	CHECK(stat(lock, &st) == -1);
	/* Taken for stale by another program, which made its own. */
	CHECK(mbox_dlock(&mb) == 0 && unlink(lock) == 0);
	fd = open(lock, O_RDWR | O_CREAT | O_EXCL, 0644);
	CHECK(fd != -1 && write(fd, "1\n", 2) == 2);
	close(fd);
	mbox_dunlock(&mb);
	fd = open(lock, O_RDONLY);
	CHECK(fd != -1 && read(fd, buf, sizeof(buf)) == 2 &&
	    memcmp(buf, "1\n", 2) == 0);
	close(fd);
	CHECK(unlink(lock) == 0);
	mbox_close(&mb);
	CHECK(fchdir(cwd) == 0);
	close(cwd);
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
	test_popa3d();
	test_popa3d_long();
	test_internal();
	test_long_lines();
	test_from_at();
	test_digest_span();
	test_end_at();
	test_stop();
	test_random();
	test_dotlock();
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			abort();
	}
	return check_done();
}

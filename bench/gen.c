/*
 * gen: a deterministic Maildir for the benchmark (issue 8).
 *
 *	gen [-s seed] [-n normal] [-b big] [-t tiny] maildir manifest
 *	gen -M [-s seed] [-r mid] [-t tiny] mbox manifest
 *
 * Writes into maildir/cur (made with new/ and tmp/ if missing):
 *   normal	text messages of 2 to 200 KB,
 *   big	5 MB messages: a text part and a base64 attachment,
 *   tiny	1 to 3 KB messages (the 100,000-message mailbox).
 * With -M, one mbox file instead (issue 19), as exim4 delivers to
 * /var/mail: a From_ line, Received and Delivered-To headers, the
 * message, an empty line; tiny messages are 500 octets to 3 KB there
 * (popa3d refuses an mbox over 200,000,000 octets), and mid ones
 * 180 KB (-r).  No body line starts with "From ", so nothing is quoted
 * and the manifest holds what every server serves.
 * Bodies hold lines that need dot-stuffing ("." alone, "..", ".x").
 * The same seed and counts give the same files, byte for byte, so both
 * servers serve the same mail.  The manifest gets one line per message,
 * "HASH SIZE" with the 64-bit mhash.h hash (hex) and the size of the file
 * as stored (LF line ends): popload checks each RETR against it.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mhash.h"

#define GEN_MAX_COUNT	1000000	/* messages of one kind */
#define GEN_BIG_SIZE	(5 * 1024 * 1024)
#define GEN_MID_SIZE	(180 * 1024)

static FILE	*mbox;		/* -M: every message goes here */

struct rng {
	uint64_t	s;
};

struct out {
	FILE		*f;
	struct mhash	 hash;
	size_t		 size;
};

static const char *words[] = {
	"the", "mail", "server", "of", "and", "a", "to", "message", "in",
	"POP3", "quarterly", "report", "meeting", "attached", "please",
	"review", "regards", "budget", "Tuesday", "deadline", "project",
	"customer", "invoice", "thanks", "for", "your", "reply", "we",
	"will", "send", "update", "on", "status", "maildir", "network",
	"latency", "throughput", "benchmark", "queue", "delivery",
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
die(const char *what)
{
	fprintf(stderr, "gen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t
rng_next(struct rng *r)
{
	/* xorshift64*: small, fast and the same everywhere. */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 2685821657736338717ULL;
}

static size_t
rng_range(struct rng *r, size_t lo, size_t hi)
{
	return lo + (size_t)(rng_next(r) % (hi - lo + 1));
}

static void
out_write(struct out *o, const char *p, size_t n)
{
	mh_feed(&o->hash, p, n);
	if (fwrite(p, 1, n, o->f) != n)
		die("write");
	o->size += n;
}

static void
out_str(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

static void
out_headers(struct out *o, struct rng *r, unsigned long id, const char *kind)
{
	char	buf[1024];
	int	n;

	if (mbox != NULL) {
		n = snprintf(buf, sizeof(buf),
		    "Received: from mx%lu.example.org (mx%lu.example.org "
		    "[192.0.2.%lu])\n\tby mail.example.net with esmtps "
		    "(TLS1.3) id 1t%08lx-000%lu-AB\n\tfor bench@example.net;"
		    " Mon, %u Nov 2026 %02u:%02u:%02u +0000\n"
		    "Delivered-To: bench@example.net\n",
		    id % 97, id % 97, id % 250 + 1, id * 2654435761UL %
		    0xffffffffUL, id % 10, (unsigned)(1 + id % 28),
		    (unsigned)(id % 24), (unsigned)(id % 60),
		    (unsigned)(id * 7 % 60));
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			errno = ERANGE;
			die("headers");
		}
		out_write(o, buf, (size_t)n);
	}
	n = snprintf(buf, sizeof(buf),
	    "Return-Path: <sender%lu@example.org>\n"
	    "From: Sender %lu <sender%lu@example.org>\n"
	    "To: Bench User <bench@example.net>\n"
	    "Subject: %s message %lu about the %s %s\n"
	    "Date: Mon, %u Nov 2026 %02u:%02u:%02u +0000\n"
	    "Message-ID: <%lu.%016llx@bench.example.org>\n"
	    "MIME-Version: 1.0\n",
	    id % 97, id % 97, id % 97, kind, id,
	    words[rng_next(r) % NWORDS], words[rng_next(r) % NWORDS],
	    (unsigned)(1 + id % 28), (unsigned)(id % 24),
	    (unsigned)(id % 60), (unsigned)(id * 7 % 60), id,
	    (unsigned long long)rng_next(r));
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = ERANGE;
		die("headers");
	}
	out_write(o, buf, (size_t)n);
}

/* Text lines up to about want octets; some need dot-stuffing. */
static void
out_text(struct out *o, struct rng *r, size_t want)
{
	char	line[128];
	size_t	start = o->size, len;

	while (o->size - start < want) {
		uint64_t v = rng_next(r) % 100;

		if (v < 3) {
			out_str(o, v == 0 ? ".\n" : v == 1 ? "..\n" :
			    ".indented line that starts with a dot\n");
			continue;
		}
		if (v < 8) {
			out_str(o, "\n");
			continue;
		}
		len = 0;
		while (len < 60) {
			const char *w = words[rng_next(r) % NWORDS];
			size_t wl = strlen(w);

			memcpy(line + len, w, wl);
			len += wl;
			line[len++] = ' ';
		}
		line[len - 1] = '\n';
		out_write(o, line, len);
	}
}

/* A base64 attachment of about want octets, 76 columns. */
static void
out_base64(struct out *o, struct rng *r, size_t want)
{
	char	line[77];
	size_t	start = o->size, i;

	while (o->size - start < want) {
		uint64_t v = 0;

		for (i = 0; i < 76; i++) {
			if (i % 10 == 0)
				v = rng_next(r);
			line[i] = b64[v & 63];
			v >>= 6;
		}
		line[76] = '\n';
		out_write(o, line, sizeof(line));
	}
}

/* Text up to a total message size drawn from [lo, hi]. */
static void
out_fill(struct out *o, struct rng *r, size_t lo, size_t hi)
{
	size_t	target = rng_range(r, lo, hi);

	if (target > o->size)
		out_text(o, r, target - o->size);
}

static void
gen_body(struct out *o, struct rng *r, unsigned long id, int kind)
{
	static const char *kinds[] = { "normal", "big", "tiny", "mid" };

	out_headers(o, r, id, kinds[kind]);
	if (kind == 1) {
		out_str(o, "Content-Type: multipart/mixed; "
		    "boundary=\"=-bench-boundary\"\n\n"
		    "--=-bench-boundary\n"
		    "Content-Type: text/plain; charset=us-ascii\n\n");
		out_text(o, r, 4096);
		out_str(o, "\n--=-bench-boundary\n"
		    "Content-Type: application/octet-stream; name=data.bin\n"
		    "Content-Transfer-Encoding: base64\n"
		    "Content-Disposition: attachment; filename=data.bin\n\n");
		out_base64(o, r, GEN_BIG_SIZE - o->size - 64);
		out_str(o, "--=-bench-boundary--\n");
		return;
	}
	out_str(o, "Content-Type: text/plain; charset=us-ascii\n\n");
	if (kind == 0)
		out_fill(o, r, 2048, 200 * 1024);
	else if (kind == 3)
		out_fill(o, r, GEN_MID_SIZE, GEN_MID_SIZE);
	else if (mbox != NULL)
		out_fill(o, r, 500, 3072);
	else
		out_fill(o, r, 1024, 3072);
}

/* The From_ line, asctime's layout, then the message and an empty line. */
static void
gen_mbox(struct out *o, struct rng *r, unsigned long id, int kind)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };

	o->f = mbox;
	if (fprintf(mbox, "From sender%lu@example.org %s Nov %2u "
	    "%02u:%02u:%02u 2026\n", id % 97, days[(id % 28) % 7],
	    (unsigned)(1 + id % 28), (unsigned)(id % 24), (unsigned)(id % 60),
	    (unsigned)(id * 7 % 60)) < 0)
		die("mbox");
	gen_body(o, r, id, kind);
	if (putc('\n', mbox) == EOF)
		die("mbox");
}

static void
gen_one(const char *dir, FILE *man, uint64_t seed, unsigned long id,
    int kind)
{
	char		 path[PATH_MAX];
	struct out	 o = { NULL, { 0, 0, 0, 0 }, 0 };
	struct rng	 r;
	struct timeval	 tv[2];
	int		 n;

	r.s = (seed * 0x9E3779B97F4A7C15ULL) ^ (id + 1) * 0xD1B54A32D192ED03ULL;
	if (r.s == 0)
		r.s = 1;
	mh_init(&o.hash);
	if (mbox != NULL) {
		gen_mbox(&o, &r, id, kind);
		goto manifest;
	}
	n = snprintf(path, sizeof(path), "%s/cur/%lu.B%07luM0P0.bench:2,",
	    dir, 1700000000UL + id, id);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		die(dir);
	}
	if ((o.f = fopen(path, "w")) == NULL)
		die(path);
	gen_body(&o, &r, id, kind);
	if (fclose(o.f) == EOF)
		die(path);
	/* A fixed date: the same files wherever they are made. */
	tv[0].tv_sec = tv[1].tv_sec = (time_t)(1700000000 + id);
	tv[0].tv_usec = tv[1].tv_usec = 0;
	if (utimes(path, tv) == -1)
		die(path);
manifest:
	if (fprintf(man, "%016llx %zu\n", (unsigned long long)mh_final(&o.hash),
	    o.size) < 0)
		die("manifest");
}

static unsigned long
count_arg(const char *s)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > GEN_MAX_COUNT) {
		fprintf(stderr, "gen: %s: not a count (0 to %d)\n", s,
		    GEN_MAX_COUNT);
		exit(2);
	}
	return v;
}

static void
mkdirs(const char *dir)
{
	static const char *sub[] = { "", "/cur", "/new", "/tmp" };
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < 4; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s%s", dir,
		    sub[i]) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			die(dir);
		}
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			die(path);
	}
}

int
main(int argc, char *argv[])
{
	unsigned long	 n[4] = { 0, 0, 0, 0 }, i, id = 0;
	uint64_t	 seed = 8;
	FILE		*man;
	int		 ch, k, m = 0;

	while ((ch = getopt(argc, argv, "b:Mn:r:s:t:")) != -1) {
		switch (ch) {
		case 'b':
			n[1] = count_arg(optarg);
			break;
		case 'M':
			m = 1;
			break;
		case 'n':
			n[0] = count_arg(optarg);
			break;
		case 'r':
			n[3] = count_arg(optarg);
			break;
		case 's':
			seed = count_arg(optarg);
			break;
		case 't':
			n[2] = count_arg(optarg);
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		goto usage;
	if (m && (mbox = fopen(argv[0], "w")) == NULL)
		die(argv[0]);
	if (!m)
		mkdirs(argv[0]);
	if ((man = fopen(argv[1], "w")) == NULL)
		die(argv[1]);
	for (k = 0; k < 4; k++)
		for (i = 0; i < n[k]; i++)
			gen_one(argv[0], man, seed, id++, k);
	if (fclose(man) == EOF)
		die(argv[1]);
	if (m && fclose(mbox) == EOF)
		die(argv[0]);
	return 0;
usage:
	fprintf(stderr, "usage: gen [-s seed] [-n normal] [-b big] "
	    "[-t tiny] maildir manifest\n"
	    "       gen -M [-s seed] [-r mid] [-t tiny] mbox manifest\n");
	return 2;
}

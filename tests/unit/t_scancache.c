/*
 * The maildrop cache's image: what it writes is what it reads back, as
 * the list and as size hints, and no damage, truncation or forged field
 * makes the parser accept it or read out of bounds (run under ASan by
 * make sanitize).
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
#include "scancache.h"
#include "sizes.h"

static char	root[] = "/tmp/t_scancache.XXXXXX";

static void
put(const char *dir, const char *name, const char *data)
{
	char	path[512];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		abort();
	close(fd);
}

/* A fresh maildir structure to parse into, as a session has. */
static int
parse_copy(struct maildir *into, const struct scancache *sc,
    const char *img, size_t len)
{
	char	*buf;
	int	 r;

	if (maildir_open(into, root, 100) == -1)
		abort();
	if ((buf = maildir_alloc(into, len ? len : 1)) == NULL)
		abort();
	memcpy(buf, img, len);
	r = scancache_parse(into, sc, buf, len);
	return r;
}

static int
parses(const struct scancache *sc, const char *img, size_t len)
{
	struct maildir	md;
	int		r = parse_copy(&md, sc, img, len);

	maildir_close(&md);
	return r;
}

/* Changes octet at off to v and puts the checksum right again. */
static int
parses_forged(const struct scancache *sc, const char *img, size_t len,
    size_t off, unsigned char v)
{
	char		*b = malloc(len);
	uint64_t	 sum;
	int		 r;

	memcpy(b, img, len);
	b[off] = v;
	sum = scancache_sum(b, len - 8);
	memcpy(b + len - 8, &sum, 8);
	r = parses(sc, b, len);
	free(b);
	return r;
}

/* Parses a copy as size hints: 1, 0 or -1, and how many records. */
static int
hints(const char *img, size_t len, size_t *count)
{
	struct scancache sc;
	char		*buf = malloc(len ? len : 1);
	int		 r;

	memset(&sc, 0, sizeof(sc));
	memcpy(buf, img, len);
	r = scancache_parse_hints(&sc, buf, len);
	*count = sc.hints.count;
	scancache_done(&sc);
	free(buf);
	return r;
}

/* hints() of a copy with octet off changed to v, the checksum put right. */
static int
hints_forged(const char *img, size_t len, size_t off, unsigned char v)
{
	char		*b = malloc(len);
	uint64_t	 sum;
	size_t		 n;
	int		 r;

	memcpy(b, img, len);
	b[off] = v;
	sum = scancache_sum(b, len - 8);
	memcpy(b + len - 8, &sum, 8);
	r = hints(b, len, &n);
	free(b);
	return r;
}

static int
same_msgs(const struct maildir *a, const struct maildir *b)
{
	size_t	i;

	if (a->count != b->count || a->octets != b->octets)
		return 0;
	for (i = 0; i < a->count; i++) {
		const struct msg *x = &a->msgs[i], *y = &b->msgs[i];

		if (strcmp(x->name, y->name) != 0 || x->wire != y->wire ||
		    x->uidl_len != y->uidl_len ||
		    memcmp(x->uidl, y->uidl, x->uidl_len) != 0 ||
		    x->st_ino != y->st_ino || x->d_ino != y->d_ino ||
		    x->disk != y->disk || x->dir != y->dir ||
		    x->uniq_len != y->uniq_len ||
		    x->order_sec != y->order_sec ||
		    x->order_usec != y->order_usec)
			return 0;
	}
	return 1;
}

int
main(void)
{
	struct maildir		 md, back;
	struct scancache	 sc, other;
	struct sizes_stats	 st;
	char			 path[512], *img;
	size_t			 len, i, bad, n;

	if (mkdtemp(root) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/cur", root);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/new", root);
	mkdir(path, 0700);
	put("cur", "1600000001.M1P1.a:2,S", "A: b\n\nbody\n");
	put("cur", "1600000002.M1P1.a,W=99:2,", "A: b\n\n.\n");
	put("new", "1600000003.M1P1.a", "A: b\r\n\r\nx\r\n");
	/* Needs the digest form: a space. */
	put("new", "1600000004.M1 P1.a", "");

	if (maildir_open(&md, root, 100) == -1)
		abort();
	scancache_begin(&md, &sc);
	CHECK(sc.known);
	/* As if the scan had begun 3 seconds after the last change. */
	sc.began = (sc.cur_mtime > sc.new_mtime ? sc.cur_mtime :
	    sc.new_mtime) + 3000000000LL;
	CHECK(maildir_scan(&md) == 0 && md.count == 4);
	CHECK(sizes_fill(&md, NULL, &st) == 0);
	maildir_prune(&md);
	CHECK(maildir_uidls(&md) == 0);
	/* The moves changed the mtimes: begin again, as the next session. */
	scancache_begin(&md, &other);
	sc.cur_mtime = other.cur_mtime;
	sc.new_mtime = other.new_mtime;
	sc.began = (sc.cur_mtime > sc.new_mtime ? sc.cur_mtime :
	    sc.new_mtime) + 3000000000LL;

	img = scancache_image(&md, &sc, 1, &len);
	CHECK(img != NULL);
	CHECK(parse_copy(&back, &sc, img, len) == 1);
	CHECK(same_msgs(&md, &back));
	CHECK(back.msgs[1].size_from == SIZE_NAME && back.msgs[1].wire == 99);
	CHECK(back.msgs[3].uidl_len == 32);	/* the digest, stored */
	maildir_close(&back);

	/* The same image serves as size hints, whatever it was made for. */
	CHECK(hints(img, len, &n) == 1 && n == 4);
	CHECK(hints_forged(img, len, 64, img[64] ^ 1) == 1);	/* cur */
	CHECK(hints_forged(img, len, 88, img[88] ^ 1) == 1);	/* new */
	CHECK(hints_forged(img, len, 24, 99) == 1);		/* max */
	CHECK(hints_forged(img, len, 101, img[101] - 1) == 1);	/* young */
	/* ...but never another user's, nor a damaged or forged one. */
	CHECK(hints_forged(img, len, 16, 0x7f) == 0);		/* uid */
	CHECK(hints_forged(img, len, 0, 'X') == 0);		/* magic */
	CHECK(hints_forged(img, len, 32, 5) == 0);		/* count */
	CHECK(hints_forged(img, len, 42, 1) == 0);		/* reserved */
	CHECK(hints_forged(img, len, 104 + 47, 1) == 0);	/* wire */
	CHECK(hints_forged(img, len, 104 + 55, 8) == 0);	/* flags */
	for (i = 0, bad = 0; i < len; i++)
		bad += hints(img, i, &n) != 0;
	CHECK(bad == 0);
	for (i = 0, bad = 0; i < len; i++) {
		img[i] ^= 0x20;
		bad += hints(img, len, &n) != 0;
		img[i] ^= 0x20;
	}
	CHECK(bad == 0);
	/*
	 * The list flag is outside the checksum (a removal clears it in
	 * place): cleared, the image is hints only, still whole.
	 */
	CHECK(img[41] == 1);
	img[41] = 0;
	CHECK(parses(&sc, img, len) == 0 && hints(img, len, &n) == 1 &&
	    n == 4);
	img[41] = 2;
	CHECK(parses(&sc, img, len) == 0 && hints(img, len, &n) == 0);
	img[41] = 1;
	CHECK(parses(&sc, img, len) == 1);

	/* Every truncation and every extension is refused. */
	for (i = 0, bad = 0; i < len; i++)
		bad += parses(&sc, img, i) != 0;
	CHECK(bad == 0);
	img = realloc(img, len + 1);
	img[len] = 'x';
	CHECK(parses(&sc, img, len + 1) == 0);
	/* Every octet changed (the checksum left as it was) is refused. */
	for (i = 0, bad = 0; i < len; i++) {
		img[i] ^= 0x20;
		bad += parses(&sc, img, len) != 0;
		img[i] ^= 0x20;
	}
	CHECK(bad == 0);
	/* With the checksum forged, every header field still counts. */
	CHECK(parses_forged(&sc, img, len, 0, 'X') == 0);	/* magic */
	CHECK(parses_forged(&sc, img, len, 16, 0x7f) == 0);	/* uid */
	CHECK(parses_forged(&sc, img, len, 24, 99) == 0);	/* max */
	CHECK(parses_forged(&sc, img, len, 32, 5) == 0);	/* count */
	CHECK(parses_forged(&sc, img, len, 32, 3) == 0);
	CHECK(parses_forged(&sc, img, len, 39, 0x80) == 0);
	CHECK(parses_forged(&sc, img, len, 40, 2) == 0);	/* truncated */
	CHECK(parses_forged(&sc, img, len, 47, 1) == 0);	/* reserved */
	CHECK(parses_forged(&sc, img, len, 56, img[56] ^ 1) == 0); /* cur */
	CHECK(parses_forged(&sc, img, len, 64, img[64] ^ 1) == 0);
	CHECK(parses_forged(&sc, img, len, 88, img[88] ^ 1) == 0); /* new */
	/* A scan that began less than SCANCACHE_SETTLE_SEC after a change. */
	CHECK(parses_forged(&sc, img, len, 101, img[101] - 1) == 0);
	CHECK(parses_forged(&sc, img, len, 96, img[96]) == 1);
	/* Record fields: name length, UIDL length, flags, the NUL. */
	CHECK(parses_forged(&sc, img, len, 104 + 52, 0) == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 53, 0x7f) == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 54, 71) == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 54, 1) == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 55, 0) == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 55, 8) == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 56, '.') == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 57, '/') == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 57, '\0') == 0);
	CHECK(parses_forged(&sc, img, len, 104 + 56 + 21, 'x') == 0);
	/* A UIDL may not hold a space or CR: it goes on the wire. */
	CHECK(parses_forged(&sc, img, len, 104 + 56, ' ') == 0);
	/* A wire size beyond what the file size allows. */
	CHECK(parses_forged(&sc, img, len, 104 + 47, 1) == 0);
	/* Every single-octet forgery, checksum right: never a crash. */
	for (i = 0; i < len - 8; i++)
		(void)parses_forged(&sc, img, len, i, img[i] ^ 0xff);
	CHECK(1);
	/* Unknown directories (begin failed): nothing is trusted. */
	other = sc;
	other.known = 0;
	CHECK(parses(&other, img, len) == 0);
	/* Another message maximum: the list may be cut elsewhere. */
	md.max = 3;
	CHECK(parses(&sc, img, len) == 1);	/* parses() opens with 100 */
	free(img);
	img = scancache_image(&md, &sc, 1, &len);
	CHECK(img != NULL && parses(&sc, img, len) == 0);
	free(img);
	maildir_close(&md);

	/*
	 * A name with more digits after ".M" than a microsecond count has
	 * still makes a list the cache can read back (not one refused, and
	 * so rewritten, by every session).
	 */
	put("cur", "1600000007.M1234567P1.a:2,", "A: b\n\nlong M\n");
	if (maildir_open(&md, root, 100) == -1)
		abort();
	scancache_begin(&md, &sc);
	sc.began = (sc.cur_mtime > sc.new_mtime ? sc.cur_mtime :
	    sc.new_mtime) + 3000000000LL;
	CHECK(maildir_scan(&md) == 0 && md.count == 5);
	CHECK(sizes_fill(&md, NULL, &st) == 0);
	maildir_prune(&md);
	CHECK(maildir_uidls(&md) == 0);
	CHECK(md.msgs[4].order_sec == 1600000007 &&
	    md.msgs[4].order_usec == 123456);
	img = scancache_image(&md, &sc, 1, &len);
	CHECK(img != NULL && parses(&sc, img, len) == 1);
	free(img);
	maildir_close(&md);

	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		return 1;
	return check_done();
}

/*
 * The wire form against golden files: for each NAME.in in the directory
 * given, NAME.out is what RETR sends (with the final ".\r\n") and NAME.topN
 * what TOP n sends.  The size that STAT and LIST report is checked against
 * the golden RETR form with its dot-stuffing taken out.
 *
 * Then a differential test: the converter, which works a line at a time,
 * against the octet-at-a-time converter it replaced (kept here as the
 * reference), on random messages fed in random pieces, whole and with TOP.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "wire.h"

struct buf {
	char	*p;
	size_t	 len;
};

static void
collect(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;

	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* A window as large as an output buffer's: most lines in one piece. */
struct big_window {
	struct buf	*out;
	char		 buf[8192];
};

static char *
big_window(void *ctx, size_t n, size_t *room)
{
	struct big_window *bw = ctx;

	collect(bw->out, bw->buf, n);
	*room = sizeof(bw->buf);
	return bw->buf;
}

static int
slurp(const char *path, struct buf *b)
{
	FILE	*f = fopen(path, "rb");
	char	 tmp[4096];
	size_t	 n;

	b->p = NULL;
	b->len = 0;
	if (f == NULL)
		return -1;
	collect(b, "", 0);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		collect(b, tmp, n);
	fclose(f);
	return 0;
}

/* The wire form of in, fed in chunks of step octets. */
static struct buf
convert(const struct buf *in, uint64_t top, size_t step)
{
	struct wire		w;
	struct buf		out = { NULL, 0 };
	struct big_window	bw;
	size_t			off, n;

	collect(&out, "", 0);
	bw.out = &out;
	wire_init_window(&w, big_window, &bw, 1, top);
	for (off = 0; off < in->len && !wire_done(&w); off += n) {
		n = in->len - off < step ? in->len - off : step;
		wire_feed(&w, in->p + off, n);
	}
	wire_finish(&w);
	collect(&out, ".\r\n", 3);
	return out;
}

static int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Octets of a golden RETR form without the dot-stuffing and final dot. */
static uint64_t
unstuffed_size(const struct buf *b)
{
	uint64_t	size = b->len - 3;
	size_t		i;

	for (i = 0; i + 3 < b->len; i++)
		if ((i == 0 || b->p[i - 1] == '\n') && b->p[i] == '.')
			size--;
	return size;
}

static void
check_case(const char *dir, const char *name)
{
	char		 path[512], top[512], label[600];
	struct buf	 in, want, got;
	struct dirent	*d;
	DIR		*dp;
	uint64_t	 size;
	size_t		 steps[] = { 1, 2, 3, 7, 65536 }, i;
	int		 fd;

	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	slurp(path, &in);
	snprintf(path, sizeof(path), "%s/%s.out", dir, name);
	if (!CHECK(slurp(path, &want) == 0))
		return;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		got = convert(&in, UINT64_MAX, steps[i]);
		snprintf(label, sizeof(label), "RETR %s, chunks of %zu", name,
		    steps[i]);
		check_report(same(&got, &want), __FILE__, __LINE__, label);
		free(got.p);
	}
	snprintf(path, sizeof(path), "%s/%s.in", dir, name);
	fd = open(path, O_RDONLY);
	snprintf(label, sizeof(label), "size of %s", name);
	check_report(fd != -1 && wire_size_fd(fd, &size) == 0 &&
	    size == unstuffed_size(&want), __FILE__, __LINE__, label);
	close(fd);
	free(want.p);

	/* Every NAME.topN beside it. */
	dp = opendir(dir);
	while (dp != NULL && (d = readdir(dp)) != NULL) {
		size_t nl = strlen(name);
		if (strncmp(d->d_name, name, nl) != 0 ||
		    strncmp(d->d_name + nl, ".top", 4) != 0)
			continue;
		snprintf(top, sizeof(top), "%s/%s", dir, d->d_name);
		slurp(top, &want);
		got = convert(&in, strtoull(d->d_name + nl + 4, NULL, 10), 3);
		snprintf(label, sizeof(label), "TOP %s", d->d_name);
		check_report(same(&got, &want), __FILE__, __LINE__, label);
		free(got.p);
		free(want.p);
	}
	if (dp != NULL)
		closedir(dp);
	free(in.p);
}

/*
 * The reference: the converter as it was, an octet at a time, simple
 * enough to read as the specification.
 */
struct ref {
	struct buf	*out;
	int		dotstuff, at_bol, cr, in_body, done;
	size_t		linelen;
	uint64_t	body_lines, top_lines;
};

static void
ref_put(struct ref *r, char c)
{
	collect(r->out, &c, 1);
}

static void
ref_end_line(struct ref *r)
{
	ref_put(r, '\r');
	ref_put(r, '\n');
	if (!r->in_body && r->linelen == 0)
		r->in_body = 1;
	else if (r->in_body)
		r->body_lines++;
	r->at_bol = 1;
	r->linelen = 0;
}

static void
ref_begin_line(struct ref *r, char c)
{
	if (!r->at_bol)
		return;
	r->at_bol = 0;
	if (r->in_body && r->body_lines >= r->top_lines) {
		r->done = 1;
		return;
	}
	if (r->dotstuff && c == '.')
		ref_put(r, '.');
}

static struct buf
ref_convert(const char *p, size_t n, int dotstuff, uint64_t top)
{
	struct buf	out = { NULL, 0 };
	struct ref	r = { &out, dotstuff, 1, 0, 0, 0, 0, 0, top };
	size_t		i;
	char		c;

	collect(&out, "", 0);
	for (i = 0; i < n && !r.done; i++) {
		c = p[i];
		if (r.cr) {
			r.cr = 0;
			if (c == '\n') {
				ref_end_line(&r);
				continue;
			}
			ref_put(&r, '\r');
			r.linelen++;
		}
		if (c == '\n' || c == '\r') {
			ref_begin_line(&r, c);
			if (r.done)
				break;
			if (c == '\n')
				ref_end_line(&r);
			else
				r.cr = 1;
			continue;
		}
		ref_begin_line(&r, c);
		if (r.done)
			break;
		ref_put(&r, c);
		r.linelen++;
	}
	if (!r.done && (r.cr || !r.at_bol))
		ref_end_line(&r);
	return out;
}

/* A window of a few octets at a time, to cross its ends often. */
struct small_window {
	struct buf	*out;
	size_t		 size;
	char		 buf[64];
};

static char *
small_window(void *ctx, size_t n, size_t *room)
{
	struct small_window *sw = ctx;

	collect(sw->out, sw->buf, n);
	*room = sw->size;
	return sw->buf;
}

/* A random message: short lines of the octets that matter, often. */
static size_t
random_message(char *p, size_t max)
{
	static const char	alpha[] = "..\r\r\n\n\nab x";
	size_t			n, i;

	switch (rand() % 4) {
	case 0:
		n = rand() % 16;
		break;
	case 1:
		n = rand() % 200;
		break;
	default:
		n = rand() % max;
	}
	for (i = 0; i < n; i++) {
		if (rand() % 64 == 0 && n - i > 2) {
			memset(p + i, 'a' + rand() % 26, n - i - 2);
			i = n - 2;	/* a long line: base64, or longer */
		} else if (rand() % 8 == 0)
			p[i] = alpha[rand() % (sizeof(alpha) - 1)];
		else if (rand() % 3 == 0)
			p[i] = "\r\n."[rand() % 3];
		else
			p[i] = 'a' + rand() % 26;
	}
	return n;
}

/* in, fed in random pieces through a small window or (0) a big one. */
static struct buf
random_convert(const char *in, size_t len, int dotstuff, uint64_t top,
    size_t window)
{
	struct wire		w;
	struct small_window	sw;
	struct big_window	bw;
	struct buf		out = { NULL, 0 };
	size_t			off, n;

	collect(&out, "", 0);
	sw.out = bw.out = &out;
	sw.size = window;
	if (window > 0)
		wire_init_window(&w, small_window, &sw, dotstuff, top);
	else
		wire_init_window(&w, big_window, &bw, dotstuff, top);
	for (off = 0; off < len && !wire_done(&w); off += n) {
		n = rand() % 3 == 0 ? (size_t)(rand() % 4) :
		    rand() % (len - off + 1);
		if (n > len - off)
			n = len - off;
		wire_feed(&w, in + off, n);
	}
	wire_finish(&w);
	return out;
}

static void
check_differential(void)
{
	static char	 in[20000];
	struct buf	 want, got;
	size_t		 len, cases, bad = 0, badsize = 0, window;
	uint64_t	 top, size;
	int		 dotstuff, fd;
	FILE		*f;

	srand(8);
	for (cases = 0; cases < 20000; cases++) {
		len = random_message(in, cases % 50 == 0 ? sizeof(in) : 600);
		dotstuff = rand() % 4 != 0;
		top = rand() % 3 == 0 ? UINT64_MAX : (uint64_t)(rand() % 6);
		window = rand() % 2 ? 0 : (size_t)(1 + rand() % 40);
		want = ref_convert(in, len, dotstuff, top);
		got = random_convert(in, len, dotstuff, top, window);
		if (!same(&got, &want) && bad++ == 0)
			printf("# first difference: case %zu, %zu octets,"
			    " dotstuff %d, top %llu, window %zu\n", cases, len,
			    dotstuff, (unsigned long long)top, window);
		free(want.p);
		free(got.p);
		if (cases % 20 != 0)
			continue;
		/* The size: the whole form without dot-stuffing. */
		want = ref_convert(in, len, 0, UINT64_MAX);
		f = tmpfile();
		fd = f == NULL ? -1 : fileno(f);
		if (fd == -1 || write(fd, in, len) != (ssize_t)len ||
		    lseek(fd, 0, SEEK_SET) != 0 ||
		    wire_size_fd(fd, &size) == -1 || size != want.len)
			badsize++;
		if (f != NULL)
			fclose(f);
		free(want.p);
	}
	CHECK(bad == 0);
	CHECK(badsize == 0);
}

int
main(int argc, char **argv)
{
	const char	*dir = argc > 1 ? argv[1] : "tests/golden/wire";
	DIR		*dp = opendir(dir);
	struct dirent	*d;
	char		 name[256];
	size_t		 n;
	int		 cases = 0;

	if (!CHECK(dp != NULL))
		return check_done();
	while ((d = readdir(dp)) != NULL) {
		n = strlen(d->d_name);
		if (n < 4 || n > 200 || strcmp(d->d_name + n - 3, ".in") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 3), d->d_name);
		check_case(dir, name);
		cases++;
	}
	closedir(dp);
	CHECK(cases >= 10);
	check_differential();
	return check_done();
}

/*
 * The wire form against golden files: for each NAME.in in the directory
 * given, NAME.out is what RETR sends (with the final ".\r\n") and NAME.topN
 * what TOP n sends.  The size that STAT and LIST report is checked against
 * the golden RETR form with its dot-stuffing taken out.
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
	struct wire	w;
	struct buf	out = { NULL, 0 };
	size_t		off, n;

	collect(&out, "", 0);
	wire_init(&w, collect, &out, 1, top);
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
	return check_done();
}

/*
 * libFuzzer target for checked cdb files (lib/cdbcheck.c: users.cdb and
 * rules.cdb).  Input: a mode octet, a damage offset (2 octets,
 * little-endian) and value, then "key=value" lines.  Odd modes take the
 * rest of the input as a whole file: whatever it holds, opening, looking
 * up and walking stay within it.  Even modes write the lines' records
 * (first of each key) with cdbcheck_put, change the octet at the offset
 * (modulo the size) by the value, and look every key up, and keys that
 * are not there: each answer is the true one or -2, never another value,
 * never "not found" for a key that is there, never a key that is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cdbcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define RECS_MAX	64

struct rec {
	const uint8_t	*key, *val;
	unsigned	 klen, vlen;
};

static size_t
split(const uint8_t *p, size_t n, struct rec *r)
{
	const uint8_t	*end = p + n, *nl, *eq;
	size_t		 nr = 0, i;

	while (p < end && nr < RECS_MAX) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		if ((eq = memchr(p, '=', nl - p)) != NULL) {
			r[nr].key = p;
			r[nr].klen = eq - p;
			r[nr].val = eq + 1;
			r[nr].vlen = nl - eq - 1;
			for (i = 0; i < nr; i++)
				if (r[i].klen == r[nr].klen &&
				    memcmp(r[i].key, r[nr].key, r[i].klen) == 0)
					break;
			if (i == nr)
				nr++;
		}
		p = nl + 1;
	}
	return nr;
}

/* Every record a walk gives is whole and checked: no crash, no loop. */
static void
walk(struct cdb *c)
{
	const unsigned char	*k, *v;
	unsigned		 pos = 2048, kl, vl, last;
	int			 r;

	do {
		last = pos;
		r = cdbcheck_next(c, &pos, &k, &kl, &v, &vl);
		if (r == 1 && pos <= last)
			abort();
	} while (r == 1);
}

static void
whole_file(int fd, const uint8_t *data, size_t size)
{
	struct cdb		 c;
	const unsigned char	*v;
	unsigned		 vl;

	if (write(fd, data, size) != (ssize_t)size)
		return;
	if (cdbcheck_init(&c, fd) != 0)
		return;
	(void)cdbcheck_find(&c, data, size < 16 ? size : 16, &v, &vl);
	(void)cdbcheck_find(&c, "", 0, &v, &vl);
	walk(&c);
	cdb_free(&c);
}

static void
lookup(struct cdb *c, const struct rec *r, size_t nr, const uint8_t *key,
    unsigned klen)
{
	const unsigned char	*v;
	unsigned		 vl;
	size_t			 i;
	int			 got;

	for (i = 0; i < nr; i++)
		if (r[i].klen == klen && memcmp(r[i].key, key, klen) == 0)
			break;
	got = cdbcheck_find(c, key, klen, &v, &vl);
	if (got == -2)
		return;
	if (i == nr ? got != 0 : got != 1 || vl != r[i].vlen ||
	    memcmp(v, r[i].val, vl) != 0)
		abort();
}

static void
damaged(int fd, const uint8_t *data, size_t size)
{
	static uint8_t		 file[1 << 20];
	struct rec		 r[RECS_MAX];
	struct cdb_make		 cm;
	struct cdb		 c;
	size_t			 nr, i, off, len;
	uint8_t			 absent[2] = { 0xff, 0 };

	nr = split(data + 4, size - 4, r);
	if (cdb_make_start(&cm, fd) != 0)
		return;
	for (i = 0; i < nr; i++)
		if (cdbcheck_put(&cm, r[i].key, r[i].klen, r[i].val, r[i].vlen,
		    CDB_PUT_ADD) != 0)
			abort();
	if (cdb_make_finish(&cm) != 0)
		abort();
	len = lseek(fd, 0, SEEK_END);
	if (len > sizeof(file) || pread(fd, file, len, 0) != (ssize_t)len)
		return;
	off = (data[1] | data[2] << 8) % len;
	file[off] ^= data[3];
	if (pwrite(fd, file, len, 0) != (ssize_t)len)
		abort();
	if (cdbcheck_init(&c, fd) != 0)
		return;
	for (i = 0; i < nr; i++) {
		lookup(&c, r, nr, r[i].key, r[i].klen);
		/* The key less its last octet: often absent. */
		if (r[i].klen > 0)
			lookup(&c, r, nr, r[i].key, r[i].klen - 1);
	}
	for (i = 0; i < 256; i++) {
		absent[1] = i;
		lookup(&c, r, nr, absent, 2);
	}
	walk(&c);
	cdb_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	fd;

	if (size < 4 || size > 65536)
		return 0;
	if ((fd = memfd_create("fuzz_cdbcheck", 0)) == -1)
		abort();
	if (data[0] & 1)
		whole_file(fd, data + 1, size - 1);
	else
		damaged(fd, data, size);
	close(fd);
	return 0;
}

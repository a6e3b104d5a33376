#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cdbcheck.h"

/* tinycdb's layout: the table of contents, then the data, then tables. */
#define TOC_LEN		2048

uint64_t
cdbcheck_fnv(uint64_t h, const void *buf, size_t n)
{
	const unsigned char	*p = buf;

	if (h == 0)
		h = 0xcbf29ce484222325ULL;
	while (n-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

uint64_t
cdbcheck_sum(const void *key, size_t klen, const void *val, size_t vlen)
{
	unsigned char	len[4];
	uint64_t	h;

	/* The lengths too, so that no octet can pass from key to value. */
	cdb_pack(klen, len);
	h = cdbcheck_fnv(0, len, sizeof(len));
	h = cdbcheck_fnv(h, key, klen);
	cdb_pack(vlen, len);
	h = cdbcheck_fnv(h, len, sizeof(len));
	return cdbcheck_fnv(h, val, vlen);
}

int
cdbcheck_put(struct cdb_make *cm, const void *key, unsigned klen,
    const void *val, unsigned vlen, enum cdb_put_mode mode)
{
	unsigned char	 small[1024], *buf = small;
	uint64_t	 sum = cdbcheck_sum(key, klen, val, vlen);
	int		 i, r;

	if (vlen > sizeof(small) - CDBCHECK_LEN &&
	    (buf = malloc(vlen + CDBCHECK_LEN)) == NULL)
		return -1;
	memcpy(buf, val, vlen);
	for (i = 0; i < CDBCHECK_LEN; i++)
		buf[vlen + i] = (sum >> (56 - 8 * i)) & 0xff;
	r = cdb_make_put(cm, key, klen, buf, vlen + CDBCHECK_LEN, mode);
	/* Values hold password hashes and APOP secrets. */
	explicit_bzero(buf, vlen + CDBCHECK_LEN);
	if (buf != small)
		free(buf);
	return r;
}

int
cdbcheck_init(struct cdb *c, int fd)
{
	const unsigned char	*toc;
	struct stat		 st;
	uint64_t		 end;
	unsigned		 t;

	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	if (st.st_size < TOC_LEN || st.st_size > UINT32_MAX)
		return -2;
	if (cdb_init(c, fd) != 0)
		return errno == EPROTO ? -2 : -1;
	if ((toc = cdb_get(c, TOC_LEN, 0)) == NULL)
		goto bad;
	/* cdb_make_finish writes table 0 to 255 in turn after the data. */
	end = cdb_unpack(toc);
	if (end < TOC_LEN)
		goto bad;
	for (t = 0; t < 256; t++) {
		if (cdb_unpack(toc + 8 * t) != end ||
		    cdb_unpack(toc + 8 * t + 4) % 2 != 0)
			goto bad;
		end += 8 * (uint64_t)cdb_unpack(toc + 8 * t + 4);
	}
	if (end != (uint64_t)st.st_size)
		goto bad;
	return 0;
bad:
	cdb_free(c);
	return -2;
}

/*
 * The record at pos, whole within the data (before dend), its check
 * holding: 1 with its key and value (less the check), or -2.
 */
static int
cdbcheck_record(const struct cdb *c, unsigned pos, unsigned dend,
    const unsigned char **key, unsigned *klen, const unsigned char **val,
    unsigned *vlen)
{
	const unsigned char	*p, *v;
	uint64_t		 sum;
	unsigned		 kl, vl;
	int			 i;

	if (pos < TOC_LEN || pos > dend || dend - pos < 8 ||
	    (p = cdb_get(c, 8, pos)) == NULL)
		return -2;
	kl = cdb_unpack(p);
	vl = cdb_unpack(p + 4);
	if (vl < CDBCHECK_LEN ||
	    (uint64_t)kl + vl > (uint64_t)(dend - pos - 8) ||
	    (p = cdb_get(c, kl + vl, pos + 8)) == NULL)
		return -2;
	vl -= CDBCHECK_LEN;
	v = p + kl;
	sum = cdbcheck_sum(p, kl, v, vl);
	for (i = 0; i < CDBCHECK_LEN; i++)
		if (v[vl + i] != ((sum >> (56 - 8 * i)) & 0xff))
			return -2;
	*key = p;
	*klen = kl;
	*val = v;
	*vlen = vl;
	return 1;
}

/* Does the table of n slots hold n / 2 records, as cdb makes it? */
static int
cdbcheck_full(const unsigned char *tab, unsigned n)
{
	unsigned	i, used = 0;

	for (i = 0; i < n; i++)
		used += cdb_unpack(tab + 8 * i + 4) != 0;
	return used == n / 2;
}

int
cdbcheck_find(const struct cdb *c, const void *key, unsigned klen,
    const unsigned char **val, unsigned *vlen)
{
	const unsigned char	*toc, *tab, *s, *k, *v;
	unsigned		 h = cdb_hash(key, klen), t = h & 255;
	unsigned		 n, i, dend, sh, sp, kl, vl;

	if ((toc = cdb_get(c, TOC_LEN, 0)) == NULL)
		return -2;
	dend = cdb_unpack(toc);
	if ((n = cdb_unpack(toc + 8 * t + 4)) == 0)
		return 0;	/* cdbcheck_init saw that it has no slot */
	if ((tab = cdb_get(c, 8 * n, cdb_unpack(toc + 8 * t))) == NULL)
		return -2;
	for (i = 0; i < n; i++) {
		s = tab + 8 * (((h >> 8) % n + i) % n);
		sh = cdb_unpack(s);
		sp = cdb_unpack(s + 4);
		if (sp == 0)
			return sh == 0 && cdbcheck_full(tab, n) ? 0 : -2;
		if (cdbcheck_record(c, sp, dend, &k, &kl, &v, &vl) != 1 ||
		    cdb_hash(k, kl) != sh || (sh & 255) != t)
			return -2;
		if (sh == h && kl == klen && memcmp(k, key, klen) == 0) {
			*val = v;
			*vlen = vl;
			return 1;
		}
	}
	return -2;	/* no empty slot: cdb leaves half of them empty */
}

int
cdbcheck_next(const struct cdb *c, unsigned *pos, const unsigned char **key,
    unsigned *klen, const unsigned char **val, unsigned *vlen)
{
	const unsigned char	*toc;
	unsigned		 dend;

	if ((toc = cdb_get(c, TOC_LEN, 0)) == NULL)
		return -2;
	dend = cdb_unpack(toc);
	if (*pos == dend)
		return 0;
	if (cdbcheck_record(c, *pos, dend, key, klen, val, vlen) != 1)
		return -2;
	*pos += 8 + *klen + *vlen + CDBCHECK_LEN;
	return 1;
}

int
cdbcheck_verify(const struct cdb *c, unsigned long *n)
{
	const unsigned char	*k, *v, *fv;
	unsigned		 pos = TOC_LEN, kl, vl, fl;
	int			 r;

	*n = 0;
	while ((r = cdbcheck_next(c, &pos, &k, &kl, &v, &vl)) == 1) {
		if (cdbcheck_find(c, k, kl, &fv, &fl) != 1 || fv != v ||
		    fl != vl)
			return -2;
		++*n;
	}
	return r;
}

/*
 * libFuzzer target for the size cache's record reader.  The input is a
 * key length (one octet), the key and a value, read as sizes.c reads a
 * record of pop3d-sizes.cdb: whatever they hold, a record is accepted only
 * when it is exactly what sizes_record_make writes for that key and those
 * sizes, and the sizes are possible.  Then the same key and sizes made into
 * a record, one octet of it changed by the input: never accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "le64.h"
#include "sizes.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sizes_record	 r, again;
	unsigned char		 key[SIZES_KEY_MAX], v[SIZES_VALUE];
	size_t			 klen, vlen, off;

	if (len < 1)
		return 0;
	klen = data[0];
	if (klen > len - 1 || klen > SIZES_KEY_MAX)
		return 0;
	memcpy(key, data + 1, klen);
	vlen = len - 1 - klen;
	if (sizes_record_parse(key, klen, data + 1 + klen, vlen, &r) == 1) {
		if (vlen != SIZES_VALUE || r.wire < r.disk ||
		    r.wire > 2 * r.disk + 2)
			abort();
		sizes_record_make(key, klen, &r, v);
		if (memcmp(v, data + 1 + klen, SIZES_VALUE) != 0)
			abort();
	}
	/* A record made from the input, damaged where the input says. */
	if (klen <= 8 || vlen < 26)
		return 0;
	r.disk = le64_get(data + 1 + klen) >> 2;
	r.wire = r.disk + data[len - 1] % 3;	/* a CRLF at most */
	r.mtime_ns = (int64_t)le64_get(data + 1 + klen + 8);
	sizes_record_make(key, klen, &r, v);
	if (sizes_record_parse(key, klen, v, SIZES_VALUE, &again) != 1 ||
	    again.disk != r.disk || again.wire != r.wire ||
	    again.mtime_ns != r.mtime_ns)
		abort();
	off = data[len - 2] % (klen + SIZES_VALUE);
	if (data[len - 3] % 7 == 0)
		return 0;
	if (off < klen)
		key[off] = (unsigned char)(key[off] + data[len - 3] % 7);
	else
		v[off - klen] = (unsigned char)(v[off - klen] +
		    data[len - 3] % 7);
	if (sizes_record_parse(key, klen, v, SIZES_VALUE, &again) == 1)
		abort();
	return 0;
}

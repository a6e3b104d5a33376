/*
 * The little-endian 64-bit fields of pop3d-maildrop's cache files (the
 * maildrop cache's header and records).
 */
#ifndef POP3D_LE64_H
#define POP3D_LE64_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
le64_get(const void *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline void
le64_put(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

#endif

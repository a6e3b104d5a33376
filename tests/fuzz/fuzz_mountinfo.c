/*
 * libFuzzer target for the mountinfo parser (lib/fsshare.c): whatever
 * the octets, a line it finds has a type of at most FSTYPE_MAX octets,
 * NUL-terminated, and a judgement of the four; a type that is not a
 * network one is judged local with no reason given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsshare.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fsmount	m;
	uint64_t	id;

	if (len < 1)
		return 0;
	/* The first octet picks what is looked for: an id, or a device. */
	id = data[0] & 0x80 ? 0 : data[0];
	memset(&m, 0xa5, sizeof(m));
	if (fsshare_find((const char *)data + 1, len - 1, id, data[0] & 7,
	    data[0] >> 3 & 15, &m) == 1) {
		if (memchr(m.fstype, '\0', sizeof(m.fstype)) == NULL ||
		    strlen(m.fstype) > FSTYPE_MAX)
			abort();
		if (m.share != FS_LOCAL && m.share != FS_SHARED &&
		    m.share != FS_HOSTLOCAL && m.share != FS_UNKNOWN)
			abort();
		if ((m.share == FS_LOCAL || m.share == FS_SHARED) !=
		    (m.why[0] == '\0'))
			abort();
		/* One host's type is never a network one's. */
		if (m.one_host && (m.share != FS_LOCAL || m.server_clock))
			abort();
		if ((m.flock_share == FS_LOCAL || m.flock_share == FS_SHARED) !=
		    (m.flock_why[0] == '\0'))
			abort();
	}
	return 0;
}

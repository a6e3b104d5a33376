/*
 * libFuzzer target for expire_seen_name, the reader of a Maildir name's
 * ":2," info that adds the seen flag.  Whatever the name: the result
 * fits the buffer and is NUL-terminated; a name it changes gets exactly
 * one 'S' more, keeps the name up to its first ':' and the other flags
 * in their order; and the new name, read again, needs no change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
count_s(const char *p)
{
	size_t	n = 0;

	for (; *p != '\0'; p++)
		n += *p == 'S';
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	name[300], out[260], again[260];
	size_t	room, ul;
	int	r;

	if (len == 0 || len >= sizeof(name))
		return 0;
	room = 1 + data[0] % sizeof(out);	/* a buffer of any size */
	memcpy(name, data + 1, len - 1);
	name[len - 1] = '\0';
	r = expire_seen_name(name, out, room);
	if (r != 1)
		return 0;
	if (strlen(out) >= room || count_s(out) != count_s(name) + 1)
		abort();
	ul = strcspn(name, ":");
	if (strncmp(out, name, ul) != 0 || out[ul] != ':')
		abort();
	if (expire_seen_name(out, again, sizeof(again)) != 0)
		abort();
	return 0;
}

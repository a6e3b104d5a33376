/*
 * libFuzzer target for the courierpop3dsizelist parser (migrate.h):
 * whatever the input, every record's base name lies within it, is 1 to
 * NAME_MAX octets without '/' or ':', and its UIDL is Courier's
 * "UID<n>[-<v>]", which can go on the wire.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct in {
	const char	*buf;
	size_t		 len;
};

static int
check(void *arg, const struct dovecot_head *h, const struct dovecot_rec *r)
{
	const struct in	*in = arg;

	if (h != NULL || r->name < in->buf || r->name_len == 0 ||
	    r->name_len > NAME_MAX || r->name + r->name_len > in->buf +
	    in->len || memchr(r->name, '/', r->name_len) != NULL ||
	    memchr(r->name, ':', r->name_len) != NULL ||
	    !maildir_uidl_plain(r->pop3, r->pop3_len) ||
	    strncmp(r->pop3, "UID", 3) != 0 || r->pop3[3] == '0')
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct in	 in;
	char		*buf;
	size_t		 skipped = 0;

	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	in.buf = buf;
	in.len = len;
	(void)courier_sizelist_parse(buf, len, check, &in, &skipped);
	free(buf);
	return 0;
}

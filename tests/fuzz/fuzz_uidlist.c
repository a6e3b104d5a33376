/*
 * libFuzzer target for the parsers of UIDLs carried over (migrate.h):
 * the same input as a dovecot-uidlist and as a pop3d-uidl.map.  Whatever
 * it holds, every record's texts lie within the input, a base name is 1
 * to NAME_MAX octets without '/' or ':', a map's UIDL can go on the wire,
 * and expanding a format either fails or gives text that fits.
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

static void
within(const struct in *in, const char *p, size_t n)
{
	if (p == NULL)
		return;
	if (p < in->buf || n > in->len || p + n > in->buf + in->len)
		abort();
}

static int
check(void *arg, const struct dovecot_head *h, const struct dovecot_rec *r)
{
	static const char *fmts[] = { DOVECOT_UIDL_FORMAT_DEFAULT, "%f",
	    "%g", "%08XUu-%Lf", "%3g%v" };
	const struct in	*in = arg;
	char		 out[UIDL_MAX + 1];
	size_t		 i;
	int		 n;

	within(in, r->name, r->name_len);
	within(in, r->guid, r->guid_len);
	within(in, r->pop3, r->pop3_len);
	if (r->name_len == 0 || r->name_len > NAME_MAX ||
	    memchr(r->name, '/', r->name_len) != NULL ||
	    memchr(r->name, ':', r->name_len) != NULL)
		abort();
	if (h == NULL) {
		if (!maildir_uidl_plain(r->pop3, r->pop3_len))
			abort();
		return 0;
	}
	if (h->version < 1 || h->version > 3 || h->uidvalidity == 0 ||
	    r->uid == 0)
		abort();
	for (i = 0; i < sizeof(fmts) / sizeof(*fmts); i++) {
		n = dovecot_uidl_expand(fmts[i], h, r, out, sizeof(out));
		if (n > UIDL_MAX || (n >= 0 && out[n] != '\0'))
			abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct in	 in;
	char		*buf;
	size_t		 skipped = 0;

	/* A copy of its own size, so that ASan sees any read past it. */
	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	in.buf = buf;
	in.len = len;
	(void)dovecot_uidlist_parse(buf, len, check, &in, &skipped);
	(void)uidmap_parse(buf, len, check, &in, &skipped);
	free(buf);
	return 0;
}

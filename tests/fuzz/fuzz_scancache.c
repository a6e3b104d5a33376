/*
 * libFuzzer target for the maildrop cache's parser, both jobs.  The header
 * is made to match the directories and the checksum is put right, so that
 * the fuzzer spends its time on the records: whatever they hold, a parse
 * as the list either refuses the image or yields messages whose names lie
 * within it, end with a NUL and hold no '/', and whose UIDLs can go on the
 * wire; a parse as size hints accepts every image the list parse accepts
 * (and, UIDLs unchecked, others), and every hint it yields is found again
 * by its own identity with a size a message of its length can have.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "le64.h"
#include "scancache.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_list(const struct maildir *md, const char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i < md->count; i++) {
		const struct msg *m = &md->msgs[i];

		if (m->name < buf || m->name >= buf + len ||
		    memchr(m->name, '\0', buf + len - m->name) == NULL ||
		    strchr(m->name, '/') != NULL ||
		    !maildir_uidl_plain(m->uidl, m->uidl_len) ||
		    m->uniq_len > strlen(m->name))
			abort();
	}
}

static void
check_hints(const struct sizes_hints *h)
{
	const struct msg *r, *found;
	size_t		 i;

	for (i = 0; i < h->count; i++) {
		r = &h->recs[i];
		found = sizes_hint_find(h, r);
		if (r->size_from == SIZE_NAME) {
			if (found != NULL && found->size_from == SIZE_NAME)
				abort();
			continue;
		}
		/* Past HINT_PROBES namesakes a record is left out. */
		if (found == NULL && i >= 64)
			continue;
		if (found == NULL || found->st_ino != r->st_ino ||
		    found->disk != r->disk || found->mtime_ns != r->mtime_ns ||
		    found->wire < found->disk ||
		    found->wire > 2 * found->disk + 2)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct maildir		md;
	struct scancache	sc;
	char			*buf;
	uint64_t		sum;
	int			list, as_hints;

	memset(&md, 0, sizeof(md));
	md.fd = md.curfd = md.newfd = md.lockfd = -1;
	md.max = 1000;
	memset(&sc, 0, sizeof(sc));
	sc.known = 1;
	sc.cur_ino = 2;
	sc.new_ino = 3;
	sc.cur_mtime = sc.new_mtime = 1000000000000000000LL;
	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	if (len >= 104 + 8) {
		memcpy(buf, "pop3d-scan-2\0\0\0", 16);
		le64_put(buf + 16, geteuid());
		le64_put(buf + 24, md.max);
		le64_put(buf + 32, le64toh(*(uint64_t *)(buf + 32)) % 1100);
		buf[40] &= 1;
		buf[41] = 1;
		memset(buf + 42, 0, 6);
		le64_put(buf + 48, 0);
		le64_put(buf + 56, 2);
		le64_put(buf + 64, sc.cur_mtime);
		le64_put(buf + 72, 0);
		le64_put(buf + 80, 3);
		le64_put(buf + 88, sc.new_mtime);
		le64_put(buf + 96, sc.cur_mtime + 3000000000LL);
		sum = htole64(scancache_sum(buf, len - 8));
		memcpy(buf + len - 8, &sum, 8);
	}
	if ((list = scancache_parse(&md, &sc, buf, len)) == 1) {
		check_list(&md, buf, len);
		free(md.msgs);
	}
	if ((as_hints = scancache_parse_hints(&sc, buf, len)) == 1)
		check_hints(&sc.hints);
	if (list == 1 && as_hints == 0)
		abort();
	scancache_done(&sc);
	free(buf);
	return 0;
}

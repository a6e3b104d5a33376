/*
 * libFuzzer target for the mbox index's parser (mbox_cache_parse, the
 * core of mbox_cache_load).  With the first octet odd, the header is made
 * to match the mbox and the checksum put right, so that the fuzzer spends
 * its time on the records; else the octets are taken as they come (almost
 * all refused by the checksum).  Whatever they hold, an accepted image
 * yields messages a parse could have made: in file order, the first at 0,
 * each From_ line followed by what is served, within the recorded size,
 * wire sizes a message of that length can have, UIDLs fit to send; and
 * every record is given, none when the image is refused.  With the
 * second octet odd too, the image is also written to a file and loaded
 * by mbox_cache_load, which reads it once through its buffer in pieces,
 * giving each record as read: it accepts it exactly when the parse of the
 * image does, with the same messages; when it refuses it, the records it
 * gave before it found out (the caller drops them) were each still fit.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "le64.h"
#include "log.h"
#include "maildir.h"
#include "mbox_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct seen {
	uint64_t	size, end;
	size_t		n;
};

static int
check(void *arg, const struct mbox_found *f)
{
	struct seen	*s = arg;

	if ((s->n == 0 ? f->from_off != 0 : f->from_off < s->end + 1 ||
	    f->from_off > s->end + 2) || f->off < f->from_off + 5 ||
	    f->off > s->size || f->len > s->size - f->off ||
	    f->wire < f->len || f->wire > 2 * f->len + 2 ||
	    !maildir_uidl_plain(f->uidl, f->uidl_len) ||
	    f->uidl[f->uidl_len] != '\0' || (f->internal && s->n != 0))
		abort();
	s->end = f->off + f->len;
	s->n++;
	return 0;
}

static void
quiet(const char *line, size_t n)
{
	(void)line;
	(void)n;
}

static int	cdir = -1;
static char	dir[] = "/tmp/fuzz_mbox_cache.XXXXXX";

static void
cleanup(void)
{
	(void)unlinkat(cdir, "c", 0);
	(void)rmdir(dir);
}

/* The image as a file in a directory of the run's own: the load's answer. */
static int
load(const char *buf, size_t len, const struct stat *st, struct seen *s)
{
	uint64_t	 resume;
	int		 fd;

	if (cdir == -1) {
		log_to_sink(quiet);
		if (mkdtemp(dir) == NULL ||
		    (cdir = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
			abort();
		atexit(cleanup);
	}
	fd = openat(cdir, "c", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, buf, len) != (ssize_t)len)
		abort();
	close(fd);
	return mbox_cache_load(cdir, "c", -1, st, check, s, &resume);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct stat	 st;
	struct seen	 s = { 0, 0, 0 };
	char		*buf;
	uint64_t	 k, size;
	long		 r;

	memset(&st, 0, sizeof(st));
	st.st_dev = 1;
	st.st_ino = 2;
	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	if (len >= 152 + 8 && (data[0] & 1)) {
		memcpy(buf, "pop3d-mbox-1\0\0\0", 16);
		le64_put(buf + 16, MBOX_PARSE_VERSION);
		le64_put(buf + 24, geteuid());
		le64_put(buf + 32, le64_get(buf + 32) % 64);
		le64_put(buf + 40, 1);
		le64_put(buf + 48, 2);
		size = le64_get(buf + 56) % 100000;
		le64_put(buf + 56, size);
		k = size < 64 ? size : 64;
		le64_put(buf + 64, 0);		/* mtime and ctime: st's */
		le64_put(buf + 72, 0);
		le64_put(buf + 80, k);
		memset(buf + 88 + k, 0, 64 - k);
		le64_put(buf + len - 8, mbox_cache_sum(buf, len - 8));
	}
	if (len >= 152)
		s.size = le64_get(buf + 56);
	r = mbox_cache_parse(buf, len, &st, check, &s);
	if (r == -1 ? s.n != 0 : r < 0 || (size_t)r != s.n)
		abort();
	if (r > 0 && s.size - s.end > 2)
		abort();
	if (len >= 152 + 8 && (data[0] & 1) && (data[1] & 1)) {
		st.st_size = (off_t)s.size;
		s.n = 0;
		s.end = 0;
		if (load(buf, len, &st, &s) !=
		    (r >= 0 ? MBOX_CACHE_WHOLE : MBOX_CACHE_NONE) ||
		    (r >= 0 && s.n != (size_t)r))
			abort();
	}
	free(buf);
	return 0;
}

/*
 * The penalty box on disk: one small text file per client address
 * (DESIGN.md shows one), replaced whole (lib/atomic) under an OFD lock on
 * dir/.lock, read without a lock.  Its lines, in this order: "pop3d-penalty
 * 1"; at most one "block failures|hostile UNTIL"; up to PENALTY_USERS_MAX
 * "user UNTIL NAME" (NAME with "%" and every octet outside 0x21-0x7E as
 * %XX); up to PENALTY_ADDRESS_MAX "fail WHEN HASH" (FNV-1a of the user
 * name, the name itself is not kept; 0 once the failure has blocked its
 * user); up to PENALTY_ATTEMPTS_MAX "try WHEN HASH SLOT" (SLOT missing in
 * records of older versions, whose attempts then count no more); "end",
 * so that a cut-off record shows as one.  Times are seconds since the
 * epoch.  Anything else makes the record corrupt: it counts as no record,
 * is logged, and the next update replaces it.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "atomic.h"
#include "lock.h"
#include "io.h"
#include "log.h"
#include "num.h"
#include "penalty_record.h"

#define PENALTY_MAGIC	"pop3d-penalty 1"
#define PENALTY_LOCK	".lock"

#define PENALTY_TIME_DIGITS	13
_Static_assert(sizeof(time_t) >= 8, "penalty times need a 64-bit time_t");

/* The longest line of each kind, and so the longest record we write. */
#define PENALTY_LINE_BLOCK	(sizeof("block failures \n") - 1 + \
				    PENALTY_TIME_DIGITS)
#define PENALTY_LINE_USER	(sizeof("user  \n") - 1 + \
				    PENALTY_TIME_DIGITS + 3 * POP3_USER_MAX)
#define PENALTY_LINE_FAIL	(sizeof("fail  \n") - 1 + \
				    PENALTY_TIME_DIGITS + 16)
#define PENALTY_LINE_TRY	(sizeof("try   \n") - 1 + \
				    PENALTY_TIME_DIGITS + 16 + 10)
#define PENALTY_RECORD_MAX	(sizeof(PENALTY_MAGIC "\nend\n") - 1 + \
				    PENALTY_LINE_BLOCK + \
				    PENALTY_USERS_MAX * PENALTY_LINE_USER + \
				    PENALTY_FAILS_MAX * PENALTY_LINE_FAIL + \
				    PENALTY_ATTEMPTS_MAX * PENALTY_LINE_TRY)

/* ---- the text form ---- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* dst holds 3 * POP3_USER_MAX + 1. */
static void
name_escape(char *dst, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c > 0x20 && c < 0x7f && c != '%') {
			*dst++ = c;
			continue;
		}
		*dst++ = '%';
		*dst++ = hex[c >> 4];
		*dst++ = hex[c & 15];
	}
	*dst = '\0';
}

/* dst holds POP3_USER_MAX + 1; 0, or -1 for anything we never write. */
static int
name_unescape(char *dst, const char *s)
{
	size_t	n = 0;
	int	hi, lo;

	for (; *s != '\0'; s++) {
		if (n == POP3_USER_MAX)
			return -1;
		if (*s == '%') {
			if ((hi = hexval(s[1])) == -1 ||
			    (lo = hexval(s[2])) == -1 || hi + lo == 0)
				return -1;
			dst[n++] = hi << 4 | lo;
			s += 2;
		} else if (*s > 0x20 && *s < 0x7f)
			dst[n++] = *s;
		else
			return -1;
	}
	dst[n] = '\0';
	return 0;
}

static int
time_parse(const char *s, time_t *t)
{
	uint64_t	v;

	if (num_parse(s, 0, PENALTY_TIME_MAX, &v) == -1)
		return -1;
	*t = (time_t)v;
	return 0;
}

/* Exactly 16 lowercase hex digits. */
static int
hash_parse(const char *s, uint64_t *h)
{
	if (strspn(s, "0123456789abcdef") != 16 || s[16] != '\0')
		return -1;
	*h = strtoull(s, NULL, 16);
	return 0;
}

/* Splits "a b" at the first space: b, or NULL when there is none. */
static char *
field_split(char *s)
{
	char	*sp = strchr(s, ' ');

	if (sp == NULL)
		return NULL;
	*sp = '\0';
	return sp + 1;
}

/*
 * The line kinds in the order a record holds them; each parser gets the
 * text after the keyword and says why it is bad.
 */
enum { RANK_MAGIC, RANK_BLOCK, RANK_USER, RANK_FAIL, RANK_TRY, RANK_END };

static const char *
line_block(char *arg, struct penalty_record *r)
{
	char	*until = field_split(arg);

	if (until == NULL || time_parse(until, &r->until) == -1 ||
	    r->until == 0)
		return "bad block time";
	if (strcmp(arg, "failures") == 0)
		r->why = PENALTY_FAILURES;
	else if (strcmp(arg, "hostile") == 0)
		r->why = PENALTY_HOSTILE;
	else
		return "bad block reason";
	return NULL;
}

static const char *
line_user(char *arg, struct penalty_record *r)
{
	char	*name = field_split(arg);
	size_t	 i, n = r->nusers;

	if (n == PENALTY_USERS_MAX)
		return "too many user blocks";
	if (name == NULL || time_parse(arg, &r->user[n].until) == -1 ||
	    r->user[n].until == 0)
		return "bad user block time";
	if (name_unescape(r->user[n].name, name) == -1)
		return "bad user name";
	for (i = 0; i < n; i++)
		if (strcmp(r->user[i].name, r->user[n].name) == 0)
			return "user blocked twice";
	r->nusers++;
	return NULL;
}

static const char *
line_fail(char *arg, struct penalty_record *r)
{
	char	*hash = field_split(arg);
	size_t	 n = r->nfails;

	if (n == PENALTY_FAILS_MAX)
		return "too many failures";
	if (hash == NULL || time_parse(arg, &r->fail[n].when) == -1)
		return "bad failure time";
	if (strcmp(hash, "0000000000000000") == 0)
		r->fail[n].user = 0;
	else if (hash_parse(hash, &r->fail[n].user) == -1 ||
	    r->fail[n].user == 0)
		return "bad failure user";
	r->nfails++;
	return NULL;
}

static const char *
line_try(char *arg, struct penalty_record *r)
{
	char		*hash = field_split(arg), *slot;
	size_t		 n = r->ntries;
	uint64_t	 v;

	if (n == PENALTY_ATTEMPTS_MAX)
		return "too many attempts";
	if (hash == NULL || time_parse(arg, &r->try[n].when) == -1)
		return "bad attempt time";
	/* An older version's line has no slot: it counts no more. */
	r->try[n].slot = PENALTY_SLOT_NONE;
	if ((slot = field_split(hash)) != NULL) {
		if (num_parse(slot, 0, PENALTY_ATTEMPTS_MAX - 1, &v) == -1)
			return "bad attempt slot";
		r->try[n].slot = (unsigned)v;
	}
	if (hash_parse(hash, &r->try[n].user) == -1 || r->try[n].user == 0)
		return "bad attempt user";
	r->ntries++;
	return NULL;
}

static const char *
penalty_line(char *line, struct penalty_record *r, int *rank)
{
	char	*arg;

	if (*rank == RANK_MAGIC) {
		if (strcmp(line, PENALTY_MAGIC) != 0)
			return "not a penalty record";
		*rank = RANK_BLOCK;
		return NULL;
	}
	if (*rank == RANK_END)
		return "text after the end";
	if (strcmp(line, "end") == 0) {
		*rank = RANK_END;
		return NULL;
	}
	if ((arg = field_split(line)) == NULL)
		return "bad line";
	if (strcmp(line, "block") == 0 && *rank == RANK_BLOCK) {
		*rank = RANK_USER;
		return line_block(arg, r);
	}
	if (strcmp(line, "user") == 0 && *rank <= RANK_USER) {
		*rank = RANK_USER;
		return line_user(arg, r);
	}
	if (strcmp(line, "fail") == 0 && *rank <= RANK_FAIL) {
		*rank = RANK_FAIL;
		return line_fail(arg, r);
	}
	if (strcmp(line, "try") == 0) {
		*rank = RANK_TRY;
		return line_try(arg, r);
	}
	return "bad line";
}

/* Parses len octets of buf (changing them): NULL, or what is wrong. */
static const char *
penalty_parse(char *buf, size_t len, struct penalty_record *r)
{
	char		*line, *nl, *end = buf + len;
	const char	*why;
	int		 rank = RANK_MAGIC;

	if (len == 0 || buf[len - 1] != '\n')
		return "cut off";
	if (memchr(buf, '\0', len) != NULL)
		return "a NUL octet";
	for (line = buf; line < end; line = nl + 1) {
		nl = memchr(line, '\n', end - line);
		*nl = '\0';
		if ((why = penalty_line(line, r, &rank)) != NULL)
			return why;
	}
	return rank == RANK_END ? NULL : "cut off";
}

/* Appends to buf at *len, never past PENALTY_RECORD_MAX: 0, or -1. */
static int __attribute__((format(printf, 3, 4)))
text_add(char *buf, size_t *len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, PENALTY_RECORD_MAX + 1 - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= PENALTY_RECORD_MAX + 1 - *len) {
		errno = EOVERFLOW;
		return -1;
	}
	*len += n;
	return 0;
}

/*
 * Writes r's text into buf (PENALTY_RECORD_MAX + 1 octets): 0 and *len,
 * or -1 (the limits above make every record fit; this only checks).
 */
static int
penalty_format(const struct penalty_record *r, char *buf, size_t *len)
{
	char	esc[3 * POP3_USER_MAX + 1];
	size_t	i;
	int	rc;

	*len = 0;
	rc = text_add(buf, len, "%s\n", PENALTY_MAGIC);
	if (rc == 0 && r->why != PENALTY_NONE)
		rc = text_add(buf, len, "block %s %lld\n",
		    r->why == PENALTY_HOSTILE ? "hostile" : "failures",
		    (long long)r->until);
	for (i = 0; rc == 0 && i < r->nusers; i++) {
		name_escape(esc, r->user[i].name);
		rc = text_add(buf, len, "user %lld %s\n",
		    (long long)r->user[i].until, esc);
	}
	for (i = 0; rc == 0 && i < r->nfails; i++)
		rc = text_add(buf, len, "fail %lld %016llx\n",
		    (long long)r->fail[i].when,
		    (unsigned long long)r->fail[i].user);
	/* Only attempts with a slot are kept: those without never count. */
	for (i = 0; rc == 0 && i < r->ntries; i++)
		if (r->try[i].slot != PENALTY_SLOT_NONE)
			rc = text_add(buf, len, "try %lld %016llx %u\n",
			    (long long)r->try[i].when,
			    (unsigned long long)r->try[i].user,
			    r->try[i].slot);
	if (rc == 0)
		rc = text_add(buf, len, "end\n");
	return rc;
}

/* ---- records on disk ---- */

/*
 * Mapped, not malloc'd: malloc keeps a freed block of this size in its
 * heap, dirty, for as long as a session lasts.
 */
struct penalty_record *
penalty_record_new(void)
{
	struct penalty_record	*r;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	penalty_record_empty(r);
	return r;
}

void
penalty_record_free(struct penalty_record *r)
{
	int	saved = errno;

	if (r != NULL)
		munmap(r, sizeof(*r));
	errno = saved;
}

void
penalty_record_empty(struct penalty_record *r)
{
	r->why = PENALTY_NONE;
	r->until = 0;
	r->nusers = 0;
	r->nfails = 0;
	r->ntries = 0;
}

static void
penalty_corrupt(const char *dir, const char *addr, const char *why)
{
	struct logline	l;
	char		path[PATH_MAX];

	logline_start(&l, "penalty-corrupt");
	logline_path(&l, "file", penalty_path(path, sizeof(path), dir,
	    addr) == 0 ? path : addr);
	logline_str(&l, "reason", why);
	logline_emit(&l);
}

/* Reads and checks the open record fd: NULL, or what is wrong with it. */
static const char *
penalty_read(int fd, struct penalty_record *r, int *err)
{
	struct stat	 st;
	char		*buf;
	const char	*why;
	ssize_t		 len;

	*err = 0;
	if (fstat(fd, &st) == -1) {
		*err = errno;
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (st.st_size > (off_t)PENALTY_RECORD_MAX)
		return "too large";
	if ((buf = malloc(PENALTY_RECORD_MAX + 1)) == NULL) {
		*err = errno;
		return NULL;
	}
	/* One octet more than a record can hold tells of a grown file. */
	if ((len = statedir_read(fd, buf, PENALTY_RECORD_MAX + 1)) == -1) {
		*err = errno;
		why = NULL;
	} else if ((size_t)len > PENALTY_RECORD_MAX)
		why = "too large";
	else
		why = penalty_parse(buf, len, r);
	free(buf);
	return why;
}

int
penalty_load(const char *dir, int dfd, const char *addr,
    struct penalty_record *r, int warn)
{
	const char	*why;
	int		 fd, err;

	penalty_record_empty(r);
	if (!statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	/* Nonblocking: a FIFO planted there cannot hang the front. */
	fd = openat(dfd, addr, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1 && errno != ELOOP)
		return -1;
	if (fd == -1)
		why = "a symbolic link";
	else {
		why = penalty_read(fd, r, &err);
		close(fd);
		if (err != 0) {
			penalty_record_empty(r);
			errno = err;
			return -1;
		}
	}
	if (why != NULL) {
		if (warn)
			penalty_corrupt(dir, addr, why);
		penalty_record_empty(r);
	}
	return 0;
}

/*
 * Writes buf as addr's record in dfd: lib/atomic's temporary file
 * (".ADDR.XXXXXX", which a sweep knows), made in the directory already
 * open, always 0600 and ours whatever lies at the name, then renamed into
 * place; not synced: a record lost in a crash forgets some failures, not
 * worth two fsyncs on every login.
 */
static int
penalty_write(int dfd, const char *addr, const char *buf, size_t len)
{
	struct atomic	a;

	if (atomic_openat(&a, dfd, addr, ATOMIC_NOSYNC) == -1)
		return -1;
	if (statedir_write(a.fd, buf, len) == -1) {
		atomic_abort(&a);
		return -1;
	}
	return atomic_commit(&a);
}

int
penalty_store(int dfd, const char *addr, const struct penalty_record *r)
{
	char	*buf;
	size_t	 len;
	int	 rc, saved;

	if (!statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if (!penalty_live(r))
		return unlinkat(dfd, addr, 0) == -1 && errno != ENOENT ? -1 : 0;
	if ((buf = malloc(PENALTY_RECORD_MAX + 1)) == NULL)
		return -1;
	rc = penalty_format(r, buf, &len);
	if (rc == 0)
		rc = penalty_write(dfd, addr, buf, len);
	saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

/*
 * The update lock is held for one small file's write, some 100 us, and
 * the login queue's head wakes while a settle still holds it (the close
 * of the slot it gives back is inside): lib/lock.c's 5 ms naps would cost
 * each login in the queue one.  So the naps start at 100 us and double up
 * to its 5 ms.
 */
int
penalty_lock(int dfd, int create)
{
	struct timespec	nap = { 0, 100000L };
	int64_t		deadline = io_now_ms() + statedir_lock_ms;
	int		fd;

	fd = openat(dfd, PENALTY_LOCK, O_RDWR | (create ? O_CREAT : 0) |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (lock_try(fd, F_WRLCK, 0, 0) == -1) {
		if (errno != EAGAIN || io_now_ms() >= deadline) {
			if (errno == EAGAIN)
				errno = ETIMEDOUT;
			close_keep_errno(fd);
			return -1;
		}
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 5000000L)
			nap.tv_nsec *= 2;
	}
	return fd;
}

void
penalty_entry_fill(struct penalty_entry *e, const char *addr,
    const struct penalty_record *r)
{
	memset(e, 0, sizeof(*e));
	/* statedir_name_valid: it fits. */
	memcpy(e->addr, addr, strlen(addr) + 1);
	e->why = r->why;
	e->until = r->until;
	e->failures = r->nfails;
	e->attempts = r->ntries;
	e->nusers = r->nusers;
	memcpy(e->user, r->user, r->nusers * sizeof(r->user[0]));
}

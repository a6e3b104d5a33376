/*
 * The penalty box: one small text file per client address, replaced whole
 * (atomic.h) under an OFD lock on dir/.lock, read without a lock.  A
 * record, as cat(1) shows it:
 *
 *	pop3d-penalty 1
 *	block failures 1700000900
 *	user 1700000900 alice
 *	fail 1700000123 9f2c6a1b3e5d7f01
 *	end
 *
 * The lines come in that order: at most one address block ("failures" or
 * "hostile", and when it ends); up to PENALTY_USERS_MAX per-user blocks
 * (when each ends, then the name with "%" and every octet outside
 * 0x21-0x7E written as %XX); up to PENALTY_ADDRESS_MAX failures (when,
 * and the FNV-1a hash of the user name: the name itself is not kept; 0
 * once the failure has blocked its user); and "end", so that a cut-off
 * record shows as one.  Times are seconds since the epoch.  Anything else
 * makes the record corrupt: it counts as no record, is logged, and the
 * next update replaces it.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "log.h"
#include "num.h"
#include "penalty.h"

#define PENALTY_MAGIC	"pop3d-penalty 1"
#define PENALTY_LOCK	".lock"
#define PENALTY_SWEPT	".swept"

/* Failures a record keeps: enough to reach the highest threshold. */
#define PENALTY_FAILS_MAX	PENALTY_ADDRESS_MAX

/*
 * Times beyond this (the year 36812) are corrupt, and adding a block's
 * seconds to one cannot overflow; 13 digits.
 */
#define PENALTY_TIME_MAX	((time_t)1 << 40)
#define PENALTY_TIME_DIGITS	13
_Static_assert(sizeof(time_t) >= 8, "penalty times need a 64-bit time_t");

/* The longest line of each kind, and so the longest record we write. */
#define PENALTY_LINE_BLOCK	(sizeof("block failures \n") - 1 + \
				    PENALTY_TIME_DIGITS)
#define PENALTY_LINE_USER	(sizeof("user  \n") - 1 + \
				    PENALTY_TIME_DIGITS + 3 * POP3_USER_MAX)
#define PENALTY_LINE_FAIL	(sizeof("fail  \n") - 1 + \
				    PENALTY_TIME_DIGITS + 16)
#define PENALTY_RECORD_MAX	(sizeof(PENALTY_MAGIC "\nend\n") - 1 + \
				    PENALTY_LINE_BLOCK + \
				    PENALTY_USERS_MAX * PENALTY_LINE_USER + \
				    PENALTY_FAILS_MAX * PENALTY_LINE_FAIL)

/*
 * Records one sweep looks at (about a second's work at most); the next
 * sweep goes on from there.
 */
#define PENALTY_SWEEP_MAX	10000

/* An address's file name: shorter than penalty_entry's addr. */
#define PENALTY_NAME_MAX	(sizeof(((struct penalty_entry *)0)->addr) - 1)

struct fail {
	time_t		 when;
	uint64_t	 user;	/* FNV-1a of the name; 0: spent on a block */
};

struct record {
	int		 why;		/* PENALTY_* */
	time_t		 until;
	size_t		 nusers;
	struct {
		char	 name[POP3_USER_MAX + 1];
		time_t	 until;
	}		 user[PENALTY_USERS_MAX];
	size_t		 nfails;
	struct fail	 fail[PENALTY_FAILS_MAX];
};

/*
 * Only what addr_format writes, so a name can never leave the directory
 * ("/", "..") nor be one of our dot files.
 */
static int
name_valid(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= PENALTY_NAME_MAX ||
		    strchr("0123456789abcdef.:", s[i]) == NULL)
			return 0;
	return 1;
}

int
penalty_path(char *buf, size_t n, const char *dir, const char *addr)
{
	int	r;

	if (addr == NULL || !name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	r = snprintf(buf, n, "%s/%s", dir, addr);
	if (r < 0 || (size_t)r >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
time_valid(time_t t)
{
	if (t < 0 || t > PENALTY_TIME_MAX) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

static time_t
time_after(time_t now, unsigned secs)
{
	return now + secs > PENALTY_TIME_MAX ? PENALTY_TIME_MAX : now + secs;
}

/* FNV-1a: stable across processes and versions, unlike a seeded hash. */
static uint64_t
user_hash(const char *user)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *user != '\0'; user++) {
		h ^= (unsigned char)*user;
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;	/* 0 marks a spent failure */
}

/* A threshold, never past what a record can count. */
static size_t
threshold(unsigned n)
{
	return n > PENALTY_FAILS_MAX ? PENALTY_FAILS_MAX : n;
}

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

/* Exactly 16 lowercase hex digits, not 0. */
static int
hash_parse(const char *s, uint64_t *h)
{
	uint64_t	v = 0;
	size_t		i;

	for (i = 0; i < 16; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return -1;
	}
	if (s[16] != '\0')
		return -1;
	*h = v;
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
enum { RANK_MAGIC, RANK_BLOCK, RANK_USER, RANK_FAIL, RANK_END };

static const char *
line_block(char *arg, struct record *r)
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
line_user(char *arg, struct record *r)
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
line_fail(char *arg, struct record *r)
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
record_line(char *line, struct record *r, int *rank)
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
	if (strcmp(line, "fail") == 0) {
		*rank = RANK_FAIL;
		return line_fail(arg, r);
	}
	return "bad line";
}

/* Parses len octets of buf (changing them): NULL, or what is wrong. */
static const char *
record_parse(char *buf, size_t len, struct record *r)
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
		if ((why = record_line(line, r, &rank)) != NULL)
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
record_format(const struct record *r, char *buf, size_t *len)
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
	if (rc == 0)
		rc = text_add(buf, len, "end\n");
	return rc;
}

/* ---- records on disk ---- */

static void
record_empty(struct record *r)
{
	r->why = PENALTY_NONE;
	r->until = 0;
	r->nusers = 0;
	r->nfails = 0;
}

static void
record_corrupt(const char *path, const char *why)
{
	struct logline	l;

	logline_start(&l, "penalty-corrupt");
	logline_str(&l, "file", path);
	logline_str(&l, "reason", why);
	logline_emit(&l);
}

/* Reads at most max octets of fd into buf: the count, or -1. */
static ssize_t
read_upto(int fd, char *buf, size_t max)
{
	size_t	len = 0;
	ssize_t	n;

	while (len < max) {
		n = read(fd, buf + len, max - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += n;
	}
	return len;
}

/* Reads and checks the open record fd: NULL, or what is wrong with it. */
static const char *
record_read(int fd, struct record *r, int *err)
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
	if ((len = read_upto(fd, buf, PENALTY_RECORD_MAX + 1)) == -1) {
		*err = errno;
		why = NULL;
	} else if ((size_t)len > PENALTY_RECORD_MAX)
		why = "too large";
	else
		why = record_parse(buf, len, r);
	free(buf);
	return why;
}

/*
 * Loads addr's record: 0 with r filled, or empty when there is none or it
 * is corrupt; -1 with errno when it cannot be read.  A corrupt record is
 * logged when warn is set: by the update that replaces it or the sweep
 * that removes it, holding the lock, so once, not on every connection.
 */
static int
record_load(const char *dir, const char *addr, struct record *r, int warn)
{
	char		 path[PATH_MAX];
	const char	*why;
	int		 fd, err;

	record_empty(r);
	if (penalty_path(path, sizeof(path), dir, addr) == -1)
		return -1;
	/* Nonblocking: a FIFO planted there cannot hang the front. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1 && errno != ELOOP)
		return -1;
	if (fd == -1)
		why = "a symbolic link";
	else {
		why = record_read(fd, r, &err);
		close(fd);
		if (err != 0) {
			record_empty(r);
			errno = err;
			return -1;
		}
	}
	if (why != NULL) {
		if (warn)
			record_corrupt(path, why);
		record_empty(r);
	}
	return 0;
}

/* Forgets what has ended by now and failures older than window. */
static void
record_prune(struct record *r, unsigned window, time_t now)
{
	size_t	i, n;

	if (r->why != PENALTY_NONE && r->until <= now) {
		r->why = PENALTY_NONE;
		r->until = 0;
	}
	for (i = n = 0; i < r->nusers; i++)
		if (r->user[i].until > now)
			r->user[n++] = r->user[i];
	r->nusers = n;
	/* A failure "from the future" (the clock went back) still counts. */
	for (i = n = 0; i < r->nfails; i++)
		if (r->fail[i].when > now || now - r->fail[i].when < window)
			r->fail[n++] = r->fail[i];
	r->nfails = n;
}

static int
record_live(const struct record *r)
{
	return r->why != PENALTY_NONE || r->nusers > 0 || r->nfails > 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Replaces addr's record with r, or removes it when nothing is left. */
static int
record_store(const char *dir, const char *addr, const struct record *r)
{
	struct atomic	 a;
	char		 path[PATH_MAX], *buf;
	size_t		 len;
	int		 saved;

	if (penalty_path(path, sizeof(path), dir, addr) == -1)
		return -1;
	if (!record_live(r))
		return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
	if ((buf = malloc(PENALTY_RECORD_MAX + 1)) == NULL)
		return -1;
	if (record_format(r, buf, &len) == -1 ||
	    atomic_open(&a, path) == -1) {
		saved = errno;
		free(buf);
		errno = saved;
		return -1;
	}
	if (write_all(a.fd, buf, len) == -1) {
		atomic_abort(&a);
		free(buf);
		return -1;
	}
	free(buf);
	return atomic_commit(&a);
}

static void
entry_fill(struct penalty_entry *e, const char *addr, const struct record *r)
{
	size_t	i;

	memset(e, 0, sizeof(*e));
	memcpy(e->addr, addr, strlen(addr) + 1);	/* name_valid: fits */
	e->why = r->why;
	e->until = r->until;
	e->failures = r->nfails;
	e->nusers = r->nusers;
	for (i = 0; i < r->nusers; i++) {
		memcpy(e->user[i].name, r->user[i].name,
		    strlen(r->user[i].name) + 1);
		e->user[i].until = r->user[i].until;
	}
}

/* ---- the lock ---- */

/*
 * Takes the directory's update lock, waiting for it: the lock file's
 * descriptor (closing it releases the lock), or -1.  create makes the
 * directory when it is missing.
 */
static int
penalty_lock(const char *dir, int create)
{
	struct flock	fl;
	char		path[PATH_MAX];
	int		fd, r;

	r = snprintf(path, sizeof(path), "%s/%s", dir, PENALTY_LOCK);
	if (r < 0 || (size_t)r >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (create && mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_OFD_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			r = errno;
			close(fd);
			errno = r;
			return -1;
		}
	}
	return fd;
}

static void
penalty_unlock(int fd)
{
	int	saved = errno;

	close(fd);
	errno = saved;
}

/* Locks and loads addr's record for a change: the lock, or -1. */
static int
update_begin(const struct penalty_conf *conf, const char *addr, time_t now,
    struct record *r)
{
	int	lock;

	if (!name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if (!time_valid(now))
		return -1;
	if ((lock = penalty_lock(conf->dir, 1)) == -1)
		return -1;
	if (record_load(conf->dir, addr, r, 1) == -1) {
		penalty_unlock(lock);
		return -1;
	}
	record_prune(r, conf->window, now);
	return lock;
}

static int
update_end(const struct penalty_conf *conf, const char *addr,
    const struct record *r, int lock)
{
	int	rc;

	rc = record_store(conf->dir, addr, r);
	penalty_unlock(lock);
	return rc;
}

/* ---- blocks and failures ---- */

/* Blocks the address until then, never shortening a longer block. */
static void
block_address(struct record *r, int why, time_t until)
{
	if (r->why != PENALTY_NONE && r->until >= until)
		return;
	r->why = why;
	r->until = until;
}

/* Blocks user; when the table is full, the block ending soonest goes. */
static void
block_user(struct record *r, const char *user, time_t until)
{
	size_t	i, soonest = 0;

	for (i = 0; i < r->nusers; i++) {
		if (strcmp(r->user[i].name, user) == 0) {
			if (r->user[i].until < until)
				r->user[i].until = until;
			return;
		}
		if (r->user[i].until < r->user[soonest].until)
			soonest = i;
	}
	if (r->nusers < PENALTY_USERS_MAX)
		i = r->nusers++;
	else
		i = soonest;
	memcpy(r->user[i].name, user, strlen(user) + 1);
	r->user[i].until = until;
}

/* Adds a failure; a full list loses its oldest. */
static void
fail_add(struct record *r, time_t now, uint64_t user)
{
	if (r->nfails == PENALTY_FAILS_MAX) {
		memmove(r->fail, r->fail + 1,
		    (PENALTY_FAILS_MAX - 1) * sizeof(r->fail[0]));
		r->nfails--;
	}
	r->fail[r->nfails].when = now;
	r->fail[r->nfails].user = user;
	r->nfails++;
}

static size_t
fail_count(const struct record *r, uint64_t user)
{
	size_t	i, n = 0;

	for (i = 0; i < r->nfails; i++)
		if (r->fail[i].user == user)
			n++;
	return n;
}

/*
 * A user block starts the user's count afresh, but the failures still
 * count towards the address's ceiling: otherwise trying each name up to
 * its threshold would never block the address.
 */
static void
fail_spend(struct record *r, uint64_t user)
{
	size_t	i;

	for (i = 0; i < r->nfails; i++)
		if (r->fail[i].user == user)
			r->fail[i].user = 0;
}

/* The address scope: N failures within the window block the address. */
static int
fail_address(const struct penalty_conf *conf, struct record *r, time_t now)
{
	if (r->nfails < threshold(conf->failures))
		return 0;
	block_address(r, PENALTY_FAILURES, time_after(now, conf->block));
	/* A block resets the count: after it, the address starts afresh. */
	r->nfails = 0;
	return PENALTY_FAILURES;
}

/* The per-user scope: N of a user's block that user from the address. */
static int
fail_user(const struct penalty_conf *conf, struct record *r,
    const char *user, uint64_t hash, time_t now)
{
	int	blocked = 0;

	if (fail_count(r, hash) >= threshold(conf->failures)) {
		block_user(r, user, time_after(now, conf->block));
		fail_spend(r, hash);
		blocked = -1;
	}
	if (conf->address_failures != 0 &&
	    r->nfails >= threshold(conf->address_failures)) {
		block_address(r, PENALTY_FAILURES,
		    time_after(now, conf->block));
		r->nfails = 0;
		blocked = PENALTY_FAILURES;
	}
	return blocked;
}

/* ---- the interface ---- */

int
penalty_check(const struct penalty_conf *conf, const char *addr, time_t now,
    struct penalty_entry *e)
{
	struct record	r;

	if (record_load(conf->dir, addr, &r, 0) == -1)
		return -1;
	record_prune(&r, conf->window, now);
	entry_fill(e, addr, &r);
	return 0;
}

int
penalty_check_user(const struct penalty_conf *conf, const char *addr,
    const char *user, time_t now, time_t *until)
{
	struct record	r;
	size_t		i;

	if (record_load(conf->dir, addr, &r, 0) == -1)
		return -1;
	record_prune(&r, conf->window, now);
	for (i = 0; i < r.nusers; i++) {
		if (strcmp(r.user[i].name, user) == 0) {
			*until = r.user[i].until;
			return 1;
		}
	}
	return 0;
}

int
penalty_fail(const struct penalty_conf *conf, const char *addr,
    const char *user, time_t now, int *blocked)
{
	struct record	r;
	uint64_t	hash;
	int		lock, b;

	*blocked = 0;
	if (user == NULL)
		user = "";
	if (strlen(user) > POP3_USER_MAX || !name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if (conf->failures == 0)
		return 0;
	if ((lock = update_begin(conf, addr, now, &r)) == -1)
		return -1;
	hash = user_hash(user);
	fail_add(&r, now, hash);
	if (conf->per_user)
		b = fail_user(conf, &r, user, hash, now);
	else
		b = fail_address(conf, &r, now);
	if (update_end(conf, addr, &r, lock) == -1)
		return -1;
	*blocked = b;
	return 0;
}

int
penalty_hostile(const struct penalty_conf *conf, const char *addr,
    time_t now)
{
	struct record	r;
	int		lock;

	if ((lock = update_begin(conf, addr, now, &r)) == -1)
		return -1;
	block_address(&r, PENALTY_HOSTILE, time_after(now, conf->hostile));
	return update_end(conf, addr, &r, lock);
}

/* Removes every record in dir (the lock held): the count, or -1. */
static long
clear_all(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	long		 n = 0;
	int		 saved;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!name_valid(de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
		else if (errno != ENOENT)
			break;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return saved != 0 ? -1 : n;
}

long
penalty_clear(const char *dir, const char *addr)
{
	char	path[PATH_MAX];
	long	n;
	int	lock;

	if (addr != NULL && penalty_path(path, sizeof(path), dir, addr) == -1)
		return -1;
	if ((lock = penalty_lock(dir, 0)) == -1)
		return addr == NULL && errno == ENOENT ? 0 : -1;
	if (addr != NULL)
		n = unlink(path) == -1 ? -1 : 1;
	else
		n = clear_all(dir);
	penalty_unlock(lock);
	return n;
}

/* ---- listing ---- */

struct name {
	char	s[PENALTY_NAME_MAX + 1];
};

/* Numeric order, IPv4 first; a name that is no address last. */
static int
name_cmp(const void *pa, const void *pb)
{
	const char	*a = ((const struct name *)pa)->s;
	const char	*b = ((const struct name *)pb)->s;
	unsigned char	 x[16], y[16];
	int		 fa, fb;

	fa = inet_pton(AF_INET, a, x) == 1 ? 4 :
	    inet_pton(AF_INET6, a, x) == 1 ? 6 : 9;
	fb = inet_pton(AF_INET, b, y) == 1 ? 4 :
	    inet_pton(AF_INET6, b, y) == 1 ? 6 : 9;
	if (fa != fb)
		return fa - fb;
	if (fa == 9)
		return strcmp(a, b);
	return memcmp(x, y, fa == 4 ? 4 : 16);
}

/* The record names in dir, sorted: the count, or -1 (0 with no dir). */
static long
list_names(const char *dir, struct name **names)
{
	struct dirent	*de;
	struct name	*v = NULL, *nv;
	DIR		*d;
	size_t		 n = 0, size = 0;
	int		 saved;

	*names = NULL;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!name_valid(de->d_name))
			continue;
		if (n == size) {
			size = size != 0 ? size * 2 : 64;
			if ((nv = reallocarray(v, size, sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		memcpy(v[n++].s, de->d_name, strlen(de->d_name) + 1);
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		free(v);
		errno = saved;
		return -1;
	}
	qsort(v, n, sizeof(*v), name_cmp);
	*names = v;
	return n;
}

int
penalty_list(const char *dir, unsigned window, time_t now,
    int (*fn)(const struct penalty_entry *, void *), void *arg)
{
	struct penalty_entry	 e;
	struct record		 r;
	struct name		*names;
	long			 n, i;
	int			 rc = 0;

	if ((n = list_names(dir, &names)) == -1)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (record_load(dir, names[i].s, &r, 1) == -1) {
			rc = -1;
			break;
		}
		record_prune(&r, window, now);
		if (!record_live(&r))
			continue;
		entry_fill(&e, names[i].s, &r);
		if (fn(&e, arg) != 0)
			break;
	}
	free(names);
	return rc;
}

/* ---- sweeping ---- */

/*
 * The stamp's mtime is when the last sweep ran; one is due without a
 * stamp, window seconds after it, or when the clock went back.
 */
static int
sweep_due(const char *stamp, unsigned window, time_t now)
{
	struct stat	st;

	if (stat(stamp, &st) == -1)
		return 1;
	return st.st_mtime > now || now - st.st_mtime >= (time_t)window;
}

/* Where the last sweep stopped: records to pass over (0 when unknown). */
static uint64_t
sweep_resume(const char *stamp)
{
	char		buf[32];
	ssize_t		len;
	uint64_t	v;
	int		fd;

	if ((fd = open(stamp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	len = read_upto(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 1 || buf[len - 1] != '\n')
		return 0;
	buf[len - 1] = '\0';
	return num_parse(buf, 0, LONG_MAX, &v) == -1 ? 0 : v;
}

static int
sweep_stamp(const char *stamp, uint64_t resume, time_t now)
{
	struct timespec	ts[2];
	char		buf[32];
	int		fd, len, rc;

	fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)resume);
	ts[0].tv_sec = ts[1].tv_sec = now;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	rc = write_all(fd, buf, len) == -1 || futimens(fd, ts) == -1 ? -1 : 0;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/*
 * A temporary file of an update that never finished (".ADDR.XXXXXX"):
 * with the lock held no update is under way, so it can go.
 */
static void
sweep_temp(int dfd, const char *name)
{
	char		 addr[PENALTY_NAME_MAX + 1];
	const char	*dot = strrchr(name, '.');
	size_t		 len;

	if (name[0] != '.' || dot == name || strlen(dot + 1) != 6)
		return;
	len = dot - name - 1;
	if (len > PENALTY_NAME_MAX)
		return;
	memcpy(addr, name + 1, len);
	addr[len] = '\0';
	if (name_valid(addr))
		unlinkat(dfd, name, 0);
}

/*
 * One pass over dir (the lock held), passing over *resume records and
 * looking at PENALTY_SWEEP_MAX more: the count removed, or -1.  *resume
 * becomes where the next pass starts.
 */
static long
sweep_dir(const struct penalty_conf *conf, time_t now, uint64_t *resume)
{
	struct record	 r;
	struct dirent	*de;
	DIR		*d;
	uint64_t	 seen = 0, looked = 0;
	long		 removed = 0;
	int		 saved = 0;

	if ((d = opendir(conf->dir)) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			sweep_temp(dirfd(d), de->d_name);
		if (!name_valid(de->d_name) || seen++ < *resume)
			continue;
		if (looked++ == PENALTY_SWEEP_MAX)
			break;
		if (record_load(conf->dir, de->d_name, &r, 1) == -1)
			break;
		record_prune(&r, conf->window, now);
		if (record_live(&r))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			break;
	}
	saved = errno;
	/* Removed records no longer take a place before where we stopped. */
	*resume = de != NULL ? *resume + looked - 1 - removed : 0;
	closedir(d);
	errno = saved;
	return saved != 0 ? -1 : removed;
}

long
penalty_sweep(const struct penalty_conf *conf, time_t now)
{
	char		stamp[PATH_MAX];
	uint64_t	resume;
	long		n;
	int		lock, r;

	if (!time_valid(now))
		return -1;
	r = snprintf(stamp, sizeof(stamp), "%s/%s", conf->dir, PENALTY_SWEPT);
	if (r < 0 || (size_t)r >= sizeof(stamp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Most calls end here, without waiting for the lock. */
	if (!sweep_due(stamp, conf->window, now))
		return 0;
	if ((lock = penalty_lock(conf->dir, 1)) == -1)
		return -1;
	/* Another process may have swept while we waited. */
	if (!sweep_due(stamp, conf->window, now)) {
		penalty_unlock(lock);
		return 0;
	}
	resume = sweep_resume(stamp);
	n = sweep_dir(conf, now, &resume);
	if (n != -1 && sweep_stamp(stamp, resume, now) == -1)
		n = -1;
	penalty_unlock(lock);
	return n;
}

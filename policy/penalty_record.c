/*
 * The penalty box on disk: one small text file per client address,
 * replaced whole (a temporary file renamed into place) under an OFD lock
 * on dir/.lock, read without a lock.  A record, as cat(1) shows it:
 *
 *	pop3d-penalty 1
 *	block failures 1700000900
 *	user 1700000900 alice
 *	fail 1700000123 9f2c6a1b3e5d7f01
 *	try 1700000125 9f2c6a1b3e5d7f01 0
 *	end
 *
 * The lines come in that order: at most one address block ("failures" or
 * "hostile", and when it ends); up to PENALTY_USERS_MAX per-user blocks
 * (when each ends, then the name with "%" and every octet outside
 * 0x21-0x7E written as %XX); up to PENALTY_ADDRESS_MAX failures (when,
 * and the FNV-1a hash of the user name: the name itself is not kept; 0
 * once the failure has blocked its user); up to PENALTY_ATTEMPTS_MAX
 * login attempts in flight (when each began, the user's hash, never 0,
 * and the slot whose lock its process holds: the slot is missing in
 * records of older versions, whose attempts then count no more); and
 * "end", so that a cut-off record shows as one.  Times are
 * seconds since the epoch.  Anything else makes the record corrupt: it
 * counts as no record, is logged, and the next update replaces it.
 *
 * Also here: the state directories (penalty box and connection slots)
 * opened and checked once per operation, their names, and timed locks.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "log.h"
#include "num.h"
#include "penalty_record.h"

#define PENALTY_MAGIC	"pop3d-penalty 1"
#define PENALTY_LOCK	".lock"
#define PENALTY_SWEPT	".swept"
#define PENALTY_INFLIGHT "inflight"	/* slots of attempts in flight */

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

/* Sleeps between tries of a lock held by another process. */
#define LOCK_NAP_MS	5

/* Names a temporary file gets before one is free (mkstemp tries more). */
#define TEMP_TRIES	100

/* ---- the state directories ---- */

static void
close_keep(int fd)
{
	int	saved = errno;

	close(fd);
	errno = saved;
}

int
statedir_name_valid(const char *s)
{
	struct addr	a;
	char		text[ADDR_TEXT_MAX];

	if (strnlen(s, PENALTY_NAME_MAX + 1) > PENALTY_NAME_MAX ||
	    addr_parse(s, &a) == -1)
		return 0;
	addr_format(&a, text, sizeof(text));
	return strcmp(text, s) == 0;
}

/*
 * Opens path, a directory and no symbolic link, without opening anything
 * else (a device, a FIFO): the descriptor, or -1 with errno.
 */
static int
dir_open(const char *path)
{
	struct stat	st;
	int		pfd, fd;

	/* O_PATH with O_NOFOLLOW gives the link itself, not ELOOP. */
	if ((pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(pfd, &st) == -1)
		fd = -1;
	else if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		fd = -1;
	} else if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		fd = -1;
	} else
		fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close_keep(pfd);
	return fd;
}

/*
 * Ours alone: owned by the effective uid (root, as the CLI often runs,
 * may use a mail uid's), writable by no one else.
 */
static int
dir_check(int fd)
{
	struct stat	st;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((st.st_uid != geteuid() && geteuid() != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
statedir_open(const char *dir, int create)
{
	char	path[PATH_MAX];
	size_t	len = strlen(dir);
	int	fd;

	/* "dir/" would follow a symbolic link named dir. */
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof(path)) {
		errno = len == 0 ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len);
	path[len] = '\0';
	fd = dir_open(path);
	if (fd == -1 && errno == ENOENT && create) {
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return -1;
		fd = dir_open(path);
	}
	if (fd == -1)
		return -1;
	if (dir_check(fd) == -1) {
		close_keep(fd);
		return -1;
	}
	return fd;
}

int
statedir_own(const char *dir)
{
	struct stat	st;
	int		fd, rc = 0;

	if ((fd = statedir_open(dir, 1)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		rc = -1;
	else if (st.st_uid != geteuid()) {
		errno = EPERM;
		rc = -1;
	}
	close_keep(fd);
	return rc;
}

static long long
clock_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long	statedir_lock_ms = PENALTY_LOCK_TIMEOUT_MS;

int
statedir_lock(int fd, short type, off_t start, off_t len)
{
	struct timespec	nap = { 0, LOCK_NAP_MS * 1000000L };
	struct flock	fl;
	long long	deadline = clock_ms() + statedir_lock_ms;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	while (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		if (errno != EINTR && clock_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

int
statedir_same(int dfd, const char *name, int fd)
{
	struct stat	a, b;

	if (fstat(fd, &a) == -1)
		return -1;
	if (fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

ssize_t
statedir_read(int fd, char *buf, size_t max)
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

int
statedir_write(int fd, const char *p, size_t len)
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

DIR *
statedir_opendir(int dfd)
{
	DIR	*d;
	int	 fd;

	/* A description of its own: dfd's offset stays where it was. */
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close_keep(fd);
	return d;
}

/* ---- sweeping a state directory ---- */

/*
 * The stamp dir/.swept: its mtime is when the last sweep ran, its text
 * how many files the next one passes over.  A sweep is due without a
 * stamp, every seconds after it, or when the clock went back.
 */
static int
stamp_due(const struct stat *st, unsigned every, time_t now)
{
	return st->st_mtime > now || now - st->st_mtime >= (time_t)every;
}

int
statedir_sweep_due(int dfd, unsigned every, time_t now)
{
	struct stat	st;

	if (fstatat(dfd, PENALTY_SWEPT, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 1;
	return stamp_due(&st, every, now);
}

int
statedir_sweep_begin(int dfd, unsigned every, time_t now, uint64_t *resume,
    int *fd)
{
	struct flock	fl;
	struct stat	st;
	char		buf[32];
	ssize_t		len;
	uint64_t	v;

	*resume = 0;
	*fd = openat(dfd, PENALTY_SWEPT, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (*fd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(*fd, F_OFD_SETLK, &fl) == -1 || fstat(*fd, &st) == -1) {
		close_keep(*fd);
		*fd = -1;
		/* Another process sweeping now: nothing to do. */
		return errno == EAGAIN || errno == EACCES ? 0 : -1;
	}
	/* Just done by another (a new stamp is empty). */
	if (!S_ISREG(st.st_mode) ||
	    (st.st_size > 0 && !stamp_due(&st, every, now))) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	len = statedir_read(*fd, buf, sizeof(buf) - 1);
	if (len > 1 && buf[len - 1] == '\n') {
		buf[len - 1] = '\0';
		if (num_parse(buf, 0, LONG_MAX, &v) == 0)
			*resume = v;
	}
	return 1;
}

int
statedir_sweep_end(int fd, uint64_t resume, time_t now)
{
	struct timespec	ts[2];
	char		buf[32];
	int		len, rc;

	len = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)resume);
	ts[0].tv_sec = ts[1].tv_sec = now;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	rc = ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    statedir_write(fd, buf, len) == -1 || futimens(fd, ts) == -1 ?
	    -1 : 0;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

long
statedir_sweep(int dfd, uint64_t *resume, int temps,
    int (*fn)(int, const char *, void *), void *arg)
{
	struct dirent	*de;
	DIR		*d;
	uint64_t	 seen = 0, looked = 0;
	long		 removed = 0;
	int		 r, saved;

	if ((d = statedir_opendir(dfd)) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (temps && record_is_temp(de->d_name)) {
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!statedir_name_valid(de->d_name) || seen++ < *resume)
			continue;
		if (looked++ == PENALTY_SWEEP_MAX)
			break;
		if ((r = fn(dfd, de->d_name, arg)) == -1)
			break;
		removed += r;
	}
	saved = errno;
	/* Removed files no longer take a place before where we stopped. */
	*resume = de != NULL ? *resume + looked - 1 - removed : 0;
	closedir(d);
	errno = saved;
	return saved != 0 ? -1 : removed;
}

/* ---- small things records need ---- */

int
record_time_valid(time_t t)
{
	if (t < 0 || t > PENALTY_TIME_MAX) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

time_t
record_time_after(time_t now, unsigned secs)
{
	return now + secs > PENALTY_TIME_MAX ? PENALTY_TIME_MAX : now + secs;
}

/* FNV-1a: stable across processes and versions, unlike a seeded hash. */
uint64_t
record_user_hash(const char *user)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *user != '\0'; user++) {
		h ^= (unsigned char)*user;
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;	/* 0 marks a spent failure */
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

/* Exactly 16 lowercase hex digits. */
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
enum { RANK_MAGIC, RANK_BLOCK, RANK_USER, RANK_FAIL, RANK_TRY, RANK_END };

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
line_try(char *arg, struct record *r)
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

void
record_empty(struct record *r)
{
	r->why = PENALTY_NONE;
	r->until = 0;
	r->nusers = 0;
	r->nfails = 0;
	r->ntries = 0;
}

static void
record_corrupt(const char *dir, const char *addr, const char *why)
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
	if ((len = statedir_read(fd, buf, PENALTY_RECORD_MAX + 1)) == -1) {
		*err = errno;
		why = NULL;
	} else if ((size_t)len > PENALTY_RECORD_MAX)
		why = "too large";
	else
		why = record_parse(buf, len, r);
	free(buf);
	return why;
}

int
record_load(const char *dir, int dfd, const char *addr, struct record *r,
    int warn)
{
	const char	*why;
	int		 fd, err;

	record_empty(r);
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
			record_corrupt(dir, addr, why);
		record_empty(r);
	}
	return 0;
}

int
record_is_temp(const char *name)
{
	char		 addr[PENALTY_NAME_MAX + 1];
	const char	*dot = strrchr(name, '.');
	size_t		 len;

	if (name[0] != '.' || dot == name || strlen(dot + 1) != 6)
		return 0;
	len = dot - name - 1;
	if (len > PENALTY_NAME_MAX)
		return 0;
	memcpy(addr, name + 1, len);
	addr[len] = '\0';
	return statedir_name_valid(addr);
}

/*
 * Creates dfd/.ADDR.XXXXXX (six random letters and digits) for writing,
 * mode 0600: the descriptor and the name in tmp (size n), or -1.
 */
static int
temp_create(int dfd, const char *addr, char *tmp, size_t n)
{
	static const char	 set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char		 rnd[6];
	size_t			 len;
	int			 fd, try, i;

	len = (size_t)snprintf(tmp, n, ".%s.XXXXXX", addr);
	if (len >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (try = 0; try < TEMP_TRIES; try++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		for (i = 0; i < 6; i++)
			tmp[len - 6 + i] = set[rnd[i] % (sizeof(set) - 1)];
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/*
 * Writes buf as addr's record in dfd: temporary file, rename.  No sync:
 * the box is a guard, not a ledger, and every login writes to it; after a
 * crash a record may be lost, or cut off, which reads as corrupt and
 * counts as none.
 */
static int
record_write(int dfd, const char *addr, const char *buf, size_t len)
{
	char	tmp[PENALTY_NAME_MAX + 16];
	int	fd, saved;

	if ((fd = temp_create(dfd, addr, tmp, sizeof(tmp))) == -1)
		return -1;
	if (statedir_write(fd, buf, len) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	/* close frees the descriptor even when it reports an error. */
	if (close(fd) == -1 || renameat(dfd, tmp, dfd, addr) == -1) {
		saved = errno;
		goto fail;
	}
	return 0;
fail:
	unlinkat(dfd, tmp, 0);
	errno = saved;
	return -1;
}

int
record_store(int dfd, const char *addr, const struct record *r)
{
	char	*buf;
	size_t	 len;
	int	 rc, saved;

	if (!statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if (!record_live(r))
		return unlinkat(dfd, addr, 0) == -1 && errno != ENOENT ? -1 : 0;
	if ((buf = malloc(PENALTY_RECORD_MAX + 1)) == NULL)
		return -1;
	rc = record_format(r, buf, &len);
	if (rc == 0)
		rc = record_write(dfd, addr, buf, len);
	saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

int
record_lock(int dfd, int create)
{
	int	fd;

	fd = openat(dfd, PENALTY_LOCK, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd == -1)
		return -1;
	if (statedir_lock(fd, F_WRLCK, 0, 0) == -1) {
		close_keep(fd);
		return -1;
	}
	return fd;
}

void
record_prune(struct record *r, unsigned window, time_t now)
{
	size_t	i, n;
	time_t	age;

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
	/* An attempt counts for PENALTY_ATTEMPT_TTL either way. */
	for (i = n = 0; i < r->ntries; i++) {
		age = r->try[i].when > now ? r->try[i].when - now :
		    now - r->try[i].when;
		if (age < PENALTY_ATTEMPT_TTL)
			r->try[n++] = r->try[i];
	}
	r->ntries = n;
}

int
record_inflight_dir(char *buf, const char *dir)
{
	int	n = snprintf(buf, PATH_MAX, "%s/%s", dir, PENALTY_INFLIGHT);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
record_tries_alive(const char *dir, const char *addr, struct record *r)
{
	char	path[PATH_MAX];
	size_t	i, n;
	int	fd, held;

	if (r->ntries == 0)
		return 0;
	if (record_inflight_dir(path, dir) == -1)
		return -1;
	/* No slot file: no attempt's process lives. */
	if ((fd = conn_slot_open(path, addr)) == -1 && errno != ENOENT)
		return -1;
	for (i = n = 0; i < r->ntries; i++) {
		held = 0;
		if (fd != -1 && r->try[i].slot != PENALTY_SLOT_NONE &&
		    (held = conn_slot_held(fd, r->try[i].slot)) == -1) {
			close_keep(fd);
			return -1;
		}
		if (held)
			r->try[n++] = r->try[i];
	}
	r->ntries = n;
	if (fd != -1)
		close(fd);
	return 0;
}

int
record_live(const struct record *r)
{
	return r->why != PENALTY_NONE || r->nusers > 0 || r->nfails > 0 ||
	    r->ntries > 0;
}

void
record_entry(struct penalty_entry *e, const char *addr,
    const struct record *r)
{
	size_t	i;

	memset(e, 0, sizeof(*e));
	/* statedir_name_valid: it fits. */
	memcpy(e->addr, addr, strlen(addr) + 1);
	e->why = r->why;
	e->until = r->until;
	e->failures = r->nfails;
	e->attempts = r->ntries;
	e->nusers = r->nusers;
	for (i = 0; i < r->nusers; i++) {
		memcpy(e->user[i].name, r->user[i].name,
		    strlen(r->user[i].name) + 1);
		e->user[i].until = r->user[i].until;
	}
}

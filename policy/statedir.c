/* The state directories (statedir.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "io.h"
#include "lock.h"
#include "num.h"
#include "statedir.h"

#define STATEDIR_SWEPT	".swept"

long	statedir_lock_ms = PENALTY_LOCK_TIMEOUT_MS;

/* ---- the state directories ---- */

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
	close_keep_errno(pfd);
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
		close_keep_errno(fd);
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
	close_keep_errno(fd);
	return rc;
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

int
statedir_lockat(int dfd, const char *name, int flags, short type,
    off_t start, off_t len)
{
	int	fd;

	fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	if (lock_wait(fd, type, start, len, statedir_lock_ms) == -1) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int
statedir_path(char *buf, const char *dir, const char *name)
{
	int	n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
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
		close_keep_errno(fd);
	return d;
}

/* ---- sweeping a state directory ---- */

/*
 * The stamp dir/.swept: its mtime is when the last sweep ran, its text
 * how many files the next one passes over.
 */
static int
stamp_due(const struct stat *st, unsigned every, time_t now)
{
	return st->st_mtime > now || now - st->st_mtime >= (time_t)every;
}

static int
sweep_due(int dfd, unsigned every, time_t now)
{
	struct stat	st;

	if (fstatat(dfd, STATEDIR_SWEPT, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 1;
	return stamp_due(&st, every, now);
}

/*
 * Takes the stamp's lock without waiting and checks again: 1 with *fd
 * and *resume to go on, 0 when another process sweeps or just did, -1.
 */
static int
sweep_begin(int dfd, unsigned every, time_t now, uint64_t *resume, int *fd)
{
	struct stat	st;
	char		buf[32];
	ssize_t		len;
	uint64_t	v;

	*resume = 0;
	*fd = openat(dfd, STATEDIR_SWEPT, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (*fd == -1)
		return -1;
	if (lock_try(*fd, F_WRLCK, 0, 0) == -1 || fstat(*fd, &st) == -1) {
		close_keep_errno(*fd);
		*fd = -1;
		/* Another process sweeping now: nothing to do. */
		return errno == EAGAIN ? 0 : -1;
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

/* Writes the stamp and closes fd. */
static int
sweep_end(int fd, uint64_t resume, time_t now)
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

int
statedir_is_temp(const char *name)
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

/* fn on the names past *resume; *resume set to where the next starts. */
static long
sweep_names(int dfd, uint64_t *resume, int temps,
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
		if (temps && statedir_is_temp(de->d_name)) {
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

long
statedir_sweep(int dfd, unsigned every, time_t now, int (*lock)(int, int),
    int (*fn)(int, const char *, void *), void *arg)
{
	uint64_t	resume;
	long		n;
	int		lk = -1, stamp;

	/* Most calls end here, without waiting for a lock. */
	if (!sweep_due(dfd, every, now))
		return 0;
	if (lock != NULL && (lk = lock(dfd, 1)) == -1)
		return -1;
	/* Another process may have swept while we waited. */
	if ((n = sweep_begin(dfd, every, now, &resume, &stamp)) == 1) {
		n = sweep_names(dfd, &resume, lock != NULL, fn, arg);
		if (n != -1 && sweep_end(stamp, resume, now) == -1)
			n = -1;
		else if (n == -1)
			close_keep_errno(stamp);
	}
	if (lk != -1)
		close_keep_errno(lk);
	return n;
}

int
statedir_time_valid(time_t t)
{
	if (t < 0 || t > PENALTY_TIME_MAX) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "expire.h"
#include "num.h"
#include "pop3d_limits.h"

int
expire_seen_name(const char *name, char *buf, size_t n)
{
	const char	*info = strchr(name, ':'), *f;
	size_t		 len;

	if (info == NULL) {
		if ((size_t)snprintf(buf, n, "%s:2,S", name) >= n)
			return -1;
		return 1;
	}
	if (strncmp(info, ":2,", 3) != 0)
		return -1;
	if (strchr(info + 3, 'S') != NULL)
		return 0;
	/* Flags are kept in ASCII order (the Maildir specification). */
	for (f = info + 3; *f != '\0' && *f < 'S'; f++)
		;
	len = f - name;
	if (len + strlen(f) + 2 > n)
		return -1;
	memcpy(buf, name, len);
	buf[len] = 'S';
	strcpy(buf + len + 1, f);
	return 1;
}

/* Its file, if it is still the one listed and lives in cur/. */
static int
expire_stat(struct maildir *md, struct msg *m, struct stat *st)
{
	if (maildir_stat_msg(md, m, st) == -1)
		return -1;
	if (st->st_ino != m->st_ino || m->dir != MD_CUR) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int
expire_due(struct maildir *md, struct msg *m, int64_t days, int64_t now)
{
	struct stat	 st;
	const char	*info;

	if (days <= 0 || expire_stat(md, m, &st) == -1)
		return 0;
	info = strchr(m->name, ':');
	if (info == NULL || strncmp(info, ":2,", 3) != 0 ||
	    strchr(info + 3, 'S') == NULL)
		return 0;
	return (int64_t)st.st_atim.tv_sec <= now - days * 86400;
}

int
expire_mark_seen(struct maildir *md, struct msg *m)
{
	struct stat	 st;
	struct timespec	 ts[2];
	char		 to[NAME_MAX + 1];
	int		 r;

	if (expire_stat(md, m, &st) == -1)
		return -1;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	if (utimensat(md->curfd, m->name, ts, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if ((r = expire_seen_name(m->name, to, sizeof(to))) <= 0) {
		if (r == -1)
			errno = EINVAL;
		return r;
	}
	return renameat2(md->curfd, m->name, md->curfd, to, RENAME_NOREPLACE);
}

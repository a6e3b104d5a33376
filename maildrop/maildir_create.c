/*
 * A new account's Maildir, made at its first login (maildir_create,
 * maildir.h).  Split from pop3d-maildrop.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"

/*
 * The parent directory and the last name of path (trailing slashes aside)
 * for maildir_create, when path does not exist and the name leaves room
 * for the temporary one: 0, or -1 when no maildrop is to be made.
 */
static int
create_names(const char *path, char parent[PATH_MAX], char base[NAME_MAX + 1])
{
	const char	*slash, *name;
	struct stat	 st;
	size_t		 len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= PATH_MAX)
		return -1;
	memcpy(parent, path, len);
	parent[len] = '\0';
	if (lstat(parent, &st) == 0 || errno != ENOENT)
		return -1;
	slash = strrchr(parent, '/');
	name = slash != NULL ? slash + 1 : parent;
	len = strlen(name);
	/* The rename's temporary name: the name and 32 octets more. */
	if (len == 0 || len + 32 > NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return -1;
	memcpy(base, name, len + 1);
	if (slash == NULL)
		strcpy(parent, ".");
	else
		parent[slash == parent ? 1 : slash - parent] = '\0';
	return 0;
}

/*
 * Makes the Maildir whole as tmp in the directory pfd, then renames it to
 * base: 0, or -1 with what it made removed.
 */
static int
create_renamed(int pfd, const char *tmp, const char *base)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	const size_t	nsub = sizeof(sub) / sizeof(sub[0]);
	size_t		i = 0;
	int		fd, r = -1;

	if (mkdirat(pfd, tmp, 0700) == -1)
		return -1;
	if ((fd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) != -1) {
		while (i < nsub && mkdirat(fd, sub[i], 0700) == 0)
			i++;
		/* Never over a directory someone made meanwhile, even empty. */
		if (i == nsub &&
		    renameat2(pfd, tmp, pfd, base, RENAME_NOREPLACE) == 0)
			r = 0;
	}
	if (r == -1) {
		/* Ours alone: a name no one else makes, as this user. */
		for (i = 0; fd != -1 && i < nsub; i++)
			(void)unlinkat(fd, sub[i], AT_REMOVEDIR);
		(void)unlinkat(pfd, tmp, AT_REMOVEDIR);
	}
	if (fd != -1)
		close(fd);
	return r;
}

/*
 * A new account's maildrop, made at its first login as Dovecot does, so
 * that it is not refused until the first delivery: only when path does
 * not exist and its parent (the home, for the chain's "Maildir") is a
 * real directory of this user's.  Nothing is followed that is a symbolic
 * link (the parent is opened O_NOFOLLOW, the rest relative to it), and
 * the Maildir is made whole under a name of its own and renamed into
 * place: a crash leaves no half Maildir, a delivery agent making it at
 * the same moment wins.  Anything else is left to maildir_open to
 * refuse as before.
 */
void
maildir_create(const char *path)
{
	char		 parent[PATH_MAX], base[NAME_MAX + 1];
	char		 tmp[NAME_MAX + 1];
	struct logline	 l;
	struct stat	 st;
	int		 pfd;

	if (create_names(path, parent, base) == -1)
		return;
	/* Fits: base is at most NAME_MAX - 32 octets (create_names). */
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.pop3d-new.%ld", base,
	    (long)getpid()) >= sizeof(tmp))
		return;
	if ((pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if (fstat(pfd, &st) == 0 && st.st_uid == geteuid() &&
	    create_renamed(pfd, tmp, base) == 0) {
		logline_start(&l, "maildrop-created");
		logline_str(&l, "user", getenv("USER"));
		logline_str(&l, "maildrop", path);
		logline_emit(&l);
	}
	close(pfd);
}

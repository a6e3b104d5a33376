/*
 * The penalty box as a whole: clearing records, listing them for
 * pop3d-rules, and sweeping out the dead ones.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "io.h"
#include "penalty.h"
#include "penalty_queue.h"
#include "penalty_record.h"

/* ---- the names of records ---- */

struct name {
	char	s[PENALTY_NAME_MAX + 1];
};

/* Numeric order, IPv4 first. */
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

/* The record names in dfd, sorted: the count, or -1. */
static long
list_names(int dfd, struct name **names)
{
	struct dirent	*de;
	struct name	*v = NULL, *nv;
	DIR		*d;
	size_t		 n = 0, size = 0;
	int		 saved;

	*names = NULL;
	if ((d = statedir_opendir(dfd)) == NULL)
		return -1;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!statedir_name_valid(de->d_name))
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
	if (n > 0)	/* qsort takes no NULL, even for none */
		qsort(v, n, sizeof(*v), name_cmp);
	*names = v;
	return n;
}

/* ---- clearing ---- */

/* Removes every record in dfd (the lock held, if any): the count, or -1. */
static long
clear_all(int dfd)
{
	struct name	*names;
	long		 n, i, removed = 0;
	int		 saved;

	if ((n = list_names(dfd, &names)) == -1)
		return -1;
	for (i = 0; i < n && removed != -1; i++)
		if (unlinkat(dfd, names[i].s, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			removed = -1;
	saved = errno;
	free(names);
	errno = saved;
	return removed;
}

long
penalty_clear(const char *dir, const char *addr)
{
	long	n;
	int	dfd, lock;

	if (addr != NULL && !statedir_name_valid(addr)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = statedir_open(dir, 0)) == -1)
		return addr == NULL && errno == ENOENT ? 0 : -1;
	/*
	 * No lock file: no update has ever run here, so none is under way
	 * to undo ours.  Creating one could leave a root-owned file.
	 */
	if ((lock = penalty_lock(dfd, 0)) == -1 && errno != ENOENT) {
		close_keep_errno(dfd);
		return -1;
	}
	if (addr != NULL)
		n = unlinkat(dfd, addr, 0) == -1 ? -1 : 1;
	else
		n = clear_all(dfd);
	if (lock != -1)
		close_keep_errno(lock);
	close_keep_errno(dfd);
	return n;
}

/* ---- listing ---- */

int
penalty_list(const char *dir, unsigned window, time_t now,
    int (*fn)(const struct penalty_entry *, void *), void *arg)
{
	struct penalty_entry	 e;
	struct penalty_record	*r;
	struct name		*names;
	long			 n, i;
	int			 dfd, rc = 0;

	if ((dfd = statedir_open(dir, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((r = penalty_record_new()) == NULL ||
	    (n = list_names(dfd, &names)) == -1) {
		penalty_record_free(r);
		close_keep_errno(dfd);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (penalty_load(dir, dfd, names[i].s, r, 1) == -1) {
			rc = -1;
			break;
		}
		penalty_prune(r, window, now);
		/* Attempts in flight alone are no news for an operator. */
		if (r->why == PENALTY_NONE && r->nusers == 0 && r->nfails == 0)
			continue;
		penalty_entry_fill(&e, names[i].s, r);
		if (fn(&e, arg) != 0)
			break;
	}
	free(names);
	penalty_record_free(r);
	close_keep_errno(dfd);
	return rc;
}

/* ---- sweeping ---- */

struct sweep {
	const char		*dir;
	time_t			 now;
	struct penalty_record	*r;	/* at the first record */
};

/*
 * Removes the record name when nothing in it can count for any address:
 * a rule may set any window up to PENALTY_WINDOW_MAX, and this sweep's
 * own window says nothing of other addresses'.  1 removed, 0, or -1.
 */
static int
sweep_one(int dfd, const char *name, void *arg)
{
	struct sweep	*s = arg;

	if ((s->r == NULL && (s->r = penalty_record_new()) == NULL) ||
	    penalty_load(s->dir, dfd, name, s->r, 1) == -1)
		return -1;
	penalty_prune(s->r, PENALTY_WINDOW_MAX, s->now);
	if (penalty_tries_alive(s->dir, name, s->r) == -1)
		return -1;
	if (penalty_live(s->r))
		return 0;
	if (unlinkat(dfd, name, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

long
penalty_sweep(const struct penalty_conf *conf, time_t now)
{
	struct sweep	 s = { conf->dir, now, NULL };
	char		 path[PATH_MAX];
	long		 n;
	int		 dfd;

	if (!statedir_time_valid(now))
		return -1;
	/* Slot files of attempts whose processes all ended unsettled. */
	if (statedir_path(path, conf->dir, PENALTY_INFLIGHT) == -1 ||
	    conn_sweep(path, now) == -1 ||
	    penalty_queue_sweep(conf->dir, now) == -1)
		return -1;
	if ((dfd = statedir_open(conf->dir, 1)) == -1)
		return -1;
	n = statedir_sweep(dfd, conf->window, now, penalty_lock, sweep_one,
	    &s);
	penalty_record_free(s.r);
	close_keep_errno(dfd);
	return n;
}

/*
 * pop3d-users import (pop3d-users.8): the users of a Dovecot passwd-file
 * or of the system's passwd and shadow, checked, converted and merged
 * into the users file in one atomic write under its lock, then compiled.
 * A dry run unless -w.  Every user not carried over is said, with the
 * file and line it came from, and makes the exit code 1.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "import_cmd.h"
#include "log.h"
#include "num.h"
#include "passwd.h"
#include "user.h"
#include "usersfile.h"

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec *const	*x = a, *const *y = b;
	int			 c = strcmp((*x)->name, (*y)->name);

	/* Of one name twice, the first read stays first. */
	return c != 0 ? c : *x < *y ? -1 : *x > *y;
}

/* The records by name, a name's second record said and dropped. */
static struct rec **
by_name(struct import *im)
{
	struct rec	**s;
	size_t		 i;

	if ((s = calloc(im->n + 1, sizeof(*s))) == NULL)
		return NULL;
	for (i = 0; i < im->n; i++)
		s[i] = &im->v[i];
	qsort(s, im->n, sizeof(*s), rec_cmp);
	for (i = 1; i < im->n; i++)
		if (strcmp(s[i]->name, s[i - 1]->name) == 0 &&
		    s[i]->state == REC_NEW) {
			import_skip(im, s[i]->src, s[i]->lineno, s[i]->name,
			    "read twice: the first one kept");
			s[i]->state = REC_SKIP;
		}
	return s;
}

/* The first record of name in s (sorted by rec_cmp), or NULL. */
static struct rec *
find(struct import *im, struct rec **s, const char *name)
{
	size_t	lo = 0, hi = im->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(s[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < im->n && strcmp(s[lo]->name, name) == 0 ? s[lo] : NULL;
}

/* A record that will be written: into out, or shown (a dry run). */
static int
emit(struct rec *r, FILE *out)
{
	r->state = REC_DONE;
	if (out == NULL)
		return printf("%s\n", r->shown) < 0 ? -1 : 0;
	return fprintf(out, "%s\n", r->line) < 0 ? -1 : 0;
}

/*
 * The users file copied to out (NULL: a dry run, nothing copied), a
 * record of a name already there replaced with -o, else said and kept.
 * Returns 0, EXIT_DATA for a file with errors (said), -1 on a system
 * error (said).
 */
static int
merge(struct import *im, struct rec **s, FILE *out)
{
	struct usersfile	uf;
	struct user		u;
	enum usersfile_kind	k;
	struct rec		*r;
	int			 bad = 0;

	if (usersfile_open(&uf, im->file) == -1) {
		if (errno == ENOENT)
			return 0;	/* the first users come from here */
		log_warn("%s: %s", im->file, strerror(errno));
		return -1;
	}
	while (!bad && (k = usersfile_next(&uf, &u)) != UF_EOF &&
	    k != UF_ERROR) {
		r = k == UF_RECORD ? find(im, s, u.name) : NULL;
		if (r != NULL && r->state == REC_NEW && im->overwrite)
			bad = emit(r, out) == -1;
		else {
			if (r != NULL && r->state == REC_NEW) {
				log_warn("%s:%lu: %s: already a user: not"
				    " overwritten (-o replaces it)", uf.path,
				    uf.lineno, u.name);
				r->state = REC_SKIP;
				im->skipped++;
			}
			bad = out != NULL && fprintf(out, "%s\n", uf.raw) < 0;
		}
	}
	if (bad || k == UF_ERROR)
		log_warn("%s: %s", im->file, strerror(errno));
	usersfile_close(&uf);
	if (bad || k == UF_ERROR)
		return -1;
	if (uf.errors > 0) {
		log_warn("%s has errors: nothing imported", im->file);
		return EXIT_DATA;
	}
	return 0;
}

/* The records not in the file yet, in the order read. */
static int
append(struct import *im, FILE *out)
{
	size_t	i;

	for (i = 0; i < im->n; i++)
		if (im->v[i].state == REC_NEW && emit(&im->v[i], out) == -1)
			return -1;
	return 0;
}

static unsigned long
done(const struct import *im)
{
	unsigned long	c = 0;
	size_t		i;

	for (i = 0; i < im->n; i++)
		c += im->v[i].state == REC_DONE;
	return c;
}

/* The merged file written and compiled: 0, EXIT_DATA or EXIT_TEMP. */
static int
commit(struct import *im, struct rec **s, struct atomic *a)
{
	const char	*failed;
	FILE		*out;
	int		 fd, r;

	if ((fd = dup(a->fd)) == -1 || (out = fdopen(fd, "w")) == NULL) {
		log_warn("%s: %s", im->file, strerror(errno));
		if (fd != -1)
			close(fd);
		atomic_abort(a);
		return EXIT_TEMP;
	}
	if ((r = merge(im, s, out)) == 0 && append(im, out) == -1)
		r = -1;
	if (fclose(out) != 0 && r == 0)
		r = -1;
	if (r != 0 || done(im) == 0) {
		if (r == -1)
			log_warn("%s: %s", im->file, strerror(errno));
		atomic_abort(a);
		return r == 0 ? 0 : r == -1 ? EXIT_TEMP : r;
	}
	if (atomic_commit(a) == -1) {
		log_warn("%s: %s", im->file, strerror(errno));
		return EXIT_TEMP;
	}
	if (usersfile_install(im->file, im->db, &failed) == -1) {
		log_warn("%s: %s: the users are saved in %s but not in the"
		    " database yet: mend that, then run pop3d-users compile",
		    failed, strerror(errno), im->file);
		return errno == EINVAL ? EXIT_DATA : EXIT_TEMP;
	}
	return 0;
}

/* Under the users file's lock: the one atomic write, then the compile. */
static int
write_all(struct import *im, struct rec **s)
{
	struct atomic	a;
	int		lock, r;

	if ((lock = usersfile_lock(im->file, USERS_LOCK_TIMEOUT_MS)) == -1) {
		log_warn("lock %s.lock: %s", im->file, strerror(errno));
		return EXIT_TEMP;
	}
	if (atomic_open(&a, im->file, 0) == -1) {
		log_warn("%s: %s", im->file, strerror(errno));
		r = EXIT_TEMP;
	} else
		r = commit(im, s, &a);
	close(lock);
	return r;
}

static void
import_free(struct import *im)
{
	size_t	i;

	for (i = 0; i < im->n; i++) {
		explicit_bzero(im->v[i].line, strlen(im->v[i].line));
		free(im->v[i].line);
		free(im->v[i].shown);
		free(im->v[i].name);
	}
	free(im->v);
}

/* -u, -g: a number, or the name of a system user (group) to copy. */
static int
id_opt(const char *s, int group, unsigned long *v, int *set)
{
	struct passwd	*pw;
	struct group	*gr;
	uint64_t	 n;

	*set = 1;
	if (num_parse(s, USERS_ID_MIN, USERS_ID_MAX, &n) == 0) {
		*v = n;
		return 0;
	}
	if (!group && (pw = getpwnam(s)) != NULL && pw->pw_uid != 0) {
		*v = pw->pw_uid;
		return 0;
	}
	if (group && (gr = getgrnam(s)) != NULL && gr->gr_gid != 0) {
		*v = gr->gr_gid;
		return 0;
	}
	log_warn("bad %s: %s", group ? "gid" : "uid", s);
	return -1;
}

/* Parses the command's options into im: 0, -1 usage, -2 a bad value. */
static int
options(struct import *im, int argc, char **argv, const char **dovecot,
    const char **pw, const char **sh)
{
	int	ch, dry = 0, sys = 0;

	while ((ch = getopt(argc, argv, "D:g:h:m:noP:sS:u:wy")) != -1) {
		switch (ch) {
		case 'D': *dovecot = optarg; break;
		case 'g':
			if (id_opt(optarg, 1, &im->gid, &im->gid_set) == -1)
				return -2;
			break;
		case 'h': im->home = optarg; break;
		case 'm':
			if ((im->prefix = passwd_prefix(optarg)) == NULL)
				return -1;
			break;
		case 'n': dry = 1; break;
		case 'o': im->overwrite = 1; break;
		case 'P': *pw = optarg; break;
		case 's': im->secret = 1; break;
		case 'S': *sh = optarg; break;
		case 'u':
			if (id_opt(optarg, 0, &im->uid, &im->uid_set) == -1)
				return -2;
			break;
		case 'w': im->write = 1; break;
		case 'y': sys = 1; break;
		default: return -1;
		}
	}
	if ((dry && im->write) || (*dovecot != NULL) == sys)
		return -1;
	if (im->home != NULL && im->home[0] != '/') {
		log_warn("bad -h: %s (an absolute path)", im->home);
		return -2;
	}
	im->names = argv + optind;
	im->nnames = argc - optind;
	return 0;
}

int
import_command(const char *file, const char *db, int argc, char **argv)
{
	static struct import	 im;
	char			 a[3][PATH_MAX];
	const char		*dovecot = NULL, *pw = "/etc/passwd";
	const char		*sh = "/etc/shadow";
	struct rec		**s = NULL;
	int			 r;

	memset(&im, 0, sizeof(im));
	im.file = file;
	im.db = db;
	if ((r = options(&im, argc, argv, &dovecot, &pw, &sh)) < 0)
		return r == -1 ? -1 : EXIT_DATA;
	if (dovecot != NULL)
		r = import_read_dovecot(&im, log_abspath(dovecot, a[0], sizeof(a[0])));
	else
		r = import_read_system(&im, log_abspath(pw, a[1], sizeof(a[1])),
		    log_abspath(sh, a[2], sizeof(a[2])));
	if (r == 0 && (s = by_name(&im)) == NULL)
		r = -1;
	if (r == 0 && im.write)
		r = write_all(&im, s);
	else if (r == 0 && ((r = merge(&im, s, NULL)) == 0) &&
	    append(&im, NULL) == -1)
		r = -1;
	if (r == -1)
		r = EXIT_TEMP;
	if (r == 0)
		log_warn("%lu users %s, %lu not carried over%s", done(&im),
		    im.write ? "imported" : "to import (a dry run: -w writes"
		    " them)", im.skipped, im.skipped > 0 ? " (said above)" :
		    "");
	free(s);
	import_free(&im);
	if (r == 0 && im.skipped > 0)
		r = EXIT_DATA;
	return r;
}

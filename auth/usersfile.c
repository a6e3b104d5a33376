#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "cdbcheck.h"
#include "lock.h"
#include "passwd.h"
#include "textline.h"
#include "userdb.h"
#include "usersfile.h"

int
usersfile_open(struct usersfile *uf, const char *path)
{
	memset(uf, 0, sizeof(*uf));
	uf->path = path;
	if ((uf->f = fopen(path, "re")) == NULL)
		return -1;
	return 0;
}

void
usersfile_close(struct usersfile *uf)
{
	if (uf->f != NULL)
		fclose(uf->f);
	uf->f = NULL;
	/* The lines held hashes and APOP secrets. */
	explicit_bzero(uf->raw, sizeof(uf->raw));
	explicit_bzero(uf->work, sizeof(uf->work));
}

void
usersfile_report(struct usersfile *uf, const char *msg)
{
	fprintf(stderr, "%s:%lu: %s\n", uf->path, uf->lineno, msg);
	uf->errors++;
}

/*
 * One line into raw, without its LF: UF_RECORD for a line (classified by
 * the caller), UF_BAD for one too long or holding a NUL (read to its end).
 */
static enum usersfile_kind
usersfile_line(struct usersfile *uf)
{
	int	r = textline_read(uf->f, uf->raw, USERS_LINE_MAX, &uf->len);

	if (r == TEXTLINE_ERROR)
		return UF_ERROR;
	if (r == TEXTLINE_EOF)
		return UF_EOF;
	uf->lineno++;
	if (r != TEXTLINE_OK) {
		usersfile_report(uf, r == TEXTLINE_LONG ? "line too long" :
		    "NUL character in line");
		return UF_BAD;
	}
	return UF_RECORD;
}

enum usersfile_kind
usersfile_next(struct usersfile *uf, struct user *u)
{
	enum usersfile_kind	k;
	const char		*why;

	if ((k = usersfile_line(uf)) != UF_RECORD)
		return k;
	if (user_line_blank(uf->raw))
		return UF_BLANK;
	memcpy(uf->work, uf->raw, uf->len + 1);
	if (user_parse(uf->work, u, &why) == -1) {
		usersfile_report(uf, why);
		return UF_BAD;
	}
	return UF_RECORD;
}

/*
 * The settings of the records' hashes (method and cost, user_hash_setting)
 * and how many records use each: the first USERS_SETTINGS_MAX distinct.
 */
struct usersfile_settings {
	size_t		n;
	struct {
		char		setting[USERS_HASH_MAX + 1];
		unsigned long	count;
	}		v[USERS_SETTINGS_MAX];
};

static void
usersfile_count(struct usersfile_settings *st, const char *hash)
{
	size_t	len = user_hash_setting(hash), i;

	/*
	 * Locked, or legacy: a dummy of md5-crypt would let the strong
	 * accounts be told from unknown names by their cost.
	 */
	if (len == 0 || user_hash_legacy(hash))
		return;
	for (i = 0; i < st->n; i++)
		if (strlen(st->v[i].setting) == len &&
		    strncmp(st->v[i].setting, hash, len) == 0) {
			st->v[i].count++;
			return;
		}
	if (st->n == USERS_SETTINGS_MAX)
		return;
	memcpy(st->v[st->n].setting, hash, len);
	st->v[st->n].setting[len] = '\0';
	st->v[st->n++].count = 1;
}

/* The setting most records use (usersfile_compile), or NULL. */
static const char *
usersfile_dominant(const struct usersfile_settings *st)
{
	const char	*best = NULL;
	unsigned long	 most = 0;
	size_t		 i;

	/* A tie goes to the first in strcmp order, not in the file's. */
	for (i = 0; i < st->n; i++)
		if (st->v[i].count > most || (st->v[i].count == most &&
		    strcmp(st->v[i].setting, best) < 0)) {
			best = st->v[i].setting;
			most = st->v[i].count;
		}
	return best;
}

/*
 * The dummy hash, of the setting most records of a non-legacy method use
 * (yescrypt's default when none has one), under its key.  A setting that crypt(3)
 * cannot use is said, and the default taken.
 */
static int
usersfile_put_dummy(struct usersfile *uf, struct cdb_make *cm,
    const struct usersfile_settings *st)
{
	char		 dummy[USERS_HASH_MAX + 1];
	const char	*set = usersfile_dominant(st);
	int		 r;

	r = passwd_dummy_make(set, set != NULL ? strlen(set) : 0, dummy,
	    sizeof(dummy));
	if (r == -1 && set != NULL && errno == EINVAL) {
		fprintf(stderr, "%s: crypt(3) cannot use %s, the setting most"
		    " accounts have: unknown users cost a yescrypt check\n",
		    uf->path, set);
		r = passwd_dummy_make(NULL, 0, dummy, sizeof(dummy));
	}
	if (r == -1)
		return -1;
	return cdbcheck_put(cm, USERDB_DUMMY_KEY, USERDB_DUMMY_KEYLEN, dummy,
	    strlen(dummy), CDB_PUT_ADD) != 0 ? -1 : 0;
}

/* Adds one record under its name; a second record of a name is an error. */
static int
usersfile_put(struct usersfile *uf, struct cdb_make *cm, const struct user *u,
    unsigned long *count)
{
	char		 rec[USERS_LINE_MAX + 1];
	const char	*why;
	int		 r;

	if (user_format(u, rec, sizeof(rec), &why) == -1) {
		usersfile_report(uf, why);
		return 0;
	}
	if (++*count > USERS_COUNT_MAX) {
		usersfile_report(uf, "too many users");
		return 0;
	}
	r = cdbcheck_put(cm, u->name, strlen(u->name), rec, strlen(rec),
	    CDB_PUT_INSERT);
	explicit_bzero(rec, sizeof(rec));
	if (r == 1)
		usersfile_report(uf, "duplicate user");
	return r < 0 ? -1 : 0;
}

static int
usersfile_scan(struct usersfile *uf, struct cdb_make *cm,
    struct usersfile_settings *st)
{
	struct user		u;
	enum usersfile_kind	k;
	unsigned long		count = 0;

	while ((k = usersfile_next(uf, &u)) != UF_EOF) {
		if (k == UF_ERROR)
			return -1;
		if (k != UF_RECORD)
			continue;
		if (usersfile_put(uf, cm, &u, &count) == -1)
			return -1;
		usersfile_count(st, u.hash);
	}
	return 0;
}

int
usersfile_compile(const char *path, int fd)
{
	static struct usersfile_settings	st;
	struct usersfile	uf;
	struct cdb_make		cm;
	int			r, saved;

	if (usersfile_open(&uf, path) == -1)
		return -1;
	if (cdb_make_start(&cm, fd) != 0) {
		usersfile_close(&uf);
		return -1;
	}
	st.n = 0;
	r = usersfile_scan(&uf, &cm, &st);
	/* No dummy to make (a crypt(3) call) for a file with errors. */
	if (r == 0 && uf.errors == 0 && usersfile_put_dummy(&uf, &cm, &st) ==
	    -1)
		r = -1;
	if (r == 0 && cdbcheck_put(&cm, USERDB_MARK_KEY, USERDB_MARK_KEYLEN,
	    USERDB_MARK_VALUE, USERDB_MARK_VALUELEN, CDB_PUT_ADD) != 0)
		r = -1;
	/* cdb_make_finish frees what cdb_make holds: it runs regardless. */
	if (cdb_make_finish(&cm) != 0)
		r = -1;
	saved = errno;
	if (r == 0 && uf.errors > 0) {
		r = -1;
		saved = EINVAL;
	}
	usersfile_close(&uf);
	errno = saved;
	return r;
}

/* What the edit does to the record of its user: 1 keep (changed), 0 drop. */
static int
usersfile_change(const struct usersfile_edit *e, struct user *u)
{
	switch (e->op) {
	case UF_SET_HASH:
		u->hash = e->value;
		return 1;
	case UF_SET_APOP:
		u->apop = e->value;
		return 1;
	case UF_SET_POLICY:
		if (e->expire != NULL)
			u->expire = *e->expire != '\0' ? e->expire : NULL;
		if (e->login_delay != NULL)
			u->login_delay = *e->login_delay != '\0' ?
			    e->login_delay : NULL;
		if (e->uidl_format != NULL)
			u->uidl_format = *e->uidl_format != '\0' ?
			    e->uidl_format : NULL;
		return 1;
	default:
		return 0;
	}
}

static int
usersfile_emit(FILE *out, const struct user *u, const char **why)
{
	char	rec[USERS_LINE_MAX + 1];
	int	r;

	if (user_format(u, rec, sizeof(rec), why) == -1)
		return -1;
	r = fprintf(out, "%s\n", rec);
	explicit_bzero(rec, sizeof(rec));
	return r < 0 ? -1 : 0;
}

/*
 * Copies the file to out with the edit applied.  *found tells whether the
 * user was there: 1, or 2 with a hash other than e->expect (the record
 * left as it was).  Returns -1 on a write error; errors in the file are
 * counted in uf.
 */
static int
usersfile_copy(struct usersfile *uf, FILE *out,
    const struct usersfile_edit *e, int *found, const char **why)
{
	struct user		u;
	enum usersfile_kind	k;

	while ((k = usersfile_next(uf, &u)) != UF_EOF) {
		if (k == UF_ERROR)
			return -1;
		if (k == UF_BAD)
			continue;
		if (k == UF_RECORD && strcmp(u.name, e->name) == 0) {
			*found = 1;
			if (e->op == UF_ADD)
				usersfile_report(uf, "user exists");
			else if (e->expect != NULL &&
			    strcmp(u.hash, e->expect) != 0) {
				*found = 2;	/* changed since it was read */
				if (fprintf(out, "%s\n", uf->raw) < 0)
					return -1;
			} else if (usersfile_change(e, &u) &&
			    usersfile_emit(out, &u, why) == -1)
				return -1;
			continue;
		}
		if (fprintf(out, "%s\n", uf->raw) < 0)
			return -1;
	}
	if (e->op == UF_ADD && !*found)
		return usersfile_emit(out, e->user, why);
	return 0;
}

/* The edit into the temporary file: 0, or -1 with errno. */
static int
usersfile_rewrite(struct usersfile *uf, int fd,
    const struct usersfile_edit *e, const char **why)
{
	FILE	*out;
	int	 found = 0, r, dupfd, saved;

	if ((dupfd = dup(fd)) == -1)
		return -1;
	if ((out = fdopen(dupfd, "w")) == NULL) {
		close(dupfd);
		return -1;
	}
	*why = NULL;
	r = usersfile_copy(uf, out, e, &found, why);
	saved = errno;
	if (fclose(out) != 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == 0 && uf->errors > 0) {
		r = -1;
		saved = found && e->op == UF_ADD ? EEXIST : EINVAL;
	} else if (r == 0 && !found && e->op != UF_ADD) {
		r = -1;
		saved = ESRCH;
	} else if (r == 0 && found == 2) {
		r = -1;
		saved = ESTALE;
	} else if (r == -1 && *why != NULL)
		saved = EINVAL;
	errno = saved;
	return r;
}

int
usersfile_apply(const char *path, const struct usersfile_edit *e,
    const char **why)
{
	struct usersfile	uf;
	struct atomic		a;
	int			r;

	*why = NULL;
	if (usersfile_open(&uf, path) == -1) {
		if (errno != ENOENT || e->op != UF_ADD)
			return -1;
		/* No file yet: the first user makes it. */
		if ((uf.f = fopen("/dev/null", "re")) == NULL)
			return -1;
	}
	if (atomic_open(&a, path, 0) == -1) {
		usersfile_close(&uf);
		return -1;
	}
	r = usersfile_rewrite(&uf, a.fd, e, why);
	usersfile_close(&uf);
	if (r == -1) {
		atomic_abort(&a);
		return -1;
	}
	return atomic_commit(&a);
}

int
usersfile_lock(const char *path, int timeout_ms)
{
	char	name[PATH_MAX];
	int	fd, n;

	n = snprintf(name, sizeof(name), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_NONBLOCK: a FIFO planted there must not hang the open. */
	if ((fd = open(name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (lock_wait(fd, F_WRLCK, 0, 0, timeout_ms) == -1) {
		n = errno;
		close(fd);
		errno = n;
		return -1;
	}
	return fd;
}

/*
 * The database as written, read back as pop3d-auth will: it opens (its
 * marker and dummy), and every record is checked and found by a lookup.
 * 0, or -1 with errno EIO.
 */
static int
usersfile_verify(const char *path)
{
	struct userdb	db;
	unsigned long	n;
	int		r;

	if (userdb_open(&db, path) == -1) {
		errno = EIO;
		return -1;
	}
	r = cdbcheck_verify(&db.cdb, &n);
	userdb_close(&db);
	if (r != 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int
usersfile_install(const char *file, const char *db, const char **failed)
{
	struct atomic	a;

	*failed = db;
	if (atomic_open(&a, db, 0) == -1)
		return -1;
	if (usersfile_compile(file, a.fd) == -1) {
		*failed = file;
		atomic_abort(&a);
		return -1;
	}
	if (usersfile_verify(a.tmp) == -1) {
		atomic_abort(&a);
		errno = EIO;
		return -1;
	}
	return atomic_commit(&a);
}

int
usersfile_update(const char *file, const char *db,
    const struct usersfile_edit *e, const char **why, const char **failed)
{
	int	lock, r, saved;

	*why = NULL;
	*failed = file;
	if ((lock = usersfile_lock(file, USERS_LOCK_TIMEOUT_MS)) == -1)
		return -1;
	r = usersfile_apply(file, e, why);
	if (r == 0)
		r = usersfile_install(file, db, failed);
	saved = errno;
	close(lock);
	errno = saved;
	return r;
}

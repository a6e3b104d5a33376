/*
 * pop3d-users import: reading the sources, a Dovecot passwd-file or the
 * system's passwd and shadow, into records of the users file; each user
 * that cannot be carried over is said with the file and line it is on.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import_cmd.h"
#include "log.h"
#include "passwd.h"
#include "textline.h"
#include "user.h"

/* "src:lineno: name: msg", and one more user not carried over. */
void
import_skip(struct import *im, const char *src, unsigned long lineno,
    const char *name, const char *msg)
{
	log_warn("%s:%lu: %s%s%s", src, lineno, name != NULL ? name : "",
	    name != NULL ? ": " : "", msg);
	im->skipped++;
}

static int
wanted(const struct import *im, const char *name)
{
	int	i;

	if (im->nnames == 0)
		return 1;
	for (i = 0; i < im->nnames; i++)
		if (strcmp(im->names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * u into the list; shown (a dry run's) has label in place of the hash,
 * which is no one's business on a terminal.
 */
static int
push(struct import *im, const struct user *u, const char *label,
    const char *src, unsigned long lineno)
{
	char		 buf[USERS_LINE_MAX + 1];
	struct user	 m = *u;
	struct rec	*r;
	const char	*why;

	if (im->n == im->cap) {
		if ((r = reallocarray(im->v, im->cap ? im->cap * 2 : 64,
		    sizeof(*r))) == NULL)
			return -1;
		im->v = r;
		im->cap = im->cap ? im->cap * 2 : 64;
	}
	r = &im->v[im->n];
	if (user_format(u, buf, sizeof(buf), &why) == -1)
		return -1;
	r->line = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	m.apop = u->apop != NULL ? "(secret)" : NULL;
	m.hash = "*";	/* name:*:...: the label goes where "*" is */
	r->shown = NULL;
	if (user_format(&m, buf, sizeof(buf), &why) == 0 &&
	    asprintf(&r->shown, "%s:%s%s", u->name, label,
	    buf + strlen(u->name) + 2) == -1)
		r->shown = NULL;
	r->name = strdup(u->name);
	r->state = REC_NEW;
	r->src = src;
	r->lineno = lineno;
	/* Counted whole or not at all, so that import_free frees it. */
	if (r->line == NULL || r->shown == NULL || r->name == NULL) {
		if (r->line != NULL)
			explicit_bzero(r->line, strlen(r->line));
		free(r->line);
		free(r->shown);
		free(r->name);
		errno = ENOMEM;
		return -1;
	}
	im->n++;
	return 0;
}

/* The hash of the entry's password into hash: 0, 1 (said), -1 system. */
static int
entry_hash(struct import *im, const struct import_entry *e, char *hash,
    size_t n, const char **why)
{
	switch (e->kind) {
	case IMPORT_SCHEME:
		*why = "a password scheme that crypt(3) cannot check: not"
		    " imported (set one with pop3d-users passwd)";
		return 1;
	case IMPORT_LOCKED:
		*why = "no password (empty or locked): not imported";
		return 1;
	case IMPORT_HASH:
		if (!passwd_carriable(e->pass, why))
			return 1;
		snprintf(hash, n, "%s", e->pass);
		return 0;
	default:
		/* A dry run shows no hash: not worth a costly one. */
		if (!im->write) {
			snprintf(hash, n, "*");
			return 0;
		}
		return passwd_hash(im->prefix, e->pass, hash, n) == -1 ? -1 : 0;
	}
}

/* What a dry run shows for the hash: its method, never the hash. */
static void
hash_label(const struct import *im, const struct import_entry *e,
    const char *hash, char *label, size_t n)
{
	const char	*end = strchr(hash + 1, '$');

	if (e->kind == IMPORT_PLAIN)
		snprintf(label, n, "(plain, hashed with %s by -w)",
		    passwd_method(im->prefix != NULL ? im->prefix : "$y$"));
	else
		snprintf(label, n, "(hash %.*s)", end != NULL ?
		    (int)(end - hash + 1) : 3, hash);
}

/*
 * Dovecot's %u (the name), %n (before its @), %d (after it) and %% of
 * the -h template for name, into out (size n): 0, or -1.
 */
static int
home_expand(const char *t, const char *name, char *out, size_t n)
{
	const char	*at = strchr(name, '@');
	size_t		 len = 0, vl;
	const char	*v;

	for (; *t != '\0'; t++) {
		v = t;
		vl = 1;
		if (*t == '%') {
			switch (*++t) {
			case 'u': v = name; vl = strlen(name); break;
			case 'n': v = name; vl = at != NULL ? (size_t)(at -
			    name) : strlen(name); break;
			case 'd': v = at != NULL ? at + 1 : ""; vl = strlen(v);
			    break;
			case '%': v = t; break;
			default: return -1;
			}
		}
		if (len + vl >= n)
			return -1;
		memcpy(out + len, v, vl);
		len += vl;
	}
	out[len] = '\0';
	return 0;
}

/* The uid, gid and home of u: the line's, else -u, -g, -h; 0 or -1. */
static int
where(struct import *im, const struct import_entry *e, struct user *u,
    char *home, size_t n, const char **why)
{
	u->name = e->name;
	u->uid = e->uid_set ? e->uid : im->uid;
	u->gid = e->gid_set ? e->gid : im->gid;
	u->home = e->home;
	if (u->home == NULL && im->home != NULL) {
		if (home_expand(im->home, e->name, home, n) == -1) {
			*why = "-h gives no home for the name (%u, %n, %d, %%)";
			return -1;
		}
		u->home = home;
	}
	if ((!e->uid_set && !im->uid_set) || (!e->gid_set && !im->gid_set) ||
	    u->home == NULL) {
		*why = "no uid, gid or home: give them in the line or with"
		    " -u, -g, -h";
		return -1;
	}
	return 0;
}

/*
 * One account read from src:lineno into the list, or said and counted.
 * Returns 0, or -1 on a system error (said).
 */
static int
entry_add(struct import *im, const struct import_entry *e, const char *src,
    unsigned long lineno)
{
	char		 hash[USERS_HASH_MAX + 1], msg[160], label[64];
	char		 home[USERS_PATH_MAX + 2];
	struct user	 u;
	const char	*why = NULL;
	int		 r;

	if (!wanted(im, e->name))
		return 0;
	memset(&u, 0, sizeof(u));
	if (where(im, e, &u, home, sizeof(home), &why) == -1) {
		import_skip(im, src, lineno, e->name, why);
		return 0;
	}
	if ((r = entry_hash(im, e, hash, sizeof(hash), &why)) == -1) {
		log_warn("cannot hash the password: %s", strerror(errno));
		return -1;
	}
	if (r == 1) {
		if (e->kind == IMPORT_SCHEME) {
			snprintf(msg, sizeof(msg), "{%s}: %s", e->scheme, why);
			why = msg;
		}
		import_skip(im, src, lineno, e->name, why);
		return 0;
	}
	u.hash = hash;
	if (im->secret && e->kind == IMPORT_PLAIN) {
		u.apop = e->pass;
		if (user_check(&u, &why) == -1) {
			/* Imported all the same: a warning, not a skip. */
			log_warn("warning: %s:%lu: %s: the password cannot be"
			    " an APOP secret (at most 128 printable"
			    " characters, no space or colon): imported"
			    " without one", src, lineno, e->name);
			u.apop = NULL;
		}
	}
	hash_label(im, e, hash, label, sizeof(label));
	if (user_check(&u, &why) == -1)
		import_skip(im, src, lineno, e->name, why);
	else if (push(im, &u, label, src, lineno) == -1) {
		log_warn("%s", strerror(errno));
		return -1;
	} else if (user_hash_legacy(hash))
		log_warn("warning: %s:%lu: %s: " USER_LEGACY_WARNING, src,
		    lineno, e->name, hash);
	explicit_bzero(hash, sizeof(hash));
	return 0;
}

/*
 * The next line of f into im->line: 1, 0 at the end, -1 on a read error
 * (said); a long line or one with a NUL is said, counted and passed over.
 */
static int
next_line(struct import *im, FILE *f, const char *src, unsigned long *lineno)
{
	size_t	len;
	int	r;

	for (;;) {
		r = textline_read(f, im->line, IMPORT_LINE_MAX, &len);
		if (r == TEXTLINE_EOF)
			return 0;
		if (r == TEXTLINE_ERROR) {
			log_warn("%s: %s", src, strerror(errno));
			return -1;
		}
		++*lineno;
		if (r == TEXTLINE_OK)
			return 1;
		import_skip(im, src, *lineno, NULL, r == TEXTLINE_LONG ?
		    "line too long (at most 8192 octets)" :
		    "NUL character in line");
	}
}

/*
 * src (an absolute path) for reading.  O_NONBLOCK so that a FIFO named
 * there cannot hang the command in open; links are followed, as admins
 * may keep them.  Only a regular file is read.  NULL when not (said).
 */
static FILE *
open_src(const char *src)
{
	struct stat	 st;
	FILE		*f;
	int		 fd, fl;

	if ((fd = open(src, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		log_warn("%s: %s", src, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || (fl = fcntl(fd, F_GETFL)) == -1 ||
	    (S_ISREG(st.st_mode) &&
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)) {
		log_warn("%s: %s", src, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warn("%s: not a regular file", src);
		close(fd);
		return NULL;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		log_warn("%s: %s", src, strerror(errno));
		close(fd);
	}
	return f;
}

int
import_read_dovecot(struct import *im, const char *src)
{
	struct import_entry	e;
	unsigned long		lineno = 0;
	const char		*why;
	FILE			*f;
	int			 r;

	if ((f = open_src(src)) == NULL)
		return -1;
	while ((r = next_line(im, f, src, &lineno)) == 1) {
		if ((r = import_dovecot(im->line, &e, &why)) == 1)
			continue;
		if (r == -1)
			import_skip(im, src, lineno, e.name != NULL &&
			    user_name_valid(e.name) ? e.name : NULL, why);
		else if (entry_add(im, &e, src, lineno) == -1)
			break;
	}
	explicit_bzero(im->line, sizeof(im->line));
	explicit_bzero(&e, sizeof(e));
	fclose(f);
	return r == 0 ? 0 : -1;
}

/* shadow's hashes, by name, for read_system. */
struct shadow {
	char		*name, *hash;
	unsigned long	 lineno;
};

static int
shadow_cmp(const void *a, const void *b)
{
	return strcmp(((const struct shadow *)a)->name,
	    ((const struct shadow *)b)->name);
}

static void
shadow_free(struct shadow *v, size_t n)
{
	while (n-- > 0) {
		explicit_bzero(v[n].hash, strlen(v[n].hash));
		free(v[n].hash);
		free(v[n].name);
	}
	free(v);
}

static int
read_shadow(struct import *im, const char *src, struct shadow **out,
    size_t *np)
{
	struct import_entry	 e;
	struct shadow		*v = NULL, *t;
	size_t			 n = 0, cap = 0;
	unsigned long		 lineno = 0;
	const char		*name, *why;
	FILE			*f;
	int			 r;

	if ((f = open_src(src)) == NULL)
		return -1;
	while ((r = next_line(im, f, src, &lineno)) == 1) {
		if ((r = import_shadow(im->line, &name, &e, &why)) == 1)
			continue;
		if (r == -1) {
			import_skip(im, src, lineno, NULL, why);
			continue;
		}
		if (n == cap) {
			if ((t = reallocarray(v, cap ? cap * 2 : 64,
			    sizeof(*v))) == NULL) {
				r = -1;
				break;
			}
			v = t;
			cap = cap ? cap * 2 : 64;
		}
		v[n].lineno = lineno;
		if ((v[n].name = strdup(name)) == NULL ||
		    (v[n].hash = strdup(e.pass)) == NULL) {
			free(v[n].name);
			r = -1;
			break;
		}
		n++;
	}
	explicit_bzero(im->line, sizeof(im->line));
	fclose(f);
	if (r != 0) {
		if (errno == ENOMEM)
			log_warn("%s: %s", src, strerror(errno));
		shadow_free(v, n);
		return -1;
	}
	qsort(v, n, sizeof(*v), shadow_cmp);
	*out = v;
	*np = n;
	return 0;
}

/* Each account of passwd with its hash from shadow. */
int
import_read_system(struct import *im, const char *pw, const char *sh)
{
	struct import_entry	 e;
	struct shadow		*v, key, *s;
	size_t			 n;
	unsigned long		 lineno = 0;
	const char		*why;
	FILE			*f;
	int			 r;

	if (read_shadow(im, sh, &v, &n) == -1)
		return -1;
	if ((f = open_src(pw)) == NULL) {
		shadow_free(v, n);
		return -1;
	}
	while ((r = next_line(im, f, pw, &lineno)) == 1) {
		if ((r = import_passwd(im->line, &e, &why)) == 1)
			continue;
		if (r == -1) {
			import_skip(im, pw, lineno, NULL, why);
			continue;
		}
		key.name = (char *)e.name;
		if (!wanted(im, e.name))
			continue;
		if ((s = bsearch(&key, v, n, sizeof(*v), shadow_cmp)) == NULL) {
			import_skip(im, pw, lineno, e.name, "not in the shadow file:"
			    " not imported");
			continue;
		}
		e.pass = s->hash;
		e.kind = *s->hash == '\0' || user_hash_locked(s->hash) ?
		    IMPORT_LOCKED : IMPORT_HASH;
		if (entry_add(im, &e, sh, s->lineno) == -1)
			break;
	}
	explicit_bzero(im->line, sizeof(im->line));
	fclose(f);
	shadow_free(v, n);
	return r == 0 ? 0 : -1;
}

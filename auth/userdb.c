#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "userdb.h"

/*
 * The dummy hash into db->dummy, "" when there is none: 0, or -1 when it
 * is there but no usable hash (too long, a NUL, locked, a method not
 * accepted, no setting of the form user_hash_setting knows).
 */
static int
userdb_dummy(struct userdb *db)
{
	unsigned	len;
	int		r;

	db->dummy[0] = '\0';
	r = cdb_find(&db->cdb, USERDB_DUMMY_KEY, USERDB_DUMMY_KEYLEN);
	if (r <= 0)
		return r;
	if ((len = cdb_datalen(&db->cdb)) >= sizeof(db->dummy) ||
	    cdb_read(&db->cdb, db->dummy, len, cdb_datapos(&db->cdb)) != 0)
		return -1;
	db->dummy[len] = '\0';
	if (strlen(db->dummy) != len || !user_hash_valid(db->dummy) ||
	    user_hash_locked(db->dummy) || user_hash_setting(db->dummy) == 0)
		return -1;
	return 0;
}

int
userdb_open(struct userdb *db, const char *path)
{
	char	v[USERDB_MARK_VALUELEN];
	int	r;

	if ((db->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (cdb_init(&db->cdb, db->fd) != 0) {
		close(db->fd);
		errno = EINVAL;
		return -1;
	}
	r = cdb_find(&db->cdb, USERDB_MARK_KEY, USERDB_MARK_KEYLEN);
	if (r != 1 || cdb_datalen(&db->cdb) != USERDB_MARK_VALUELEN ||
	    cdb_read(&db->cdb, v, sizeof(v), cdb_datapos(&db->cdb)) != 0 ||
	    memcmp(v, USERDB_MARK_VALUE, sizeof(v)) != 0 ||
	    userdb_dummy(db) == -1) {
		cdb_free(&db->cdb);
		close(db->fd);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
userdb_lookup(struct userdb *db, const char *name, struct user *u,
    const char **why)
{
	unsigned	len;
	int		r;

	*why = NULL;
	if (!user_name_valid(name))
		return 0;
	r = cdb_find(&db->cdb, name, strlen(name));
	if (r <= 0) {
		if (r < 0)
			errno = EINVAL;
		return r;
	}
	len = cdb_datalen(&db->cdb);
	if (len > USERS_LINE_MAX) {
		*why = "record too long";
		errno = EINVAL;
		return -1;
	}
	if (cdb_read(&db->cdb, db->rec, len, cdb_datapos(&db->cdb)) != 0) {
		*why = "record unreadable";
		return -1;
	}
	db->rec[len] = '\0';
	if (memchr(db->rec, '\0', len) != NULL) {
		*why = "NUL in record";
		errno = EINVAL;
		return -1;
	}
	if (user_parse(db->rec, u, why) == -1)
		return -1;
	if (strcmp(u->name, name) != 0) {
		*why = "record under another user's key";
		errno = EINVAL;
		return -1;
	}
	return 1;
}

void
userdb_close(struct userdb *db)
{
	cdb_free(&db->cdb);
	close(db->fd);
	explicit_bzero(db->rec, sizeof(db->rec));
}

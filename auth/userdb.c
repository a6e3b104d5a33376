#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cdbcheck.h"
#include "userdb.h"

#define WHY_DAMAGED	"users database damaged: run pop3d-users compile"
#define WHY_OLD		"users database of an older version, without" \
			" checks: run pop3d-users compile"
#define WHY_NOT_OURS	"not a pop3d users database"

/*
 * The dummy hash into db->dummy: 0, or -1 when it is missing or no usable
 * hash (too long, a NUL, locked, a method not accepted, no setting of the
 * form user_hash_setting knows).
 */
static int
userdb_dummy(struct userdb *db)
{
	const unsigned char	*v;
	unsigned		 len;

	db->dummy[0] = '\0';
	if (cdbcheck_find(&db->cdb, USERDB_DUMMY_KEY, USERDB_DUMMY_KEYLEN,
	    &v, &len) != 1 || len >= sizeof(db->dummy))
		return -1;
	memcpy(db->dummy, v, len);
	db->dummy[len] = '\0';
	if (strlen(db->dummy) != len || !user_hash_valid(db->dummy) ||
	    user_hash_locked(db->dummy) || user_hash_setting(db->dummy) == 0)
		return -1;
	return 0;
}

/*
 * Is the marker ours, of this version?  NULL if so, else the reason.  A
 * marker that fails its check may be one of version 1, which had none.
 */
static const char *
userdb_mark(struct userdb *db)
{
	const unsigned char	*v;
	unsigned		 len;
	int			 r;

	r = cdbcheck_find(&db->cdb, USERDB_MARK_KEY, USERDB_MARK_KEYLEN, &v,
	    &len);
	if (r == 1)
		return len == USERDB_MARK_VALUELEN &&
		    memcmp(v, USERDB_MARK_VALUE, len) == 0 ? NULL :
		    WHY_NOT_OURS;
	if (r == 0)
		return WHY_NOT_OURS;
	if (cdb_find(&db->cdb, USERDB_MARK_KEY, USERDB_MARK_KEYLEN) == 1 &&
	    cdb_datalen(&db->cdb) == sizeof(USERDB_MARK_OLD) - 1 &&
	    (v = cdb_getdata(&db->cdb)) != NULL &&
	    memcmp(v, USERDB_MARK_OLD, sizeof(USERDB_MARK_OLD) - 1) == 0)
		return WHY_OLD;
	return WHY_DAMAGED;
}

int
userdb_open(struct userdb *db, const char *path)
{
	int	r, saved;

	db->why = NULL;
	if ((db->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((r = cdbcheck_init(&db->cdb, db->fd)) != 0) {
		saved = errno;
		close(db->fd);
		if (r == -1) {
			errno = saved;
			return -1;
		}
		db->why = WHY_DAMAGED;
		errno = EINVAL;
		return -1;
	}
	if ((db->why = userdb_mark(db)) == NULL && userdb_dummy(db) == -1)
		db->why = WHY_DAMAGED;
	if (db->why != NULL) {
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
	const unsigned char	*v;
	unsigned		 len;
	int			 r;

	*why = NULL;
	if (!user_name_valid(name))
		return 0;
	r = cdbcheck_find(&db->cdb, name, strlen(name), &v, &len);
	if (r == 0)
		return 0;
	errno = EINVAL;
	if (r != 1) {
		*why = WHY_DAMAGED;
		return -1;
	}
	if (len > USERS_LINE_MAX) {
		*why = "record too long";
		return -1;
	}
	memcpy(db->rec, v, len);
	db->rec[len] = '\0';
	if (memchr(db->rec, '\0', len) != NULL) {
		*why = "NUL in record";
		return -1;
	}
	if (user_parse(db->rec, u, why) == -1)
		return -1;
	if (strcmp(u->name, name) != 0) {
		*why = "record under another user's key";
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

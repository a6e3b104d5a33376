#include <errno.h>
#include <string.h>

#include "change.h"
#include "passwd.h"
#include "userdb.h"
#include "usersfile.h"

int
change_verify(struct change *c, const char *user, const char *pw)
{
	struct userdb	db;
	struct user	u;
	const char	*why;
	int		r, found;

	change_forget(c);
	c->why = "cannot open the users database";
	c->failed = c->db;
	if (userdb_open(&db, c->db) == -1) {
		if (errno == EINVAL)
			c->why = db.why;	/* damaged, or of an older format */
		return -1;
	}
	if ((r = userdb_lookup(&db, user, &u, &c->why)) == -1) {
		if (c->why == NULL)
			c->why = "users database unreadable";
		userdb_close(&db);
		return -1;
	}
	/*
	 * An unknown user or a locked account pays for the database's dummy,
	 * a hash of the method and cost most accounts have: the same time.
	 */
	found = r;
	r = passwd_verify(pw, found ? u.hash : NULL, db.dummy[0] != '\0' ?
	    db.dummy : NULL, &why);
	c->failed = NULL;	/* not the file's fault from here on */
	if (r != 1)
		c->why = why;
	else if (strlen(u.hash) >= sizeof(c->hash)) {
		errno = EINVAL;
		c->why = "hash too long";
		r = -1;
	} else
		memcpy(c->hash, u.hash, strlen(u.hash) + 1);
	userdb_close(&db);
	return r;
}

int
change_set(struct change *c, const char *user, const char *pw)
{
	struct usersfile_edit	 e = { .op = UF_SET_HASH };
	char			 hash[USERS_HASH_MAX + 1];
	const char		*why, *failed;
	int			 r;

	c->why = "cannot hash the password";
	c->failed = NULL;
	if (passwd_hash(NULL, pw, hash, sizeof(hash)) == -1)
		return -1;
	e.name = user;
	e.value = hash;
	e.expect = c->hash;
	r = usersfile_update(c->file, c->db, &e, &why, &failed);
	explicit_bzero(hash, sizeof(hash));
	if (r == 0)
		return 0;
	c->failed = failed != NULL ? failed : c->file;
	if (errno == ESTALE)
		c->why = "the password changed meanwhile";
	else if (errno == ESRCH)
		c->why = "no such user in the users file";
	else if (why != NULL)
		c->why = why;
	else if (errno == EINVAL)
		c->why = "the users file has errors";
	else
		c->why = failed == c->db ? "cannot write the users database" :
		    "cannot update the users file";
	return -1;
}

void
change_forget(struct change *c)
{
	explicit_bzero(c->hash, sizeof(c->hash));
}

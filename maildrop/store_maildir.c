/*
 * A Maildir as a store (store.h): its messages' files, and the UPDATE
 * that removes them one by one, EXPIRE's marks with it.
 */
#include <errno.h>
#include <time.h>

#include "expire.h"
#include "maildir.h"
#include "trans.h"

static int
md_open_msg(struct store *st, struct msg *m, uint64_t *off, uint64_t *len)
{
	*off = 0;
	*len = UINT64_MAX;
	return maildir_open_msg(st->impl, m);
}

static void
md_log_msg(struct store *st, const char *event, const struct msg *m, int err)
{
	(void)st;
	maildir_log_file(event, m->dir, m->name, err);
}

/*
 * Whether the UPDATE removes a message: deleted; retrieved in this
 * session under EXPIRE 0; or, under EXPIRE N > 0, not retrieved in this
 * session and marked seen more than N days ago (expire.h).
 */
static int
update_removes(struct session *s, struct maildir *md, struct msg *m,
    int64_t now, int *expired)
{
	*expired = 0;
	if (m->deleted)
		return 1;
	if (s->expire_days == 0 && m->retrieved)
		return *expired = 1;
	if (s->expire_days > 0 && !m->retrieved &&
	    expire_due(md, m, s->expire_days, now))
		return *expired = 1;
	return 0;
}

/*
 * The messages EXPIRE removes go the way of the deleted ones, and are
 * counted with them; under EXPIRE N > 0 the ones retrieved are then
 * marked seen, for a later session to expire.
 */
static void
md_update(struct store *st, struct session *s)
{
	struct maildir	*md = st->impl;
	struct msg	*m;
	size_t		 i;
	int64_t		 now = (int64_t)time(NULL);
	int		 expired;

	for (i = 0; i < md->count; i++) {
		m = &md->msgs[i];
		if (!update_removes(s, md, m, now, &expired)) {
			if (s->expire_days > 0 && m->retrieved) {
				if (expire_mark_seen(md, m) == 0)
					s->seen++;
				else if (errno != ENOENT)
					maildir_log_file("seen-failed", m->dir,
					    m->name, errno);
			}
			continue;
		}
		if (maildir_remove(md, m) == 0) {
			s->removed++;
			s->expired += expired;
		} else {
			maildir_log_file("remove-failed", m->dir, m->name,
			    errno);
			s->unremoved++;
		}
	}
}

static void
md_unlock(struct store *st)
{
	maildir_unlock(st->impl);
}

static const struct store_ops maildir_ops = {
	md_open_msg, md_log_msg, md_update, md_unlock
};

void
maildir_store(struct maildir *md, struct store *st)
{
	st->msgs = md->msgs;
	st->count = md->count;
	st->octets = md->octets;
	st->truncated = md->truncated;
	st->ops = &maildir_ops;
	st->impl = md;
	st->spool_dirfd = md->fd;
	st->spool_sub = "tmp";
}

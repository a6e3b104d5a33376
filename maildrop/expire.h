/*
 * EXPIRE (RFC 2449 section 6.7) enforced at UPDATE.  A message RETR'd in
 * a session is marked seen at its QUIT, the Maildir way: the S flag in
 * the ":2," info of its name in cur/.  Its retrieval time is the file's
 * access time, which the mark sets to the time of the QUIT before the
 * rename (a rename leaves the access time alone, and the ctime it changes
 * cannot be set back, so could not be tested).  A read of the file by any
 * program may move the access time later, never earlier: the message
 * then stays longer, never shorter, than EXPIRE says.
 */
#ifndef POP3D_EXPIRE_H
#define POP3D_EXPIRE_H

#include <stdint.h>

#include "maildir.h"

/* POP3D_EXPIRE is read, NEVER and days alike, by setting_expire. */

/*
 * Whether a message not retrieved in this session was marked seen more
 * than days ago (days > 0), as of now (seconds): 1 if so; 0 if not, or
 * when its file cannot be found or is not the one listed.
 */
int	expire_due(struct maildir *, struct msg *, int64_t, int64_t);

/*
 * Marks a message retrieved in this session seen: its access time set to
 * now, then the S flag added to its name in cur/ (RENAME_NOREPLACE, in
 * cur/ alone).  A crash between the two leaves it unmarked, so never
 * expired early.  0, or -1 with errno (the message stays as it was).
 */
int	expire_mark_seen(struct maildir *, struct msg *);

/*
 * The name a file has once marked seen: name with ":2," and S added in
 * its sorted place among the flags.  1 when it differs, 0 when name
 * already has S, -1 when its info is not ":2," or n is too small.
 */
int	expire_seen_name(const char *, char *, size_t);

#endif

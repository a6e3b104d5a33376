/*
 * UIDLs carried over from the server a site switches from (Dovecot or
 * Courier), so that clients that leave mail on the server do not fetch it
 * all again.
 *
 * On a full scan (never a session the maildrop cache serves), the
 * messages named in the old server's file (DOVECOT_UIDLIST_FILE, then
 * COURIER_SIZELIST_FILE for those Dovecot's file does not list) are given
 * the UIDL that server reported, and each is recorded the first time in
 * pop3d's own file (UIDMAP_FILE), which from then on decides: the old
 * file may go, the message may be renamed (flags, new/ to cur/), others
 * deleted, and its UIDL stays.  Messages in neither file keep pop3d's own
 * UIDLs (uidl.c).  Both files are the mail user's to write, so everything
 * read is bounded and checked (pop3d_limits.h), and a carried UIDL never
 * takes one another message has.
 */
#ifndef POP3D_MIGRATE_H
#define POP3D_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "maildir.h"
#include "uidlfmt.h"

#define DOVECOT_UIDLIST_FILE	"dovecot-uidlist"
#define COURIER_SIZELIST_FILE	"courierpop3dsizelist"
#define UIDMAP_FILE		"pop3d-uidl.map"
#define UIDMAP_MAGIC		"pop3d-uidl 1\n"

/* Dovecot's pop3_uidl_format default: IMAP UID, then UIDVALIDITY. */
#define DOVECOT_UIDL_FORMAT_DEFAULT	"%08Xu%08Xv"

typedef int (*dovecot_fn)(void *, const struct dovecot_head *,
    const struct dovecot_rec *);

/*
 * Parses a dovecot-uidlist image (versions 1 to 3), calling fn for each
 * record in the file's order; lines that are malformed or longer than
 * DOVECOT_LINE_MAX are counted in *skipped and left out.  0; 1 when the
 * header is not one (nothing called); -1 when fn returned -1.
 */
int	dovecot_uidlist_parse(const char *, size_t, dovecot_fn, void *,
	    size_t *);

/*
 * An UIDMAP_FILE image: fn (with a NULL head, and rec's name and pop3
 * set) for each "UIDL SP BASENAME LF" line after the magic line; other
 * lines counted in *skipped.  0, 1 not one (bad magic), -1 from fn.
 */
int	uidmap_parse(const char *, size_t, dovecot_fn, void *, size_t *);

/*
 * A courierpop3dsizelist image (its "/2" and "/3" forms): fn (with a NULL
 * head; rec's name, and pop3 the UIDL Courier reports, "UID<n>-<v>", in a
 * buffer valid during the call) for each line; lines that are malformed,
 * longer than DOVECOT_LINE_MAX or without a uid counted in *skipped.  0,
 * 1 when the header is not one, -1 from fn.
 */
int	courier_sizelist_parse(const char *, size_t, dovecot_fn, void *,
	    size_t *);

/*
 * Gives the messages of a full scan their carried UIDLs (after uidl.c's
 * own, before they are made unique), records new ones in UIDMAP_FILE,
 * and sets m->carried.  fmt: the pop3_uidl_format, NULL for the default.
 * Failure to read or write a file is logged and leaves pop3d's own UIDLs;
 * 0, or -1 out of memory.
 */
int	migrate_uidls(struct maildir *, const char *);

/* The longest probe sequence of a lookup so far: for the tests. */
extern size_t	migrate_probe_max;

#endif

/*
 * Messages between pop3d-passwd's privileged process and its dialogue
 * process, over a SOCK_SEQPACKET pair with front/ipc.c's framing (ipc_send,
 * ipc_recv): a type octet and a payload whose form each type fixes.  The
 * dialogue process reads and parses the client's lines; the privileged
 * process checks every message with pwipc_check before it acts on it and
 * parses nothing else the client sent.
 */
#ifndef POP3D_PWIPC_H
#define POP3D_PWIPC_H

#include <stddef.h>

#include "pop3d_limits.h"

/*
 * From the dialogue process, in the order of the dialogue (see
 * pwipc_check): a name or a password is its text and one NUL.
 */
#define PWIPC_USER	'u'	/* "user NAME": NAME\0 */
#define PWIPC_OLD	'p'	/* "pass OLD": OLD\0; a verdict follows */
#define PWIPC_NEW	'n'	/* "newpass NEW": NEW\0; a verdict follows */
#define PWIPC_HOSTILE	'h'	/* no payload: a line past PASSWD_LINE_MAX;
				 * a verdict (PWV_OK) follows */
#define PWIPC_END	'e'	/* one octet, PWEND_*: how the dialogue ended */

/* How the dialogue ended, in PWIPC_END. */
#define PWEND_QUIT	'q'	/* the client's quit */
#define PWEND_ERROR	'x'	/* a command refused: out of order, unknown */
#define PWEND_EOF	'e'
#define PWEND_TIMEOUT	't'
#define PWEND_SIGNAL	's'
#define PWEND_HOSTILE	'h'
#define PWEND_IOERR	'i'

/* From the privileged process: PWIPC_VERDICT and one of these octets. */
#define PWIPC_VERDICT	'V'
#define PWV_OK		'k'	/* old password right; hostile line noted */
#define PWV_FAIL	'f'	/* old password wrong: the session ends */
#define PWV_TEMP	't'	/* temporary failure: the session ends */
#define PWV_BLOCKED	'b'	/* the penalty box refuses: the session ends */
#define PWV_CHANGED	'c'	/* new password set: only quit is left */
#define PWV_SHORT	's'	/* new password refused: another may come */
#define PWV_LONG	'l'	/* likewise */
#define PWV_SAME	'd'	/* likewise: it is the old one */
#define PWV_STALE	'm'	/* changed meanwhile: the session ends */
#define PWV_NOUSER	'n'	/* gone from the users file: the session ends */

/* Where the dialogue stands; both processes keep it. */
enum pwipc_want {
	PWIPC_WANT_USER,	/* greeted: "user" */
	PWIPC_WANT_PASS,	/* "pass" with the old password */
	PWIPC_WANT_NEWPASS,	/* verified: "newpass" */
	PWIPC_WANT_QUIT,	/* changed: only "quit" */
	PWIPC_WANT_END		/* a verdict or a hostile line ended it:
				 * only PWIPC_END */
};

/*
 * A name or a password the dialogue process can send: what remains of a
 * line of PASSWD_LINE_MAX octets after the command word.
 */
#define PWIPC_TEXT_MAX	(PASSWD_LINE_MAX - 1)

/*
 * Checks a message of len octets from the dialogue process where the
 * dialogue stands at want: its type is one that may come now (USER only
 * first, OLD only after it, NEW only after a right old password; HOSTILE
 * and END at any time, only END after a verdict that ended the session),
 * and its payload has exactly the type's form with nothing left over: a
 * name of 1 to POP3_USER_MAX octets and a password of 1 to
 * PWIPC_TEXT_MAX, none of them a control octet or NUL (a name has no
 * space either), each ending in one NUL; an END octet among PWEND_*.
 * The type, or -1 for a message to end the session on.
 */
int	pwipc_check(const char *, size_t, enum pwipc_want);

/*
 * The word the log uses for a PWEND_* octet: quit, error, eof, timeout,
 * signal, hostile, ioerr; NULL for any other octet.
 */
const char *pwipc_end_name(char);

/* Room for any reply pwipc_reply writes, its NUL included. */
#define PWIPC_REPLY_MAX	80

/*
 * The reply line (without CRLF) that phrases verdict v, the shortest new
 * password being min, into buf (PWIPC_REPLY_MAX octets), which it
 * returns; a temporary failure's for a verdict not known here.  The
 * privileged process logs a refusal's text (after "500 ") in the same
 * words.
 */
const char *pwipc_reply(char, unsigned, char *, size_t);

/* Whether the session goes on after verdict v. */
int	pwipc_goes_on(char);

#endif

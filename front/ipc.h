/*
 * Messages between the privileged front and the pre-login process, over a
 * SOCK_SEQPACKET pair: one message per send, a type octet and a payload
 * whose length each type fixes or bounds.  The front checks every message
 * before it acts on it; it parses nothing else the client sent.
 */
#ifndef POP3D_IPC_H
#define POP3D_IPC_H

#include <stddef.h>

#include "pop3d_limits.h"

/* From the pre-login process. */
#define IPC_CRED	'C'	/* mech octet, then user\0secret\0 */
#define IPC_HOSTILE	'H'	/* no payload: a hostile line, session ends */
#define IPC_STLS	'S'	/* no payload: the client asked for STLS */
#define IPC_CHALLENGE	'K'	/* no payload: a CRAM-MD5 challenge, please;
				 * the front answers IPC_CHALLENGE and the
				 * challenge's text (no NUL) */
#define IPC_LOG		'L'	/* a log line's text: 1 to LOG_VALUE_MAX
				 * octets, no NUL, no newline needed; no
				 * answer */

/* From the front: IPC_VERDICT with one of the octets below. */
#define IPC_VERDICT	'V'
#define VERDICT_FAIL	'F'	/* bad credentials: -ERR [AUTH], go on */
#define VERDICT_LAST	'L'	/* bad credentials, too many: close */
#define VERDICT_TEMP	'T'	/* temporary failure: [SYS/TEMP], go on */
#define VERDICT_END	'E'	/* the auth program crashed: [SYS/TEMP], close */
#define VERDICT_DELAY	'D'	/* user blocked from here: [LOGIN-DELAY], go on */
#define VERDICT_BLOCK	'B'	/* address now blocked: [LOGIN-DELAY], close */
#define VERDICT_BUSY	'Y'	/* logins in flight at the limit: go on */
#define VERDICT_TLS	'G'	/* to IPC_STLS: the relay is ready, say +OK */

/*
 * What a login's verdict means, the one table for both sides: the client's
 * answer (the pre-login process writes it), whether the session ends there
 * (the front ends it, the pre-login process says so), and whether it was a
 * failed guess, which the session counts against POP3D_AUTH_FAILURES and
 * answers only after POP3D_AUTH_DELAY.
 */
struct verdict {
	char		 verdict;
	int		 final;
	int		 failure;
	const char	*reply;
};

/*
 * The entry of a login verdict.  One that is none (VERDICT_TLS, an unknown
 * octet) gets VERDICT_END's: a temporary failure that ends the session.
 */
const struct verdict *verdict_find(char);

/* Mechanisms in IPC_CRED, as AUTHMECH names them. */
#define MECH_USER	'U'
#define MECH_APOP	'A'
#define MECH_PLAIN	'P'
#define MECH_LOGIN	'L'
#define MECH_CRAM	'C'	/* the timestamp is the front's challenge */

#define IPC_MAX		(1 + 1 + CHECKPASSWORD_MAX)

/*
 * Sends one message: 0, or -1 with errno.  It waits only if the
 * descriptor blocks: the privileged side's end is non-blocking (EAGAIN:
 * the other side has not read what it was sent), the confined side's
 * blocks.
 */
int	ipc_send(int, char, const void *, size_t);

/*
 * Receives one message into buf (IPC_MAX octets): its length, 0 when the
 * other side has gone, or -1 (errno EPROTO for an oversized or empty one).
 */
int	ipc_recv(int, char *);

/*
 * Checks an IPC_CRED message of len octets: its mechanism, and exactly
 * two NUL-terminated fields with a user of 1 to POP3_USER_MAX octets.  The
 * APOP timestamp is the front's own, never the pre-login process's word.
 * 0 and the mechanism's AUTHMECH name, or -1.
 */
int	ipc_cred_check(const char *, size_t, const char **);

/*
 * Checks an IPC_LOG message of len octets: 1 to LOG_VALUE_MAX octets of
 * text and no NUL among them.  0 and the text in buf (LOG_VALUE_MAX + 1
 * octets, NUL-terminated), or -1.  The text is the pre-login process's
 * word: the caller escapes and tags it.
 */
int	ipc_log_check(const char *, size_t, char *);

#endif

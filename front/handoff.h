/* Running the checkpassword program with the client's credentials. */
#ifndef POP3D_HANDOFF_H
#define POP3D_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

/*
 * Starts argv (the auth program and the rest of the chain) with the client
 * on fd 0/1 (blocking again), the credentials (len octets:
 * user\0secret\0timestamp\0) written to a pipe at fd 3, AUTHMECH=mech,
 * and at fd 4 (POP3D_AUTH_OK_FD=4) a pipe on which pop3d-auth says one
 * word (handoff_word); no other descriptor.  With verify, it asks
 * (POP3D_AUTH_VERIFY=1) for the check alone: our pop3d-auth then says
 * HANDOFF_VERIFIED and exits, and handoff_inplace runs the session.  Its
 * pid and *okfd, the read end, or -1 when it could not be started.  The
 * caller may wipe the credentials as soon as this returns.
 */
pid_t	handoff_start(char **, const char *, const char *, size_t, int *,
	    int);

/* How long an auth program that said HANDOFF_VERIFIED has to exit. */
#define HANDOFF_EXIT_MS		5000

/* What pop3d-auth says on fd 4 (pop3d-auth.8). */
#define HANDOFF_RUNS		'A'	/* the login is good, the chain runs */
#define HANDOFF_VERIFIED	'V'	/* asked to check only: the login
					   is good, the user could be
					   become, and it exits 0 */
#define HANDOFF_NO_SECRET	'N'	/* an APOP or CRAM-MD5 login for
					   which the user has no shared
					   secret, or is unknown */

/*
 * Reads okfd (and closes it) to its end, until deadline (an io_now_ms
 * time).  HANDOFF_RUNS when the auth program said the login is good
 * ("A") and then ran the next stage (end of file: its descriptor is
 * close-on-exec), so that the chain answers the client from now on.
 * HANDOFF_VERIFIED when it said "V" (asked to check only) and exited.
 * HANDOFF_NO_SECRET when it said "N" and exited: what the failure was.
 * 0 otherwise: "X" after "A" (the exec failed), any other word, the
 * deadline passed, or end of file alone (it refused, or it is a plain
 * checkpassword program and the end of file comes only when the whole
 * session ends).
 */
char	handoff_word(int, int64_t);

/*
 * Waits for it until deadline: its wait status, or -1.  Past the deadline
 * it is killed and reaped (child_wait_kill), logged as a timeout of the
 * chain for remote, and its status says SIGKILL.
 */
int	handoff_wait(pid_t, int64_t, const char *);

/*
 * After HANDOFF_VERIFIED: this process becomes the chain, by an exec of
 * argv in place (the pid the spawner counts stays the session's), with
 * the client on fd 0/1, user's name on a pipe at fd 3
 * (POP3D_AUTH_VERIFIED_FD=3: pop3d-auth becomes that user without a
 * password, which only root can make use of), AUTHMECH=mech, and *slot
 * (the connection slot, or -1) kept open across the exec, with its
 * descriptor and octet in POP3D_SLOT (endline.h); every other
 * descriptor is closed by it.  Returns only when the exec failed: -1,
 * and *slot the slot's descriptor now.  The caller has put the "end"
 * line's facts in POP3D_END (endline.h).
 */
int	handoff_inplace(char **, const char *, const char *, int *, unsigned);

/*
 * How long a session may last, in seconds: FRONT_SESSION_MAX; a build
 * with TEST_HOOKS=1 takes TEST_POP3D_SESSION_MAX (1 to that) instead.
 */
unsigned	front_session_max(void);

#endif

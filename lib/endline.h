/*
 * The connection's one "end" line (pop3d.8, LOGGING).  The front writes
 * it itself while it lives; when it becomes the chain by exec in place
 * (one process per logged-in session), what the line needs goes down the
 * chain in POP3D_END, and the last stage writes it as "pop3d[pid]" (the
 * same pid) when it exits or dies: never for a process killed outright.
 */
#ifndef POP3D_ENDLINE_H
#define POP3D_ENDLINE_H

#include <netinet/in.h>

#include "pop3d_limits.h"

#define ENDLINE_ENV	"POP3D_END"
/*
 * Set by pop3d-auth in the front's place, as root: the user's uid, which
 * the last stage takes itself (endline_hold).
 */
#define ENDLINE_UID_ENV	"POP3D_AUTH_UID"
/*
 * Set by pop3d for its exec in place when it holds a connection slot:
 * "FD:OCTET", the slot's descriptor and its octet in the file.
 */
#define ENDLINE_SLOT_ENV	"POP3D_SLOT"
#define ENDLINE_NAME_MAX	31

struct endline {
	char		remote[INET6_ADDRSTRLEN];
	char		tls[TLS_FACT_MAX + 1];		/* "": no TLS */
	char		cipher[TLS_FACT_MAX + 1];
	char		sni[TLS_FACT_MAX + 1];		/* "": none */
	unsigned	failures;
	char		end[ENDLINE_NAME_MAX + 1];
	/*
	 * The TLS relay (pop3d-tls), the front's child and so the chain's,
	 * or 0; and how long it may take to finish once the plaintext side
	 * is closed (the front's starttls_end bound).
	 */
	unsigned	relay;
	unsigned	relay_ms;
};

/* Writes the line "end remote= [tls= cipher= [sni=]] auth_failures= end=". */
void	endline_emit(const struct endline *);

/* Puts it in POP3D_END for the chain exec'd next: 0, or -1 (errno). */
int	endline_export(const struct endline *);

/*
 * In a stage of the chain: takes POP3D_END (unset unless keep, for a
 * stage that execs the next one), and arranges that this process, not a
 * child it forks, writes the line once when it exits or dies; with a
 * relay, it first closes fd 0/1 and waits for the relay to finish (the
 * relay dies with its parent, this process, so it must not go first).
 * 1 taken,
 * 0 when there is none (the front stays, and writes it), -1 when it is
 * malformed (logged; unset, and no line).
 */
int	endline_take(int keep);

/* The end reason the line will give, in place of the front's. */
void	endline_reason(const char *);

/*
 * The client's last words when the chain in the front's place cannot go
 * on (the front's exec, or pop3d-auth's run in its place, failed):
 * "-ERR [SYS/TEMP] temporary failure; closing".
 */
void	endline_closing(void);

/*
 * In the last stage, after endline_take found POP3D_END: this process
 * holds the front's connection slot, a root-owned file, until it ends.
 * Makes the slot this process's own lock (POP3D_SLOT: a child it forks
 * holds none, even stopped before its exec), gives the descriptor to no
 * program run later (close-on-exec past 2), bounds the session even when
 * stopped (a SIGKILL timer a little after the front's alarm), and then,
 * started as root with POP3D_AUTH_UID, becomes that
 * uid, which leaves the process non-dumpable (no other process of the
 * user's can take the slot) and enters HOME.  0, or -1 with *why, the
 * descriptors past 2 then closed: the session must be refused.
 */
int	endline_hold(const char **why);

#endif

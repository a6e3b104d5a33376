/*
 * The access policy, policy/'s one face to the programs that admit
 * clients (pop3d and pop3d-passwd), run before any greeting and at each
 * login: the rules database (allow or deny, and the rule's settings as
 * environment), the penalty box (failed logins, hostile input) and the
 * per-address connection limit.  The privileged front alone runs it; the
 * pre-login process never sees the state directory.
 */
#ifndef POP3D_ACCESS_H
#define POP3D_ACCESS_H

#include <limits.h>

#include "addr.h"
#include "penalty.h"

struct access {
	const char		*remote;	/* canonical text, or "unknown" */
	struct addr		 addr;
	int			 known;		/* addr is the peer's */
	int			 unknown_ok;	/* POP3D_UNKNOWN_PEER=allow */
	char			 key[ADDR_TEXT_MAX]; /* its name in the state */
	struct penalty_conf	 pc;		/* pc.dir NULL: no penalty box */
	char			 state_dir[PATH_MAX];
	char			 penalty_dir[PATH_MAX];
	char			 conn_dir[PATH_MAX];
	unsigned		 per_address;	/* connection limit, 0: none */
	int			 broken;	/* state unusable: no logins */
	int			 slot;		/* held connection slot, or -1 */
	unsigned		 slot_octet;	/* ... its octet in the file */
	int			 attempt;	/* a login attempt is counted */
	struct penalty_token	 token;		/* ... and holds its slot */
	const char		*end;		/* how it ended it, logged */
	/*
	 * How refusals before any greeting are answered, set by the caller
	 * before access_rules: ACCESS_POP3 as they are; another code (such
	 * as pop3d-passwd's "500") in place of "-ERR" and its response code;
	 * NULL not at all (implicit TLS: they are logged, the connection
	 * closed, no plaintext goes out).
	 */
	const char		*code;
};

#define ACCESS_POP3	"-ERR"

/*
 * Looks the peer up in the rules database, before the settings are read,
 * and sets the matching rule's settings in the environment.  A deny rule,
 * or an unreadable or corrupt database, ends the connection.
 */
void	access_rules(struct access *, const char *);

/*
 * access_settings reads the policy settings (-1 after logging a bad one);
 * access_admit checks the penalty box and takes a connection slot, and
 * answers and exits for a blocked or full address, or an unknown one
 * unless POP3D_UNKNOWN_PEER=allow (pop3d.8).  A state directory that is
 * not the front's alone (statedir_own) is logged with how to mend it, and
 * no login is tried.
 */
int	access_settings(struct access *);
void	access_admit(struct access *);

/*
 * Before running the auth program for user: 0 to go on (the attempt is
 * counted while it runs), or the verdict that answers instead:
 * VERDICT_BLOCK (the address), VERDICT_DELAY (the user, from here),
 * VERDICT_BUSY (attempts in flight at a threshold), VERDICT_TEMP (the
 * penalty box cannot count it).
 */
char	access_login(struct access *, const char *);

/*
 * After the auth program: ends the attempt, a failure when failed.  0, or
 * VERDICT_BLOCK when it blocked the address, VERDICT_LAST when a failure
 * could not be counted (the connection ends).
 */
char	access_settle(struct access *, const char *, int);

/* The session is over: gives back the connection slot. */
void	access_end(struct access *);

/*
 * The slot goes on with the session, which the front becomes (pop3d.8):
 * no one will remove its file at the end, so the slot files no process
 * holds are swept now (at most once per CONN_SWEEP_INTERVAL).
 */
void	access_handover(struct access *);

/* A line over the hostile limit: blocks the address. */
void	access_hostile(struct access *);

#endif

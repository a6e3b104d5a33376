/*
 * The front's access policy, run before any greeting and at each login:
 * the rules database (allow or deny, and the rule's settings as
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
	struct penalty_conf	 pc;		/* pc.dir NULL: no penalty box */
	char			 penalty_dir[PATH_MAX];
	char			 conn_dir[PATH_MAX];
	unsigned		 per_address;	/* connection limit, 0: none */
	int			 slot;		/* held connection slot, or -1 */
};

/*
 * Looks the peer up in the rules database and sets the matching rule's
 * settings in the environment.  A deny rule ends the connection with
 * "-ERR [SYS/PERM]"; an unreadable or corrupt database with
 * "-ERR [SYS/TEMP]".  Before the settings are read.
 */
void	access_rules(struct access *, const char *);

/*
 * Reads the policy settings (strictly: -1 after logging a bad one), then
 * checks the penalty box and takes a connection slot; a blocked or full
 * address is answered and the process exits.
 */
int	access_settings(struct access *);
void	access_admit(struct access *);

/*
 * Before running the auth program for user: 0 to go on, or the verdict
 * (VERDICT_BLOCK, VERDICT_DELAY) that answers instead.
 */
char	access_login(struct access *, const char *);

/*
 * A failed login of user: 0, or VERDICT_BLOCK when it blocked the
 * address (the connection ends).
 */
char	access_failed(struct access *, const char *);

/* A line over the hostile limit: blocks the address. */
void	access_hostile(struct access *);

#endif

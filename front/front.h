/*
 * The front's state for one connection, shared by pop3d.c (setup, TLS, the
 * "end" line) and dialogue.c (serving the pre-login process, logins).
 */
#ifndef POP3D_FRONT_H
#define POP3D_FRONT_H

#include <sys/types.h>

#include <netinet/in.h>

#include <limits.h>
#include <stdint.h>

#include "access.h"
#include "pop3d_limits.h"
#include "preauth.h"
#include "privdrop.h"
#include "starttls.h"

/* How the front ended the connection: its "end" line says front_ends[]. */
enum front_end {
	END_NONE,		/* the access policy's, else a die()'s */
	END_LOGIN,		/* the chain served the client */
	END_PREAUTH_END,	/* the pre-login process ended (QUIT, EOF) */
	END_PREAUTH_TIMEOUT,	/* ... or was stopped, stuck */
	END_AUTH_FAILURES,	/* POP3D_AUTH_FAILURES reached */
	END_CRASH,		/* the auth program crashed */
	END_BLOCKED,		/* the penalty box blocked the address */
	END_STLS,		/* the dialogue goes on under TLS */
	END_TLS_FAILED,
	END_REFUSED,		/* refuse(): bad setup */
	END_USAGE,
	END_PROXY_ERROR		/* a trusted proxy's header failed */
};

extern const struct front_end_name {
	const char	*name;
	int		 last_word;	/* the pre-login process still speaks */
} front_ends[];

struct front {
	struct preauth_settings	 pa;
	struct access		 acc;
	struct privdrop		 pd;
	struct starttls		 tls;
	char			**authargv;
	char			 remote[INET6_ADDRSTRLEN];
	char			 proxy[INET6_ADDRSTRLEN]; /* or "" */
	int			 nologin;	/* a balancer's health check */
	char			 relay[PATH_MAX];
	unsigned		 auth_delay, max_failures, failures;
	int			 cleartext;	/* POP3D_CLEARTEXT */
	int			 implicit;	/* -t: TLS before the greeting */
	const char		*cert;		/* POP3D_TLS_CERT */
	char			 challenge[HOSTNAME_MAX + 64]; /* CRAM-MD5's */
	const char		*mech;
	enum front_end		 end;
	pid_t			 preauth;	/* the pre-login process, or 0 */
	unsigned		 preauth_logs;	/* its lines written */
	int64_t			 preauth_deadline; /* for its messages */
	int			 inplace;	/* become the chain (main) */
	char			 verified[POP3_USER_MAX + 1]; /* its user */
};

/*
 * Writes an APOP timestamp or CRAM-MD5 challenge <pid.hex@host> (16 hex
 * digits from getrandom): the front makes it, so that the pre-login
 * process cannot choose it.  0, or -1.
 */
int	front_timestamp(char *, size_t, const char *);

/*
 * The PROXY protocol (front/proxied.c).  front_env_save keeps the
 * settings as the spawner gave them, before any rule; front_proxy, after
 * the rules for the peer, reads a trusted proxy's header (POP3D_PROXY)
 * and makes its client the peer (f->remote, the environment, the rules
 * again), or marks a health check (f->nologin).  A header that fails
 * ends the connection.  0, or -1 after logging a bad setting.
 */
void	front_env_save(void);
int	front_proxy(struct front *);

/*
 * One pre-login process, served until the dialogue ends: by a login, an
 * end, or STLS (f->end says which).  0, or -1 (errno) when it could not
 * be started.
 */
int	front_preauth(struct front *);

#endif

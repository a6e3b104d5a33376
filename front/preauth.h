/*
 * The pre-login process: the AUTHORIZATION state of RFC 1939, run with no
 * privileges.  It answers the client itself and sends the front only the
 * credentials (and word of a hostile line), then acts on the verdict.
 */
#ifndef POP3D_PREAUTH_H
#define POP3D_PREAUTH_H

#include "pop3d_limits.h"

struct preauth_settings {
	const char	*hostname;
	const char	*greeting;
	const char	*implementation;
	const char	*expire;
	const char	*alt_at;
	int		 apop;
	int		 cleartext;	/* USER/PASS allowed here */
	int		 greet;		/* a greeting (not after STLS) */
	int		 tls;		/* the connection is under TLS */
	int		 stls;		/* STLS offered: a certificate, no TLS */
	int		 tls_required;	/* no login at all without TLS */
	int		 cram;		/* CRAM-MD5 offered */
	int		 proxied;	/* through a trusted proxy's header */
	int		 idle_ms, login_ms;
	long		 login_delay;	/* -1: not announced */
	char		 timestamp[HOSTNAME_MAX + 64];	/* APOP's, or "" */
};

/* The pre-login process's descriptor to the front (privdrop_child_fds). */
#define PREAUTH_IPC_FD	3

/*
 * The pre-login process's log sink (log_to_sink): each line's text goes
 * to the front as IPC_LOG, cut at LOG_VALUE_MAX octets; the front writes
 * it tagged as this process's word.  A front that is gone hears nothing.
 */
void	preauth_log_sink(const char *, size_t);

/*
 * Serves the client on fd 0/1 until login, QUIT or an end; never returns.
 * The timestamp in the settings is the front's: the greeting shows it.
 */
void	preauth_run(const struct preauth_settings *, int)
	    __attribute__((noreturn));

#endif

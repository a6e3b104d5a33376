/*
 * The front's side of TLS: it starts pop3d-tls, the relay that alone
 * links libtls and holds the key, between the client's socket and a new
 * plaintext socket that becomes fd 0/1 of the front and the rest of the
 * chain.  The relay reports on a status pipe (pop3d-tls.8): "ready" once
 * configured, then "ok" with the TLS facts, or "error" / "fail".
 */
#ifndef POP3D_STARTTLS_H
#define POP3D_STARTTLS_H

#include <sys/types.h>

#include "pop3d_limits.h"

struct starttls {
	const char	*relay;		/* the pop3d-tls program */
	const char	*remote;	/* the client, for the log */
	int		 idle_ms;	/* POP3D_IDLE_TIMEOUT, as the relay's */
	pid_t		 pid;		/* the relay, or 0 */
	int		 status;	/* read end of its status pipe */
	int		 plain;		/* the front's end of the plaintext */
	char		 buf[TLS_STATUS_MAX];
	size_t		 len, pos;	/* buffered; the next field */
	char		 protocol[TLS_FACT_MAX + 1];
	char		 cipher[TLS_FACT_MAX + 1];
	char		 sni[TLS_FACT_MAX + 1];
};

/*
 * Starts the relay with the client on its fd 0/1 and waits until it is
 * configured.  0 when it is ready for the handshake; -1 (logged, and the
 * relay gone) when it cannot be: no certificate, a bad setting.
 */
int	starttls_spawn(struct starttls *);

/*
 * After the client was told to begin (or at once, for implicit TLS): the
 * plaintext socket becomes fd 0/1 and the handshake's outcome is awaited.
 * 0 with the TLS facts exported (SSL_PROTOCOL, SSL_CIPHER,
 * SSL_TLS_SNI_SERVERNAME) and logged, or -1 when the handshake failed.
 */
int	starttls_attach(struct starttls *, const char *remote);

/*
 * At the end of the session: lets the relay finish, then reaps it.  It
 * gets idle_ms for the client to take the rest, then TLS_CLOSE_MS,
 * IO_LINGER_MS and TLS_END_GRACE_MS; past those it is killed (logged).
 */
void	starttls_end(struct starttls *);

#endif

/*
 * The client's TLS connection: the handshake, the relay between it and the
 * chain's plaintext socket, and its end.  Both descriptors are made
 * non-blocking here; every wait is a poll(2) on what can progress.
 */
#ifndef POP3D_TLS_RELAY_H
#define POP3D_TLS_RELAY_H

#include <stddef.h>

struct tls;

/*
 * Completes the handshake of cctx (accepted on the socket sock) within
 * timeout_ms: 0, or -1 with the reason in err.
 */
int	relay_handshake(struct tls *, int, int, char *, size_t);

enum relay_end {
	RELAY_CHAIN_END,	/* the chain ended; all it wrote went to TLS */
	RELAY_CLIENT_GONE,	/* the client's end ended the TLS session */
	RELAY_TIMEOUT		/* a deadline passed (the reason in err) */
};

/*
 * Relays until the chain closes the plaintext socket plain: client to
 * chain (tls_read, then write) and chain to client (read, then
 * tls_write), through one buffer each way (TLS_RELAY_BUF,
 * TLS_RELAY_DOWN_BUF).  When the client sends close_notify the chain gets
 * EOF (shutdown SHUT_WR) after all that came before, and the other way
 * goes on until a write finds the client gone.  A FIN without close_notify
 * ends the TLS session where OpenSSL 3 is below.  Either way the chain
 * gets what came before and EOF, and RELAY_CLIENT_GONE is returned.
 * Every round either moves octets or waits in poll(2), and every wait has
 * a deadline: while the chain runs, silence_ms without an octet moved
 * either way; after it ended, idle_ms for the client to take the rest
 * (RELAY_TIMEOUT).  An enum relay_end, or -1 when the client failed,
 * reset or stalled, or the relay made no progress (the reason in err).
 */
int	relay_run(struct tls *, int, int, int, int, char *, size_t);

/*
 * The clean end: close_notify within TLS_CLOSE_MS, then a lingering close
 * of the socket (IO_LINGER_MS, IO_LINGER_MAX), so that unread input does
 * not make TCP reset the connection before the client read the last data.
 */
void	relay_close(struct tls *, int);

#endif

/*
 * The relay's settings (POP3D_TLS_* in the environment) and the libtls
 * server context built from them.
 */
#ifndef POP3D_TLS_CONF_H
#define POP3D_TLS_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "pop3d_limits.h"

struct tls;

struct tls_keypair_names {
	const char	*cert;
	const char	*key;
};

struct tlsconf {
	struct tls_keypair_names pairs[1 + TLS_KEYPAIRS_MAX]; /* [0]: default */
	size_t		 npairs;
	uint32_t	 protocols;
	const char	*ciphers;
	const char	*curves;
	const char	*dheparams;
	int		 timeout_ms;	/* the handshake */
	int		 idle_ms;	/* a stalled client, after the chain */
	const char	*user;		/* to drop privileges to */
	int		 nonroot;	/* may run without root (key exposed) */
	const char	*dir;		/* the empty directory to chroot into */
	/* Last: tlsconf_read zeroes only the fields before it. */
	char		 pairbuf[TLS_KEYPAIRS_TEXT_MAX + 1];
};

/*
 * Reads every setting strictly: 0, or -1 with what is wrong (naming the
 * setting) in err.  Logs nothing; the caller logs err once.
 */
int	tlsconf_read(struct tlsconf *, char *, size_t);

/*
 * Loads the certificates and keys and builds the server context; the
 * configuration's copies of the keys are cleared and it is freed before
 * this returns, whatever the outcome.  The context, or NULL with the
 * reason in err.  Call tls_init first.
 */
struct tls *tlsconf_server(const struct tlsconf *, char *, size_t);

#endif

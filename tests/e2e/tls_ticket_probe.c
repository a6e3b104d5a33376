/*
 * tls-ticket-probe: what libtls does with a session ticket key, outside
 * pop3d (test_tls_resume.py, issue 21).  Started with a client's socket
 * on fd 0: it configures a libtls server as every relay of a site would
 * to share resumption (one fixed ticket key, one session ID context, a
 * session lifetime), or, with "none", as pop3d-tls does today; does the
 * handshake; writes "resumed=N version" to the client; closes.
 *
 * usage: tls-ticket-probe cert key shared|none
 *
 * It is a probe of the library, not of pop3d: pop3d-tls sets no ticket
 * key because this one shows that libtls on OpenSSL issues no ticket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tls.h>

/* libtls's TLS_TICKET_KEY_SIZE: 32 octets of AES key, 16 of HMAC key. */
#define TICKET_KEY_LEN	48
#define LIFETIME	3600

static void __attribute__((noreturn))
fail(const char *what, const char *why)
{
	fprintf(stderr, "tls-ticket-probe: %s: %s\n", what,
	    why != NULL ? why : "failed");
	exit(1);
}

/* What every relay of a site would share: the same key, the same ID. */
static void
share(struct tls_config *cfg)
{
	static const unsigned char sid[] = "pop3d-tls-probe";
	unsigned char	key[TICKET_KEY_LEN];

	memset(key, 0x5a, sizeof(key));
	if (tls_config_set_session_lifetime(cfg, LIFETIME) == -1)
		fail("tls_config_set_session_lifetime", tls_config_error(cfg));
	if (tls_config_set_session_id(cfg, sid, sizeof(sid) - 1) == -1)
		fail("tls_config_set_session_id", tls_config_error(cfg));
	if (tls_config_add_ticket_key(cfg, 1, key, sizeof(key)) == -1)
		fail("tls_config_add_ticket_key", tls_config_error(cfg));
}

int
main(int argc, char **argv)
{
	struct tls_config	*cfg;
	struct tls		*ctx, *cctx;
	char			 line[64];

	if (argc != 4 || (strcmp(argv[3], "shared") != 0 &&
	    strcmp(argv[3], "none") != 0)) {
		fprintf(stderr, "usage: tls-ticket-probe cert key"
		    " shared|none\n");
		return 2;
	}
	if ((cfg = tls_config_new()) == NULL || (ctx = tls_server()) == NULL)
		fail("tls_config_new", NULL);
	if (tls_config_set_protocols(cfg, TLS_PROTOCOL_TLSv1_2 |
	    TLS_PROTOCOL_TLSv1_3) == -1 ||
	    tls_config_set_keypair_file(cfg, argv[1], argv[2]) == -1)
		fail("tls_config", tls_config_error(cfg));
	if (strcmp(argv[3], "shared") == 0)
		share(cfg);
	if (tls_configure(ctx, cfg) == -1)
		fail("tls_configure", tls_error(ctx));
	if (tls_accept_socket(ctx, &cctx, 0) == -1)
		fail("tls_accept_socket", tls_error(ctx));
	if (tls_handshake(cctx) == -1)
		fail("tls_handshake", tls_error(cctx));
	snprintf(line, sizeof(line), "resumed=%d %s\n",
	    tls_conn_session_resumed(cctx), tls_conn_version(cctx));
	if (tls_write(cctx, line, strlen(line)) != (ssize_t)strlen(line))
		fail("tls_write", tls_error(cctx));
	(void)tls_close(cctx);
	tls_free(cctx);
	tls_free(ctx);
	tls_config_free(cfg);
	return 0;
}

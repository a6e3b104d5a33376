#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tls.h>

#include "conf.h"
#include "pop3d_limits.h"
#include "settings.h"

#define DEFAULT_PROTOCOLS	"tlsv1.2,tlsv1.3"
/*
 * TLS 1.2: ephemeral key exchange (ECDHE, DHE) with an AEAD cipher (AES-GCM,
 * ChaCha20-Poly1305), nothing else; RSA or ECDSA certificates.  libtls's
 * own "secure" is, with LibreTLS on OpenSSL, "HIGH:!aNULL": CBC with SHA-1,
 * CAMELLIA, CCM8 and static RSA too.  Named one by one, so that no OpenSSL
 * alias can grow the list.  TLS 1.3 suites are OpenSSL's, all AEAD.
 */
#define DEFAULT_CIPHERS		"ECDHE-ECDSA-AES128-GCM-SHA256:" \
				"ECDHE-RSA-AES128-GCM-SHA256:" \
				"ECDHE-ECDSA-AES256-GCM-SHA384:" \
				"ECDHE-RSA-AES256-GCM-SHA384:" \
				"ECDHE-ECDSA-CHACHA20-POLY1305:" \
				"ECDHE-RSA-CHACHA20-POLY1305:" \
				"DHE-RSA-AES128-GCM-SHA256:" \
				"DHE-RSA-AES256-GCM-SHA384:" \
				"DHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_CURVES		"default"
#define DEFAULT_DHEPARAMS	"none"
#define DEFAULT_USER		"pop3d"
#define DEFAULT_DIR		"/var/empty"

static int __attribute__((format(printf, 3, 4)))
conf_error(char *err, size_t n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);	/* a cut reason is still a reason */
	va_end(ap);
	return -1;
}

/* A text setting, checked by the table: def when unset or empty. */
static int
conf_text(const char *name, const char *def, const char **out, char *err,
    size_t n)
{
	if (setting_text_err(name, out, err, n) == -1)
		return -1;
	if (*out == NULL)
		*out = def;
	return 0;
}

/*
 * POP3D_TLS_KEYPAIRS: "cert:key" items separated by blanks, split in
 * place in c->pairbuf.  A file name with a colon or a blank cannot be
 * given here (the default pair can have one).
 */
static int
conf_pairs(struct tlsconf *c, char *err, size_t n)
{
	const char	*text;
	char		*p, *item, *colon;

	if (conf_text("POP3D_TLS_KEYPAIRS", NULL, &text, err, n) == -1)
		return -1;
	if (text == NULL)
		return 0;
	memcpy(c->pairbuf, text, strlen(text) + 1);	/* checked: fits */
	for (p = c->pairbuf;;) {
		p += strspn(p, " \t\r\n");
		if (*p == '\0')
			return 0;
		item = p;
		p += strcspn(p, " \t\r\n");
		if (*p != '\0')
			*p++ = '\0';
		if (c->npairs == 1 + TLS_KEYPAIRS_MAX)
			return conf_error(err, n, "bad setting:"
			    " POP3D_TLS_KEYPAIRS has more than %d keypairs",
			    TLS_KEYPAIRS_MAX);
		if ((colon = strchr(item, ':')) == NULL || colon == item ||
		    colon[1] == '\0' || strchr(colon + 1, ':') != NULL)
			return conf_error(err, n, "bad setting:"
			    " POP3D_TLS_KEYPAIRS item %zu is not"
			    " certfile:keyfile", c->npairs);
		*colon = '\0';
		if (strlen(item) > TLS_PATH_MAX ||
		    strlen(colon + 1) > TLS_PATH_MAX)
			return conf_error(err, n, "bad setting:"
			    " POP3D_TLS_KEYPAIRS item %zu: a file name longer"
			    " than %d", c->npairs, TLS_PATH_MAX);
		c->pairs[c->npairs].cert = item;
		c->pairs[c->npairs].key = colon + 1;
		c->npairs++;
	}
}

int
tlsconf_read(struct tlsconf *c, char *err, size_t n)
{
	const char	*protocols, *user, *nonroot;
	uint64_t	 timeout, idle;

	/*
	 * Not pairbuf: zeroing its 128 kB costs every relay 32 page faults
	 * for a text of a few hundred octets, copied in with its NUL.
	 */
	memset(c, 0, offsetof(struct tlsconf, pairbuf));
	c->pairbuf[0] = '\0';
	if (conf_text("POP3D_TLS_CERT", NULL, &c->pairs[0].cert, err,
	    n) == -1 ||
	    conf_text("POP3D_TLS_KEY", NULL, &c->pairs[0].key, err, n) == -1)
		return -1;
	if (c->pairs[0].cert == NULL)
		return conf_error(err, n, "POP3D_TLS_CERT is not set");
	if (c->pairs[0].key == NULL)
		return conf_error(err, n, "POP3D_TLS_KEY is not set");
	c->npairs = 1;
	if (conf_pairs(c, err, n) == -1)
		return -1;
	if (conf_text("POP3D_TLS_PROTOCOLS", DEFAULT_PROTOCOLS, &protocols,
	    err, n) == -1 ||
	    conf_text("POP3D_TLS_CIPHERS", DEFAULT_CIPHERS, &c->ciphers, err,
	    n) == -1 ||
	    conf_text("POP3D_TLS_ECDHECURVES", DEFAULT_CURVES, &c->curves,
	    err, n) == -1 ||
	    conf_text("POP3D_TLS_DHEPARAMS", DEFAULT_DHEPARAMS,
	    &c->dheparams, err, n) == -1 ||
	    setting_num_err("POP3D_TLS_TIMEOUT", &timeout, err, n) == -1 ||
	    setting_num_err("POP3D_IDLE_TIMEOUT", &idle, err, n) == -1 ||
	    conf_text("POP3D_PREAUTH_USER", DEFAULT_USER, &user, err,
	    n) == -1 ||
	    conf_text("POP3D_TLS_USER", user, &c->user, err, n) == -1 ||
	    conf_text("POP3D_TLS_NONROOT", "0", &nonroot, err, n) == -1 ||
	    conf_text("POP3D_CHROOT", DEFAULT_DIR, &c->dir, err, n) == -1)
		return -1;
	/* The names the page promises AEAD with ephemeral keys for. */
	if (strcasecmp(c->ciphers, "secure") == 0 ||
	    strcasecmp(c->ciphers, "default") == 0)
		c->ciphers = DEFAULT_CIPHERS;
	if (tls_config_parse_protocols(&c->protocols, protocols) == -1 ||
	    c->protocols == 0)
		return conf_error(err, n, "bad setting: POP3D_TLS_PROTOCOLS"
		    " is not a protocol list");
	c->timeout_ms = (int)timeout * 1000;
	c->idle_ms = (int)idle * 1000;
	/* The table allows 0 and 1 alone. */
	c->nonroot = nonroot[0] == '1';
	return 0;
}

/* The settings libtls checks itself; its message says what is wrong. */
static int
conf_apply(const struct tlsconf *c, struct tls_config *cfg, char *err,
    size_t n)
{
	size_t	i;

	if (tls_config_set_protocols(cfg, c->protocols) == -1)
		return conf_error(err, n, "bad setting: POP3D_TLS_PROTOCOLS:"
		    " %s", tls_config_error(cfg));
	if (tls_config_set_ciphers(cfg, c->ciphers) == -1)
		return conf_error(err, n, "bad setting: POP3D_TLS_CIPHERS: %s",
		    tls_config_error(cfg));
	if (tls_config_set_ecdhecurves(cfg, c->curves) == -1)
		return conf_error(err, n, "bad setting: POP3D_TLS_ECDHECURVES:"
		    " %s", tls_config_error(cfg));
	if (tls_config_set_dheparams(cfg, c->dheparams) == -1)
		return conf_error(err, n, "bad setting: POP3D_TLS_DHEPARAMS:"
		    " %s", tls_config_error(cfg));
	if (tls_config_set_keypair_file(cfg, c->pairs[0].cert,
	    c->pairs[0].key) == -1)
		return conf_error(err, n, "%s", tls_config_error(cfg));
	for (i = 1; i < c->npairs; i++)
		if (tls_config_add_keypair_file(cfg, c->pairs[i].cert,
		    c->pairs[i].key) == -1)
			return conf_error(err, n, "POP3D_TLS_KEYPAIRS: %s",
			    tls_config_error(cfg));
	return 0;
}

struct tls *
tlsconf_server(const struct tlsconf *c, char *err, size_t n)
{
	struct tls_config	*cfg;
	struct tls		*ctx = NULL;

	if ((cfg = tls_config_new()) == NULL) {
		conf_error(err, n, "tls_config_new: %s", strerror(errno));
		return NULL;
	}
	if (conf_apply(c, cfg, err, n) == 0) {
		if ((ctx = tls_server()) == NULL)
			conf_error(err, n, "tls_server: %s", strerror(errno));
		else if (tls_configure(ctx, cfg) == -1) {
			conf_error(err, n, "%s", tls_error(ctx));
			tls_free(ctx);
			ctx = NULL;
		}
	}
	/* The SSL_CTXs keep the keys they need; no other copy stays. */
	tls_config_clear_keys(cfg);
	tls_config_free(cfg);
	return ctx;
}

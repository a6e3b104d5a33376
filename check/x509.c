/*
 * The certificate and key of POP3D_TLS_CERT and POP3D_TLS_KEY (and each
 * pair of POP3D_TLS_KEYPAIRS): read, matched, their names and expiry.
 * The only file of the tree, with pop3d-tls's libtls, that uses libcrypto.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "pop3d_limits.h"

static const char *
ssl_error(void)
{
	static char	buf[256];
	unsigned long	e = ERR_get_error();

	if (e == 0)
		return "not in PEM form";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* The names a certificate covers: its DNS subjectAltNames, else its CN. */
static void
cert_names(X509 *x, char *out, size_t n)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	const unsigned char	*d;
	char			 cn[256];
	int			 i;

	out[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(g->d.dNSName);
		snprintf(out + strlen(out), n - strlen(out), "%s%.*s",
		    out[0] != '\0' ? "," : "",
		    ASN1_STRING_length(g->d.dNSName), (const char *)d);
	}
	GENERAL_NAMES_free(gens);
	if (out[0] == '\0' && X509_NAME_get_text_by_NID(
	    X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
		snprintf(out, n, "CN=%s", cn);
}

static void
check_pair(const char *cert, const char *key)
{
	struct stat	 st;
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	FILE		*f;
	char		 names[512];
	int		 days = 0, secs = 0;

	if ((f = fopen(cert, "re")) == NULL) {
		say("error", "tls-cert", "cannot open %s: %s", cert,
		    strerror(errno));
		goto out;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		say("error", "tls-cert", "%s: not a certificate: %s", cert,
		    ssl_error());
		goto out;
	}
	if ((f = fopen(key, "re")) == NULL) {
		say("error", "tls-key", "cannot open %s: %s", key,
		    strerror(errno));
		goto out;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		say("warn", "tls-key", "%s: mode %03o: readable by others than"
		    " its owner", key, (unsigned)(st.st_mode & 0777));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		say("error", "tls-key", "%s: not a private key: %s", key,
		    ssl_error());
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		say("error", "tls-key", "%s does not match the certificate %s",
		    key, cert);
		goto out;
	}
	say("ok", "tls-key", "%s matches %s", key, cert);
	cert_names(x, names, sizeof(names));
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		say("error", "tls-cert", "%s: unreadable expiry date", cert);
	else if (days < 0 || secs < 0)
		say("error", "tls-cert", "%s: expired %d days ago (names %s)",
		    cert, -days, names);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		say("error", "tls-cert", "%s: not valid yet (names %s)", cert,
		    names);
	else
		say(days < CHECK_CERT_WARN_DAYS ? "warn" : "ok", "tls-cert",
		    "%s: names %s, expires in %d days", cert, names, days);
out:
	X509_free(x);
	EVP_PKEY_free(k);
}

void
check_tls(void)
{
	const char	*cert = getenv("POP3D_TLS_CERT");
	const char	*key = getenv("POP3D_TLS_KEY");
	const char	*pairs = getenv("POP3D_TLS_KEYPAIRS");
	static char	 buf[TLS_KEYPAIRS_TEXT_MAX + 1];
	char		*item, *last, *colon;
	int		 c = cert != NULL && *cert != '\0';
	int		 k = key != NULL && *key != '\0';

	if (c != k) {
		say("error", "tls", "%s set without %s: STLS and the TLS port"
		    " would not work", c ? "POP3D_TLS_CERT" : "POP3D_TLS_KEY",
		    c ? "POP3D_TLS_KEY" : "POP3D_TLS_CERT");
		return;
	}
	if (!c)
		say("ok", "tls", "no certificate: STLS is not offered");
	else
		check_pair(cert, key);
	if (pairs == NULL || *pairs == '\0' || strlen(pairs) >= sizeof(buf))
		return;
	strcpy(buf, pairs);
	for (item = strtok_r(buf, " \t\r\n", &last); item != NULL;
	    item = strtok_r(NULL, " \t\r\n", &last)) {
		if ((colon = strchr(item, ':')) == NULL) {
			say("error", "tls", "POP3D_TLS_KEYPAIRS item %s is not"
			    " cert:key", item);
			continue;
		}
		*colon = '\0';
		check_pair(item, colon + 1);
	}
}

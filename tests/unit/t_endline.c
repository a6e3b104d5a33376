/*
 * lib/endline.c: POP3D_END, the end line's facts that pop3d passes down
 * the chain when it becomes the session, read back only as written, every
 * value within its declared maximum.
 */
#include "endline.c"

#include "check.h"

static int
parses(const char *s)
{
	struct endline	e;

	return endline_parse(&e, s) == 0;
}

/* "key=" and n copies of c: a value exactly n octets long. */
static const char *
word(char *buf, const char *key, char c, size_t n)
{
	size_t	k = strlen(key);

	memcpy(buf, key, k);
	memset(buf + k, c, n);
	buf[k + n] = '\0';
	return buf;
}

static int
with(const char *extra)
{
	char	s[1024];

	snprintf(s, sizeof(s), "remote=192.0.2.7 auth_failures=1 end=login"
	    " %s", extra);
	return parses(s);
}

int
main(void)
{
	struct endline	e, back;
	char		w[600];

	memset(&e, 0, sizeof(e));
	strcpy(e.remote, "2001:db8::5");
	strcpy(e.tls, "TLSv1.3");
	strcpy(e.cipher, "TLS_AES_256_GCM_SHA384");
	strcpy(e.sni, "mail.example.org");
	strcpy(e.end, "login");
	e.failures = 3;
	e.relay = 4242;
	e.relay_ms = 612000;
	CHECK(endline_export(&e) == 0);
	CHECK(endline_parse(&back, getenv(ENDLINE_ENV)) == 0);
	CHECK(memcmp(&e, &back, sizeof(e)) == 0);
	/* Without TLS: no tls=, no cipher=, no sni=. */
	memset(e.tls, 0, sizeof(e.tls));
	memset(e.cipher, 0, sizeof(e.cipher));
	memset(e.sni, 0, sizeof(e.sni));
	e.relay = e.relay_ms = 0;
	CHECK(endline_export(&e) == 0);
	CHECK(strstr(getenv(ENDLINE_ENV), "tls=") == NULL);
	CHECK(endline_parse(&back, getenv(ENDLINE_ENV)) == 0 &&
	    memcmp(&e, &back, sizeof(e)) == 0);

	/* Each value's maximum, and one over it. */
	CHECK(with(word(w, "tls=", 'T', TLS_FACT_MAX)) == 0);	/* no cipher */
	CHECK(parses("remote=a end=x auth_failures=0 cipher=c tls=T"));
	snprintf(w, sizeof(w), "cipher=c tls=%0*d", TLS_FACT_MAX, 0);
	CHECK(with(w));
	snprintf(w, sizeof(w), "cipher=c tls=%0*d", TLS_FACT_MAX + 1, 0);
	CHECK(!with(w));
	CHECK(with(word(w, "end=", 'e', ENDLINE_NAME_MAX)));
	CHECK(!with(word(w, "end=", 'e', ENDLINE_NAME_MAX + 1)));
	CHECK(with(word(w, "remote=", '1', INET6_ADDRSTRLEN - 1)));
	CHECK(!with(word(w, "remote=", '1', INET6_ADDRSTRLEN)));
	CHECK(with("relay=2147483647 relay_ms=1"));
	CHECK(!with("relay=2147483648"));
	CHECK(!with("auth_failures=x"));
	CHECK(!with(word(w, "auth_failures=", '1', 16)));

	/* Nothing but the words it writes. */
	CHECK(!parses(""));
	CHECK(!parses("auth_failures=0 end=login"));		/* no remote */
	CHECK(!parses("remote=a auth_failures=0"));		/* no end */
	CHECK(!with("user=alice"));
	CHECK(!with("tls=TLSv1.3"));				/* no cipher */
	CHECK(!with("sni"));
	CHECK(!with("sni="));
	CHECK(!with("sni=a\tb"));
	CHECK(!parses("remote=a  end=x"));
	CHECK(!parses("remote=a end=x "));

	/* Taken: unset unless kept; malformed: unset, and no line. */
	CHECK(endline_export(&e) == 0);
	CHECK(endline_take(1) == 1 && getenv(ENDLINE_ENV) != NULL);
	CHECK(endline_take(0) == 1 && getenv(ENDLINE_ENV) == NULL);
	CHECK(endline_take(0) == 0);
	setenv(ENDLINE_ENV, "remote=a end=x secret=y", 1);
	CHECK(endline_take(1) == -1 && getenv(ENDLINE_ENV) == NULL);
	carrier = 0;	/* no end line from this tester */
	return check_done();
}

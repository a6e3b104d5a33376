/*
 * Unit tests of front/sasl.c: strict base64 (RFC 4648 as RFC 5034 wants
 * it), PLAIN's fields (RFC 4616) and CRAM-MD5's response (RFC 2195).
 */
#include <string.h>

#include "check.h"
#include "sasl.h"

static unsigned char	buf[SASL_LINE_MAX + 1];

/* Decodes s: the text as a string ("ERR" when refused), max octets. */
static const char *
dec(const char *s, size_t max)
{
	static char	out[SASL_LINE_MAX + 8];
	ssize_t		n;

	n = sasl_b64_decode(s, strlen(s), buf, max);
	if (n < 0)
		return "ERR";
	memcpy(out, buf, n);
	out[n] = '\0';
	return out;
}

static const char *
plain(const char *m, size_t len)
{
	static char	 out[600];
	const char	*why, *user, *pass;

	memcpy(buf, m, len);
	if ((why = sasl_plain(buf, len, &user, &pass)) != NULL)
		return why;
	snprintf(out, sizeof(out), "%s|%s", user, pass);
	return out;
}

static const char *
cram(const char *m)
{
	static char	 out[600];
	const char	*why, *user, *digest;

	memcpy(buf, m, strlen(m));
	if ((why = sasl_cram(buf, strlen(m), &user, &digest)) != NULL)
		return why;
	snprintf(out, sizeof(out), "%s|%s", user, digest);
	return out;
}

static void
test_base64(void)
{
	char	enc[64], big[SASL_LINE_MAX + 8];

	CHECK_STR(dec("AGFsaWNlAHNlY3JldA==", 100), "");	/* NUL first */
	CHECK(sasl_b64_decode("AGFsaWNlAHNlY3JldA==", 20, buf, 100) == 13 &&
	    memcmp(buf, "\0alice\0secret", 13) == 0);
	CHECK_STR(dec("dGlt", 100), "tim");
	CHECK_STR(dec("dGk=", 100), "ti");
	CHECK_STR(dec("dA==", 100), "t");
	CHECK_STR(dec("=", 100), "");		/* RFC 5034's empty response */
	CHECK_STR(dec("", 100), "ERR");
	CHECK_STR(dec("dGl\r", 100), "ERR");	/* 4 octets: the alphabet */
	CHECK_STR(dec("dG l", 100), "ERR");	/* no white space */
	CHECK_STR(dec("dGl\t", 100), "ERR");
	CHECK_STR(dec("dGl\n", 100), "ERR");
	CHECK_STR(dec("dGltZQ", 100), "ERR");	/* no padding */
	CHECK_STR(dec("dGk", 100), "ERR");
	CHECK_STR(dec("dA=A", 100), "ERR");	/* padding in the middle */
	CHECK_STR(dec("d===", 100), "ERR");
	CHECK_STR(dec("====", 100), "ERR");
	CHECK_STR(dec("dB==", 100), "ERR");	/* stray bits after the data */
	CHECK_STR(dec("dGm=", 100), "ERR");
	CHECK_STR(dec("dGl0-_==", 100), "ERR");	/* base64url is not base64 */
	CHECK_STR(dec("dGlt", 2), "ERR");	/* decodes to more than max */
	CHECK_STR(dec("dGlt", 3), "tim");
	/* The line limit: SASL_LINE_MAX octets decode, one block more not. */
	memset(big, 'Q', SASL_LINE_MAX);
	big[SASL_LINE_MAX] = '\0';
	CHECK(sasl_b64_decode(big, SASL_LINE_MAX, buf, sizeof(buf)) ==
	    SASL_LINE_MAX / 4 * 3);
	memcpy(big + SASL_LINE_MAX, "QQQQ", 5);
	CHECK(sasl_b64_decode(big, SASL_LINE_MAX + 4, buf, sizeof(buf)) == -1);
	CHECK(sasl_b64_encode((const unsigned char *)"tim", 3, enc,
	    sizeof(enc)) == 0);
	CHECK_STR(enc, "dGlt");
	CHECK(sasl_b64_encode((const unsigned char *)"ti", 2, enc, 5) == 0);
	CHECK_STR(enc, "dGk=");
	CHECK(sasl_b64_encode((const unsigned char *)"ti", 2, enc, 4) == -1);
	CHECK(sasl_b64_encode((const unsigned char *)"", 0, enc, 1) == 0);
	CHECK_STR(enc, "");
}

static void
test_plain(void)
{
	char	user[POP3_USER_MAX + 2], m[POP3_USER_MAX + 16];

	CHECK_STR(plain("\0alice\0secret", 13), "alice|secret");
	CHECK_STR(plain("alice\0alice\0secret", 18), "alice|secret");
	CHECK_STR(plain("\0alice\0pass word ", 17), "alice|pass word ");
	CHECK_STR(plain("bob\0alice\0secret", 16), "the authorization "
	    "identity must be empty or the user");
	CHECK_STR(plain("alic\0alice\0secret", 17), "the authorization "
	    "identity must be empty or the user");
	CHECK_STR(plain("\0alice\0", 7), "bad password length");
	CHECK_STR(plain("\0\0secret", 8), "bad user name length");
	CHECK_STR(plain("\0alice", 6), "PLAIN needs authzid, user and "
	    "password, NUL-separated");
	CHECK_STR(plain("alice secret", 12), "PLAIN needs authzid, user and "
	    "password, NUL-separated");
	CHECK_STR(plain("\0alice\0sec\0ret", 14), "PLAIN has more than three "
	    "fields");
	CHECK_STR(plain("", 0), "PLAIN needs authzid, user and password, "
	    "NUL-separated");
	/* The user name limit, and one over it. */
	memset(user, 'u', POP3_USER_MAX);
	user[POP3_USER_MAX] = '\0';
	m[0] = '\0';
	memcpy(m + 1, user, POP3_USER_MAX);
	memcpy(m + 1 + POP3_USER_MAX, "\0pw", 3);
	CHECK(strncmp(plain(m, POP3_USER_MAX + 4), user, POP3_USER_MAX) == 0);
	m[0] = '\0';
	memset(m + 1, 'u', POP3_USER_MAX + 1);
	memcpy(m + 2 + POP3_USER_MAX, "\0pw", 3);
	CHECK_STR(plain(m, POP3_USER_MAX + 5), "bad user name length");
	/* The password limit, and one over it. */
	{
		char	pm[SASL_SECRET_MAX + 16];

		memcpy(pm, "\0a\0", 3);
		memset(pm + 3, 'p', SASL_SECRET_MAX + 1);
		CHECK(strncmp(plain(pm, 3 + SASL_SECRET_MAX), "a|pp", 4) ==
		    0);
		CHECK_STR(plain(pm, 3 + SASL_SECRET_MAX + 1),
		    "bad password length");
	}
}

static void
test_cram(void)
{
	CHECK_STR(cram("tim b913a602c7eda7a495b4e6e7334d3890"),
	    "tim|b913a602c7eda7a495b4e6e7334d3890");
	CHECK_STR(cram("tim B913A602C7EDA7A495B4E6E7334D3890"),
	    "tim|b913a602c7eda7a495b4e6e7334d3890");
	CHECK_STR(cram("a b c b913a602c7eda7a495b4e6e7334d3890"),
	    "a b c|b913a602c7eda7a495b4e6e7334d3890");	/* the last space */
	CHECK_STR(cram("tim b913a602c7eda7a495b4e6e7334d389"),
	    "the digest is 32 hex digits");
	CHECK_STR(cram("tim b913a602c7eda7a495b4e6e7334d38900"),
	    "the digest is 32 hex digits");
	CHECK_STR(cram("tim g913a602c7eda7a495b4e6e7334d3890"),
	    "the digest is 32 hex digits");
	CHECK_STR(cram(" b913a602c7eda7a495b4e6e7334d3890"),
	    "bad user name length");
	CHECK_STR(cram("timb913a602c7eda7a495b4e6e7334d3890"),
	    "the response is user, space, digest");
	memcpy(buf, "t\0m b913a602c7eda7a495b4e6e7334d3890", 36);
	{
		const char	*u, *d;

		CHECK(sasl_cram(buf, 36, &u, &d) != NULL);
	}
}

int
main(void)
{
	test_base64();
	test_plain();
	test_cram();
	return check_done();
}

/*
 * The digest logins (auth/apop.c): CRAM-MD5 against RFC 2195's example,
 * APOP against RFC 1939's, and what neither may accept.  The other
 * expected digests were made with Python's hmac module, not with the code
 * under test.
 */
#include <string.h>

#include "apop.h"
#include "check.h"

/* RFC 2195 section 2. */
#define TIM_SECRET	"tanstaaftanstaaf"
#define TIM_CHALLENGE	"<1896.697170952@postoffice.reston.mci.net>"
#define TIM_DIGEST	"b913a602c7eda7a495b4e6e7334d3890"

/* RFC 1939 section 7. */
#define APOP_STAMP	"<1896.697170952@dbc.mtview.ca.us>"
#define APOP_SECRET	"tanstaaf"
#define APOP_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"

static char	challenge[CRAM_CHALLENGE_MAX + 2];

/* "<aaa...a>" of len octets, in challenge. */
static const char *
long_challenge(size_t len)
{
	memset(challenge, 'a', len);
	challenge[0] = '<';
	challenge[len - 1] = '>';
	challenge[len] = '\0';
	return challenge;
}

static void
test_cram_rfc2195(void)
{
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET, TIM_DIGEST) == 1);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "B913A602C7EDA7A495B4E6E7334D3890") == 1);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "b913A602c7EDa7a495b4e6e7334d3890") == 1);
}

static void
test_cram_wrong(void)
{
	/* One digit off, at either end. */
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "c913a602c7eda7a495b4e6e7334d3890") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "b913a602c7eda7a495b4e6e7334d3891") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, "tanstaaftanstaag", TIM_DIGEST) == 0);
	CHECK(cram_verify("<1896.697170953@postoffice.reston.mci.net>",
	    TIM_SECRET, TIM_DIGEST) == 0);
	/* The secret itself, or APOP's digest of it, is no CRAM digest. */
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET, TIM_SECRET) == 0);
	CHECK(cram_verify(APOP_STAMP, APOP_SECRET, APOP_DIGEST) == 0);
}

static void
test_cram_malformed(void)
{
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "b913a602c7eda7a495b4e6e7334d389") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET, TIM_DIGEST "0") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET, TIM_DIGEST " ") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET, "") == 0);
	/* 0x10 | 0x20 is '0': a case fold by bit would take this one. */
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "b913a602c7eda7a495b4e6e7334d389\x10") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "b913a602g7eda7a495b4e6e7334d3890") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, TIM_SECRET,
	    "0xb913a602c7eda7a495b4e6e7334d38") == 0);
}

static void
test_cram_no_secret(void)
{
	/* HMAC-MD5 with an empty key: what a NULL secret is computed as. */
	CHECK(cram_verify(TIM_CHALLENGE, NULL,
	    "a00b54b824afa19ec2de0f73cb2a04c2") == 0);
	CHECK(cram_verify(TIM_CHALLENGE, NULL, TIM_DIGEST) == 0);
	CHECK(cram_verify(TIM_CHALLENGE, NULL, "") == 0);
}

static void
test_cram_challenge(void)
{
	CHECK(!cram_challenge_valid(""));
	CHECK(cram_challenge_valid("x"));
	CHECK(cram_challenge_valid(TIM_CHALLENGE));
	CHECK(cram_challenge_valid(long_challenge(CRAM_CHALLENGE_MAX)));
	CHECK(!cram_challenge_valid(long_challenge(CRAM_CHALLENGE_MAX + 1)));
	/* HMAC-MD5(secret, "") would be this: an empty challenge is refused. */
	CHECK(cram_verify("", TIM_SECRET,
	    "ba0016591d612662348b20bcd7f4439a") == 0);
	CHECK(cram_verify(long_challenge(CRAM_CHALLENGE_MAX), TIM_SECRET,
	    "adc8c99472924e0375448b1438e88d99") == 1);
	CHECK(cram_verify(long_challenge(CRAM_CHALLENGE_MAX + 1), TIM_SECRET,
	    "244a6a28bed0bcec96a757ad38b3e8d3") == 0);
}

static void
test_cram_long_secret(void)
{
	/* 128 octets (USERS_APOP_MAX): longer than MD5's block, so hashed. */
	CHECK(cram_verify(TIM_CHALLENGE,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "cd913357ffb04392551b0f38c79f17ed") == 1);
}

/* APOP shares the comparison: the same rules hold. */
static void
test_apop(void)
{
	CHECK(apop_verify(APOP_STAMP, APOP_SECRET, APOP_DIGEST) == 1);
	CHECK(apop_verify(APOP_STAMP, APOP_SECRET,
	    "C4C9334BAC560ECC979E58001B3E22FB") == 1);
	CHECK(apop_verify(APOP_STAMP, APOP_SECRET,
	    "c4c9334bac560ecc979e58001b3e22fc") == 0);
	CHECK(apop_verify(APOP_STAMP, APOP_SECRET,
	    "c4c9334bac560ecc979e58001b3e22f") == 0);
	CHECK(apop_verify(APOP_STAMP, APOP_SECRET, APOP_DIGEST "0") == 0);
	CHECK(apop_verify(APOP_STAMP, NULL, APOP_DIGEST) == 0);
	CHECK(apop_verify(TIM_CHALLENGE, TIM_SECRET, TIM_DIGEST) == 0);
}

int
main(void)
{
	test_cram_rfc2195();
	test_cram_wrong();
	test_cram_malformed();
	test_cram_no_secret();
	test_cram_challenge();
	test_cram_long_secret();
	test_apop();
	return check_done();
}

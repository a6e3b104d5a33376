#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "num.h"

static int
parses(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = 12345;

	return num_parse(s, min, max, &v) == 0 && v == want;
}

static int
fails(const char *s, uint64_t min, uint64_t max, int err)
{
	uint64_t v = 777;

	errno = 0;
	return num_parse(s, min, max, &v) == -1 && errno == err && v == 777;
}

int
main(void)
{
	CHECK(parses("1", 1, 10, 1));
	CHECK(parses("10", 1, 10, 10));
	CHECK(parses("007", 1, 10, 7));
	CHECK(parses("0", 0, 0, 0));
	CHECK(parses("18446744073709551615", 0, UINT64_MAX, UINT64_MAX));
	CHECK(fails("18446744073709551616", 0, UINT64_MAX, ERANGE));
	CHECK(fails("99999999999999999999999", 0, UINT64_MAX, ERANGE));
	CHECK(fails("11", 1, 10, ERANGE));
	CHECK(fails("0", 1, 10, ERANGE));
	CHECK(fails("", 0, 10, EINVAL));
	CHECK(fails("+1", 0, 10, EINVAL));
	CHECK(fails("-1", 0, 10, EINVAL));
	CHECK(fails(" 1", 0, 10, EINVAL));
	CHECK(fails("1 ", 0, 10, EINVAL));
	CHECK(fails("0x1", 0, 10, EINVAL));
	CHECK(fails("1e3", 0, 10000, EINVAL));
	CHECK(fails("99999999999999999999999x", 0, UINT64_MAX, EINVAL));
	CHECK(fails(NULL, 0, 10, EINVAL));

	/* The two checks the settings table shares (settings.c). */
	{
		int	f = 7;

		CHECK(flag_parse("1", &f) == 0 && f == 1);
		CHECK(flag_parse("yes", &f) == 0 && f == 1);
		CHECK(flag_parse("0", &f) == 0 && f == 0);
		CHECK(flag_parse("no", &f) == 0 && f == 0);
		f = 7;
		errno = 0;
		CHECK(flag_parse("YES", &f) == -1 && errno == EINVAL && f == 7);
		CHECK(flag_parse("", &f) == -1 && flag_parse("01", &f) == -1);
	}
	CHECK(text_valid("", 0, 0));
	CHECK(text_valid("abc", 3, 0) && !text_valid("abcd", 3, 0));
	CHECK(text_valid(" ~", 2, 0));
	CHECK(!text_valid("a\tb", 8, 0) && text_valid("a\tb\r\n", 8, 1));
	CHECK(!text_valid("\x7f", 8, 1) && !text_valid("\x1f", 8, 1));
	CHECK(!text_valid("\x80", 8, 0));
	/* Exactly len octets: a field within a longer string. */
	{
		uint64_t	n = 7;

		CHECK(num_parse_n("123,W=5", 3, 0, 1000, &n) == 0 && n == 123);
		CHECK(num_parse_n("123,W=5", 4, 0, 1000, &n) == -1 &&
		    errno == EINVAL && n == 123);
		CHECK(num_parse_n("123", 0, 0, 1000, &n) == -1 &&
		    errno == EINVAL);
		CHECK(num_parse_n("18446744073709551615x", 20, 0, UINT64_MAX,
		    &n) == 0 && n == UINT64_MAX);
		CHECK(num_parse_n("18446744073709551616", 20, 0, UINT64_MAX,
		    &n) == -1 && errno == ERANGE);
		CHECK(num_parse_n("1000000", 7, 0, 999999, &n) == -1 &&
		    errno == ERANGE);
	}
	return check_done();
}

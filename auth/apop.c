#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <md5.h>
#include <nettle/memops.h>

#include "apop.h"

#define APOP_HEX	(2 * MD5_DIGEST_LENGTH)

static void
apop_hex(const uint8_t *d, char *hex)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < MD5_DIGEST_LENGTH; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
}

int
apop_verify(const char *stamp, const char *secret, const char *digest)
{
	MD5_CTX		ctx;
	uint8_t		d[MD5_DIGEST_LENGTH];
	char		want[APOP_HEX], got[APOP_HEX];
	size_t		i;
	int		ok;

	MD5Init(&ctx);
	MD5Update(&ctx, (const uint8_t *)stamp, strlen(stamp));
	if (secret != NULL)
		MD5Update(&ctx, (const uint8_t *)secret, strlen(secret));
	MD5Final(d, &ctx);
	apop_hex(d, want);
	memset(got, 0, sizeof(got));
	for (i = 0; i < APOP_HEX && digest[i] != '\0'; i++)
		got[i] = digest[i] >= 'A' && digest[i] <= 'F' ?
		    digest[i] - 'A' + 'a' : digest[i];
	ok = memeql_sec(want, got, APOP_HEX) &&
	    strlen(digest) == APOP_HEX && secret != NULL;
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(d, sizeof(d));
	explicit_bzero(want, sizeof(want));
	explicit_bzero(got, sizeof(got));
	return ok;
}

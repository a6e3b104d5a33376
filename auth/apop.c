/* APOP and CRAM-MD5: one digest each, one constant-time comparison. */
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/memops.h>

#include "apop.h"

#define DIGEST_HEX	(2 * MD5_DIGEST_SIZE)

/*
 * 1 when digest is d written in hex (32 digits, either case), else 0.
 * The comparison takes the same time wherever the first difference is;
 * only the digest's length, which is no secret, ends it early.
 */
static int
digest_match(const uint8_t *d, const char *digest)
{
	static const char	digits[] = "0123456789abcdef";
	char			want[DIGEST_HEX], got[DIGEST_HEX];
	size_t			i;
	int			ok;

	for (i = 0; i < MD5_DIGEST_SIZE; i++) {
		want[2 * i] = digits[d[i] >> 4];
		want[2 * i + 1] = digits[d[i] & 15];
	}
	memset(got, 0, sizeof(got));
	for (i = 0; i < DIGEST_HEX && digest[i] != '\0'; i++)
		got[i] = digest[i] >= 'A' && digest[i] <= 'F' ?
		    digest[i] - 'A' + 'a' : digest[i];
	ok = memeql_sec(want, got, DIGEST_HEX) &&
	    strlen(digest) == DIGEST_HEX;
	explicit_bzero(want, sizeof(want));
	explicit_bzero(got, sizeof(got));
	return ok;
}

int
apop_verify(const char *stamp, const char *secret, const char *digest)
{
	struct md5_ctx	ctx;
	uint8_t		d[MD5_DIGEST_SIZE];
	int		ok;

	md5_init(&ctx);
	md5_update(&ctx, strlen(stamp), (const uint8_t *)stamp);
	if (secret != NULL)
		md5_update(&ctx, strlen(secret), (const uint8_t *)secret);
	md5_digest(&ctx, sizeof(d), d);
	ok = digest_match(d, digest) && secret != NULL;
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(d, sizeof(d));
	return ok;
}

int
cram_challenge_valid(const char *challenge)
{
	size_t	len = strlen(challenge);

	return len > 0 && len <= CRAM_CHALLENGE_MAX;
}

int
cram_verify(const char *challenge, const char *secret, const char *digest)
{
	struct hmac_md5_ctx	ctx;
	uint8_t			d[MD5_DIGEST_SIZE];
	int			ok;

	if (!cram_challenge_valid(challenge))
		return 0;
	hmac_md5_set_key(&ctx, secret != NULL ? strlen(secret) : 0,
	    (const uint8_t *)(secret != NULL ? secret : ""));
	hmac_md5_update(&ctx, strlen(challenge), (const uint8_t *)challenge);
	hmac_md5_digest(&ctx, sizeof(d), d);
	ok = digest_match(d, digest) && secret != NULL;
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(d, sizeof(d));
	return ok;
}

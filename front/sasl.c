#include <string.h>

#include <nettle/base64.h>

#include "sasl.h"

/* The value of a base64 digit, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * nettle decodes; the strictness is ours: nettle skips white space and
 * takes unpadded input or stray bits, which RFC 5034 and 4648 do not.
 */
ssize_t
sasl_b64_decode(const char *in, size_t n, unsigned char *out, size_t max)
{
	struct base64_decode_ctx	ctx;
	/* nettle wants room for its bound, a little over the exact size. */
	unsigned char			tmp[BASE64_DECODE_LENGTH(SASL_LINE_MAX)];
	size_t				i, pad = 0, len, got;
	int				ok;

	if (n == 1 && in[0] == '=')
		return 0;
	if (n == 0 || n % 4 != 0 || n > SASL_LINE_MAX)
		return -1;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (b64_value((unsigned char)in[i]) == -1)
			return -1;
	/* Bits past the data must be zero: one text per message. */
	if (pad > 0 && (b64_value((unsigned char)in[n - pad - 1]) &
	    (pad == 2 ? 0x0f : 0x03)) != 0)
		return -1;
	len = n / 4 * 3 - pad;
	if (len > max)
		return -1;
	base64_decode_init(&ctx);
	ok = base64_decode_update(&ctx, &got, tmp, n, in) &&
	    base64_decode_final(&ctx) && got == len;
	if (ok)
		memcpy(out, tmp, len);
	explicit_bzero(tmp, sizeof(tmp));	/* it may be a password */
	return ok ? (ssize_t)len : -1;
}

int
sasl_b64_encode(const unsigned char *in, size_t n, char *out, size_t max)
{
	if (BASE64_ENCODE_RAW_LENGTH(n) + 1 > max)
		return -1;
	base64_encode_raw(out, n, in);
	out[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
	return 0;
}

const char *
sasl_plain(unsigned char *msg, size_t len, const char **user,
    const char **pass)
{
	unsigned char	*a, *b;
	size_t		 zlen, ulen, plen;

	if ((a = memchr(msg, '\0', len)) == NULL ||
	    (b = memchr(a + 1, '\0', len - (a + 1 - msg))) == NULL)
		return "PLAIN needs authzid, user and password, NUL-separated";
	if (memchr(b + 1, '\0', len - (b + 1 - msg)) != NULL)
		return "PLAIN has more than three fields";
	zlen = a - msg;
	ulen = b - (a + 1);
	plen = len - (b + 1 - msg);
	if (ulen == 0 || ulen > POP3_USER_MAX)
		return "bad user name length";
	if (plen == 0 || plen > SASL_SECRET_MAX)
		return "bad password length";
	if (zlen != 0 && (zlen != ulen || memcmp(msg, a + 1, ulen) != 0))
		return "the authorization identity must be empty or the user";
	/* The password ends the message: its NUL replaces nothing of it. */
	msg[len] = '\0';
	*user = (const char *)a + 1;
	*pass = (const char *)b + 1;
	return NULL;
}

const char *
sasl_cram(unsigned char *msg, size_t len, const char **user,
    const char **digest)
{
	unsigned char	*sp, *d;
	size_t		 i;

	if (memchr(msg, '\0', len) != NULL)
		return "NUL in the response";
	msg[len] = '\0';
	if ((sp = (unsigned char *)strrchr((char *)msg, ' ')) == NULL)
		return "the response is user, space, digest";
	d = sp + 1;
	if (strlen((char *)d) != 32)
		return "the digest is 32 hex digits";
	for (i = 0; i < 32; i++) {
		if (d[i] >= 'A' && d[i] <= 'F')
			d[i] += 'a' - 'A';
		if (!((d[i] >= '0' && d[i] <= '9') ||
		    (d[i] >= 'a' && d[i] <= 'f')))
			return "the digest is 32 hex digits";
	}
	if (sp == msg || (size_t)(sp - msg) > POP3_USER_MAX)
		return "bad user name length";
	*sp = '\0';
	*user = (const char *)msg;
	*digest = (const char *)d;
	return NULL;
}

/*
 * libFuzzer target for what the pre-login process decodes of AUTH: any
 * text either is refused by the base64 decoder or decodes to what the
 * encoder turns back into the same text; any decoded message is refused
 * by the PLAIN and CRAM-MD5 parsers or split into fields within bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static unsigned char	out[SASL_LINE_MAX + 1], msg[SASL_LINE_MAX + 1];
static char		again[SASL_LINE_MAX + 8];

static void
check_plain(const uint8_t *data, size_t size)
{
	const char	*user, *pass;

	memcpy(msg, data, size);
	if (sasl_plain(msg, size, &user, &pass) != NULL)
		return;
	if (strlen(user) == 0 || strlen(user) > POP3_USER_MAX ||
	    strlen(pass) == 0 || strlen(pass) > SASL_SECRET_MAX ||
	    user < (const char *)msg || pass > (const char *)msg + size)
		abort();
}

static void
check_cram(const uint8_t *data, size_t size)
{
	const char	*user, *digest;
	size_t		 i;

	memcpy(msg, data, size);
	if (sasl_cram(msg, size, &user, &digest) != NULL)
		return;
	if (strlen(user) == 0 || strlen(user) > POP3_USER_MAX ||
	    strlen(digest) != 32)
		abort();
	for (i = 0; i < 32; i++)
		if (!((digest[i] >= '0' && digest[i] <= '9') ||
		    (digest[i] >= 'a' && digest[i] <= 'f')))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ssize_t	n;

	if (size > SASL_LINE_MAX)
		return 0;
	check_plain(data, size);
	check_cram(data, size);
	n = sasl_b64_decode((const char *)data, size, out, sizeof(out) - 1);
	if (n < 0)
		return 0;
	if (size == 1 && data[0] == '=') {
		if (n != 0)
			abort();
		return 0;
	}
	if (sasl_b64_encode(out, (size_t)n, again, sizeof(again)) == -1 ||
	    strlen(again) != size || memcmp(again, data, size) != 0)
		abort();
	return 0;
}

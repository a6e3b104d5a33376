/*
 * libFuzzer target for the check the privileged front makes of every
 * credentials message from the pre-login process: whatever that process
 * sends, an accepted message has exactly two NUL-terminated fields, a
 * user within bounds, and nothing left over; an accepted log line
 * (IPC_LOG) is 1 to LOG_VALUE_MAX octets with no NUL, copied whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
log_message(const uint8_t *data, size_t size)
{
	char	text[LOG_VALUE_MAX + 1];

	memset(text, 'x', sizeof(text));
	if (ipc_log_check((const char *)data, size, text) == -1)
		return;
	if (size < 2 || size - 1 > LOG_VALUE_MAX || data[0] != IPC_LOG ||
	    memchr(data + 1, '\0', size - 1) != NULL ||
	    strlen(text) != size - 1 || memcmp(text, data + 1, size - 1) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*mech, *p, *end;
	int		 nuls = 0;

	if (size > IPC_MAX)
		return 0;
	log_message(data, size);
	if (ipc_cred_check((const char *)data, size, &mech) == -1)
		return 0;
	if (strcmp(mech, "USER") != 0 && strcmp(mech, "APOP") != 0 &&
	    strcmp(mech, "PLAIN") != 0 && strcmp(mech, "LOGIN") != 0 &&
	    strcmp(mech, "CRAM-MD5") != 0)
		abort();
	p = (const char *)data + 2;
	end = (const char *)data + size;
	if (p >= end || end[-1] != '\0')
		abort();
	for (; p < end; p++)
		nuls += *p == '\0';
	if (nuls != 2)
		abort();
	if (strlen((const char *)data + 2) == 0 ||
	    strlen((const char *)data + 2) > POP3_USER_MAX)
		abort();
	return 0;
}

/*
 * libFuzzer target for the check pop3d-passwd's privileged process makes
 * of every message from its dialogue process (passwd/pwipc.c): whatever
 * that process sends, in whatever state, an accepted message is of a type
 * the state allows and has exactly that type's form: one NUL-terminated
 * field of allowed octets within its bounds, or the fixed payload.
 * The first octet of the input chooses the state.
 */
#include <stdint.h>
#include <stdlib.h>

#include "pwipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One field filling msg[1..len), ending in its only NUL. */
static void
field(const char *msg, size_t len, size_t max, int spaces)
{
	size_t	i;

	if (len < 3 || len - 2 > max || msg[len - 1] != '\0')
		abort();
	for (i = 1; i < len - 1; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f ||
		    (msg[i] == ' ' && !spaces))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum pwipc_want	 want;
	const char	*msg = (const char *)data + 1;
	size_t		 len;
	int		 type;

	if (size < 1 || size > 1 + 1 + PWIPC_TEXT_MAX + 8)
		return 0;
	want = (enum pwipc_want)(data[0] % (PWIPC_WANT_END + 1));
	len = size - 1;
	if ((type = pwipc_check(msg, len, want)) == -1)
		return 0;
	switch (type) {
	case PWIPC_USER:
		if (want != PWIPC_WANT_USER)
			abort();
		field(msg, len, POP3_USER_MAX, 0);
		break;
	case PWIPC_OLD:
	case PWIPC_NEW:
		if (want != (type == PWIPC_OLD ? PWIPC_WANT_PASS :
		    PWIPC_WANT_NEWPASS))
			abort();
		field(msg, len, PWIPC_TEXT_MAX, 1);
		break;
	case PWIPC_HOSTILE:
		if (len != 1 || want == PWIPC_WANT_END)
			abort();
		break;
	case PWIPC_END:
		if (len != 2 || pwipc_end_name(msg[1]) == NULL)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}

#include <stddef.h>
#include <stdio.h>

#include "pwipc.h"

/*
 * One NUL-terminated field filling msg[1..len): 1 to max octets, none a
 * control octet (what the line parser lets through), nor a space when
 * spaces are not allowed.  0, or -1.
 */
static int
pwipc_text(const char *msg, size_t len, size_t max, int spaces)
{
	size_t	i, n;

	if (len < 3 || msg[len - 1] != '\0')
		return -1;
	n = len - 2;
	if (n > max)
		return -1;
	for (i = 1; i <= n; i++) {
		unsigned char c = msg[i];
		if (c < 0x20 || c == 0x7f || (c == ' ' && !spaces))
			return -1;
	}
	return 0;
}

int
pwipc_check(const char *msg, size_t len, enum pwipc_want want)
{
	if (len < 1)
		return -1;
	switch (msg[0]) {
	case PWIPC_USER:
		if (want != PWIPC_WANT_USER ||
		    pwipc_text(msg, len, POP3_USER_MAX, 0) == -1)
			return -1;
		break;
	case PWIPC_OLD:
	case PWIPC_NEW:
		if (want != (msg[0] == PWIPC_OLD ? PWIPC_WANT_PASS :
		    PWIPC_WANT_NEWPASS) ||
		    pwipc_text(msg, len, PWIPC_TEXT_MAX, 1) == -1)
			return -1;
		break;
	case PWIPC_HOSTILE:
		if (want == PWIPC_WANT_END || len != 1)
			return -1;
		break;
	case PWIPC_END:
		if (len != 2 || pwipc_end_name(msg[1]) == NULL)
			return -1;
		break;
	default:
		return -1;
	}
	return (unsigned char)msg[0];
}

const char *
pwipc_end_name(char how)
{
	switch (how) {
	case PWEND_QUIT:
		return "quit";
	case PWEND_EOF:
		return "eof";
	case PWEND_TIMEOUT:
		return "timeout";
	case PWEND_SIGNAL:
		return "signal";
	case PWEND_HOSTILE:
		return "hostile";
	case PWEND_IOERR:
		return "ioerr";
	case PWEND_ERROR:
		return "error";
	default:
		return NULL;
	}
}

const char *
pwipc_reply(char v, unsigned min, char *buf, size_t n)
{
	const char	*s;

	switch (v) {
	case PWV_OK:
		s = "200 your new password please";
		break;
	case PWV_FAIL:
		s = "500 old password is incorrect";
		break;
	case PWV_BLOCKED:
		s = "500 too many failed attempts from your address; try"
		    " again later";
		break;
	case PWV_CHANGED:
		s = "200 password changed";
		break;
	case PWV_SHORT:
		snprintf(buf, n, "500 new password too short: at least %u"
		    " characters", min);
		return buf;
	case PWV_LONG:
		snprintf(buf, n, "500 new password too long: at most %d"
		    " characters", USERS_PASSWORD_MAX);
		return buf;
	case PWV_SAME:
		s = "500 new password must differ from the old one";
		break;
	case PWV_STALE:
		s = "500 password not changed: it changed meanwhile";
		break;
	case PWV_NOUSER:
		s = "500 password not changed: no such user";
		break;
	default:		/* PWV_TEMP, or a verdict not known here */
		s = "500 temporary failure; try again later";
		break;
	}
	snprintf(buf, n, "%s", s);
	return buf;
}

int
pwipc_goes_on(char v)
{
	return v == PWV_OK || v == PWV_CHANGED || v == PWV_SHORT ||
	    v == PWV_LONG || v == PWV_SAME;
}

/*
 * Unit tests of passwd/pwipc.c: the check pop3d-passwd's privileged
 * process makes of every message from its dialogue process (a refused
 * message ends the session there), and the replies the verdicts make.
 */
#include <string.h>

#include "check.h"
#include "pwipc.h"

static char	msg[1 + PWIPC_TEXT_MAX + 2];	/* the longest, and more */

/* The check of type, then text of len octets as the payload. */
static int
chk(char type, const char *text, size_t len, enum pwipc_want want)
{
	msg[0] = type;
	memcpy(msg + 1, text, len);
	return pwipc_check(msg, len + 1, want);
}

#define S(lit)	lit, sizeof(lit) - 1	/* a literal with its NULs */

static void
well_formed(void)
{
	char	name[POP3_USER_MAX + 1], pw[PWIPC_TEXT_MAX + 1];

	CHECK(chk('u', S("alice\0"), PWIPC_WANT_USER) == PWIPC_USER);
	CHECK(chk('u', S("john+tag@example.org\0"), PWIPC_WANT_USER) ==
	    PWIPC_USER);
	CHECK(chk('u', S("j\xc3\xb6rg\0"), PWIPC_WANT_USER) == PWIPC_USER);
	memset(name, 'a', POP3_USER_MAX);
	name[POP3_USER_MAX] = '\0';
	CHECK(chk('u', name, sizeof(name), PWIPC_WANT_USER) == PWIPC_USER);
	CHECK(chk('p', S("alice-pw1\0"), PWIPC_WANT_PASS) == PWIPC_OLD);
	CHECK(chk('p', S("a pw with spaces \0"), PWIPC_WANT_PASS) ==
	    PWIPC_OLD);
	memset(pw, 'x', PWIPC_TEXT_MAX);
	pw[PWIPC_TEXT_MAX] = '\0';
	CHECK(chk('p', pw, sizeof(pw), PWIPC_WANT_PASS) == PWIPC_OLD);
	CHECK(chk('n', pw, sizeof(pw), PWIPC_WANT_NEWPASS) == PWIPC_NEW);
	CHECK(chk('n', S("x\0"), PWIPC_WANT_NEWPASS) == PWIPC_NEW);
	CHECK(chk('h', S(""), PWIPC_WANT_USER) == PWIPC_HOSTILE);
	CHECK(chk('h', S(""), PWIPC_WANT_QUIT) == PWIPC_HOSTILE);
	CHECK(chk('e', S("q"), PWIPC_WANT_QUIT) == PWIPC_END);
	CHECK(chk('e', S("x"), PWIPC_WANT_END) == PWIPC_END);
	CHECK(chk('e', S("i"), PWIPC_WANT_USER) == PWIPC_END);
	CHECK_STR(pwipc_end_name('q'), "quit");
	CHECK_STR(pwipc_end_name('e'), "eof");
	CHECK_STR(pwipc_end_name('t'), "timeout");
	CHECK_STR(pwipc_end_name('s'), "signal");
	CHECK_STR(pwipc_end_name('h'), "hostile");
	CHECK_STR(pwipc_end_name('i'), "ioerr");
	CHECK_STR(pwipc_end_name('x'), "error");
	CHECK(pwipc_end_name('z') == NULL && pwipc_end_name('\0') == NULL);
}

static void
malformed(void)
{
	char	name[POP3_USER_MAX + 2], pw[PWIPC_TEXT_MAX + 2];

	CHECK(pwipc_check(msg, 0, PWIPC_WANT_USER) == -1);
	CHECK(chk('V', S("k"), PWIPC_WANT_USER) == -1);	/* not its own */
	CHECK(chk('U', S("alice\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('\0', S("alice\0"), PWIPC_WANT_USER) == -1);
	/* Out of the dialogue's order. */
	CHECK(chk('u', S("alice\0"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('u', S("alice\0"), PWIPC_WANT_END) == -1);
	CHECK(chk('p', S("pw\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('p', S("pw\0"), PWIPC_WANT_NEWPASS) == -1);
	CHECK(chk('p', S("pw\0"), PWIPC_WANT_END) == -1);
	CHECK(chk('n', S("pw\0"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('n', S("pw\0"), PWIPC_WANT_QUIT) == -1);
	CHECK(chk('n', S("pw\0"), PWIPC_WANT_END) == -1);
	CHECK(chk('h', S(""), PWIPC_WANT_END) == -1);
	/* Fields: the NUL, nothing left over, the lengths, the octets. */
	CHECK(chk('u', S("alice"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S(""), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("alice\0x"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("alice\0\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("al\0ice\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("al ice\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("al\tice\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("alice\r\n\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('u', S("al\x7f" "ice\0"), PWIPC_WANT_USER) == -1);
	memset(name, 'a', POP3_USER_MAX + 1);
	name[POP3_USER_MAX + 1] = '\0';
	CHECK(chk('u', name, sizeof(name), PWIPC_WANT_USER) == -1);
	CHECK(chk('p', S("pw"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('p', S("\0"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('p', S("p\0w\0"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('p', S("pw\0\0"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('p', S("pw\n\0"), PWIPC_WANT_PASS) == -1);
	CHECK(chk('n', S("pw\x01\0"), PWIPC_WANT_NEWPASS) == -1);
	memset(pw, 'x', PWIPC_TEXT_MAX + 1);
	pw[PWIPC_TEXT_MAX + 1] = '\0';
	CHECK(chk('p', pw, sizeof(pw), PWIPC_WANT_PASS) == -1);
	CHECK(chk('n', pw, sizeof(pw), PWIPC_WANT_NEWPASS) == -1);
	CHECK(chk('h', S("x"), PWIPC_WANT_USER) == -1);
	CHECK(chk('h', S("\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('e', S(""), PWIPC_WANT_USER) == -1);
	CHECK(chk('e', S("\0"), PWIPC_WANT_USER) == -1);
	CHECK(chk('e', S("z"), PWIPC_WANT_USER) == -1);
	CHECK(chk('e', S("qq"), PWIPC_WANT_USER) == -1);
	CHECK(chk('e', S("q\0"), PWIPC_WANT_USER) == -1);
}

static void
replies(void)
{
	char	buf[PWIPC_REPLY_MAX];

	CHECK_STR(pwipc_reply(PWV_OK, 8, buf, sizeof(buf)),
	    "200 your new password please");
	CHECK_STR(pwipc_reply(PWV_FAIL, 8, buf, sizeof(buf)),
	    "500 old password is incorrect");
	CHECK_STR(pwipc_reply(PWV_TEMP, 8, buf, sizeof(buf)),
	    "500 temporary failure; try again later");
	CHECK_STR(pwipc_reply('?', 8, buf, sizeof(buf)),
	    "500 temporary failure; try again later");
	CHECK_STR(pwipc_reply(PWV_SHORT, 64, buf, sizeof(buf)),
	    "500 new password too short: at least 64 characters");
	CHECK_STR(pwipc_reply(PWV_LONG, 8, buf, sizeof(buf)),
	    "500 new password too long: at most 248 characters");
	CHECK_STR(pwipc_reply(PWV_CHANGED, 8, buf, sizeof(buf)),
	    "200 password changed");
	CHECK(pwipc_goes_on(PWV_OK) && pwipc_goes_on(PWV_SHORT) &&
	    pwipc_goes_on(PWV_LONG) && pwipc_goes_on(PWV_SAME) &&
	    pwipc_goes_on(PWV_CHANGED));
	CHECK(!pwipc_goes_on(PWV_FAIL) && !pwipc_goes_on(PWV_TEMP) &&
	    !pwipc_goes_on(PWV_BLOCKED) && !pwipc_goes_on(PWV_STALE) &&
	    !pwipc_goes_on(PWV_NOUSER) && !pwipc_goes_on('?'));
}

int
main(void)
{
	well_formed();
	malformed();
	replies();
	return check_done();
}

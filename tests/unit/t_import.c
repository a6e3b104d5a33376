/*
 * pop3d-users import's parsers (auth/import.c): the Dovecot passwd-file
 * line, passwd and shadow lines, the password schemes; and which hashes
 * may be carried as they are (passwd_carriable, auth/passwd.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "import.h"
#include "passwd.h"
#include "pop3d_limits.h"

#define SHA512 "$6$saltsaltsalt$yuUUIxrnaIVd81s8i7k2pn7CR0o.EXG3PbZGFC." \
	"8fPbOn7VybnLpSU/wRV80eI/2Bxtk2VosuQyfAZKNEVQqa."
#define YESCRYPT \
	"$y$j9T$abcdefghijklmnop$0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

static char			line[IMPORT_LINE_MAX * 2];
static struct import_entry	e;

/* import_dovecot of a copy of s: its return, *why left in why. */
static int
dovecot(const char *s, const char **why)
{
	snprintf(line, sizeof(line), "%s", s);
	return import_dovecot(line, &e, why);
}

static int
refused(const char *s, const char *want)
{
	const char	*why;

	return dovecot(s, &why) == -1 && errno == EINVAL && why != NULL &&
	    strstr(why, want) != NULL;
}

static void
test_dovecot_fields(void)
{
	const char	*why;

	CHECK(dovecot("alice:{SHA512-CRYPT}" SHA512 ":2000:2001::/home/a::",
	    &why) == 0);
	CHECK_STR(e.name, "alice");
	CHECK(e.kind == IMPORT_HASH);
	CHECK_STR(e.pass, SHA512);
	CHECK_STR(e.scheme, "SHA512-CRYPT");
	CHECK(e.uid == 2000 && e.gid == 2001);
	CHECK_STR(e.home, "/home/a");
	/* Shell and extra fields, with colons of their own, are left. */
	CHECK(dovecot("b:{PLAIN}pw:1:2:gecos:/h:/bin/sh:userdb_x=a:b", &why)
	    == 0 && e.kind == IMPORT_PLAIN && strcmp(e.pass, "pw") == 0 &&
	    strcmp(e.home, "/h") == 0);
	CHECK(dovecot("# comment", &why) == 1);
	CHECK(dovecot("   ", &why) == 1);
	CHECK(dovecot("", &why) == 1);
	/* Left out or empty (userdb static): unset, for -u, -g, -h. */
	CHECK(dovecot("nouid:{PLAIN}x", &why) == 0 && !e.uid_set &&
	    !e.gid_set && e.home == NULL && e.kind == IMPORT_PLAIN);
	CHECK(dovecot("nohome:{PLAIN}x:1:2::", &why) == 0 && e.uid_set &&
	    e.gid_set && e.uid == 1 && e.gid == 2 && e.home == NULL);
	CHECK(dovecot("u:{PLAIN}x::1::/h", &why) == 0 && !e.uid_set &&
	    e.gid_set && strcmp(e.home, "/h") == 0);
	CHECK(refused("nopass", "no password field"));
	CHECK(refused("u:{PLAIN}x:a:1::/h", "bad uid"));
	CHECK(refused("u:{PLAIN}x:1:4294967295::/h", "bad gid"));
	CHECK(refused("u:{PLAIN}x:1:1::rel", "bad home"));
	CHECK(refused("-u:{PLAIN}x:1:1::/h", "bad user name"));
	CHECK(refused("u u:{PLAIN}x:1:1::/h", "bad user name"));
}

static void
test_schemes(void)
{
	const char	*why;

	/* No scheme: Dovecot's default_pass_scheme, CRYPT. */
	CHECK(dovecot("u:" YESCRYPT ":1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_HASH && strcmp(e.scheme, "CRYPT") == 0 &&
	    strcmp(e.pass, YESCRYPT) == 0);
	CHECK(dovecot("u:{CRYPT}" YESCRYPT ":1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_HASH);
	CHECK(dovecot("u:{blf-crypt}$2b$09$abc:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_HASH && strcmp(e.scheme, "BLF-CRYPT") == 0);
	CHECK(dovecot("u:{MD5-CRYPT}$1$ab$cd:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_HASH);
	CHECK(refused("u:{SHA512-CRYPT}$1$ab$cd:1:1::/h", "not of its"));
	CHECK(dovecot("u:{CLEAR}pw:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_PLAIN && strcmp(e.pass, "pw") == 0);
	CHECK(dovecot("u:{PLAIN.HEX}7077:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_PLAIN && strcmp(e.pass, "pw") == 0);
	CHECK(dovecot("u:{PLAIN.B64}cHc=:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_PLAIN && strcmp(e.pass, "pw") == 0);
	CHECK(refused("u:{PLAIN.HEX}707:1:1::/h", "bad hex"));
	CHECK(refused("u:{PLAIN.HEX}0000:1:1::/h", "bad hex"));
	CHECK(refused("u:{PLAIN.B64}!!!:1:1::/h", "bad base64"));
	CHECK(refused("u:{PLAIN.ROT13}x:1:1::/h", "unknown password enc"));
	CHECK(dovecot("u:{SSHA}abc:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_SCHEME && strcmp(e.scheme, "SSHA") == 0);
	CHECK(dovecot("u:{SHA256.HEX}ab:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_SCHEME && strcmp(e.scheme, "SHA256.HEX") == 0);
	CHECK(dovecot("u:{ARGON2ID}$argon2id$v=19$x:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_SCHEME);
	CHECK(dovecot("u:{CRAM-MD5}ab:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_SCHEME);
	CHECK(refused("u:{}x:1:1::/h", "bad {SCHEME}"));
	CHECK(refused("u:{ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG}x:1:1::/h",
	    "bad {SCHEME}"));
	/* Nothing to check against: no password. */
	CHECK(dovecot("u::1:1::/h", &why) == 0 && e.kind == IMPORT_LOCKED);
	CHECK(dovecot("u:{PLAIN}:1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_LOCKED);
	CHECK(dovecot("u:{CRYPT}!" YESCRYPT ":1:1::/h", &why) == 0 &&
	    e.kind == IMPORT_LOCKED);
}

/* Each declared maximum, at it and one past it. */
static void
test_limits(void)
{
	char		pw[USERS_PASSWORD_MAX + 2];
	char		hex[2 * USERS_PASSWORD_MAX + 3];
	const char	*why;
	size_t		len;

	memset(pw, 'p', sizeof(pw) - 1);
	pw[USERS_PASSWORD_MAX] = '\0';
	snprintf(line, sizeof(line), "u:{PLAIN}%s:1:1::/h", pw);
	CHECK(import_dovecot(line, &e, &why) == 0 &&
	    strlen(e.pass) == USERS_PASSWORD_MAX);
	pw[USERS_PASSWORD_MAX] = 'p';
	pw[USERS_PASSWORD_MAX + 1] = '\0';
	snprintf(line, sizeof(line), "u:{PLAIN}%s:1:1::/h", pw);
	CHECK(import_dovecot(line, &e, &why) == -1 && strstr(why, "longer"));
	memset(hex, '7', sizeof(hex) - 1);
	hex[2 * USERS_PASSWORD_MAX] = '\0';
	snprintf(line, sizeof(line), "u:{PLAIN.HEX}%s:1:1::/h", hex);
	CHECK(import_dovecot(line, &e, &why) == 0 &&
	    strlen(e.pass) == USERS_PASSWORD_MAX);
	hex[2 * USERS_PASSWORD_MAX] = '7';
	hex[2 * USERS_PASSWORD_MAX + 1] = '7';
	hex[2 * USERS_PASSWORD_MAX + 2] = '\0';
	snprintf(line, sizeof(line), "u:{PLAIN.HEX}%s:1:1::/h", hex);
	CHECK(import_dovecot(line, &e, &why) == -1);
	/* The line: IMPORT_LINE_MAX octets pass, one more does not. */
	snprintf(line, sizeof(line), "u:{PLAIN}pw:1:1::/h::");
	len = strlen(line);
	memset(line + len, 'x', IMPORT_LINE_MAX - len);
	line[IMPORT_LINE_MAX] = '\0';
	CHECK(import_dovecot(line, &e, &why) == 0);
	snprintf(line, sizeof(line), "u:{PLAIN}pw:1:1::/h::");
	memset(line + len, 'x', IMPORT_LINE_MAX + 1 - len);
	line[IMPORT_LINE_MAX + 1] = '\0';
	CHECK(import_dovecot(line, &e, &why) == -1 && strstr(why, "too long"));
}

static void
test_system(void)
{
	const char	*why, *name;

	snprintf(line, sizeof(line), "sam:x:3000:3001:Sam S:/home/sam:/bin/sh");
	CHECK(import_passwd(line, &e, &why) == 0 &&
	    strcmp(e.name, "sam") == 0 && e.uid == 3000 && e.gid == 3001 &&
	    strcmp(e.home, "/home/sam") == 0);
	snprintf(line, sizeof(line), "sam:x:3000:3001:Sam");
	CHECK(import_passwd(line, &e, &why) == -1 && strstr(why, "too few"));
	snprintf(line, sizeof(line), "sam:x::3001:Sam:/home/sam:/bin/sh");
	CHECK(import_passwd(line, &e, &why) == -1 && strstr(why, "bad uid"));
	snprintf(line, sizeof(line), "sam:x:3000:3001:Sam::/bin/sh");
	CHECK(import_passwd(line, &e, &why) == -1 && strstr(why, "bad home"));
	snprintf(line, sizeof(line), "+@nis::::::");
	CHECK(import_passwd(line, &e, &why) == 1);
	snprintf(line, sizeof(line), "sam:" SHA512 ":19000:0:99999:7:::");
	CHECK(import_shadow(line, &name, &e, &why) == 0 &&
	    strcmp(name, "sam") == 0 && e.kind == IMPORT_HASH &&
	    strcmp(e.pass, SHA512) == 0);
	snprintf(line, sizeof(line), "tom:!$6$x$y:19000::::::");
	CHECK(import_shadow(line, &name, &e, &why) == 0 &&
	    e.kind == IMPORT_LOCKED);
	snprintf(line, sizeof(line), "daemon:*:19000::::::");
	CHECK(import_shadow(line, &name, &e, &why) == 0 &&
	    e.kind == IMPORT_LOCKED);
	snprintf(line, sizeof(line), "empty::19000::::::");
	CHECK(import_shadow(line, &name, &e, &why) == 0 &&
	    e.kind == IMPORT_LOCKED);
	snprintf(line, sizeof(line), "nohash");
	CHECK(import_shadow(line, &name, &e, &why) == -1);
}

static void
test_carriable(void)
{
	const char	*why;

	CHECK(passwd_carriable(SHA512, &why) == 1 && why == NULL);
	CHECK(passwd_carriable(YESCRYPT, &why) == 1);
	CHECK(passwd_carriable("$2b$09$abcdefghijklmnopqrstuuABCDEFGHIJ"
	    "KLMNOPQRSTUVWXYZ01234", &why) == 1);
	/* md5-crypt and sha256-crypt carried over (legacy); DES is not. */
	CHECK(passwd_carriable("$1$abc$defghijklmnopqrstuvw", &why) == 1 &&
	    why == NULL);
	CHECK(passwd_carriable("$5$abc$defghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
	    "OPQRSTU", &why) == 1 && why == NULL);
	CHECK(passwd_carriable("$5$rounds=6000$abc$defghijklmnopqrstuvwxyzA"
	    "BCDEFGHIJKLMNOPQRSTU", &why) == 1);
	CHECK(passwd_carriable("$1$abc$", &why) == 0 &&
	    strstr(why, "checksum") != NULL);
	CHECK(passwd_carriable("abJnggxhB/yWI", &why) == 0 &&
	    strstr(why, "legacy") != NULL && strstr(why, "DES") != NULL);
	CHECK(passwd_carriable("$6$saltsaltsalt$", &why) == 0 &&
	    strstr(why, "checksum") != NULL);
	CHECK(passwd_carriable("$6$salt$bad:sum", &why) == 0);
	CHECK(passwd_carriable("{SSHA}abc", &why) == 0);
	CHECK(passwd_carriable("$argon2id$v=19$x", &why) == 0);
}

int
main(void)
{
	test_dovecot_fields();
	test_schemes();
	test_limits();
	test_system();
	test_carriable();
	return check_done();
}

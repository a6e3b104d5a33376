/* The user record: parsing, checking and formatting (auth/user.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pop3d_limits.h"
#include "user.h"

#define YESCRYPT \
	"$y$j9T$abcdefghijklmnop$0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

static char	line[USERS_LINE_MAX * 2];

/* Parses s (copied); returns 0/-1 and leaves the reason in *why. */
static int
parse(const char *s, struct user *u, const char **why)
{
	*why = NULL;
	if (strlen(s) >= sizeof(line))
		return -2;
	strcpy(line, s);
	return user_parse(line, u, why);
}

static int
refused(const char *s, const char *want)
{
	struct user	 u;
	const char	*why;

	if (parse(s, &u, &why) != -1 || errno != EINVAL || why == NULL)
		return 0;
	return want == NULL || strstr(why, want) != NULL;
}

/* A record with one field n octets long (field: 0 name, 4 home, ...). */
static const char *
with_field(int field, size_t n)
{
	static char	buf[USERS_LINE_MAX * 3];
	char		f[USERS_LINE_MAX + 2];
	int		r;

	memset(f, 'a', n);
	f[n] = '\0';
	if (field == 1)
		memcpy(f, "$y$", 3);
	if (field == 4)
		f[0] = '/';
	r = snprintf(buf, sizeof(buf), "%s:%s:1000:1000:%s:%s:%s",
	    field == 0 ? f : "alice", field == 1 ? f : YESCRYPT,
	    field == 4 ? f : "/home/alice", field == 5 ? f : "Maildir",
	    field == 6 ? f : "apopsecret");
	if (r < 0 || (size_t)r >= sizeof(buf))
		return "";
	return buf;
}

static void
test_good(void)
{
	struct user	 u;
	const char	*why;

	CHECK(parse("alice:" YESCRYPT ":1000:100:/home/alice", &u, &why)
	    == 0);
	CHECK_STR(u.name, "alice");
	CHECK_STR(u.hash, YESCRYPT);
	CHECK(u.uid == 1000 && u.gid == 100);
	CHECK_STR(u.home, "/home/alice");
	CHECK(u.maildrop == NULL && u.apop == NULL);

	CHECK(parse("bob@example.org:$6$salt$hash:65534:65534:/var/mail/bob:"
	    "Maildir:s3cr3t", &u, &why) == 0);
	CHECK_STR(u.name, "bob@example.org");
	CHECK_STR(u.maildrop, "Maildir");
	CHECK_STR(u.apop, "s3cr3t");

	/* Empty optional fields are absent, not empty strings. */
	CHECK(parse("c:$2b$05$x:1:1:/h::apop", &u, &why) == 0);
	CHECK(u.maildrop == NULL);
	CHECK_STR(u.apop, "apop");
	CHECK(parse("d:!:1:1:/h:", &u, &why) == 0);
	CHECK(u.maildrop == NULL && user_hash_locked(u.hash));
	CHECK(parse("e:*:4294967294:4294967294:/", &u, &why) == 0);
	CHECK(u.uid == 4294967294U);
}

static void
test_bad_fields(void)
{
	CHECK(refused("", "too few"));
	CHECK(refused("alice:" YESCRYPT ":1000:1000", "too few"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h:m:a:extra", "too many"));
	CHECK(refused(":" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("al ice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("-alice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused(".alice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("al\x01ice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("alice::1:1:/h", "hash"));
	CHECK(refused("alice:plaintext:1:1:/h", "hash"));
	CHECK(refused("alice:$1$md5$x:1:1:/h", "hash"));
	CHECK(refused("alice:$y$ a:1:1:/h", "hash"));
	CHECK(refused("alice:" YESCRYPT ":0:1:/h", "uid 0"));
	CHECK(refused("alice:" YESCRYPT ":1:0:/h", "gid 0"));
	CHECK(refused("alice:" YESCRYPT ":00:1:/h", "uid 0"));
	CHECK(refused("alice:" YESCRYPT ":-1:1:/h", "uid"));
	CHECK(refused("alice:" YESCRYPT ":+1:1:/h", "uid"));
	CHECK(refused("alice:" YESCRYPT ": 1:1:/h", "uid"));
	CHECK(refused("alice:" YESCRYPT "::1:/h", "uid"));
	CHECK(refused("alice:" YESCRYPT ":1:x:/h", "gid"));
	CHECK(refused("alice:" YESCRYPT ":4294967295:1:/h", "uid"));
	CHECK(refused("alice:" YESCRYPT ":1:4294967295:/h", "gid"));
	CHECK(refused("alice:" YESCRYPT ":99999999999999999999:1:/h", "uid"));
	CHECK(refused("alice:" YESCRYPT ":1:1:", "home"));
	CHECK(refused("alice:" YESCRYPT ":1:1:home", "home"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h me", "home"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h:Mail dir", "maildrop"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h:M:sec ret", "APOP"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h:M:sec\tret", "APOP"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h:M:s\xe9", "APOP"));
}

static void
test_limits(void)
{
	struct user	 u;
	const char	*why;

	CHECK(parse(with_field(0, USERS_NAME_MAX), &u, &why) == 0);
	CHECK(strlen(u.name) == USERS_NAME_MAX);
	CHECK(refused(with_field(0, USERS_NAME_MAX + 1), "name"));
	CHECK(parse(with_field(1, USERS_HASH_MAX), &u, &why) == 0);
	CHECK(refused(with_field(1, USERS_HASH_MAX + 1), "hash"));
	CHECK(parse(with_field(4, USERS_PATH_MAX), &u, &why) == 0);
	CHECK(refused(with_field(4, USERS_PATH_MAX + 1), "home"));
	CHECK(parse(with_field(5, USERS_PATH_MAX), &u, &why) == 0);
	CHECK(refused(with_field(5, USERS_PATH_MAX + 1), "maildrop"));
	CHECK(parse(with_field(6, USERS_APOP_MAX), &u, &why) == 0);
	CHECK(refused(with_field(6, USERS_APOP_MAX + 1), "APOP"));
	/* A line longer than any record is refused before it is split. */
	CHECK(refused(with_field(4, USERS_LINE_MAX), "line too long"));
}

static void
test_format(void)
{
	struct user	 u, v;
	char		 buf[USERS_LINE_MAX + 1], small[16];
	const char	*why;

	memset(&u, 0, sizeof(u));
	u.name = "alice";
	u.hash = YESCRYPT;
	u.uid = 1000;
	u.gid = 1001;
	u.home = "/home/alice";
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	CHECK_STR(buf, "alice:" YESCRYPT ":1000:1001:/home/alice");
	u.apop = "sec";
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	CHECK_STR(buf, "alice:" YESCRYPT ":1000:1001:/home/alice::sec");
	u.maildrop = "Maildir";
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	CHECK_STR(buf, "alice:" YESCRYPT ":1000:1001:/home/alice:Maildir:sec");
	/* What format writes, parse reads back the same. */
	strcpy(line, buf);
	CHECK(user_parse(line, &v, &why) == 0);
	CHECK_STR(v.name, u.name);
	CHECK_STR(v.maildrop, u.maildrop);
	CHECK_STR(v.apop, u.apop);
	CHECK(v.uid == u.uid && v.gid == u.gid);

	CHECK(user_format(&u, small, sizeof(small), &why) == -1 &&
	    errno == ERANGE);
	u.uid = 0;
	CHECK(user_format(&u, buf, sizeof(buf), &why) == -1 &&
	    errno == EINVAL && strstr(why, "uid 0") != NULL);
	u.uid = 1;
	u.apop = "with:colon";
	CHECK(user_format(&u, buf, sizeof(buf), &why) == -1 &&
	    errno == EINVAL);
	u.apop = NULL;
	u.name = "bad name";
	CHECK(user_format(&u, buf, sizeof(buf), &why) == -1);
}

static void
test_misc(void)
{
	CHECK(user_line_blank(""));
	CHECK(user_line_blank("   \t"));
	CHECK(user_line_blank("# comment"));
	CHECK(user_line_blank("  # indented comment"));
	CHECK(!user_line_blank("alice:x"));
	CHECK(user_name_valid("a"));
	CHECK(user_name_valid("john+tag@example.org"));
	CHECK(!user_name_valid(""));
	CHECK(!user_name_valid("a:b"));
	CHECK(!user_name_valid("a/b"));
	CHECK(user_hash_locked("!"));
	CHECK(user_hash_locked("!" YESCRYPT));
	CHECK(user_hash_locked("*"));
	CHECK(!user_hash_locked(YESCRYPT));
}

int
main(void)
{
	test_good();
	test_bad_fields();
	test_limits();
	test_format();
	test_misc();
	return check_done();
}

/*
 * The user record: parsing, checking and formatting (auth/user.c); the
 * dummy hash that the compile (auth/usersfile.c) puts in users.cdb.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdbcheck.h"
#include "check.h"
#include "passwd.h"
#include "pop3d_limits.h"
#include "user.h"
#include "userdb.h"
#include "usersfile.h"

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

	/* Legacy methods, carried over from another server (issue 18). */
	CHECK(parse("f:$1$md5$x:1:1:/h", &u, &why) == 0);
	CHECK(user_hash_legacy(u.hash));
	CHECK(parse("g:$5$rounds=6000$salt$x:1:1:/h", &u, &why) == 0);
	CHECK(user_hash_legacy(u.hash));
	CHECK(parse("h:$5$salt$x:1:1:/h", &u, &why) == 0);
	CHECK(user_hash_legacy(u.hash));
	CHECK(!user_hash_legacy(YESCRYPT) && !user_hash_legacy("$6$s$x") &&
	    !user_hash_legacy("$2b$05$x") && !user_hash_legacy("!"));
}

static void
test_bad_fields(void)
{
	CHECK(refused("", "too few"));
	CHECK(refused("alice:" YESCRYPT ":1000:1000", "too few"));
	CHECK(refused("alice:" YESCRYPT ":1:1:/h:m:a:expire=1:x", "too many"));
	CHECK(refused(":" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("al ice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("-alice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused(".alice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("al\x01ice:" YESCRYPT ":1:1:/h", "name"));
	CHECK(refused("alice::1:1:/h", "hash"));
	CHECK(refused("alice:plaintext:1:1:/h", "hash"));
	/* DES, legacy and not carried over: it checks 8 characters. */
	CHECK(refused("alice:abJnggxhB/yWI:1:1:/h", "hash"));
	CHECK(refused("alice:$3$$8846f7eaee8fb117ad06bdd830b7586c:1:1:/h",
	    "hash"));
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

/* The policy field: EXPIRE and LOGIN-DELAY of the user's own. */
static void
test_policy(void)
{
	struct user	 u;
	char		 buf[USERS_LINE_MAX + 1], pol[USERS_POLICY_MAX + 2];
	const char	*why;

	CHECK(parse("a:!:1:1:/h:::", &u, &why) == 0);
	CHECK(u.expire == NULL && u.login_delay == NULL);
	CHECK(parse("a:!:1:1:/h:::login-delay=900,expire=NEVER", &u, &why) ==
	    0);
	CHECK_STR(u.expire, "NEVER");
	CHECK_STR(u.login_delay, "900");
	CHECK(u.maildrop == NULL && u.apop == NULL);
	/* Written back in one order, the empty fields before it kept. */
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	CHECK_STR(buf, "a:!:1:1:/h:::expire=NEVER,login-delay=900");
	CHECK(parse("a:!:1:1:/h:M:s:expire=0", &u, &why) == 0);
	CHECK_STR(u.expire, "0");
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	CHECK_STR(buf, "a:!:1:1:/h:M:s:expire=0");
	/* The bounds, crossed. */
	CHECK(parse("a:!:1:1:/h:::expire=9999,login-delay=86400", &u, &why)
	    == 0);
	CHECK(refused("a:!:1:1:/h:::expire=10000", "bad expire"));
	CHECK(refused("a:!:1:1:/h:::expire=never", "bad expire"));
	CHECK(refused("a:!:1:1:/h:::expire=", "bad expire"));
	CHECK(refused("a:!:1:1:/h:::expire=-1", "bad expire"));
	CHECK(refused("a:!:1:1:/h:::login-delay=86401", "bad login-delay"));
	CHECK(refused("a:!:1:1:/h:::login-delay=1 ", "bad login-delay"));
	CHECK(refused("a:!:1:1:/h:::expire=1,expire=1", "twice"));
	CHECK(refused("a:!:1:1:/h:::expire=1,", "bad policy item"));
	CHECK(refused("a:!:1:1:/h:::,expire=1", "bad policy item"));
	CHECK(refused("a:!:1:1:/h:::expire", "bad policy item"));
	CHECK(refused("a:!:1:1:/h:::EXPIRE=1", "unknown policy key"));
	/* The field's length: at most USERS_POLICY_MAX. */
	memset(pol, '0', sizeof(pol));
	memcpy(pol, "expire=", 7);
	pol[USERS_POLICY_MAX] = '\0';
	snprintf(buf, sizeof(buf), "a:!:1:1:/h:::%s", pol);
	CHECK(parse(buf, &u, &why) == 0);
	pol[USERS_POLICY_MAX] = '0';
	pol[USERS_POLICY_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "a:!:1:1:/h:::%s", pol);
	CHECK(refused(buf, "policy field too long"));
	u.expire = "1";
	u.login_delay = "x";
	CHECK(user_format(&u, buf, sizeof(buf), &why) == -1 &&
	    strstr(why, "login-delay") != NULL);
}

/* uidl-format: POP3D_DOVECOT_UIDL_FORMAT of the user's own (issue 18). */
static void
test_policy_uidl_format(void)
{
	struct user	 u;
	char		 buf[USERS_LINE_MAX + 1], fmt[DOVECOT_FORMAT_MAX + 2];
	const char	*why;

	CHECK(parse("a:!:1:1:/h:::uidl-format=%f", &u, &why) == 0);
	CHECK_STR(u.uidl_format, "%f");
	CHECK(u.expire == NULL && u.login_delay == NULL);
	CHECK(parse("a:!:1:1:/h:::uidl-format=%08Xu%08Xv,expire=NEVER", &u,
	    &why) == 0);
	CHECK_STR(u.uidl_format, "%08Xu%08Xv");
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	CHECK_STR(buf, "a:!:1:1:/h:::expire=NEVER,uidl-format=%08Xu%08Xv");
	/* The settings table's own reason, naming the setting. */
	CHECK(refused("a:!:1:1:/h:::uidl-format=%m", "bad uidl-format: "
	    "POP3D_DOVECOT_UIDL_FORMAT must be a pop3_uidl_format of at most"
	    " 64 characters"));
	CHECK(refused("a:!:1:1:/h:::uidl-format=", "bad uidl-format: "
	    "POP3D_DOVECOT_UIDL_FORMAT must be"));
	CHECK(refused("a:!:1:1:/h:::uidl-format=%f,uidl-format=%f", "twice"));
	/* The record's separators cannot be in it, said as such. */
	CHECK(refused("a:!:1:1:/h:::uidl-format=%u,%v", "bad policy item"));
	CHECK(user_uidl_format_check("%u,%v", &why) == -1 &&
	    strstr(why, "cannot hold ',' or ':'") != NULL);
	CHECK(user_uidl_format_check("%u:%v", &why) == -1 &&
	    strstr(why, "cannot hold ',' or ':'") != NULL);
	CHECK(user_uidl_format_check("%u-%v", &why) == 0);
	/* Its length: DOVECOT_FORMAT_MAX, crossed. */
	memset(fmt, 'x', sizeof(fmt));
	memcpy(fmt + DOVECOT_FORMAT_MAX - 2, "%f", 3);	/* one per message */
	snprintf(buf, sizeof(buf), "a:!:1:1:/h:::expire=NEVER,"
	    "login-delay=86400,uidl-format=%s", fmt);
	CHECK(parse(buf, &u, &why) == 0 && strlen(u.uidl_format) ==
	    DOVECOT_FORMAT_MAX);
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
	memcpy(fmt + DOVECOT_FORMAT_MAX - 2, "x%f", 4);
	snprintf(buf, sizeof(buf), "a:!:1:1:/h:::uidl-format=%s", fmt);
	CHECK(refused(buf, "bad uidl-format"));
}

/* Every field at its longest makes a line of USERS_LINE_MAX. */
static void
test_longest(void)
{
	static char	 buf[USERS_LINE_MAX + 2];
	char		 name[USERS_NAME_MAX + 1], hash[USERS_HASH_MAX + 1];
	char		 path[USERS_PATH_MAX + 1], apop[USERS_APOP_MAX + 1];
	char		 pol[USERS_POLICY_MAX + 1];
	struct user	 u;
	const char	*why;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(hash, 'h', sizeof(hash) - 1);
	memcpy(hash, "$y$", 3);
	hash[sizeof(hash) - 1] = '\0';
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	memset(apop, 'a', sizeof(apop) - 1);
	apop[sizeof(apop) - 1] = '\0';
	memset(pol, '0', sizeof(pol) - 1);
	memcpy(pol, "login-delay=", 12);
	pol[sizeof(pol) - 1] = '\0';
	snprintf(buf, sizeof(buf), "%s:%s:4294967294:4294967294:%s:%s:%s:%s",
	    name, hash, path, path, apop, pol);
	CHECK(strlen(buf) == USERS_LINE_MAX);
	CHECK(parse(buf, &u, &why) == 0);
	CHECK(user_format(&u, buf, sizeof(buf), &why) == 0);
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

static void
test_hash_setting(void)
{
	CHECK(user_hash_setting(YESCRYPT) == 7);
	CHECK(user_hash_setting("$6$rounds=80000$salt$hash") == 16);
	CHECK(user_hash_setting("$6$salt$hash") == 3);
	CHECK(user_hash_setting("$2b$09$abcdefghijklmnopqrstuvhash") == 7);
	CHECK(user_hash_setting("$2y$05$x") == 7);
	CHECK(user_hash_setting("$2a$10$x") == 7);
	CHECK(user_hash_setting("$2b$9$x") == 0);
	CHECK(user_hash_setting("$y$$salt") == 0);
	CHECK(user_hash_setting("$y$j9T") == 0);
	CHECK(user_hash_setting("!") == 0);
	CHECK(user_hash_setting("!" YESCRYPT) == 0);
	CHECK(user_hash_setting("*") == 0);
	CHECK(user_hash_setting("$1$md5$x") == 3);
	CHECK(user_hash_setting("$5$salt$x") == 3);
	CHECK(user_hash_setting("$5$rounds=6000$salt$x") == 15);
	CHECK(user_hash_setting("abJnggxhB/yWI") == 0);
}

static char	dir[] = "/tmp/t_users.XXXXXX";

/*
 * Compiles the records (one hash each, n of them, for users u0, u1, ...)
 * as usersfile_compile does, opens the result and copies its dummy into
 * out.  Returns 0, or -1.
 */
static int
compiled_dummy(const char *const *hashes, char *out, size_t n)
{
	char		 src[64], db[64];
	struct userdb	 udb;
	FILE		*f;
	int		 fd, r, i;

	snprintf(src, sizeof(src), "%s/users", dir);
	snprintf(db, sizeof(db), "%s/users.cdb", dir);
	if ((f = fopen(src, "w")) == NULL)
		return -1;
	fprintf(f, "# a comment\n");
	for (i = 0; hashes[i] != NULL; i++)
		fprintf(f, "u%d:%s:1000:1000:/home/u%d\n", i, hashes[i], i);
	if (fclose(f) != 0)
		return -1;
	if ((fd = open(db, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	r = usersfile_compile(src, fd);
	close(fd);
	if (r == -1 || userdb_open(&udb, db) == -1)
		return -1;
	r = snprintf(out, n, "%s", udb.dummy) >= (int)n ? -1 : 0;
	userdb_close(&udb);
	return r;
}

/* 1 when the compile's dummy has the setting want, and is a real hash. */
static int
dummy_is(const char *const *hashes, const char *want)
{
	char	d[USERS_HASH_MAX + 1];
	size_t	len = strlen(want);

	if (compiled_dummy(hashes, d, sizeof(d)) == -1)
		return 0;
	printf("# dummy %s\n", d);
	return user_hash_setting(d) == len && strncmp(d, want, len) == 0 &&
	    strlen(d) > len + 16 && passwd_check("x", d, NULL) == 0;
}

#define Y	"$y$j9T$abcdefghijklmnopqrstuv$0123456789abcdefghijklmnopqrstuvwxyzABCDE"
#define Y8	"$y$j8T$abcdefghijklmnopqrstuv$0123456789abcdefghijklmnopqrstuvwxyzABCDE"
#define S6	"$6$rounds=6000$abcdefghijklmnop$hash"
#define S80	"$6$rounds=80000$abcdefghijklmnop$hash"
#define S	"$6$abcdefghijklmnop$hash"
#define B9	"$2b$09$abcdefghijklmnopqrstuuhashhashhashhashhashhashhash"
#define M1	"$1$abcdefgh$hash"
#define S5	"$5$rounds=6000$abcdefghijklmnop$hash"
#define S5D	"$5$abcdefghijklmnop$hash"
#define B5Y	"$2y$05$abcdefghijklmnopqrstuuhashhashhashhashhashhashhash"

static void
test_dummy(void)
{
	static const char *const yes[] = { Y, S6, Y, "!", NULL };
	static const char *const sha[] = { S6, Y, S6, "!", "*", Y8, S6,
	    NULL };
	static const char *const sha80[] = { S80, S80, Y, NULL };
	static const char *const sha5000[] = { S, NULL };
	static const char *const bcrypt[] = { B9, B9, S6, "!", "!", "!",
	    NULL };
	static const char *const bcrypt2y[] = { B5Y, NULL };
	static const char *const tie[] = { S6, B9, Y, NULL };
	static const char *const tie2[] = { Y, B9, S6, NULL };
	static const char *const yescost[] = { Y8, Y8, Y, NULL };
	static const char *const locked[] = { "!", "*", "!", NULL };
	static const char *const none[] = { NULL };
	static const char *const md5[] = { M1, M1, Y, NULL };
	static const char *const md5sha[] = { M1, M1, M1, S6, NULL };
	static const char *const sha256[] = { S5, S5, Y, NULL };
	static const char *const sha256d[] = { S5D, NULL };
	char	d1[USERS_HASH_MAX + 1], d2[USERS_HASH_MAX + 1];

	if (mkdtemp(dir) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	/* The setting most records have, cost included; locked ones aside. */
	CHECK(dummy_is(yes, "$y$j9T$"));
	CHECK(dummy_is(sha, "$6$rounds=6000$"));
	CHECK(dummy_is(sha80, "$6$rounds=80000$"));
	CHECK(dummy_is(sha5000, "$6$"));
	CHECK(dummy_is(bcrypt, "$2b$09$"));
	CHECK(dummy_is(bcrypt2y, "$2y$05$"));
	CHECK(dummy_is(yescost, "$y$j8T$"));
	/* A tie: the first in strcmp order, whatever the file's order. */
	CHECK(dummy_is(tie, "$2b$09$"));
	CHECK(dummy_is(tie2, "$2b$09$"));
	/* No password at all: the default method at its default cost. */
	CHECK(dummy_is(locked, "$y$j9T$"));
	CHECK(dummy_is(none, "$y$j9T$"));
	/*
	 * Legacy methods are never the dummy's, however many: the most
	 * common other method is, else yescrypt's default.
	 */
	CHECK(dummy_is(md5, "$y$j9T$"));
	CHECK(dummy_is(md5sha, "$6$rounds=6000$"));
	CHECK(dummy_is(sha256, "$y$j9T$"));
	CHECK(dummy_is(sha256d, "$y$j9T$"));
	/* A fresh salt every compile. */
	CHECK(compiled_dummy(sha, d1, sizeof(d1)) == 0 &&
	    compiled_dummy(sha, d2, sizeof(d2)) == 0 && strcmp(d1, d2) != 0);
}

/*
 * A database with a marker of version mark and the given dummy (NULL:
 * none), with checks unless raw (version 1 had none): userdb_open's
 * result, its reason in why.
 */
static int
open_hand(const char *mark, const char *dummy, int raw,
    const char **why)
{
	struct cdb_make	 cm;
	struct userdb	 udb;
	char		 db[64];
	int		 fd, r;

	snprintf(db, sizeof(db), "%s/hand.cdb", dir);
	if ((fd = open(db, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		return -2;
	cdb_make_start(&cm, fd);
	if (raw)
		cdb_make_add(&cm, USERDB_MARK_KEY, USERDB_MARK_KEYLEN, mark,
		    strlen(mark));
	else
		cdbcheck_put(&cm, USERDB_MARK_KEY, USERDB_MARK_KEYLEN, mark,
		    strlen(mark), CDB_PUT_ADD);
	if (dummy != NULL && raw)
		cdb_make_add(&cm, USERDB_DUMMY_KEY, USERDB_DUMMY_KEYLEN,
		    dummy, strlen(dummy));
	else if (dummy != NULL)
		cdbcheck_put(&cm, USERDB_DUMMY_KEY, USERDB_DUMMY_KEYLEN,
		    dummy, strlen(dummy), CDB_PUT_ADD);
	cdb_make_finish(&cm);
	close(fd);
	udb.why = NULL;
	if ((r = userdb_open(&udb, db)) == 0)
		userdb_close(&udb);
	*why = udb.why != NULL ? udb.why : "";
	return r;
}

static int
open_with_dummy(const char *dummy)
{
	const char	*why;

	return open_hand(USERDB_MARK_VALUE, dummy, 0, &why);
}

static void
test_dummy_read(void)
{
	const char	*why;

	/* Version 1 (no checks, maybe no dummy): refused, with the fix. */
	CHECK(open_hand("1", NULL, 1, &why) == -1 && errno == EINVAL &&
	    strstr(why, "older version") != NULL &&
	    strstr(why, "pop3d-users compile") != NULL);
	CHECK(open_hand("1", S6, 1, &why) == -1 && errno == EINVAL &&
	    strstr(why, "older version") != NULL);
	/* Version 2 without its checks is damaged; another marker not ours. */
	CHECK(open_hand("2", S6, 1, &why) == -1 && errno == EINVAL &&
	    strstr(why, "damaged") != NULL);
	CHECK(open_hand("3", S6, 0, &why) == -1 && errno == EINVAL &&
	    strstr(why, "not a pop3d users database") != NULL);
	/* Every database of this version has a dummy. */
	CHECK(open_with_dummy(NULL) == -1 && errno == EINVAL);
	CHECK(open_with_dummy(S6) == 0);
	/* A dummy that could never cost a check is a damaged database. */
	CHECK(open_with_dummy("!") == -1 && errno == EINVAL);
	CHECK(open_with_dummy("") == -1 && errno == EINVAL);
	CHECK(open_with_dummy("abJnggxhB/yWI") == -1 && errno == EINVAL);
	CHECK(open_with_dummy("$1$abcdefgh$hash") == 0);
	CHECK(open_with_dummy("$y$") == -1 && errno == EINVAL);
}

static void
cleanup(void)
{
	char	path[64];

	if (dir[sizeof(dir) - 2] == 'X')
		return;
	snprintf(path, sizeof(path), "%s/users", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/users.cdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/hand.cdb", dir);
	unlink(path);
	rmdir(dir);
}

/* pop3d-check names a hash's method by its prefix, as passwd.c's table. */
static void
test_method(void)
{
	char	h[USERS_HASH_MAX + 1];

	CHECK(passwd_hash(NULL, "pw", h, sizeof(h)) == 0);
	CHECK(strcmp(passwd_method(h), "yescrypt") == 0);
	CHECK(passwd_hash(passwd_prefix("sha512"), "pw", h, sizeof(h)) == 0);
	CHECK(strcmp(passwd_method(h), "sha512") == 0);
	CHECK(strcmp(passwd_method("$2b$09$abc"), "bcrypt") == 0);
	CHECK(passwd_method("$1$abc$def") == NULL);
	CHECK(passwd_method("!") == NULL);
	CHECK(passwd_method("") == NULL);
}

/* One verdict and one reason for pop3d-auth and pop3d-passwd alike. */
static void
test_verify(void)
{
	char		 h[USERS_HASH_MAX + 1], locked[USERS_HASH_MAX + 2];
	const char	*why;

	CHECK(passwd_hash(passwd_prefix("sha512"), "pw", h, sizeof(h)) == 0);
	CHECK(passwd_verify("pw", h, NULL, &why) == 1 && why == NULL);
	CHECK(passwd_verify("px", h, NULL, &why) == 0 &&
	    strcmp(why, "bad password") == 0);
	snprintf(locked, sizeof(locked), "!%s", h);
	CHECK(passwd_verify("pw", locked, h, &why) == 0 &&
	    strcmp(why, "account locked") == 0);
	CHECK(passwd_verify("pw", NULL, h, &why) == 0 &&
	    strcmp(why, "unknown user") == 0);
	CHECK(passwd_verify("pw", "$9$abc", h, &why) == -1 &&
	    strcmp(why, "password hash unusable") == 0);
}

int
main(void)
{
	test_method();
	test_verify();
	test_good();
	test_bad_fields();
	test_limits();
	test_format();
	test_policy();
	test_policy_uidl_format();
	test_longest();
	test_misc();
	test_hash_setting();
	test_dummy();
	test_dummy_read();
	cleanup();
	return check_done();
}

/*
 * IP rules: addresses (policy/addr.c), the rules file's parser and
 * compiler (policy/rules.c) and rules.cdb (policy/rulesdb.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cdb.h>

#include "cdbcheck.h"
#include "check.h"
#include "rules.h"
#include "pop3d_limits.h"
#include "settings.h"

static struct rule_src	src;
static char		dir[64];
static char		file[128], db[128];

/* ---- helpers ---- */

/* The blocks a line covers, as "a/len a/len", or "ERR: why", or "BLANK". */
static const char *
blocks(const char *line)
{
	static char	out[2048];
	char		err[256], text[ADDR_TEXT_MAX];
	size_t		i, o = 0;
	int		r;

	r = rule_parse(line, 1, &src, err, sizeof(err));
	if (r == -1) {
		snprintf(out, sizeof(out), "ERR: %s", err);
		return out;
	}
	if (r == 0)
		return "BLANK";
	out[0] = '\0';
	for (i = 0; i < src.nblocks; i++) {
		addr_format(&src.block[i].prefix, text, sizeof(text));
		o += snprintf(out + o, sizeof(out) - o, "%s%s/%d",
		    i > 0 ? " " : "", text, src.block[i].len);
	}
	return out;
}

/* The error rule_parse gives for a line, or "" when it gives none. */
static const char *
parse_err(const char *line)
{
	static char	err[256];

	if (rule_parse(line, 1, &src, err, sizeof(err)) != -1)
		return "";
	return err;
}

static int
has(const char *s, const char *want)
{
	int	ok = strstr(s, want) != NULL;

	if (!ok)
		printf("# \"%s\" lacks \"%s\"\n", s, want);
	return ok;
}

static void
put_file(const char *path, const char *text, size_t len)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
put_text(const char *path, const char *text)
{
	put_file(path, text, strlen(text));
}

/* Compiles text into db: 0 and *count, or -1 with err. */
static int
compile_text(const char *text, unsigned long *count, char *err, size_t n)
{
	put_text(file, text);
	return rules_compile(file, db, count, err, n);
}

/* The error "file:line: what" expected for a file holding text. */
static int
compile_fails(const char *text, const char *want)
{
	char		err[512], full[600];
	unsigned long	n;

	if (compile_text(text, &n, err, sizeof(err)) != -1 || errno != EINVAL)
		return 0;
	snprintf(full, sizeof(full), "%s:%s", file, want);
	if (strcmp(err, full) != 0) {
		printf("# got \"%s\"\n# not \"%s\"\n", err, full);
		return 0;
	}
	return 1;
}

/*
 * Looks addr up in db: "ACTION PATTERN line N [settings...]", "none",
 * "open -2", "lookup -2"...; *probes gets the cdb_find calls.
 */
static const char *
look(const char *addr, unsigned *probes)
{
	static char	out[512];
	struct rulesdb	d;
	struct rule	r;
	struct addr	a;
	size_t		i, o;
	int		x;

	if ((x = rulesdb_open(&d, db)) != 0) {
		snprintf(out, sizeof(out), "open %d", x);
		return out;
	}
	if (addr != NULL && addr_parse(addr, &a) == -1) {
		rulesdb_close(&d);
		return "bad address";
	}
	x = rulesdb_lookup(&d, addr != NULL ? &a : NULL, &r);
	if (probes != NULL)
		*probes = d.probes;
	rulesdb_close(&d);
	if (x != 1) {
		snprintf(out, sizeof(out), x == 0 ? "none" : "lookup %d", x);
		return out;
	}
	o = snprintf(out, sizeof(out), "%s %s line %lu",
	    r.action == RULE_ALLOW ? "allow" : "deny", r.pattern, r.line);
	for (i = 0; i < r.nsettings; i++)
		o += snprintf(out + o, sizeof(out) - o, " [%s]",
		    r.settings[i]);
	return out;
}

/*
 * A cdb of n key/value pairs, made by hand: the database's damage.  Each
 * value gets its check (cdbcheck.h) unless raw is set, as version 2 had.
 */
static int	raw;

static void
put_cdb(const char *path, size_t n, const void *const *kv,
    const unsigned *len)
{
	struct cdb_make	cm;
	size_t		i;
	int		fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    cdb_make_start(&cm, fd) != 0) {
		perror(path);
		exit(1);
	}
	for (i = 0; i < n; i++)
		if ((raw ? cdb_make_add(&cm, kv[2 * i], len[2 * i],
		    kv[2 * i + 1], len[2 * i + 1]) : cdbcheck_put(&cm,
		    kv[2 * i], len[2 * i], kv[2 * i + 1], len[2 * i + 1],
		    CDB_PUT_ADD)) != 0) {
			perror(path);
			exit(1);
		}
	if (cdb_make_finish(&cm) != 0 || close(fd) != 0) {
		perror(path);
		exit(1);
	}
}

/*
 * A valid header with the given IPv4 lengths flagged (-1 ends) for a file
 * of that many rule records.
 */
static unsigned char *
head(const int *len4, unsigned long records)
{
	static unsigned char	h[RULESDB_HEAD_LEN];
	unsigned char		l4[33], l6[129];

	memset(l4, 0, sizeof(l4));
	memset(l6, 0, sizeof(l6));
	for (; *len4 != -1; len4++)
		l4[*len4] = 1;
	rulesdb_head_make(h, l4, l6, records);
	return h;
}

/* A database of the header and one record under 1.2.3.4/32. */
#define PUT_ONE(lit)	put_one(lit, sizeof(lit) - 1)
static void
put_one(const void *rec, unsigned reclen)
{
	static const int	lens[] = { 32, -1 };
	static const unsigned char key[] = { 4, 32, 1, 2, 3, 4 };
	const void		*kv[4];
	unsigned		 len[4];

	kv[0] = RULESDB_HEAD_KEY;
	len[0] = RULESDB_HEAD_KEYLEN;
	kv[1] = head(lens, 1);
	len[1] = RULESDB_HEAD_LEN;
	kv[2] = key;
	len[2] = sizeof(key);
	kv[3] = rec;
	len[3] = reclen;
	put_cdb(db, 2, kv, len);
}

static int
file_bytes(const char *path, char *buf, size_t n, size_t *got)
{
	FILE	*f = fopen(path, "r");

	if (f == NULL)
		return -1;
	*got = fread(buf, 1, n, f);
	fclose(f);
	return 0;
}

/* Entries of dir other than "." and "..": temporary files left behind. */
static int
dir_entries(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* ---- addresses ---- */

static void
test_addr(void)
{
	struct addr	a;
	char		text[ADDR_TEXT_MAX];

	CHECK(addr_parse("192.0.2.1", &a) == 0 && a.family == 4 &&
	    a.octet[0] == 192 && a.octet[3] == 1 && addr_bits(&a) == 32);
	CHECK(addr_parse("2001:db8::1", &a) == 0 && a.family == 6 &&
	    a.octet[0] == 0x20 && a.octet[15] == 1 && addr_bits(&a) == 128);
	/* A mapped peer is the IPv4 address it carries. */
	CHECK(addr_parse("::ffff:10.1.2.3", &a) == 0 && a.family == 4 &&
	    a.octet[0] == 10 && a.octet[3] == 3 && a.octet[12] == 0);
	addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "10.1.2.3");
	CHECK(addr_parse("::ffff:a01:203", &a) == 0 && a.family == 4);
	/* ::1.2.3.4 (deprecated IPv4-compatible) is not mapped. */
	CHECK(addr_parse("::1.2.3.4", &a) == 0 && a.family == 6);
	CHECK(addr_parse("2001:DB8:0:0::1", &a) == 0);
	addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "2001:db8::1");
	CHECK(addr_parse("1.2.3", &a) == -1);
	CHECK(addr_parse("", &a) == -1);
	CHECK(addr_parse("1.2.3.4/32", &a) == -1);
	CHECK(addr_parse("[::1]", &a) == -1);
	CHECK(addr_parse("fe80::1%lo", &a) == -1);
	CHECK(addr_parse(NULL, &a) == -1);

	addr_parse("255.255.255.255", &a);
	addr_mask(&a, 20);
	addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "255.255.240.0");
	addr_mask(&a, 0);
	addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "0.0.0.0");
	addr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &a);
	addr_mask(&a, 65);
	addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "ffff:ffff:ffff:ffff:8000::");
	addr_mask(&a, 128);
	addr_format(&a, text, sizeof(text));
	CHECK_STR(text, "ffff:ffff:ffff:ffff:8000::");
}

/* ---- patterns ---- */

static void
test_ipv4(void)
{
	CHECK_STR(blocks("1.2.3.4:allow"), "1.2.3.4/32");
	CHECK_STR(blocks("1.2.3.4/32:allow"), "1.2.3.4/32");
	CHECK_STR(blocks("0.0.0.0/0:deny"), "0.0.0.0/0");
	CHECK_STR(blocks("255.255.255.255:deny"), "255.255.255.255/32");
	CHECK_STR(blocks(":deny"), "0.0.0.0/0 ::/0");
	/* tcprules prefixes end with a dot. */
	CHECK_STR(blocks("10.:deny"), "10.0.0.0/8");
	CHECK_STR(blocks("10.1.:deny"), "10.1.0.0/16");
	CHECK_STR(blocks("1.2.3.:deny"), "1.2.3.0/24");
	/* Wildcards: trailing stars only. */
	CHECK_STR(blocks("192.168.0.*:deny"), "192.168.0.0/24");
	CHECK_STR(blocks("202.*:deny"), "202.0.0.0/8");
	CHECK_STR(blocks("10.*.*.*:deny"), "10.0.0.0/8");
	CHECK_STR(blocks("*:deny"), "0.0.0.0/0");
	CHECK_STR(blocks("*.*.*.*:deny"), "0.0.0.0/0");
	/* CIDR and netmasks. */
	CHECK_STR(blocks("192.168.0.0/16:allow"), "192.168.0.0/16");
	CHECK_STR(blocks("10.1.2.128/25:allow"), "10.1.2.128/25");
	CHECK_STR(blocks("156.21.50.0/255.255.255.0:allow"),
	    "156.21.50.0/24");
	CHECK_STR(blocks("156.21.50.0/255.255.254.0:allow"),
	    "156.21.50.0/23");
	CHECK_STR(blocks("0.0.0.0/0.0.0.0:allow"), "0.0.0.0/0");
	CHECK_STR(blocks("1.2.3.4/255.255.255.255:allow"), "1.2.3.4/32");
}

static void
test_ranges(void)
{
	struct addr	a;
	int		lo, hi, bad = 0, most = 0, v, covered[256];
	size_t		i, j;
	char		line[64];

	CHECK_STR(blocks("1.2.3.4-7:allow"), "1.2.3.4/30");
	CHECK_STR(blocks("1.2.3.5-5:allow"), "1.2.3.5/32");
	CHECK_STR(blocks("1.2.3.0-255:allow"), "1.2.3.0/24");
	CHECK_STR(blocks("1.2.3.1-254:allow"),
	    "1.2.3.1/32 1.2.3.2/31 1.2.3.4/30 1.2.3.8/29 1.2.3.16/28 "
	    "1.2.3.32/27 1.2.3.64/26 1.2.3.128/26 1.2.3.192/27 1.2.3.224/28 "
	    "1.2.3.240/29 1.2.3.248/30 1.2.3.252/31 1.2.3.254/32");
	CHECK(src.nblocks == 14);
	CHECK_STR(blocks("1.2.3.37-53:deny"),
	    "1.2.3.37/32 1.2.3.38/31 1.2.3.40/29 1.2.3.48/30 1.2.3.52/31");
	/* A range in a prefix: the same addresses, in the fewest blocks. */
	CHECK_STR(blocks("10.2-3.:allow"), "10.2.0.0/15");
	CHECK_STR(blocks("10.3-4.:allow"), "10.3.0.0/16 10.4.0.0/16");
	CHECK_STR(blocks("10.0-255.:allow"), "10.0.0.0/8");
	CHECK_STR(blocks("7-9.:allow"), "7.0.0.0/8 8.0.0.0/7");
	CHECK_STR(blocks("10.1.2-3.*:allow"), "10.1.2.0/23");

	/* Every range of the last octet: exactly its addresses, <= 14. */
	for (lo = 0; lo < 256; lo++) {
		for (hi = lo; hi < 256; hi++) {
			snprintf(line, sizeof(line), "9.9.9.%d-%d:deny", lo, hi);
			if (strchr(blocks(line), 'E') != NULL) {
				bad++;
				continue;
			}
			memset(covered, 0, sizeof(covered));
			for (i = 0; i < src.nblocks; i++) {
				a = src.block[i].prefix;
				for (v = 0; v < 256; v++) {
					a.octet[3] = v;
					addr_mask(&a, src.block[i].len);
					if (memcmp(a.octet,
					    src.block[i].prefix.octet, 4) == 0)
						covered[v]++;
				}
			}
			for (v = 0; v < 256; v++)
				if (covered[v] != (v >= lo && v <= hi))
					bad++;
			for (i = 0; i < src.nblocks; i++)
				for (j = 0; j < i; j++)
					if (src.block[i].len == src.block[j].len &&
					    memcmp(&src.block[i].prefix,
					    &src.block[j].prefix,
					    sizeof(a)) == 0)
						bad++;
			if ((int)src.nblocks > most)
				most = src.nblocks;
		}
	}
	CHECK(bad == 0);
	CHECK(most == 14);
}

static void
test_ipv6(void)
{
	CHECK_STR(blocks("::1:allow"), "::1/128");
	CHECK_STR(blocks(":::allow"), "::/128");
	CHECK_STR(blocks("::/0:deny"), "::/0");
	CHECK_STR(blocks("2001:db8::/32:deny"), "2001:db8::/32");
	CHECK_STR(blocks("2001:db8::1/128:deny"), "2001:db8::1/128");
	CHECK_STR(blocks("2001:DB8:A::/48:deny"), "2001:db8:a::/48");
	CHECK_STR(blocks("[2001:db8::1]:allow"), "2001:db8::1/128");
	CHECK_STR(blocks("[2001:db8::]/32:allow"), "2001:db8::/32");
	CHECK_STR(blocks("[::]/0:allow"), "::/0");
	CHECK_STR(blocks("2001:db8::/ffff:ffff:::deny"), "2001:db8::/32");
	/* The pattern ends at the first :allow/:deny before ',' or the end. */
	CHECK_STR(blocks("fe80::/10:deny,X=:allow"), "fe80::/10");
	CHECK(src.rule.action == RULE_DENY);
	CHECK_STR(src.rule.settings[0], "X=:allow");
	/* Mapped patterns are the IPv4 blocks they denote. */
	CHECK_STR(blocks("::ffff:1.2.3.4:allow"), "1.2.3.4/32");
	CHECK_STR(blocks("[::ffff:1.2.3.4]:allow"), "1.2.3.4/32");
	CHECK_STR(blocks("::ffff:10.0.0.0/104:allow"), "10.0.0.0/8");
	CHECK_STR(blocks("::ffff:0:0/96:allow"), "0.0.0.0/0");
	CHECK_STR(blocks("[::ffff:192.168.0.0]/112:allow"), "192.168.0.0/16");
	CHECK_STR(blocks("::/96:allow"), "::/96");
	CHECK_STR(src.rule.pattern, "::/96");
}

static void
test_pattern_errors(void)
{
	CHECK_STR(parse_err("1.*.3.4:allow"), "'*' in '1.*.3.4' before an "
	    "octet (wildcards stand only for trailing octets)");
	CHECK_STR(parse_err("10.1.2.3/8:deny"), "host bits set in "
	    "'10.1.2.3/8': did you mean 10.0.0.0/8?");
	CHECK_STR(parse_err("2001:db8::1/32:deny"), "host bits set in "
	    "'2001:db8::1/32': did you mean 2001:db8::/32?");
	CHECK_STR(parse_err("1.0.0.0/255.0.255.0:allow"),
	    "netmask 255.0.255.0 is not contiguous (ones, then zeros)");
	CHECK_STR(parse_err("1.0.0.0/0.255.255.255:allow"),
	    "netmask 0.255.255.255 is not contiguous (ones, then zeros)");
	CHECK(has(parse_err("1.0.0.0/255.0.0:allow"), "bad netmask"));
	CHECK(has(parse_err("=mail.example.org:allow"), "host name and user@ "
	    "patterns are not supported"));
	CHECK(has(parse_err("joe@1.2.3.4:allow"), "host name and user@ "
	    "patterns are not supported"));
	CHECK(has(parse_err("=:deny"), "host name and user@"));
	CHECK_STR(parse_err("1.2.3.7-4:allow"), "bad range 7-4 in "
	    "'1.2.3.7-4' (the low end is above the high end)");
	CHECK(has(parse_err("1.2.3.4-256:allow"), "bad octet '4-256'"));
	CHECK(has(parse_err("1.2-3.4.5:allow"), "range in '1.2-3.4.5' "
	    "before the last octet"));
	CHECK(has(parse_err("1.2.3:allow"), "incomplete address '1.2.3'"));
	CHECK(has(parse_err("1.2.3.4.:allow"), "ends with a dot after four"));
	CHECK(has(parse_err("1.2.3.4.5:allow"), "more than four octets"));
	CHECK(has(parse_err("01.2.3.4:allow"), "bad octet '01'"));
	CHECK(has(parse_err("256.0.0.0/8:allow"), "bad address '256.0.0.0'"));
	CHECK(has(parse_err("1..2.3:allow"), "bad octet ''"));
	CHECK(has(parse_err("1.*.:allow"), "both a wildcard and a trailing"));
	CHECK(has(parse_err("1.2*:allow"), "bad octet '2*'"));
	CHECK(has(parse_err("10.0.0.0/33:allow"), "bad prefix length '/33' "
	    "(0 to 32)"));
	CHECK(has(parse_err("10.0.0.0/08:allow"), "bad prefix length"));
	CHECK(has(parse_err("10.0.0.0/:allow"), "bad prefix length"));
	CHECK(has(parse_err("10.0.0/8:allow"), "CIDR needs all four"));
	CHECK(has(parse_err("::/129:allow"), "bad prefix length '/129' "
	    "(0 to 128)"));
	CHECK(has(parse_err("2001:db8:*:allow"), "no wildcards or ranges in "
	    "IPv6"));
	CHECK(has(parse_err("2001:db8::1-5:allow"), "no wildcards or ranges"));
	CHECK_STR(parse_err("2001:db8:allow"), "bad IPv6 address '2001:db8'");
	CHECK(has(parse_err("2001:db8::/ffff::ffff:allow"), "not contiguous"));
	CHECK(has(parse_err("2001:db8::/255.0.0.0:allow"), "bad prefix"));
	CHECK(has(parse_err("2001:db8:1:allow"), "bad IPv6 address "
	    "'2001:db8:1'"));
	CHECK(has(parse_err("[2001:db8::1:allow"), "no ']'"));
	CHECK(has(parse_err("[1.2.3.4]:allow"), "brackets hold IPv6"));
	CHECK(has(parse_err("[::1]1:allow"), "after ']'"));
	CHECK(has(parse_err("::ffff:1.2.3.4/80:deny"), "host bits set"));
	CHECK(has(parse_err("fe80::1%eth0:allow"), "bad pattern"));
	CHECK(has(parse_err("mail.example.org:allow"), "bad pattern"));
	CHECK(has(parse_err(" 1.2.3.4:allow"), "space in the pattern"));
}

static void
test_syntax(void)
{
	CHECK_STR(blocks(""), "BLANK");
	CHECK_STR(blocks(" \t "), "BLANK");
	CHECK_STR(blocks("# 1.2.3.4:deny"), "BLANK");
	CHECK_STR(blocks("  #x"), "BLANK");
	CHECK_STR(blocks("\r"), "BLANK");
	/* A DOS line end and trailing blanks go (as in tcprules). */
	CHECK_STR(blocks("1.2.3.4:deny\r"), "1.2.3.4/32");
	CHECK(src.rule.action == RULE_DENY && src.rule.nsettings == 0);
	CHECK_STR(blocks("1.2.3.4:deny \t "), "1.2.3.4/32");
	CHECK(src.rule.action == RULE_DENY && src.rule.nsettings == 0);
	CHECK_STR(blocks("1.2.3.4:allow,X=a b  \r"), "1.2.3.4/32");
	CHECK(src.rule.nsettings == 1 && strcmp(src.rule.settings[0],
	    "X=a b") == 0);
	CHECK_STR(parse_err("1.2.3.4:deny x"), "space after the action (a "
	    "rule has no spaces)");
	CHECK_STR(parse_err("1.2.3.4:deny\r\r"), "line end inside the line");
	CHECK_STR(parse_err("1.2.3.4:deny\n"), "line end inside the line");
	CHECK_STR(parse_err("1.2.3.4:denyx"), "'x' after the action (settings "
	    "follow a comma)");
	CHECK_STR(parse_err("1.2.3.4:permit"), "unknown action 'permit' "
	    "(allow or deny)");
	CHECK_STR(parse_err("1.2.3.4:Allow"), "unknown action 'Allow' "
	    "(allow or deny)");
	CHECK_STR(parse_err("1.2.3.4:"), "no action after ':' (allow or "
	    "deny)");
	CHECK_STR(parse_err("1.2.3.4"), "no ':' (a rule is pattern:allow or "
	    "pattern:deny)");
	CHECK_STR(parse_err("1.2.3.4 :deny"), "space in the pattern (a rule "
	    "has no spaces)");
	CHECK(has(parse_err("1.2.3.4:allow\x1b[2J"), "'\\x1b[2J' after the "
	    "action"));
	CHECK(blocks("1.2.3.4:allow") != NULL && src.rule.action ==
	    RULE_ALLOW && src.rule.line == 1);
	CHECK(rule_parse("10.:deny", 42, &src, NULL, 0) == 1 &&
	    src.rule.line == 42 && strcmp(src.rule.pattern, "10.") == 0);
	CHECK(rule_parse("10.:dunno", 42, &src, NULL, 0) == -1);
}

static void
test_settings(void)
{
	CHECK_STR(blocks("10.:allow,POP3D_GREETING=Hello there,"
	    "POP3D_CLEARTEXT=1,Q=\"a,b\",S='x\"y',E=,U=a\"b,_x9=z"),
	    "10.0.0.0/8");
	CHECK(src.rule.nsettings == 7);
	CHECK_STR(src.rule.settings[0], "POP3D_GREETING=Hello there");
	CHECK_STR(src.rule.settings[1], "POP3D_CLEARTEXT=1");
	CHECK_STR(src.rule.settings[2], "Q=a,b");
	CHECK_STR(src.rule.settings[3], "S=x\"y");
	CHECK_STR(src.rule.settings[4], "E=");
	CHECK_STR(src.rule.settings[5], "U=a\"b");
	CHECK_STR(src.rule.settings[6], "_x9=z");
	CHECK(src.rule.settings[0] >= src.rule.buf &&
	    src.rule.settings[6] < src.rule.buf + sizeof(src.rule.buf));
	CHECK_STR(blocks(":deny,Q=''"), "0.0.0.0/0 ::/0");
	CHECK_STR(src.rule.settings[0], "Q=");
	CHECK_STR(blocks(":deny,Q=\"\",R=1"), "0.0.0.0/0 ::/0");
	CHECK(src.rule.nsettings == 2 && strcmp(src.rule.settings[1], "R=1")
	    == 0);

	CHECK_STR(parse_err("10.:allow,A=1,A=2"), "setting A given twice");
	CHECK_STR(parse_err("10.:allow,LD_PRELOAD=/tmp/x.so"), "setting "
	    "LD_PRELOAD refused: LD_ variables steer the dynamic linker");
	CHECK_STR(parse_err("10.:allow,LD_=1"), "setting LD_ refused: LD_ "
	    "variables steer the dynamic linker");
	CHECK_STR(blocks("10.:allow,ld_x=1,LDX=2"), "10.0.0.0/8");
	CHECK_STR(parse_err("10.:allow,9A=1"), "bad setting name '9A' "
	    "(letters, digits and '_', not a digit first)");
	CHECK(has(parse_err("10.:allow,A-B=1"), "bad setting name 'A-B'"));
	CHECK(has(parse_err("10.:allow,A B=1"), "bad setting name 'A B'"));
	CHECK_STR(parse_err("10.:allow,=1"), "setting with no name");
	CHECK_STR(parse_err("10.:allow,"), "empty setting (nothing after a "
	    "comma)");
	CHECK_STR(parse_err("10.:allow,A=1,,B=2"), "empty setting (nothing "
	    "after a comma)");
	CHECK_STR(parse_err("10.:allow,A"), "setting A has no '=' (settings "
	    "are NAME=value)");
	CHECK_STR(parse_err("10.:allow,A,B=1"), "setting A has no '=' "
	    "(settings are NAME=value)");
	CHECK_STR(parse_err("10.:allow,A=\"x"), "setting A: no closing \"");
	CHECK_STR(parse_err("10.:allow,A='x,B=1"), "setting A: no closing '");
	CHECK_STR(parse_err("10.:allow,A=\"x\"y"), "setting A: text after "
	    "the closing \"");
	CHECK_STR(parse_err("10.:allow,A=1\r"), "");
	CHECK_STR(src.rule.settings[0], "A=1");
}

/*
 * A valid rule n octets long (n > 18): "1.2.3.4:allow" and settings that
 * take long text (the TLS ones, then made-up names past a compilable
 * length) with values of up to 1000 octets filling it up.
 */
static const char *
line_of(size_t n)
{
	static const char	*names[] = { "POP3D_TLS_CIPHERS",
				    "POP3D_TLS_PROTOCOLS",
				    "POP3D_TLS_ECDHECURVES",
				    "POP3D_TLS_DHEPARAMS" };
	static char		 line[RULES_LINE_MAX * 2];
	size_t			 o = 13, k = 0, v;

	memcpy(line, "1.2.3.4:allow", o);
	while (o < n) {
		if (k < 4)
			o += sprintf(line + o, ",%s=", names[k]);
		else
			o += snprintf(line + o, 6, ",A%02zu=", k);
		k++;
		v = n - o > 1000 ? 1000 : n - o;
		memset(line + o, 'v', v);
		o += v;
	}
	line[n] = '\0';
	return line;
}

static void
test_limits(void)
{
	char	line[RULES_LINE_MAX * 2], name[RULE_NAME_MAX + 2];
	size_t	i, o;

	/* The line: RULES_LINE_MAX octets, a CR on top allowed. */
	CHECK_STR(parse_err(line_of(RULES_LINE_MAX)), "");
	CHECK(src.rule.nsettings == 4);
	strcpy(line, line_of(RULES_LINE_MAX));
	strcat(line, "\r");
	CHECK_STR(parse_err(line), "");
	CHECK_STR(parse_err(line_of(RULES_LINE_MAX + 1)), "line too long "
	    "(more than 4096 octets)");

	/* The pattern: 128 characters are read as one, 129 are not. */
	memset(line, '1', 128);
	strcpy(line + 128, ":allow");
	CHECK(has(parse_err(line), "bad octet"));
	memset(line, '1', 129);
	strcpy(line + 129, ":allow");
	CHECK_STR(parse_err(line), "pattern too long (more than 128 "
	    "characters)");

	/* Settings: 32 of them, not 33. */
	o = snprintf(line, sizeof(line), "10.:deny");
	for (i = 0; i < RULE_SETTINGS_MAX; i++)
		o += snprintf(line + o, sizeof(line) - o, ",S%zu=%zu", i, i);
	CHECK_STR(parse_err(line), "");
	CHECK(src.rule.nsettings == RULE_SETTINGS_MAX);
	CHECK_STR(src.rule.settings[31], "S31=31");
	snprintf(line + o, sizeof(line) - o, ",S32=32");
	CHECK_STR(parse_err(line), "more than 32 settings");

	/* A name: 64 characters, not 65. */
	memset(name, 'N', RULE_NAME_MAX);
	name[RULE_NAME_MAX] = '\0';
	snprintf(line, sizeof(line), "10.:deny,%s=1", name);
	CHECK_STR(parse_err(line), "");
	CHECK(strlen(src.rule.settings[0]) == RULE_NAME_MAX + 2);
	snprintf(line, sizeof(line), "10.:deny,%sN=1", name);
	CHECK(has(parse_err(line), "too long (more than 64 characters)"));

	/* A value: 1024 octets, not 1025, quoted or not. */
	o = snprintf(line, sizeof(line), "10.:deny,V=");
	memset(line + o, 'x', RULE_VALUE_MAX);
	line[o + RULE_VALUE_MAX] = '\0';
	CHECK_STR(parse_err(line), "");
	CHECK(strlen(src.rule.settings[0]) == 2 + RULE_VALUE_MAX);
	strcat(line, "x");
	CHECK_STR(parse_err(line), "setting V: value too long (more than 1024 "
	    "octets)");
	o = snprintf(line, sizeof(line), "10.:deny,V=\"");
	memset(line + o, ',', RULE_VALUE_MAX);
	strcpy(line + o + RULE_VALUE_MAX, "\"");
	CHECK_STR(parse_err(line), "");
	strcpy(line + o + RULE_VALUE_MAX, ",\"");
	CHECK(has(parse_err(line), "value too long"));
}

/* The largest rule there can be survives its record's round trip. */
static void
test_largest(void)
{
	static char		line[RULE_SETTINGS_MAX * 1200];
	static unsigned char	rec[RULE_RECORD_MAX], again[RULE_RECORD_MAX];
	static struct rule	r;
	char			name[RULE_NAME_MAX + 1];
	size_t			i, o, len;

	o = snprintf(line, sizeof(line), "10.:deny");
	for (i = 0; i < RULE_SETTINGS_MAX; i++) {
		memset(name, 'N', RULE_NAME_MAX);
		snprintf(name + RULE_NAME_MAX - 2, 3, "%02zu", i);
		o += snprintf(line + o, sizeof(line) - o, ",%s=", name);
		memset(line + o, 'v', RULE_VALUE_MAX);
		o += RULE_VALUE_MAX;
	}
	line[o] = '\0';
	/* Past RULES_LINE_MAX: only a parser called directly sees it. */
	CHECK_STR(parse_err(line), "line too long (more than 4096 octets)");
	/* Built by hand instead, as a record: it fits and decodes. */
	o = 0;
	memcpy(rec, "D\0\0\0\1\0", 6);
	o = 6;
	rec[o++] = RULE_SETTINGS_MAX;
	for (i = 0; i < RULE_SETTINGS_MAX; i++) {
		memset(rec + o, 'N', RULE_NAME_MAX);
		snprintf((char *)rec + o + RULE_NAME_MAX - 2, 3, "%02zu", i);
		rec[o + RULE_NAME_MAX] = '=';
		memset(rec + o + RULE_NAME_MAX + 1, 'v', RULE_VALUE_MAX);
		o += RULE_NAME_MAX + 1 + RULE_VALUE_MAX;
		rec[o++] = '\0';
	}
	CHECK(o <= RULE_RECORD_MAX && rule_decode(rec, o, &r) == 0);
	CHECK(r.nsettings == RULE_SETTINGS_MAX &&
	    strlen(r.settings[31]) == RULE_NAME_MAX + 1 + RULE_VALUE_MAX);
	len = rule_encode(&r, again);
	CHECK(len == o && memcmp(again, rec, o) == 0);
}

/* ---- records ---- */

static void
test_records(void)
{
	static unsigned char	rec[RULE_RECORD_MAX + 2];
	static struct rule	r;
	static const unsigned char good[] = "A\0\0\1\2\00310.\2A=1\0B=x y";

	/* good[] ends "B=x y" and its NUL: 24 octets. */
	CHECK(rule_decode(good, sizeof(good), &r) == 0);
	CHECK(r.action == RULE_ALLOW && r.line == 258 && r.nsettings == 2);
	CHECK_STR(r.pattern, "10.");
	CHECK_STR(r.settings[1], "B=x y");
	CHECK(r.settings[0] >= r.buf && r.settings[1] < r.buf + sizeof(r.buf));
	CHECK(rule_encode(&r, rec) == sizeof(good) &&
	    memcmp(rec, good, sizeof(good)) == 0);

	memcpy(rec, good, sizeof(good));
	rec[0] = 'X';
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	CHECK(r.action == 0 && r.nsettings == 0);
	rec[0] = 'a';
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[0] = RULE_DENY;
	CHECK(rule_decode(rec, sizeof(good), &r) == 0 &&
	    r.action == RULE_DENY);
	/* The last setting not terminated, or a tail after it. */
	CHECK(rule_decode(rec, sizeof(good) - 1, &r) == -1);
	rec[sizeof(good)] = 'z';
	CHECK(rule_decode(rec, sizeof(good) + 1, &r) == -1);
	/* Counts: more settings than present, fewer, or over the limit. */
	rec[9] = 3;
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[9] = 1;
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[9] = RULE_SETTINGS_MAX + 1;
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[9] = 2;
	CHECK(rule_decode(rec, sizeof(good), &r) == 0);
	/* Pattern length past the record, or a character no pattern has. */
	rec[5] = 200;
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[5] = 3;
	rec[6] = 'x';
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[6] = '1';
	/* Line 0 is no line. */
	rec[3] = rec[4] = 0;
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	rec[4] = 2;
	/* Settings: a bad name, LD_, no '=', twice the same name, a LF. */
	rec[10] = '9';
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	memcpy(rec + 10, "B=1", 3);
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	memcpy(rec + 10, "C=1", 3);
	CHECK(rule_decode(rec, sizeof(good), &r) == 0);
	memcpy(rec + 10, "C-1", 3);
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	memcpy(rec + 10, "C=\n", 3);
	CHECK(rule_decode(rec, sizeof(good), &r) == -1);
	memcpy(rec, "D\0\0\0\1\0\1LD_X=1", 14);
	CHECK(rule_decode(rec, 14, &r) == -1);
	memcpy(rec, "D\0\0\0\1\0\1LDX=1", 13);
	CHECK(rule_decode(rec, 13, &r) == 0 && r.pattern[0] == '\0');
	/* Too short to hold the fixed fields. */
	CHECK(rule_decode(rec, 6, &r) == -1);
	CHECK(rule_decode(rec, 0, &r) == -1);
	/* A value at the limit and one octet past it. */
	memcpy(rec, "A\0\0\0\1\0\1V=", 9);
	memset(rec + 9, 'x', RULE_VALUE_MAX);
	rec[9 + RULE_VALUE_MAX] = '\0';
	CHECK(rule_decode(rec, 10 + RULE_VALUE_MAX, &r) == 0);
	rec[9 + RULE_VALUE_MAX] = 'x';
	rec[10 + RULE_VALUE_MAX] = '\0';
	CHECK(rule_decode(rec, 11 + RULE_VALUE_MAX, &r) == -1);
	/* Any record longer than RULE_RECORD_MAX, whatever it holds. */
	memset(rec, 0, sizeof(rec));
	memcpy(rec, "A\0\0\0\1\0\1V=", 9);
	CHECK(rule_decode(rec, RULE_RECORD_MAX + 1, &r) == -1);
}

/* ---- the database ---- */

static const char office[] =
	"# rules for t_rules\n"
	"10.:allow,POP3D_GREETING=Hello office\n"
	"10.1.:deny\n"
	"10.1.2.0/24:allow,POP3D_CLEARTEXT=1\n"
	"10.1.2.3:deny\n"
	"10.1.2.128-255:allow,POP3D_GREETING=range\n"
	"\n"
	"192.168.*:deny\n"
	"2001:db8::/32:deny\n"
	"[2001:db8:1::]/48:allow\n"
	"2001:db8:1::1:deny\n"
	"::ffff:172.16.0.0/108:allow,POP3D_GREETING=mapped\r\n"
	":allow,POP3D_GREETING=default\n";

static void
test_lookup(void)
{
	char		err[512];
	unsigned long	n = 0;
	unsigned	probes = 99;

	CHECK(compile_text(office, &n, err, sizeof(err)) == 0);
	CHECK(n == 12);
	CHECK_STR(look("10.9.9.9", NULL), "allow 10. line 2 "
	    "[POP3D_GREETING=Hello office]");
	CHECK_STR(look("10.1.9.9", NULL), "deny 10.1. line 3");
	CHECK_STR(look("10.1.2.9", NULL), "allow 10.1.2.0/24 line 4 "
	    "[POP3D_CLEARTEXT=1]");
	CHECK_STR(look("10.1.2.3", NULL), "deny 10.1.2.3 line 5");
	CHECK_STR(look("10.1.2.200", NULL), "allow 10.1.2.128-255 line 6 "
	    "[POP3D_GREETING=range]");
	CHECK_STR(look("10.1.2.127", NULL), "allow 10.1.2.0/24 line 4 "
	    "[POP3D_CLEARTEXT=1]");
	CHECK_STR(look("192.168.200.1", NULL), "deny 192.168.* line 8");
	CHECK_STR(look("192.169.0.1", NULL), "allow  line 13 [POP3D_GREETING=default]");
	CHECK_STR(look("2001:db8:ffff::1", NULL), "deny 2001:db8::/32 line 9");
	CHECK_STR(look("2001:db8:1:2::3", NULL), "allow [2001:db8:1::]/48 "
	    "line 10");
	CHECK_STR(look("2001:db8:1::1", NULL), "deny 2001:db8:1::1 line 11");
	CHECK_STR(look("2001:db9::", NULL), "allow  line 13 [POP3D_GREETING=default]");
	CHECK_STR(look("::1", NULL), "allow  line 13 [POP3D_GREETING=default]");
	/* Mapped peers are IPv4 peers; mapped patterns IPv4 rules. */
	CHECK_STR(look("::ffff:10.1.2.3", NULL), "deny 10.1.2.3 line 5");
	CHECK_STR(look("172.16.5.5", NULL), "allow ::ffff:172.16.0.0/108 "
	    "line 12 [POP3D_GREETING=mapped]");
	CHECK_STR(look("172.32.0.1", NULL), "allow  line 13 [POP3D_GREETING=default]");
	/* An unknown peer gets the default rule alone. */
	CHECK_STR(look(NULL, &probes), "allow  line 13 [POP3D_GREETING=default]");
	CHECK(probes == 1);

	/* One probe per length in use, most specific first, never more. */
	CHECK_STR(look("10.1.2.3", &probes), "deny 10.1.2.3 line 5");
	CHECK(probes == 1);
	CHECK_STR(look("10.1.2.9", &probes), "allow 10.1.2.0/24 line 4 "
	    "[POP3D_CLEARTEXT=1]");
	/* /32, /25 and /24 tried: the lengths between are not. */
	CHECK(probes == 3);
	CHECK_STR(look("11.0.0.1", &probes), "allow  line 13 [POP3D_GREETING=default]");
	/* IPv4 lengths in use: 32 25 24 16 12 8 0. */
	CHECK(probes == 7);
	CHECK_STR(look("2001:db9::", &probes), "allow  line 13 "
	    "[POP3D_GREETING=default]");
	/* IPv6: 128 48 32 0. */
	CHECK(probes == 4);

	/* Without a default rule, an address nothing covers: none. */
	CHECK(compile_text("10.:deny\n2001:db8::/32:deny\n", &n, err,
	    sizeof(err)) == 0 && n == 2);
	CHECK_STR(look("11.0.0.1", &probes), "none");
	CHECK(probes == 1);
	CHECK_STR(look("::1", &probes), "none");
	CHECK(probes == 1);
	CHECK_STR(look(NULL, &probes), "none");
	CHECK(probes == 0);
	CHECK_STR(look("10.0.0.1", NULL), "deny 10. line 1");
	/* An empty file: a database that allows everyone. */
	CHECK(compile_text("# nothing\n", &n, err, sizeof(err)) == 0 &&
	    n == 0);
	CHECK_STR(look("10.0.0.1", &probes), "none");
	CHECK(probes == 0);
	/* Only an IPv6 default: IPv4 peers and unknown peers unmatched. */
	CHECK(compile_text("::/0:deny\n", &n, err, sizeof(err)) == 0);
	CHECK_STR(look("::2", NULL), "deny ::/0 line 1");
	CHECK_STR(look("1.2.3.4", NULL), "none");
	CHECK_STR(look(NULL, NULL), "none");
	/* The last line without its newline still counts. */
	CHECK(compile_text("10.:deny\n11.:allow", &n, err, sizeof(err)) == 0 &&
	    n == 2);
	CHECK_STR(look("11.1.1.1", NULL), "allow 11. line 2");
}

static int
walk_one(const struct rule_block *b, const struct rule *r, void *arg)
{
	char	*out = arg, text[ADDR_TEXT_MAX];
	size_t	o = strlen(out);

	addr_format(&b->prefix, text, sizeof(text));
	snprintf(out + o, 1024 - o, "%s/%d %c %lu|", text, b->len, r->action,
	    r->line);
	return strcmp(text, "10.1.0.0") == 0 ? 7 : 0;
}

static void
test_walk(void)
{
	struct rulesdb	d;
	char		err[512], out[1024];
	unsigned long	n;

	CHECK(compile_text("10.:allow\n1.2.3.4-7:deny\n:deny\n", &n, err,
	    sizeof(err)) == 0 && n == 4);
	CHECK(rulesdb_open(&d, db) == 0);
	out[0] = '\0';
	CHECK(rulesdb_walk(&d, walk_one, out) == 0);
	CHECK_STR(out, "10.0.0.0/8 A 1|1.2.3.4/30 D 2|0.0.0.0/0 D 3|"
	    "::/0 D 3|");
	rulesdb_close(&d);
	CHECK(compile_text("10.1.:allow\n11.:allow\n", &n, err,
	    sizeof(err)) == 0);
	CHECK(rulesdb_open(&d, db) == 0);
	out[0] = '\0';
	/* The callback's non-zero stops the walk and is returned. */
	CHECK(rulesdb_walk(&d, walk_one, out) == 7);
	CHECK_STR(out, "10.1.0.0/16 A 1|");
	rulesdb_close(&d);
}

/* setting_check on one value: "" when good, else the reason. */
static const char *
value_err(const char *name, const char *value)
{
	static char		 err[256];
	const struct setting	*st = setting_find(name);

	err[0] = '\0';
	if (st == NULL)
		return "no such setting";
	if (setting_check(st, value, err, sizeof(err)) == 0)
		return "";
	return err[0] != '\0' ? err : "failed without a reason";
}

/* The one refusal of a bad pop3_uidl_format, whichever program reads it. */
#define UIDLFMT_ERR	"POP3D_DOVECOT_UIDL_FORMAT must be a pop3_uidl_format" \
	" of at most 64 characters: text, %%, %u %v %f %g, %0<width>, X L U;" \
	" with %u %f or %g, and no spaces"

/* The table's validator: each kind, each bound crossed (issue 14). */
static void
test_setting_table(void)
{
	const struct setting	*st;
	char			 text[TLS_SETTING_MAX + 2];
	size_t			 i;
	int			 sorted = 1;

	/* The table holds each name once, sorted, each with a kind. */
	for (i = 1; (st = setting_at(i)) != NULL; i++)
		if (strcmp(setting_at(i - 1)->name, st->name) >= 0)
			sorted = 0;
	CHECK(sorted && i > 40);
	CHECK(setting_find("PATH") == NULL);
	CHECK(setting_find("POP3D_AUTH_DELA") == NULL);

	/* A number: digits only, min and max inclusive. */
	CHECK_STR(value_err("POP3D_AUTH_DELAY", "0"), "");
	CHECK_STR(value_err("POP3D_AUTH_DELAY", "60"), "");
	CHECK_STR(value_err("POP3D_AUTH_DELAY", "61"), "POP3D_AUTH_DELAY must "
	    "be a number from 0 to 60");
	CHECK_STR(value_err("POP3D_AUTH_DELAY", "abc"), "POP3D_AUTH_DELAY "
	    "must be a number from 0 to 60");
	CHECK(*value_err("POP3D_AUTH_DELAY", "-1") != '\0');
	CHECK(*value_err("POP3D_AUTH_DELAY", " 1") != '\0');
	CHECK(*value_err("POP3D_AUTH_DELAY", "0x1") != '\0');
	CHECK(*value_err("POP3D_AUTH_DELAY", "99999999999999999999") != '\0');
	CHECK_STR(value_err("POP3D_AUTH_FAILURES", "0"), "POP3D_AUTH_FAILURES "
	    "must be a number from 1 to 100");
	CHECK_STR(value_err("POP3D_AUTH_FAILURES", "1"), "");
	CHECK_STR(value_err("POP3D_AUTH_FAILURES", "100"), "");
	CHECK(*value_err("POP3D_AUTH_FAILURES", "101") != '\0');
	CHECK_STR(value_err("POP3D_PENALTY_PREFIX6", "31"), "POP3D_PENALTY_"
	    "PREFIX6 must be a number from 32 to 128");
	CHECK_STR(value_err("POP3D_PENALTY_PREFIX6", "128"), "");
	CHECK(*value_err("POP3D_PENALTY_PREFIX6", "129") != '\0');
	CHECK_STR(value_err("POP3D_IDLE_TIMEOUT", "86400"), "");
	CHECK(*value_err("POP3D_IDLE_TIMEOUT", "86401") != '\0');
	CHECK(*value_err("POP3D_IDLE_TIMEOUT", "0") != '\0');
	CHECK_STR(value_err("POP3D_LOGIN_DELAY", "86400"), "");
	CHECK(*value_err("POP3D_LOGIN_DELAY", "86401") != '\0');
	/* Empty is unset, good for every kind. */
	CHECK_STR(value_err("POP3D_AUTH_FAILURES", ""), "");
	CHECK_STR(value_err("POP3D_PENALTY_SCOPE", ""), "");

	/* A flag. */
	CHECK_STR(value_err("POP3D_CLEARTEXT", "1"), "");
	CHECK_STR(value_err("POP3D_CLEARTEXT", "no"), "");
	CHECK_STR(value_err("POP3D_CLEARTEXT", "2"), "POP3D_CLEARTEXT must be "
	    "0 or 1");
	CHECK(*value_err("POP3D_CLEARTEXT", "true") != '\0');

	/* A word of a list. */
	CHECK_STR(value_err("POP3D_PENALTY_SCOPE", "user"), "");
	CHECK_STR(value_err("POP3D_PENALTY_SCOPE", "address"), "");
	CHECK_STR(value_err("POP3D_PENALTY_SCOPE", "users"), "POP3D_PENALTY_"
	    "SCOPE must be one of address|user");
	CHECK(*value_err("POP3D_PENALTY_SCOPE", "use") != '\0');
	CHECK(*value_err("POP3D_PENALTY_SCOPE", "address|user") != '\0');
	CHECK_STR(value_err("POP3D_UNKNOWN_PEER", "allow"), "");
	CHECK(*value_err("POP3D_UNKNOWN_PEER", "yes") != '\0');

	/* EXPIRE: NEVER or days. */
	CHECK_STR(value_err("POP3D_EXPIRE", "NEVER"), "");
	CHECK_STR(value_err("POP3D_EXPIRE", "9999"), "");
	CHECK_STR(value_err("POP3D_EXPIRE", "10000"), "POP3D_EXPIRE must be "
	    "NEVER or a number from 0 to 9999");
	CHECK(*value_err("POP3D_EXPIRE", "never") != '\0');

	/* Text: printable, at most its length. */
	memset(text, 'x', sizeof(text));
	text[GREETING_MAX] = '\0';
	CHECK_STR(value_err("POP3D_GREETING", text), "");
	text[GREETING_MAX] = 'x';
	text[GREETING_MAX + 1] = '\0';
	CHECK_STR(value_err("POP3D_GREETING", text), "POP3D_GREETING must be "
	    "at most 400 printable characters");
	CHECK(*value_err("POP3D_GREETING", "tab\there") != '\0');
	CHECK(*value_err("POP3D_GREETING", "\x80") != '\0');
	memset(text, 'x', sizeof(text));
	text[TLS_SETTING_MAX] = '\0';
	CHECK_STR(value_err("POP3D_TLS_CIPHERS", text), "");
	text[TLS_SETTING_MAX] = 'x';
	text[TLS_SETTING_MAX + 1] = '\0';
	CHECK(*value_err("POP3D_TLS_CIPHERS", text) != '\0');

	/* A pop3_uidl_format: text that expands, at most its length. */
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%08Xu%08Xv"), "");
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%{guid}-%f"), "");
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%m"), UIDLFMT_ERR);
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%"), UIDLFMT_ERR);
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%{uid"), UIDLFMT_ERR);
	/* Formats that can never work: no valid UIDL, or one for all. */
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%u %v"), UIDLFMT_ERR);
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "abc"), UIDLFMT_ERR);
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", "%v"), UIDLFMT_ERR);
	/* At most DOVECOT_FORMAT_MAX, "%f" last (8 octets in the sample). */
	memset(text, 'x', sizeof(text));
	memcpy(text + DOVECOT_FORMAT_MAX - 2, "%f", 3);
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", text), "");
	memcpy(text + DOVECOT_FORMAT_MAX - 2, "x%f", 4);
	CHECK_STR(value_err("POP3D_DOVECOT_UIDL_FORMAT", text), UIDLFMT_ERR);
	/* A list may hold blanks between items. */
	CHECK_STR(value_err("POP3D_TLS_KEYPAIRS", "a:b\tc:d"), "");
	CHECK(*value_err("POP3D_TLS_KEYPAIRS", "a:b\001") != '\0');
}

/* The programs' readers take bounds and defaults from the same table. */
static void
test_setting_readers(void)
{
	char		 err[256];
	const char	*t;
	uint64_t	 v;
	int64_t		 d;
	int		 f;

	unsetenv("POP3D_AUTH_DELAY");
	CHECK(setting_num("POP3D_AUTH_DELAY", &v) == 0 && v == 2);
	setenv("POP3D_AUTH_DELAY", "", 1);
	CHECK(setting_num("POP3D_AUTH_DELAY", &v) == 0 && v == 2);
	setenv("POP3D_AUTH_DELAY", "60", 1);
	CHECK(setting_num("POP3D_AUTH_DELAY", &v) == 0 && v == 60);
	setenv("POP3D_AUTH_DELAY", "61", 1);
	CHECK(setting_num("POP3D_AUTH_DELAY", &v) == -1);
	setenv("POP3D_AUTH_DELAY", "abc", 1);
	CHECK(setting_num("POP3D_AUTH_DELAY", &v) == -1);
	unsetenv("POP3D_AUTH_DELAY");
	unsetenv("POP3D_LOGIN_DELAY");
	CHECK(setting_num("POP3D_LOGIN_DELAY", &v) == 0 && v == SETTING_UNSET);
	setenv("POP3D_LOGIN_DELAY", "0", 1);
	CHECK(setting_num("POP3D_LOGIN_DELAY", &v) == 0 && v == 0);
	unsetenv("POP3D_LOGIN_DELAY");
	setenv("POP3D_APOP", "yes", 1);
	CHECK(setting_flag("POP3D_APOP", &f) == 0 && f == 1);
	setenv("POP3D_APOP", "2", 1);
	CHECK(setting_flag("POP3D_APOP", &f) == -1);
	unsetenv("POP3D_APOP");
	CHECK(setting_flag("POP3D_APOP", &f) == 0 && f == 0);
	setenv("POP3D_PENALTY_SCOPE", "user", 1);
	CHECK(setting_text("POP3D_PENALTY_SCOPE", &t) == 0 &&
	    strcmp(t, "user") == 0);
	setenv("POP3D_PENALTY_SCOPE", "users", 1);
	CHECK(setting_text("POP3D_PENALTY_SCOPE", &t) == -1);
	unsetenv("POP3D_PENALTY_SCOPE");
	CHECK(setting_text("POP3D_PENALTY_SCOPE", &t) == 0 && t == NULL);
	/* A reader of the wrong kind, or of no setting, is a bug: refused. */
	CHECK(setting_num("POP3D_APOP", &v) == -1);
	CHECK(setting_text("POP3D_AUTH_DELAY", &t) == -1);
	CHECK(setting_num("NOT_A_SETTING", &v) == -1);
	/* POP3D_EXPIRE: its text for CAPA and its days, from one parse. */
	unsetenv("POP3D_EXPIRE");
	CHECK(setting_expire(&t, &d) == 0 && t == NULL &&
	    d == SETTING_EXPIRE_NEVER);
	setenv("POP3D_EXPIRE", "NEVER", 1);
	CHECK(setting_expire(&t, &d) == 0 && strcmp(t, "NEVER") == 0 &&
	    d == SETTING_EXPIRE_NEVER);
	setenv("POP3D_EXPIRE", "0", 1);
	CHECK(setting_expire(&t, &d) == 0 && d == 0);
	snprintf(err, sizeof(err), "%d", EXPIRE_DAYS_MAX);
	setenv("POP3D_EXPIRE", err, 1);
	CHECK(setting_expire(&t, &d) == 0 && d == EXPIRE_DAYS_MAX);
	snprintf(err, sizeof(err), "%d", EXPIRE_DAYS_MAX + 1);
	setenv("POP3D_EXPIRE", err, 1);
	CHECK(setting_expire(&t, &d) == -1);
	setenv("POP3D_EXPIRE", "never", 1);
	CHECK(setting_expire(&t, &d) == -1);
	unsetenv("POP3D_EXPIRE");
	/* The forms for a program's own report say what the others log. */
	setenv("POP3D_AUTH_DELAY", "61", 1);
	CHECK(setting_num_err("POP3D_AUTH_DELAY", &v, err, sizeof(err)) ==
	    -1 && strcmp(err, "bad setting: POP3D_AUTH_DELAY must be a number"
	    " from 0 to 60") == 0);
	unsetenv("POP3D_AUTH_DELAY");
	setenv("POP3D_TLS_CIPHERS", "a\tb", 1);
	CHECK(setting_text_err("POP3D_TLS_CIPHERS", &t, err, sizeof(err)) ==
	    -1 && has(err, "bad setting: POP3D_TLS_CIPHERS must be"));
	unsetenv("POP3D_TLS_CIPHERS");
	/* A file's name: the default when unset or empty. */
	setenv("POP3D_USERS_CDB", "", 1);
	CHECK(setting_path("POP3D_USERS_CDB", "/d", &t) == 0 &&
	    strcmp(t, "/d") == 0);
	setenv("POP3D_USERS_CDB", "/x\001", 1);
	CHECK(setting_path("POP3D_USERS_CDB", "/d", &t) == -1);
	unsetenv("POP3D_USERS_CDB");

	/* The environment as a whole, and a combination the front refuses. */
	CHECK(settings_env_check(err, sizeof(err)) == 0);
	setenv("POP3D_TLS_REQUIRED", "1", 1);
	CHECK(settings_env_check(err, sizeof(err)) == -1 &&
	    has(err, "POP3D_TLS_REQUIRED=1 without POP3D_TLS_CERT"));
	setenv("POP3D_TLS_CERT", "/c", 1);
	setenv("POP3D_TLS_KEY", "/k", 1);
	CHECK(settings_env_check(err, sizeof(err)) == 0);
	setenv("POP3D_IDLE_TIMEOUT", "0", 1);
	CHECK(settings_env_check(err, sizeof(err)) == -1 &&
	    has(err, "POP3D_IDLE_TIMEOUT must be a number from 1 to 86400"));
	unsetenv("POP3D_IDLE_TIMEOUT");
	unsetenv("POP3D_TLS_REQUIRED");
	unsetenv("POP3D_TLS_CERT");
	unsetenv("POP3D_TLS_KEY");
}

/* What a rule may set (issue 14: a PATH rule ran another pop3d-auth). */
static void
test_setting_rules(void)
{
	unsigned long	 count;
	char		 err[256];
	const char	*ok = "POP3D_AUTH_DELAY=5";

	CHECK(setting_rule_check(ok, 16, ok + 17, err, sizeof(err)) == 0);
	CHECK(setting_rule_check("PATH", 4, "/tmp", err, sizeof(err)) == -1 &&
	    has(err, "unknown setting PATH"));
	CHECK(setting_rule_check("POP3D_TLS_RELAY", 15, "/x", err,
	    sizeof(err)) == -1 && has(err, "POP3D_TLS_RELAY may not be set by "
	    "a rule"));
	CHECK(setting_rule_check("POP3D_AUTH_DELAY", 16, "abc", err,
	    sizeof(err)) == -1 && has(err, "must be a number from 0 to 60"));

	CHECK(compile_fails("10.:allow,PATH=/tmp/evil\n", "1: unknown "
	    "setting PATH (pop3d-rules(5) lists those a rule may set)"));
	CHECK(compile_fails("# x\n10.:allow,POP3D_CLEARTEXT=1,"
	    "POP3D_AUTH_DELAY=abc\n", "2: POP3D_AUTH_DELAY must be a number "
	    "from 0 to 60"));
	CHECK(compile_fails("10.:allow,POP3D_MAX_PER_ADDRESS=1001\n", "1: "
	    "POP3D_MAX_PER_ADDRESS must be a number from 0 to 1000"));
	CHECK(compile_fails("10.:allow,POP3D_USERS_CDB=/tmp/u.cdb\n", "1: "
	    "POP3D_USERS_CDB may not be set by a rule: it names a file or "
	    "program the chain uses (set it in the spawner's environment)"));
	CHECK(compile_fails(":allow,POP3D_UNKNOWN_PEER=allow\n", "1: "
	    "POP3D_UNKNOWN_PEER may not be set by a rule: only the spawner "
	    "can vouch for its peers (set it in the spawner's environment)"));
	CHECK(compile_fails("10.:deny,TCPREMOTEIP=1.2.3.4\n", "1: unknown "
	    "setting TCPREMOTEIP (pop3d-rules(5) lists those a rule may set)"));
	CHECK(compile_fails("10.:allow,POP3D_PENALTY_SCOPE=users\n", "1: "
	    "POP3D_PENALTY_SCOPE must be one of address|user"));
	/* A pop3_uidl_format pop3d-maildrop could not expand (issue 18). */
	CHECK(compile_fails("10.:allow,POP3D_DOVECOT_UIDL_FORMAT=%m\n", "1: "
	    UIDLFMT_ERR));
	CHECK(compile_text("10.:allow,POP3D_DOVECOT_UIDL_FORMAT=%08Xu%08Xv\n",
	    &count, err, sizeof(err)) == 0);
}

static void
test_compile_errors(void)
{
	static struct rule	r;
	struct rulesdb		d;
	struct addr		a;
	char			err[512];
	unsigned long		n = 5;

	CHECK(compile_fails("10.:allow\n\n1.2.3.4:permit\n",
	    "3: unknown action 'permit' (allow or deny)"));
	CHECK(compile_fails("# c\n10.1.2.3/8:deny\n", "2: host bits set in "
	    "'10.1.2.3/8': did you mean 10.0.0.0/8?"));
	CHECK(compile_fails("1.2.3.*:allow\n10.:deny\n1.2.3.0/24:deny\n",
	    "3: 1.2.3.0/24 is also covered by line 1 (one block, one rule)"));
	CHECK(compile_fails(":allow\n0.0.0.0/0:deny\n",
	    "2: 0.0.0.0/0 is also covered by line 1 (one block, one rule)"));
	CHECK(compile_fails("::/0:allow\n10.:deny\n:deny\n",
	    "3: ::/0 is also covered by line 1 (one block, one rule)"));
	CHECK(compile_fails("1.2.3.4:allow\n::ffff:1.2.3.4:deny\n",
	    "2: 1.2.3.4/32 is also covered by line 1 (one block, one rule)"));
	CHECK(compile_fails("[2001:db8::]/32:allow\n2001:db8::/32:deny\n",
	    "2: 2001:db8::/32 is also covered by line 1 (one block, one "
	    "rule)"));
	/* Of several duplicates, the first a reader meets. */
	CHECK(compile_fails("1.2.3.4/30:allow\n9.:allow\n1.2.3.4-7:deny\n"
	    "9.0.0.0/8:deny\n", "3: 1.2.3.4/30 is also covered by line 1 "
	    "(one block, one rule)"));
	/* A range overlapping another's blocks, but no block twice: fine. */
	CHECK(compile_text("1.2.3.4-7:allow\n1.2.3.6-7:deny\n", &n, err,
	    sizeof(err)) == 0 && n == 2);
	CHECK_STR(look("1.2.3.6", NULL), "deny 1.2.3.6-7 line 2");
	CHECK_STR(look("1.2.3.5", NULL), "allow 1.2.3.4-7 line 1");
	CHECK(compile_fails("1.2.3.4-7:allow\n1.2.3.4/30:deny\n", "2: "
	    "1.2.3.4/30 is also covered by line 1 (one block, one rule)"));

	/* Lines the reader refuses before parsing. */
	put_file(file, "10.:allow\n1.2.3.4:deny\0x\n", 25);
	CHECK(rules_compile(file, db, &n, err, sizeof(err)) == -1 &&
	    errno == EINVAL && has(err, ":2: NUL in the line"));
	CHECK(compile_fails(line_of(RULES_LINE_MAX + 1), "1: line too long "
	    "(more than 4096 octets)"));
	CHECK(compile_fails(line_of(RULES_LINE_MAX * 2 - 1), "1: line too "
	    "long (more than 4096 octets)"));
	CHECK(compile_text(line_of(RULES_LINE_MAX), &n, err, sizeof(err)) ==
	    0 && n == 1);
	CHECK(has(look("1.2.3.4", NULL), "allow 1.2.3.4 line 1 "
	    "[POP3D_TLS_CIPHERS=vvvv"));
	CHECK(rulesdb_open(&d, db) == 0);
	/* 13 + 1019 + 1021 + 1023 octets before the last setting's comma. */
	CHECK(addr_parse("1.2.3.4", &a) == 0 && rulesdb_lookup(&d, &a, &r) ==
	    1 && r.nsettings == 4 && strlen(r.settings[3]) ==
	    RULES_LINE_MAX - 13 - 1019 - 1021 - 1023 - 1);
	rulesdb_close(&d);
	CHECK(compile_fails("10.:deny\r\n11.:deny\r\n12. :deny\r\n",
	    "3: space in the pattern (a rule has no spaces)"));

	/* Files that cannot be read or written: errno and "file: why". */
	n = 5;
	CHECK(rules_compile("/nonexistent/rules", db, &n, err, sizeof(err)) ==
	    -1 && errno == ENOENT && n == 0);
	CHECK_STR(err, "/nonexistent/rules: No such file or directory");
	put_text(file, "10.:deny\n");
	CHECK(rules_compile(file, "/nonexistent/rules.cdb", &n, err,
	    sizeof(err)) == -1 && errno == ENOENT);
	CHECK_STR(err, "/nonexistent/rules.cdb: No such file or directory");
	CHECK(rules_compile(dir, db, &n, err, sizeof(err)) == -1 &&
	    errno == EISDIR);
}

static void
test_atomic(void)
{
	char		err[512], before[4096], after[4096];
	size_t		nb = 0, na = 0;
	unsigned long	n;
	struct stat	st;

	CHECK(compile_text("10.:deny\n", &n, err, sizeof(err)) == 0);
	CHECK(file_bytes(db, before, sizeof(before), &nb) == 0 && nb > 2048);
	/* A syntax error, a duplicate, an overlong line: the old one stays. */
	CHECK(compile_fails("10.:allow\n11.:alow\n", "2: unknown action "
	    "'alow' (allow or deny)"));
	CHECK(file_bytes(db, after, sizeof(after), &na) == 0 && na == nb &&
	    memcmp(before, after, nb) == 0);
	CHECK(compile_fails("10.:allow\n10.0.0.0/8:allow\n", "2: 10.0.0.0/8 "
	    "is also covered by line 1 (one block, one rule)"));
	CHECK(file_bytes(db, after, sizeof(after), &na) == 0 && na == nb &&
	    memcmp(before, after, nb) == 0);
	CHECK_STR(look("10.1.1.1", NULL), "deny 10. line 1");
	/* No temporary file left: the rules file and the database only. */
	CHECK(dir_entries() == 2);
	/* check (out NULL) writes nothing. */
	unlink(db);
	put_text(file, "10.:deny\n11.:deny\n");
	CHECK(rules_compile(file, NULL, &n, err, sizeof(err)) == 0 && n == 2);
	CHECK(stat(db, &st) == -1 && errno == ENOENT);
	CHECK(rules_compile(file, NULL, &n, err, sizeof(err)) == 0);
	put_text(file, "10.:deny\n10.*:deny\n");
	CHECK(rules_compile(file, NULL, &n, err, sizeof(err)) == -1 &&
	    errno == EINVAL && has(err, ":2: 10.0.0.0/8 is also covered by "
	    "line 1"));
	/* The database keeps the mode of the one it replaces. */
	CHECK(compile_text("10.:deny\n", &n, err, sizeof(err)) == 0);
	CHECK(chmod(db, 0640) == 0);
	CHECK(compile_text("11.:deny\n", &n, err, sizeof(err)) == 0);
	CHECK(stat(db, &st) == 0 && (st.st_mode & 07777) == 0640);
}

static void
test_count_limit(void)
{
	char		err[512], line[64];
	unsigned long	n = 0, i;
	FILE		*f;

	/* 285714 ranges of 14 blocks and 4 addresses: RULES_COUNT_MAX. */
	if ((f = fopen(file, "w")) == NULL)
		return;
	for (i = 0; i < (RULES_COUNT_MAX - 4) / 14; i++)
		fprintf(f, "%lu.%lu.%lu.1-254:deny\n", 1 + i / 65536,
		    i / 256 % 256, i % 256);
	for (i = 0; i < 4; i++)
		fprintf(f, "200.0.0.%lu:deny\n", i);
	fclose(f);
	CHECK(rules_compile(file, NULL, &n, err, sizeof(err)) == 0 &&
	    n == RULES_COUNT_MAX);
	if ((f = fopen(file, "a")) == NULL)
		return;
	fprintf(f, "200.0.0.4:deny\n");
	fclose(f);
	snprintf(line, sizeof(line), ":%d: too many records (more than %d)",
	    (RULES_COUNT_MAX - 4) / 14 + 5, RULES_COUNT_MAX);
	CHECK(rules_compile(file, NULL, &n, err, sizeof(err)) == -1 &&
	    errno == EINVAL && has(err, line));
}

/* ---- damaged databases ---- */

static void
test_corrupt(void)
{
	static const int	lens32[] = { 32, -1 }, none[] = { -1 };
	static const unsigned char key[] = { 4, 32, 1, 2, 3, 4 };
	static const unsigned char unmasked[] = { 4, 24, 1, 2, 3, 4 };
	struct rulesdb		d;
	char			err[512], buf[8192];
	const void		*kv[6];
	unsigned		 len[6];
	unsigned long		n;
	unsigned char		*h;
	size_t			got;
	int			fd;

	/* Missing: -1 and ENOENT. */
	unlink(db);
	errno = 0;
	CHECK(rulesdb_open(&d, db) == -1 && errno == ENOENT);
	/* Not a cdb at all: empty, short, garbage. */
	put_text(db, "");
	CHECK(rulesdb_open(&d, db) == -2);
	put_text(db, "10.:deny\n");
	CHECK(rulesdb_open(&d, db) == -2);
	memset(buf, 0xa5, sizeof(buf));
	put_file(db, buf, sizeof(buf));
	CHECK(rulesdb_open(&d, db) == -2);
	/* A directory cannot be read as one: a system error. */
	CHECK(rulesdb_open(&d, dir) == -1);

	/* Truncated: at any of several lengths, refused whole. */
	CHECK(compile_text(office, &n, err, sizeof(err)) == 0);
	CHECK(file_bytes(db, buf, sizeof(buf), &got) == 0 && got > 2300);
	put_file(db, buf, got - 1);
	CHECK(rulesdb_open(&d, db) == -2);
	put_file(db, buf, 2048 + 100);
	CHECK(rulesdb_open(&d, db) == -2);
	put_file(db, buf, 2047);
	CHECK(rulesdb_open(&d, db) == -2);

	/* tcprules' kind of cdb: keys as text, no header. */
	kv[0] = "1.2.3.4";
	len[0] = 7;
	kv[1] = "D";
	len[1] = 1;
	kv[2] = "10.";
	len[2] = 3;
	kv[3] = "\2+POP3D_X=1";
	len[3] = 11;
	put_cdb(db, 2, kv, len);
	CHECK(rulesdb_open(&d, db) == -2);
	/* A header of another version, of the wrong size, with a bad flag. */
	h = head(lens32, 0);
	kv[0] = RULESDB_HEAD_KEY;
	len[0] = RULESDB_HEAD_KEYLEN;
	kv[1] = h;
	len[1] = RULESDB_HEAD_LEN;
	put_cdb(db, 1, kv, len);
	CHECK(rulesdb_open(&d, db) == 0);
	rulesdb_close(&d);
	h[sizeof(RULESDB_MAGIC) - 2] = '4';
	put_cdb(db, 1, kv, len);
	CHECK(rulesdb_open(&d, db) == -2);
	/* Version 2: the same header, records without checks. */
	h = head(lens32, 0);
	h[sizeof(RULESDB_MAGIC) - 2] = '2';
	raw = 1;
	put_cdb(db, 1, kv, len);
	raw = 0;
	CHECK(rulesdb_open(&d, db) == -2);
	h = head(lens32, 0);
	len[1] = RULESDB_HEAD_LEN - 1;
	put_cdb(db, 1, kv, len);
	CHECK(rulesdb_open(&d, db) == -2);
	len[1] = RULESDB_HEAD_LEN;
	h[RULESDB_HEAD_LEN - 1] ^= 1;		/* its hash */
	put_cdb(db, 1, kv, len);
	CHECK(rulesdb_open(&d, db) == -2);
	{
		unsigned char	l4[33], l6[129];	/* a flag of 2... */

		memset(l4, 0, sizeof(l4));
		memset(l6, 0, sizeof(l6));
		l6[0] = 2;
		rulesdb_head_make(h, l4, l6, 0);	/* ...a good hash */
	}
	put_cdb(db, 1, kv, len);
	CHECK(rulesdb_open(&d, db) == -2);
	h = head(lens32, 1);		/* says one record; there is none */
	put_cdb(db, 1, kv, len);
	CHECK(rulesdb_open(&d, db) == -2);

	/* A record with a bad action octet, an unterminated setting. */
	PUT_ONE("A\0\0\0\1\0\0");
	CHECK_STR(look("1.2.3.4", NULL), "allow  line 1");
	PUT_ONE("Z\0\0\0\1\0\0");
	CHECK_STR(look("1.2.3.4", NULL), "lookup -2");
	PUT_ONE("A\0\0\0\1\0\1X=1");
	CHECK_STR(look("1.2.3.4", NULL), "lookup -2");
	PUT_ONE("A\0\0\0\1\0\1LD_PRELOAD=x\0");
	CHECK_STR(look("1.2.3.4", NULL), "lookup -2");
	PUT_ONE("A\0\0\0\1\0\1X=1\0");
	CHECK_STR(look("1.2.3.4", NULL), "allow  line 1 [X=1]");
	PUT_ONE("A\0\0\0\1\5");
	CHECK_STR(look("1.2.3.4", NULL), "lookup -2");
	/* Records that lookups never reach are refused by a walk. */
	CHECK(rulesdb_open(&d, db) == 0);
	CHECK(rulesdb_walk(&d, walk_one, buf) == -2);
	rulesdb_close(&d);
	kv[0] = RULESDB_HEAD_KEY;
	len[0] = RULESDB_HEAD_KEYLEN;
	kv[1] = head(none, 1);
	len[1] = RULESDB_HEAD_LEN;
	kv[2] = key;
	len[2] = sizeof(key);
	kv[3] = "A\0\0\0\1\0\0";
	len[3] = 7;
	put_cdb(db, 2, kv, len);
	/*
	 * A /32 record that a header with a good hash leaves out (made so
	 * on purpose: damage breaks the hash): not probed, and a walk, as
	 * compile does before it renames, refuses it.
	 */
	CHECK_STR(look("1.2.3.4", NULL), "none");
	CHECK(rulesdb_open(&d, db) == 0);
	buf[0] = '\0';
	CHECK(rulesdb_walk(&d, walk_one, buf) == -2);
	rulesdb_close(&d);
	kv[1] = head((const int[]){ 24, -1 }, 1);
	kv[2] = unmasked;
	len[2] = sizeof(unmasked);
	put_cdb(db, 2, kv, len);
	CHECK(rulesdb_open(&d, db) == 0);
	buf[0] = '\0';
	CHECK(rulesdb_walk(&d, walk_one, buf) == -2);
	rulesdb_close(&d);
	/* A good one walks. */
	kv[1] = head(lens32, 1);
	kv[2] = key;
	len[2] = sizeof(key);
	put_cdb(db, 2, kv, len);
	CHECK(rulesdb_open(&d, db) == 0);
	buf[0] = '\0';
	CHECK(rulesdb_walk(&d, walk_one, buf) == 0);
	CHECK_STR(buf, "1.2.3.4/32 A 1|");
	rulesdb_close(&d);

	/* A key twice: each record checks, the second is never found. */
	kv[1] = head(lens32, 2);
	kv[4] = key;
	len[4] = sizeof(key);
	kv[5] = "D\0\0\0\2\0\0";
	len[5] = 7;
	put_cdb(db, 3, kv, len);
	CHECK(rulesdb_open(&d, db) == 0);
	CHECK(cdbcheck_verify(&d.cdb, &n) == -2);
	rulesdb_close(&d);
	kv[1] = head(lens32, 1);
	put_cdb(db, 2, kv, len);
	CHECK(rulesdb_open(&d, db) == 0);
	CHECK(cdbcheck_verify(&d.cdb, &n) == 0 && n == 2);
	rulesdb_close(&d);

	/* Damage in the middle of a real database: lookups fail, not allow. */
	CHECK(compile_text("1.2.3.4:deny,POP3D_APOP=1\n", &n, err, sizeof(err)) == 0);
	CHECK(file_bytes(db, buf, sizeof(buf), &got) == 0);
	/* The first record's value follows the 2048-octet table and the
	 * key's 8 octets of lengths and 6 of key: its action octet. */
	CHECK(buf[2048 + 8 + 6] == RULE_DENY);
	buf[2048 + 8 + 6] = 'Q';
	if ((fd = open(db, O_WRONLY | O_TRUNC)) != -1) {
		CHECK(write(fd, buf, got) == (ssize_t)got);
		close(fd);
	}
	CHECK_STR(look("1.2.3.4", NULL), "lookup -2");

	/* One flag of the header flipped in a real database: corrupt. */
	CHECK(compile_text("1.2.3.4:deny\n10.:deny\n", &n, err,
	    sizeof(err)) == 0);
	CHECK(file_bytes(db, buf, sizeof(buf), &got) == 0);
	{
		char	*m = memmem(buf, got, RULESDB_MAGIC,
		    sizeof(RULESDB_MAGIC));

		CHECK(m != NULL && m[sizeof(RULESDB_MAGIC) + 32] == 1);
		if (m != NULL)
			m[sizeof(RULESDB_MAGIC) + 32] = 0;
	}
	if ((fd = open(db, O_WRONLY | O_TRUNC)) != -1) {
		CHECK(write(fd, buf, got) == (ssize_t)got);
		close(fd);
	}
	CHECK(rulesdb_open(&d, db) == -2);
	CHECK_STR(look("1.2.3.4", NULL), "open -2");
}

/*
 * Every octet of a small database damaged in turn, two ways (its low bit
 * flipped, and its value moved by 0x5a): each lookup answers the rule it
 * answered before, or "unavailable" (open or lookup -2), never another
 * rule, never none.  Issue 15: version 2 let 26 damaged files deny an
 * address its own rule allowed.
 */
static void
test_damage_sweep(void)
{
	static const char	*addrs[] = { "127.0.0.1", "10.2.3.4",
	    "10.1.2.3", "192.168.1.7", "192.168.1.8", "192.0.2.1",
	    "2001:db8::1", "2001:db9::1", "::ffff:10.1.0.1", NULL };
	static char		 truth[10][512], orig[16384], dmg[16384];
	char			 err[512];
	const char		*got;
	unsigned long		 n, same = 0, unavailable = 0, wrong = 0;
	size_t			 len, off, k;
	int			 pass;

	CHECK(compile_text("127.0.0.1:allow,POP3D_CLEARTEXT=1\n"
	    "10.0.0.0/8:allow,POP3D_MAX_PER_ADDRESS=20\n"
	    "10.1.0.0/16:deny\n"
	    "192.168.1.7:allow,POP3D_PENALTY_SCOPE=user\n"
	    "192.0.2.0/24:allow\n"
	    "2001:db8::/32:allow,POP3D_APOP=1\n"
	    ":deny\n", &n, err, sizeof(err)) == 0);
	CHECK(file_bytes(db, orig, sizeof(orig), &len) == 0 &&
	    len < sizeof(orig));
	/* addrs[9], NULL, is a peer of unknown address: the default rule. */
	for (k = 0; k < 10; k++)
		snprintf(truth[k], sizeof(truth[k]), "%s", look(addrs[k],
		    NULL));
	CHECK_STR(truth[0], "allow 127.0.0.1 line 1 [POP3D_CLEARTEXT=1]");
	CHECK_STR(truth[9], "deny  line 7");
	for (off = 0; off < len; off++)
		for (pass = 0; pass < 2; pass++) {
			memcpy(dmg, orig, len);
			dmg[off] = pass == 0 ? dmg[off] ^ 1 : dmg[off] + 0x5a;
			put_file(db, dmg, len);
			for (k = 0; k < 10; k++) {
				got = look(addrs[k], NULL);
				if (strcmp(got, truth[k]) == 0)
					same++;
				else if (strcmp(got, "open -2") == 0 ||
				    strcmp(got, "lookup -2") == 0)
					unavailable++;
				else if (wrong++ < 5)
					printf("# octet %zu %s: %s for %s, "
					    "not %s\n", off, pass == 0 ?
					    "^1" : "+0x5a", got, addrs[k] ?
					    addrs[k] : "unknown", truth[k]);
			}
		}
	printf("# %zu octets damaged twice, %lu lookups: %lu true, %lu "
	    "unavailable, %lu wrong\n", len, same + unavailable + wrong,
	    same, unavailable, wrong);
	CHECK(wrong == 0);
	CHECK(unavailable > 0 && same > 0);
}

/*
 * setting_default_text (pop3d-check's listing): only settings that are not
 * numbers have one, each a value its own check takes, and none is lost to
 * a misspelled name (17 today: pop3d-check.8 and pop3d.8 list them).
 */
static void
test_setting_defaults(void)
{
	const struct setting	*st;
	const char		*d;
	char			 err[160];
	size_t			 i, n = 0;

	for (i = 0; (st = setting_at(i)) != NULL; i++) {
		if ((d = setting_default_text(st)) == NULL)
			continue;
		n++;
		CHECK(st->kind != SETTING_NUM);
		CHECK(*d != '\0' && setting_check(st, d, err, sizeof(err)) == 0);
	}
	CHECK(n == 17);
	CHECK(strcmp(setting_default_text(setting_find("POP3D_CHROOT")),
	    "/var/empty") == 0);
	CHECK(setting_default_text(setting_find("POP3D_GREETING")) == NULL);
}

int
main(void)
{
	if (check_tmpdir(dir, sizeof(dir), "t_rules") == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(file, sizeof(file), "%s/rules", dir);
	snprintf(db, sizeof(db), "%s/rules.cdb", dir);
	test_addr();
	test_ipv4();
	test_ranges();
	test_ipv6();
	test_pattern_errors();
	test_syntax();
	test_settings();
	test_limits();
	test_largest();
	test_records();
	test_lookup();
	test_walk();
	test_compile_errors();
	test_setting_table();
	test_setting_defaults();
	test_setting_readers();
	test_setting_rules();
	test_atomic();
	test_corrupt();
	test_damage_sweep();
	test_count_limit();
	unlink(file);
	unlink(db);
	rmdir(dir);
	return check_done();
}

/*
 * IP rules: a text file of "pattern:allow|deny[,NAME=value...]" lines
 * (tcprules' syntax, extended with CIDR, netmasks, wildcards and IPv6),
 * compiled to rules.cdb, looked up by the front once per connection.  The
 * most specific matching rule wins; an address no rule matches is allowed.
 * The file format is man/pop3d-rules.5.
 */
#ifndef POP3D_RULES_H
#define POP3D_RULES_H

#include <stddef.h>

#include <cdb.h>

#include "addr.h"
#include "pop3d_limits.h"

#define RULE_ALLOW	'A'
#define RULE_DENY	'D'

/* The characters a valid pattern holds (the database's are checked). */
#define RULE_PATTERN_CHARS	"0123456789abcdefABCDEF.:/*-[]"

/* A pattern covers at most this many CIDR blocks (a range: 14). */
#define RULE_BLOCKS_MAX	16

struct rule {
	char		 action;	/* RULE_ALLOW or RULE_DENY */
	char		 pattern[RULE_PATTERN_MAX + 1]; /* as written; "" */
	unsigned long	 line;		/* in the rules file */
	size_t		 nsettings;
	char		*settings[RULE_SETTINGS_MAX]; /* "NAME=value", in buf */
	char		 buf[RULE_RECORD_MAX];
};

/* A CIDR block: the address with every bit past len clear. */
struct rule_block {
	struct addr	prefix;
	int		len;
};

/* One line of a rules file, parsed: the rule and the blocks it covers. */
struct rule_src {
	struct rule		rule;
	size_t			nblocks;
	struct rule_block	block[RULE_BLOCKS_MAX];
};

/*
 * Parses one line of a rules file (without its LF; a CR before it is
 * dropped): 1 and the rule, 0 for a blank line or a comment, or -1 with
 * what is wrong in err.  The line number is only stored in the rule.
 */
int	rule_parse(const char *, unsigned long, struct rule_src *, char *,
	    size_t);

/*
 * Compiles the rules file in to the database out atomically (temporary
 * file, fsync, rename); out is untouched on any error.  0 and the number
 * of records, or -1 with the reason in err: errno EINVAL and
 * "file:line: what" for an error in the text (the first one), or the
 * system's errno and "file: why".  With out NULL it only checks.
 */
int	rules_compile(const char *, const char *, unsigned long *, char *,
	    size_t);

/*
 * rules.cdb, a checked cdb file (cdbcheck.h: every value ends with the
 * check of its key and itself; every lookup checks what it reads, so
 * that damage reads as "unavailable", never as another rule or none).  A
 * block's key is its family (4 or 6), its prefix length and its masked
 * address (4 or 16 octets).  Its value, the rule's record:
 *	action		1 octet, RULE_ALLOW or RULE_DENY
 *	line		4 octets, big-endian
 *	pattern		1 octet of length P (at most RULE_PATTERN_MAX), P octets
 *	settings	1 octet of count S (at most RULE_SETTINGS_MAX), then
 *			S strings "NAME=value" each ended by a NUL
 * and nothing after but the check.  One more record, under a key no block
 * has (a NUL and "pop3d-rules"), is the header: RULESDB_MAGIC with its
 * NUL; one octet, 0 or 1, per IPv4 prefix length 0-32 and per IPv6 one
 * 0-128 (the lengths that have records, the only ones a lookup probes);
 * the number of rule records, 4 octets big-endian; and the FNV-1a 64-bit
 * hash of all of that, 8 octets big-endian.  A header whose hash is
 * wrong, or a file whose hash tables hold another number of records than
 * it says, is corrupt: a flipped flag would silently skip every rule of a
 * length.  Version 2 (no checks) is refused: pop3d-rules compile.
 */
#define RULESDB_HEAD_KEY	"\0pop3d-rules"
#define RULESDB_HEAD_KEYLEN	12
#define RULESDB_MAGIC		"pop3d-rules 3"
#define RULESDB_HEAD_LEN	(sizeof(RULESDB_MAGIC) + 33 + 129 + 4 + 8)

/* A block's key: family, length and 16 address octets at most. */
#define RULE_KEY_MAX		18

struct rulesdb {
	int		fd;
	struct cdb	cdb;
	/* Which prefix lengths have records: one probe each, no more. */
	unsigned char	len4[33], len6[129];
	unsigned long	records;	/* in its hash tables, header included */
	unsigned	probes;		/* cdb_find calls of the last lookup */
};

/* The header (RULESDB_HEAD_LEN octets) for these lengths and records. */
void	rulesdb_head_make(unsigned char *, const unsigned char *,
	    const unsigned char *, unsigned long);

/*
 * Opens a database: 0; -1 with errno (ENOENT included); -2 when it is not
 * a pop3d rules database (damaged, truncated, or of another version).
 */
int	rulesdb_open(struct rulesdb *, const char *);

/*
 * The most specific rule for addr, or with addr NULL (an unknown peer)
 * the default rule alone: 1 and the rule; 0 when none matches; -1 with
 * errno on a read error; -2 when a record, or the way to one, is damaged:
 * never a silent allow, nor a rule less specific than the one there.
 */
int	rulesdb_lookup(struct rulesdb *, const struct addr *, struct rule *);

/* rulesdb_lookup, and on 1 the block that matched into the last argument. */
int	rulesdb_match(struct rulesdb *, const struct addr *, struct rule *,
	    struct rule_block *);

/*
 * Calls fn for every record, in the database's order, until fn returns
 * non-zero (which is returned).  -2 for a corrupt record.
 */
int	rulesdb_walk(struct rulesdb *, int (*)(const struct rule_block *,
	    const struct rule *, void *), void *);

/* The number of rule records into *n, by rulesdb_walk: 0, or as it. */
int	rulesdb_rules(struct rulesdb *, unsigned long *);

void	rulesdb_close(struct rulesdb *);

/* The key of a block into key (RULE_KEY_MAX octets): its length. */
size_t	rule_key(const struct rule_block *, unsigned char *);

/*
 * A rule's record into buf (RULE_RECORD_MAX octets): its length, or 0 if
 * the rule breaks a limit (rule_parse never makes one that does).
 */
size_t	rule_encode(const struct rule *, unsigned char *);

/*
 * Is s (n octets) a setting's name: [A-Za-z_][A-Za-z0-9_]*, at most
 * RULE_NAME_MAX, not LD_ (those steer the dynamic linker)?
 */
int	rule_name_valid(const char *, size_t);

/*
 * Checks a rule's settings against the table of settings (settings.h): 0,
 * or -1 with "setting NAME: why" in err.  rules_compile runs it on every
 * rule; the front on the rule it applies.
 */
int	rule_settings_check(const struct rule *, char *, size_t);

/*
 * Checks a record octet by octet and fills r (settings point into r->buf):
 * 0, or -1 for anything wrong in it (rulesdb_lookup then returns -2).
 */
int	rule_decode(const unsigned char *, size_t, struct rule *);

/* Is NAME (nl octets) among the first n settings of r?  1 or 0. */
int	rule_setting_seen(const struct rule *, size_t, const char *, size_t);

/* The rule's NAME=value settings into the environment: 0, or -1. */
int	rule_env(const struct rule *);

/* A message into err (n octets, maybe cut short): -1. */
int	rule_err(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

#endif

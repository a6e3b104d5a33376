/*
 * Every setting a program of the chain reads from the environment, in one
 * table: its name, its kind and bounds (from pop3d_limits.h), its default,
 * and whether a rule of rules.cdb may set it.  The programs read their
 * settings through this table, and pop3d-rules checks a rule's settings
 * against it when it compiles, with the same code: a value the front
 * would refuse cannot reach rules.cdb.  The list is in pop3d-rules.5.
 */
#ifndef POP3D_SETTINGS_H
#define POP3D_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

enum setting_kind {
	SETTING_NUM,	/* decimal, min to max (num_parse) */
	SETTING_FLAG,	/* 0, 1, no, yes (flag_parse) */
	SETTING_TEXT,	/* printable ASCII, at most max octets */
	SETTING_LIST,	/* the same, and tab, CR, LF between items */
	SETTING_PATH,	/* a file's name: printable, at most max octets */
	SETTING_ENUM,	/* one of the words of choices */
	SETTING_EXPIRE	/* NEVER, or a number from min to max */
};

/* A NUM setting with this default has none: unset means "not given". */
#define SETTING_UNSET	UINT64_MAX

struct setting {
	const char	 *name;
	enum setting_kind kind;
	uint64_t	  min, max;	/* NUM, EXPIRE: range; TEXT, LIST,
					   PATH: max length */
	uint64_t	  def;		/* NUM: the default */
	const char	 *choices;	/* ENUM: words separated by '|' */
	const char	 *norule;	/* NULL: a rule may set it; else why
					   not */
};

/* The entry of name, or NULL for a name no program reads. */
const struct setting *setting_find(const char *);

/* The n-th entry (0 first), NULL past the last: for listings and tests. */
const struct setting *setting_at(size_t);

/*
 * The default of a setting that is not a number, as the programs that read
 * it take it when unset (a file, a user, a word), or NULL when unset means
 * "none": for pop3d-check's listing.  The programs keep their own copy of
 * these (front/pop3d.c, tls/conf.c, ...), as their pages document them: a
 * default changed there is changed here too (tests/e2e/test_check.py).
 */
const char *setting_default_text(const struct setting *);

/*
 * Is value good for s?  An empty value always is (it means unset).  0, or
 * -1 with "NAME must be ..." in err (size n).
 */
int	setting_check(const struct setting *, const char *, char *, size_t);

/*
 * May a rule set name to value (the name n octets of a "NAME=value"
 * text)?  0, or -1 with why not in err: a name no program reads, one
 * only the spawner's environment may set, or a bad value.
 */
int	setting_rule_check(const char *, size_t, const char *, char *,
	    size_t);

/*
 * Every setting of the table now in the environment, checked, and the
 * combinations the front refuses (POP3D_TLS_REQUIRED without a
 * certificate and key): 0, or -1 with the first problem in err.
 */
int	settings_env_check(char *, size_t);

/*
 * The readers: name's value from the environment, strictly, with the
 * table's bounds and default: 0 and the value (the default, or NULL for
 * text, when unset or empty), or -1 after logging "bad setting: ...".
 * name must be in the table (else -1, logged, as a bug).
 */
int	setting_num(const char *, uint64_t *);
int	setting_flag(const char *, int *);
int	setting_text(const char *, const char **);

/*
 * The lenient readers, for programs that serve on with the default rather
 * than refuse (pop3d-maildrop): a bad value is logged, with "setting
 * ignored", and gives the default (a number) or NULL (a text).
 */
uint64_t	 setting_num_or_default(const char *);
const char	*setting_text_or_null(const char *);

#endif

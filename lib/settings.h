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
	SETTING_EXPIRE,	/* NEVER, or a number from min to max */
	SETTING_UIDLFMT	/* TEXT, and a pop3_uidl_format (uidlfmt.h) */
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

/* Room enough for any reader's "bad setting: ..." (cut if not). */
#define SETTING_ERR_MAX	160

/*
 * The readers: name's value from the environment, strictly, with the
 * table's bounds and default: 0 and the value (the default, or NULL for
 * text, when unset or empty), or -1 after logging "bad setting: NAME
 * must be ...".  name must be in the table (else -1, logged, as a bug).
 * Every program of the chain refuses to run with a bad one: none serves
 * on with a guess.
 */
int	setting_num(const char *, uint64_t *);
int	setting_flag(const char *, int *);
int	setting_text(const char *, const char **);
/* A file's or user's name: def when unset or empty. */
int	setting_path(const char *, const char *, const char **);

/*
 * POP3D_EXPIRE: its text (NULL when unset) for CAPA, and the days it
 * gives, SETTING_EXPIRE_NEVER for NEVER or unset.
 */
#define SETTING_EXPIRE_NEVER	(-1)
int	setting_expire(const char **, int64_t *);

/*
 * The same, with "bad setting: ..." in err (size n) instead of the log:
 * for a program that reports it its own way (pop3d-tls).
 */
int	setting_num_err(const char *, uint64_t *, char *, size_t);
int	setting_flag_err(const char *, int *, char *, size_t);
int	setting_text_err(const char *, const char **, char *, size_t);

#endif

/*
 * The table of every setting (settings.h), its checks and its readers.
 * A setting added to a program goes here first; tests/unit/t_rules.c
 * crosses the bounds of each kind.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "num.h"
#include "pop3d_limits.h"
#include "settings.h"
#include "uidlfmt.h"

/* Why a rule may not set some: set them in the spawner's environment. */
#define NR_FILE	"it names a file or program the chain uses"
#define NR_ID	"it names the user or directory that confines the chain"
#define NR_EARLY "the front reads it before the rules"
#define NR_CHAIN "the chain sets it itself"

#define NUM(n, lo, hi, d)	{ n, SETTING_NUM, lo, hi, d, NULL, NULL }
#define FLAG(n)			{ n, SETTING_FLAG, 0, 1, 0, NULL, NULL }
#define TEXT(n, len)		{ n, SETTING_TEXT, 0, len, 0, NULL, NULL }
#define PATHS(n, len, why)	{ n, SETTING_PATH, 0, len, 0, NULL, why }
#define WORDS(n, w, why)	{ n, SETTING_ENUM, 0, 0, 0, w, why }

/* Sorted by name; every getenv of a setting in the tree is here. */
static const struct setting table[] = {
	TEXT("POP3D_ALT_AT", ALT_AT_MAX),
	FLAG("POP3D_APOP"),
	NUM("POP3D_AUTH_DELAY", 0, AUTH_DELAY_MAX, AUTH_DELAY_DEFAULT),
	NUM("POP3D_AUTH_FAILURES", 1, AUTH_FAILURES_MAX,
	    AUTH_FAILURES_DEFAULT),
	{ "POP3D_AUTH_OK_FD", SETTING_TEXT, 0, 10, 0, NULL, NR_CHAIN },
	{ "POP3D_AUTH_UID", SETTING_TEXT, 0, 10, 0, NULL, NR_CHAIN },
	{ "POP3D_AUTH_VERIFIED_FD", SETTING_TEXT, 0, 10, 0, NULL, NR_CHAIN },
	{ "POP3D_AUTH_VERIFY", SETTING_TEXT, 0, 10, 0, NULL, NR_CHAIN },
	PATHS("POP3D_CHROOT", 256, NR_ID),
	FLAG("POP3D_CLEARTEXT"),
	FLAG("POP3D_CRAM_MD5"),
	FLAG("POP3D_DEBUG"),
	{ "POP3D_DOVECOT_UIDL_FORMAT", SETTING_UIDLFMT, 0, DOVECOT_FORMAT_MAX,
	    0, NULL, NULL },
	/* The end line's facts (endline.h): a few words of at most 256. */
	{ "POP3D_END", SETTING_TEXT, 0, 2048, 0, NULL, NR_CHAIN },
	{ "POP3D_EXPIRE", SETTING_EXPIRE, 0, EXPIRE_DAYS_MAX, 0, NULL, NULL },
	TEXT("POP3D_GREETING", GREETING_MAX),
	NUM("POP3D_IDLE_TIMEOUT", POP3_IDLE_MIN, POP3_IDLE_MAX,
	    POP3_IDLE_DEFAULT),
	TEXT("POP3D_IMPLEMENTATION", IMPLEMENTATION_MAX),
	WORDS("POP3D_LOG", "stderr|syslog", NR_EARLY),
	NUM("POP3D_LOGIN_DELAY", 0, LOGIN_DELAY_MAX, SETTING_UNSET),
	NUM("POP3D_LOGIN_TIMEOUT", 1, LOGIN_TIMEOUT_MAX,
	    LOGIN_TIMEOUT_DEFAULT),
	NUM("POP3D_MAX_MESSAGES", MAILDROP_MSGS_MIN, MAILDROP_MSGS_MAX,
	    MAILDROP_MSGS_DEFAULT),
	NUM("POP3D_MAX_PER_ADDRESS", 0, CONN_PER_ADDRESS_MAX, 0),
	NUM("POP3D_MBOX_MAX", MBOX_MAX_MIN, MBOX_MAX_MAX, MBOX_MAX_DEFAULT),
	NUM("POP3D_PASSWD_IDLE", 1, PASSWD_TIMEOUT_MAX, PASSWD_IDLE_DEFAULT),
	NUM("POP3D_PASSWD_MIN", PASSWD_MIN_MIN, PASSWD_MIN_MAX,
	    PASSWD_MIN_DEFAULT),
	NUM("POP3D_PASSWD_TIMEOUT", 1, PASSWD_TIMEOUT_MAX,
	    PASSWD_TIMEOUT_DEFAULT),
	NUM("POP3D_PENALTY_ADDRESS_FAILURES", 1, PENALTY_ADDRESS_MAX,
	    PENALTY_ADDRESS_DEFAULT),
	NUM("POP3D_PENALTY_BLOCK", 1, PENALTY_BLOCK_MAX,
	    PENALTY_BLOCK_DEFAULT),
	NUM("POP3D_PENALTY_FAILURES", 0, PENALTY_FAILURES_MAX,
	    PENALTY_FAILURES_DEFAULT),
	NUM("POP3D_PENALTY_HOSTILE", 0, PENALTY_BLOCK_MAX,
	    PENALTY_HOSTILE_DEFAULT),
	NUM("POP3D_PENALTY_PREFIX6", PENALTY_PREFIX6_MIN, 128,
	    PENALTY_PREFIX6_DEFAULT),
	WORDS("POP3D_PENALTY_SCOPE", "address|user", NULL),
	NUM("POP3D_PENALTY_WINDOW", 1, PENALTY_WINDOW_MAX,
	    PENALTY_WINDOW_DEFAULT),
	PATHS("POP3D_PREAUTH_USER", 32, NR_ID),
	FLAG("POP3D_PROXY"),
	NUM("POP3D_PROXY_TIMEOUT", 1, PROXY_TIMEOUT_MAX, PROXY_TIMEOUT_DEFAULT),
	PATHS("POP3D_RULES", PATH_MAX - 1, NR_EARLY),
	{ "POP3D_SESSION", SETTING_TEXT, 0, SESSION_ID_MAX, 0, NULL,
	    NR_CHAIN },
	/* The slot's "FD:OCTET", for the exec in place (endline.h). */
	{ "POP3D_SLOT", SETTING_TEXT, 0, 32, 0, NULL, NR_CHAIN },
	PATHS("POP3D_STATE_DIR", PATH_MAX - 1, NR_FILE),
	/* Below sizeof(sun_path) (log.c: tests' own syslog socket). */
	PATHS("POP3D_SYSLOG_SOCKET", 107, NR_FILE),
	PATHS("POP3D_TLS_CERT", TLS_PATH_MAX, NR_FILE),
	TEXT("POP3D_TLS_CIPHERS", TLS_SETTING_MAX),
	TEXT("POP3D_TLS_DHEPARAMS", TLS_SETTING_MAX),
	TEXT("POP3D_TLS_ECDHECURVES", TLS_SETTING_MAX),
	NUM("POP3D_TLS_IDLE_MARGIN", TLS_RELAY_IDLE_MARGIN_MIN,
	    TLS_RELAY_IDLE_MARGIN_MAX, TLS_RELAY_IDLE_MARGIN),
	PATHS("POP3D_TLS_KEY", TLS_PATH_MAX, NR_FILE),
	{ "POP3D_TLS_KEYPAIRS", SETTING_LIST, 0, TLS_KEYPAIRS_TEXT_MAX, 0,
	    NULL, NR_FILE },
	WORDS("POP3D_TLS_NONROOT", "0|1", NR_ID),
	TEXT("POP3D_TLS_PROTOCOLS", TLS_SETTING_MAX),
	PATHS("POP3D_TLS_RELAY", PATH_MAX - 1, NR_FILE),
	FLAG("POP3D_TLS_REQUIRED"),
	NUM("POP3D_TLS_TIMEOUT", TLS_TIMEOUT_MIN, TLS_TIMEOUT_MAX,
	    TLS_TIMEOUT_DEFAULT),
	PATHS("POP3D_TLS_USER", 32, NR_ID),
	WORDS("POP3D_UNKNOWN_PEER", "deny|allow",
	    "only the spawner can vouch for its peers"),
	PATHS("POP3D_USERS_CDB", PATH_MAX - 1, NR_FILE),
	PATHS("POP3D_USERS_FILE", PATH_MAX - 1, NR_FILE),
	PATHS("POP3D_XMIT_COMMAND", XMIT_COMMAND_MAX, NR_FILE),
	NUM("POP3D_XMIT_COMMAND_TIMEOUT", XMIT_RUN_MIN, XMIT_RUN_MAX,
	    XMIT_RUN_DEFAULT),
	NUM("POP3D_XMIT_MAX", XMIT_SIZE_MIN, XMIT_SIZE_MAX, XMIT_SIZE_DEFAULT),
	NUM("POP3D_XMIT_TIMEOUT", XMIT_TIMEOUT_MIN, XMIT_TIMEOUT_MAX,
	    XMIT_TIMEOUT_DEFAULT),
	FLAG("POP3D_XTND_XMIT"),
};

#define TABLE_LEN	(sizeof(table) / sizeof(table[0]))

static int __attribute__((format(printf, 3, 4)))
say(char *err, size_t n, const char *fmt, ...)
{
	va_list	ap;

	if (n == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(err, n, fmt, ap);	/* a cut reason still says */
	va_end(ap);
	return -1;
}

static const struct setting *
find_n(const char *name, size_t n)
{
	size_t	i;

	for (i = 0; i < TABLE_LEN; i++)
		if (strncmp(table[i].name, name, n) == 0 &&
		    table[i].name[n] == '\0')
			return &table[i];
	return NULL;
}

const struct setting *
setting_find(const char *name)
{
	return find_n(name, strlen(name));
}

const struct setting *
setting_at(size_t i)
{
	return i < TABLE_LEN ? &table[i] : NULL;
}

/* The defaults of the settings that are not numbers: settings.h. */
static const struct {
	const char	*name, *value;
} text_defaults[] = {
	{ "POP3D_APOP", "0" },
	{ "POP3D_CHROOT", "/var/empty" },
	{ "POP3D_CLEARTEXT", "0" },
	{ "POP3D_CRAM_MD5", "0" },
	{ "POP3D_DEBUG", "0" },
	{ "POP3D_LOG", "stderr" },
	{ "POP3D_PENALTY_SCOPE", "address" },
	{ "POP3D_PREAUTH_USER", "pop3d" },
	{ "POP3D_PROXY", "0" },
	{ "POP3D_RULES", "/etc/pop3d/rules.cdb" },
	{ "POP3D_STATE_DIR", "/var/lib/pop3d" },
	{ "POP3D_TLS_NONROOT", "0" },
	{ "POP3D_TLS_REQUIRED", "0" },
	{ "POP3D_UNKNOWN_PEER", "deny" },
	{ "POP3D_USERS_CDB", "/etc/pop3d/users.cdb" },
	{ "POP3D_USERS_FILE", "/etc/pop3d/users" },
	{ "POP3D_XTND_XMIT", "0" },
};

const char *
setting_default_text(const struct setting *s)
{
	size_t	i;

	for (i = 0; i < sizeof(text_defaults) / sizeof(text_defaults[0]); i++)
		if (strcmp(text_defaults[i].name, s->name) == 0)
			return text_defaults[i].value;
	return NULL;
}

/* NEVER or a number of days in range: 0 and *days, or -1. */
static int
expire_parse(const struct setting *s, const char *value, int64_t *days)
{
	uint64_t	v;

	if (strcmp(value, "NEVER") == 0) {
		*days = SETTING_EXPIRE_NEVER;
		return 0;
	}
	if (num_parse(value, s->min, s->max, &v) == -1)
		return -1;
	*days = (int64_t)v;
	return 0;
}

/* Is value one of the '|'-separated words? */
static int
word_in(const char *value, const char *choices)
{
	size_t	len = strlen(value), w;

	for (;;) {
		w = strcspn(choices, "|");
		if (w == len && strncmp(choices, value, len) == 0)
			return 1;
		if (choices[w] == '\0')
			return 0;
		choices += w + 1;
	}
}

int
setting_check(const struct setting *s, const char *value, char *err,
    size_t n)
{
	uint64_t	v;
	int64_t		days;
	int		f;

	if (*value == '\0')
		return 0;
	switch (s->kind) {
	case SETTING_NUM:
		if (num_parse(value, s->min, s->max, &v) == 0)
			return 0;
		return say(err, n, "%s must be a number from %llu to %llu",
		    s->name, (unsigned long long)s->min,
		    (unsigned long long)s->max);
	case SETTING_FLAG:
		if (flag_parse(value, &f) == 0)
			return 0;
		return say(err, n, "%s must be 0 or 1", s->name);
	case SETTING_ENUM:
		if (word_in(value, s->choices))
			return 0;
		return say(err, n, "%s must be one of %s", s->name,
		    s->choices);
	case SETTING_EXPIRE:
		if (expire_parse(s, value, &days) == 0)
			return 0;
		return say(err, n, "%s must be NEVER or a number from %llu to"
		    " %llu", s->name, (unsigned long long)s->min,
		    (unsigned long long)s->max);
	case SETTING_UIDLFMT:
		if (text_valid(value, s->max, 0) &&
		    dovecot_uidl_format_ok(value))
			return 0;
		return say(err, n, "%s must be a pop3_uidl_format of at most"
		    " %llu characters: text, %%%%, %%u %%v %%f %%g, %%0<width>,"
		    " X L U; with %%u %%f or %%g, and no spaces", s->name,
		    (unsigned long long)s->max);
	default:
		if (text_valid(value, s->max, s->kind == SETTING_LIST))
			return 0;
		return say(err, n, "%s must be at most %llu printable"
		    " characters", s->name, (unsigned long long)s->max);
	}
}

int
setting_rule_check(const char *text, size_t n, const char *value, char *err,
    size_t errlen)
{
	const struct setting	*s = find_n(text, n);

	if (s == NULL)
		return say(err, errlen, "unknown setting %.*s (pop3d-rules(5)"
		    " lists those a rule may set)", (int)n, text);
	if (s->norule != NULL)
		return say(err, errlen, "%s may not be set by a rule: %s (set"
		    " it in the spawner's environment)", s->name, s->norule);
	return setting_check(s, value, err, errlen);
}

/* Is name set to something other than empty? */
static int
env_given(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0';
}

int
settings_env_check(char *err, size_t n)
{
	const char	*v, *req;
	size_t		 i;
	int		 f;

	for (i = 0; i < TABLE_LEN; i++)
		if ((v = getenv(table[i].name)) != NULL &&
		    setting_check(&table[i], v, err, n) == -1)
			return -1;
	req = getenv("POP3D_TLS_REQUIRED");
	if (req != NULL && flag_parse(req, &f) == 0 && f &&
	    (!env_given("POP3D_TLS_CERT") || !env_given("POP3D_TLS_KEY")))
		return say(err, n, "POP3D_TLS_REQUIRED=1 without POP3D_TLS_CERT"
		    " and POP3D_TLS_KEY");
	return 0;
}

/*
 * The one path every reader takes: the entry of name (of kind, or for
 * text any kind but a number or flag) and its value, checked against the
 * table; NULL when unset or empty.  0, or -1 with "bad setting: ..." in
 * err.
 */
static int
reader(const char *name, enum setting_kind kind, const struct setting **s,
    const char **value, char *err, size_t n)
{
	int	len;

	*value = NULL;
	if ((*s = setting_find(name)) == NULL || ((*s)->kind != kind &&
	    !(kind == SETTING_TEXT && (*s)->kind != SETTING_NUM &&
	    (*s)->kind != SETTING_FLAG)))
		return say(err, n, "bad setting: %s is not a setting of this"
		    " kind", name);
	if ((*value = getenv(name)) == NULL || **value == '\0') {
		*value = NULL;
		return 0;
	}
	len = snprintf(err, n, "bad setting: ");
	if (len < 0 || (size_t)len >= n)
		len = 0;
	if (setting_check(*s, *value, err + len, n - len) == -1)
		return -1;
	return 0;
}

int
setting_num_err(const char *name, uint64_t *out, char *err, size_t n)
{
	const struct setting	*s;
	const char		*v;

	*out = 0;
	if (reader(name, SETTING_NUM, &s, &v, err, n) == -1)
		return -1;
	*out = s->def;
	return v == NULL ? 0 : num_parse(v, s->min, s->max, out);
}

int
setting_flag_err(const char *name, int *out, char *err, size_t n)
{
	const struct setting	*s;
	const char		*v;

	*out = 0;
	if (reader(name, SETTING_FLAG, &s, &v, err, n) == -1)
		return -1;
	return v == NULL ? 0 : flag_parse(v, out);
}

int
setting_text_err(const char *name, const char **out, char *err, size_t n)
{
	const struct setting	*s;

	return reader(name, SETTING_TEXT, &s, out, err, n);
}

/* The readers that log what is wrong: most programs' way. */
static int
logged(int r, const char *err)
{
	if (r == -1)
		log_warn("%s", err);
	return r;
}

int
setting_num(const char *name, uint64_t *out)
{
	char	err[SETTING_ERR_MAX];

	return logged(setting_num_err(name, out, err, sizeof(err)), err);
}

int
setting_flag(const char *name, int *out)
{
	char	err[SETTING_ERR_MAX];

	return logged(setting_flag_err(name, out, err, sizeof(err)), err);
}

int
setting_text(const char *name, const char **out)
{
	char	err[SETTING_ERR_MAX];

	return logged(setting_text_err(name, out, err, sizeof(err)), err);
}

int
setting_path(const char *name, const char *def, const char **out)
{
	if (setting_text(name, out) == -1)
		return -1;
	if (*out == NULL)
		*out = def;
	return 0;
}

int
setting_expire(const char **text, int64_t *days)
{
	const struct setting	*s;
	char			 err[SETTING_ERR_MAX];

	*days = SETTING_EXPIRE_NEVER;
	if (logged(reader("POP3D_EXPIRE", SETTING_EXPIRE, &s, text, err,
	    sizeof(err)), err) == -1)
		return -1;
	if (*text != NULL)
		(void)expire_parse(s, *text, days);
	return 0;
}

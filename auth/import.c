/*
 * Parsing what pop3d-users import reads (import.h): no crypt(3) here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nettle/base64.h>

#include "import.h"
#include "num.h"
#include "user.h"

/* The fields of a passwd-file line that pop3d takes: name to home. */
#define IMPORT_FIELDS	6

/*
 * Dovecot's crypt(3) schemes, with the prefix their hash must have
 * ("": any crypt(3) takes).  yescrypt has no scheme of its own: it is
 * {CRYPT} or no scheme, "$y$".
 */
static const struct {
	const char	*scheme;
	const char	*prefix;
} crypt_schemes[] = {
	{ "CRYPT",		"" },
	{ "DES-CRYPT",		"" },
	{ "MD5-CRYPT",		"$1$" },
	{ "SHA256-CRYPT",	"$5$" },
	{ "SHA512-CRYPT",	"$6$" },
	{ "BLF-CRYPT",		"$2" },
	{ NULL,			NULL }
};

static int
fail(const char **why, const char *reason)
{
	*why = reason;
	errno = EINVAL;
	return -1;
}

/* Splits line at its first n - 1 colons into f: the fields found. */
static size_t
split(char *line, char **f, size_t n)
{
	size_t	i = 0;
	char	*colon;

	for (;;) {
		f[i++] = line;
		if (i == n || (colon = strchr(line, ':')) == NULL)
			return i;
		*colon = '\0';
		line = colon + 1;
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* {PLAIN.HEX}: the decoded password into e->plain, 0 or -1. */
static int
decode_hex(const char *s, struct import_entry *e)
{
	size_t	len = strlen(s), i;
	int	hi, lo;

	if (len % 2 != 0 || len / 2 > USERS_PASSWORD_MAX)
		return -1;
	for (i = 0; i < len / 2; i++) {
		if ((hi = hexval(s[2 * i])) < 0 ||
		    (lo = hexval(s[2 * i + 1])) < 0 || (hi == 0 && lo == 0))
			return -1;
		e->plain[i] = (char)(hi << 4 | lo);
	}
	e->plain[i] = '\0';
	return 0;
}

/* {PLAIN.B64}: the decoded password into e->plain, 0 or -1. */
static int
decode_b64(const char *s, struct import_entry *e)
{
	struct base64_decode_ctx	 ctx;
	uint8_t				 out[BASE64_DECODE_LENGTH(
					    USERS_PASSWORD_MAX * 2)];
	size_t				 len = strlen(s), n = sizeof(out);

	if (len > USERS_PASSWORD_MAX * 2)
		return -1;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &n, out, len, s) ||
	    !base64_decode_final(&ctx) || n > USERS_PASSWORD_MAX ||
	    memchr(out, '\0', n) != NULL) {
		explicit_bzero(out, sizeof(out));
		return -1;
	}
	memcpy(e->plain, out, n);
	e->plain[n] = '\0';
	explicit_bzero(out, sizeof(out));
	return 0;
}

/* A password in the clear, in the encoding the scheme's suffix names. */
static int
plain(char *s, const char *enc, struct import_entry *e, const char **why)
{
	e->kind = IMPORT_PLAIN;
	if (enc == NULL) {
		if (strlen(s) > USERS_PASSWORD_MAX)
			return fail(why, "password longer than PASS carries");
		e->pass = s;
	} else if (strcmp(enc, "HEX") == 0) {
		if (decode_hex(s, e) == -1)
			return fail(why, "bad hex password (or too long)");
		e->pass = e->plain;
	} else if (strcmp(enc, "B64") == 0 || strcmp(enc, "BASE64") == 0) {
		if (decode_b64(s, e) == -1)
			return fail(why, "bad base64 password (or too long)");
		e->pass = e->plain;
	} else
		return fail(why, "unknown password encoding");
	if (*e->pass == '\0')
		e->kind = IMPORT_LOCKED;
	return 0;
}

/* A crypt(3) hash of a scheme that says which method it is. */
static int
crypted(char *s, size_t i, struct import_entry *e, const char **why)
{
	const char	*prefix = crypt_schemes[i].prefix;

	e->pass = s;
	if (*s == '\0' || user_hash_locked(s)) {
		e->kind = IMPORT_LOCKED;
		return 0;
	}
	e->kind = IMPORT_HASH;
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		return fail(why, "the hash is not of its scheme's method");
	return 0;
}

int
import_password(char *s, const char *dflt, struct import_entry *e,
    const char **why)
{
	const char	*scheme = dflt;
	char		*end, *enc;
	size_t		 i;

	e->kind = IMPORT_SCHEME;
	e->pass = s;
	if (s[0] == '{' && (end = strchr(s, '}')) != NULL) {
		if ((size_t)(end - s - 1) >= sizeof(e->scheme) || end == s + 1)
			return fail(why, "bad {SCHEME}");
		*end = '\0';
		scheme = s + 1;
		s = end + 1;
	}
	snprintf(e->scheme, sizeof(e->scheme), "%s", scheme);
	/* Dovecot's scheme names are case-insensitive. */
	for (i = 0; e->scheme[i] != '\0'; i++)
		if (e->scheme[i] >= 'a' && e->scheme[i] <= 'z')
			e->scheme[i] -= 'a' - 'A';
	if ((enc = strchr(e->scheme, '.')) != NULL)
		*enc++ = '\0';
	if (strcmp(e->scheme, "PLAIN") == 0 || strcmp(e->scheme, "CLEAR") == 0)
		return plain(s, enc, e, why);
	for (i = 0; crypt_schemes[i].scheme != NULL; i++)
		if (enc == NULL && strcmp(e->scheme,
		    crypt_schemes[i].scheme) == 0)
			return crypted(s, i, e, why);
	if (enc != NULL)
		enc[-1] = '.';
	e->pass = s;
	return 0;
}

static int
id_field(const char *s, unsigned long *v)
{
	uint64_t	n;

	if (num_parse(s, 0, USERS_ID_MAX, &n) == -1)
		return -1;
	*v = (unsigned long)n;
	return 0;
}

/*
 * name, uid, gid and home of the fields f[0], f[2], f[3], f[5]; with
 * optional (Dovecot's, whose userdb may give them), an empty one is
 * left unset for the command's defaults.
 */
static int
account(char **f, int optional, struct import_entry *e, const char **why)
{
	e->name = f[0];
	if (!user_name_valid(f[0]))
		return fail(why, "bad user name");
	if ((e->uid_set = !optional || f[2][0] != '\0') &&
	    id_field(f[2], &e->uid) == -1)
		return fail(why, "bad uid");
	if ((e->gid_set = !optional || f[3][0] != '\0') &&
	    id_field(f[3], &e->gid) == -1)
		return fail(why, "bad gid");
	if (optional && f[5][0] == '\0')
		return 0;
	if (f[5][0] != '/')
		return fail(why, "bad home (an absolute path)");
	e->home = f[5];
	return 0;
}

int
import_dovecot(char *line, struct import_entry *e, const char **why)
{
	static char	 empty[] = "";
	char		*f[IMPORT_FIELDS + 1];
	size_t		 n;

	memset(e, 0, sizeof(*e));
	*why = NULL;
	if (user_line_blank(line))
		return 1;
	if (strlen(line) > IMPORT_LINE_MAX)
		return fail(why, "line too long");
	n = split(line, f, IMPORT_FIELDS + 1);
	e->name = f[0];
	if (n < 2)
		return fail(why, "no password field (user:{SCHEME}pass[:uid:gid:"
		    "gecos:home:...])");
	/* Fields left out at the end are as empty ones. */
	while (n < IMPORT_FIELDS)
		f[n++] = empty;
	if (account(f, 1, e, why) == -1)
		return -1;
	return import_password(f[1], "CRYPT", e, why);
}

int
import_passwd(char *line, struct import_entry *e, const char **why)
{
	char	*f[IMPORT_FIELDS + 1];

	memset(e, 0, sizeof(*e));
	*why = NULL;
	if (user_line_blank(line))
		return 1;
	if (strlen(line) > IMPORT_LINE_MAX)
		return fail(why, "line too long");
	e->name = line;
	/* NIS's "+" and "-" lines name no account of this file. */
	if (line[0] == '+' || line[0] == '-')
		return 1;
	if (split(line, f, IMPORT_FIELDS + 1) != IMPORT_FIELDS + 1)
		return fail(why, "too few fields (name:x:uid:gid:gecos:home:"
		    "shell)");
	e->kind = IMPORT_LOCKED;
	e->pass = "";
	return account(f, 0, e, why);
}

int
import_shadow(char *line, const char **name, struct import_entry *e,
    const char **why)
{
	char	*f[3];

	*why = NULL;
	*name = line;
	if (user_line_blank(line))
		return 1;
	if (strlen(line) > IMPORT_LINE_MAX)
		return fail(why, "line too long");
	if (line[0] == '+' || line[0] == '-')
		return 1;
	if (split(line, f, 3) < 2)
		return fail(why, "too few fields (name:hash:...)");
	*name = f[0];
	e->kind = IMPORT_LOCKED;
	e->pass = f[1];
	snprintf(e->scheme, sizeof(e->scheme), "CRYPT");
	/* A shadow hash is crypt(3)'s, or locked; a "{" is no scheme. */
	if (f[1][0] != '\0' && !user_hash_locked(f[1]))
		e->kind = IMPORT_HASH;
	return 0;
}

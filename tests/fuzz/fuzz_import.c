/*
 * libFuzzer target for pop3d-users import's line parsers (auth/import.c):
 * a Dovecot passwd-file line, a passwd and a shadow line, as an attacker
 * who writes the file might make them.  A line taken has a valid name,
 * an absolute home or none (Dovecot's, for -h), ids in bounds or unset,
 * and a password of its kind: a plain one no longer than PASS carries;
 * a refused one says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "num.h"
#include "pop3d_limits.h"
#include "user.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char			line[IMPORT_LINE_MAX + 2];
static struct import_entry	e;

static void
load(const uint8_t *data, size_t size)
{
	memcpy(line, data, size);
	line[size] = '\0';
}

static void
check_entry(int r, const char *why)
{
	if (r == -1) {
		if (why == NULL)
			abort();
		return;
	}
	if (r != 0)
		return;
	if (!user_name_valid(e.name) || (e.home != NULL && e.home[0] != '/') ||
	    e.uid > USERS_ID_MAX || e.gid > USERS_ID_MAX || e.pass == NULL)
		abort();
	if ((!e.uid_set && e.uid != 0) || (!e.gid_set && e.gid != 0))
		abort();
	if (memchr(e.scheme, '\0', sizeof(e.scheme)) == NULL)
		abort();
	if (e.kind == IMPORT_PLAIN && (strlen(e.pass) > USERS_PASSWORD_MAX ||
	    e.pass[0] == '\0'))
		abort();
	if (e.kind == IMPORT_HASH && (e.pass[0] == '\0' ||
	    user_hash_locked(e.pass)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*why, *name;
	int		 r;

	if (size > IMPORT_LINE_MAX + 1 || memchr(data, '\0', size) != NULL)
		return 0;
	load(data, size);
	r = import_dovecot(line, &e, &why);
	if (r == 0 && strlen(line) > IMPORT_LINE_MAX)
		abort();
	check_entry(r, why);
	load(data, size);
	r = import_passwd(line, &e, &why);
	/* passwd gives every field: none is left for a default. */
	if (r == 0 && (!e.uid_set || !e.gid_set || e.home == NULL))
		abort();
	check_entry(r, why);
	load(data, size);
	r = import_shadow(line, &name, &e, &why);
	if (r == -1 && why == NULL)
		abort();
	if (r == 0 && (name == NULL || e.pass == NULL || (e.kind !=
	    IMPORT_HASH && e.kind != IMPORT_LOCKED)))
		abort();
	return 0;
}

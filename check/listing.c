/*
 * The settings, listed and checked with the table of lib/settings.c; with
 * an address, the rule of rules.cdb that the front would apply to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "addr.h"
#include "check.h"
#include "pop3d_limits.h"
#include "rules.h"
#include "settings.h"

/* Levenshtein distance, small: for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, prev, cur, d[64];

	if (la >= 64 || lb >= 64)
		return 64;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[0];
		d[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (cur + 1 < d[j])
				d[j] = cur + 1;
			prev = cur;
		}
	}
	return d[lb];
}

/*
 * The one POP3D_ name outside the table: pop3d exports it to the chain
 * (pop3d-auth.8), so a check run from inside a chain may see it.
 */
static int
chain_name(const char *name)
{
	return strcmp(name, "POP3D_PREAUTH_UID") == 0;
}

/* Every POP3D_ name of the environment that no program reads. */
static void
check_unknown(void)
{
	extern char		**environ;
	const struct setting	*s, *best;
	char			 name[8 + CHECK_NAME_MAX + 1];
	size_t			 i, n, d, bestd;

	for (i = 0; environ[i] != NULL; i++) {
		if (strncmp(environ[i], "POP3D_", 6) != 0)
			continue;
		n = strcspn(environ[i], "=");
		if (n >= sizeof(name) - 8)
			n = sizeof(name) - 9;
		memcpy(name, environ[i], n);
		name[n] = '\0';
		if (setting_find(name) != NULL || chain_name(name))
			continue;
		best = NULL;
		bestd = 4;
		for (n = 0; (s = setting_at(n)) != NULL; n++)
			if ((d = distance(name, s->name)) < bestd) {
				bestd = d;
				best = s;
			}
		memmove(name + 8, name, strlen(name) + 1);
		memcpy(name, "setting ", 8);
		if (best != NULL)
			say("error", name, "unknown setting, no program reads"
			    " it (did you mean %s?)", best->name);
		else
			say("error", name, "unknown setting, no program reads"
			    " it (pop3d-check(8) lists them)");
	}
}

/* The rule for address, into r: 1, 0 for none, -1 after an error line. */
static int
rule_for(const char *address, struct rule *r)
{
	struct rulesdb	 db;
	struct addr	 a;
	const char	*path = check_value("POP3D_RULES");
	int		 n;

	if (addr_parse(address, &a) == -1) {
		say("error", "address", "%s: not an IPv4 or IPv6 address",
		    address);
		return -1;
	}
	if (path == NULL || *path == '\0') {
		say("ok", "rule", "%s: none (POP3D_RULES is empty)", address);
		return 0;
	}
	if ((n = rulesdb_open(&db, path)) != 0) {
		say("error", "rule", "%s: %s: %s", address, path, n == -2 ?
		    "damaged or not a pop3d rules database" : strerror(errno));
		return -1;
	}
	n = rulesdb_lookup(&db, &a, r);
	rulesdb_close(&db);
	if (n < 0) {
		say("error", "rule", "%s: %s: %s", address, path, n == -2 ?
		    "damaged record" : strerror(errno));
		return -1;
	}
	if (n == 0)
		say("ok", "rule", "%s: no rule matches (allowed, no settings)",
		    address);
	else
		say("ok", "rule", "%s: line %lu, pattern \"%s\", %s", address,
		    r->line, r->pattern, r->action == RULE_DENY ? "deny" :
		    "allow");
	return n;
}

/*
 * Every setting of the table with its value and where it came from, each
 * checked with setting_check; with address, the rule's settings over the
 * environment, as the front applies them.
 */
void
check_settings(const char *address)
{
	static struct rule	 r;
	const struct setting	*s;
	const char		*v, *from;
	char			 why[256], num[32], what[64], rule[40];
	size_t			 i, j, n;
	int			 have = 0;

	check_unknown();
	if (address != NULL && (have = rule_for(address, &r)) == 1 &&
	    r.action != RULE_DENY && rule_settings_check(&r, why,
	    sizeof(why)) == -1)
		say("error", "rule", "line %lu: %s", r.line, why);
	for (i = 0; (s = setting_at(i)) != NULL; i++) {
		v = getenv(s->name);
		from = "environment";
		for (j = 0; have == 1 && j < r.nsettings; j++) {
			n = strcspn(r.settings[j], "=");
			if (strncmp(r.settings[j], s->name, n) == 0 &&
			    s->name[n] == '\0') {
				v = r.settings[j] + n + 1;
				snprintf(rule, sizeof(rule), "rule line %lu",
				    r.line);
				from = rule;
			}
		}
		snprintf(what, sizeof(what), "setting %s", s->name);
		if (v != NULL && *v != '\0') {
			if (setting_check(s, v, why, sizeof(why)) == -1)
				say("error", what, "%s (%s): %s", v, from, why);
			else
				say("ok", what, "%s (%s)", v, from);
			continue;
		}
		if (s->kind == SETTING_NUM && s->def != SETTING_UNSET) {
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)s->def);
			v = num;
		} else
			v = setting_default_text(s);
		say("ok", what, "%s (default)", v != NULL ? v : "unset");
	}
	/* Its bad values are the lines above; the combinations are not. */
	if (settings_env_check(why, sizeof(why)) == -1 &&
	    strstr(why, "must be") == NULL)
		say("error", "settings", "%s", why);
}

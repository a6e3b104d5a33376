/*
 * libFuzzer target for the rules file's parser and the database record
 * check: whatever a line holds, a parsed rule keeps every limit, covers
 * masked blocks only and survives its record's round trip; whatever a
 * record holds, one that passes the check encodes back to the same octets.
 * The settings check (the table of settings.h) gives a reason whenever it
 * refuses, and what it accepts every program's reader accepts too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "rules.h"
#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct rule_src	src;
static struct rule	back;
static unsigned char	rec[RULE_RECORD_MAX], again[RULE_RECORD_MAX];
static char		line[RULES_LINE_MAX + 3];

static void
check_blocks(const struct rule_src *s)
{
	struct addr	m;
	size_t		i, j;

	if (s->nblocks < 1 || s->nblocks > RULE_BLOCKS_MAX)
		abort();
	for (i = 0; i < s->nblocks; i++) {
		m = s->block[i].prefix;
		if ((m.family != 4 && m.family != 6) || s->block[i].len < 0 ||
		    s->block[i].len > addr_bits(&m))
			abort();
		addr_mask(&m, s->block[i].len);
		if (memcmp(&m, &s->block[i].prefix, sizeof(m)) != 0)
			abort();
		for (j = 0; j < i; j++)
			if (s->block[j].len == s->block[i].len &&
			    memcmp(&s->block[j].prefix, &m, sizeof(m)) == 0)
				abort();
	}
}

static void
check_rule(const struct rule *r)
{
	size_t	i, n;

	if (r->action != RULE_ALLOW && r->action != RULE_DENY)
		abort();
	if (strlen(r->pattern) > RULE_PATTERN_MAX ||
	    r->nsettings > RULE_SETTINGS_MAX)
		abort();
	for (i = 0; i < r->nsettings; i++) {
		n = strcspn(r->settings[i], "=");
		if (r->settings[i][n] != '=' ||
		    !rule_name_valid(r->settings[i], n) ||
		    strlen(r->settings[i] + n + 1) > RULE_VALUE_MAX)
			abort();
		if (r->settings[i] < r->buf ||
		    r->settings[i] >= r->buf + sizeof(r->buf))
			abort();
	}
}

/* Each setting of a parsed rule, against the table and the parsers. */
static void
check_settings(const struct rule *r)
{
	const struct setting	*st;
	char			 err[256], name[RULE_NAME_MAX + 1];
	const char		*v;
	size_t			 i, n;
	uint64_t		 num;
	int			 bad = 0, flag;

	err[0] = '\0';
	if (rule_settings_check(r, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	for (i = 0; i < r->nsettings; i++) {
		n = strcspn(r->settings[i], "=");
		memcpy(name, r->settings[i], n);
		name[n] = '\0';
		v = r->settings[i] + n + 1;
		if ((st = setting_find(name)) == NULL || st->norule != NULL)
			abort();
		if (*v == '\0')
			continue;
		if (st->kind == SETTING_NUM)
			bad = num_parse(v, st->min, st->max, &num) == -1;
		else if (st->kind == SETTING_FLAG)
			bad = flag_parse(v, &flag) == -1;
		else if (st->kind != SETTING_ENUM && st->kind != SETTING_EXPIRE)
			bad = !text_valid(v, st->max, st->kind ==
			    SETTING_LIST);
		if (bad)
			abort();
	}
}

static void
fuzz_line(const uint8_t *data, size_t size)
{
	char	err[256];
	size_t	len, i;
	int	r;

	if (size > sizeof(line) - 1)
		size = sizeof(line) - 1;
	memcpy(line, data, size);
	line[size] = '\0';
	r = rule_parse(line, 7, &src, err, sizeof(err));
	if (r == -1) {
		if (err[0] == '\0' || src.nblocks != 0)
			abort();
		return;
	}
	if (r == 0)
		return;
	if (r != 1)
		abort();
	check_blocks(&src);
	check_rule(&src.rule);
	if (strncmp(line, src.rule.pattern, strlen(src.rule.pattern)) != 0)
		abort();
	if ((len = rule_encode(&src.rule, rec)) == 0)
		abort();
	if (rule_decode(rec, len, &back) == -1 ||
	    back.action != src.rule.action || back.line != 7 ||
	    strcmp(back.pattern, src.rule.pattern) != 0 ||
	    back.nsettings != src.rule.nsettings)
		abort();
	for (i = 0; i < back.nsettings; i++)
		if (strcmp(back.settings[i], src.rule.settings[i]) != 0)
			abort();
	check_settings(&src.rule);
}

/* The input as a value of every setting: a refusal always says why. */
static void
fuzz_value(const uint8_t *data, size_t size)
{
	const struct setting	*st;
	char			 err[256];
	size_t			 i;

	if (size > RULE_VALUE_MAX)
		return;
	memcpy(line, data, size);
	line[size] = '\0';
	for (i = 0; (st = setting_at(i)) != NULL; i++) {
		err[0] = '\0';
		if (setting_check(st, line, err, sizeof(err)) == -1 &&
		    err[0] == '\0')
			abort();
	}
}

static void
fuzz_record(const uint8_t *data, size_t size)
{
	size_t	len;

	if (size > sizeof(rec))
		return;
	if (rule_decode(data, size, &back) == -1)
		return;
	check_rule(&back);
	/* The record format has one spelling of each rule. */
	len = rule_encode(&back, again);
	if (len != size || memcmp(again, data, size) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_line(data, size);
	fuzz_record(data, size);
	fuzz_value(data, size);
	return 0;
}

/*
 * libFuzzer target for the POP3 command parser and the dispatch refusals,
 * with the invariants any parse must keep.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static enum pop3_next
fn(void *ctx, struct pop3_cmd *c)
{
	(void)ctx;
	(void)c;
	return POP3_CONTINUE;
}

static const struct pop3_verb table[] = {
	{ "LIST", 0, 1, "LIST [msg]", fn },
	{ "TOP", 2, 2, "TOP msg lines", fn },
	{ "PASS", 1, 99, "PASS secret", fn },
	{ NULL, 0, 0, NULL, NULL }
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			 line[POP3_LINE_TEXT_MAX + 1], buf[POP3_REPLY_MAX];
	struct pop3_cmd		 cmd;
	const struct pop3_verb	*v;
	const char		*r;
	enum pop3_parse		 p;
	int			 i;

	if (size > POP3_LINE_TEXT_MAX)
		size = POP3_LINE_TEXT_MAX;
	memcpy(line, data, size);
	line[size] = '\0';
	p = pop3_parse(line, size, &cmd);
	if (p == POP3_PARSED) {
		if (strlen(cmd.verb) == 0 || strlen(cmd.verb) > POP3_VERB_MAX)
			abort();
		if (cmd.nargs < 0 || (size_t)cmd.nargs > size)
			abort();
		for (i = 0; i < cmd.nargs && i < POP3_ARGS_MAX; i++)
			if (strlen(cmd.argv[i]) == 0 ||
			    strchr(cmd.argv[i], ' ') != NULL)
				abort();
		if (*cmd.rest != '\0' && (cmd.rest < line ||
		    cmd.rest > line + size))
			abort();
	}
	v = p == POP3_PARSED ? pop3_lookup(table, cmd.verb) : NULL;
	r = pop3_refusal(p, v, &cmd, buf, sizeof(buf));
	if (r != NULL && (strncmp(r, "-ERR ", 5) != 0 ||
	    strlen(r) >= POP3_REPLY_MAX - 2))
		abort();
	return 0;
}

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pop3.h"

/* The parser may hand out pointers into its line: a writable copy. */
static char	copy[POP3_LINE_TEXT_MAX + 1];

static enum pop3_parse
parse(const char *s, struct pop3_cmd *c)
{
	snprintf(copy, sizeof(copy), "%s", s);
	return pop3_parse(copy, strlen(copy), c);
}

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
	{ NULL, 0, 0, NULL, NULL }
};

/* What pop3_run would answer to a line, or "" when it is accepted. */
static const char *
verdict(const char *line)
{
	static char		 buf[POP3_REPLY_MAX];
	static struct pop3_cmd	 c;
	enum pop3_parse		 p = parse(line, &c);
	const struct pop3_verb	*v;
	const char		*r;

	v = p == POP3_PARSED ? pop3_lookup(table, c.verb) : NULL;
	r = pop3_refusal(p, v, &c, buf, sizeof(buf));
	return r != NULL ? r : "";
}

int
main(void)
{
	struct pop3_cmd	c;
	char		line[POP3_LINE_TEXT_MAX + 1];

	CHECK(parse("STAT", &c) == POP3_PARSED);
	CHECK_STR(c.verb, "STAT");
	CHECK(c.nargs == 0);
	CHECK_STR(c.rest, "");

	/* Case-insensitive verbs; arguments keep their case. */
	CHECK(parse("rEtR 12", &c) == POP3_PARSED);
	CHECK_STR(c.verb, "RETR");
	CHECK(c.nargs == 1);
	CHECK_STR(c.argv[0], "12");

	/* Runs of spaces, leading and trailing spaces. */
	CHECK(parse("  top   1    10  ", &c) == POP3_PARSED);
	CHECK_STR(c.verb, "TOP");
	CHECK(c.nargs == 2);
	CHECK_STR(c.argv[0], "1");
	CHECK_STR(c.argv[1], "10");

	/* PASS keeps its raw text, spaces and all. */
	CHECK(parse("PASS  my secret ", &c) == POP3_PARSED);
	CHECK_STR(c.rest, " my secret ");
	CHECK(c.nargs == 2);

	/* Counting goes on past the stored words. */
	CHECK(parse("LIST 1 2 3 4 5", &c) == POP3_PARSED);
	CHECK(c.nargs == 5);
	CHECK_STR(c.argv[1], "2");

	CHECK(parse("", &c) == POP3_EMPTY);
	CHECK(parse("    ", &c) == POP3_EMPTY);
	CHECK(pop3_parse("ST\0T", 4, &c) == POP3_BADCHAR);
	CHECK(pop3_parse("LIST 1\0", 7, &c) == POP3_BADCHAR);
	CHECK(parse("LIST\r1", &c) == POP3_BADCHAR);
	CHECK(parse("LIST\t1", &c) == POP3_BADCHAR);
	CHECK(parse("LIST 1\r", &c) == POP3_BADCHAR);
	CHECK(parse("LIST\n", &c) == POP3_BADCHAR);
	CHECK(parse("ST4T", &c) == POP3_BADVERB);
	CHECK(parse("LONGVERBX", &c) == POP3_BADVERB);
	CHECK(parse("LONGVERB", &c) == POP3_PARSED);
	CHECK(parse("\xc3\xa9TAT", &c) == POP3_BADVERB);
	CHECK(parse("USER j\xc3\xa9r\xc3\xb4me", &c) == POP3_PARSED);
	CHECK_STR(c.argv[0], "j\xc3\xa9r\xc3\xb4me");

	/* A line of the most that may come through is parsed whole. */
	memset(line, 'a', POP3_LINE_TEXT_MAX);
	memcpy(line, "USER ", 5);
	line[POP3_LINE_TEXT_MAX] = '\0';
	CHECK(pop3_parse(line, POP3_LINE_TEXT_MAX, &c) == POP3_PARSED);
	CHECK(c.nargs == 1 && strlen(c.argv[0]) == POP3_LINE_TEXT_MAX - 5);

	/* Dispatch refusals. */
	CHECK_STR(verdict("LIST"), "");
	CHECK_STR(verdict("list 3"), "");
	CHECK_STR(verdict("LIST 1 2"),
	    "-ERR too many arguments; usage: LIST [msg]");
	CHECK_STR(verdict("TOP 1"), "-ERR missing argument; usage: TOP msg lines");
	CHECK_STR(verdict("TOP 1 2 3"),
	    "-ERR too many arguments; usage: TOP msg lines");
	CHECK_STR(verdict("USER bob"), "-ERR command not valid in this state");
	CHECK_STR(verdict("FROB"), "-ERR unknown command");
	CHECK_STR(verdict("12"), "-ERR unknown command");
	CHECK_STR(verdict(""), "-ERR empty command");
	CHECK_STR(verdict("LI\x01ST"), "-ERR control character in command");
	CHECK(pop3_lookup(table, "LIS") == NULL);
	CHECK(pop3_known_verb("UIDL") && !pop3_known_verb("UID"));
	return check_done();
}

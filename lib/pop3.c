#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io.h"
#include "log.h"
#include "pop3.h"
#include "settings.h"

enum pop3_parse
pop3_parse(char *line, size_t len, struct pop3_cmd *cmd)
{
	size_t	i, v;
	char	*w;

	cmd->verb[0] = '\0';
	cmd->rest = line + len;
	cmd->nargs = 0;
	if (len > POP3_LINE_TEXT_MAX)
		len = POP3_LINE_TEXT_MAX;
	for (i = 0; i < len; i++) {
		unsigned char c = line[i];
		if (c < 0x20 || c == 0x7f)
			return POP3_BADCHAR;
	}
	for (i = 0; i < len && line[i] == ' '; i++)
		;
	if (i == len)
		return POP3_EMPTY;
	for (v = 0; i < len && line[i] != ' '; i++, v++) {
		char c = line[i];
		if (v >= POP3_VERB_MAX ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return POP3_BADVERB;
		cmd->verb[v] = c & ~0x20;
	}
	cmd->verb[v] = '\0';
	if (i < len)
		cmd->rest = line + i + 1;

	/* Words: copy the remainder, then cut it at each run of spaces. */
	memcpy(cmd->words, line + i, len - i);
	cmd->words[len - i] = '\0';
	for (w = cmd->words; *w != '\0';) {
		while (*w == ' ')
			w++;
		if (*w == '\0')
			break;
		if (cmd->nargs < POP3_ARGS_MAX)
			cmd->argv[cmd->nargs] = w;
		cmd->nargs++;
		while (*w != '\0' && *w != ' ')
			w++;
		if (*w == ' ')
			*w++ = '\0';
	}
	return POP3_PARSED;
}

const struct pop3_verb *
pop3_lookup(const struct pop3_verb *t, const char *verb)
{
	for (; t->name != NULL; t++)
		if (strcmp(t->name, verb) == 0)
			return t;
	return NULL;
}

int
pop3_known_verb(const char *verb)
{
	static const char *const all[] = {
		"APOP", "AUTH", "CAPA", "DELE", "LANG", "LIST", "NOOP",
		"PASS", "QUIT", "RETR", "RSET", "STAT", "STLS", "TOP",
		"UIDL", "USER", "UTF8", "XTND", NULL
	};
	int	i;

	for (i = 0; all[i] != NULL; i++)
		if (strcmp(all[i], verb) == 0)
			return 1;
	return 0;
}

const char *
pop3_refusal(enum pop3_parse p, const struct pop3_verb *v,
    struct pop3_cmd *cmd, char *buf, size_t n)
{
	switch (p) {
	case POP3_EMPTY:
		return "-ERR empty command";
	case POP3_BADCHAR:
		return "-ERR control character in command";
	case POP3_BADVERB:
		return "-ERR unknown command";
	case POP3_PARSED:
		break;
	}
	if (v == NULL)
		return pop3_known_verb(cmd->verb) ?
		    "-ERR command not valid in this state" :
		    "-ERR unknown command";
	if (cmd->nargs < v->min_args || cmd->nargs > v->max_args) {
		if ((size_t)snprintf(buf, n, "-ERR %s; usage: %s",
		    cmd->nargs < v->min_args ? "missing argument" :
		    "too many arguments", v->usage) >= n)
			return "-ERR wrong arguments";
		return buf;
	}
	return NULL;
}

/* The end of a loop on a line that never came; says goodbye if it fits. */
static enum pop3_end
pop3_stop(struct out *out, enum in_status st)
{
	switch (st) {
	case IN_HOSTILE:
		out_line(out, "-ERR command line far too long; closing");
		out_flush(out);
		return POP3_END_HOSTILE;
	case IN_TIMEOUT:
		out_line(out, "-ERR idle for too long; closing");
		out_flush(out);
		return POP3_END_TIMEOUT;
	case IN_SIGNAL:
		out_line(out, "-ERR [SYS/TEMP] server shutting down; closing");
		out_flush(out);
		return POP3_END_SIGNAL;
	case IN_EOF:
		out_flush(out);
		return POP3_END_EOF;
	default:
		return POP3_END_IOERR;
	}
}

/* A line may have been PASS: no copy of it outlives its handling. */
static void
pop3_forget(struct in *in, char *line, struct pop3_cmd *cmd)
{
	explicit_bzero(line, POP3_CMD_MAX);
	explicit_bzero(cmd->words, sizeof(cmd->words));
	in_forget(in);
}

/* POP3D_DEBUG as read once, for the process and the children it forks. */
static int	debug = -1;

int
pop3_debug_read(void)
{
	int	on;

	if (setting_flag("POP3D_DEBUG", &on) == -1) {
		debug = 0;
		return -1;
	}
	debug = on;
	return 0;
}

int
pop3_debug(void)
{
	if (debug == -1)
		(void)pop3_debug_read();
	return debug;
}

void
pop3_debug_client(const char *line, const struct pop3_cmd *cmd, int parsed)
{
	struct logline	l;
	char		buf[POP3_CMD_MAX + 16];

	if (!pop3_debug())
		return;
	if (line == NULL)
		snprintf(buf, sizeof(buf), "(a SASL response, hidden)");
	else if (!parsed)	/* a mistyped PASS is no less secret */
		snprintf(buf, sizeof(buf), "(not a command: %zu octets, hidden)",
		    strlen(line));
	else if (strcmp(cmd->verb, "PASS") == 0)
		snprintf(buf, sizeof(buf), "PASS (hidden)");
	else if (strcmp(cmd->verb, "APOP") == 0 && cmd->nargs > 0)
		snprintf(buf, sizeof(buf), "APOP %s (hidden)", cmd->argv[0]);
	else if (strcmp(cmd->verb, "AUTH") == 0 && cmd->nargs > 1)
		snprintf(buf, sizeof(buf), "AUTH %s (hidden)", cmd->argv[0]);
	else if (!pop3_known_verb(cmd->verb) && cmd->nargs > 0)
		/* "PAS secret", a typo: an unknown verb's words are hidden. */
		snprintf(buf, sizeof(buf), "%s (arguments hidden)", cmd->verb);
	else
		snprintf(buf, sizeof(buf), "%s", line);
	logline_start(&l, "debug");
	logline_str(&l, "client", buf);
	logline_emit(&l);
	explicit_bzero(buf, sizeof(buf));
}

enum pop3_end
pop3_run(struct in *in, struct out *out, const struct pop3_verb *table,
    void *ctx)
{
	char			 line[POP3_CMD_MAX], buf[POP3_REPLY_MAX];
	char			 copy[POP3_CMD_MAX];
	struct pop3_cmd		 cmd;
	const struct pop3_verb	*v;
	const char		*refusal;
	enum pop3_parse		 p;
	enum in_status		 st;
	size_t			 len;

	out->debug = pop3_debug();
	for (;;) {
		st = in_line(in, line, POP3_CMD_MAX, POP3_LINE_HOSTILE, &len);
		if (st == IN_TOOLONG)
			out_line(out, "-ERR command line too long (at most %d"
			    " octets)", POP3_CMD_MAX);
		else if (st != IN_LINE)
			return pop3_stop(out, st);
		else {
			/* The parse cuts the line into words: log it first. */
			if (pop3_debug())
				memcpy(copy, line, len + 1);
			p = pop3_parse(line, len, &cmd);
			if (pop3_debug()) {
				pop3_debug_client(copy, &cmd,
				    p == POP3_PARSED);
				explicit_bzero(copy, sizeof(copy));
			}
			v = p == POP3_PARSED ? pop3_lookup(table, cmd.verb) :
			    NULL;
			refusal = pop3_refusal(p, v, &cmd, buf, sizeof(buf));
			if (refusal != NULL)
				out_line(out, "%s", refusal);
			else if (v->fn(ctx, &cmd) == POP3_END) {
				pop3_forget(in, line, &cmd);
				out_flush(out);
				return POP3_END_HANDLER;
			}
			pop3_forget(in, line, &cmd);
		}
		if (out->failed)
			return io_signalled() ? POP3_END_SIGNAL : POP3_END_IOERR;
	}
}

const char *
pop3_end_name(enum pop3_end e)
{
	switch (e) {
	case POP3_END_HANDLER:
		return "quit";
	case POP3_END_EOF:
		return "eof";
	case POP3_END_TIMEOUT:
		return "timeout";
	case POP3_END_HOSTILE:
		return "hostile";
	case POP3_END_SIGNAL:
		return "signal";
	case POP3_END_IOERR:
		break;
	}
	return "ioerr";
}

/*
 * The one POP3 command parser, and the table-driven dispatch every state
 * uses: a state is a table of verb -> handler with its argument count.
 */
#ifndef POP3D_POP3_H
#define POP3D_POP3_H

#include <stddef.h>

#include "pop3d_limits.h"

struct pop3_cmd {
	char		 verb[POP3_VERB_MAX + 1];	/* upper case */
	char		*rest;		/* raw text after the verb's space */
	int		 nargs;		/* words after the verb, all counted */
	char		*argv[POP3_ARGS_MAX];	/* the first POP3_ARGS_MAX */
	char		 words[POP3_LINE_TEXT_MAX + 1];
};

enum pop3_parse {
	POP3_PARSED,
	POP3_EMPTY,		/* nothing but spaces */
	POP3_BADCHAR,		/* a control character (NUL, CR, TAB...) */
	POP3_BADVERB		/* first word not 1..POP3_VERB_MAX letters */
};

/*
 * Splits a line (without its CRLF, len octets, at most POP3_LINE_TEXT_MAX)
 * into an upper-cased verb and space-separated words; runs of spaces count
 * as one and leading or trailing spaces are ignored.  rest keeps the raw
 * text after the first space following the verb (PASS takes spaces).
 * Octets 0x80-0xFF are allowed in arguments (UTF-8), never in the verb.
 * cmd->rest points into line (at its end when there is nothing after the
 * verb), which must outlive cmd and be NUL-terminated at len; a handler
 * may wipe it.
 */
enum pop3_parse pop3_parse(char *, size_t, struct pop3_cmd *);

/* Handlers answer the client themselves and say what happens next. */
enum pop3_next {
	POP3_CONTINUE,
	POP3_END
};

struct pop3_verb {
	const char	*name;
	int		 min_args, max_args;
	const char	*usage;
	enum pop3_next	(*fn)(void *, struct pop3_cmd *);
};

/* Finds the verb in a table ending with a NULL name, or NULL. */
const struct pop3_verb *pop3_lookup(const struct pop3_verb *, const char *);

/* Whether a verb belongs to POP3 in some state (for "not in this state"). */
int	pop3_known_verb(const char *);

/*
 * The reply to a line that pop3_lookup or the argument count refused, in
 * the form "-ERR ..." without CRLF; NULL when the command is acceptable.
 */
const char *pop3_refusal(enum pop3_parse, const struct pop3_verb *,
	    struct pop3_cmd *, char *, size_t);


struct in;
struct out;

/* How a command loop ended. */
enum pop3_end {
	POP3_END_HANDLER,	/* a handler returned POP3_END (QUIT) */
	POP3_END_EOF,		/* the client closed the connection */
	POP3_END_TIMEOUT,	/* idle past the timeout: told, closed */
	POP3_END_HOSTILE,	/* a line past POP3_LINE_HOSTILE: told, closed */
	POP3_END_SIGNAL,	/* asked to stop by a signal: told, closed */
	POP3_END_IOERR		/* reading or writing failed */
};

/*
 * The command loop of one state: reads lines (at most POP3_CMD_MAX octets;
 * longer ones refused, past POP3_LINE_HOSTILE the session ends), parses,
 * refuses what the table does not allow, and calls the handler with ctx.
 * Replies are flushed whenever no more input is waiting.
 */
enum pop3_end pop3_run(struct in *, struct out *, const struct pop3_verb *,
	    void *);

/*
 * The word the logs use for an ending: quit, eof, timeout, hostile,
 * signal, ioerr.
 */
const char *pop3_end_name(enum pop3_end);

/*
 * POP3D_DEBUG=1: the dialogue goes to the log, the client's lines with
 * every secret hidden (PASS, APOP's digest, AUTH's initial response, a
 * SASL response: line NULL) and the server's status lines (out.debug).
 */
int	pop3_debug(void);
/*
 * Reads POP3D_DEBUG through the settings table, as a program reads its
 * other settings at start: 0, or -1 after logging "bad setting: ..." (the
 * dialogue is then not logged).  pop3_debug reads it if no one has.
 */
int	pop3_debug_read(void);
void	pop3_debug_client(const char *, const struct pop3_cmd *, int);

#endif

/*
 * Logging: one line per event, "program[pid]: event key=value", the pid
 * telling the lines of concurrent sessions apart; on stderr, or syslog
 * for the servers that ask (log_from_env).
 * Values are escaped (control characters, non-ASCII, quote and backslash
 * as \xHH) so that a line stays one line whatever a client or a file name
 * holds, quoted when they hold a space or "=", and cut at LOG_VALUE_MAX.
 * Nothing secret is ever passed here; callers own that promise.
 * When POP3D_SESSION holds a connection's id (the front makes it), every
 * line ends with " session=ID", so that the lines of one connection, from
 * every program of the chain, can be joined.
 */
#ifndef POP3D_LOG_H
#define POP3D_LOG_H

#include <stddef.h>
#include <stdint.h>

#define LOGLINE_MAX	1024

struct logline {
	char	buf[LOGLINE_MAX];
	size_t	len;
	size_t	prefix;		/* "program[pid]: " */
};

/* Remembers the program name used as the prefix of every line. */
void	log_init(const char *);

/*
 * From now on lines say name, syslog's included: a stage that writes a
 * line for the program it was before its exec (endline.h).
 */
void	log_as(const char *);

/*
 * The servers' log destination, POP3D_LOG: "stderr" (the default, for
 * tcpserver, journald, multilog) or "syslog" (facility mail, connected
 * at once).  0, or -1 after logging a bad value (stderr stays).
 */
int	log_from_env(void);

/*
 * For a program that starts a connection (pop3d, pop3d-passwd): a fresh
 * id in POP3D_SESSION, 8 random hex digits, that every line of this
 * process and of the programs it starts then ends with; one the
 * spawner's environment brought is replaced (or removed, when no random
 * octets come: lines without an id, not no service).
 */
void	log_session_new(void);

/* Back to stderr (a process about to chroot and close descriptors). */
void	log_to_stderr(void);

/*
 * Every line from now on goes to fn, as its text without the
 * "program[pid]: " prefix and the newline, not to stderr or syslog: for a
 * confined process whose fd 2 goes nowhere, that has its lines written
 * by a process it cannot impersonate (pop3d's pre-login process).
 */
void	log_to_sink(void (*)(const char *, size_t));

/*
 * For the command-line tools (pop3d-users, pop3d-rules, pop3d-check),
 * whose messages are for a person at a terminal: log_warn and die write
 * their text as it is, "program[pid]: message".  The servers (the
 * default) keep every line an event: see log_warn.
 */
void	log_cli(void);

/*
 * A free-text message: in a server, the line "warning msg=TEXT", the
 * text escaped and quoted as any value (cut only at LOGLINE_MAX); in a
 * tool (log_cli), "message" as it is; to a sink (log_to_sink), the text
 * alone, which the receiver writes as a value of its own event.
 */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * The same, then exit with the given code: in a server the line is
 * "fatal msg=TEXT exit=CODE".
 */
void	die(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/*
 * Called by die() before it exits: the front's way to write its one
 * "end" line whatever ends the connection.
 */
void	log_at_die(void (*)(void));

/* Builds "program: EVENT" and appends key=value pairs; emit writes it. */
void	logline_start(struct logline *, const char *);
void	logline_str(struct logline *, const char *, const char *);
void	logline_num(struct logline *, const char *, uint64_t);
void	logline_emit(struct logline *);

/*
 * "program[pid]: EVENT file=NAME error=STRERROR": a file name is data from
 * outside and goes through the escaping; err 0 leaves error out.  NAME is
 * absolute (log_abspath): a log line says which file, wherever the
 * program ran.
 */
void	log_file(const char *, const char *, int);

/*
 * The absolute form of path for a log line or message: path itself when
 * absolute (or empty, or NULL), else joined to the log_file_base
 * directory if one is set, else to the current directory; into buf (size
 * n), or path when it does not fit or the directory is unknown.
 */
const char *log_abspath(const char *, char *, size_t);

/* Relative names logged from now on are in dir (the maildrop's). */
void	log_file_base(const char *);

/* logline_str of the absolute form of a path. */
void	logline_path(struct logline *, const char *, const char *);

/* Escapes s into dst (size n, always terminated); for tests and callers. */
void	log_escape(char *, size_t, const char *);

/* Writes octet c as "\\xHH" (lower-case hex, no NUL) at dst; returns 4. */
size_t	log_hexbyte(char *, unsigned char);

#endif

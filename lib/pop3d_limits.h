/*
 * Every limit pop3d puts on what it reads, in one place, each with the
 * reason for its value.  A limit that an operator may lower or raise through
 * the environment has its default and its hard bounds here; the man pages
 * quote these numbers.
 */
#ifndef POP3D_LIMITS_H
#define POP3D_LIMITS_H

/*
 * RFC 2449 section 4: a command line is at most 255 octets including the
 * CRLF.  Longer lines are refused with -ERR and the session goes on.  The
 * line end counts as it came: a bare LF leaves 254 octets of text.
 */
#define POP3_CMD_MAX		255

/*
 * No client needs more than a response line's 512 octets (RFC 2449) for a
 * command; a line beyond that is hostile: answered once, logged, and the
 * session ends without reading the rest.
 */
#define POP3_LINE_HOSTILE	512
#define POP3_LINE_TEXT_MAX	(POP3_LINE_HOSTILE - 1)

/* Replies we compose stay within RFC 2449's 512 octets with CRLF. */
#define POP3_REPLY_MAX		512

/*
 * RFC 1939 keywords are 3 or 4 characters; extensions (XTND) stay short.
 * A longer first word cannot name a command we know.
 */
#define POP3_VERB_MAX		8

/* No POP3 command takes more than 2 arguments (TOP, APOP, AUTH). */
#define POP3_ARGS_MAX		2

/*
 * RFC 1939 section 3: the autologout timer is at least 10 minutes.
 * Operators may shorten it (at their clients' risk), never to nothing.
 */
#define POP3_IDLE_DEFAULT	600
#define POP3_IDLE_MIN		1
#define POP3_IDLE_MAX		86400

/*
 * Messages served in one session.  Each costs about 130 bytes of memory
 * and one LIST/UIDL line; past the setting the newest are served (so that
 * new mail shows) and the older wait for a later session.  The hard
 * maximum bounds memory at about 130 MB even when an operator raises it.
 */
#define MAILDROP_MSGS_DEFAULT	200000
#define MAILDROP_MSGS_MIN	1
#define MAILDROP_MSGS_MAX	1000000

/*
 * A size cache larger than this cannot belong to MAILDROP_MSGS_MAX
 * messages (each record is a unique name of at most 255 octets, 32 octets
 * of sizes and identity, and cdb's 24 octets of overhead): it is corrupt.
 */
#define SIZECACHE_FILE_MAX	(MAILDROP_MSGS_MAX * 320L)

/* RFC 1939 section 7: a unique-id is 1 to 70 characters 0x21 to 0x7E. */
#define UIDL_MAX		70

/* EXPIRE (RFC 2449 section 6.7) in days; NEVER is spelled out. */
#define EXPIRE_DAYS_MAX		9999

/* The IMPLEMENTATION capability's text: one short printable line. */
#define IMPLEMENTATION_MAX	64

/*
 * Buffers: input is read in small gulps (commands are short), output and
 * message bodies in large ones so that a multi-line reply goes out in as
 * few writes as possible.
 */
#define IO_INBUF		1024
#define IO_OUTBUF		65536
#define IO_FILEBUF		65536

/* Values quoted in log lines are cut at this length. */
#define LOG_VALUE_MAX		128

#endif

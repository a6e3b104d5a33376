/*
 * XTND XMIT: a message the client sends in the TRANSACTION state, handed
 * to a submission program (sendmail -oi -t by default) with the logged-in
 * user as the envelope sender.  Off unless POP3D_XTND_XMIT=1.
 *
 * The message arrives in POP3's multi-line form (lines ending in CRLF,
 * dot-stuffed, ended by a line holding only "."), is spooled unstuffed
 * with LF line ends to an unlinked file in the maildrop's tmp/, and only
 * a whole message within the limits reaches the program, on its stdin.
 */
#ifndef POP3D_XMIT_H
#define POP3D_XMIT_H

#include <stddef.h>
#include <stdint.h>

#include "pop3.h"
#include "pop3d_limits.h"

struct xmit_settings {
	int		 enabled;
	uint64_t	 max;		/* octets, counted as LIST counts */
	int		 timeout_ms;	/* the whole message */
	int		 run_ms;	/* the submission program */
	char		*argv[XMIT_ARGS_MAX + 1];
	char		 command[XMIT_COMMAND_MAX + 1];
};

/*
 * Reads POP3D_XTND_XMIT and, when it is on, the other POP3D_XMIT_*
 * settings: 0, or -1 after logging the first bad one (XTND XMIT then
 * off; the caller refuses the session).
 */
int	xmit_settings_read(struct xmit_settings *);

/*
 * Splits s in place at runs of spaces into at most max words, argv
 * NULL-terminated (it holds max + 1): the number of words, or -1 when
 * there are none or more than max.
 */
int	xmit_split(char *, char **, size_t);

/*
 * A user name is the envelope sender on the submission program's command
 * line only when user_name_valid (num.h) takes it: the names pop3d-users
 * accepts, never an option.
 */

/* Why a message received whole is not submitted. */
enum xmit_refusal {
	XMIT_ACCEPTED,
	XMIT_TOOLARGE,		/* over max octets */
	XMIT_LONGLINE,		/* a line over XMIT_LINE_TEXT_MAX */
	XMIT_SPOOLERR		/* the spool could not be written; err */
};

/*
 * The receiving side: lines as in_line returns them go in, the spool
 * gets the message unstuffed with LF line ends.  After a refusal the
 * lines are still taken (to find the end) but no longer written.
 */
struct xmit_rx {
	int			 fd;
	uint64_t		 max;
	uint64_t		 octets;	/* CRLF line ends, unstuffed */
	enum xmit_refusal	 refused;	/* the first reason only */
	int			 err;		/* errno of XMIT_SPOOLERR */
	size_t			 len;
	char			 buf[IO_FILEBUF];
};

void	xmit_rx_init(struct xmit_rx *, int, uint64_t);
/* One line without its line end: 1 when it is the final ".", else 0. */
int	xmit_rx_line(struct xmit_rx *, const char *, size_t);
/* A line too long for the line buffer (in_line's IN_TOOLONG). */
void	xmit_rx_toolong(struct xmit_rx *);
/* Writes out what is buffered: 0, or -1 (rx->refused says why). */
int	xmit_rx_finish(struct xmit_rx *);

/*
 * Runs argv[0] (a path; no shell, no PATH search) in a process group of
 * its own, with fd as stdin, stdout and stderr going to our stderr (the
 * log, never the client) and no other descriptor open.  Waits at most ms,
 * then sends SIGTERM and, XMIT_KILL_GRACE_MS later, SIGKILL.  0 with
 * *status as waitpid gives it, 1 when it had to be killed (*status set
 * too), or -1 with errno when it could not be started.
 */
int	xmit_run(char *const[], int, int, int *);

/*
 * The XTND XMIT command on a session: answers the client, logs one
 * "xmit" line, and says whether the session goes on (it cannot after the
 * client vanished or stalled mid-message).
 */
struct session;
enum pop3_next xmit_command(struct session *);

#endif

/*
 * The relay's status messages to the front, on the pipe at fd 4
 * (pop3d-tls.8): a word and its fields, each ended by a NUL octet.
 *
 *	ready\0
 *	error\0REASON\0
 *	fail\0REASON\0
 *	ok\0SSL_PROTOCOL=V\0SSL_CIPHER=V\0[SSL_TLS_SNI_SERVERNAME=V\0]
 *
 * Every value is made one line of printable text: in a NAME=V fact (for
 * the environment) octets outside 0x21-0x7e, and the backslash, become
 * \xHH; a REASON (for the log) keeps its spaces.  Each is cut at
 * TLS_FACT_MAX octets, never inside an escape.  A message is at
 * most TLS_STATUS_MAX octets, less than PIPE_BUF, and goes out in one
 * write(2), so that the front never sees half of one.
 */
#ifndef POP3D_TLS_STATUS_H
#define POP3D_TLS_STATUS_H

#include <stddef.h>

#include "pop3d_limits.h"

struct status {
	char	buf[TLS_STATUS_MAX];
	size_t	len;
	int	full;		/* a field did not fit: the message is cut */
};

/* Begins a message with its word. */
void	status_start(struct status *, const char *);

/* Appends the fact "NAME=value", or the text alone when name is NULL. */
void	status_add(struct status *, const char *, const char *);

/* Writes the message: 0, or -1 with errno (the front is gone). */
int	status_send(const struct status *, int);

/*
 * Makes src safe as described above into dst (size n, at least
 * TLS_FACT_MAX + 1 for an uncut value), keeping spaces if blank is set;
 * returns the length.
 */
size_t	status_value(char *, size_t, const char *, int);

#endif

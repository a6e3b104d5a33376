/*
 * Reading a password or an APOP secret for pop3d-users (secret.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "pop3d_limits.h"
#include "secret.h"

/*
 * One line from fd into buf (size n), without its line end, read an octet
 * at a time so that no copy of the secret is left in a stdio buffer.
 * Returns 0, or -1 with *why.
 */
static int
line_read(int fd, char *buf, size_t n, const char **why)
{
	size_t	len = 0;
	ssize_t	r;
	char	c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*why = strerror(errno);
			return -1;
		}
		if (r == 0 || c == '\n')
			break;
		if (len + 1 >= n || c == '\0') {
			*why = c == '\0' ? "NUL in input" : "too long";
			return -1;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	*why = "empty";
	return len > 0 ? 0 : -1;
}

/* A prompt on the terminal with echo off. */
static int
tty_read(const char *prompt, char *buf, size_t n, const char **why)
{
	struct termios	old, quiet;
	int		r;

	if (tcgetattr(STDIN_FILENO, &old) == -1) {
		*why = strerror(errno);
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(ECHO | ECHONL);
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1) {
		*why = strerror(errno);
		return -1;
	}
	r = line_read(STDIN_FILENO, buf, n, why);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fprintf(stderr, "\n");
	return r;
}

/*
 * A secret of at most max characters: from the terminal, typed twice
 * without echo, or one line of stdin when that is no terminal or when
 * from_stdin is set.  Returns 0, or -1 after saying why.
 */
int
secret_read(int from_stdin, const char *what, char *buf, size_t max)
{
	char		 again[USERS_LINE_MAX + 2], prompt[64];
	const char	*why;
	int		 r;

	if (from_stdin || !isatty(STDIN_FILENO))
		r = line_read(STDIN_FILENO, buf, max + 1, &why);
	else {
		snprintf(prompt, sizeof(prompt), "New %s: ", what);
		r = tty_read(prompt, buf, max + 1, &why);
		snprintf(prompt, sizeof(prompt), "Retype new %s: ", what);
		if (r == 0 && (r = tty_read(prompt, again, max + 1,
		    &why)) == 0 && strcmp(buf, again) != 0) {
			why = "the two differ";
			r = -1;
		}
		explicit_bzero(again, sizeof(again));
	}
	if (r == -1)
		log_warn("%s not read: %s (1 to %zu characters)", what, why,
		    max);
	return r;
}

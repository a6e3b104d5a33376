#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "status.h"

/* One write of a whole message is atomic only within PIPE_BUF. */
_Static_assert(TLS_STATUS_MAX <= PIPE_BUF, "a status message fits PIPE_BUF");

size_t
status_value(char *dst, size_t n, const char *src, int blank)
{
	size_t		 o = 0, max;
	unsigned char	 c;

	if (n == 0)
		return 0;
	max = n - 1 < TLS_FACT_MAX ? n - 1 : TLS_FACT_MAX;
	for (; *src != '\0'; src++) {
		c = (unsigned char)*src;
		if ((c > 0x20 || (blank && c == 0x20)) && c < 0x7f &&
		    c != '\\') {
			if (o + 1 > max)
				break;
			dst[o++] = c;
		} else {
			if (o + 4 > max)
				break;
			o += log_hexbyte(dst + o, c);
		}
	}
	dst[o] = '\0';
	return o;
}

void
status_start(struct status *s, const char *word)
{
	s->len = 0;
	s->full = 0;
	status_add(s, NULL, word);
}

void
status_add(struct status *s, const char *name, const char *value)
{
	char	v[TLS_FACT_MAX + 1];
	size_t	nlen = name != NULL ? strlen(name) + 1 : 0, vlen;

	vlen = status_value(v, sizeof(v), value != NULL ? value : "",
	    name == NULL);
	/* NAME, "=", the value and its NUL. */
	if (s->full || nlen + vlen + 1 > sizeof(s->buf) - s->len) {
		s->full = 1;
		return;
	}
	if (name != NULL) {
		memcpy(s->buf + s->len, name, nlen - 1);
		s->buf[s->len + nlen - 1] = '=';
		s->len += nlen;
	}
	memcpy(s->buf + s->len, v, vlen + 1);
	s->len += vlen + 1;
}

int
status_send(const struct status *s, int fd)
{
	ssize_t	n;

	do
		n = write(fd, s->buf, s->len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != s->len) {
		errno = EPIPE;	/* a pipe takes PIPE_BUF at once, or nothing */
		return -1;
	}
	return 0;
}

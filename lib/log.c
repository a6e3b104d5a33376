#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pop3d_limits.h"

static void	logline_text(struct logline *, const char *, const char *,
		    size_t);

static const char *progname = "pop3d";
static int	 to_syslog;
static int	 cli;		/* log_cli: free text, not events */
static int	 syslog_fd = -1;	/* POP3D_SYSLOG_SOCKET's, or -1 */
static void	(*sink)(const char *, size_t);
static void	(*at_die)(void);
static char	 file_base[PATH_MAX];	/* log_file_base's, or "" */

/*
 * The connection's id (POP3D_SESSION, made by the front): at most
 * SESSION_ID_MAX lowercase hex digits, else none.  Read afresh for each
 * line: the front sets it after its first lines may have been written.
 */
static const char *
session_id(void)
{
	const char	*id = getenv("POP3D_SESSION");
	size_t		 n;

	if (id == NULL)
		return NULL;
	n = strspn(id, "0123456789abcdef");
	return n > 0 && n <= SESSION_ID_MAX && id[n] == '\0' ? id : NULL;
}

void
log_session_new(void)
{
	unsigned char	rnd[SESSION_ID_LEN / 2];
	char		id[SESSION_ID_LEN + 1];
	size_t		i;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(rnd)) {
		(void)unsetenv("POP3D_SESSION");
		return;		/* lines without an id, not no service */
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	if (setenv("POP3D_SESSION", id, 1) == -1)
		(void)unsetenv("POP3D_SESSION");
}

/*
 * The trusted proxy a connection came through (TCPPROXYIP, set by the
 * front after a PROXY header): an address's text, or "unknown" (a proxy
 * on a UNIX socket), else none.
 */
static const char *
proxy_id(void)
{
	const char	*ip = getenv("TCPPROXYIP");
	size_t		 n;

	if (ip == NULL)
		return NULL;
	if (strcmp(ip, "unknown") == 0)
		return ip;
	n = strspn(ip, "0123456789abcdefABCDEF.:");
	return n > 0 && n < 46 && ip[n] == '\0' ? ip : NULL;
}

/*
 * " proxy=ADDR session=ID" into dst (size n), either part only when
 * there is one; never in a line for a sink, which its receiver writes
 * inside a line of its own.
 */
static size_t
session_suffix(char *dst, size_t n)
{
	const char	*id = sink == NULL ? session_id() : NULL;
	const char	*px = sink == NULL ? proxy_id() : NULL;
	int		 r;

	*dst = '\0';
	if (id == NULL && px == NULL)
		return 0;
	r = snprintf(dst, n, "%s%s%s%s", px != NULL ? " proxy=" : "",
	    px != NULL ? px : "", id != NULL ? " session=" : "",
	    id != NULL ? id : "");
	return r > 0 && (size_t)r < n ? (size_t)r : (*dst = '\0', 0);
}

void
log_init(const char *name)
{
	const char	*slash;

	if (name == NULL || *name == '\0')
		return;
	slash = strrchr(name, '/');
	progname = slash != NULL ? slash + 1 : name;
}

void
log_as(const char *name)
{
	log_init(name);
	/* syslog(3) keeps the name openlog gave it: give it the new one. */
	if (to_syslog && syslog_fd == -1 && sink == NULL)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/*
 * POP3D_SYSLOG_SOCKET: another socket than /dev/log for syslog lines, so
 * that the tests never take the machine's.  0 when unset or connected,
 * else -1 after saying why.
 */
static int
syslog_connect(void)
{
	const char		*path = getenv("POP3D_SYSLOG_SOCKET");
	struct sockaddr_un	 sun;
	int			 fd;

	if (path == NULL || *path == '\0')
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warn("bad setting: POP3D_SYSLOG_SOCKET is longer than"
		    " %zu octets", sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("cannot connect to %s (POP3D_SYSLOG_SOCKET): %s",
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (syslog_fd != -1)
		close(syslog_fd);
	syslog_fd = fd;
	return 0;
}

/* A line as syslog(3) sends it, less the time: "<22>prog[pid]: text". */
static void
syslog_send(const char *p, size_t n)
{
	char	dgram[LOGLINE_MAX + 8];
	int	h;

	h = snprintf(dgram, sizeof(dgram), "<%d>", LOG_MAIL | LOG_INFO);
	if (h < 0 || (size_t)h + n > sizeof(dgram))
		return;
	memcpy(dgram + h, p, n);
	(void)send(syslog_fd, dgram, (size_t)h + n, MSG_NOSIGNAL);
}

int
log_from_env(void)
{
	const char	*dest = getenv("POP3D_LOG");

	if (dest == NULL || *dest == '\0' || strcmp(dest, "stderr") == 0)
		return 0;
	if (strcmp(dest, "syslog") != 0) {
		log_warn("bad setting: POP3D_LOG must be stderr or syslog");
		return -1;
	}
	if (syslog_connect() == -1)
		return -1;
	/* Connected now: a chroot later would hide /dev/log. */
	if (syslog_fd == -1)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
	to_syslog = 1;
	return 0;
}

void
log_to_stderr(void)
{
	if (to_syslog && syslog_fd == -1)
		closelog();
	if (syslog_fd != -1)
		close(syslog_fd);
	syslog_fd = -1;
	to_syslog = 0;
}

void
log_to_sink(void (*fn)(const char *, size_t))
{
	log_to_stderr();
	sink = fn;
}

/*
 * One line, "program[pid]: text\n", prefix octets of it the name and pid.
 * A log that cannot be written has nowhere to report that: carry on.
 */
static void
log_write(const char *p, size_t prefix, size_t n)
{
	ssize_t	r;

	if (sink != NULL) {
		/* The receiver says who it came from: the text alone. */
		sink(p + prefix, n - prefix - 1);
		return;
	}
	if (to_syslog && syslog_fd != -1) {
		syslog_send(p, n - 1);
		return;
	}
	if (to_syslog) {
		/* syslog adds the name and pid itself; no newline. */
		syslog(LOG_INFO, "%.*s", (int)(n - prefix - 1), p + prefix);
		return;
	}
	do
		r = write(STDERR_FILENO, p, n);
	while (r == -1 && errno == EINTR);
}

static void
log_vwrite(const char *fmt, va_list ap)
{
	char	line[LOGLINE_MAX], sess[SESSION_ID_MAX + 64];
	size_t	sn = session_suffix(sess, sizeof(sess));
	int	n, m;

	n = snprintf(line, sizeof(line), "%s[%ld]: ", progname,
	    (long)getpid());
	if (n < 0 || (size_t)n + sn + 2 >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n - sn - 1, fmt, ap);
	if (m < 0)
		return;
	if ((size_t)m >= sizeof(line) - n - sn - 1)
		m = sizeof(line) - n - sn - 2;
	/* The id last, where a cut message cannot take it away. */
	memcpy(line + n + m, sess, sn);
	m += sn;
	line[n + m] = '\n';
	/* One write per line, so that lines of concurrent sessions don't mix. */
	log_write(line, (size_t)n, n + m + 1);
}

/*
 * A server's free text as an event: "EVENT msg=TEXT", and "exit=CODE"
 * for a fatal one (code >= 0), so that every line of a server keeps the
 * "event key=value" form.  The text is escaped as any value, but cut
 * only where the line is.  Not for a sink: its receiver makes the event
 * (pop3d's preauth-log), with the text as one value.
 */
static void
log_vevent(const char *event, int code, const char *fmt, va_list ap)
{
	struct logline	l;
	char		text[LOGLINE_MAX];

	(void)vsnprintf(text, sizeof(text), fmt, ap);
	logline_start(&l, event);
	logline_text(&l, "msg", text, sizeof(text));
	if (code >= 0)
		logline_num(&l, "exit", (uint64_t)code);
	logline_emit(&l);
}

void
log_cli(void)
{
	cli = 1;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	if (cli || sink != NULL)
		log_vwrite(fmt, ap);
	else
		log_vevent("warning", -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
die(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (cli || sink != NULL)
		log_vwrite(fmt, ap);
	else
		log_vevent("fatal", code, fmt, ap);
	va_end(ap);
	if (at_die != NULL)
		at_die();
	_exit(code);
}

void
log_at_die(void (*fn)(void))
{
	at_die = fn;
}

size_t
log_hexbyte(char *dst, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	dst[0] = '\\';
	dst[1] = 'x';
	dst[2] = hex[c >> 4];
	dst[3] = hex[c & 15];
	return 4;
}

/* log_escape of at most max octets of s. */
static void
escape_max(char *dst, size_t n, const char *s, size_t max)
{
	size_t	o = 0, i;
	unsigned char c;

	if (n == 0)
		return;
	for (i = 0; s[i] != '\0' && i < max; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			if (o + 1 >= n)
				break;
			dst[o++] = c;
		} else {
			if (o + 4 >= n)
				break;
			o += log_hexbyte(dst + o, c);
		}
	}
	dst[o] = '\0';
}

void
logline_start(struct logline *l, const char *event)
{
	int	n;

	n = snprintf(l->buf, sizeof(l->buf), "%s[%ld]: ", progname,
	    (long)getpid());
	l->prefix = (n < 0 || (size_t)n >= sizeof(l->buf)) ? 0 : (size_t)n;
	n = snprintf(l->buf + l->prefix, sizeof(l->buf) - l->prefix, "%s",
	    event);
	l->len = l->prefix + ((n < 0 || (size_t)n >= sizeof(l->buf) -
	    l->prefix) ? 0 : (size_t)n);
}

void
log_escape(char *dst, size_t n, const char *s)
{
	escape_max(dst, n, s, LOG_VALUE_MAX);
}

static void
logline_append(struct logline *l, const char *key, const char *val)
{
	int	n;

	n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, " %s=%s",
	    key, val);
	if (n > 0 && (size_t)n < sizeof(l->buf) - l->len)
		l->len += n;
}

/*
 * key=value with value escaped (at most max octets of it), "-" when
 * empty, and quoted when it holds a space or "=", so that it stays one
 * value.
 */
static void
logline_text(struct logline *l, const char *key, const char *val,
    size_t max)
{
	char	esc[LOGLINE_MAX + 3];

	escape_max(esc + 1, sizeof(esc) - 2, val != NULL ? val : "", max);
	if (esc[1] == '\0') {
		logline_append(l, key, "-");
		return;
	}
	if (strpbrk(esc + 1, " =") == NULL) {
		logline_append(l, key, esc + 1);
		return;
	}
	esc[0] = '"';
	strcat(esc, "\"");	/* checked: esc + 1 holds at most size - 3 */
	logline_append(l, key, esc);
}

void
logline_str(struct logline *l, const char *key, const char *val)
{
	logline_text(l, key, val, LOG_VALUE_MAX);
}

void
logline_num(struct logline *l, const char *key, uint64_t val)
{
	char	num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)val);
	logline_append(l, key, num);
}

void
log_file_base(const char *dir)
{
	char	*real = realpath(dir, NULL);

	if (real == NULL || strlen(real) >= sizeof(file_base))
		file_base[0] = '\0';
	else
		strcpy(file_base, real);	/* checked: fits */
	free(real);
}

const char *
log_abspath(const char *path, char *buf, size_t n)
{
	char		 cwd[PATH_MAX];
	const char	*base = file_base;
	int		 r;

	if (path == NULL || *path == '/' || *path == '\0')
		return path;
	if (*base == '\0' && (base = getcwd(cwd, sizeof(cwd))) == NULL)
		return path;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	r = snprintf(buf, n, "%s%s%s", base, strcmp(base, "/") == 0 ? "" :
	    "/", strcmp(path, ".") == 0 ? "" : path);
	return r > 0 && (size_t)r < n ? buf : path;
}

void
logline_path(struct logline *l, const char *key, const char *path)
{
	char	buf[2 * PATH_MAX];

	logline_str(l, key, log_abspath(path, buf, sizeof(buf)));
}

void
log_file(const char *event, const char *file, int err)
{
	struct logline	l;

	logline_start(&l, event);
	logline_path(&l, "file", file);
	if (err != 0)
		logline_str(&l, "error", strerror(err));
	logline_emit(&l);
}

void
logline_emit(struct logline *l)
{
	char	sess[SESSION_ID_MAX + 64];
	size_t	sn = session_suffix(sess, sizeof(sess));

	if (l->len + sn + 1 > sizeof(l->buf))
		l->len = sizeof(l->buf) - sn - 1;
	/* Last, so that "event key=value" lines keep their look. */
	memcpy(l->buf + l->len, sess, sn);
	l->len += sn;
	l->buf[l->len] = '\n';
	log_write(l->buf, l->prefix, l->len + 1);
}

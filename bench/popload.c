/*
 * popload: the benchmark's load client (issue 8).  It connects only to
 * 127.0.0.1; every loop is bounded in time and in count, and every socket
 * has a send and receive timeout.  Each run prints one line of key=value.
 *
 *	popload -m sessions -p port -c clients -d seconds -u user -w pass
 *	popload -m download -p port -c clients -u user -w pass -f manifest
 *	popload -m bigbox   -p port -n sessions -u user -w pass
 *	popload -m idle     -p port -n sessions -u user -w pass -P pid
 *	popload -m retrmem  -p port -u user -w pass -P pid
 *	popload -m sessmem  -p port -u user -w pass -P pid -C comm
 *	popload -m greet    -p port -c clients -d seconds
 *	popload -m raw      -d seconds
 *
 * -s name	the server's name, for the output line
 * -T cafile	implicit TLS (libtls), the server's certificate checked
 *		against cafile for the name "localhost"
 * -U n		n users: client (or session) i logs in as user<i % n>;
 *		without -U every client logs in as user
 * -P pid	the root of the server's process tree (tcpserver, or
 *		Dovecot's master): its CPU time (and, for idle and
 *		retrmem, its memory) is read from /proc before and after
 *		the run (retrmem: while RETR 1 is half read); bigbox
 *		then reports each session's CPU too
 * -C comm	sessmem: the session's processes are those of the tree
 *		whose /proc/PID/comm is comm (pop3d-maildrop, popa3d, pop3)
 *
 * Server CPU: the sum, over pid and all its live descendants, of utime +
 * stime + cutime + cstime from /proc/PID/stat.  A process that ended was
 * reaped by a live ancestor (its parent's cutime/cstime hold it), so the
 * sum is the whole tree's CPU; the difference after minus before is the
 * run's.  Memory: Pss from /proc/PID/smaps_rollup, summed the same way.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tls.h>

#include "mhash.h"

#define LOAD_MAX_CLIENTS	256	/* threads */
#define LOAD_MAX_SECONDS	600	/* one run */
#define LOAD_MAX_SESSIONS	4000	/* idle, bigbox */
#define LOAD_MAX_SAMPLES	1000000	/* latencies kept per thread */
#define LOAD_MAX_MESSAGES	1000000	/* in a mailbox or manifest */
#define LOAD_IO_TIMEOUT		30	/* seconds, each read or write */
#define LOAD_LINE_MAX		1024	/* a reply line */
#define LOAD_MAX_PROCS		65536	/* in /proc */

struct opts {
	const char	*mode, *server, *user, *pass, *manifest, *cafile;
	const char	*comm;
	int		 port, clients, seconds, sessions, users;
	long		 pid;
};

struct conn {
	int		 fd;
	struct tls	*tls;
	size_t		 off, len;
	char		 buf[65536];
};

struct mfent {
	uint64_t	 hash;
	size_t		 size;
};

struct worker {
	pthread_t	 tid;
	int		 index;
	const struct opts *o;
	double		*lat;		/* ms */
	size_t		 nlat;
	unsigned long	 errors;
	unsigned long	 bad;		/* content or size mismatches */
	unsigned long	 messages;
	uint64_t	 bytes;
	char		 err[160];
};

static struct tls_config	*tlsconf;
static struct mfent		*manifest;
static size_t			 nmanifest;
static double			 deadline;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fatal(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "popload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void
seterr(struct worker *w, const char *fmt, ...)
{
	va_list	ap;

	w->errors++;
	if (w->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
}

/* Connection: plain or TLS, with a read buffer. */

static int
conn_open(struct conn *c, int port, char *err, size_t errlen)
{
	struct sockaddr_in	sin;
	struct timeval		tv = { LOAD_IO_TIMEOUT, 0 };
	int			one = 1;

	c->off = c->len = 0;
	c->tls = NULL;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		goto fail;
	}
	if (tlsconf == NULL)
		return 0;
	if ((c->tls = tls_client()) == NULL) {
		snprintf(err, errlen, "tls_client failed");
		goto fail;
	}
	if (tls_configure(c->tls, tlsconf) == -1 ||
	    tls_connect_socket(c->tls, c->fd, "localhost") == -1 ||
	    tls_handshake(c->tls) == -1) {
		snprintf(err, errlen, "tls: %s", tls_error(c->tls));
		goto fail;
	}
	return 0;
fail:
	if (c->tls != NULL)
		tls_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void
conn_close(struct conn *c)
{
	if (c->fd == -1)
		return;
	if (c->tls != NULL) {
		(void)tls_close(c->tls);
		tls_free(c->tls);
		c->tls = NULL;
	}
	close(c->fd);
	c->fd = -1;
}

static ssize_t
conn_rawread(struct conn *c, char *p, size_t n)
{
	ssize_t	r;
	int	tries;

	if (c->tls == NULL) {
		do
			r = read(c->fd, p, n);
		while (r == -1 && errno == EINTR);
		return r;
	}
	/* Blocking socket: WANT_POLL only around a key update; bounded. */
	for (tries = 0; tries < 100; tries++) {
		r = tls_read(c->tls, p, n);
		if (r != TLS_WANT_POLLIN && r != TLS_WANT_POLLOUT)
			return r;
	}
	return -1;
}

static int
conn_send(struct conn *c, const char *s, size_t n)
{
	ssize_t	r;
	int	tries;

	for (tries = 0; n > 0 && tries < 1000; tries++) {
		if (c->tls != NULL)
			r = tls_write(c->tls, s, n);
		else
			r = write(c->fd, s, n);
		if (r == TLS_WANT_POLLIN || r == TLS_WANT_POLLOUT ||
		    (r == -1 && c->tls == NULL && errno == EINTR))
			continue;
		if (r <= 0)
			return -1;
		s += r;
		n -= (size_t)r;
	}
	return n == 0 ? 0 : -1;
}

/*
 * The next line, without its CRLF, in *line (pointing into the buffer,
 * valid until the next call): its length, or -1 on error, EOF or a line
 * longer than the buffer.
 */
static ssize_t
conn_line(struct conn *c, const char **line)
{
	char	*nl;
	ssize_t	 r;
	size_t	 n;

	for (;;) {
		nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		if (nl != NULL) {
			*line = c->buf + c->off;
			n = (size_t)(nl - *line);
			c->off += n + 1;
			if (n > 0 && (*line)[n - 1] == '\r')
				n--;
			return (ssize_t)n;
		}
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		r = conn_rawread(c, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

/* Read one reply line; 0 when it is +OK, else -1 with the line in err. */
static int
conn_ok(struct conn *c, char *err, size_t errlen)
{
	const char	*l;
	ssize_t		 n = conn_line(c, &l);

	if (n >= 3 && memcmp(l, "+OK", 3) == 0)
		return 0;
	if (n < 0)
		snprintf(err, errlen, "read: %s", strerror(errno));
	else
		snprintf(err, errlen, "reply: %.*s", (int)(n > 100 ? 100 : n),
		    l);
	return -1;
}

static int
conn_cmd(struct conn *c, const char *cmd, char *err, size_t errlen)
{
	if (conn_send(c, cmd, strlen(cmd)) == -1) {
		snprintf(err, errlen, "write: %s", strerror(errno));
		return -1;
	}
	return conn_ok(c, err, errlen);
}

/* Read a multi-line answer to its end; the number of lines, or -1. */
static long
conn_skip(struct conn *c)
{
	const char	*l;
	ssize_t		 n;
	long		 lines;

	for (lines = 0; lines < 10L * LOAD_MAX_MESSAGES; lines++) {
		if ((n = conn_line(c, &l)) < 0)
			return -1;
		if (n == 1 && l[0] == '.')
			return lines;
	}
	return -1;
}

static void
user_name(const struct opts *o, int i, char *buf, size_t n)
{
	if (o->users > 0)
		snprintf(buf, n, "%s%d", o->user, i % o->users);
	else
		snprintf(buf, n, "%s", o->user);
}

/* Connect, read the greeting, USER and PASS. */
static int
conn_login(struct conn *c, const struct opts *o, int who, char *err,
    size_t errlen)
{
	char	name[128], cmd[300];

	if (conn_open(c, o->port, err, errlen) == -1)
		return -1;
	user_name(o, who, name, sizeof(name));
	if (conn_ok(c, err, errlen) == -1)
		goto fail;
	snprintf(cmd, sizeof(cmd), "USER %s\r\n", name);
	if (conn_cmd(c, cmd, err, errlen) == -1)
		goto fail;
	snprintf(cmd, sizeof(cmd), "PASS %s\r\n", o->pass);
	if (conn_cmd(c, cmd, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	conn_close(c);
	return -1;
}

/* Process tree: CPU ticks and PSS of a pid and its descendants. */

struct proc {
	long	pid, ppid;
};

static size_t
proc_list(struct proc *p, size_t max)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 n = 0;
	char		 path[300], buf[512], *s;
	FILE		*f;

	if ((d = opendir("/proc")) == NULL)
		fatal("/proc: %s", strerror(errno));
	while (n < max && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "/proc/%s/stat",
		    e->d_name) >= sizeof(path) ||
		    (f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (s = strrchr(buf, ')')) != NULL &&
		    sscanf(s + 2, "%*c %ld", &p[n].ppid) == 1) {
			p[n].pid = atol(e->d_name);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Marks in in[] the processes of the tree under root; their count. */
static size_t
proc_tree(const struct proc *p, size_t n, long root, char *in)
{
	size_t	i, count = 0;
	int	changed = 1, rounds;

	for (i = 0; i < n; i++)
		in[i] = p[i].pid == root;
	for (rounds = 0; changed && rounds < 64; rounds++) {
		changed = 0;
		for (i = 0; i < n; i++) {
			size_t j;

			if (in[i])
				continue;
			for (j = 0; j < n; j++)
				if (in[j] && p[j].pid == p[i].ppid)
					break;
			if (j < n) {
				in[i] = 1;
				changed = 1;
			}
		}
	}
	for (i = 0; i < n; i++)
		count += in[i] != 0;
	return count;
}

static unsigned long long
proc_ticks(long pid)
{
	char			 path[64], buf[1024], *s;
	unsigned long long	 u = 0, st = 0, cu = 0, cs = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (s = strrchr(buf, ')')) != NULL)
		/* fields 14-17 after pid (1) and comm (2); s+2 is field 3 */
		(void)sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %llu %llu %llu %llu", &u, &st, &cu, &cs);
	fclose(f);
	return u + st + cu + cs;
}

static unsigned long long
proc_pss(long pid)
{
	char			 path[64], buf[256];
	unsigned long long	 kb = 0;
	FILE			*f;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "Pss: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* CPU in ms (what="cpu") or PSS in kB ("pss") of the tree under root. */
static double
tree_sum(long root, int pss, size_t *procs)
{
	static struct proc	 p[LOAD_MAX_PROCS];
	static char		 in[LOAD_MAX_PROCS];
	size_t			 n, i;
	double			 sum = 0;

	if (root <= 0)
		return 0;
	n = proc_list(p, LOAD_MAX_PROCS);
	*procs = proc_tree(p, n, root, in);
	for (i = 0; i < n; i++) {
		if (!in[i])
			continue;
		if (pss)
			sum += (double)proc_pss(p[i].pid);
		else
			sum += (double)proc_ticks(p[i].pid) * 1000.0 /
			    (double)sysconf(_SC_CLK_TCK);
	}
	return sum;
}

/*
 * The tree's CPU once the sessions of a run have ended and been reaped:
 * a session's CPU reaches its reaper's cutime only then, and a short run
 * sampled at once can miss all of it.  Polls until the tree has no more
 * processes than before the run (before), for at most 3 s.
 */
static double
tree_cpu_settled(long root, size_t before)
{
	size_t	procs;
	double	cpu = 0;
	int	i;

	for (i = 0; i < 150; i++) {
		cpu = tree_sum(root, 0, &procs);
		if (procs <= before)
			break;
		usleep(20000);
	}
	return cpu;
}

/* Manifest: sorted (hash, size) pairs from gen. */

static int
mf_cmp(const void *a, const void *b)
{
	const struct mfent *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

static void
mf_load(const char *path)
{
	FILE			*f;
	unsigned long long	 h;
	size_t			 sz;

	if ((f = fopen(path, "r")) == NULL)
		fatal("%s: %s", path, strerror(errno));
	manifest = calloc(LOAD_MAX_MESSAGES, sizeof(*manifest));
	if (manifest == NULL)
		fatal("calloc");
	while (nmanifest < LOAD_MAX_MESSAGES &&
	    fscanf(f, "%llx %zu", &h, &sz) == 2) {
		manifest[nmanifest].hash = h;
		manifest[nmanifest].size = sz;
		nmanifest++;
	}
	fclose(f);
	qsort(manifest, nmanifest, sizeof(*manifest), mf_cmp);
}

/* The index of (hash, size) in the manifest, or -1. */
static long
mf_find(uint64_t hash, size_t size)
{
	struct mfent	 key = { hash, size }, *e;

	e = bsearch(&key, manifest, nmanifest, sizeof(*manifest), mf_cmp);
	return e == NULL ? -1 : e - manifest;
}

/* Scenarios. */

static void *
run_sessions(void *arg)
{
	struct worker	*w = arg;
	struct conn	*c = malloc(sizeof(*c));
	char		 err[160];
	double		 t0;
	unsigned long	 k;

	if (c == NULL) {
		seterr(w, "malloc");
		return NULL;
	}
	for (k = 0; k < LOAD_MAX_SAMPLES && now() < deadline; k++) {
		t0 = now();
		if (conn_login(c, w->o, w->index, err, sizeof(err)) == -1) {
			seterr(w, "%s", err);
			usleep(10000);
			continue;
		}
		if (conn_cmd(c, "STAT\r\n", err, sizeof(err)) == -1 ||
		    conn_cmd(c, "QUIT\r\n", err, sizeof(err)) == -1) {
			seterr(w, "%s", err);
			conn_close(c);
			continue;
		}
		conn_close(c);
		w->lat[w->nlat++] = (now() - t0) * 1000.0;
	}
	free(c);
	return NULL;
}

/* The ceiling: connect, read the greeting, wait for the server's close. */
static void *
run_greet(void *arg)
{
	struct worker	*w = arg;
	struct conn	*c = malloc(sizeof(*c));
	char		 err[160], b[64];
	double		 t0;
	unsigned long	 k;

	if (c == NULL) {
		seterr(w, "malloc");
		return NULL;
	}
	for (k = 0; k < LOAD_MAX_SAMPLES && now() < deadline; k++) {
		t0 = now();
		if (conn_open(c, w->o->port, err, sizeof(err)) == -1) {
			seterr(w, "%s", err);
			usleep(10000);
			continue;
		}
		if (conn_ok(c, err, sizeof(err)) == -1)
			seterr(w, "%s", err);
		else if (conn_rawread(c, b, sizeof(b)) != 0)
			seterr(w, "no close after the greeting");
		else
			w->lat[w->nlat++] = (now() - t0) * 1000.0;
		conn_close(c);
	}
	free(c);
	return NULL;
}

/* RETR message i; check octets against LIST and content against gen. */
static int
retr_one(struct conn *c, struct worker *w, unsigned long i, size_t listed,
    char *seen)
{
	char		 cmd[64], err[160];
	const char	*l;
	ssize_t		 n;
	struct mhash	 h;
	size_t		 wire = 0, lf = 0;
	long		 lines, at;

	mh_init(&h);
	snprintf(cmd, sizeof(cmd), "RETR %lu\r\n", i);
	if (conn_cmd(c, cmd, err, sizeof(err)) == -1) {
		seterr(w, "%s", err);
		return -1;
	}
	for (lines = 0; lines < 10L * LOAD_MAX_MESSAGES; lines++) {
		if ((n = conn_line(c, &l)) < 0) {
			seterr(w, "RETR %lu: read failed", i);
			return -1;
		}
		if (n == 1 && l[0] == '.')
			break;
		if (n > 0 && l[0] == '.') {
			l++;
			n--;
		}
		mh_feed(&h, l, (size_t)n);
		mh_feed(&h, "\n", 1);
		wire += (size_t)n + 2;
		lf += (size_t)n + 1;
	}
	w->bytes += wire;
	w->messages++;
	if (wire != listed) {
		w->bad++;
		seterr(w, "RETR %lu: %zu octets, LIST said %zu", i, wire,
		    listed);
	}
	if (manifest != NULL) {
		if ((at = mf_find(mh_final(&h), lf)) == -1 || seen[at]) {
			w->bad++;
			seterr(w, "RETR %lu: content not in the manifest "
			    "(or twice)", i);
		} else
			seen[at] = 1;
	}
	return 0;
}

static void *
run_download(void *arg)
{
	struct worker	*w = arg;
	struct conn	*c = malloc(sizeof(*c));
	size_t		*sizes = calloc(LOAD_MAX_MESSAGES, sizeof(*sizes));
	char		*seen = calloc(nmanifest + 1, 1), err[160];
	const char	*l;
	unsigned long	 n = 0, num, i;
	size_t		 sz;
	ssize_t		 len;
	char		 tmp[LOAD_LINE_MAX];

	if (c == NULL || sizes == NULL || seen == NULL) {
		seterr(w, "malloc");
		goto out;
	}
	if (conn_login(c, w->o, w->index, err, sizeof(err)) == -1) {
		seterr(w, "%s", err);
		goto out;
	}
	if (conn_cmd(c, "LIST\r\n", err, sizeof(err)) == -1) {
		seterr(w, "%s", err);
		goto close;
	}
	while ((len = conn_line(c, &l)) >= 0 && n < LOAD_MAX_MESSAGES) {
		if (len == 1 && l[0] == '.')
			break;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)len, l);
		if (sscanf(tmp, "%lu %zu", &num, &sz) != 2 || num != n + 1) {
			seterr(w, "LIST: %s", tmp);
			goto close;
		}
		sizes[n++] = sz;
	}
	for (i = 0; i < n && now() < deadline; i++)
		if (retr_one(c, w, i + 1, sizes[i], seen) == -1)
			goto close;
	if (i < n)
		seterr(w, "time limit after %lu of %lu messages", i, n);
	else if (manifest != NULL && n != nmanifest)
		seterr(w, "%lu messages, the manifest has %zu", n, nmanifest);
	if (conn_cmd(c, "QUIT\r\n", err, sizeof(err)) == -1)
		seterr(w, "%s", err);
close:
	conn_close(c);
out:
	free(c);
	free(sizes);
	free(seen);
	return NULL;
}

static int
dcmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct worker *
workers_run(const struct opts *o, void *(*fn)(void *), int n)
{
	struct worker	*w = calloc((size_t)n, sizeof(*w));
	int		 i;

	if (w == NULL)
		fatal("calloc");
	for (i = 0; i < n; i++) {
		w[i].index = i;
		w[i].o = o;
		w[i].lat = calloc(LOAD_MAX_SAMPLES, sizeof(double));
		if (w[i].lat == NULL)
			fatal("calloc");
		if (pthread_create(&w[i].tid, NULL, fn, &w[i]) != 0)
			fatal("pthread_create");
	}
	for (i = 0; i < n; i++)
		pthread_join(w[i].tid, NULL);
	return w;
}

static void
report_errors(struct worker *w, int n, unsigned long *errors)
{
	int	i;

	*errors = 0;
	for (i = 0; i < n; i++) {
		*errors += w[i].errors;
		if (w[i].err[0] != '\0')
			fprintf(stderr, "popload: client %d: %s (%lu errors)\n",
			    i, w[i].err, w[i].errors);
	}
}

static void
scenario_rate(const struct opts *o, int greet)
{
	struct worker	*w;
	double		 t0, t1, cpu0, cpu1, *all, p50 = 0, p99 = 0;
	size_t		 total = 0, k, procs;
	unsigned long	 errors;
	int		 i;

	cpu0 = tree_sum(o->pid, 0, &procs);
	t0 = now();
	deadline = t0 + o->seconds;
	w = workers_run(o, greet ? run_greet : run_sessions, o->clients);
	t1 = now();
	cpu1 = tree_cpu_settled(o->pid, procs);
	for (i = 0; i < o->clients; i++)
		total += w[i].nlat;
	if ((all = calloc(total + 1, sizeof(double))) == NULL)
		fatal("calloc");
	for (k = 0, i = 0; i < o->clients; i++) {
		memcpy(all + k, w[i].lat, w[i].nlat * sizeof(double));
		k += w[i].nlat;
	}
	qsort(all, total, sizeof(double), dcmp);
	if (total > 0) {
		p50 = all[total / 2];
		p99 = all[(size_t)((double)total * 0.99)];
	}
	report_errors(w, o->clients, &errors);
	printf("scenario=%s server=%s tls=%d clients=%d seconds=%.2f "
	    "sessions=%zu errors=%lu rate=%.1f p50_ms=%.2f p99_ms=%.2f "
	    "cpu_ms_per_session=%.3f\n", greet ? "greet" : "sessions",
	    o->server, tlsconf != NULL, o->clients, t1 - t0, total, errors,
	    (double)total / (t1 - t0), p50, p99,
	    total > 0 && o->pid > 0 ? (cpu1 - cpu0) / (double)total : 0.0);
	free(all);
}

static void
scenario_download(const struct opts *o)
{
	struct worker	*w;
	double		 t0, t1, cpu0, cpu1;
	unsigned long	 errors, bad = 0, msgs = 0;
	uint64_t	 bytes = 0;
	size_t		 procs;
	int		 i;

	if (o->manifest != NULL)
		mf_load(o->manifest);
	cpu0 = tree_sum(o->pid, 0, &procs);
	t0 = now();
	deadline = t0 + o->seconds;
	w = workers_run(o, run_download, o->clients);
	t1 = now();
	cpu1 = tree_cpu_settled(o->pid, procs);
	for (i = 0; i < o->clients; i++) {
		bytes += w[i].bytes;
		bad += w[i].bad;
		msgs += w[i].messages;
	}
	report_errors(w, o->clients, &errors);
	printf("scenario=download server=%s tls=%d clients=%d seconds=%.3f "
	    "messages=%lu bytes=%llu errors=%lu bad=%lu mbps=%.1f "
	    "cpu_ms_per_gb=%.0f\n", o->server, tlsconf != NULL, o->clients,
	    t1 - t0, msgs, (unsigned long long)bytes, errors, bad,
	    (double)bytes / 1e6 / (t1 - t0),
	    bytes > 0 && o->pid > 0 ? (cpu1 - cpu0) / ((double)bytes / 1e9) :
	    0.0);
}

/* Big mailbox: connect to QUIT with STAT, LIST and UIDL, n times. */
static void
scenario_bigbox(const struct opts *o)
{
	struct conn	*c = malloc(sizeof(*c));
	char		 err[160];
	double		 t0, cpu0;
	size_t		 procs;
	long		 nl = 0, nu = 0;
	int		 i;

	if (c == NULL)
		fatal("malloc");
	printf("scenario=bigbox server=%s tls=%d", o->server, tlsconf != NULL);
	for (i = 0; i < o->sessions; i++) {
		cpu0 = tree_sum(o->pid, 0, &procs);
		t0 = now();
		if (conn_login(c, o, 0, err, sizeof(err)) == -1 ||
		    conn_cmd(c, "STAT\r\n", err, sizeof(err)) == -1 ||
		    conn_cmd(c, "LIST\r\n", err, sizeof(err)) == -1 ||
		    (nl = conn_skip(c)) < 0 ||
		    conn_cmd(c, "UIDL\r\n", err, sizeof(err)) == -1 ||
		    (nu = conn_skip(c)) < 0 ||
		    conn_cmd(c, "QUIT\r\n", err, sizeof(err)) == -1)
			fatal("bigbox session %d: %s", i + 1, err);
		conn_close(c);
		printf(" s%d_ms=%.1f", i + 1, (now() - t0) * 1000.0);
		if (o->pid > 0)
			printf(" s%d_cpu_ms=%.0f", i + 1,
			    tree_cpu_settled(o->pid, procs) - cpu0);
	}
	printf(" messages=%ld uidls=%ld\n", nl, nu);
	free(c);
}

/* Idle: n logged-in sessions held open; PSS of the server's tree. */
static void
scenario_idle(const struct opts *o)
{
	struct conn	*c = calloc((size_t)o->sessions, sizeof(*c));
	char		 err[160];
	double		 base, full;
	size_t		 p0, p1;
	struct rlimit	 rl;
	int		 i, up = 0;

	if (c == NULL)
		fatal("calloc");
	rl.rlim_cur = rl.rlim_max = (rlim_t)o->sessions + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit: %s", strerror(errno));
	base = tree_sum(o->pid, 1, &p0);
	deadline = now() + o->seconds;
	for (i = 0; i < o->sessions && now() < deadline; i++) {
		if (conn_login(&c[i], o, i, err, sizeof(err)) == -1)
			fatal("idle session %d: %s", i + 1, err);
		up++;
	}
	sleep(2);
	full = tree_sum(o->pid, 1, &p1);
	for (i = 0; i < up; i++) {
		(void)conn_cmd(&c[i], "QUIT\r\n", err, sizeof(err));
		conn_close(&c[i]);
	}
	printf("scenario=idle server=%s tls=%d sessions=%d procs_base=%zu "
	    "procs=%zu pss_base_kb=%.0f pss_kb=%.0f pss_kb_per_session=%.1f\n",
	    o->server, tlsconf != NULL, up, p0, p1, base, full,
	    up > 0 ? (full - base) / up : 0.0);
	free(c);
}

/*
 * Memory flat in message size: PSS of the server's tree while one RETR
 * of message 1 is half read (the server then waits on a full socket), less
 * the tree's PSS before the login.
 */
static void
scenario_retrmem(const struct opts *o)
{
	struct conn	*c = calloc(1, sizeof(*c));
	char		 err[160];
	const char	*l;
	unsigned long	 n;
	double		 base, mid;
	size_t		 p0, p1, size, got = 0;
	ssize_t		 k;
	long		 lines;
	int		 half = 0;

	if (c == NULL)
		fatal("calloc");
	base = tree_sum(o->pid, 1, &p0);
	if (conn_login(c, o, 0, err, sizeof(err)) == -1)
		fatal("retrmem: %s", err);
	if (conn_send(c, "LIST 1\r\n", 8) == -1 ||
	    (k = conn_line(c, &l)) < 0 || k >= (ssize_t)sizeof(err))
		fatal("retrmem: LIST 1 failed");
	memcpy(err, l, (size_t)k);
	err[k] = '\0';
	if (sscanf(err, "+OK %lu %zu", &n, &size) != 2)
		fatal("retrmem: LIST 1: %s", err);
	if (conn_cmd(c, "RETR 1\r\n", err, sizeof(err)) == -1)
		fatal("retrmem: %s", err);
	mid = base;
	p1 = p0;
	for (lines = 0; lines < 100L * LOAD_MAX_MESSAGES; lines++) {
		if ((k = conn_line(c, &l)) < 0)
			fatal("retrmem: read failed");
		if (k == 1 && l[0] == '.')
			break;
		got += (size_t)k + 2;
		if (!half && got >= size / 2) {
			half = 1;
			sleep(1);
			mid = tree_sum(o->pid, 1, &p1);
		}
	}
	if (!half)	/* a message of one line or two */
		mid = tree_sum(o->pid, 1, &p1);
	(void)conn_cmd(c, "QUIT\r\n", err, sizeof(err));
	conn_close(c);
	printf("scenario=retrmem server=%s tls=%d user=%s size=%zu procs=%zu "
	    "pss_base_kb=%.0f pss_kb=%.0f pss_kb_session=%.0f\n", o->server,
	    tlsconf != NULL, o->user, size, p1, base, mid, mid - base);
	free(c);
}

/* Peak RSS (VmHWM, kB) of pid when its comm is want; else 0. */
static unsigned long long
proc_hwm(long pid, const char *want)
{
	char			 path[64], buf[256];
	unsigned long long	 kb = 0;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, want) != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (sscanf(buf, "VmHWM: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * A session's peak memory: login, STAT, LIST, UIDL and RETR 1, then,
 * before QUIT, the largest VmHWM (and the sum) of the tree's processes
 * named o->comm: the peak since each started, parsing and listing the
 * whole maildrop included.
 */
static void
scenario_sessmem(const struct opts *o)
{
	static struct proc	 p[LOAD_MAX_PROCS];
	static char		 in[LOAD_MAX_PROCS];
	struct conn		*c = calloc(1, sizeof(*c));
	char			 err[160];
	unsigned long long	 kb, max = 0, sum = 0;
	size_t			 n, i, procs = 0;
	long			 nl, nu;

	if (c == NULL)
		fatal("calloc");
	if (conn_login(c, o, 0, err, sizeof(err)) == -1 ||
	    conn_cmd(c, "STAT\r\n", err, sizeof(err)) == -1 ||
	    conn_cmd(c, "LIST\r\n", err, sizeof(err)) == -1 ||
	    (nl = conn_skip(c)) < 0 ||
	    conn_cmd(c, "UIDL\r\n", err, sizeof(err)) == -1 ||
	    (nu = conn_skip(c)) < 0 ||
	    conn_cmd(c, "RETR 1\r\n", err, sizeof(err)) == -1 ||
	    conn_skip(c) < 0)
		fatal("sessmem: %s", err);
	n = proc_list(p, LOAD_MAX_PROCS);
	(void)proc_tree(p, n, o->pid, in);
	for (i = 0; i < n; i++) {
		if (!in[i] || (kb = proc_hwm(p[i].pid, o->comm)) == 0)
			continue;
		procs++;
		sum += kb;
		if (kb > max)
			max = kb;
	}
	(void)conn_cmd(c, "QUIT\r\n", err, sizeof(err));
	conn_close(c);
	printf("scenario=sessmem server=%s tls=%d user=%s messages=%ld "
	    "uidls=%ld comm=%s procs=%zu peak_rss_kb=%llu rss_sum_kb=%llu\n",
	    o->server, tlsconf != NULL, o->user, nl, nu, o->comm, procs, max,
	    sum);
	free(c);
}

/* Raw loopback TCP: one stream, 64 KB writes, for the given seconds. */
struct rawarg {
	int		 fd;
	double		 until;
};

static void *
raw_sender(void *arg)
{
	struct rawarg	*r = arg;
	static char	 buf[65536];
	unsigned long	 k;

	for (k = 0; k < 100000000UL && now() < r->until; k++)
		if (write(r->fd, buf, sizeof(buf)) <= 0)
			break;
	shutdown(r->fd, SHUT_WR);
	return NULL;
}

static void
scenario_raw(const struct opts *o)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	struct rawarg		 ra;
	struct timeval		 tv = { LOAD_IO_TIMEOUT, 0 };
	pthread_t		 t;
	static char		 buf[65536];
	uint64_t		 bytes = 0;
	double			 t0, t1;
	ssize_t			 n;
	int			 ls, cs, as;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(ls, 1) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) == -1 ||
	    (cs = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(cs, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (as = accept(ls, NULL, NULL)) == -1)
		fatal("raw: %s", strerror(errno));
	(void)setsockopt(cs, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = now();
	ra.fd = as;
	ra.until = t0 + o->seconds;
	if (pthread_create(&t, NULL, raw_sender, &ra) != 0)
		fatal("pthread_create");
	while ((n = read(cs, buf, sizeof(buf))) > 0)
		bytes += (uint64_t)n;
	t1 = now();
	pthread_join(t, NULL);
	printf("scenario=raw server=loopback clients=1 seconds=%.2f "
	    "bytes=%llu mbps=%.1f\n", t1 - t0, (unsigned long long)bytes,
	    (double)bytes / 1e6 / (t1 - t0));
}

static int
num_arg(const char *s, int lo, int hi)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		fatal("%s: not a number from %d to %d", s, lo, hi);
	return (int)v;
}

int
main(int argc, char *argv[])
{
	struct opts	 o = { "sessions", "server", "bench", "bench", NULL,
			       NULL, NULL, 0, 1, 10, 2, 0, 0 };
	int		 ch;

	while ((ch = getopt(argc, argv, "c:C:d:f:m:n:p:P:s:T:u:U:w:")) != -1) {
		switch (ch) {
		case 'c':
			o.clients = num_arg(optarg, 1, LOAD_MAX_CLIENTS);
			break;
		case 'C':
			o.comm = optarg;
			break;
		case 'd':
			o.seconds = num_arg(optarg, 1, LOAD_MAX_SECONDS);
			break;
		case 'f':
			o.manifest = optarg;
			break;
		case 'm':
			o.mode = optarg;
			break;
		case 'n':
			o.sessions = num_arg(optarg, 1, LOAD_MAX_SESSIONS);
			break;
		case 'p':
			o.port = num_arg(optarg, 1, 65535);
			break;
		case 'P':
			o.pid = num_arg(optarg, 1, 1 << 30);
			break;
		case 's':
			o.server = optarg;
			break;
		case 'T':
			o.cafile = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'U':
			o.users = num_arg(optarg, 1, 100000);
			break;
		case 'w':
			o.pass = optarg;
			break;
		default:
			fatal("usage: popload -m mode [options] (see popload.c)");
		}
	}
	if (o.cafile != NULL) {
		if ((tlsconf = tls_config_new()) == NULL ||
		    tls_config_set_ca_file(tlsconf, o.cafile) == -1)
			fatal("tls config: %s", o.cafile);
	}
	if (strcmp(o.mode, "raw") == 0)
		scenario_raw(&o);
	else if (o.port == 0)
		fatal("-p port is needed");
	else if (strcmp(o.mode, "sessions") == 0)
		scenario_rate(&o, 0);
	else if (strcmp(o.mode, "greet") == 0)
		scenario_rate(&o, 1);
	else if (strcmp(o.mode, "download") == 0)
		scenario_download(&o);
	else if (strcmp(o.mode, "bigbox") == 0)
		scenario_bigbox(&o);
	else if (strcmp(o.mode, "idle") == 0)
		scenario_idle(&o);
	else if (strcmp(o.mode, "retrmem") == 0)
		scenario_retrmem(&o);
	else if (strcmp(o.mode, "sessmem") == 0 && o.comm != NULL)
		scenario_sessmem(&o);
	else
		fatal("%s: unknown mode", o.mode);
	return 0;
}

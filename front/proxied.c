/*
 * The front behind a balancer: the PROXY protocol header (policy/proxy.h)
 * of a peer that the rules mark as a trusted proxy (POP3D_PROXY=1), read
 * before anything else, even a TLS handshake, and then the client it
 * names is the peer for everything: the rules, looked up again for it,
 * the penalty box, the connection limit, the environment of the chain and
 * every log line (which names the proxy too).  From any other peer a
 * header is only a client's garbage: it is never read here.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"
#include "io.h"
#include "log.h"
#include "proxy.h"
#include "settings.h"

/*
 * The settings as the spawner gave them, before the proxy's rule set
 * its own: the client's rule is applied over these alone, so that
 * nothing of the balancer's rule (its POP3D_PROXY, a limit meant for it)
 * sticks to the client.  Only settings of the table: a rule sets no other.
 */
static char	*spawner_env[128];

void
front_env_save(void)
{
	const struct setting	*s;
	const char		*v;
	size_t			 i;

	for (i = 0; (s = setting_at(i)) != NULL; i++) {
		if (i >= sizeof(spawner_env) / sizeof(spawner_env[0]))
			die(111, "more settings than the front can keep");
		if ((v = getenv(s->name)) != NULL &&
		    (spawner_env[i] = strdup(v)) == NULL)
			die(111, "out of memory");
	}
}

static void
env_restore(void)
{
	const struct setting	*s;
	size_t			 i;
	int			 r;

	for (i = 0; (s = setting_at(i)) != NULL; i++) {
		r = spawner_env[i] != NULL ? setenv(s->name, spawner_env[i],
		    1) : unsetenv(s->name);
		if (r == -1)
			die(111, "setenv: %s", strerror(errno));
	}
}

/*
 * Reads the header from fd, exactly its octets (proxy_parse says how
 * many may come), by the deadline: its length, or -1 with *why.
 */
static int
header_read(int fd, int64_t deadline, unsigned char *buf,
    struct proxy_hdr *h, const char **why)
{
	size_t	len = 0, more;
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = proxy_parse(buf, len, h, &more, why)) != 0)
			return r;
		if (io_wait(fd, POLLIN, deadline) == -1) {
			*why = errno == ETIMEDOUT ? "no header in time" :
			    "interrupted";
			return -1;
		}
		if ((n = read(fd, buf + len, more)) == 0) {
			*why = "closed before the header's end";
			return -1;
		}
		if (n == -1 && errno != EINTR && errno != EAGAIN) {
			*why = strerror(errno);
			return -1;
		}
		if (n > 0)
			len += (size_t)n;
	}
}

/*
 * What spawners say of the connection besides TCPREMOTEIP and the rest:
 * names of the balancer's connection (the proxy's names, ucspi-tcp6's
 * TCP6*, xinetd's and others' REMOTE_*), which no later stage may take
 * for the client's.  REMOTE_ADDR and REMOTE_PORT are set again for a
 * client.
 */
static const char *const spawner_names[] = {
	"TCPREMOTEHOST", "TCPREMOTEINFO", "TCPLOCALHOST", "REMOTE_ADDR",
	"REMOTE_PORT", "REMOTE_HOST", "TCP6REMOTEIP", "TCP6REMOTEPORT",
	"TCP6REMOTEHOST", "TCP6REMOTEINFO", "TCP6LOCALIP", "TCP6LOCALPORT",
	"TCP6LOCALHOST", "TCP6INTERFACE", NULL
};

/* What the chain learns instead of what the spawner said. */
static void
env_client(const struct proxy_hdr *h, const char *proxy)
{
	char	ip[ADDR_TEXT_MAX], port[8];
	size_t	i;
	int	bad = 0;

	bad |= setenv("TCPPROXYIP", proxy, 1) == -1;
	for (i = 0; spawner_names[i] != NULL; i++)
		bad |= unsetenv(spawner_names[i]) == -1;
	if (h->kind == PROXY_TCP) {
		addr_format(&h->src, ip, sizeof(ip));
		bad |= setenv("TCPREMOTEIP", ip, 1) == -1;
		bad |= setenv("REMOTE_ADDR", ip, 1) == -1;
		snprintf(port, sizeof(port), "%u", h->sport);
		bad |= setenv("TCPREMOTEPORT", port, 1) == -1;
		bad |= setenv("REMOTE_PORT", port, 1) == -1;
		addr_format(&h->dst, ip, sizeof(ip));
		bad |= setenv("TCPLOCALIP", ip, 1) == -1;
		snprintf(port, sizeof(port), "%u", h->dport);
		bad |= setenv("TCPLOCALPORT", port, 1) == -1;
	}
	if (bad)
		die(111, "setenv: %s", strerror(errno));
}

/* A header that could not be taken: logged, closed, no greeting. */
static void __attribute__((noreturn))
header_refused(struct front *f, const char *why)
{
	struct logline	l;

	logline_start(&l, "proxy-error");
	logline_str(&l, "remote", f->remote);
	logline_str(&l, "error", why);
	logline_emit(&l);
	f->end = END_PROXY_ERROR;
	exit(0);
}

static void
header_log(const struct front *f, const struct proxy_hdr *h)
{
	struct logline	l;

	logline_start(&l, "proxy");
	logline_str(&l, "remote", f->remote);
	logline_num(&l, "version", (uint64_t)h->version);
	logline_str(&l, "kind", h->kind == PROXY_TCP ? "tcp" :
	    h->kind == PROXY_LOCAL ? "local" : "unknown");
	if (h->kind == PROXY_TCP)
		logline_num(&l, "port", h->sport);
	logline_emit(&l);
}

int
front_proxy(struct front *f)
{
	unsigned char		 buf[PROXY_V2_HEAD + PROXY_V2_BODY_MAX];
	struct proxy_hdr	 h;
	const char		*why;
	uint64_t		 secs;
	int			 on;

	if (setting_flag("POP3D_PROXY", &on) == -1 ||
	    setting_num("POP3D_PROXY_TIMEOUT", &secs) == -1)
		return -1;
	if (!on)
		return 0;
	memcpy(f->proxy, f->remote, sizeof(f->proxy));
	f->pa.proxied = 1;
	if (header_read(STDIN_FILENO, io_now_ms() + (int64_t)secs * 1000, buf,
	    &h, &why) == -1)
		header_refused(f, why);
	env_client(&h, f->proxy);
	if (h.kind == PROXY_TCP) {
		addr_format(&h.src, f->remote, sizeof(f->remote));
		header_log(f, &h);
		env_restore();
		access_rules(&f->acc, f->remote);
	} else {
		/* A health check: the balancer's own, greeted, no login. */
		header_log(f, &h);
		f->nologin = 1;
	}
	return 0;
}

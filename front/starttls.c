#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "io.h"
#include "log.h"
#include "starttls.h"

/* In the child: client on 0/1, plaintext on 3, status on 4, then exec. */
static void __attribute__((noreturn))
relay_exec(const char *relay, int plain, int status)
{
	if (child_fds_3_4(plain, status) == -1)
		_exit(111);
	signal(SIGPIPE, SIG_DFL);
	execlp(relay, "pop3d-tls", (char *)NULL);
	log_warn("cannot run %s: %s", relay, strerror(errno));
	_exit(111);
}

static void
relay_kill(struct starttls *t)
{
	if (t->pid > 0)
		(void)child_kill(t->pid, NULL);
	t->pid = 0;
	if (t->status != -1)
		close(t->status);
	if (t->plain != -1)
		close(t->plain);
	t->status = t->plain = -1;
}

/*
 * The next NUL-terminated field from the status pipe, waiting at most
 * until the deadline: the field, or NULL at EOF, on a timeout or on an
 * overlong message.  A field stays valid until the next call.
 */
static const char *
status_field(struct starttls *t, time_t deadline)
{
	struct pollfd	 pfd = { t->status, POLLIN, 0 };
	const char	*field;
	char		*nul;
	ssize_t		 n;
	time_t		 now;

	for (;;) {
		nul = memchr(t->buf + t->pos, '\0', t->len - t->pos);
		if (nul != NULL) {
			field = t->buf + t->pos;
			t->pos = nul - t->buf + 1;
			return field;
		}
		memmove(t->buf, t->buf + t->pos, t->len - t->pos);
		t->len -= t->pos;
		t->pos = 0;
		if (t->len == sizeof(t->buf) || (now = time(NULL)) >= deadline)
			return NULL;
		if ((n = poll(&pfd, 1, (int)(deadline - now) * 1000)) == 0 ||
		    (n == -1 && errno == EINTR))
			continue;	/* the deadline check ends a silence */
		if (n == -1)
			return NULL;
		n = read(t->status, t->buf + t->len, sizeof(t->buf) - t->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		t->len += n;
	}
}

int
starttls_spawn(struct starttls *t)
{
	const char	*word, *why;
	int		 sp[2], st[2];

	t->pid = 0;
	t->status = t->plain = -1;
	t->len = t->pos = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("tls: socketpair: %s", strerror(errno));
		return -1;
	}
	if (pipe2(st, O_CLOEXEC) == -1) {
		log_warn("tls: pipe: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if ((t->pid = fork()) == 0)
		relay_exec(t->relay, sp[1], st[1]);
	close(sp[1]);
	close(st[1]);
	t->plain = sp[0];
	t->status = st[0];
	if (t->pid == -1) {
		log_warn("tls: fork: %s", strerror(errno));
		relay_kill(t);
		return -1;
	}
	word = status_field(t, time(NULL) + TLS_READY_TIMEOUT);
	if (word != NULL && strcmp(word, "ready") == 0)
		return 0;
	/* The relay logged its reason; the front says that it gave up. */
	why = word != NULL && strcmp(word, "error") == 0 ? "not configured" :
	    "no word from the relay";
	log_warn("tls: %s (%s)", why, t->relay);
	relay_kill(t);
	return -1;
}

/* One "NAME=value" fact from the relay into its slot: 0, or -1. */
static int
fact_take(struct starttls *t, const char *f)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} facts[] = {
		{ "SSL_PROTOCOL=", offsetof(struct starttls, protocol) },
		{ "SSL_CIPHER=", offsetof(struct starttls, cipher) },
		{ "SSL_TLS_SNI_SERVERNAME=", offsetof(struct starttls, sni) },
	};
	const char	*v;
	size_t		 i, n;

	for (i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		n = strlen(facts[i].name);
		if (strncmp(f, facts[i].name, n) != 0)
			continue;
		v = f + n;
		if (strlen(v) > TLS_FACT_MAX)
			return -1;
		for (n = 0; v[n] != '\0'; n++)
			if (v[n] < 0x21 || v[n] > 0x7e)
				return -1;
		/*
		 * The server name is a stranger's word, bound for scripts'
		 * environments: a host name's characters, or nothing.
		 */
		if (facts[i].off == offsetof(struct starttls, sni) &&
		    (strlen(v) > HOSTNAME_MAX ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(v))) {
			log_warn("tls: a server name that is no host name:"
			    " dropped");
			return 0;
		}
		strcpy((char *)t + facts[i].off, v);
		return 0;
	}
	return -1;
}

static int
facts_export(const struct starttls *t)
{
	if (setenv("SSL_PROTOCOL", t->protocol, 1) == -1 ||
	    setenv("SSL_CIPHER", t->cipher, 1) == -1)
		return -1;
	if (t->sni[0] != '\0')
		return setenv("SSL_TLS_SNI_SERVERNAME", t->sni, 1);
	return unsetenv("SSL_TLS_SNI_SERVERNAME");
}

int
starttls_attach(struct starttls *t, const char *remote)
{
	struct logline	 l;
	const char	*word, *f;
	time_t		 deadline = time(NULL) + TLS_WAIT_TIMEOUT;

	if (dup2(t->plain, STDIN_FILENO) == -1 ||
	    dup2(t->plain, STDOUT_FILENO) == -1) {
		log_warn("tls: dup2: %s", strerror(errno));
		relay_kill(t);
		return -1;
	}
	close(t->plain);
	t->plain = -1;
	t->protocol[0] = t->cipher[0] = t->sni[0] = '\0';
	if ((word = status_field(t, deadline)) == NULL ||
	    strcmp(word, "ok") != 0)
		return -1;	/* the relay logged the failed handshake */
	while ((f = status_field(t, deadline)) != NULL)
		if (fact_take(t, f) == -1) {
			log_warn("tls: bad fact from the relay");
			return -1;
		}
	if (t->protocol[0] == '\0' || t->cipher[0] == '\0' ||
	    facts_export(t) == -1) {
		log_warn("tls: no protocol or cipher from the relay");
		return -1;
	}
	close(t->status);
	t->status = -1;
	logline_start(&l, "tls");
	logline_str(&l, "remote", remote);
	logline_str(&l, "protocol", t->protocol);
	logline_str(&l, "cipher", t->cipher);
	if (t->sni[0] != '\0')
		logline_str(&l, "sni", t->sni);
	logline_emit(&l);
	return 0;
}

void
starttls_end(struct starttls *t)
{
	int64_t	deadline;
	int	status, r;

	if (t->pid <= 0)
		return;
	/* The relay ends when the plaintext side closes: ours are the last. */
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	if (t->status != -1)
		close(t->status);
	t->status = -1;
	deadline = io_now_ms() + t->idle_ms + TLS_CLOSE_MS + IO_LINGER_MS +
	    TLS_END_GRACE_MS;
	r = child_wait_kill(t->pid, deadline, t->remote, "relay", &status);
	t->pid = 0;
	/* 0: relayed; 1: the handshake failed, which the relay logged. */
	if (r != 0)
		return;		/* an error, or killed and logged */
	if (WIFSIGNALED(status))
		log_warn("tls: the relay was killed by signal %d",
		    WTERMSIG(status));
	else if (WEXITSTATUS(status) > 1)
		log_warn("tls: the relay exited %d", WEXITSTATUS(status));
}

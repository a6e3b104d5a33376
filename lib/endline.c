#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "endline.h"
#include "io.h"
#include "lock.h"
#include "log.h"
#include "num.h"

void
endline_emit(const struct endline *e)
{
	struct logline	l;

	logline_start(&l, "end");
	logline_str(&l, "remote", e->remote);
	if (e->tls[0] != '\0') {
		logline_str(&l, "tls", e->tls);
		logline_str(&l, "cipher", e->cipher);
		if (e->sni[0] != '\0')
			logline_str(&l, "sni", e->sni);
	}
	logline_num(&l, "auth_failures", e->failures);
	logline_str(&l, "end", e->end);
	logline_emit(&l);
}

/*
 * Every value is printable ASCII without a space (the relay's facts are
 * checked so, the rest are ours): "key=value" words, space-separated.
 */
int
endline_export(const struct endline *e)
{
	char	buf[64 + sizeof(*e)];
	int	n;

	n = snprintf(buf, sizeof(buf), "remote=%s auth_failures=%u end=%s"
	    " relay=%u relay_ms=%u", e->remote, e->failures, e->end,
	    e->relay, e->relay_ms);
	if (n > 0 && e->tls[0] != '\0' && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, " tls=%s cipher=%s",
		    e->tls, e->cipher);
	if (n > 0 && e->sni[0] != '\0' && (size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - n, " sni=%s", e->sni);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return setenv(ENDLINE_ENV, buf, 1);
}

/* One "key=value" word into its field: 0, or -1. */
static int
endline_field(struct endline *e, const char *w, size_t len)
{
	static const struct {
		const char	*key;
		size_t		 off, size;
	} f[] = {
		{ "remote", offsetof(struct endline, remote),
		    sizeof(((struct endline *)0)->remote) },
		{ "tls", offsetof(struct endline, tls), TLS_FACT_MAX + 1 },
		{ "cipher", offsetof(struct endline, cipher), TLS_FACT_MAX + 1 },
		{ "sni", offsetof(struct endline, sni), TLS_FACT_MAX + 1 },
		{ "end", offsetof(struct endline, end), ENDLINE_NAME_MAX + 1 },
	};
	static const struct {
		const char	*key;
		size_t		 off;
	} nf[] = {
		{ "auth_failures", offsetof(struct endline, failures) },
		{ "relay", offsetof(struct endline, relay) },
		{ "relay_ms", offsetof(struct endline, relay_ms) },
	};
	const char	*eq = memchr(w, '=', len);
	char		 num[16];
	uint64_t	 v;
	size_t		 i, k, vl;

	if (eq == NULL || eq == w + len - 1)
		return -1;
	k = eq - w;
	vl = len - k - 1;
	for (i = 0; i < vl; i++)
		if (eq[1 + i] < 0x21 || eq[1 + i] > 0x7e)
			return -1;
	for (i = 0; i < sizeof(nf) / sizeof(nf[0]); i++) {
		if (strlen(nf[i].key) != k || memcmp(w, nf[i].key, k) != 0)
			continue;
		if (vl >= sizeof(num))
			return -1;
		memcpy(num, eq + 1, vl);
		num[vl] = '\0';
		if (num_parse(num, 0, INT32_MAX, &v) == -1)
			return -1;
		*(unsigned *)((char *)e + nf[i].off) = (unsigned)v;
		return 0;
	}
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strlen(f[i].key) == k && memcmp(w, f[i].key, k) == 0) {
			if (vl >= f[i].size)
				return -1;
			memcpy((char *)e + f[i].off, eq + 1, vl);
			((char *)e + f[i].off)[vl] = '\0';
			return 0;
		}
	return -1;
}

static int
endline_parse(struct endline *e, const char *s)
{
	size_t	n;

	memset(e, 0, sizeof(*e));
	while (*s != '\0') {
		n = strcspn(s, " ");
		if (n == 0 || endline_field(e, s, n) == -1)
			return -1;
		s += n;
		if (*s == ' ' && *++s == '\0')
			return -1;
	}
	return e->remote[0] == '\0' || e->end[0] == '\0' ||
	    (e->tls[0] == '\0') != (e->cipher[0] == '\0') ? -1 : 0;
}

/*
 * The relay's end, as the front's starttls_end waited for it: the
 * relay ends when the plaintext side closes, and ours are the last ends.
 * Past the deadline it cannot be killed from here (another uid), but our
 * exit kills it: its parent-death signal.
 */
static void
endline_relay(const struct endline *e)
{
	int	status, r;

	if (e->relay == 0)
		return;
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	r = child_wait_kill((pid_t)e->relay, io_now_ms() + e->relay_ms,
	    e->remote, "relay", &status);
	if (r != 0)
		return;
	if (WIFSIGNALED(status))
		log_warn("tls: the relay was killed by signal %d",
		    WTERMSIG(status));
	else if (WEXITSTATUS(status) > 1)
		log_warn("tls: the relay exited %d", WEXITSTATUS(status));
}

static struct endline	carried;
static pid_t		carrier;	/* the process that writes it */

/*
 * At exit or die(), in the process that took the line: as the front's,
 * which this process was before its exec in place.
 */
static void
endline_at_end(void)
{
	if (carrier == 0 || getpid() != carrier)
		return;
	carrier = 0;
	log_as("pop3d");
	endline_relay(&carried);
	endline_emit(&carried);
}

int
endline_take(int keep)
{
	const char	*v = getenv(ENDLINE_ENV);
	int		 bad;

	if (v == NULL)
		return 0;
	bad = endline_parse(&carried, v) == -1;
	if ((bad || !keep) && unsetenv(ENDLINE_ENV) == -1)
		return -1;
	if (bad) {
		log_warn("malformed %s: no end line", ENDLINE_ENV);
		return -1;
	}
	if (carrier == 0 && atexit(endline_at_end) != 0)
		return -1;
	carrier = getpid();
	log_at_die(endline_at_end);
	return 1;
}

void
endline_closing(void)
{
	const char	msg[] = "-ERR [SYS/TEMP] temporary failure; closing\r\n";
	ssize_t		n;

	n = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)n;
}

void
endline_reason(const char *why)
{
	if (strlen(why) <= ENDLINE_NAME_MAX)
		strcpy(carried.end, why);
}

/*
 * The user's uid, from root: the bound is armed, so the user's right to
 * signal us (SIGSTOP) changes nothing now.  The change of uid makes the
 * process non-dumpable as fs.suid_dumpable says: 0 or 2 keep the user's
 * processes from tracing us or taking our descriptors (pidfd_getfd,
 * /proc/PID/fd); 1 would not (pop3d-auth checks it before the login).
 */
static int
hold_drop(uid_t uid, const char **why)
{
	static char	buf[PATH_MAX + 64];
	const char	*home = getenv("HOME");

	*why = "cannot switch to the user";
	if (uid == 0 || setresuid(uid, uid, uid) == -1)
		return -1;
	*why = "still privileged after switching";
	if (getuid() != uid || geteuid() != uid || setuid(0) != -1)
		return -1;
	*why = "dumpable after switching (fs.suid_dumpable 1)";
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1)
		return -1;
	*why = "no HOME";
	if (home == NULL || chdir(home) == -1) {
		if (home != NULL) {
			snprintf(buf, sizeof(buf), "cannot enter home %s: %s",
			    home, strerror(errno));
			*why = buf;
		}
		return -1;
	}
	return 0;
}

/*
 * The front's alarm (FRONT_SESSION_MAX, kept across the execs) ends the
 * session, but a session the user stopped (SIGSTOP: the same uid) never
 * acts on it; SIGKILL ends even a stopped process.  It comes a minute a
 * day after the alarm, so that the alarm's orderly end goes first.
 */
static int
hold_bound(const char **why)
{
	struct sigevent		ev = { .sigev_notify = SIGEV_SIGNAL,
				    .sigev_signo = SIGKILL };
	struct itimerspec	ts = { { 0, 0 }, { 0, 0 } };
	struct itimerval	it;
	timer_t			t;
	time_t			left;

	*why = "cannot set the session's SIGKILL timer";
	if (getitimer(ITIMER_REAL, &it) == -1)
		return -1;
	left = it.it_value.tv_sec + (it.it_value.tv_usec > 0);
	if (left == 0) {
		*why = "no alarm from the front";
		return -1;
	}
	ts.it_value.tv_sec = left + left / 1440 + 1;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t) == -1 ||
	    timer_settime(t, 0, &ts, NULL) == -1)
		return -1;
	return 0;
}

/*
 * The slot as the front took it is an OFD lock, the open file's: a child
 * forked with the descriptor would hold it too, and one the user stopped
 * before its exec (the same uid) would keep it for good, out of reach of
 * our timer.  A POSIX lock is the process's own, never a child's.
 */
static int
hold_slot(const char **why)
{
	const char	*v = getenv(ENDLINE_SLOT_ENV), *colon;
	uint64_t	 fd, octet;
	int		 r = 0;

	if (v != NULL && ((colon = strchr(v, ':')) == NULL ||
	    num_parse_n(v, (size_t)(colon - v), 3, INT32_MAX, &fd) == -1 ||
	    num_parse(colon + 1, 0, CONN_PER_ADDRESS_MAX - 1, &octet) == -1)) {
		*why = "malformed " ENDLINE_SLOT_ENV;
		r = -1;
	} else if (v != NULL && lock_own((int)fd, (off_t)octet, CONN_GATE,
	    CONN_GATE_WAIT_MS) == -1) {
		*why = "cannot make the connection slot's lock this process's";
		r = -1;
	}
	(void)unsetenv(ENDLINE_SLOT_ENV);
	return r;
}

int
endline_hold(const char **why)
{
	const char	*v = getenv(ENDLINE_UID_ENV);
	uint64_t	 uid = 0;
	int		 drop = v != NULL, ok;

	*why = "malformed " ENDLINE_UID_ENV ", or not root";
	ok = !drop || (num_parse(v, 1, UINT32_MAX - 1, &uid) == 0 &&
	    geteuid() == 0);
	(void)unsetenv(ENDLINE_UID_ENV);
	if (ok) {
		*why = "cannot mark descriptors close-on-exec";
		ok = hold_slot(why) == 0 &&
		    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0 &&
		    hold_bound(why) == 0 &&
		    (!drop || hold_drop((uid_t)uid, why) == 0);
	}
	if (ok)
		return 0;
	/* Refused: the slot goes now, not at the exit. */
	(void)close_range(3, ~0U, 0);
	return -1;
}

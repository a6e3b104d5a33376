#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "ipc.h"

static const struct verdict verdicts[] = {
	{ VERDICT_FAIL, 0, 1, "-ERR [AUTH] authentication failed" },
	{ VERDICT_LAST, 1, 0, "-ERR [AUTH] authentication failed; closing" },
	{ VERDICT_TEMP, 0, 0,
	    "-ERR [SYS/TEMP] temporary failure, try again later" },
	{ VERDICT_DELAY, 0, 1, "-ERR [LOGIN-DELAY] too many failed logins for"
	    " this user from your address; try again later" },
	{ VERDICT_BLOCK, 1, 0, "-ERR [LOGIN-DELAY] too many failed logins from"
	    " your address; closing" },
	{ VERDICT_BUSY, 0, 1, "-ERR [LOGIN-DELAY] too many logins at once from"
	    " your address; try again later" },
	/* Last: it answers for any octet that is no login verdict. */
	{ VERDICT_END, 1, 0, "-ERR [SYS/TEMP] temporary failure; closing" },
};

const struct verdict *
verdict_find(char v)
{
	size_t	i, n = sizeof(verdicts) / sizeof(verdicts[0]);

	for (i = 0; i < n - 1; i++)
		if (verdicts[i].verdict == v)
			break;
	return &verdicts[i];
}

int
ipc_send(int fd, char type, const void *payload, size_t len)
{
	char	msg[IPC_MAX];
	ssize_t	n;

	if (len > IPC_MAX - 1) {
		errno = EMSGSIZE;
		return -1;
	}
	msg[0] = type;
	if (len > 0)
		memcpy(msg + 1, payload, len);
	/*
	 * As the descriptor is: the privileged side makes its end
	 * non-blocking (a full socket there means a peer that reads
	 * nothing), the confined side blocks until it is read or killed,
	 * so that its report of a hostile client or its credentials are
	 * never dropped.
	 */
	do
		n = send(fd, msg, len + 1, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	explicit_bzero(msg, sizeof(msg));
	return n == (ssize_t)(len + 1) ? 0 : -1;
}

int
ipc_recv(int fd, char *buf)
{
	ssize_t	n;

	do
		n = recv(fd, buf, IPC_MAX, MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n > IPC_MAX) {
		explicit_bzero(buf, IPC_MAX);
		errno = EPROTO;
		return -1;
	}
	return (int)n;
}

int
ipc_cred_check(const char *msg, size_t len, const char **mech)
{
	const char	*p, *end = msg + len, *nul;
	size_t		 field;
	int		 i;

	if (len < 2 || msg[0] != IPC_CRED)
		return -1;
	switch (msg[1]) {
	case MECH_USER:
		*mech = "USER";
		break;
	case MECH_APOP:
		*mech = "APOP";
		break;
	case MECH_PLAIN:
		*mech = "PLAIN";
		break;
	case MECH_LOGIN:
		*mech = "LOGIN";
		break;
	case MECH_CRAM:
		*mech = "CRAM-MD5";
		break;
	default:
		return -1;
	}
	for (i = 0, p = msg + 2; i < 2; i++, p = nul + 1) {
		if (p >= end || (nul = memchr(p, '\0', end - p)) == NULL)
			return -1;
		field = nul - p;
		if (i == 0 && (field == 0 || field > POP3_USER_MAX))
			return -1;
	}
	return p == end ? 0 : -1;	/* nothing left over */
}

int
ipc_log_check(const char *msg, size_t len, char *buf)
{
	if (len < 2 || len - 1 > LOG_VALUE_MAX || msg[0] != IPC_LOG ||
	    memchr(msg + 1, '\0', len - 1) != NULL)
		return -1;
	memcpy(buf, msg + 1, len - 1);
	buf[len - 1] = '\0';
	return 0;
}

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "num.h"
#include "trans.h"
#include "wire.h"
#include "xmit.h"

/*
 * The message an argument names, or NULL after telling the client why:
 * not a number, no such message, or deleted in this session.
 */
static struct msg *
msg_arg(struct session *s, const char *arg)
{
	uint64_t	n;
	struct msg	*m;

	if (num_parse(arg, 1, s->st->count, &n) == -1) {
		out_line(s->out, errno == ERANGE ? "-ERR no such message" :
		    "-ERR invalid message number");
		return NULL;
	}
	m = &s->st->msgs[n - 1];
	if (m->deleted) {
		out_line(s->out, "-ERR message %llu is deleted",
		    (unsigned long long)n);
		return NULL;
	}
	return m;
}

static unsigned long long
msg_number(const struct session *s, const struct msg *m)
{
	return (unsigned long long)(m - s->st->msgs) + 1;
}

/* Messages and octets not marked deleted. */
static void
live_totals(const struct session *s, size_t *count, uint64_t *octets)
{
	*count = s->st->count - s->dele;
	*octets = s->st->octets - s->dele_octets;
}

static enum pop3_next
cmd_capa(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;

	(void)cmd;
	out_line(s->out, "+OK capability list follows");
	out_str(s->out, "TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n");
	/* The values this session enforces: RFC 2449 forbids USER here. */
	if (s->expire != NULL)
		out_line(s->out, "EXPIRE %s", s->expire);
	if (s->login_delay >= 0)
		out_line(s->out, "LOGIN-DELAY %lld", (long long)s->login_delay);
	if (s->implementation != NULL)
		out_line(s->out, "IMPLEMENTATION %s", s->implementation);
	out_str(s->out, ".\r\n");
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_stat(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	size_t		 count;
	uint64_t	 octets;

	(void)cmd;
	live_totals(s, &count, &octets);
	out_line(s->out, "+OK %zu %llu", count, (unsigned long long)octets);
	return POP3_CONTINUE;
}

/* LIST and UIDL: one message, or every message not deleted. */
static enum pop3_next
list_or_uidl(struct session *s, struct pop3_cmd *cmd, int uidl)
{
	struct msg	*m;
	size_t		 i, count;
	uint64_t	 octets;

	if (cmd->nargs == 1) {
		if ((m = msg_arg(s, cmd->argv[0])) == NULL)
			return POP3_CONTINUE;
		if (uidl)
			out_line(s->out, "+OK %llu %.*s", msg_number(s, m),
			    (int)m->uidl_len, m->uidl);
		else
			out_line(s->out, "+OK %llu %llu", msg_number(s, m),
			    (unsigned long long)m->wire);
		return POP3_CONTINUE;
	}
	live_totals(s, &count, &octets);
	if (uidl)
		out_line(s->out, "+OK unique-id listing follows");
	else
		out_line(s->out, "+OK %zu messages (%llu octets)", count,
		    (unsigned long long)octets);
	for (i = 0; i < s->st->count; i++) {
		m = &s->st->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			out_item(s->out, i + 1, m->uidl, m->uidl_len);
		else
			out_item_num(s->out, i + 1, m->wire);
	}
	out_str(s->out, ".\r\n");
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_list(void *ctx, struct pop3_cmd *cmd)
{
	return list_or_uidl(ctx, cmd, 0);
}

static enum pop3_next
cmd_uidl(void *ctx, struct pop3_cmd *cmd)
{
	return list_or_uidl(ctx, cmd, 1);
}

/* The wire form is written straight into the output buffer. */
static char *
window_out(void *ctx, size_t n, size_t *room)
{
	out_commit(ctx, n);
	return out_room(ctx, room);
}

/*
 * Streams a message's wire form after its +OK: len octets of fd from off
 * (len UINT64_MAX: to the end), so that a message inside a bigger file
 * (an mbox) is sent exactly.  0, or -1 on a read error.
 */
static int
stream_msg(struct session *s, int fd, uint64_t off, uint64_t len,
    uint64_t top)
{
	struct wire	w;
	char		buf[IO_FILEBUF];
	ssize_t		n;
	size_t		want;

	wire_init_window(&w, window_out, s->out, 1, top);
	while (len > 0 && !wire_done(&w) && !s->out->failed) {
		want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		n = pread(fd, buf, want, (off_t)off);
		if (n == 0)
			break;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;	/* what the window holds is dropped */
		wire_feed(&w, buf, n);
		off += n;
		if (len != UINT64_MAX)
			len -= n;
	}
	wire_finish(&w);
	out_str(s->out, ".\r\n");
	return 0;
}

/* RETR and TOP: the message, whole or its headers and top lines. */
static enum pop3_next
send_msg(struct session *s, struct msg *m, int is_top, uint64_t top)
{
	uint64_t	off, len;
	int		fd, r;

	if ((fd = s->st->ops->open_msg(s->st, m, &off, &len)) == -1) {
		if (errno == ENOENT) {
			out_line(s->out, "-ERR message %llu was removed by"
			    " another program", msg_number(s, m));
			return POP3_CONTINUE;
		}
		s->st->ops->log_msg(s->st, "open-failed", m, errno);
		out_line(s->out, "-ERR [SYS/TEMP] cannot read message %llu",
		    msg_number(s, m));
		return POP3_CONTINUE;
	}
	if (is_top)
		out_line(s->out, "+OK top of message follows");
	else
		out_line(s->out, "+OK %llu octets",
		    (unsigned long long)m->wire);
	r = stream_msg(s, fd, off, len, is_top ? top : UINT64_MAX);
	close(fd);
	if (r == -1) {
		/* Past +OK there is no way to say -ERR: end the session. */
		s->st->ops->log_msg(s->st, "read-failed", m, errno);
		s->broken = 1;
		return POP3_END;
	}
	if (s->out->failed)
		return POP3_CONTINUE;	/* not sent: the loop ends the session */
	if (is_top)
		s->top++;
	else {
		s->retr++;
		s->retr_octets += m->wire;
		m->retrieved = 1;
	}
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_retr(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	struct msg	*m;

	if ((m = msg_arg(s, cmd->argv[0])) == NULL)
		return POP3_CONTINUE;
	return send_msg(s, m, 0, 0);
}

static enum pop3_next
cmd_top(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	struct msg	*m;
	uint64_t	 lines;

	if ((m = msg_arg(s, cmd->argv[0])) == NULL)
		return POP3_CONTINUE;
	if (num_parse(cmd->argv[1], 0, UINT64_MAX, &lines) == -1) {
		out_line(s->out, "-ERR invalid number of lines");
		return POP3_CONTINUE;
	}
	return send_msg(s, m, 1, lines);
}

static enum pop3_next
cmd_dele(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	struct msg	*m;

	if ((m = msg_arg(s, cmd->argv[0])) == NULL)
		return POP3_CONTINUE;
	m->deleted = 1;
	s->dele++;
	s->dele_octets += m->wire;
	out_line(s->out, "+OK message %llu deleted", msg_number(s, m));
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_rset(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	size_t		 i;

	(void)cmd;
	/* EXPIRE 0 removes what was retrieved as if deleted: undone too. */
	for (i = 0; i < s->st->count; i++)
		s->st->msgs[i].deleted = s->st->msgs[i].retrieved = 0;
	s->dele = s->dele_octets = 0;
	out_line(s->out, "+OK maildrop has %zu messages (%llu octets)",
	    s->st->count, (unsigned long long)s->st->octets);
	return POP3_CONTINUE;
}

static enum pop3_next
cmd_noop(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;

	(void)cmd;
	out_line(s->out, "+OK");
	return POP3_CONTINUE;
}

/*
 * XTND, for its one subcommand XMIT (xmit.c).  Off, it gets the answer of
 * a verb the table does not have, as it did before XMIT existed.
 */
static enum pop3_next
cmd_xtnd(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;
	char		 buf[POP3_REPLY_MAX];

	if (!s->xmit->enabled)
		out_line(s->out, "%s", pop3_refusal(POP3_PARSED, NULL, cmd,
		    buf, sizeof(buf)));
	else if (cmd->nargs == 0)
		out_line(s->out, "-ERR missing argument; usage: XTND XMIT");
	else if (strcasecmp(cmd->argv[0], "XMIT") != 0)
		out_line(s->out, "-ERR unknown XTND subcommand; usage: XTND"
		    " XMIT");
	else if (cmd->nargs > 1)
		out_line(s->out, "-ERR too many arguments; usage: XTND XMIT");
	else
		return xmit_command(s);
	return POP3_CONTINUE;
}

/*
 * The UPDATE state (the store's): removes the marked messages before
 * answering, so that a client that closes without reading the reply still
 * has its deletions.
 */
static enum pop3_next
cmd_quit(void *ctx, struct pop3_cmd *cmd)
{
	struct session	*s = ctx;

	(void)cmd;
	s->st->ops->update(s->st, s);
	s->quit = 1;
	/*
	 * The maildrop is free before the reply: a client that logs in
	 * again at once (a poller, a second account's check) must not find
	 * it in use by this session's last milliseconds.
	 */
	s->st->ops->unlock(s->st);
	if (s->unremoved > 0 && s->update_why != NULL)
		out_line(s->out, "-ERR [SYS/TEMP] %s; no message removed",
		    s->update_why);
	else if (s->unremoved > 0)
		out_line(s->out, "-ERR [SYS/TEMP] %llu of %llu deleted messages"
		    " could not be removed", (unsigned long long)s->unremoved,
		    (unsigned long long)(s->unremoved + s->removed));
	else
		out_line(s->out, "+OK bye, %llu messages removed",
		    (unsigned long long)s->removed);
	return POP3_END;
}

const struct pop3_verb trans_verbs[] = {
	{ "CAPA", 0, 0, "CAPA", cmd_capa },
	{ "STAT", 0, 0, "STAT", cmd_stat },
	{ "LIST", 0, 1, "LIST [msg]", cmd_list },
	{ "UIDL", 0, 1, "UIDL [msg]", cmd_uidl },
	{ "RETR", 1, 1, "RETR msg", cmd_retr },
	{ "TOP", 2, 2, "TOP msg lines", cmd_top },
	{ "DELE", 1, 1, "DELE msg", cmd_dele },
	{ "RSET", 0, 0, "RSET", cmd_rset },
	{ "NOOP", 0, 0, "NOOP", cmd_noop },
	{ "QUIT", 0, 0, "QUIT", cmd_quit },
	/* Any arguments: cmd_xtnd answers as it is configured. */
	{ "XTND", 0, INT_MAX, "XTND XMIT", cmd_xtnd },
	{ NULL, 0, 0, NULL, NULL }
};

"""XTND XMIT end to end: pop3d-maildrop on a loopback socket hands the
message to a fake sendmail, written here, that records its arguments, its
standard input and its open descriptors."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, Raw, Spawner, TempDir, check, check_eq,
                     make_maildir, run_all, test)

PROG = os.path.join(BUILD, "pop3d-maildrop")

MSGS = [("1600000001.M1P1.test", b"Subject: one\n\nbody\n"),
        ("1600000002.M1P1.test", b"Subject: two\n\nbody\n")]

# Records argv (one per line), stdin and open descriptors under $1, says
# something on stdout and stderr (for the log, not the client), and exits
# with $FAKE_EXIT.
FAKE = b"""#!/bin/sh
rec=$1
shift
printf '%s\\n' "$@" >"$rec.argv"
cat >"$rec.msg"
ls -l /proc/$$/fd >"$rec.fds"
echo "fake sendmail on stdout"
echo "fake sendmail on stderr" >&2
exit ${FAKE_EXIT:-0}
"""

HANG = b"""#!/bin/sh
echo $$ >"$1.pid"
trap '' TERM
sleep 60
sleep 60
"""


class Box:
    """A maildrop, the fake programs and where they record."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.md = make_maildir(os.path.join(tmp.path, "Maildir"),
                               new=MSGS)
        self.fake = os.path.join(tmp.path, "fake-sendmail")
        self.hang = os.path.join(tmp.path, "hang-sendmail")
        for path, text in ((self.fake, FAKE), (self.hang, HANG)):
            with open(path, "wb") as f:
                f.write(text)
            os.chmod(path, 0o755)
        os.mkdir(os.path.join(tmp.path, "rec"))
        self.rec = os.path.join(tmp.path, "rec", "r")
        tmp.give()

    def env(self, **extra):
        env = {"USER": "alice", "POP3D_XTND_XMIT": "1",
               "POP3D_XMIT_COMMAND": "%s %s -oi -t" % (self.fake, self.rec)}
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def spawner(self, **extra):
        return Spawner([PROG, "Maildir"], env=self.env(**extra),
                       cwd=self.tmp.path)

    def recorded(self, what):
        try:
            with open(self.rec + "." + what, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def forget(self):
        for what in ("argv", "msg", "fds", "pid"):
            try:
                os.unlink(self.rec + "." + what)
            except FileNotFoundError:
                pass


def session(srv):
    r = Raw(srv.connect())
    check(r.line().startswith(b"+OK"), "greeting")
    return r


def xmit(r, body):
    """XTND XMIT with body (wire form, final dot included): the reply."""
    head = r.cmd(b"XTND XMIT")
    if not check(head.startswith(b"+OK"), "XTND XMIT: %r" % head):
        return head
    r.send(body)
    return r.line()


def log_lines(srv, event):
    return [l for l in srv.log().splitlines() if ": %s " % event in l]


@test
def off_by_default():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner(POP3D_XTND_XMIT=None) as srv:
            r = session(srv)
            # What XTND got before XMIT existed (a verb of no state here).
            for c in (b"XTND XMIT", b"XTND", b"XTND FOO", b"xtnd xmit"):
                check_eq(r.cmd(c), b"-ERR command not valid in this state",
                         "off by default: %r" % c)
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
            r.send(b"CAPA\r\n")
            r.line()
            check(b"XTND" not in r.multiline(), "CAPA does not list XTND")
            r.cmd(b"QUIT")
        for value in ("0", "no"):
            with box.spawner(POP3D_XTND_XMIT=value) as srv:
                r = session(srv)
                check_eq(r.cmd(b"XTND XMIT"),
                         b"-ERR command not valid in this state",
                         "POP3D_XTND_XMIT=%s is off" % value)
                r.cmd(b"QUIT")
        for value in ("on", "2", "true"):
            with box.spawner(POP3D_XTND_XMIT=value) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                         "a malformed POP3D_XTND_XMIT=%s refuses" % value)
                srv.wait_all()
            check("bad setting: POP3D_XTND_XMIT must be 0 or 1" in srv.log(),
                  "... and is logged")
        check(box.recorded("msg") is None, "nothing was submitted")


@test
def exact_bytes_reach_the_program():
    wire = (b"From: alice@example.org\r\n"
            b"To: bob@example.org\r\n"
            b"Subject: test\r\n"
            b"\r\n"
            b"..\r\n"                   # a line that is just "."
            b"...\r\n"                  # ".."
            b"..leading dot\r\n"
            b".x\r\n"                   # a stuffing dot the client forgot
            b"bare LF line\n"
            b"bare\rCR inside\r\n"
            b"octets \x00\x01\x1b\x7f\x80\xc3\xa4\xff end\r\n"
            b"trailing CR\r\r\n"
            b"\r\n"
            b".\r\n")
    want = (b"From: alice@example.org\n"
            b"To: bob@example.org\n"
            b"Subject: test\n"
            b"\n"
            b".\n"
            b"..\n"
            b".leading dot\n"
            b"x\n"
            b"bare LF line\n"
            b"bare\rCR inside\n"
            b"octets \x00\x01\x1b\x7f\x80\xc3\xa4\xff end\n"
            b"trailing CR\r\n"
            b"\n")
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner() as srv:
            r = session(srv)
            check_eq(r.cmd(b"XTND XMIT"),
                     b'+OK send the message, ending with a line "."',
                     "XTND XMIT asks for the message")
            r.send(wire)
            check_eq(r.line(), b"+OK message sent", "the message is sent")
            check_eq(box.recorded("msg"), want,
                     "unstuffed, CRLF to LF, octets as they came")
            check_eq(box.recorded("argv"),
                     b"-oi\n-t\n-f\nalice\n",
                     "the command's words, then -f and the user")
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
            check_eq(r.cmd(b"STAT")[:5], b"+OK 2", "the maildrop unchanged")
            check_eq(r.cmd(b"QUIT")[:3], b"+OK", "QUIT")
            srv.wait_all()
        # "N -> target" for each descriptor of the fake (a shell, which
        # holds its script and the file it redirects to besides).
        fds = dict(l.split(b" -> ")[0].split()[-1:] + [l.split(b" -> ")[1]]
                   for l in box.recorded("fds").splitlines() if b" -> " in l)
        check(fds.get(b"0", b"").startswith(
            os.path.join(box.md, "tmp").encode()) and
              fds[b"0"].endswith(b"(deleted)"),
              "stdin is the unlinked spool in tmp/: %r" % fds.get(b"0"))
        check_eq(fds.get(b"2"), srv.logpath.encode(), "stderr is the log")
        others = {k: v for k, v in fds.items() if k != b"0" and v not in (
            box.fake.encode(), (box.rec + ".fds").encode(),
            srv.logpath.encode())}
        check_eq(others, {}, "no other descriptor of ours (the socket, the"
                 " maildrop, its lock) reaches it")
        log = srv.log()
        check("fake sendmail on stdout" in log and
              "fake sendmail on stderr" in log,
              "its stdout and stderr go to the log")
        size = len(want) + want.count(b"\n")
        lines = log_lines(srv, "xmit")
        check_eq(len(lines), 1, "one xmit log line")
        check(lines and lines[0].endswith(
            "xmit user=alice octets=%d status=sent" % size),
            "logged with user, octets (as LIST counts) and status: %r"
            % lines)
        check("From:" not in log and "bob@" not in log,
              "no message content is logged")
        check_eq(os.listdir(os.path.join(box.md, "tmp")), [],
                 "the spool leaves nothing in tmp/")


@test
def pipelined_commands_after_the_dot():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner() as srv:
            r = session(srv)
            # All in one packet, the command included.
            r.send(b"XTND XMIT\r\nSubject: p\r\n\r\nQUIT\r\nDELE 1\r\n"
                   b".\r\nNOOP\r\nDELE 2\r\nSTAT\r\nLIST 2\r\nQUIT\r\n")
            check(r.line().startswith(b"+OK send"), "+OK for XTND XMIT")
            check_eq(r.line(), b"+OK message sent", "sent")
            check_eq(r.line(), b"+OK", "then NOOP")
            check_eq(r.line(), b"+OK message 2 deleted", "then DELE 2")
            check_eq(r.line()[:5], b"+OK 1", "then STAT")
            check_eq(r.line(), b"-ERR message 2 is deleted", "then LIST 2")
            check(r.line().startswith(b"+OK"), "then QUIT")
            srv.wait_all()
        check_eq(box.recorded("msg"), b"Subject: p\n\nQUIT\nDELE 1\n",
                 "the message's lines were not commands")
        check_eq(len(os.listdir(os.path.join(box.md, "cur"))), 1,
                 "only message 2 was removed")


@test
def oversize_is_refused_in_sync():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner(POP3D_XMIT_MAX="2048") as srv:
            r = session(srv)
            # 2048 octets as LIST counts them: taken.
            body = (b"Subject: s\r\n\r\n" + (b"x" * 98 + b"\r\n") * 20 +
                    b"x" * 32 + b"\r\n")
            check_eq(xmit(r, body + b".\r\n"), b"+OK message sent",
                     "a message of exactly POP3D_XMIT_MAX octets")
            box.forget()
            body = (b"Subject: s\r\n\r\n" + (b"y" * 98 + b"\r\n") * 20 +
                    b"y" * 33 + b"\r\n")
            check_eq(xmit(r, body + b".\r\n"),
                     b"-ERR message too large (at most 2048 octets)",
                     "one octet more is refused")
            big = (b"Subject: big\r\n\r\n" + (b"DELE 1\r\nQUIT\r\n" * 3000) +
                   b"..\r\n" + b".\r\n")
            check_eq(xmit(r, big),
                     b"-ERR message too large (at most 2048 octets)",
                     "a far larger one is refused after its end")
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session is in sync")
            check_eq(r.cmd(b"STAT")[:5], b"+OK 2",
                     "no line of it ran as a command")
            r.cmd(b"QUIT")
            srv.wait_all()
        check(box.recorded("msg") is None, "nothing was submitted")
        check_eq(len(os.listdir(os.path.join(box.md, "cur"))), 2,
                 "nothing was deleted")
        check_eq(len([l for l in log_lines(srv, "xmit")
                      if "status=too-large" in l]), 2,
                 "logged as too-large")


@test
def overlong_lines_are_refused_in_sync():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner() as srv:
            r = session(srv)
            ok = b"a" * 998
            check_eq(xmit(r, b"S: x\r\n\r\n" + ok + b"\r\n." + ok +
                          b"\r\n.\r\n"),
                     b"+OK message sent",
                     "998 characters, stuffed or not, make a line")
            box.forget()
            for line, what in (
                    (b"b" * 999, "999 characters"),
                    (b"." + b"b" * 999, "999 characters after a stuffing dot"),
                    (b"b" * 5000, "a line longer than any buffer"),
                    (b"b" * 300000, "a line of 300 kB")):
                check_eq(xmit(r, b"S: x\r\n\r\n" + line + b"\r\nQUIT\r\n"
                              b".\r\n"),
                         b"-ERR message has a line longer than 998 octets",
                         "%s: refused after the end" % what)
                check_eq(r.cmd(b"NOOP"), b"+OK", "... and the session is"
                         " in sync")
            r.cmd(b"QUIT")
            srv.wait_all()
        check(box.recorded("msg") is None, "nothing was submitted")
        check("status=line-too-long" in srv.log(), "logged")


@test
def failing_and_hanging_programs():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner(FAKE_EXIT="75") as srv:
            r = session(srv)
            check_eq(xmit(r, b"S: x\r\n\r\nhi\r\n.\r\n"),
                     b"-ERR [SYS/TEMP] message not sent (submission program"
                     b" exited 75)", "a failing program: [SYS/TEMP]")
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
            r.cmd(b"QUIT")
            srv.wait_all()
        check("status=failed exit=75" in srv.log(), "logged with the exit")
        cmd = "%s %s" % (box.hang, box.rec)
        with box.spawner(POP3D_XMIT_COMMAND=cmd,
                         POP3D_XMIT_COMMAND_TIMEOUT="1") as srv:
            r = session(srv)
            t = time.time()
            check_eq(xmit(r, b"S: x\r\n\r\nhi\r\n.\r\n"),
                     b"-ERR [SYS/TEMP] message not sent (submission program"
                     b" took more than 1 seconds)", "a hanging program")
            took = time.time() - t
            check(took < 10, "killed in time (%.1f s)" % took)
            pid = int(box.recorded("pid") or b"0")
            time.sleep(0.5)
            check(pid > 0 and not os.path.exists("/proc/%d" % pid),
                  "the program is gone")
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
            r.cmd(b"QUIT")
            srv.wait_all()
        check("status=timeout" in srv.log(), "logged as a timeout")
        with box.spawner(POP3D_XMIT_COMMAND="/nonexistent/sendmail") as srv:
            r = session(srv)
            check_eq(xmit(r, b"S: x\r\n\r\nhi\r\n.\r\n"),
                     b"-ERR [SYS/TEMP] message not sent (submission program"
                     b" exited 127)", "a missing program")
            r.cmd(b"QUIT")
            srv.wait_all()
        check("cannot run /nonexistent/sendmail" in srv.log(),
              "logged with its name")


@test
def xtnd_subcommands_and_arguments():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner() as srv:
            r = session(srv)
            for c, want in (
                    (b"XTND", b"-ERR missing argument; usage: XTND XMIT"),
                    (b"XTND STATS",
                     b"-ERR unknown XTND subcommand; usage: XTND XMIT"),
                    (b"XTND XMITX",
                     b"-ERR unknown XTND subcommand; usage: XTND XMIT"),
                    (b"XTND XMIT now",
                     b"-ERR too many arguments; usage: XTND XMIT"),
                    (b"XTND XMIT a b c",
                     b"-ERR too many arguments; usage: XTND XMIT")):
                check_eq(r.cmd(c), want, "%r" % c)
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
            check_eq(xmit(r, b"S: x\r\n\r\n.\r\n"), b"+OK message sent",
                     "XTND XMIT still works")
            check(r.cmd(b"xtnd xmit").startswith(b"+OK"), "in lower case")
            r.send(b".\r\n")
            check_eq(r.line(), b"+OK message sent", "an empty message")
            r.cmd(b"QUIT")
        check_eq(box.recorded("msg"), b"", "... is given as it is")


@test
def the_user_must_be_safe():
    with TempDir() as tmp:
        box = Box(tmp)
        for user, what in ((None, "USER unset"), ("-oQ/tmp", "an option"),
                           ("a b", "a space"), ("a;b", "a semicolon")):
            with box.spawner(USER=user) as srv:
                r = session(srv)
                check_eq(r.cmd(b"XTND XMIT"),
                         b"-ERR [SYS/PERM] cannot send mail for this user",
                         "%s: refused before the message" % what)
                check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
                r.cmd(b"QUIT")
                srv.wait_all()
            check("status=bad-user" in srv.log(), "%s: logged" % what)
        check(box.recorded("msg") is None, "nothing was submitted")


@test
def bad_settings():
    """A bad setting refuses the session, as pop3d-maildrop.8 says."""
    with TempDir() as tmp:
        box = Box(tmp)
        for name, value, what in (
                ("POP3D_XMIT_COMMAND", "sendmail -t", "a relative path"),
                ("POP3D_XMIT_COMMAND", "   ", "no words"),
                ("POP3D_XMIT_COMMAND", " ".join(["/bin/true"] + ["x"] * 32),
                 "33 words"),
                ("POP3D_XMIT_COMMAND", "/bin/" + "x" * 1020,
                 "1025 characters"),
                ("POP3D_XMIT_MAX", "1023", "under the minimum"),
                ("POP3D_XMIT_TIMEOUT", "x", "not a number"),
                ("POP3D_XMIT_COMMAND_TIMEOUT", "0", "under the minimum")):
            with box.spawner(**{name: value}) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                         "%s with %s: refused" % (name, what))
                srv.wait_all()
                check_eq(srv.procs[0].returncode, 101, "... exit 101")
            check("bad setting: " + name in srv.log(), "... logged")
        check(box.recorded("msg") is None, "nothing was submitted")


@test
def a_message_cut_short_ends_the_session():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner(POP3D_IDLE_TIMEOUT="1") as srv:
            r = session(srv)
            r.cmd(b"DELE 1")
            check(r.cmd(b"XTND XMIT").startswith(b"+OK"), "XTND XMIT")
            r.send(b"Subject: cut\r\n\r\nhalf a message\r\n")
            check(r.closed(timeout=20), "an idle client is dropped")
            check_eq(r.buf, b"-ERR idle for too long; closing\r\n",
                     "with a last word")
            srv.wait_all()
            r = session(srv)
            r.cmd(b"XTND XMIT")
            r.send(b"Subject: cut\r\n\r\nhalf")
            r.s.shutdown(socket.SHUT_WR)
            check(r.closed(), "a client closing mid-message")
            srv.wait_all()
        check(box.recorded("msg") is None, "nothing was submitted")
        check_eq(len(os.listdir(os.path.join(box.md, "cur"))), 2,
                 "and nothing deleted")
        log = srv.log()
        check("status=incomplete end=timeout" in log and
              "status=incomplete end=eof" in log, "logged as incomplete")
        check("end=timeout" in [l for l in log.splitlines()
                                if ": session " in l][0],
              "the session line says timeout")


@test
def the_whole_message_has_a_deadline():
    with TempDir() as tmp:
        box = Box(tmp)
        with box.spawner(POP3D_XMIT_TIMEOUT="10",
                         POP3D_IDLE_TIMEOUT="5") as srv:
            r = session(srv)
            check(r.cmd(b"XTND XMIT").startswith(b"+OK"), "XTND XMIT")
            t = time.time()
            r.s.settimeout(1)
            got = b""
            while time.time() - t < 30:
                try:
                    r.send(b"a line every half second\r\n")
                except OSError:
                    break
                try:
                    d = r.s.recv(4096)
                    if not d:
                        break
                    got += d
                except socket.timeout:
                    pass
                time.sleep(0.5)
            took = time.time() - t
            check_eq(got.split(b"\r\n")[0],
                     b"-ERR message not received within 10 seconds; closing",
                     "a trickling client is cut at POP3D_XMIT_TIMEOUT")
            check(9 <= took < 15, "after 10 seconds (%.1f)" % took)
            srv.wait_all()
        check(box.recorded("msg") is None, "nothing was submitted")


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


@test
def memory_is_flat_in_message_size():
    with TempDir() as tmp:
        box = Box(tmp)
        peaks = []
        for size in (2000, 9 * 1024 * 1024):
            with box.spawner() as srv:
                r = session(srv)
                line = b"0123456789" * 9 + b"\r\n"
                body = b"S: big\r\n\r\n" + line * (size // len(line))
                check_eq(xmit(r, body + b".\r\n"), b"+OK message sent",
                         "%d octets sent" % size)
                peaks.append(vm_hwm_kb(srv.last_proc().pid))
                r.cmd(b"QUIT")
                srv.wait_all()
            check_eq(len(box.recorded("msg")),
                     len(body) - body.count(b"\r\n"),
                     "%d octets arrived whole" % size)
        check(peaks[0] > 0 and peaks[1] - peaks[0] < 2048,
              "peak memory for 9 MB within 2 MB of 2 KB's (%d kB vs %d kB)"
              % (peaks[1], peaks[0]))


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""pop3d-maildrop end to end: the real binary on a loopback socket, driven
with Python's poplib and with raw sockets for what poplib won't send."""

import os
import poplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, Raw, Spawner, TempDir, check, check_eq,
                     make_maildir, run_all, test, unstuffed_size, wire_form, skip)

PROG = os.path.join(BUILD, "pop3d-maildrop")

# Messages covering the wire-form cases: CRLF and LF files, dot lines,
# no final newline, an empty message, headers only, a bare CR.
MSGS = [
    ("1600000001.M1P1.test", b"Subject: one\n\nHello\n.\n..\n.x\nbye\n"),
    ("1600000002.M1P1.test", b"Subject: two\r\n\r\nCRLF body\r\n.\r\n"),
    ("1600000003.M1P1.test", b"Subject: three\n\nno final newline"),
    ("1600000004.M1P1.test", b""),
    ("1600000005.M1P1.test", b"From: a\nTo: b\n"),
    ("1600000006.M1P1.test", b"Subject: six\r\n\r\nbare\rCR\r\n"),
]


def setup(tmp, cur=None, new=None):
    md = make_maildir(os.path.join(tmp.path, "Maildir"),
                      cur=[(n + ":2,", d) for n, d in (cur or [])],
                      new=new if new is not None else MSGS)
    tmp.give()
    return md


def spawner(tmp, env=None, args=None):
    return Spawner([PROG] + (args if args is not None else ["Maildir"]),
                   env=env, cwd=tmp.path)


def pop(srv):
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    srv.connections += 1
    return p


def check_list_is_retr(p, n, what):
    """LIST n must give the octets RETR n actually sends."""
    _, _, octets = p.retr(n)
    return check_eq(int(p.list(n).split()[2]), octets, what)


def files(md):
    return sorted(os.listdir(os.path.join(md, "cur")) +
                  os.listdir(os.path.join(md, "new")))


@test
def retr_matches_wire_form_and_list_sizes():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            check(p.getwelcome().startswith(b"+OK"), "greeting is +OK")
            count, octets = p.stat()
            check_eq(count, len(MSGS), "STAT counts every message")
            check_eq(octets, sum(unstuffed_size(d) for _, d in MSGS),
                     "STAT octets are the sum of wire sizes")
            _, lst, _ = p.list()
            sizes = [int(l.split()[1]) for l in lst]
            for i, (name, data) in enumerate(MSGS, 1):
                _, lines, got = p.retr(i)
                check_eq(got, sizes[i - 1],
                         "LIST size of %d equals the octets RETR sent" % i)
                check_eq(int(p.list(i).split()[2]), sizes[i - 1],
                         "LIST %d agrees with LIST" % i)
            p.quit()
            # Byte for byte, dot-stuffing included, on a raw socket.
            r = Raw(srv.connect())
            r.line()
            for i, (name, data) in enumerate(MSGS, 1):
                head = r.cmd(b"RETR %d" % i)
                check_eq(head, b"+OK %d octets" % unstuffed_size(data),
                         "RETR %d announces its size" % i)
                check_eq(r.multiline(), wire_form(data),
                         "RETR %d is the exact wire form" % i)
            check_eq(r.cmd(b"QUIT")[:3], b"+OK", "QUIT")
            r.close()
        check_eq(len(os.listdir(os.path.join(md, "new"))), 0,
                 "new/ is emptied into cur/")
        check(all(f.endswith(":2,") for f in os.listdir(os.path.join(md, "cur"))),
              "moved messages get the :2, info")


@test
def top_sends_headers_and_lines():
    msg = b"Subject: t\nX: y\n\nl1\n.l2\nl3\nl4\n"
    with TempDir() as tmp:
        setup(tmp, new=[("1700000000.M1P1.t", msg)])
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            for n in (0, 1, 2, 10, 18446744073709551615):
                check_eq(r.cmd(b"TOP 1 %d" % n)[:3], b"+OK", "TOP 1 %d" % n)
                check_eq(r.multiline(), wire_form(msg, top=n),
                         "TOP 1 %d sends headers and %d lines" % (n, n))
            check_eq(r.cmd(b"TOP 1 -1"), b"-ERR invalid number of lines",
                     "TOP with a negative count")
            check_eq(r.cmd(b"TOP 1 18446744073709551616"),
                     b"-ERR invalid number of lines", "TOP count overflow")
            check_eq(r.cmd(b"TOP 1"),
                     b"-ERR missing argument; usage: TOP msg lines",
                     "TOP without a count")
            check_eq(r.cmd(b"NOOP"), b"+OK", "session goes on")
            r.cmd(b"QUIT")


@test
def uidl_is_the_unique_name_and_stable():
    with TempDir() as tmp:
        md = setup(tmp, cur=[("1500000000.M9P9.old,S=10", b"Subject: o\n\nx\n")])
        with spawner(tmp) as srv:
            p = pop(srv)
            _, lst, _ = p.uidl()
            first = [l.split()[1] for l in lst]
            check_eq(first[0], b"1500000000.M9P9.old,S=10",
                     "UIDL is the name before :2, (oldest first)")
            check_eq(first[1:], [n.encode() for n, _ in MSGS],
                     "UIDLs of new messages are their names")
            check_eq(p.uidl(2).split()[2], first[1], "UIDL msg agrees")
            p.quit()
            # Flags change (another program renames); UIDLs stay.
            cur = os.path.join(md, "cur")
            for f in os.listdir(cur):
                os.rename(os.path.join(cur, f), os.path.join(cur, f + "S"))
            p = pop(srv)
            _, lst, _ = p.uidl()
            check_eq([l.split()[1] for l in lst], first,
                     "UIDLs survive flag changes and the move to cur/")
            p.quit()


@test
def dele_quit_removes_and_disconnect_keeps():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            p.dele(1)
            p.dele(3)
            check_eq(p.stat()[0], len(MSGS) - 2, "STAT leaves out deleted")
            _, lst, _ = p.list()
            check_eq([int(l.split()[0]) for l in lst], [2, 4, 5, 6],
                     "LIST leaves out deleted")
            # A session that ends without QUIT removes nothing.
            p.close()
            srv.wait_all()
            check_eq(len(files(md)), len(MSGS), "disconnect removes nothing")

            p = pop(srv)
            p.dele(1)
            p.rset()
            check_eq(p.stat()[0], len(MSGS), "RSET undeletes")
            p.dele(2)
            p.dele(6)
            resp = p.quit()
            check(resp.startswith(b"+OK"), "QUIT after DELE answers +OK")
            srv.wait_all()
            left = files(md)
            check_eq(len(left), len(MSGS) - 2, "QUIT removed two messages")
            check(not any(f.startswith(MSGS[1][0]) or f.startswith(MSGS[5][0])
                          for f in left), "the right two are gone")
        check(srv.procs[-1].returncode == 0, "exit status 0 after QUIT")
        check("removed=2" in srv.log() and "end=quit" in srv.log(),
              "the session log line counts the removals")


@test
def quit_then_close_without_reading_still_updates():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            # As Outlook does: QUIT, then close at once.
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"DELE 1")
            r.cmd(b"DELE 2")
            r.send(b"QUIT\r\n")
            r.s.shutdown(socket.SHUT_RDWR)
            r.close()
            srv.wait_all()
        check_eq(len(files(md)), len(MSGS) - 2,
                 "UPDATE done though the client never read the reply")


@test
def deleted_messages_are_errors():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            check_eq(r.cmd(b"DELE 2"), b"+OK message 2 deleted", "DELE 2")
            for c in (b"LIST 2", b"RETR 2", b"TOP 2 0", b"UIDL 2", b"DELE 2"):
                check_eq(r.cmd(c), b"-ERR message 2 is deleted",
                         c.decode() + " of a deleted message")
            check_eq(r.cmd(b"NOOP"), b"+OK", "the session goes on")
            r.cmd(b"QUIT")


@test
def argument_and_command_errors():
    cases = [
        (b"RETR", b"-ERR missing argument; usage: RETR msg"),
        (b"RETR 1 2", b"-ERR too many arguments; usage: RETR msg"),
        (b"RETR x", b"-ERR invalid message number"),
        (b"RETR -1", b"-ERR invalid message number"),
        (b"RETR +1", b"-ERR invalid message number"),
        (b"RETR 0", b"-ERR no such message"),
        (b"RETR 7", b"-ERR no such message"),
        (b"RETR 99999999999999999999999", b"-ERR no such message"),
        (b"LIST 1x", b"-ERR invalid message number"),
        (b"STAT 1", b"-ERR too many arguments; usage: STAT"),
        (b"DELE", b"-ERR missing argument; usage: DELE msg"),
        (b"FOO", b"-ERR unknown command"),
        (b"USER bob", b"-ERR command not valid in this state"),
        (b"PASS secret", b"-ERR command not valid in this state"),
        (b"APOP bob 0123", b"-ERR command not valid in this state"),
        (b"STLS", b"-ERR command not valid in this state"),
        (b"", b"-ERR empty command"),
        (b"ST\x00T", b"-ERR control character in command"),
        (b"NOOP\rX", b"-ERR control character in command"),
    ]
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            for c, want in cases:
                check_eq(r.cmd(c), want, "%r gets %r" % (c, want))
            check_eq(r.cmd(b"stat"), b"+OK 6 %d" %
                     sum(unstuffed_size(d) for _, d in MSGS),
                     "lower-case commands; the session went on")
            check_eq(r.cmd(b"  noop  "), b"+OK", "spaces around a command")
            r.send(b"NOOP\n")
            check_eq(r.line(), b"+OK", "a bare LF ends a line too")
            r.cmd(b"QUIT")


@test
def line_limits():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            ok = b"NOOP " + b"x" * (253 - 5)
            check_eq(len(ok) + 2, 255, "a 255-octet line")
            check_eq(r.cmd(ok), b"-ERR too many arguments; usage: NOOP",
                     "255 octets with CRLF are parsed")
            check_eq(r.cmd(ok + b"x"),
                     b"-ERR command line too long (at most 255 octets)",
                     "256 octets are refused")
            check_eq(r.cmd(b"N" * 510),
                     b"-ERR command line too long (at most 255 octets)",
                     "512 octets are refused, the session goes on")
            check_eq(r.cmd(b"NOOP"), b"+OK", "... and the next command works")
            # The line end counts as it came: a bare LF is one octet.
            check_eq(r.cmd(b"NOOP" + b" " * 249), b"+OK",
                     "253 octets and CRLF: 255, trailing spaces ignored")
            r.send(b"NOOP" + b" " * 250 + b"\n")
            check_eq(r.line(), b"+OK", "254 octets and a bare LF: 255, parsed")
            r.send(b"NOOP" + b" " * 251 + b"\n")
            check_eq(r.line(),
                     b"-ERR command line too long (at most 255 octets)",
                     "255 octets and a bare LF: 256, refused")
            r.send(b"N" * 511 + b"\n")
            check_eq(r.line(),
                     b"-ERR command line too long (at most 255 octets)",
                     "511 octets and a bare LF: 512, refused")
            check_eq(r.cmd(b"N" * 511),
                     b"-ERR command line far too long; closing",
                     "513 octets are hostile")
            check(r.closed(), "the session ends after a hostile line")
            r = Raw(srv.connect())
            r.line()
            r.send(b"N" * 600 + b"\r\n" + b"NOOP\r\n" * 20000)
            check_eq(r.line(), b"-ERR command line far too long; closing",
                     "the reply survives the unread input behind it")
            check_eq(r.s.recv(10), b"", "then a clean close, not a reset")
        check("end=hostile" in srv.log(), "a hostile line is logged")


@test
def capa_lists_what_applies():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(sorted(p.capa().keys()),
                     ["PIPELINING", "RESP-CODES", "TOP", "UIDL"],
                     "CAPA without settings")
            p.quit()
        env = {"POP3D_IMPLEMENTATION": "pop3d test", "POP3D_EXPIRE": "NEVER"}
        with spawner(tmp, env=env) as srv:
            p = pop(srv)
            caps = p.capa()
            check_eq(caps.get("IMPLEMENTATION"), ["pop3d", "test"],
                     "IMPLEMENTATION when configured")
            check_eq(caps.get("EXPIRE"), ["NEVER"], "EXPIRE when configured")
            p.quit()


@test
def bad_settings_refuse_the_session():
    """As the front does: a bad setting is never served on with a guess."""
    with TempDir() as tmp:
        md = setup(tmp)
        before = files(md)
        for name, value, says in (
                ("POP3D_IMPLEMENTATION", "x" * 65, "at most 64 printable"),
                ("POP3D_EXPIRE", "soon", "NEVER or a number from 0 to"),
                ("POP3D_IDLE_TIMEOUT", "0", "a number from"),
                ("POP3D_MAX_MESSAGES", "lots", "a number from"),
                ("POP3D_LOGIN_DELAY", "-1", "a number from"),
                ("POP3D_XTND_XMIT", "2", "0 or 1"),
                ("POP3D_DEBUG", "2", "0 or 1"),
                ("POP3D_LOG", "file", "stderr or syslog")):
            with spawner(tmp, env={name: value}) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                         "a bad %s refuses the session" % name)
                srv.wait_all()
                check_eq(srv.procs[0].returncode, 101,
                         "%s: exit status 101" % name)
                log = srv.log()
            check("bad setting: %s must be" % name in log and says in log,
                  "%s: the log names the setting and its bounds" % name)
            check('reason="bad settings"' in log,
                  "%s: and the refusal" % name)
        check_eq(files(md), before, "the maildrop is left alone")
        # Empty is unset, not bad; in bounds is served.
        with spawner(tmp, env={"POP3D_EXPIRE": "", "POP3D_IDLE_TIMEOUT":
                               "86400"}) as srv:
            p = pop(srv)
            check("EXPIRE" not in p.capa(), "an empty setting is unset")
            p.quit()


@test
def pipelined_commands_all_answered():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            r.send(b"STAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nNOOP\r\nQUIT\r\n")
            check(r.line().startswith(b"+OK 6 "), "pipelined STAT")
            r.line()
            check_eq(len(r.multiline().split(b"\r\n")) - 1, 6, "pipelined LIST")
            r.line()
            check_eq(len(r.multiline().split(b"\r\n")) - 1, 6, "pipelined UIDL")
            r.line()
            check_eq(r.multiline(), wire_form(MSGS[1][1]), "pipelined RETR")
            check_eq(r.line(), b"+OK", "pipelined NOOP")
            check(r.line().startswith(b"+OK"), "pipelined QUIT")


@test
def second_session_is_in_use():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            p.dele(1)
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [IN-USE] maildrop is in use by another"
                     b" session", "a concurrent session gets [IN-USE]")
            check(r.closed(), "and is closed")
            p.quit()
            srv.wait_all()
            check_eq(srv.procs[1].returncode, 101, "exit status 101")
            check_eq(len(files(md)), len(MSGS) - 1,
                     "the first session's UPDATE went through")
            # The lock died with the process: a new session gets in.
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS) - 1, "the lock is released")
            p.close()
            srv.wait_all()
            # Even when the holder is killed.
            p = pop(srv)
            srv.last_proc().kill()
            srv.wait_all()
            p.close()
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS) - 1, "killed holder releases it")
            p.quit()


@test
def message_removed_behind_the_back():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            cur = os.path.join(md, "cur")
            names = sorted(os.listdir(cur))
            os.unlink(os.path.join(cur, names[0]))
            check_eq(r.cmd(b"RETR 1"),
                     b"-ERR message 1 was removed by another program",
                     "RETR of a message removed behind our back")
            check_eq(r.cmd(b"TOP 1 0"),
                     b"-ERR message 1 was removed by another program",
                     "TOP of it too")
            os.rename(os.path.join(cur, names[1]),
                      os.path.join(cur, names[1] + "S"))
            check_eq(r.cmd(b"RETR 2")[:3], b"+OK",
                     "a message whose flags changed is found again")
            check_eq(r.multiline(), wire_form(MSGS[1][1]), "... whole")
            check_eq(r.cmd(b"DELE 1"), b"+OK message 1 deleted", "DELE it")
            check_eq(r.cmd(b"DELE 2"), b"+OK message 2 deleted", "DELE 2")
            check(r.cmd(b"QUIT").startswith(b"+OK"),
                  "QUIT: a gone message counts as removed")
            srv.wait_all()
        check_eq(len(files(md)), len(MSGS) - 2, "renamed message removed")


@test
def missing_and_unusable_maildrops():
    with TempDir() as tmp:
        tmp.give()
        # Not made at the login: its parent is missing too.
        with spawner(tmp, args=["nodir/nowhere"]) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [SYS/PERM] maildrop unavailable",
                     "a missing maildrop is [SYS/PERM]")
            srv.wait_all()
            check_eq(srv.procs[0].returncode, 100, "exit status 100")
            check("nowhere" in srv.log(), "logged with its path")
        os.makedirs(os.path.join(tmp.path, "half", "cur"))
        tmp.give()
        with spawner(tmp, args=["half"]) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [SYS/PERM] maildrop unavailable",
                     "a maildrop without new/ is [SYS/PERM]")
        md = setup(tmp)
        os.chmod(md, 0)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [SYS/PERM] maildrop unavailable",
                     "an unreadable maildrop is [SYS/PERM]")
        os.chmod(md, 0o700)
        with spawner(tmp, args=["a", "b"]) as srv:
            r = Raw(srv.connect())
            check(r.line().startswith(b"-ERR [SYS/PERM]"), "usage error")
            srv.wait_all()
            check_eq(srv.procs[0].returncode, 100, "exit status 100 for usage")


@test
def first_login_creates_the_maildir():
    """Issue 17: a new account's missing Maildir is made at its first login
    (cur, new, tmp, mode 0700), but only in a real directory of the user's:
    never through a symbolic link, never in someone else's directory."""
    with TempDir() as tmp:
        tmp.give()
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.getwelcome(), b"+OK maildrop has 0 messages (0 octets)",
                     "a missing Maildir is made, not refused")
            p.quit()
            srv.wait_all()
        md = os.path.join(tmp.path, "Maildir")
        modes = [os.stat(os.path.join(md, d)).st_mode & 0o7777
                 for d in ("", "cur", "new", "tmp")]
        check_eq(modes, [0o700] * 4, "Maildir, cur, new, tmp: mode 0700")
        check_eq(sorted(f for f in os.listdir(tmp.path)
                        if "pop3d-new" in f), [], "no temporary left")
        check("maildrop-created" in srv.log() and "maildrop=Maildir"
              in srv.log(), "logged: %r" % srv.log()[-300:])
        # An absolute maildrop in a directory of the user's: made too.
        vm = os.path.join(tmp.path, "vmail")
        os.mkdir(vm)
        tmp.give()
        with spawner(tmp, env={"MAILDROP": vm + "/gina/Maildir"}) as srv:
            try:
                pop(srv).quit()
            except poplib.error_proto:
                pass
        check(not os.path.exists(os.path.join(vm, "gina")),
              "not when the parent itself is missing")
        os.mkdir(os.path.join(vm, "gina"))
        tmp.give()
        with spawner(tmp, env={"MAILDROP": vm + "/gina/Maildir/"}) as srv:
            check(pop(srv).getwelcome().startswith(b"+OK maildrop has 0"),
                  "an absolute maildrop, trailing slash: made")
        check(os.path.isdir(os.path.join(vm, "gina", "Maildir", "new")),
              "with its new/")
        # Through a symbolic link: the parent, or the maildrop itself.
        os.symlink("vmail", os.path.join(tmp.path, "link"))
        os.symlink("vmail/elsewhere", os.path.join(tmp.path, "Dangling"))
        for path, what in (("link/Maildir", "a parent that is a symlink"),
                           ("Dangling", "a dangling symlink")):
            with spawner(tmp, args=[path]) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/PERM] maildrop unavailable",
                         "%s: refused as before" % what)
        check_eq(sorted(os.listdir(vm)), ["gina"],
                 "and nothing made through either link")
        if ROOT:
            other = os.path.join(tmp.path, "rootdir")
            os.mkdir(other, 0o777)
            os.chmod(other, 0o777)
            with spawner(tmp, args=["rootdir/Maildir"]) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/PERM] maildrop unavailable",
                         "a parent not the user's: refused")
            check_eq(os.listdir(other), [], "and nothing made in it")


@test
def maildrop_from_environment_and_default():
    with TempDir() as tmp:
        setup(tmp)
        os.rename(os.path.join(tmp.path, "Maildir"),
                  os.path.join(tmp.path, "Other"))
        with spawner(tmp, env={"MAILDROP": "Other"}, args=[]) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS), "$MAILDROP names the maildrop")
            p.quit()
        # Issue 17: the user's MAILDROP wins; the argument is the default.
        with spawner(tmp, env={"MAILDROP": "Other"}) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS),
                     "$MAILDROP wins over the argument Maildir")
            p.quit()
        check(not os.path.exists(os.path.join(tmp.path, "Maildir")),
              "and the argument's Maildir is not made")
        with spawner(tmp, env={"MAILDROP": ""}, args=["Other"]) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS), "an empty $MAILDROP: the "
                     "argument")
            p.quit()
        os.rename(os.path.join(tmp.path, "Other"),
                  os.path.join(tmp.path, "Maildir"))
        with spawner(tmp, args=[]) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS), "Maildir is the default")
            p.quit()


@test
def refuses_to_run_as_root():
    if not ROOT:
        skip("not root here: the root refusal is tested under CI")
        return
    with TempDir() as tmp:
        setup(tmp)
        srv = Spawner([PROG, "Maildir"], cwd=tmp.path, as_root=True)
        r = Raw(srv.connect())
        check_eq(r.line(), b"-ERR [SYS/PERM] server misconfigured",
                 "as root: refused")
        srv.wait_all()
        check_eq(srv.procs[0].returncode, 100, "exit status 100 as root")
        check("refusing to run as root" in srv.log(), "logged")
        srv.close()


@test
def idle_timeout_ends_the_session():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp, env={"POP3D_IDLE_TIMEOUT": "1"}) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"DELE 1")
            check(r.closed(timeout=20), "an idle session is closed")
            check_eq(r.buf, b"-ERR idle for too long; closing\r\n",
                     "with a last word")
            srv.wait_all()
        check_eq(len(files(md)), len(MSGS), "a timed-out session removes nothing")
        check("end=timeout" in srv.log(), "logged as a timeout")


@test
def message_count_limit():
    with TempDir() as tmp:
        setup(tmp)
        md = os.path.join(tmp.path, "Maildir")
        # Older ones already in cur/, the newest still in new/.
        for i in range(4):
            name = "1500000000.M%dP1.old:2," % i
            with open(os.path.join(md, "cur", name), "wb") as f:
                f.write(b"Subject: old\n\nold\n")
        tmp.give()
        with spawner(tmp, env={"POP3D_MAX_MESSAGES": "3"}) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 3, "no more than POP3D_MAX_MESSAGES served")
            _, lst, _ = p.uidl()
            check_eq([l.split()[1] for l in lst],
                     [n.encode() for n, _ in MSGS[-3:]],
                     "the newest are served, oldest first, so new mail shows")
            p.dele(1)
            p.dele(2)
            p.dele(3)
            p.quit()
            p = pop(srv)
            check_eq(p.stat()[0], 3, "after deleting them, the next three")
            _, lst, _ = p.uidl()
            check_eq([l.split()[1] for l in lst],
                     [n.encode() for n, _ in MSGS[:3]],
                     "... are the next newest")
            p.quit()
        check("truncated=1" in srv.log(), "the cut is logged")


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def peak_after_retr(size):
    body = (b"0123456789" * 7 + b"\n") * (size // 71 + 1)
    with TempDir() as tmp:
        setup(tmp, new=[("1700000000.M1P1.big", b"Subject: big\n\n" + body)])
        with spawner(tmp) as srv:
            p = pop(srv)
            _, _, octets = p.retr(1)
            peak = vm_hwm_kb(srv.last_proc().pid)
            p.quit()
    return peak, octets, len(wire_form(b"Subject: big\n\n" + body))


@test
def memory_is_flat_in_message_size():
    small_peak, _, _ = peak_after_retr(2000)
    big_peak, octets, want = peak_after_retr(20 * 1024 * 1024)
    check_eq(octets, want, "a 20 MB message retrieved whole")
    check(big_peak > 0 and big_peak - small_peak < 2048,
          "peak memory for 20 MB within 2 MB of a 2 KB message's "
          "(%d kB vs %d kB)" % (big_peak, small_peak))


@test
def big_maildrop_second_session_uses_the_cache():
    n = 100000
    with TempDir() as tmp:
        md = make_maildir(os.path.join(tmp.path, "Maildir"))
        new = os.path.join(md, "new")
        for i in range(n):
            with open(os.path.join(new, "%d.M%dP1.big" % (1600000000 + i, i)),
                      "wb") as f:
                f.write(b"Subject: %d\n\nbody %d\n" % (i, i))
        tmp.give()
        with spawner(tmp) as srv:
            p = pop(srv)
            first = p.stat()
            p.quit()
            srv.wait_all()      # the session's log line comes after QUIT
            check_eq(first[0], n, "100,000 messages listed")
            check("size_read=%d" % n in srv.log(), "first session reads them")
            # Bodies unreadable now: only the cache can give the sizes.
            cur = os.path.join(md, "cur")
            for f in os.listdir(cur):
                os.chmod(os.path.join(cur, f), 0)
            p = pop(srv)
            check_eq(p.stat(), first, "second session: same STAT from cache")
            _, lst, _ = p.list()
            check_eq(len(lst), n, "second session: LIST complete")
            p.quit()
            srv.wait_all()
            log = srv.log().splitlines()[-1]
            check("size_cache=%d" % n in log and "size_read=0" in log,
                  "second session read no message body: " + log)


@test
def corrupt_or_stale_cache_is_rebuilt():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            want = p.stat()
            p.quit()
            cache = os.path.join(md, "pop3d-scan.cache")
            check(os.path.exists(cache), "the cache is written")
            good = open(cache, "rb").read()
            for label, data in (("garbage", b"\xff" * 4096),
                                ("truncated", good[:100]),
                                ("flipped", good[:-40] + b"\xee" * 40)):
                with open(cache, "wb") as f:
                    f.write(data)
                p = pop(srv)
                check_eq(p.stat(), want, "%s cache: sizes still right" % label)
                p.quit()
            check("cache-damaged file=%s" % os.path.join(md, "pop3d-scan.cache")
                  in srv.log(), "a corrupt cache is logged")
            # A message replaced by a different one under the same name.
            cur = os.path.join(md, "cur")
            name = sorted(os.listdir(cur))[0]
            with open(os.path.join(cur, name), "wb") as f:
                f.write(b"Subject: other\n\nlonger body than before\n\n\n")
            p = pop(srv)
            check_list_is_retr(p, 1, "a stale cache entry is not trusted")
            p.quit()


@test
def sizes_from_w_in_names_need_no_reading():
    body = b"Subject: w\n\nbody\n"
    name = "1700000000.M1P1.w,S=%d,W=%d" % (len(body), unstuffed_size(body))
    with TempDir() as tmp:
        md = setup(tmp, cur=[(name, body)], new=[])
        os.chmod(os.path.join(md, "cur", name + ":2,"), 0)
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat(), (1, unstuffed_size(body)),
                     "STAT from ,W= in the name, body unreadable")
            p.quit()
        log = srv.log()
        check("size_name=1" in log and "size_read=0" in log,
              "the size came from the name")


@test
def a_client_that_stops_reading_is_dropped():
    body = (b"x" * 70 + b"\n") * (8 * 1024 * 1024 // 71)
    with TempDir() as tmp:
        md = setup(tmp, new=[("1700000000.M1P1.big", b"S: b\n\n" + body),
                             ("1700000001.M1P1.small", b"S: s\n\nx\n")])
        with spawner(tmp, env={"POP3D_IDLE_TIMEOUT": "1"}) as srv:
            s = srv.connect()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"DELE 2\r\nRETR 1\r\n")
            proc = srv.last_proc()
            try:
                proc.wait(timeout=60)
                exited = True
            except subprocess.TimeoutExpired:
                exited = False
            check(exited, "a stalled reader does not hold the process")
            s.close()
        check_eq(len(files(md)), 2, "and nothing is removed")
        check("end=ioerr" in srv.log(), "logged as an I/O end")


@test
def multiline_replies_go_out_in_one_write():
    strace = subprocess.run(["sh", "-c", "command -v strace"],
                            capture_output=True, text=True).stdout.strip()
    if not strace:
        skip("strace is not installed: write counting not tested")
        return
    with TempDir() as tmp:
        setup(tmp)
        trace = os.path.join(tmp.path, "trace")
        with Spawner([strace, "-e", "trace=write", "-o", trace, PROG,
                      "Maildir"], cwd=tmp.path) as srv:
            r = Raw(srv.connect())
            r.line()
            for c in (b"LIST", b"UIDL", b"CAPA"):
                r.send(c + b"\r\n")
                r.line()
                r.multiline()
            r.cmd(b"QUIT")
            srv.wait_all()
        writes = [l for l in open(trace).read().splitlines()
                  if l.startswith("write(1,")]
        check_eq(len(writes), 5,
                 "greeting, LIST, UIDL, CAPA and QUIT: one write each")


def a_b_pair(tmp):
    """Two files with one unique name and different flags (A, then B)."""
    md = make_maildir(os.path.join(tmp.path, "Maildir"))
    a = os.path.join(md, "cur", "1700000000.M1P1.h:2,S")
    b = os.path.join(md, "cur", "1700000000.M1P1.h:2,T")
    with open(a, "wb") as f:
        f.write(b"Subject: A\n\nthis is A\n")
    with open(b, "wb") as f:
        f.write(b"Subject: B\n\nthis is B, longer\n")
    tmp.give()
    return md, a, b


@test
def same_unique_name_never_confused():
    with TempDir() as tmp:
        md, a, b = a_b_pair(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            _, lst, _ = p.uidl()
            uidls = [l.split()[1] for l in lst]
            check_eq(len(set(uidls)), 2, "two files of one name: two UIDLs")
            # Same delivery time and name: the lower inode comes first
            # (ext4 does not hand inodes out in creation order).
            first = b"this is A" if (os.stat(a).st_ino < os.stat(b).st_ino) \
                else b"this is B"
            i = uidls.index(b"1700000000.M1P1.h") + 1
            body = b"\n".join(p.retr(i)[1])
            check(first in body, "the name's UIDL is the first file's")
            p.quit()
            # B's flags change: the UIDLs stay with their files.
            os.rename(b, b + "F")
            p = pop(srv)
            _, lst, _ = p.uidl()
            check_eq(sorted(l.split()[1] for l in lst), sorted(uidls),
                     "a flag change moves no UIDL")
            i = [l.split()[1] for l in lst].index(b"1700000000.M1P1.h") + 1
            check(first in b"\n".join(p.retr(i)[1]),
                  "... the name's UIDL still gives the same file")
            p.quit()
            # The name's file goes behind the session's back: its namesake
            # must not stand in for it.
            holder, other = (a, b + "F") if first == b"this is A" \
                else (b + "F", a)
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"UIDL")
            listing = r.multiline()
            num = [l.split()[0] for l in listing.split(b"\r\n")
                   if l.endswith(b" 1700000000.M1P1.h")][0]
            os.unlink(holder)
            check_eq(r.cmd(b"RETR " + num),
                     b"-ERR message %s was removed by another program" % num,
                     "a removed file is not replaced by its namesake")
            r.cmd(b"DELE " + num)
            check(r.cmd(b"QUIT").startswith(b"+OK"), "QUIT")
            srv.wait_all()
        check(os.path.exists(other), "DELE of one did not remove its namesake")


@test
def bad_files_are_skipped_not_fatal():
    with TempDir() as tmp:
        md = setup(tmp)
        cur = os.path.join(md, "cur")
        os.symlink("/etc/passwd", os.path.join(cur, "1700000001.M1P1.link:2,"))
        os.mkfifo(os.path.join(cur, "1700000002.M1P1.fifo:2,"))
        locked = os.path.join(cur, "1700000003.M1P1.locked:2,")
        with open(locked, "wb") as f:
            f.write(b"Subject: locked\n\n")
        os.chmod(locked, 0)
        tmp.give()
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS),
                     "a symlink, a FIFO and an unreadable file are skipped")
            p.quit()
        log = srv.log()
        check("unreadable=1" in log, "the unreadable file is counted")
        skips = [l for l in log.splitlines() if " skip file=" in l]
        check_eq(len(skips), 3, "each skipped file is logged")
        real = os.path.realpath(cur)
        for name in ("1700000001.M1P1.link:2,", "1700000002.M1P1.fifo:2,",
                     "1700000003.M1P1.locked:2,"):
            check(any(" skip file=%s/%s " % (real, name) in l for l in skips),
                  "%s named by its absolute path: %r" % (name, skips))
        check(any("link" in l and "symbolic" in l for l in skips),
              "the link as a link")


@test
def rewritten_message_is_not_sized_from_cache():
    with TempDir() as tmp:
        md = make_maildir(os.path.join(tmp.path, "Maildir"))
        path = os.path.join(md, "cur", "1700000000.M1P1.h,S=11:2,")
        with open(path, "wb") as f:
            f.write(b"A: b\n\nxyzw\n")               # 11 octets, LF
        tmp.give()
        with spawner(tmp) as srv:
            p = pop(srv)
            p.stat()
            p.quit()
            with open(path, "wb") as f:
                f.write(b"A: b\r\n\r\nx\r\n")      # 11 octets, CRLF
            check_eq(os.path.getsize(path), 11, "the same size as before")
            os.utime(path, ns=(1, 1))
            p = pop(srv)
            check_list_is_retr(
                p, 1, "same size, same name, other content: sized anew")
            p.quit()


@test
def size_field_without_digits_is_ignored():
    data = b"abc\nd"
    with TempDir() as tmp:
        setup(tmp, cur=[("1700000004.M1P1.h,W=,S=5", data)], new=[])
        with spawner(tmp) as srv:
            p = pop(srv)
            check_list_is_retr(p, 1, "an empty ,W= is not a size of 0")
            p.quit()


@test
def namesake_taking_the_name_is_not_served_or_removed():
    with TempDir() as tmp:
        md = make_maildir(os.path.join(tmp.path, "Maildir"))
        a = os.path.join(md, "cur", "1700000000.M1P1.u:2,")
        b = os.path.join(md, "new", "1700000000.M1P1.u")
        with open(a, "wb") as f:
            f.write(b"Subject: A\n\nthis is A\n")
        with open(b, "wb") as f:
            f.write(b"Subject: B\n\nthis is B\n")
        tmp.give()
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            check_eq(r.cmd(b"STAT")[:6], b"+OK 2 ", "A in cur/, B kept in new/")
            # Another program removes A and moves B to A's name.
            os.unlink(a)
            os.rename(b, a)
            check_eq(r.cmd(b"RETR 1"),
                     b"-ERR message 1 was removed by another program",
                     "B under A's name is not served as A")
            check_eq(r.cmd(b"RETR 2")[:3], b"+OK", "B is found at its new name")
            check(b"this is B" in r.multiline(), "... and served as B")
            r.cmd(b"DELE 1")
            check(r.cmd(b"QUIT").startswith(b"+OK"), "QUIT")
            srv.wait_all()
        check(os.path.exists(a), "DELE of A did not remove B under A's name")


@test
def namesakes_both_sized_from_the_cache():
    with TempDir() as tmp:
        a_b_pair(tmp)
        with spawner(tmp) as srv:
            for _ in range(3):
                p = pop(srv)
                p.stat()
                p.quit()
            srv.wait_all()
        last = srv.log().splitlines()[-1]
        check("size_cache=2 size_read=0" in last and
              ("cache=kept" in last or "cache=index" in last),
              "two files of one unique name: two cache records: " + last)


@test
def w_named_fifo_is_skipped():
    with TempDir() as tmp:
        md = setup(tmp)
        os.mkfifo(os.path.join(md, "cur", "1700000009.M1P1.f,W=5:2,"))
        tmp.give()
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS), "a FIFO is skipped, ,W= or not")
            p.quit()


@test
def file_names_are_escaped_in_the_log():
    with TempDir() as tmp:
        md = setup(tmp)
        os.symlink("/etc/passwd", os.path.join(
            md, "cur", "1700000001.x\npop3d-maildrop[1]: session forged:2,"))
        tmp.give()
        with spawner(tmp) as srv:
            p = pop(srv)
            p.quit()
        log = srv.log()
        check(not any(l.startswith("pop3d-maildrop[1]") for l in log.splitlines()),
              "a file name cannot forge a log line")
        check("\\x0apop3d-maildrop[1]:" in log, "the newline is escaped")


@test
def sigterm_ends_the_session_cleanly():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"DELE 1")
            srv.last_proc().terminate()
            check_eq(r.line(), b"-ERR [SYS/TEMP] server shutting down; closing",
                     "SIGTERM: the client is told")
            check(r.closed(), "and the connection closed")
            srv.wait_all()
            check_eq(srv.procs[0].returncode, 101, "exit status 101")
        check_eq(len(files(md)), len(MSGS), "nothing removed")
        check("end=signal" in srv.log(), "the session line says signal")


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""Logging: stderr by default, syslog (facility mail) with POP3D_LOG=syslog,
and the debug dialogue (POP3D_DEBUG=1) with every secret hidden."""

import base64
import os
import poplib
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Raw, TempDir, check, check_eq, run_all, test
from test_front import front, pop, setup

DEV_LOG = "/dev/log"


@test
def syslog_gets_the_lines():
    if not ROOT or os.path.exists(DEV_LOG):
        # Binding /dev/log needs root, and a real syslog must be left be.
        print("# skipped: %s" % ("not root" if not ROOT else
                                 "/dev/log belongs to a running syslog"))
        return
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(DEV_LOG)
    os.chmod(DEV_LOG, 0o666)
    rx.settimeout(10)
    try:
        with TempDir() as tmp:
            setup(tmp)
            with front(tmp, env={"POP3D_LOG": "syslog"}) as srv:
                p = pop(srv)
                p.user("alice")
                p.pass_("secret")
                p.stat()
                p.quit()
                srv.wait_all()
            got = []
            rx.settimeout(2)
            try:
                while True:
                    got.append(rx.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            auth = [m for m in got if "auth remote=127.0.0.1 user=alice" in m]
            check(len(auth) == 1, "the front's auth line reaches syslog:"
                  " %r" % got[:4])
            # <22>: facility mail (2) * 8 + severity info (6).
            check(auth and auth[0].startswith("<22>") and
                  "pop3d[" in auth[0], "as mail.info, tagged pop3d[pid]")
            check(any("session user=alice" in m and "pop3d-maildrop[" in m
                      for m in got), "the maildrop's session line too")
            check("auth remote=" not in srv.log(),
                  "and not on stderr: %r" % srv.log()[-200:])
            check("secret" not in "".join(got), "no password in syslog")
    finally:
        rx.close()
        os.unlink(DEV_LOG)


def pre(text, closed=True):
    """How the front writes a line of the pre-login process's: escaped as
    one quoted value (log_escape: quote and backslash as \\xHH), tagged."""
    esc = text.replace("\\", "\\x5c").replace('"', "\\x22")
    return 'preauth-log remote=127.0.0.1 text="%s%s' % (esc,
                                                        '"' if closed else "")


@test
def debug_shows_the_dialogue_but_no_secret():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"POP3D_DEBUG": "1",
                              "POP3D_AUTH_FAILURES": "10"}) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            r.cmd(b"PASS s3cr3t-wrong")
            r.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0pl41n-wrong"))
            r.cmd(b"AUTH LOGIN")
            r.cmd(base64.b64encode(b"alice"))
            r.cmd(base64.b64encode(b"l0g1n-wrong"))
            r.cmd(b"APOP alice 0123456789abcdef0123456789abcdef")
            r.cmd(b"PASS tab\tt4bsecret")
            r.send(b"PASS cr\rcr0secret\r\n")
            r.line()
            r.cmd(b"PAS typ0secret")
            r.cmd(b"pass l0wersecret")
            r.cmd(b"QUIT")
            r.close()
            p = pop(srv)
            p.user("alice")
            p.pass_("secret")
            p.stat()
            p.quit()
            srv.wait_all()
        log = srv.log()
        check(pre('debug client="USER alice"') in log, "client lines are logged")
        check(pre('debug client="PASS (hidden)"') in log, "PASS is hidden")
        check(pre('debug client="AUTH PLAIN (hidden)"') in log,
              "AUTH's initial response is hidden")
        check(pre('debug client="(a SASL response, hidden)"') in log,
              "SASL responses are hidden")
        check(pre('debug client="APOP alice (hidden)"') in log,
              "APOP's digest is hidden")
        check(pre('debug server="+OK send PASS"') in log,
              "server status lines are logged")
        check('debug client=STAT' in log and
              'debug server="+OK 2 ' in log,
              "the mailbox stage's dialogue too")
        check(pre('debug client="PAS (arguments hidden)"') in log,
              "an unknown verb's words are hidden (a mistyped PASS)")
        check(pre('debug client="(not a command: ', False) in log,
              "a line that is not a command is hidden")
        for secret in ("s3cr3t", "pl41n", "l0g1n", "0123456789abcdef",
                       "t4bsecret", "cr0secret", "typ0secret", "l0wersecret",
                       base64.b64encode(b"l0g1n-wrong").decode(),
                       "secret"):
            check(secret not in log, "%s is nowhere in the log" % secret)
        with front(tmp) as srv:
            p = pop(srv)
            p.quit()
            srv.wait_all()
        check("debug" not in srv.log(), "no debug lines by default")


@test
def preauth_lines_come_tagged_through_the_front():
    """The pre-login process writes no line of its own: its debug lines
    reach the log through the front, escaped as one value and tagged, so
    that a client's words (or a compromised pre-login process) cannot make
    a line that looks like the front's; and only so many per connection."""
    forged = b"pop3d[1]: auth remote=127.0.0.1 user=alice mech=USER result=ok"
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"POP3D_DEBUG": "1",
                              "POP3D_AUTH_FAILURES": "10"}) as srv:
            r = Raw(srv.connect())
            r.line()
            fpid = srv.last_proc().pid
            kids = open("/proc/%d/task/%d/children" %
                        (fpid, fpid)).read().split()
            prepid = int(kids[0]) if len(kids) == 1 else -1
            r.cmd(b"USER x\r" + forged)      # refused: a control character
            r.cmd(b"USER " + forged)
            r.cmd(b'USER a"b\\c')
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()
        log = srv.log()
        lines = log.splitlines()
        check(prepid > 0 and not any(l.startswith("pop3d[%d]:" % prepid)
                                     for l in lines),
              "no line from the pre-login process's own pid")
        check_eq([l for l in lines if re.match(r"^pop3d\[\d+\]: auth ", l)],
                 [], "no auth line was forged")
        check(pre('debug client="USER %s"' % forged.decode()) in log,
              "the forged line is one value inside a tagged line: %r" %
              log[-600:])
        check(pre('debug client="(not a command: ', False) in log and
              "\r" not in log, "the line with a CR is not even shown")
        # Escaped twice: by the pre-login process, then by the front.
        check(pre('debug client="USER a\\x22b\\x5cc"') in log,
              "quotes and backslashes are escaped")
        check(all(l.startswith("pop3d[%d]: " % fpid) for l in lines
                  if "preauth-log" in l), "written by the front")
        with front(tmp, env={"POP3D_DEBUG": "1"}) as srv:
            r = Raw(srv.connect())
            r.line()
            r.send(b"CAPA\r\n" * 300)
            for _ in range(300):
                while r.line() != b".":
                    pass
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()
        log = srv.log()
        check_eq(log.count("preauth-log remote="), 256,
                 "at most 256 lines a connection (PREAUTH_LOG_LINES)")
        check_eq(log.count("preauth-log-limit remote=127.0.0.1 lines=256"),
                 1, "then one line says the rest are dropped")


@test
def under_inetd_nothing_is_logged_to_the_client():
    # inetd gives the program the socket as fds 0, 1 and 2.
    with TempDir() as tmp:
        setup(tmp)
        from test_front import chain
        argv, env = chain(tmp, env={"POP3D_DEBUG": "1",
                                    "PATH": "/usr/bin:/bin"})
        a, b = socket.socketpair()
        p = subprocess.Popen(argv, stdin=b, stdout=b, stderr=b, env=env,
                             cwd=tmp.path)
        b.close()
        r = Raw(a)
        check(r.line().startswith(b"+OK"), "greeted")
        r.cmd(b"USER alice")
        r.cmd(b"PASS secret")
        r.cmd(b"STAT")
        check(r.cmd(b"QUIT").startswith(b"+OK"), "a whole session")
        r.s.settimeout(10)
        rest = b""
        try:
            while True:
                d = r.s.recv(4096)
                if not d:
                    break
                rest += d
        except socket.timeout:
            pass
        check_eq(rest + r.buf, b"", "no log line reached the client, even"
                 " in debug mode")
        r.close()
        check_eq(p.wait(timeout=30), 0, "the chain ended well")


@test
def one_summary_line_per_session():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            p = pop(srv)
            p.user("alice")
            p.pass_("secret")
            p.retr(1)
            p.dele(2)
            p.quit()
            srv.wait_all()
        lines = [l for l in srv.log().splitlines() if " session " in l]
        check_eq(len(lines), 1, "one session line")
        keys = [kv.split("=", 1)[0] for kv in lines[0].split()[2:]]
        check_eq(keys, ["user", "remote", "mech", "msgs", "octets", "retr",
                        "retr_octets", "top", "dele", "dele_octets",
                        "removed", "size_name", "size_cache", "size_read",
                        "cache", "scan", "end", "ms", "session"],
                 "the documented keys, in order (the connection's id"
                 " last): %r" % lines[0])
        check(" user=alice remote=127.0.0.1 mech=USER " in lines[0] and
              " retr=1 " in lines[0] and " dele=1 " in lines[0] and
              " end=quit " in lines[0], "with the session's values")
        check(any(" end remote=127.0.0.1 " in l and "end=login" in l
                  for l in srv.log().splitlines()),
              "and the front's end line for the connection")


@test
def a_bad_log_setting_is_refused():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"POP3D_LOG": "journal"}) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                     "POP3D_LOG=journal: refused, not guessed")
            r.close()
            srv.wait_all()
        check("POP3D_LOG must be stderr or syslog" in srv.log(),
              "with the reason in the log")


if __name__ == "__main__":
    run_all(sys.argv[2:])

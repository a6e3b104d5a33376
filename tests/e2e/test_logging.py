"""Logging: stderr by default, syslog (facility mail) with POP3D_LOG=syslog,
and the debug dialogue (POP3D_DEBUG=1) with every secret hidden."""

import base64
import os
import poplib
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
        check('debug client="USER alice"' in log, "client lines are logged")
        check('debug client="PASS (hidden)"' in log, "PASS is hidden")
        check('debug client="AUTH PLAIN (hidden)"' in log,
              "AUTH's initial response is hidden")
        check('debug client="(a SASL response, hidden)"' in log,
              "SASL responses are hidden")
        check('debug client="APOP alice (hidden)"' in log,
              "APOP's digest is hidden")
        check('debug server="+OK send PASS"' in log,
              "server status lines are logged")
        check('debug client=STAT' in log and
              'debug server="+OK 2 ' in log,
              "the mailbox stage's dialogue too")
        check('debug client="PAS (arguments hidden)"' in log,
              "an unknown verb's words are hidden (a mistyped PASS)")
        check('debug client="(not a command: ' in log,
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
                        "cache", "scan", "end", "ms"],
                 "the documented keys, in order: %r" % lines[0])
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

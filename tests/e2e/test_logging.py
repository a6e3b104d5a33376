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
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, run_all, test)
from test_front import chain, front, pop, setup
from test_policy import greeting, login

def syslog_socket(tmp):
    """A syslog socket of the test's own (POP3D_SYSLOG_SOCKET): the
    machine's /dev/log is never taken, nor a running syslog's lines."""
    path = os.path.join(tmp.path, "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    os.chmod(path, 0o666)
    return rx, path


def syslog_lines(rx):
    got = []
    rx.settimeout(2)
    try:
        while True:
            got.append(rx.recv(4096).decode("utf-8", "replace"))
    except socket.timeout:
        pass
    return got


@test
def syslog_gets_the_lines():
    with TempDir() as tmp:
        setup(tmp)
        rx, path = syslog_socket(tmp)
        try:
            with front(tmp, env={"POP3D_LOG": "syslog",
                                 "POP3D_SYSLOG_SOCKET": path}) as srv:
                p = pop(srv)
                p.user("alice")
                p.pass_("secret")
                p.stat()
                p.quit()
                srv.wait_all()
            got = syslog_lines(rx)
        finally:
            rx.close()
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


@test
def a_syslog_socket_that_is_not_there_is_refused():
    with TempDir() as tmp:
        setup(tmp)
        path = os.path.join(tmp.path, "no.sock")
        with front(tmp, env={"POP3D_LOG": "syslog",
                             "POP3D_SYSLOG_SOCKET": path}) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                     "POP3D_SYSLOG_SOCKET without a socket: refused")
            r.close()
            srv.wait_all()
        check("cannot connect to %s (POP3D_SYSLOG_SOCKET)" % path
              in srv.log(), "naming the path: %r" % srv.log()[-300:])


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
                        "cache", "end", "ms", "session"],
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


# ---- one id per connection, one end line (issue 17) ----

FRONT_LINE = re.compile(r"^pop3d\[(\d+)\]: ")
SESSION = re.compile(r" session=([0-9a-f]+)$")


def ends(log):
    """The front's end lines: each as a dict of its key=value pairs."""
    out = []
    for line in log.splitlines():
        if FRONT_LINE.match(line) and ": end " in line:
            out.append(dict(kv.split("=", 1) for kv in
                            line.split(": end ", 1)[1].split()))
    return out


def policy_site(tmp):
    from test_policy import Site
    return Site(tmp)


@test
def one_connections_lines_share_one_id():
    """Every line of one connection, the front's, pop3d-auth's and the
    maildrop's, ends with the same session=ID, made fresh by the front
    (never the spawner's); another connection has another id."""
    with TempDir() as tmp:
        site = policy_site(tmp)
        site.compile(":allow\n")
        with site.serve(POP3D_SESSION="0badc0de",
                        POP3D_AUTH_FAILURES="5") as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            check(r.cmd(b"PASS wrong").startswith(b"-ERR"), "a failure")
            r.cmd(b"USER alice")
            check(r.cmd(b"PASS alice-pw").startswith(b"+OK"), "a login")
            r.cmd(b"STAT")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()
            first = srv.log()
            p = pop(srv)
            p.quit()
            srv.wait_all()
            second = srv.log()[len(first):]
        lines = [l for l in first.splitlines() if l]
        ids = [SESSION.search(l) for l in lines]
        check(lines and all(ids), "every line ends with session=ID: %r" %
              [l for l, m in zip(lines, ids) if not m])
        got = set(m.group(1) for m in ids if m)
        check_eq(len(got), 1, "one id for the connection: %r" % lines)
        sid = got.pop() if len(got) == 1 else ""
        check(re.fullmatch("[0-9a-f]{8}", sid) is not None,
              "8 hex digits: %r" % sid)
        check(sid != "0badc0de", "the front's own, not the spawner's")
        for prog in ("pop3d[", "pop3d-auth[", "pop3d-maildrop["):
            check(any(l.startswith(prog) for l in lines),
                  "%s writes lines of it: %r" % (prog, lines))
        check(any(" session user=alice " in l and l.endswith(sid)
                  for l in lines), "the maildrop's session line joins")
        check(all(re.match(r"^[\w-]+\[\d+\]: [\w-]+( |$)", l) for l in lines),
              "every line is program[pid]: event ...: %r" % lines)
        other = set(SESSION.search(l).group(1) for l in second.splitlines()
                    if SESSION.search(l))
        check(len(other) == 1 and sid not in other,
              "the next connection has an id of its own: %r" % other)


def direct(argv, env, stdin=None):
    """The front run once over a UNIX socket pair (a peer with no address),
    as a spawner would: what the client got and the log."""
    a, b = socket.socketpair()
    p = subprocess.Popen(argv, stdin=b, stdout=b, stderr=subprocess.PIPE,
                         env=env)
    b.close()
    a.settimeout(30)
    got = b""
    try:
        while True:
            d = a.recv(4096)
            if not d:
                break
            got += d
    except OSError:
        pass
    a.close()
    _, err = p.communicate(timeout=30)
    return p.returncode, got, err.decode("utf-8", "replace")


@test
def every_early_end_has_one_end_line():
    """A deny, a block, a full address, bad settings, an unknown peer, a
    usage mistake and a failed handshake: each connection ends with
    exactly one end line from the front, saying which."""
    with TempDir() as tmp:
        site = policy_site(tmp)
        site.compile("127.0.0.51:deny\n"
                     "127.0.0.52:allow,POP3D_MAX_PER_ADDRESS=1\n"
                     "127.0.0.53:allow,POP3D_PENALTY_FAILURES=1\n"
                     ":allow\n")
        cases = {}
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.51"), b"-ERR [SYS/PERM] access"
                     b" denied", "a deny")
            srv.wait_all()
            cases["deny"] = srv.log()
            held = Raw(srv.connect(source="127.0.0.52"))
            held.line()
            mark = len(srv.log())
            check(greeting(srv, "127.0.0.52").startswith(b"-ERR"),
                  "a full address")
            srv.last_proc().wait(30)
            cases["limit"] = srv.log()[mark:]
            held.close()
            srv.wait_all()
            login(srv, "127.0.0.53", b"alice", b"wrong")
            srv.wait_all()
            mark = len(srv.log())
            check(greeting(srv, "127.0.0.53").startswith(b"-ERR"
                                                         b" [LOGIN-DELAY]"),
                  "a blocked address")
            srv.wait_all()
            cases["blocked"] = srv.log()[mark:]
        with site.serve(POP3D_IDLE_TIMEOUT="soon") as srv:
            check(greeting(srv, "127.0.0.1").startswith(b"-ERR [SYS/TEMP]"),
                  "bad settings")
            srv.wait_all()
            cases["refused"] = srv.log()
        argv = [os.path.join(BUILD, "pop3d"), "mail.example.org",
                os.path.join(BUILD, "pop3d-auth"),
                os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        env = dict(site.env(), PATH="/usr/bin:/bin")
        rc, got, log = direct(argv, env)
        check(got.startswith(b"-ERR [SYS/TEMP] your address is unknown"),
              "an unknown peer: %r" % got)
        cases["unknown-peer"] = log
        rc, got, log = direct(argv[:1] + argv[2:], env)
        check_eq(rc, 2, "a usage mistake exits 2")
        cases["usage"] = log
        with site.serve(POP3D_TLS_CERT="/nonexistent/c.pem",
                        POP3D_TLS_KEY="/nonexistent/c.key") as srv:
            srv.argv = srv.argv[:1] + ["-t"] + srv.argv[1:]
            s = srv.connect()
            s.sendall(b"\x16\x03\x01\x00\x05hello")
            s.settimeout(30)
            try:
                s.recv(100)
            except OSError:
                pass
            s.close()
            srv.wait_all()
            cases["tls-failed"] = srv.log()
        for why, log in sorted(cases.items()):
            e = ends(log)
            check_eq(len(e), 1, "%s: one end line: %r" % (why, log))
            check(len(e) == 1 and e[0].get("end") == why,
                  "%s: end=%s: %r" % (why, why, e))
            check(len(e) == 1 and "session" in e[0],
                  "%s: with the connection's id" % why)


# A line of the servers: program[pid]: event, then key=value pairs whose
# values are escaped (\xHH) and quoted when they hold a space or "=".
VALUE = r'(?:"(?:[^"\\]|\\x[0-9a-f]{2})*"|(?:[^ "\\=]|\\x[0-9a-f]{2})+)'
EVENT_LINE = re.compile(r"^[a-z0-9-]+\[\d+\]: [a-z_-]+( [a-z0-9_-]+=%s)*$"
                        % VALUE)


@test
def every_line_of_a_session_is_an_event():
    """Whatever a session meets, a login, a wrong password, the debug
    dialogue, a warning, a fatal error, a usage mistake, a failed TLS
    handshake, a damaged users database, every line that the servers
    write is 'program[pid]: event key=value ...', free text included."""
    with TempDir() as tmp:
        site = policy_site(tmp)
        site.compile(":allow\n")
        logs = []
        with site.serve(POP3D_DEBUG="1", POP3D_AUTH_FAILURES="5",
                        POP3D_APOP="1", POP3D_GREETING="hi <there>")\
                as srv:
            check(login(srv, "127.0.0.1", b"alice", b"wrong")
                  .startswith(b"-ERR"), "a wrong password")
            check(login(srv, "127.0.0.1", b"alice", b"alice-pw")
                  .startswith(b"+OK"), "a login")
            srv.wait_all()
            logs.append(srv.log())
        check("warning msg=" in logs[-1],
              "a warning (the greeting's '<') is an event: %r" % logs[-1])
        with site.serve(POP3D_IDLE_TIMEOUT="soon") as srv:
            greeting(srv, "127.0.0.1")
            srv.wait_all()
            logs.append(srv.log())
        check(re.search(r'fatal msg="refused: bad settings" exit=111',
                        logs[-1]), "a fatal error: %r" % logs[-1])
        with site.serve(POP3D_USERS_CDB=os.path.join(tmp.path, "none"))\
                as srv:
            login(srv, "127.0.0.1", b"alice", b"alice-pw")
            srv.wait_all()
            logs.append(srv.log())
        with site.serve(POP3D_TLS_CERT="/nonexistent/c.pem",
                        POP3D_TLS_KEY="/nonexistent/c.key") as srv:
            srv.argv = srv.argv[:1] + ["-t"] + srv.argv[1:]
            s = srv.connect()
            s.sendall(b"\x16\x03\x01\x00\x05hello")
            s.settimeout(30)
            try:
                s.recv(100)
            except OSError:
                pass
            s.close()
            srv.wait_all()
            logs.append(srv.log())
        argv = [os.path.join(BUILD, "pop3d"), "mail.example.org",
                os.path.join(BUILD, "pop3d-auth"),
                os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        env = dict(site.env(), PATH="/usr/bin:/bin")
        logs.append(direct(argv[:1] + argv[2:], env)[2])
        check("fatal msg=" in logs[-1] and "exit=2" in logs[-1],
              "a usage mistake: %r" % logs[-1])
        lines = [l for log in logs for l in log.splitlines()]
        check(len(lines) > 20, "lines to check: %d" % len(lines))
        bad = [l for l in lines if not EVENT_LINE.match(l)]
        check_eq(bad, [], "every line is program[pid]: event key=value")


@test
def a_certificate_without_its_key_is_said_each_time():
    """POP3D_TLS_CERT without POP3D_TLS_KEY (or the reverse): no STLS, and
    a line naming both settings and what to do, on every connection."""
    with TempDir() as tmp:
        setup(tmp)
        for have, lack in (("POP3D_TLS_CERT", "POP3D_TLS_KEY"),
                           ("POP3D_TLS_KEY", "POP3D_TLS_CERT")):
            with front(tmp, env={have: "/etc/pop3d/x.pem"}) as srv:
                for _ in range(2):
                    p = pop(srv)
                    check("STLS" not in [c.upper() for c in p.capa()],
                          "%s alone: no STLS" % have)
                    p.quit()
                srv.wait_all()
            lines = [l for l in srv.log().splitlines()
                     if " tls-setting " in l]
            check_eq(len(lines), 2, "%s alone: said on each connection: %r"
                     % (have, srv.log()))
            check(lines and "%s is set but %s is not" % (have, lack) in
                  lines[0] and "fix=" in lines[0],
                  "naming both and the fix: %r" % lines[:1])


@test
def a_forgotten_host_name_is_named():
    """pop3d pop3d-auth pop3d-maildrop Maildir: the usage error says that
    the first argument must be the host name, and what it got."""
    with TempDir() as tmp:
        setup(tmp)
        for first in (os.path.join(BUILD, "pop3d-auth"), "pop3d-auth"):
            argv, e = chain(tmp)
            argv = [argv[0], first, os.path.join(BUILD, "pop3d-maildrop"),
                    "Maildir"]
            e["PATH"] = BUILD + ":/usr/bin:/bin"
            with Spawner(argv, env=e, cwd=tmp.path, as_root=True) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                         "the client is told")
                r.close()
                srv.wait_all()
                check_eq(srv.procs[-1].returncode, 2, "a usage error")
            check("the first argument must be this server's host name;"
                  " got '%s'" % first in srv.log(),
                  "the cause, named: %r" % srv.log())


PROGRAMS = ("pop3d", "pop3d-auth", "pop3d-maildrop", "pop3d-tls",
            "pop3d-rules", "pop3d-users", "pop3d-passwd", "pop3d-check")


def makefile_version():
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    with open(os.path.join(top, "Makefile")) as f:
        return re.search(r"^VERSION\s*=\s*(\S+)", f.read(), re.M).group(1)


@test
def every_program_answers_help_and_version():
    version = makefile_version()
    for prog in PROGRAMS:
        path = os.path.join(BUILD, prog)
        r = subprocess.run([path, "--version"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        check_eq((r.returncode, r.stdout, r.stderr),
                 (0, "%s %s\n" % (prog, version), ""),
                 "%s --version" % prog)
        r = subprocess.run([path, "--help"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and r.stdout.startswith("usage: " + prog)
              and "--version" in r.stdout and r.stderr == "",
              "%s --help: usage on stdout, exit 0: %r" % (prog, r))
    out = subprocess.run([os.path.join(BUILD, "pop3d-users"), "--help"],
                         capture_output=True, text=True).stdout
    for cmd in ("add", "passwd", "apop", "delete", "list", "check",
                "compile", "-f", "-d"):
        check(re.search(r"(^|\s)%s\b" % re.escape(cmd), out),
              "pop3d-users --help lists %s" % cmd)
    out = subprocess.run([os.path.join(BUILD, "pop3d-rules"), "--help"],
                         capture_output=True, text=True).stdout
    for cmd in ("compile", "check", "list", "query", "penalty", "-s"):
        check(re.search(r"(^|\s)%s\b" % re.escape(cmd), out),
              "pop3d-rules --help lists %s" % cmd)


@test
def pop3d_passwd_lines_share_one_id():
    """pop3d-passwd starts its connections too: one fresh id in each of
    their lines."""
    from test_passwd import Site as PasswdSite, change
    with TempDir() as tmp:
        site = PasswdSite(tmp)
        with site.serve(POP3D_SESSION="0badc0de") as srv:
            change(srv, "alice", "alice-pw1", "alice-new-1")
            srv.wait_all()
            log = srv.log()
        lines = [l for l in log.splitlines() if l]
        ids = set(m.group(1) for m in map(SESSION.search, lines) if m)
        check(len(lines) >= 2 and all(SESSION.search(l) for l in lines),
              "every line has an id: %r" % lines)
        check(len(ids) == 1 and "0badc0de" not in ids,
              "one id, its own: %r" % ids)


# ---- every error about a file names it by its absolute path ----

def users_cli(site, *args, cwd=None):
    from test_policy import USERS
    return subprocess.run([USERS, "-f", os.path.join(site.etc, "users"),
                           "-d", os.path.join(site.etc, "users.cdb")] +
                          list(args), capture_output=True, text=True,
                          cwd=cwd)


@test
def file_errors_name_absolute_paths():
    """Relative paths in the settings and arguments, and each error names
    its file from the root: the users database, a home, a maildrop, the
    users file's lock, the rules database, the state directory."""
    with TempDir() as tmp:
        site = policy_site(tmp)
        base = os.path.realpath(tmp.path)
        os.makedirs(os.path.join(tmp.path, "carol"))
        # carol's maildrop has no parent: not made at the first login.
        for name, home, md in (
                ("carol", "carol", [os.path.join(base, "carol", "nodir",
                                                 "Maildir")]),
                ("dave", "gone", [])):
            users_cli(site, "add", name, str(RUN_UID), str(RUN_GID),
                      os.path.join(base, home), *md)
            subprocess.run([__import__("test_policy").USERS, "-f",
                            os.path.join(site.etc, "users"), "-d",
                            os.path.join(site.etc, "users.cdb"), "passwd",
                            "-s", name], input=b"pw\n", check=True,
                           capture_output=True)
        users_cli(site, "compile")
        tmp.give()
        if ROOT:
            os.chown(os.path.join(tmp.path, "empty"), 0, 0)
            os.chown(site.state, 0, 0)
        site.compile(":allow\n")
        # The users database, named relative to the spawner's directory.
        with site.serve(POP3D_USERS_CDB="etc/none.cdb") as srv:
            login(srv, "127.0.0.1", b"alice", b"alice-pw")
            srv.wait_all()
        check('reason="cannot open users database" file=%s/etc/none.cdb'
              ' error="No such file or directory"' % base in srv.log(),
              "users database: %r" % srv.log())
        with site.serve() as srv:
            check(login(srv, "127.0.0.1", b"dave", b"pw").startswith(b"-ERR"),
                  "a missing home fails")
            srv.wait_all()
            check('reason="cannot enter home" file=%s/gone' % base in
                  srv.log(), "home: %r" % srv.log())
            mark = len(srv.log())
            check(login(srv, "127.0.0.1", b"carol", b"pw").startswith(
                b"-ERR"), "a missing maildrop fails")
            srv.wait_all()
            check('reason="maildrop %s/carol/nodir/Maildir: No such file'
                  ' or directory"' % base in srv.log()[mark:],
                  "maildrop: %r" % srv.log()[mark:])
        with site.serve(POP3D_RULES="etc/gone.cdb") as srv:
            check(greeting(srv, "127.0.0.1").startswith(b"-ERR"),
                  "a missing rules database refuses")
            srv.wait_all()
        check("rules-error file=%s/etc/gone.cdb" % base in srv.log(),
              "rules database: %r" % srv.log())
        with open(os.path.join(tmp.path, "statefile"), "w"):
            pass
        with site.serve(POP3D_STATE_DIR="statefile") as srv:
            greeting(srv, "127.0.0.1")
            srv.wait_all()
        check("state-error file=%s/statefile" % base in srv.log(),
              "state directory: %r" % srv.log())
        from test_policy import USERS
        r = subprocess.run([USERS, "-f", "nodir/users", "-d",
                            "nodir/users.cdb", "add", "erin", "1000", "1000",
                            "/home/erin"], capture_output=True, text=True,
                           cwd=tmp.path)
        check(r.returncode != 0 and "lock %s/nodir/users.lock: No such file"
              " or directory" % base in r.stderr,
              "the users file's lock: %r" % r.stderr)
        r = subprocess.run([USERS, "-f", "nodir/users", "list"],
                           capture_output=True, text=True, cwd=tmp.path)
        check("%s/nodir/users: No such file" % base in r.stderr,
              "the users file: %r" % r.stderr)
        r = subprocess.run([os.path.join(BUILD, "pop3d-rules"), "-d",
                            "nodir/rules.cdb", "list"], capture_output=True,
                           text=True, cwd=tmp.path)
        check("%s/nodir/rules.cdb" % base in r.stderr,
              "pop3d-rules' database: %r" % r.stderr)


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""pop3d, the front, end to end: the real chain (pop3d, a checkpassword
program, pop3d-maildrop) under tcpserver, systemd-socket-activate and the
tests' own spawner, driven with poplib, curl and raw sockets.  The
checkpassword program here is tests/e2e/checkpassword.py, a third-party
kind, which proves the interface."""

import os
import poplib
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, make_maildir, run_all, test, skip)

POP3D = os.path.join(BUILD, "pop3d")
MAILDROP = os.path.join(BUILD, "pop3d-maildrop")
CHECKPW = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "checkpassword.py")
MSG = b"Subject: hello\n\nHello from the chain.\n"


def setup(tmp):
    make_maildir(os.path.join(tmp.path, "Maildir"),
                 new=[("1700000000.M1P1.front", MSG),
                      ("1700000001.M1P1.front", MSG + b"second\n")])
    os.makedirs(os.path.join(tmp.path, "empty"))
    tmp.give()
    os.chown(os.path.join(tmp.path, "empty"), 0, 0) if ROOT else None


def chain(tmp, env=None, auth=None):
    """The argv of the chain and its environment."""
    e = {"CP_HOME": tmp.path, "CP_UID": str(RUN_UID), "CP_GID": str(RUN_GID),
         "POP3D_AUTH_DELAY": "0", "POP3D_CHROOT": os.path.join(tmp.path,
                                                               "empty"),
         "CP_LOG": os.path.join(tmp.path, "cp.log"),
         # The access policy has its own tests (test_policy.py).
         "POP3D_RULES": "", "POP3D_STATE_DIR": ""}
    e.update(env or {})
    argv = [POP3D, "mail.example.org"] + (auth or [CHECKPW]) + [MAILDROP,
                                                                "Maildir"]
    return argv, e


def front(tmp, env=None, auth=None):
    argv, e = chain(tmp, env, auth)
    return Spawner(argv, env=e, cwd=tmp.path, as_root=True)


def pop(srv):
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    srv.connections += 1
    return p


def free_port():
    """A loopback port nothing listens on, for a spawner of its own."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cp_log(tmp):
    try:
        return open(os.path.join(tmp.path, "cp.log")).read().splitlines()
    except FileNotFoundError:
        return []


@test
def login_and_retrieve():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            p = pop(srv)
            check_eq(p.getwelcome(), b"+OK POP3 server ready",
                     "the default greeting reveals no version")
            caps = p.capa()
            check("USER" in caps and "AUTH-RESP-CODE" in caps and
                  "RESP-CODES" in caps, "CAPA before login (loopback): USER")
            p.user("alice")
            check(p.pass_("secret").startswith(b"+OK maildrop has 2"),
                  "PASS answered by the mailbox stage")
            check_eq(b"\n".join(p.retr(1)[1]) + b"\n", MSG, "RETR 1")
            p.dele(1)
            p.quit()
            srv.wait_all()
            check_eq(srv.procs[0].returncode, 0, "pop3d exits 0")
        check_eq(len(os.listdir(os.path.join(tmp.path, "Maildir", "cur"))),
                 1, "DELE + QUIT through the chain")
        check_eq(cp_log(tmp), ["USER alice  6"],
                 "the checkpassword program got user, secret, no timestamp")


@test
def wrong_password_and_unknown_user_look_the_same():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"POP3D_AUTH_DELAY": "1"}) as srv:
            r = Raw(srv.connect())
            r.line()
            replies, waits = [], []
            for user, pw in ((b"alice", b"wrong"), (b"nobodyhere", b"secret")):
                r.cmd(b"USER " + user)
                t = time.monotonic()
                replies.append(r.cmd(b"PASS " + pw))
                waits.append(time.monotonic() - t)
            check_eq(replies[0], b"-ERR [AUTH] authentication failed",
                     "wrong password: [AUTH]")
            check_eq(replies[1], replies[0], "unknown user: the same reply")
            check(min(waits) >= 0.9, "each after the delay (%.2f s, %.2f s)"
                  % tuple(waits))
            r.cmd(b"USER alice")
            check_eq(r.cmd(b"PASS wrong"),
                     b"-ERR [AUTH] authentication failed; closing",
                     "the third failure ends the connection")
            check(r.closed(), "closed")
        check(srv.log().count("result=fail") == 3, "each failure logged")


@test
def pipelined_login_loses_nothing():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            r.send(b"USER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nQUIT\r\n")
            check_eq(r.line(), b"+OK send PASS", "USER")
            check(r.line().startswith(b"+OK maildrop has 2"), "PASS")
            check(r.line().startswith(b"+OK 2 "), "STAT, sent with PASS")
            r.line()
            check_eq(len(r.multiline().split(b"\r\n")) - 1, 2, "LIST")
            check(r.line().startswith(b"+OK bye"), "QUIT")
            check(r.closed(), "closed after QUIT")


@test
def pass_with_spaces_and_alternate_at():
    with TempDir() as tmp:
        setup(tmp)
        env = {"POP3D_ALT_AT": "#%", "CP_USER": "alice@example.org",
               "CP_PASS": "two words "}
        with front(tmp, env=env) as srv:
            p = pop(srv)
            p.user("alice#example.org")
            check(p.pass_("two words ").startswith(b"+OK"),
                  "alice#example.org logs in as alice@example.org, and"
                  " the password keeps its spaces")
            p.quit()
        check_eq(cp_log(tmp)[0].split()[:2], ["USER", "alice@example.org"],
                 "the auth program got the @ form")


@test
def apop_login():
    with TempDir() as tmp:
        setup(tmp)
        env = {"POP3D_APOP": "1", "CP_APOP": "tanstaaf"}
        with front(tmp, env=env) as srv:
            p = pop(srv)
            greeting = p.getwelcome()
            m = re.fullmatch(rb"\+OK .* (<([A-Za-z0-9.]+)"
                             rb"@mail\.example\.org>)", greeting)
            check(m is not None, "the APOP timestamp last (RFC 1939's"
                  " form), only letters, digits and dots: %r" % greeting)
            check(p.apop("alice", "tanstaaf").startswith(b"+OK"), "APOP")
            p.quit()
            p = pop(srv)
            check(p.getwelcome() != greeting, "a new timestamp per connection")
            try:
                p.apop("alice", "wrong")
                check(False, "a wrong APOP secret")
            except poplib.error_proto as e:
                check_eq(e.args[0], b"-ERR [AUTH] authentication failed",
                         "a wrong APOP digest")
            p.quit()
        check(cp_log(tmp)[0].startswith("APOP alice <"),
              "AUTHMECH=APOP and the timestamp reach the auth program")
        with front(tmp) as srv:
            r = Raw(srv.connect())
            check(b"<" not in r.line(), "no timestamp when APOP is off")
            check_eq(r.cmd(b"APOP alice 0123456789abcdef0123456789abcdef"),
                     b"-ERR APOP is not offered", "APOP refused when off")
            r.close()


@test
def temporary_failure_and_crash():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"CP_EXIT": "111"}) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            check_eq(r.cmd(b"PASS secret"),
                     b"-ERR [SYS/TEMP] temporary failure, try again later",
                     "exit 111: [SYS/TEMP]")
            check_eq(r.cmd(b"CAPA")[:3], b"+OK", "and the dialogue goes on")
            r.multiline()
            r.close()
        with front(tmp, env={"CP_CRASH": "1"}) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            check_eq(r.cmd(b"PASS secret"),
                     b"-ERR [SYS/TEMP] temporary failure; closing",
                     "a crash: [SYS/TEMP] and the end")
            check(r.closed(), "closed")
        check("result=crash signal=9" in srv.log(), "logged as a crash")


@test
def hostile_line_and_limits():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            check_eq(r.cmd(b"USER " + b"a" * 129),
                     b"-ERR [AUTH] user name too long (at most 128 octets)",
                     "a user name over 128 octets")
            check_eq(r.cmd(b"X" * 300),
                     b"-ERR command line too long (at most 255 octets)",
                     "a 302-octet line is refused")
            check_eq(r.cmd(b"STAT"), b"-ERR command not valid in this state",
                     "STAT before login")
            check_eq(r.cmd(b"PASS x"), b"-ERR give USER first", "PASS first")
            check_eq(r.cmd(b"X" * 600),
                     b"-ERR command line far too long; closing",
                     "a 602-octet line is hostile")
            check(r.closed(), "and ends the connection")
            # Much more behind the hostile line: the reply still arrives
            # whole, then a clean end rather than a reset.
            r = Raw(srv.connect())
            r.line()
            r.send(b"X" * 600 + b"\r\n" + b"NOOP\r\n" * 20000)
            check_eq(r.line(), b"-ERR command line far too long; closing",
                     "the reply survives the unread input")
            check_eq(r.s.recv(10), b"", "then the server closes cleanly")
            srv.wait_all()
        check("hostile remote=127.0.0.1" in srv.log(),
              "logged with the address for the policy hook")


@test
def idle_and_login_deadlines():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"POP3D_IDLE_TIMEOUT": "1"}) as srv:
            r = Raw(srv.connect())
            r.line()
            check(r.closed(timeout=20), "idle before login: closed")
            check_eq(r.buf, b"-ERR idle for too long; closing\r\n",
                     "with a last word")
        with front(tmp, env={"POP3D_LOGIN_TIMEOUT": "2"}) as srv:
            r = Raw(srv.connect())
            r.line()
            start = time.monotonic()
            closed = False
            while time.monotonic() - start < 20:
                try:
                    r.send(b"CAPA\r\n")
                except OSError:
                    closed = True
                    break
                time.sleep(0.3)
                if r.closed(timeout=0.1):
                    closed = True
                    break
            check(closed, "a client that keeps talking but never logs in"
                  " is closed at the login deadline")


@test
def preauth_process_is_unprivileged_and_chrooted():
    if not ROOT:
        skip("not root: the privilege drop is tested under CI")
        return
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            fpid = srv.last_proc().pid
            kids = open("/proc/%d/task/%d/children" % (fpid, fpid)).read().split()
            check_eq(len(kids), 1, "one pre-login child")
            pid = int(kids[0])
            status = open("/proc/%d/status" % pid).read()
            uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
            check(all(u != "0" for u in uids), "the pre-login process is not"
                  " root: Uid " + " ".join(uids))
            check(re.search(r"^NoNewPrivs:\s+1$", status, re.M) is not None,
                  "no_new_privs is set")
            check_eq(os.readlink("/proc/%d/root" % pid),
                     os.path.join(tmp.path, "empty"),
                     "chrooted into the empty directory")
            limits = open("/proc/%d/limits" % pid).read()
            check(re.search(r"Max open files\s+8\s+8", limits) is not None,
                  "few descriptors")
            fstatus = open("/proc/%d/status" % fpid).read()
            check(re.search(r"^Uid:\s+0\s", fstatus, re.M) is not None,
                  "the front stays root (it parses no client input)")
            r.cmd(b"QUIT")


def sanitized(path):
    """Whether the program is the sanitizer build (make sanitize)."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


def seccomp_of(pid):
    """(mode, filters) from /proc/PID/status: mode 2 is a filter."""
    status = open("/proc/%d/status" % pid).read()
    mode = re.search(r"^Seccomp:\s+(\d+)$", status, re.M)
    filters = re.search(r"^Seccomp_filters:\s+(\d+)$", status, re.M)
    return (int(mode.group(1)) if mode else None,
            int(filters.group(1)) if filters else None)


@test
def preauth_process_is_sandboxed():
    """The live pre-login process runs under the seccomp allow-list (the
    calls it refuses: tests/unit/t_sandbox.c, through the same function),
    its fd 2 goes nowhere, and a whole login still works through it."""
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"POP3D_DEBUG": "1"}) as srv:
            r = Raw(srv.connect())
            r.line()
            fpid = srv.last_proc().pid
            kids = open("/proc/%d/task/%d/children" %
                        (fpid, fpid)).read().split()
            check_eq(len(kids), 1, "one pre-login child")
            pid = int(kids[0])
            check_eq(seccomp_of(pid), (2, 1), "the pre-login process is"
                     " under one seccomp filter (Seccomp: 2)")
            check_eq(seccomp_of(fpid)[0], 0, "the front is not")
            if sanitized(POP3D):
                skip("the sanitizer build keeps fd 2 for its reports")
            else:
                check_eq(os.readlink("/proc/%d/fd/2" % pid), "/dev/null",
                         "the pre-login process's fd 2 is /dev/null")
            check(r.cmd(b"CAPA").startswith(b"+OK"), "CAPA works")
            r.multiline()
            check(r.cmd(b"USER alice").startswith(b"+OK"), "USER works")
            check(r.cmd(b"PASS secret").startswith(b"+OK"), "a login works")
            check(r.cmd(b"RETR 1").startswith(b"+OK"), "and RETR")
            check(b"Hello from the chain." in r.multiline(), "the message")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()
        check("SIGSYS" not in srv.log() and "signal=31" not in srv.log(),
              "nothing was killed by the filter")


@test
def cleartext_only_from_loopback_unless_allowed():
    with TempDir() as tmp:
        setup(tmp)
        argv, env = chain(tmp, env={"TCPREMOTEIP": "192.0.2.7"})
        for allow, want in ((None, False), ("1", True)):
            e = dict(env, PATH="/usr/bin:/bin")
            if allow:
                e["POP3D_CLEARTEXT"] = allow
            a, b = socket.socketpair()
            p = subprocess.Popen(argv, stdin=b, stdout=b, env=e, cwd=tmp.path,
                                 stderr=subprocess.DEVNULL)
            b.close()
            r = Raw(a)
            r.line()
            r.cmd(b"CAPA")
            caps = r.multiline().split(b"\r\n")
            check_eq(b"USER" in caps, want,
                     "USER in CAPA from 192.0.2.7, POP3D_CLEARTEXT=%s" % allow)
            reply = r.cmd(b"USER alice")
            check_eq(reply.startswith(b"+OK"), want, "USER: %r" % reply)
            if not want:
                check_eq(reply, b"-ERR [AUTH] cleartext login is not allowed"
                         b" on this connection", "refused with [AUTH]")
            r.cmd(b"QUIT")
            r.close()
            p.wait(timeout=30)


@test
def settings_are_checked():
    with TempDir() as tmp:
        setup(tmp)
        for env in ({"POP3D_AUTH_DELAY": "soon"}, {"POP3D_APOP": "maybe"},
                    {"POP3D_IDLE_TIMEOUT": "0"}, {"POP3D_EXPIRE": "x"},
                    {"POP3D_DEBUG": "2"}):
            with front(tmp, env=env) as srv:
                r = Raw(srv.connect())
                check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                         "%r refuses the connection" % env)
                srv.wait_all()
                check_eq(srv.procs[0].returncode, 111, "exit 111")
            check(list(env)[0] in srv.log(), "the log names the setting")
        with front(tmp, env={"POP3D_GREETING": "Welcome to example.org",
                             "POP3D_LOGIN_DELAY": "60",
                             "POP3D_IMPLEMENTATION": "pop3d"}) as srv:
            p = pop(srv)
            check_eq(p.getwelcome(), b"+OK Welcome to example.org",
                     "the greeting is settable")
            caps = p.capa()
            check_eq((caps.get("LOGIN-DELAY"), caps.get("IMPLEMENTATION")),
                     (["60", "USER"], ["pop3d"]),
                     "LOGIN-DELAY (USER: may vary per user), IMPLEMENTATION")
            p.quit()
        with front(tmp, env={"POP3D_GREETING": "x" * 401}) as srv:
            p = pop(srv)
            check_eq(p.getwelcome(), b"+OK POP3 server ready",
                     "a greeting over 400 characters: the default")
            p.quit()


@test
def under_tcpserver_with_curl():
    with TempDir() as tmp:
        setup(tmp)
        argv, env = chain(tmp)
        port = free_port()
        env = dict(env, PATH="/usr/bin:/bin")
        ts = subprocess.Popen(["tcpserver", "-H", "-R", "-l", "localhost",
                               "127.0.0.1", str(port)] + argv, env=env,
                              cwd=tmp.path, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.05)
            out = subprocess.run(["curl", "-s", "--max-time", "20",
                                  "pop3://127.0.0.1:%d/1" % port,
                                  "-u", "alice:secret"],
                                 capture_output=True).stdout
            check_eq(out.replace(b"\r\n", b"\n"), MSG,
                     "curl retrieves message 1 through tcpserver")
            lst = subprocess.run(["curl", "-s", "--max-time", "20",
                                  "pop3://127.0.0.1:%d/" % port,
                                  "-u", "alice:secret"],
                                 capture_output=True).stdout
            check_eq(lst.count(b"\r\n"), 2, "curl LIST: two messages")
        finally:
            ts.terminate()
            ts.wait()


@test
def under_systemd_socket_activate():
    if shutil.which("systemd-socket-activate") is None:
        skip("systemd-socket-activate is not installed")
        return
    with TempDir() as tmp:
        setup(tmp)
        argv, env = chain(tmp)
        port = free_port()
        env = dict(env, PATH="/usr/bin:/bin")
        # It passes on only the variables named with -E.
        pass_env = sum((["-E", k] for k in env), [])
        sa = subprocess.Popen(["systemd-socket-activate", "--inetd", "-a",
                               "-l", "127.0.0.1:%d" % port] + pass_env + argv,
                              env=env,
                              cwd=tmp.path, stderr=subprocess.DEVNULL)
        try:
            p = None
            for _ in range(100):
                try:
                    p = poplib.POP3("127.0.0.1", port, timeout=30)
                    break
                except OSError:
                    time.sleep(0.05)
            p.user("alice")
            p.pass_("secret")
            check_eq(p.stat()[0], 2, "login and STAT under"
                     " systemd-socket-activate --inetd")
            p.quit()
        finally:
            sa.terminate()
            sa.wait()


@test
def a_writable_chroot_is_refused():
    if not ROOT:
        skip("not root: no chroot to test")
        return
    with TempDir() as tmp:
        setup(tmp)
        os.chmod(os.path.join(tmp.path, "empty"), 0o777)
        with front(tmp) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), b"-ERR [SYS/TEMP] server misconfigured",
                     "a chroot directory others can write to is refused")
            srv.wait_all()
        check("writable" in srv.log(), "and the log says why")


@test
def runs_as_a_mail_user_without_root():
    with TempDir() as tmp:
        setup(tmp)
        argv, env = chain(tmp)
        with Spawner(argv, env=env, cwd=tmp.path) as srv:
            p = pop(srv)
            p.user("alice")
            check(p.pass_("secret").startswith(b"+OK"),
                  "single-uid mode: login works without root")
            check_eq(p.stat()[0], 2, "and the mailbox is served")
            p.quit()
            srv.wait_all()
        if ROOT:
            check("not root" in srv.log(), "the log says what was not done")
        else:
            skip("(the suite itself runs without root)")


@test
def the_chain_gets_a_clean_start():
    with TempDir() as tmp:
        setup(tmp)
        state = os.path.join(tmp.path, "state")
        with front(tmp, env={"CP_STATE": state}) as srv:
            p = pop(srv)
            if ROOT:
                fpid = srv.last_proc().pid
                kid = open("/proc/%d/task/%d/children" % (fpid, fpid)).read().split()[0]
                check_eq(sorted(os.listdir("/proc/%s/fd" % kid)),
                         ["0", "1", "2", "3"],
                         "the pre-login process holds fds 0-3 only")
            p.user("alice")
            p.pass_("secret")
            p.quit()
        # The auth program's own reading of fd 3 may add one descriptor
        # (its listing of /proc/self/fd); nothing of the front's is there:
        # 0-2, the credentials (3) and the "accepted" pipe (4).
        got = open(state).read().split()
        fds = [int(x) for x in got[0][4:].split(",")]
        check(max(fds) <= 5 and 3 in fds and 4 in fds,
              "the auth program has 0-4 (and its own listing): %s" % got[0])
        check_eq(got[1], "nonblock=0", "the client socket is blocking again")


@test
def other_exit_statuses_end_the_connection():
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp, env={"CP_EXIT": "3"}) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            r.send(b"PASS secret\r\n")
            check(r.closed(), "exit 3: the chain ran, the connection ends")
            srv.wait_all()
        check("result=exit status=3" in srv.log(),
              "logged as an exit, not as a login")


@test
def whole_chain_with_pop3d_auth():
    users_bin = os.path.join(BUILD, "pop3d-users")
    with TempDir() as tmp:
        setup(tmp)
        etc = os.path.join(tmp.path, "etc")
        os.makedirs(etc)
        u = [users_bin, "-f", os.path.join(etc, "users"), "-d",
             os.path.join(etc, "users.cdb")]
        subprocess.run(u + ["add", "carol", str(RUN_UID), str(RUN_GID),
                            tmp.path], check=True, capture_output=True)
        subprocess.run(u + ["passwd", "-s", "carol"], input=b"c4r0l\n",
                       check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        auth = [os.path.join(BUILD, "pop3d-auth")]
        env = {"POP3D_USERS_CDB": os.path.join(etc, "users.cdb"),
               "POP3D_AUTH_DELAY": "1"}
        with front(tmp, env=env, auth=auth) as srv:
            p = pop(srv)
            p.user("carol")
            check(p.pass_("c4r0l").startswith(b"+OK maildrop has 2"),
                  "pop3d + pop3d-auth + pop3d-maildrop: login")
            check_eq(b"\n".join(p.retr(1)[1]) + b"\n", MSG, "and RETR")
            p.quit()
            replies = []
            for user, pw in (("carol", "wrong"), ("nosuchuser", "c4r0l")):
                p = pop(srv)
                p.user(user)
                try:
                    p.pass_(pw)
                    replies.append(b"+OK")
                except poplib.error_proto as e:
                    replies.append(e.args[0])
                p.quit()
            check_eq(replies, [b"-ERR [AUTH] authentication failed"] * 2,
                     "wrong password and unknown user: the same [AUTH]")
            out = subprocess.run(["curl", "-s", "--max-time", "20",
                                  "pop3://127.0.0.1:%d/2" % srv.port,
                                  "-u", "carol:c4r0l"],
                                 capture_output=True).stdout
            srv.connections += 1
            check_eq(out.replace(b"\r\n", b"\n"), MSG + b"second\n",
                     "curl through the whole chain")


@test
def the_users_maildrop_wins_over_the_chains_argument():
    """Issue 17: the chain ends in "pop3d-maildrop Maildir" for every user;
    a user whose record names a maildrop is served that one, a user with
    none the argument's, and a MAILDROP the spawner leaves in the
    environment reaches neither."""
    users_bin = os.path.join(BUILD, "pop3d-users")
    with TempDir() as tmp:
        setup(tmp)
        vmail = os.path.join(tmp.path, "vmail", "gina", "Maildir")
        make_maildir(vmail, new=[("1700000002.M1P1.vmail",
                                  b"Subject: vmail\n\nfrom /var/vmail\n")])
        tmp.give()
        os.chown(os.path.join(tmp.path, "empty"), 0, 0) if ROOT else None
        etc = os.path.join(tmp.path, "etc")
        os.makedirs(etc)
        u = [users_bin, "-f", os.path.join(etc, "users"), "-d",
             os.path.join(etc, "users.cdb")]
        for name, extra in (("gina", [vmail]), ("hal", [])):
            subprocess.run(u + ["add", name, str(RUN_UID), str(RUN_GID),
                                tmp.path] + extra, check=True,
                           capture_output=True)
            subprocess.run(u + ["passwd", "-s", name], input=b"pw\n",
                           check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        listed = subprocess.run(u + ["list"], check=True,
                                capture_output=True).stdout.decode()
        check(" %s " % vmail in listed, "list shows gina's maildrop")
        auth = [os.path.join(BUILD, "pop3d-auth")]
        env = {"POP3D_USERS_CDB": os.path.join(etc, "users.cdb"),
               "MAILDROP": os.path.join(tmp.path, "nosuch")}
        with front(tmp, env=env, auth=auth) as srv:
            p = pop(srv)
            p.user("gina")
            check_eq(p.pass_("pw"), b"+OK maildrop has 1 messages (%d octets)"
                     % len(b"Subject: vmail\r\n\r\nfrom /var/vmail\r\n"),
                     "gina is served her own maildrop, not Maildir")
            check(b"from /var/vmail" in b"\n".join(p.retr(1)[1]),
                  "and reads its message")
            p.quit()
            p = pop(srv)
            p.user("hal")
            check(p.pass_("pw").startswith(b"+OK maildrop has 2 "),
                  "hal, with no field, is served the argument's Maildir")
            p.quit()


@test
def no_session_runs_as_the_preauth_uid():
    """With no user POP3D_PREAUTH_USER names, the pre-login processes run as
    nobody; a mail user of that uid (nobody here) is refused by pop3d-auth
    with [SYS/TEMP] and a log line, while with their own user (pop3d) the
    same login works."""
    if not ROOT:
        skip("not root: one uid for all, nothing to refuse")
        return
    users_bin = os.path.join(BUILD, "pop3d-users")
    with TempDir() as tmp:
        setup(tmp)
        etc = os.path.join(tmp.path, "etc")
        os.makedirs(etc)
        u = [users_bin, "-f", os.path.join(etc, "users"), "-d",
             os.path.join(etc, "users.cdb")]
        subprocess.run(u + ["add", "carol", str(RUN_UID), str(RUN_GID),
                            tmp.path], check=True, capture_output=True)
        subprocess.run(u + ["passwd", "-s", "carol"], input=b"c4r0l\n",
                       check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        auth = [os.path.join(BUILD, "pop3d-auth")]
        env = {"POP3D_USERS_CDB": os.path.join(etc, "users.cdb"),
               "POP3D_PREAUTH_USER": "pop3d-no-such-user"}
        with front(tmp, env=env, auth=auth) as srv:
            p = pop(srv)
            p.user("carol")
            try:
                reply = p.pass_("c4r0l")
            except poplib.error_proto as e:
                reply = e.args[0]
            check(reply.startswith(b"-ERR [SYS/TEMP]"),
                  "a login as the pre-login uid: [SYS/TEMP]: %r" % reply)
            p.quit()
            srv.wait_all()
        log = srv.log()
        check('pop3d-auth[' in log and 'auth_temp user=carol mech=USER'
              ' reason="uid %d is the pre-login processes\''
              ' (POP3D_PREAUTH_UID)"' % RUN_UID in log,
              "pop3d-auth logs why: %r" % log[-500:])
        check("auth remote=127.0.0.1 user=carol mech=USER result=temp" in
              log, "the front logs a temporary failure")
        del env["POP3D_PREAUTH_USER"]
        with front(tmp, env=env, auth=auth) as srv:
            p = pop(srv)
            p.user("carol")
            check(p.pass_("c4r0l").startswith(b"+OK"),
                  "with the pre-login user pop3d, carol logs in")
            p.quit()
            srv.wait_all()


if __name__ == "__main__":
    run_all(sys.argv[2:])

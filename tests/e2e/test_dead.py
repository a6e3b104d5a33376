"""Dead processes hold nothing: a front killed with SIGKILL frees its login
in flight at once (an OFD lock, not a record that must time out), and takes
the rest of its chain along (the mailbox stage, the TLS relay), so that no
session runs outside the spawner's count and the per-address limit."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, make_maildir, run_all, test)

POP3D = os.path.join(BUILD, "pop3d")
USERS = os.path.join(BUILD, "pop3d-users")
RULES = os.path.join(BUILD, "pop3d-rules")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MSG = b"Subject: dead\n\nHello.\n"
# "pw" in sha512-crypt with 3,000,000 rounds: about a second to check.
SLOW_HASH = ("$6$rounds=3000000$deadfront$yghSCJuJkS6m"
             "BxowXs0CIyhjykTxsr8vVbKsG7CJCFzhDu57OgFCEus50Gjggj4BgllW1GhH"
             "WpJdJamG717h8.")
# A checkpassword program that takes its time: the login stays in flight.
SLOW_AUTH = """#!/bin/sh
exec 3<&-
sleep 60
exit 1
"""


class Site:
    """users u0..u(n-1) (password "pw"), each with a Maildir of its own
    (a session locks its maildrop), a state directory, certificates."""

    def __init__(self, tmp, n=1, tls=False):
        self.tmp = tmp
        p = tmp.path
        os.makedirs(os.path.join(p, "empty"))
        self.etc = os.path.join(p, "etc")
        self.state = os.path.join(p, "state")
        os.makedirs(self.etc)
        os.makedirs(self.state, mode=0o700)
        u = [USERS, "-f", os.path.join(self.etc, "users"), "-d",
             os.path.join(self.etc, "users.cdb")]
        for i in range(n):
            home = os.path.join(p, "h%d" % i)
            make_maildir(os.path.join(home, "Maildir"),
                         new=[("1700000000.M1P1.dead", MSG)])
            subprocess.run(u + ["add", "u%d" % i, str(RUN_UID), str(RUN_GID),
                                home], check=True, capture_output=True)
            subprocess.run(u + ["passwd", "-s", "u%d" % i], input=b"pw\n",
                           check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        self.cdb = os.path.join(self.etc, "rules.cdb")
        with open(os.path.join(self.etc, "rules"), "w") as f:
            f.write(":allow\n")
        subprocess.run([RULES, "-f", os.path.join(self.etc, "rules"), "-d",
                        self.cdb, "compile"], check=True, capture_output=True)
        self.slow = os.path.join(p, "slow-auth")
        with open(self.slow, "w") as f:
            f.write(SLOW_AUTH)
        os.chmod(self.slow, 0o755)
        self.certs = os.path.join(p, "certs")
        if tls:
            subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                            self.certs, "localhost"], check=True,
                           capture_output=True)
        tmp.give()
        if ROOT:
            os.chown(os.path.join(p, "empty"), 0, 0)
            os.chown(self.state, 0, 0)
            for top, dirs, files in os.walk(self.certs):
                os.chown(top, 0, 0)
                for f in files:
                    os.chown(os.path.join(top, f), 0, 0)

    def slow_hash(self, user):
        """Gives user a password hash that takes about a second to check
        (sha512-crypt, 3,000,000 rounds)."""
        h = SLOW_HASH
        path = os.path.join(self.etc, "users")
        with open(path) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            fields = line.split(":")
            if fields[0] == user:
                fields[1] = h
            out.append(":".join(fields))
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        subprocess.run([USERS, "-f", path, "-d",
                        os.path.join(self.etc, "users.cdb"), "compile"],
                       check=True, capture_output=True)

    def env(self, **kw):
        e = {"POP3D_USERS_CDB": os.path.join(self.etc, "users.cdb"),
             "POP3D_CHROOT": os.path.join(self.tmp.path, "empty"),
             "POP3D_AUTH_DELAY": "0", "POP3D_RULES": self.cdb,
             "POP3D_STATE_DIR": self.state,
             "POP3D_TLS_CERT": os.path.join(self.certs, "localhost.pem"),
             "POP3D_TLS_KEY": os.path.join(self.certs, "localhost.key")}
        e.update(kw)
        return e

    def serve(self, auth=None, implicit=False, **kw):
        argv = [POP3D] + (["-t"] if implicit else []) + [
            "mail.example.org", auth or os.path.join(BUILD, "pop3d-auth"),
            os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        return Spawner(argv, env=self.env(**kw), cwd=self.tmp.path,
                       as_root=True)

    def connections(self, address):
        """What pop3d-rules query says of address's connection slots."""
        out = subprocess.run([RULES, "-d", self.cdb, "-s", self.state, "query",
                              address], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            if line.startswith("connections "):
                return int(line.split()[1])
        return None


def stat_of(pid):
    """(command name, state, parent) of a live pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return name, rest[0], int(rest[1])


def children(pid):
    """The live pids whose parent is pid, with their names."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat_of(int(d))
            if st is not None and st[2] == pid and st[1] != "Z":
                out.append((int(d), st[0]))
    return out


def alive(pid):
    """A pid that runs (a zombie, or one reaped, has ended)."""
    st = stat_of(pid)
    return st is not None and st[1] != "Z"


def wait_gone(pids, seconds):
    """Waits until none of pids runs: those still running then."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def wait_children(pid, names, seconds=10):
    """pid's children named in names, once there is one of each."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        kids = children(pid)
        if all(any(n == want for _, n in kids) for want in names):
            return kids
        time.sleep(0.02)
    return children(pid)


def session_of(pid, seconds=10):
    """The mailbox stage serving the spawner's pid: the pid itself, its
    front exec'd in place (one process a plain session, pop3d.8), or the
    front's child (TLS, a checkpassword program): [pid], or []."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        st = stat_of(pid)
        if st is not None and st[0] == "pop3d-maildrop":
            return [pid]
        kids = [c for c, name in children(pid) if name == "pop3d-maildrop"]
        if kids:
            return kids
        time.sleep(0.02)
    return []


def logged_in(srv, source, user):
    """A session of user from source, past the login: the connection."""
    r = Raw(srv.connect(source=source))
    first = r.line()
    if not first.startswith(b"+OK"):
        raise AssertionError("greeting %r" % first)
    r.cmd(b"USER " + user)
    reply = r.cmd(b"PASS pw")
    if not reply.startswith(b"+OK"):
        raise AssertionError("login of %r: %r" % (user, reply))
    return r


@test
def killed_front_frees_its_login_in_flight():
    # One login in flight is the threshold (POP3D_PENALTY_FAILURES=1): a
    # front killed while its checkpassword program runs must not hold it.
    with TempDir() as tmp:
        site = Site(tmp, n=1)
        env = {"POP3D_PENALTY_FAILURES": "1"}
        with site.serve(auth=site.slow, **env) as slow, \
                site.serve(**env) as srv:
            r = Raw(slow.connect(source="127.0.0.42"))
            check(r.line().startswith(b"+OK"), "greeting")
            r.cmd(b"USER u0")
            r.send(b"PASS pw\r\n")
            front = slow.last_proc().pid
            kids = wait_children(front, ["slow-auth"])
            kids = [(c, n) for c, n in kids if n == "slow-auth"]
            check_eq(len(kids), 1, "the login is in flight")
            # Meanwhile another login from there waits, then is refused.
            r2 = Raw(srv.connect(source="127.0.0.42"))
            r2.line()
            r2.cmd(b"USER u0")
            check(r2.cmd(b"PASS pw").startswith(b"-ERR [LOGIN-DELAY]"),
                  "a second login while the first is in flight is refused")
            r2.close()
            os.kill(front, signal.SIGKILL)
            slow.last_proc().wait(10)
            t = time.time()
            r3 = Raw(srv.connect(source="127.0.0.42"))
            r3.line()
            r3.cmd(b"USER u0")
            reply = r3.cmd(b"PASS pw")
            took = time.time() - t
            # The old code made it wait 3 s for a slot, then refused it.
            check(reply.startswith(b"+OK"), "the next login goes through at"
                  " once after the front was killed: %r" % reply)
            print("# it took %.2f s" % took)
            r3.cmd(b"QUIT")
            r3.close()
            r.close()
            for pid, _ in kids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            srv.wait_all()


@test
def killed_front_ends_its_password_check():
    # pop3d-auth caught in a slow check and stopped (SIGSTOP); its front is
    # killed: the login's slot is free at once, and the check, once it may
    # run again, never logs in nor starts the mailbox stage.
    with TempDir() as tmp:
        site = Site(tmp, n=1)
        site.slow_hash("u0")
        with site.serve(POP3D_PENALTY_FAILURES="1") as srv:
            r = Raw(srv.connect(source="127.0.0.43"))
            check(r.line().startswith(b"+OK"), "greeting")
            r.cmd(b"USER u0")
            r.send(b"PASS pw\r\n")
            front = srv.last_proc().pid
            auth = None
            deadline = time.time() + 10
            while auth is None and time.time() < deadline:
                for pid, name in children(front):
                    if name == "pop3d-auth":
                        os.kill(pid, signal.SIGSTOP)
                        auth = pid
                time.sleep(0.005)
            check(auth is not None, "pop3d-auth caught checking")
            os.kill(front, signal.SIGKILL)
            srv.last_proc().wait(10)
            t = time.time()
            r3 = Raw(srv.connect(source="127.0.0.43"))
            r3.line()
            r3.cmd(b"USER u0")
            reply = r3.cmd(b"PASS pw")
            took = time.time() - t
            check(reply.startswith(b"+OK"), "the next login from there is"
                  " checked at once: %r" % reply)
            # The check itself takes about a second.
            print("# it took %.2f s" % took)
            if reply.startswith(b"+OK"):
                r3.cmd(b"QUIT")
            r3.close()
            if auth is not None:
                try:
                    os.kill(auth, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                check_eq(wait_gone([auth], 5), [],
                         "the stopped check ends with its front")
            check(r.closed(5), "and the first client is let go, not served")
            r.close()
            srv.wait_all()
        oks = re.findall(r"pop3d-auth\[(\d+)\]: auth_ok", srv.log())
        check(len(oks) == 1 and int(oks[0]) != auth, "no login of the dead"
              " front's check went through, only the next one: %r" % oks)


@test
def killed_fronts_take_their_sessions_along():
    # 40 sessions under a limit of 40 from one address; the fronts are
    # killed: no mailbox stage may serve on outside the limit.
    n = 40
    with TempDir() as tmp:
        site = Site(tmp, n=n)
        with site.serve(POP3D_MAX_PER_ADDRESS=str(n)) as srv:
            conns = [logged_in(srv, "127.0.0.40", b"u%d" % i)
                     for i in range(n)]
            check(all(r.cmd(b"STAT").startswith(b"+OK 1 ") for r in conns),
                  "%d sessions run" % n)
            srv._spawned()
            fronts = [p.pid for p in srv.procs]
            stages = []
            for pid in fronts:
                stages += session_of(pid)
            check_eq(len(stages), n, "each front has its mailbox stage"
                     " (itself, after its exec in place)")
            check_eq(site.connections("127.0.0.40"), n,
                     "the limit counts every session")
            for pid in fronts:
                os.kill(pid, signal.SIGKILL)
            left = wait_gone(stages, 5)
            check_eq(len(left), 0, "every mailbox stage ended with its front"
                     " (%d of %d still serve)" % (len(left), n))
            check(all([r.closed(5) for r in conns]),
                  "every client's connection is closed")
            for r in conns:
                r.close()
            check_eq(site.connections("127.0.0.40"), 0,
                     "no slot is held after the fronts died")
            again = [logged_in(srv, "127.0.0.40", b"u%d" % i)
                     for i in range(n)]
            check(all(r.cmd(b"STAT").startswith(b"+OK 1 ") for r in again),
                  "the address has all its %d sessions again" % n)
            for r in again:
                r.cmd(b"QUIT")
                r.close()
            srv.wait_all()


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def killed_fronts_leave_tcpserver_c_honest():
    # tcpserver -c counts its children, the fronts: with them killed it
    # takes new connections, so the old sessions must be gone by then.
    import shutil
    import socket
    if shutil.which("tcpserver") is None:
        print("# skipped: tcpserver is not installed")
        return
    n = 4
    with TempDir() as tmp:
        site = Site(tmp, n=2 * n)
        port = free_port()
        argv = [POP3D, "mail.example.org", os.path.join(BUILD, "pop3d-auth"),
                os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        env = dict(site.env(), PATH="/usr/bin:/bin")
        ts = subprocess.Popen(["tcpserver", "-c", str(n), "-H", "-R", "-l",
                               "localhost", "127.0.0.1", str(port)] + argv,
                              env=env, cwd=tmp.path,
                              stderr=subprocess.DEVNULL)

        class Srv:
            def connect(self, source=None):
                return socket.create_connection(("127.0.0.1", port),
                                                timeout=30)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.2)     # that probe's front ends
            conns = [logged_in(Srv(), None, b"u%d" % i) for i in range(n)]
            # The fronts, each become its session by an exec in place.
            fronts = [c for c, name in children(ts.pid)
                      if name in ("pop3d", "pop3d-maildrop")]
            check_eq(len(fronts), n, "tcpserver runs %d fronts" % n)
            stages = []
            for pid in fronts:
                stages += session_of(pid)
            check_eq(len(stages), n, "each with its mailbox stage")
            extra = Raw(Srv().connect())
            extra.s.settimeout(1)
            try:
                extra.line()
                waited = False
            except socket.timeout:
                waited = True
            check(waited, "a connection over -c %d waits" % n)
            for pid in fronts:
                os.kill(pid, signal.SIGKILL)
            check_eq(wait_gone(stages, 5), [], "the fronts' sessions end"
                     " with them, before tcpserver takes more")
            extra.s.settimeout(30)
            check(extra.line().startswith(b"+OK"),
                  "the waiting connection is served now")
            extra.close()
            for r in conns:
                r.close()
        finally:
            ts.terminate()
            ts.wait()


@test
def killed_front_takes_its_tls_relay_along():
    # Implicit TLS: one relay after login, one in a handshake the client
    # never finishes (the plaintext side sees no end there).
    with TempDir() as tmp:
        site = Site(tmp, n=1, tls=True)
        with site.serve(implicit=True, POP3D_TLS_TIMEOUT="300") as srv:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(srv.connect(source="127.0.0.41"),
                                server_hostname="localhost")
            r = Raw(s)
            check(r.line().startswith(b"+OK"), "greeting over TLS")
            r.cmd(b"USER u0")
            check(r.cmd(b"PASS pw").startswith(b"+OK"), "logged in over TLS")
            # The relay is the front's child; the mailbox stage is the
            # front itself after an exec in place, or another child
            # (where FUSE requests do not time out: pop3d-auth.8).
            front = srv.last_proc().pid
            stage = session_of(front)
            kids = [k for k in wait_children(front, ["pop3d-tls"])
                    if k[1] == "pop3d-tls"]
            # The stalled handshake: a TCP connection that says nothing.
            mute = srv.connect(source="127.0.0.41")
            front2 = srv.last_proc().pid
            kids2 = wait_children(front2, ["pop3d-tls"])
            pids = [c for c, _ in kids + kids2] + stage
            check_eq(sorted([name for _, name in kids + kids2] +
                            [stat_of(p)[0] for p in stage]),
                     ["pop3d-maildrop", "pop3d-tls", "pop3d-tls"],
                     "the relays and the mailbox stage run")
            os.kill(front, signal.SIGKILL)
            os.kill(front2, signal.SIGKILL)
            left = wait_gone(pids, 5)
            check_eq([stat_of(p) for p in left], [],
                     "relays and mailbox stage ended with their fronts")
            s.close()
            mute.close()
            srv.wait_all()


@test
def killed_front_takes_its_pre_login_process_along():
    # The pre-login process waits for the client under its own login
    # timeout; its parent-death signal is set after its change of ids
    # (which clears one set before), so the front's death ends it at once.
    with TempDir() as tmp:
        site = Site(tmp, n=1)
        with site.serve(POP3D_LOGIN_TIMEOUT="300") as srv:
            r = Raw(srv.connect(source="127.0.0.42"))
            check(r.line().startswith(b"+OK"), "greeting")
            front = srv.last_proc().pid
            kids = wait_children(front, ["pop3d"])
            check_eq(len(kids), 1, "one pre-login process")
            os.kill(front, signal.SIGKILL)
            left = wait_gone([c for c, _ in kids], 5)
            check_eq([stat_of(p) for p in left], [],
                     "the pre-login process ended with its front")
            r.close()
            srv.wait_all()


if __name__ == "__main__":
    run_all()

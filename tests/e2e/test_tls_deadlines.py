"""Every wait of the chain ends: clients that send close_notify and go (on
implicit TLS and after STLS, TLS 1.3 and 1.2, before the greeting, in the
middle of a big RETR), a TCP half-close, sslscan, and a stopped pre-login
process.  Each time the relay and the front must exit within a generous
bound without burning CPU while they wait, and the spawner's slot must
come back (tcpserver -c)."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Raw, TempDir, check, run_all, side_by_side, skip,
                     test)
import test_tls
from test_tls import CHECKPW, MAILDROP, POP3D, Site

# Generous: the machine is shared and noisy.
EXIT_BOUND = 10
TICK = os.sysconf("SC_CLK_TCK")


def descendants(pid):
    """Every live process below pid."""
    out, todo = [], [pid]
    while todo:
        for c in test_tls.children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def cpu_ticks(pids):
    """utime + stime of the processes still there, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total


def kill_tree(pid):
    """Cleanup after a failure: SIGKILL to pid's processes, by pid."""
    for p in descendants(pid) + [pid]:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def context(site, version):
    ctx = site.context()
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def close_notify(t, pause=0):
    """close_notify without waiting for the server's, then after pause
    seconds the TCP close (with data unread, which makes it a reset).  A
    pause lets the relay read the close_notify before its next write
    meets the reset: the case where libtls's write returns 0."""
    t.setblocking(False)
    try:
        t.unwrap()
    except (ssl.SSLError, OSError):
        pass
    time.sleep(pause)
    t.close()


def settles(front, what):
    """After the client went: the chain uses no CPU while it waits, and
    the front (pid) and every process below it exit within EXIT_BOUND."""
    time.sleep(0.5)
    pids = descendants(front.pid) + [front.pid]
    before = cpu_ticks(pids)
    time.sleep(1.5)
    used = (cpu_ticks(pids) - before) / TICK
    check(used < 0.5, "%s: no CPU burnt while waiting (%.2f s in 1.5 s)"
          % (what, used))
    try:
        front.wait(timeout=EXIT_BOUND)
        ended = True
    except subprocess.TimeoutExpired:
        ended = False
    check(ended, "%s: the front exits within %d s" % (what, EXIT_BOUND))
    left = descendants(front.pid)
    check(not left, "%s: nothing of the chain is left: %r" % (what, left))
    if not ended:
        kill_tree(front.pid)
        front.wait()


VERSIONS = (("TLS 1.3", ssl.TLSVersion.TLSv1_3),
            ("TLS 1.2", ssl.TLSVersion.TLSv1_2))


@test
def close_notify_right_after_the_handshake():
    side_by_side(close_notify_early, VERSIONS)


def close_notify_early(name, version):
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            s = srv.connect()
            t = context(site, version).wrap_socket(
                s, server_hostname="localhost")
            close_notify(t)
            settles(srv.last_proc(), "-t, %s, close_notify before the"
                    " greeting" % name)
        with site.serve() as srv:
            r = Raw(srv.connect())
            r.line()
            check(r.cmd(b"STLS").startswith(b"+OK"), "STLS: +OK")
            t = context(site, version).wrap_socket(
                r.s, server_hostname="localhost")
            close_notify(t)
            settles(srv.last_proc(), "STLS, %s, close_notify at once"
                    % name)


def login(site, srv, version, implicit):
    """A logged-in TLS connection (Raw over the SSL socket)."""
    s = srv.connect()
    if implicit:
        r = Raw(context(site, version).wrap_socket(
            s, server_hostname="localhost"))
        r.line()
    else:
        r = Raw(s)
        r.line()
        r.cmd(b"STLS")
        r = Raw(context(site, version).wrap_socket(
            s, server_hostname="localhost"))
    u = r.cmd(b"USER alice")
    p = r.cmd(b"PASS secret")
    check(u.startswith(b"+OK") and p.startswith(b"+OK"), "logged in: %r"
          % ((u, p),))
    return r


@test
def close_notify_in_the_middle_of_a_big_retr():
    side_by_side(close_notify_mid_retr, [(implicit, name, version)
                                         for implicit in (True, False)
                                         for name, version in VERSIONS])


def close_notify_mid_retr(implicit, name, version):
    """Each case its own maildrop: two sessions of one would meet its
    lock."""
    with TempDir() as tmp:
        site = Site(tmp)
        what = "%s, %s, close_notify mid-RETR" % (
            "-t" if implicit else "STLS", name)
        with site.serve(implicit=implicit) as srv:
            r = login(site, srv, version, implicit)
            r.send(b"RETR 2\r\n")
            r.s.recv(4096)
            close_notify(r.s, 0.5)
            settles(srv.last_proc(), what)


@test
def close_notify_during_the_greeting_and_a_half_close():
    side_by_side(close_notify_greeting_half_close, VERSIONS)


def close_notify_greeting_half_close(name, version):
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            t = context(site, version).wrap_socket(
                srv.connect(), server_hostname="localhost")
            t.recv(3)       # part of the greeting
            close_notify(t)
            settles(srv.last_proc(), "-t, %s, close_notify in the"
                    " greeting" % name)
        with site.serve(implicit=True) as srv:
            r = login(site, srv, version, True)
            r.send(b"RETR 2\r\n")
            # TCP half-close, no close_notify, nothing more read.
            r.s.shutdown(socket.SHUT_WR)
            front = srv.last_proc()
            time.sleep(1)
            r.s.close()
            settles(front, "-t, %s, half-close mid-RETR" % name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def the_spawner_slot_comes_back():
    """tcpserver -c 1: clients doing close_notify mid-RETR (TLS 1.3, then
    1.2), each after the other, then one more gets its greeting."""
    tcpserver = shutil.which("tcpserver")
    if tcpserver is None:
        skip("tcpserver (ucspi-tcp) is not installed")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        port = free_port()
        log = open(os.path.join(tmp.path, "tcpserver.log"), "wb")
        env = site.env()
        env["PATH"] = "/usr/bin:/bin"
        srv = subprocess.Popen(
            [tcpserver, "-c", "1", "-R", "-H", "-l", "0", "127.0.0.1",
             str(port), POP3D, "-t", "mail.example.org", CHECKPW, MAILDROP,
             "Maildir"], env=env, cwd=tmp.path, stdout=log, stderr=log)
        log.close()
        try:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1)      # that probe's front ends (no TLS: it fails)
            for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):

                class Srv:
                    def connect(self):
                        return socket.create_connection(("127.0.0.1", port),
                                                        30)
                r = login(site, Srv(), version, True)
                r.send(b"RETR 2\r\n")
                r.s.recv(4096)
                close_notify(r.s, 0.5)
                # The one slot must come back before the next login.
                deadline = time.time() + EXIT_BOUND
                while time.time() < deadline and descendants(srv.pid):
                    time.sleep(0.2)
            time.sleep(2)
            pids = descendants(srv.pid)
            before = cpu_ticks(pids)
            time.sleep(1.5)
            used = (cpu_ticks(pids) - before) / TICK
            check(used < 0.5, "tcpserver -c 1: no CPU burnt by what is"
                  " left (%.2f s in 1.5 s)" % used)
            t = context(site, ssl.TLSVersion.TLSv1_3).wrap_socket(
                socket.create_connection(("127.0.0.1", port), 30),
                server_hostname="localhost")
            t.settimeout(EXIT_BOUND + 5)
            try:
                greeting = t.recv(100)
            except (socket.timeout, OSError):
                greeting = b""
            check(greeting.startswith(b"+OK"), "the next client gets its"
                  " greeting: the slot came back: %r" % greeting)
            t.close()
        finally:
            kill_tree(srv.pid)
            srv.wait()


@test
def sslscan_leaves_nothing_behind():
    sslscan = shutil.which("sslscan")
    if sslscan is None:
        skip("sslscan is not installed (tests/deps.sh)")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        for implicit in (True, False):
            what = "sslscan %s" % ("-t" if implicit else "--starttls-pop3")
            with site.serve(implicit=implicit) as srv:
                argv = [sslscan, "--no-colour"]
                if not implicit:
                    argv.append("--starttls-pop3")
                out = subprocess.run(argv + ["127.0.0.1:%d" % srv.port],
                                     capture_output=True, timeout=300)
                check(b"TLSv1.3" in out.stdout, "%s ran: %r" % (
                    what, out.stdout[-300:]))
                time.sleep(3)
                srv._spawned(0)
                deadline = time.time() + EXIT_BOUND
                while time.time() < deadline and any(
                        p.poll() is None for p in srv.procs):
                    time.sleep(0.2)
                running = [p.pid for p in srv.procs if p.poll() is None]
                check(not running and srv.procs, "%s: all %d chains ended"
                      " within a few seconds; left: %r" % (
                          what, len(srv.procs), running))
                for pid in running:
                    kill_tree(pid)


@test
def a_stopped_pre_login_process_is_given_up():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_LOGIN_TIMEOUT="2") as srv:
            r = Raw(srv.connect())
            r.line()
            front = srv.last_proc()
            kids = test_tls.children(front.pid)
            check(len(kids) == 1, "one pre-login process: %r" % kids)
            os.kill(kids[0], signal.SIGSTOP)
            t0 = time.time()
            try:
                front.wait(timeout=2 + 5 + EXIT_BOUND)
                ended = True
            except subprocess.TimeoutExpired:
                ended = False
            check(ended, "the front gives up on it after its deadline"
                  " (%.1f s)" % (time.time() - t0))
            check(not os.path.exists("/proc/%d" % kids[0]) or
                  open("/proc/%d/stat" % kids[0]).read().split(")")[1]
                  .split()[0] == "Z", "and the pre-login process is gone")
            if not ended:
                kill_tree(front.pid)
                front.wait()
            r.close()
        log = srv.log()
        check(re.search(r'timeout remote=127\.0\.0\.1 wait="pre-login'
                        r' process" pid=\d+', log), "one line says what"
              " timed out: %r" % log[-400:])
        check("end=preauth-timeout" in log, "and the end line says so")


@test
def a_silent_chain_and_client_end_the_relay():
    """Both sides silent while the chain runs: the relay ends after
    POP3D_IDLE_TIMEOUT + POP3D_TLS_IDLE_MARGIN (default 90 s, here 2 s
    so as not to wait it out), and says so."""
    import test_tls_relay
    with TempDir() as tmp, test_tls_relay.Relay(
            tmp, env={"POP3D_IDLE_TIMEOUT": "1",
                      "POP3D_TLS_IDLE_MARGIN": "2"}) as r:
        check(r.word() == "ready", "the relay is ready")
        r.tls(server_hostname="localhost")
        check(r.rest()[0][:1] == ["ok"], "the handshake is done")
        t0 = time.time()
        code = r.wait(timeout=1 + 2 + 30)
        took = time.time() - t0
        check(code == 0, "it ends by itself (exit %r)" % (code,))
        check(2.5 < took < 1 + 2 + 30, "after 3 s of silence (%.1f s)"
              % took)
        check("tls-timeout" in r.log() and "nothing moved either way for"
              " 3 s" in r.log(), "and logs why: %r" % r.log())


@test
def a_bad_idle_margin_is_refused():
    import test_tls_relay
    with TempDir() as tmp, test_tls_relay.Relay(
            tmp, env={"POP3D_TLS_IDLE_MARGIN": "0"}) as r:
        code = r.wait(timeout=30)
        check(code not in (0, None), "POP3D_TLS_IDLE_MARGIN=0: the relay"
              " does not start (exit %r)" % (code,))
        check("POP3D_TLS_IDLE_MARGIN must be a number from 1 to 3600"
              in r.log(), "and says why: %r" % r.log())


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""APOP (RFC 1939 section 7) end to end through the whole chain (pop3d,
pop3d-auth with a pop3d-users database holding a shared secret,
pop3d-maildrop) with the clients people use: curl, mpop, fetchmail and
Python's poplib.  Each finds the timestamp in its own way; curl only at the
very end of the greeting line, as in RFC 1939's example."""

import hashlib
import os
import poplib
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir, check,
                     check_eq, run_all, skip, test)
from test_sasl import MSG, Site

SECRET = "alice-cram"       # the shared secret test_sasl's Site stores
STAMP = rb"<[A-Za-z0-9.]+@%s>"


def apop_site(tmp, host="mail.example.org", **kw):
    """The chain with APOP on and the given front host name."""
    site = Site(tmp)
    argv = site.argv()
    argv[1] = host
    env = site.env(POP3D_APOP="1", **kw)
    return site, Spawner(argv, env=env, cwd=tmp.path, as_root=True)


def greeting_of(srv):
    r = Raw(srv.connect())
    line = r.line()
    r.cmd(b"QUIT")
    r.close()
    return line


@test
def greeting_ends_with_the_timestamp():
    with TempDir() as tmp:
        site, srv = apop_site(tmp)
        with srv:
            line = greeting_of(srv)
            check(re.fullmatch(rb"\+OK POP3 server ready " +
                               STAMP % rb"mail\.example\.org", line)
                  is not None, "the timestamp comes last, after the"
                  " greeting text: %r" % line)
            check_eq(line.count(b"<"), 1, "one '<' in the greeting")
        with site.serve(POP3D_APOP="1",
                        POP3D_GREETING="Mail <for> friends") as srv:
            line = greeting_of(srv)
            check(line.startswith(b"+OK POP3 server ready <"),
                  "a greeting with '<' or '>' gives way to the default"
                  " when APOP is on: %r" % line)
            check("would hide the APOP timestamp" in srv.log(),
                  "and the log says why")
        with site.serve(POP3D_GREETING="Mail <for> friends") as srv:
            check_eq(greeting_of(srv), b"+OK Mail <for> friends",
                     "without APOP the greeting may hold '<'")


@test
def long_greeting_is_cut_for_the_timestamp():
    host = ".".join(["h" * 63] * 3 + ["d" * 61])       # 253 characters
    text = "".join("%d " % (i % 10) for i in range(200))  # 400 characters
    with TempDir() as tmp:
        site, srv = apop_site(tmp, host=host, POP3D_GREETING=text)
        with srv:
            sock = srv.connect()
            raw = b""
            while not raw.endswith(b"\r\n"):
                got = sock.recv(1024)
                if not got:
                    break
                raw += got
            check(len(raw) <= 512, "the greeting line, CRLF included, is"
                  " within 512 octets: %d" % len(raw))
            m = re.fullmatch(rb"\+OK (.*) (" + STAMP % re.escape(
                host.encode()) + rb")\r\n", raw, re.S)
            check(m is not None, "the whole timestamp ends the line even"
                  " with the longest host name")
            if m:
                check(len(m.group(1)) < len(text) and
                      text.encode().startswith(m.group(1)),
                      "the greeting is cut, not the timestamp (%d of %d"
                      " characters)" % (len(m.group(1)), len(text)))
                check_eq(len(raw), 509 + 2, "cut just to the line limit")
            sock.sendall(b"QUIT\r\n")
            sock.close()
            p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
            srv.connections += 1
            check(p.apop("alice", SECRET).startswith(b"+OK"),
                  "poplib logs in with APOP after the cut greeting")
            p.quit()


@test
def curl_apop():
    if shutil.which("curl") is None:
        return skip("no curl")
    with TempDir() as tmp:
        site, srv = apop_site(tmp)
        with srv:
            out = subprocess.run(
                ["curl", "-sS", "--max-time", "20", "--login-options",
                 "AUTH=+APOP", "-u", "alice:" + SECRET,
                 "pop3://127.0.0.1:%d/1" % srv.port],
                capture_output=True)
            srv.connections += 1
            check_eq((out.returncode, out.stderr), (0, b""),
                     "curl --login-options AUTH=+APOP logs in")
            check(out.stdout.replace(b"\r\n", b"\n") == MSG,
                  "and fetches the message")
            srv.wait_all()
        check("mech=APOP" in srv.log() and "result=ok" in srv.log(),
              "the log says APOP succeeded")


@test
def mpop_apop():
    if shutil.which("mpop") is None:
        return skip("no mpop")
    with TempDir() as tmp:
        site, srv = apop_site(tmp)
        mbox = os.path.join(tmp.path, "mbox")
        open(mbox, "w").close()
        with srv:
            out = subprocess.run(
                ["mpop", "--host=127.0.0.1", "--port=%d" % srv.port,
                 "--user=alice", "--auth=apop",
                 "--passwordeval=echo " + SECRET, "--tls=off",
                 "--only-new=off", "--keep=on", "--half-quiet",
                 "--delivery=mbox,%s" % mbox],
                capture_output=True, text=True, timeout=60,
                env=dict(os.environ, HOME=tmp.path))
            srv.connections += 1
            if not check_eq(out.returncode, 0, "mpop --auth=apop logs in"):
                print("# " + out.stderr.replace("\n", "\n# "))
            srv.wait_all()
        with open(mbox, "rb") as f:
            check(b"Authenticated." in f.read(), "and delivers the message")


@test
def fetchmail_apop():
    if shutil.which("fetchmail") is None:
        return skip("no fetchmail")
    with TempDir() as tmp:
        site, srv = apop_site(tmp)
        home = os.path.join(tmp.path, "fmhome")
        os.makedirs(home)
        out = os.path.join(home, "got.bsmtp")
        rc = os.path.join(home, "fetchmailrc")
        with srv:
            with open(rc, "w") as f:
                f.write("poll 127.0.0.1 service %d protocol APOP\n"
                        "  user alice there password \"%s\"\n"
                        "  is fetcher here sslproto '' keep fetchall\n"
                        % (srv.port, SECRET))
            os.chmod(rc, 0o600)
            # fetchmail only warns when run as root: run it as a mail
            # user would, unprivileged, owning its rc file.
            kw = {}
            if ROOT:
                for path in (home, rc):
                    os.chown(path, RUN_UID, RUN_GID)
                kw = {"user": RUN_UID, "group": RUN_GID, "extra_groups": []}
            r = subprocess.run(
                ["fetchmail", "-f", rc, "--nodetach", "--nosyslog",
                 "-i", os.path.join(home, "ids"),
                 "--pidfile", os.path.join(home, "pid"),
                 "--bsmtp", out],
                capture_output=True, text=True, timeout=60,
                env={"HOME": home, "PATH": "/usr/bin:/bin",
                     "FETCHMAILHOME": home}, **kw)
            srv.connections += 1
            if not check_eq(r.returncode, 0, "fetchmail with protocol APOP"
                            " logs in and fetches"):
                print("# " + (r.stdout + r.stderr).replace("\n", "\n# "))
            srv.wait_all()
        got = open(out, "rb").read() if os.path.exists(out) else b""
        check(b"Authenticated." in got, "the message arrived")
        check("mech=APOP" in srv.log(), "by APOP")


@test
def poplib_apop():
    with TempDir() as tmp:
        site, srv = apop_site(tmp)
        with srv:
            p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
            srv.connections += 1
            check(p.apop("alice", SECRET).startswith(b"+OK"),
                  "poplib's apop() logs in")
            _, lines, _ = p.retr(1)
            check_eq(b"\n".join(lines) + b"\n", MSG, "and RETR 1")
            p.quit()
            p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
            srv.connections += 1
            stamp = re.search(rb"<.*>", p.getwelcome()).group(0)
            digest = hashlib.md5(stamp + b"wrong").hexdigest()
            try:
                p._shortcmd("APOP alice %s" % digest)
                check(False, "a wrong digest is refused")
            except poplib.error_proto as e:
                check_eq(e.args[0], b"-ERR [AUTH] authentication failed",
                         "a wrong digest is refused")
            p.quit()


if __name__ == "__main__":
    run_all(sys.argv[2:])

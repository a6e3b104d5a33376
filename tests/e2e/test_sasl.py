"""AUTH (RFC 5034) end to end through the whole chain (pop3d, pop3d-auth,
pop3d-maildrop): PLAIN, LOGIN and CRAM-MD5 with curl and mpop, over TLS
and plain loopback, and the malformed cases with raw sockets."""

import base64
import hashlib
import hmac
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, make_maildir, run_all, test)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
POP3D = os.path.join(BUILD, "pop3d")
USERS = os.path.join(BUILD, "pop3d-users")
MSG = b"Subject: sasl\n\nAuthenticated.\n"
FAILED = b"-ERR [AUTH] authentication failed"


def b64(data):
    return base64.b64encode(data)


class Site:
    """alice (password alice-pw, shared secret alice-cram), a Maildir, a
    certificate for localhost."""

    def __init__(self, tmp):
        self.tmp = tmp
        p = tmp.path
        make_maildir(os.path.join(p, "Maildir"),
                     new=[("1700000000.M1P1.sasl", MSG)])
        os.makedirs(os.path.join(p, "empty"))
        self.etc = os.path.join(p, "etc")
        os.makedirs(self.etc)
        u = [USERS, "-f", os.path.join(self.etc, "users"), "-d",
             os.path.join(self.etc, "users.cdb")]
        subprocess.run(u + ["add", "alice", str(RUN_UID), str(RUN_GID), p],
                       check=True, capture_output=True)
        subprocess.run(u + ["passwd", "-s", "alice"], input=b"alice-pw\n",
                       check=True, capture_output=True)
        subprocess.run(u + ["apop", "-s", "alice"], input=b"alice-cram\n",
                       check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        self.certs = os.path.join(p, "certs")
        subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                        self.certs], check=True, capture_output=True)
        self.cert = os.path.join(self.certs, "localhost.pem")
        tmp.give()
        if ROOT:
            os.chown(os.path.join(p, "empty"), 0, 0)
            for f in os.listdir(self.certs):
                os.chown(os.path.join(self.certs, f), 0, 0)

    def env(self, **kw):
        e = {"POP3D_USERS_CDB": os.path.join(self.etc, "users.cdb"),
             "POP3D_CHROOT": os.path.join(self.tmp.path, "empty"),
             "POP3D_AUTH_DELAY": "0", "POP3D_RULES": "",
             "POP3D_STATE_DIR": "", "POP3D_CRAM_MD5": "1",
             "POP3D_TLS_CERT": self.cert,
             "POP3D_TLS_KEY": os.path.join(self.certs, "localhost.key")}
        e.update(kw)
        return e

    def argv(self, implicit=False):
        return [POP3D] + (["-t"] if implicit else []) + [
            "mail.example.org", os.path.join(BUILD, "pop3d-auth"),
            os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]

    def serve(self, implicit=False, **kw):
        return Spawner(self.argv(implicit), env=self.env(**kw),
                       cwd=self.tmp.path, as_root=True)


def greeted(srv):
    r = Raw(srv.connect())
    r.line()
    return r


def curl(site, url, *opts):
    return subprocess.run(["curl", "-s", "--max-time", "20", "--cacert",
                           site.cert, url, "-u", "alice:alice-pw"] +
                          list(opts), capture_output=True)


def mpop(site, port, auth, tls, password):
    """mpop's own check of the account (--serverinfo does no login, so
    a count of messages via --status-only)."""
    args = ["mpop", "--host=localhost", "--port=%d" % port,
            "--user=alice", "--auth=%s" % auth,
            "--passwordeval=echo %s" % password,
            "--tls=%s" % ("on" if tls else "off"),
            "--tls-starttls=on", "--tls-trust-file=%s" % site.cert,
            "--only-new=off", "--status-only", "--half-quiet",
            "--delivery=mbox,%s" % os.path.join(site.tmp.path, "mbox")]
    if not tls:
        args.remove("--tls-starttls=on")
        args.remove("--tls-trust-file=%s" % site.cert)
    return subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, HOME=site.tmp.path))


@test
def curl_with_each_mechanism():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
                pw = "alice-cram" if mech == "CRAM-MD5" else "alice-pw"
                out = subprocess.run(
                    ["curl", "-s", "--max-time", "20", "--ssl-reqd",
                     "--cacert", site.cert, "--login-options",
                     "AUTH=" + mech, "-u", "alice:" + pw,
                     "pop3://localhost:%d/1" % srv.port, "--resolve",
                     "localhost:%d:127.0.0.1" % srv.port],
                    capture_output=True)
                srv.connections += 1
                check_eq(out.stdout, MSG.replace(b"\n", b"\r\n"),
                         "curl AUTH=%s over STLS retrieves the message" %
                         mech)
            out = subprocess.run(
                ["curl", "-s", "--max-time", "20", "--login-options",
                 "AUTH=PLAIN", "-u", "alice:alice-pw",
                 "pop3://127.0.0.1:%d/1" % srv.port], capture_output=True)
            srv.connections += 1
            check_eq(out.stdout, MSG.replace(b"\n", b"\r\n"),
                     "curl AUTH=PLAIN in plaintext from loopback")
            srv.wait_all()
        log = srv.log()
        for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
            check(re.search(r"auth remote=127\.0\.0\.1 user=alice mech=%s "
                            r"result=ok" % mech, log),
                  "the front logs mech=%s" % mech)
        check("alice-pw" not in log and "alice-cram" not in log,
              "no secret in the log")


@test
def mpop_with_each_mechanism():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            for auth, pw in (("plain", "alice-pw"), ("login", "alice-pw"),
                             ("cram-md5", "alice-cram"), ("user", "alice-pw")):
                for tls in (True, False):
                    out = mpop(site, srv.port, auth, tls, pw)
                    srv.connections += 1
                    check(out.returncode == 0 and "1 message" in out.stdout,
                          "mpop --auth=%s %s: %r" % (
                              auth, "with STLS" if tls else "plain loopback",
                              (out.stdout + out.stderr)[-300:]))
            out = mpop(site, srv.port, "plain", True, "wrong")
            srv.connections += 1
            check(out.returncode != 0 and "authentication failed" in
                  out.stderr.lower(), "mpop with a wrong password fails: %r"
                  % out.stderr[-200:])
            srv.wait_all()


@test
def plain_edge_cases():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            r = greeted(srv)
            check_eq(r.cmd(b"AUTH PLAIN !!!!"), b"-ERR [AUTH] malformed base64;"
                     b" authentication reset", "bad base64 on the AUTH line")
            check_eq(r.cmd(b"AUTH PLAIN"), b"+ ", "PLAIN: an empty challenge")
            check_eq(r.cmd(b"*"), b"-ERR authentication cancelled",
                     "* cancels")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b"bm90IGJhc2U2NA"), b"-ERR [AUTH] malformed base64;"
                     b" authentication reset", "unpadded base64 is refused")
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"bob\0alice\0alice-pw")),
                     b"-ERR [AUTH] the authorization identity must be empty"
                     b" or the user", "an authzid that is someone else")
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"\0alice\0wrong")), FAILED,
                     "a wrong password: [AUTH]")
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"alice\0alice\0alice-pw"))[:17],
                     b"+OK maildrop has ", "authzid equal to the user works")
            r.cmd(b"QUIT")
            r.close()
            r = greeted(srv)
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b"="), b"-ERR [AUTH] PLAIN needs authzid, user and"
                     b" password, NUL-separated", "an empty response")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b"Q" * 2048), b"-ERR [AUTH] PLAIN needs authzid,"
                     b" user and password, NUL-separated",
                     "2048 octets: within the limit, decoded and parsed")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b"Q" * 2052), b"-ERR [AUTH] response too long (at"
                     b" most 2048 octets); authentication reset",
                     "2052 octets: over the limit, refused")
            check_eq(r.cmd(b"NOOP"), b"-ERR command not valid in this state",
                     "the dialogue goes on")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b""), b"-ERR [AUTH] PLAIN needs authzid, user and"
                     b" password, NUL-separated",
                     "an empty line is an empty response (RFC 5034)")
            r.cmd(b"AUTH PLAIN")
            r.send(b"Q" * 2049 + b"\n")
            check_eq(r.line(), b"-ERR [AUTH] response too long (at most 2048"
                     b" octets); authentication reset",
                     "2049 octets and a bare LF: too long too")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b"Q" * 8188), b"-ERR [AUTH] response too long (at"
                     b" most 2048 octets); authentication reset",
                     "8190 octets with CRLF: too long, not hostile")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b"Q" * 8200), b"-ERR response line far too long;"
                     b" closing", "8202 octets: hostile")
            check(r.closed(), "and the session ends")
            r.close()
            srv.wait_all()
        check("hostile remote=127.0.0.1" in srv.log(), "logged as hostile")


@test
def login_and_cram_exchanges():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_AUTH_FAILURES="10") as srv:
            r = greeted(srv)
            check_eq(r.cmd(b"AUTH LOGIN"), b"+ VXNlcm5hbWU6", "Username:")
            check_eq(r.cmd(b64(b"alice")), b"+ UGFzc3dvcmQ6", "Password:")
            check_eq(r.cmd(b64(b"wrong")), FAILED, "LOGIN, wrong password")
            check_eq(r.cmd(b"AUTH LOGIN " + b64(b"alice")), b"+ UGFzc3dvcmQ6",
                     "LOGIN with the user as initial response")
            check_eq(r.cmd(b"*"), b"-ERR authentication cancelled",
                     "cancelled at the password")
            check_eq(r.cmd(b"AUTH CRAM-MD5 " + b64(b"x")), b"-ERR [AUTH]"
                     b" CRAM-MD5 takes no initial response",
                     "CRAM-MD5 with an initial response")
            ch = r.cmd(b"AUTH CRAM-MD5")
            check(ch.startswith(b"+ "), "a CRAM-MD5 challenge")
            challenge = base64.b64decode(ch[2:])
            check(re.fullmatch(rb"<\d+\.[0-9a-f]{16}@mail\.example\.org>",
                               challenge), "it is <pid.random@host>: %r" %
                  challenge)
            digest = hmac.new(b"wrong", challenge, hashlib.md5).hexdigest()
            check_eq(r.cmd(b64(b"alice " + digest.encode())), FAILED,
                     "a digest with the wrong secret")
            ch2 = base64.b64decode(r.cmd(b"AUTH CRAM-MD5")[2:])
            check(ch2 != challenge, "every exchange gets a fresh challenge")
            # The old challenge's digest does not do for the new one.
            old = hmac.new(b"alice-cram", challenge, hashlib.md5).hexdigest()
            check_eq(r.cmd(b64(b"alice " + old.encode())), FAILED,
                     "a replayed digest fails")
            ch3 = base64.b64decode(r.cmd(b"AUTH CRAM-MD5")[2:])
            good = hmac.new(b"alice-cram", ch3, hashlib.md5).hexdigest()
            check_eq(r.cmd(b64(b"alice " + good.upper().encode()))[:17],
                     b"+OK maildrop has ", "CRAM-MD5 with the right digest")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()


@test
def mechanisms_offered_depend_on_the_connection():
    with TempDir() as tmp:
        site = Site(tmp)
        env = site.env(TCPREMOTEIP="192.0.2.7")
        for cram, want in (("1", [b"CRAM-MD5"]), ("0", [])):
            a, b = socket.socketpair()
            p = subprocess.Popen(site.argv(), stdin=b, stdout=b,
                                 env=dict(env, POP3D_CRAM_MD5=cram,
                                          PATH="/usr/bin:/bin"),
                                 cwd=tmp.path, stderr=subprocess.DEVNULL)
            b.close()
            r = Raw(a)
            r.line()
            r.cmd(b"CAPA")
            caps = r.multiline().split(b"\r\n")
            check_eq([c for c in caps if c.startswith(b"SASL")],
                     [b"SASL CRAM-MD5"] if want else [],
                     "CAPA from 192.0.2.7 in plaintext, CRAM-MD5=%s" % cram)
            r.cmd(b"AUTH")
            check_eq([l for l in r.multiline().split(b"\r\n") if l], want,
                     "AUTH lists the same")
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"\0alice\0alice-pw")),
                     b"-ERR [AUTH] cleartext login is not allowed on this"
                     b" connection: use STLS first",
                     "PLAIN in plaintext from afar, with the reason")
            got = r.cmd(b"AUTH CRAM-MD5")
            if want:
                check(got.startswith(b"+ "), "CRAM-MD5 runs when offered")
                r.cmd(b"*")
            else:
                check_eq(got, b"-ERR [AUTH] mechanism not offered here;"
                         b" AUTH lists those that are",
                         "CRAM-MD5 refused without POP3D_CRAM_MD5=1")
            r.cmd(b"QUIT")
            r.close()
            p.wait(timeout=30)
        with site.serve() as srv:
            r = greeted(srv)
            r.cmd(b"CAPA")
            check(b"SASL PLAIN LOGIN CRAM-MD5\r\n" in r.multiline(),
                  "from loopback: all three")
            check_eq(r.cmd(b"AUTH DIGEST-MD5"), b"-ERR [AUTH] mechanism not"
                     b" offered here; AUTH lists those that are",
                     "an unknown mechanism")
            check_eq(r.cmd(b"AUTH plain " + b64(b"\0alice\0alice-pw"))[:17],
                     b"+OK maildrop has ", "mechanism names in any case")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()


@test
def credentials_limit_end_to_end():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_AUTH_FAILURES="10") as srv:
            r = greeted(srv)
            # "alice\0" + password + "\0" + "" (no APOP timestamp) + "\0"
            # must fit the 512 octets of checkpassword data: 504 do.  Too
            # long for the AUTH line: sent as a continuation (RFC 5034).
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b64(b"\0alice\0" + b"p" * 504)), FAILED,
                     "a 504-octet password is checked")
            r.cmd(b"AUTH PLAIN")
            check_eq(r.cmd(b64(b"\0alice\0" + b"p" * 505)),
                     b"-ERR [AUTH] credentials too long",
                     "505 octets do not fit with the user")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()


@test
def auth_when_tls_is_required():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_TLS_REQUIRED="1") as srv:
            r = greeted(srv)
            r.cmd(b"CAPA")
            check(b"SASL" not in r.multiline(), "no SASL line before TLS")
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"\0alice\0alice-pw")),
                     b"-ERR [AUTH] TLS is required on this connection: use"
                     b" STLS first", "AUTH before TLS is refused")
            r.cmd(b"QUIT")
            r.close()
            out = subprocess.run(
                ["curl", "-s", "--max-time", "20", "--ssl-reqd", "--cacert",
                 site.cert, "--login-options", "AUTH=PLAIN", "-u",
                 "alice:alice-pw", "pop3://localhost:%d/1" % srv.port,
                 "--resolve", "localhost:%d:127.0.0.1" % srv.port],
                capture_output=True)
            srv.connections += 1
            check_eq(out.stdout, MSG.replace(b"\n", b"\r\n"),
                     "after STLS, AUTH PLAIN works")
            srv.wait_all()


@test
def auth_failures_wait_like_pass():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_AUTH_DELAY="1", POP3D_AUTH_FAILURES="5") as srv:
            r = greeted(srv)
            t0 = time.monotonic()
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"\0alice\0x")), FAILED,
                     "a failed AUTH PLAIN")
            check(time.monotonic() - t0 >= 1.0,
                  "is answered after POP3D_AUTH_DELAY, as PASS is")
            r.cmd(b"AUTH LOGIN")
            r.cmd(b64(b"alice"))
            r.send(b64(b"alice-pw") + b"\r\nSTAT\r\nQUIT\r\n")
            check(r.line().startswith(b"+OK maildrop has 1 message"),
                  "AUTH LOGIN with commands pipelined after the password")
            check(r.line().startswith(b"+OK 1 "), "STAT reaches the maildrop")
            r.close()
            srv.wait_all()


@test
def auth_shares_the_failure_path():
    with TempDir() as tmp:
        site = Site(tmp)
        state = os.path.join(tmp.path, "state")
        with site.serve(POP3D_STATE_DIR=state, POP3D_PENALTY_FAILURES="2",
                        POP3D_AUTH_FAILURES="5") as srv:
            r = greeted(srv)
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"\0alice\0x")), FAILED,
                     "one failure")
            check_eq(r.cmd(b"AUTH PLAIN " + b64(b"\0alice\0y")),
                     b"-ERR [LOGIN-DELAY] too many failed logins from your"
                     b" address; closing", "the second blocks the address")
            r.close()
            r = Raw(srv.connect())
            check(r.line().startswith(b"-ERR [LOGIN-DELAY]"),
                  "AUTH failures feed the penalty box")
            r.close()
            srv.wait_all()
        with site.serve(POP3D_AUTH_FAILURES="2") as srv:
            r = greeted(srv)
            r.cmd(b"AUTH LOGIN")
            r.cmd(b64(b"alice"))
            check_eq(r.cmd(b64(b"x")), FAILED, "first LOGIN failure")
            r.cmd(b"AUTH LOGIN")
            r.cmd(b64(b"alice"))
            check_eq(r.cmd(b64(b"y")), FAILED + b"; closing",
                     "POP3D_AUTH_FAILURES ends the connection")
            r.close()
            # Commands pipelined after a successful AUTH reach the maildrop.
            r = greeted(srv)
            r.send(b"AUTH PLAIN " + b64(b"\0alice\0alice-pw") +
                   b"\r\nSTAT\r\nQUIT\r\n")
            check(r.line().startswith(b"+OK maildrop has 1 message"),
                  "pipelined AUTH PLAIN")
            check_eq(r.line(), b"+OK 1 %d" % len(MSG.replace(b"\n", b"\r\n")),
                     "STAT after it, in the same packet")
            r.close()
            srv.wait_all()


if __name__ == "__main__":
    run_all(sys.argv[2:])

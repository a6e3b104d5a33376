"""TLS end to end: implicit TLS (pop3d -t, port 995's service) and STLS,
through pop3d-tls, the relay, with real clients: Python's ssl and poplib,
openssl s_client and curl.  Also what must not happen: plaintext injected
after STLS run as a command, old protocols, libtls or the key in a process
that parses POP3."""

import hashlib
import os
import poplib
import re
import socket
import ssl
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     carries_tls, check, check_eq, make_maildir, maps_tls,
                     run_all, test)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
POP3D = os.path.join(BUILD, "pop3d")
RELAY = os.path.join(BUILD, "pop3d-tls")
RULES = os.path.join(BUILD, "pop3d-rules")
MAILDROP = os.path.join(BUILD, "pop3d-maildrop")
CHECKPW = os.path.join(HERE, "checkpassword.py")
SMALL = b"Subject: tls\n\nOver TLS.\n"
# A multi-megabyte message with every octet value and long lines.
BIG = (b"Subject: big\n\n" + b"".join(
    hashlib.sha256(b"%d" % i).hexdigest().encode() * 20 + b"\n" +
    bytes(range(256)).replace(b"\n", b"").replace(b"\r", b"") + b"\n"
    for i in range(6000)))


class Site:
    """A Maildir, certificates for localhost and mail.example.org, and the
    chain's environment."""

    def __init__(self, tmp):
        self.tmp = tmp
        p = tmp.path
        make_maildir(os.path.join(p, "Maildir"),
                     new=[("1700000000.M1P1.tls", SMALL),
                          ("1700000001.M1P1.tls", BIG)])
        os.makedirs(os.path.join(p, "empty"))
        self.certs = os.path.join(p, "certs")
        subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                        self.certs, "localhost", "mail.example.org"],
                       check=True, capture_output=True)
        tmp.give()
        if ROOT:
            os.chown(os.path.join(p, "empty"), 0, 0)
            for top, dirs, files in os.walk(self.certs):
                os.chown(top, 0, 0)
                for f in files:
                    os.chown(os.path.join(top, f), 0, 0)

    def cert(self, name="localhost"):
        return os.path.join(self.certs, name + ".pem")

    def key(self, name="localhost"):
        return os.path.join(self.certs, name + ".key")

    def env(self, **kw):
        p = self.tmp.path
        e = {"CP_HOME": p, "CP_UID": str(RUN_UID), "CP_GID": str(RUN_GID),
             "CP_LOG": os.path.join(p, "cp.log"),
             "POP3D_AUTH_DELAY": "0",
             "POP3D_CHROOT": os.path.join(p, "empty"),
             "POP3D_RULES": "", "POP3D_STATE_DIR": "",
             "POP3D_TLS_CERT": self.cert(), "POP3D_TLS_KEY": self.key(),
             "POP3D_TLS_KEYPAIRS": "%s:%s" % (self.cert("mail.example.org"),
                                              self.key("mail.example.org"))}
        e.update(kw)
        return e

    def serve(self, implicit=False, **kw):
        argv = [POP3D] + (["-t"] if implicit else []) + [
            "mail.example.org", CHECKPW, MAILDROP, "Maildir"]
        return Spawner(argv, env=self.env(**kw), cwd=self.tmp.path,
                       as_root=True)

    def rules(self, text):
        """A rules.cdb compiled from text: its path."""
        rules = os.path.join(self.tmp.path, "rules")
        cdb = os.path.join(self.tmp.path, "rules.cdb")
        with open(rules, "w") as f:
            f.write(text)
        subprocess.run([RULES, "-f", rules, "-d", cdb, "compile"], check=True,
                       capture_output=True)
        return cdb

    def context(self, name="localhost"):
        ctx = ssl.create_default_context(cafile=self.cert(name))
        return ctx

    def cp_log(self):
        try:
            return open(os.path.join(self.tmp.path, "cp.log")).read()
        except FileNotFoundError:
            return ""


def crlf(data):
    return data.replace(b"\n", b"\r\n")


@test
def implicit_tls_with_poplib_openssl_and_curl():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            p = poplib.POP3_SSL("localhost", srv.port, timeout=30,
                                context=site.context())
            srv.connections += 1
            check(p.getwelcome().startswith(b"+OK"),
                  "POP3_SSL: the greeting comes under TLS")
            capa = p.capa()
            check("STLS" not in capa and "USER" in capa,
                  "CAPA under TLS: USER, no STLS: %r" % sorted(capa))
            p.user("alice")
            p.pass_("secret")
            resp, lines, octets = p.retr(2)
            check_eq(hashlib.sha256(b"\n".join(lines) + b"\n").hexdigest(),
                     hashlib.sha256(BIG).hexdigest(),
                     "a %d-octet message retrieved byte-exact" % len(BIG))
            p.quit()
            out = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                 "-CAfile", site.cert(), "-quiet", "-verify_return_error"],
                input=b"CAPA\r\nQUIT\r\n", capture_output=True, timeout=30)
            srv.connections += 1
            check(out.stdout.startswith(b"+OK") and b"+OK bye" in out.stdout,
                  "openssl s_client -connect: greeting, CAPA, QUIT")
            out = subprocess.run(
                ["curl", "-s", "--max-time", "20", "--cacert", site.cert(),
                 "pop3s://localhost:%d/1" % srv.port, "-u", "alice:secret",
                 "--resolve", "localhost:%d:127.0.0.1" % srv.port],
                capture_output=True)
            srv.connections += 1
            check_eq(out.stdout, crlf(SMALL), "curl pop3s:// retrieves"
                     " message 1")
            srv.wait_all()
        log = srv.log()
        check(re.search(r"tls remote=127\.0\.0\.1 protocol=TLSv1\.[23] "
                        r"cipher=\S+", log), "the handshake is logged")
        check(re.search(r"end remote=127\.0\.0\.1 tls=TLSv1\.[23] ", log),
              "and the end line says TLS")


@test
def stls_with_poplib_openssl_and_curl():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            p = poplib.POP3("localhost", srv.port, timeout=30)
            srv.connections += 1
            check("STLS" in p.capa(), "CAPA offers STLS")
            check(p.stls(site.context()).startswith(b"+OK"), "STLS: +OK")
            capa = p.capa()
            check("STLS" not in capa, "after TLS, CAPA has no STLS")
            p.user("alice")
            p.pass_("secret")
            resp, lines, octets = p.retr(2)
            check_eq(hashlib.sha256(b"\n".join(lines) + b"\n").hexdigest(),
                     hashlib.sha256(BIG).hexdigest(),
                     "the big message byte-exact after STLS")
            p.quit()
            out = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                 "-starttls", "pop3", "-CAfile", site.cert(), "-quiet",
                 "-verify_return_error"],
                input=b"CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n",
                capture_output=True, timeout=30)
            srv.connections += 1
            check(b"+OK 2 " in out.stdout and out.returncode == 0,
                  "openssl s_client -starttls pop3: login and STAT: %r" %
                  out.stdout[-200:])
            out = subprocess.run(
                ["curl", "-s", "--max-time", "20", "--ssl-reqd", "--cacert",
                 site.cert(), "pop3://localhost:%d/1" % srv.port,
                 "-u", "alice:secret",
                 "--resolve", "localhost:%d:127.0.0.1" % srv.port],
                capture_output=True)
            srv.connections += 1
            check_eq(out.stdout, crlf(SMALL), "curl --ssl-reqd pop3://"
                     " retrieves over STLS")
            srv.wait_all()


@test
def plaintext_after_stls_is_never_run():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            r = Raw(srv.connect())
            r.line()
            r.send(b"STLS\r\nUSER alice\r\nPASS secret\r\nQUIT\r\n")
            check_eq(r.line(), b"+OK begin TLS negotiation",
                     "STLS with commands pipelined after it")
            try:
                ctx = site.context()
                t = ctx.wrap_socket(r.s, server_hostname="localhost")
                t.sendall(b"STAT\r\n")
                got = t.recv(100)
            except (ssl.SSLError, OSError) as e:
                got = repr(e).encode()
            check(not got.startswith(b"+OK"),
                  "the injected plaintext broke the handshake: %r" % got)
            r.close()
            srv.wait_all()
        check_eq(site.cp_log(), "", "the injected PASS never reached the"
                 " auth program")
        check("tls-handshake-failed remote=127.0.0.1" in srv.log(),
              "the failed handshake is logged with the peer")


@test
def old_protocols_are_refused():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            ctx = site.context()
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            try:
                ctx.set_ciphers("ALL:@SECLEVEL=0")
            except ssl.SSLError:
                pass
            try:
                s = ctx.wrap_socket(srv.connect(), server_hostname="localhost")
                s.recv(10)
                ok = False
            except (ssl.SSLError, OSError):
                ok = True
            check(ok, "a TLS 1.1 client gets no session")
            out = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                 "-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
                input=b"", capture_output=True, timeout=30)
            srv.connections += 1
            check(out.returncode != 0, "openssl s_client -tls1_1 fails")
            s = site.context().wrap_socket(srv.connect(),
                                           server_hostname="localhost")
            check(s.version() in ("TLSv1.2", "TLSv1.3"),
                  "the default is TLS 1.2 or 1.3: %s" % s.version())
            s.close()
            srv.wait_all()


@test
def sni_picks_the_certificate():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            for name, want in (("mail.example.org", "mail.example.org"),
                               ("localhost", "localhost"),
                               ("other.example.net", "localhost")):
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(srv.connect(), server_hostname=name)
                der = s.getpeercert(binary_form=True)
                s.close()
                with open(site.cert(want)) as f:
                    pem = f.read()
                check(ssl.DER_cert_to_PEM_cert(der).split("-----")[2].split()
                      == pem.split("-----")[2].split(),
                      "SNI %s gets the %s certificate" % (name, want))
            srv.wait_all()
        check("sni=mail.example.org" in srv.log(), "the SNI name is logged")


@test
def tls_required_by_a_rule():
    with TempDir() as tmp:
        site = Site(tmp)
        cdb = site.rules("127.0.0.0/8:allow,POP3D_TLS_REQUIRED=1\n")
        with site.serve(POP3D_RULES=cdb) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"CAPA")
            capa = r.multiline()
            check(b"STLS\r\n" in capa and b"USER\r\n" not in capa,
                  "CAPA lists STLS and no USER: %r" % capa)
            check_eq(r.cmd(b"USER alice"), b"-ERR [AUTH] TLS is required on"
                     b" this connection: use STLS first",
                     "USER before TLS is refused, with the reason")
            check_eq(r.cmd(b"APOP alice " + b"0" * 32), b"-ERR [AUTH] TLS is"
                     b" required on this connection: use STLS first",
                     "so is APOP")
            r.cmd(b"QUIT")
            r.close()
            p = poplib.POP3("localhost", srv.port, timeout=30)
            srv.connections += 1
            p.stls(site.context())
            check("USER" in p.capa(), "after STLS, USER is offered")
            p.user("alice")
            check(p.pass_("secret").startswith(b"+OK"),
                  "and the login works")
            p.quit()
            srv.wait_all()


@test
def a_missing_certificate_is_a_clean_refusal():
    with TempDir() as tmp:
        site = Site(tmp)
        missing = os.path.join(tmp.path, "nope.crt")
        with site.serve(POP3D_TLS_CERT=missing) as srv:
            r = Raw(srv.connect())
            r.line()
            check_eq(r.cmd(b"STLS"), b"-ERR [SYS/TEMP] TLS is not available"
                     b" now; try again later", "STLS without its certificate")
            check_eq(r.cmd(b"NOOP"), b"-ERR command not valid in this state",
                     "the plaintext dialogue goes on")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()
        check("tls-config" in srv.log() and "nope.crt" in srv.log(),
              "the relay logs which file: %r" % srv.log()[-300:])
        with site.serve(implicit=True, POP3D_TLS_KEY=missing) as srv:
            s = srv.connect()
            s.settimeout(10)
            try:
                got = s.recv(100)
            except OSError:
                got = b""
            check_eq(got, b"", "implicit TLS without a key: the connection"
                     " closes, no plaintext")
            s.close()
            srv.wait_all()


def maps(pid):
    """The process's mappings; unreadable is an error, not "none"."""
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def status_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return -1


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


@test
def relay_and_preauth_are_sandboxed():
    """Under STLS and implicit TLS, the live relay and the live pre-login
    process each run under the seccomp allow-list (what it refuses:
    tests/unit/t_sandbox.c, same function), and the session still goes
    through: handshake, login, RETR of a large message, QUIT."""
    from test_front import seccomp_of
    with TempDir() as tmp:
        site = Site(tmp)
        for implicit in (False, True):
            how = "implicit TLS" if implicit else "STLS"
            with site.serve(implicit=implicit) as srv:
                if implicit:
                    p = poplib.POP3_SSL("localhost", srv.port, timeout=30,
                                        context=site.context())
                else:
                    p = poplib.POP3("localhost", srv.port, timeout=30)
                    p.stls(site.context())
                srv.connections += 1
                front = srv.last_proc().pid
                p.capa()
                kids = children(front)
                relay = [k for k in kids if exe(k).endswith("pop3d-tls")]
                pre = [k for k in kids if k not in relay]
                check(len(relay) == 1 and len(pre) == 1,
                      "%s: a relay and a pre-login child" % how)
                check(all(seccomp_of(k) == (2, 1) for k in relay),
                      "%s: the relay is under one seccomp filter: %r" %
                      (how, [seccomp_of(k) for k in relay]))
                check(all(seccomp_of(k) == (2, 1) for k in pre),
                      "%s: the pre-login process too" % how)
                p.user("alice")
                check(p.pass_("secret").startswith(b"+OK"),
                      "%s: login through the confined relay" % how)
                check_eq(b"\n".join(p.retr(2)[1]) + b"\n", BIG,
                         "%s: RETR of a large message" % how)
                p.quit()
                srv.wait_all()
                check_eq([q.returncode for q in srv.procs], [0],
                         "%s: the chain ended well" % how)
            check("signal=31" not in srv.log(),
                  "%s: nothing killed by the filter: %r" %
                  (how, srv.log()[-300:]))


@test
def confined_relay_logs_to_syslog():
    """With POP3D_LOG=syslog the relay's lines go out on the socket it
    connected before the drop, under its seccomp filter (a socket of the
    test's own, POP3D_SYSLOG_SOCKET, not the machine's /dev/log)."""
    with TempDir() as tmp:
        site = Site(tmp)
        path = os.path.join(tmp.path, "log.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(path)
        os.chmod(path, 0o666)
        try:
            with site.serve(implicit=True, POP3D_LOG="syslog",
                            POP3D_SYSLOG_SOCKET=path) as srv:
                c = socket.create_connection(("127.0.0.1", srv.port), 30)
                srv.connections += 1
                c.sendall(b"USER alice\r\n" * 100)
                c.settimeout(30)
                try:
                    while c.recv(4096):
                        pass
                except OSError:
                    pass
                c.close()
                srv.wait_all()
            got = []
            rx.settimeout(2)
            try:
                while True:
                    got.append(rx.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                pass
        finally:
            rx.close()
        check(any("pop3d-tls[" in m and "tls-handshake-failed"
                  " remote=127.0.0.1" in m for m in got),
              "the relay's line reaches syslog: %r" % got[:4])
        check(any("pop3d[" in m and "end=tls-failed" in m for m in got),
              "and the front's end line: %r" % got[:4])


@test
def libtls_and_the_key_stay_in_the_relay():
    check(carries_tls(RELAY), "pop3d-tls carries libtls")
    for prog in ("pop3d", "pop3d-auth", "pop3d-maildrop", "pop3d-rules",
                 "pop3d-users"):
        check(not carries_tls(os.path.join(BUILD, prog)),
              "%s carries neither libtls nor libssl" % prog)
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            p = poplib.POP3("localhost", srv.port, timeout=30)
            srv.connections += 1
            p.stls(site.context())
            front = srv.last_proc().pid
            # Before login: the front, a pre-login process, the relay (the
            # new pre-login process comes once the handshake is reported).
            p.capa()
            kids = children(front)
            relay = [k for k in kids if exe(k).endswith("pop3d-tls")]
            pre = [k for k in kids if k not in relay]
            check(len(relay) == 1 and len(pre) == 1,
                  "the front has a relay and a pre-login child: %r" %
                  [(k, exe(k)) for k in kids])
            check(not maps_tls(front), "the front maps no TLS code")
            check(not any(maps_tls(k) for k in pre),
                  "the pre-login process maps none")
            check(all(maps_tls(k) for k in relay), "the relay does")
            if ROOT:
                check(all(status_uid(k) != 0 for k in relay + pre),
                      "relay and pre-login process run without root")
                check(all(os.readlink("/proc/%d/root" % k) ==
                          os.path.join(tmp.path, "empty") for k in relay),
                      "the relay is chrooted to the empty directory")
                # The key as the live pre-login process would try it: its
                # uid and gid, from its root (its chroot hides the path).
                key = site.key()
                ids = {}
                with open("/proc/%d/status" % pre[0]) as f:
                    for line in f:
                        if line.startswith(("Uid:", "Gid:")):
                            ids[line[:3]] = int(line.split()[1])
                check(os.readlink("/proc/%d/root" % pre[0]) != "/",
                      "the pre-login process is chrooted")
                pid = os.fork()
                if pid == 0:
                    os.setgroups([])
                    os.setgid(ids["Gid"])
                    os.setuid(ids["Uid"])
                    try:
                        open(key).close()
                        os._exit(1)
                    except PermissionError:
                        os._exit(0)
                _, st = os.waitpid(pid, 0)
                check_eq(st, 0, "even outside its chroot, the pre-login"
                         " process's uid could not read the key")
            p.user("alice")
            p.pass_("secret")
            # Logged in: the mailbox stage parses POP3; no TLS in it.
            time.sleep(0.2)
            stages = []
            todo = children(front)
            while todo:
                k = todo.pop()
                stages.append(k)
                todo += children(k)
            md = [k for k in stages if exe(k).endswith("pop3d-maildrop")]
            check(len(md) == 1 and not maps_tls(md[0]),
                  "pop3d-maildrop maps no TLS code")
            env = open("/proc/%d/environ" % md[0], "rb").read().split(b"\0") \
                if md else []
            check(any(e.startswith(b"SSL_PROTOCOL=TLSv1.") for e in env) and
                  any(e.startswith(b"SSL_CIPHER=") for e in env),
                  "the mailbox stage has SSL_PROTOCOL and SSL_CIPHER")
            p.quit()
            srv.wait_all()


@test
def implicit_tls_refusals_send_no_plaintext():
    with TempDir() as tmp:
        site = Site(tmp)
        cdb = site.rules("127.0.0.1:deny\n")
        with site.serve(implicit=True, POP3D_RULES=cdb) as srv:
            s = srv.connect()
            s.settimeout(10)
            check_eq(s.recv(100), b"", "a deny rule on port 995: closed,"
                     " no plaintext -ERR")
            s.close()
            srv.wait_all()
        check("deny remote=127.0.0.1" in srv.log(), "and logged")
        with site.serve(implicit=True, POP3D_IDLE_TIMEOUT="nonsense") as srv:
            s = srv.connect()
            s.settimeout(10)
            check_eq(s.recv(100), b"", "a bad setting: closed, no plaintext")
            s.close()
            srv.wait_all()


@test
def a_failed_stls_is_not_offered_again():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_TLS_KEY=os.path.join(tmp.path, "nope")) as srv:
            r = Raw(srv.connect())
            r.line()
            check(r.cmd(b"STLS").startswith(b"-ERR [SYS/TEMP]"),
                  "STLS fails once")
            r.cmd(b"CAPA")
            check(b"STLS" not in r.multiline(), "then CAPA drops it")
            check_eq(r.cmd(b"STLS"), b"-ERR STLS is not offered",
                     "and STLS is refused without starting a relay")
            r.cmd(b"QUIT")
            r.close()
            srv.wait_all()
        check_eq(srv.log().count("tls-config"), 1, "one relay was started")
        with site.serve(POP3D_TLS_KEY="") as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"CAPA")
            check(b"STLS" not in r.multiline(),
                  "a certificate without a key: no STLS offered")
            r.cmd(b"QUIT")
            r.close()


@test
def a_renewed_certificate_needs_no_restart():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            def served():
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(srv.connect(), server_hostname="localhost")
                der = s.getpeercert(binary_form=True)
                s.close()
                return der
            before = served()
            fresh = os.path.join(tmp.path, "fresh")
            subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                            fresh, "localhost"], check=True,
                           capture_output=True)
            os.replace(os.path.join(fresh, "localhost.key"), site.key())
            os.replace(os.path.join(fresh, "localhost.pem"), site.cert())
            after = served()
            check(before != after, "the next connection gets the new"
                  " certificate")
            srv.wait_all()


if __name__ == "__main__":
    run_all(sys.argv[2:])

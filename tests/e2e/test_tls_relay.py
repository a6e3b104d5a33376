"""pop3d-tls, the TLS relay, on its own: started as the front starts it
(the client's TCP socket on fd 0/1, one end of a socketpair as the
plaintext side on fd 3, a pipe as the status channel on fd 4) and driven
with Python's ssl module and openssl s_client as the client."""

import atexit
import os
import pwd
import re
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, TempDir, carries_tls, check, check_eq,
                     run_all, test, skip)

RELAY = os.path.join(BUILD, "pop3d-tls")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SNI_NAME = "mail.example.org"

# One set of certificates for the whole run (tests/tls-cert.sh).
CERTS = TempDir()
atexit.register(CERTS.cleanup)
subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"), CERTS.path,
                SNI_NAME], check=True, stdout=subprocess.DEVNULL)


def cert(name):
    return os.path.join(CERTS.path, name + ".pem")


def key(name):
    return os.path.join(CERTS.path, name + ".key")


def drop_user():
    """The user the relay becomes as root: pop3d, else nobody."""
    try:
        return pwd.getpwnam("pop3d")
    except KeyError:
        return pwd.getpwnam("nobody")


def base_env(tmp):
    empty = os.path.join(tmp.path, "empty")
    if not os.path.isdir(empty):
        os.makedirs(empty)
        os.chmod(empty, 0o755)
        if ROOT:
            os.chown(empty, 0, 0)
    e = {"PATH": "/usr/bin:/bin",
         "POP3D_TLS_CERT": cert("localhost"),
         "POP3D_TLS_KEY": key("localhost"),
         "POP3D_TLS_KEYPAIRS": "%s:%s" % (cert(SNI_NAME), key(SNI_NAME)),
         "POP3D_CHROOT": empty}
    if not ROOT:
        e["POP3D_TLS_NONROOT"] = "1"
    return e


class Relay:
    """One pop3d-tls with a real TCP connection from 127.0.0.1: .client is
    the client's raw socket, .plain the chain's end of fd 3."""

    def __init__(self, tmp, env=None, unset=(), argv=None, external=None,
                 become=None):
        """external(port), if given, starts a client program that connects
        to port; it is .external, and .client is None."""
        e = base_env(tmp)
        e.update(env or {})
        for name in unset:
            e.pop(name, None)
        lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(1)
        self.client = self.external = None
        if external is None:
            self.client = socket.create_connection(lsn.getsockname(),
                                                   timeout=30)
        else:
            self.external = external(lsn.getsockname()[1])
        lsn.settimeout(30)
        conn, _ = lsn.accept()
        lsn.close()
        self.plain, theirs = socket.socketpair()
        self.plain.settimeout(30)
        rd, wr = os.pipe()
        self.status_fd = rd
        self.buf = b""
        self.logpath = os.path.join(tmp.path, "relay.log")
        log = open(self.logpath, "ab")

        def fds():
            # Both move out of the way first: either may sit on 3 or 4.
            p = os.dup2(theirs.fileno(), 100)
            s = os.dup2(wr, 101)
            os.dup2(p, 3)
            os.dup2(s, 4)
            if become is not None:
                os.setgroups([])
                os.setgid(become.pw_gid)
                os.setuid(become.pw_uid)

        self.proc = subprocess.Popen(argv or [RELAY], stdin=conn, stdout=conn,
                                     stderr=log, env=e, preexec_fn=fds,
                                     pass_fds=(3, 4), close_fds=True)
        log.close()
        conn.close()
        theirs.close()
        os.close(wr)

    def fields(self, count, timeout=15):
        """The next count NUL-ended fields of fd 4 (fewer at EOF)."""
        out = []
        deadline = time.time() + timeout
        while len(out) < count:
            if b"\0" in self.buf:
                f, self.buf = self.buf.split(b"\0", 1)
                out.append(f.decode("latin-1"))
                continue
            left = deadline - time.time()
            if left <= 0 or not select.select([self.status_fd], [], [],
                                              left)[0]:
                break
            d = os.read(self.status_fd, 4096)
            if not d:
                break
            self.buf += d
        return out

    def word(self, timeout=15):
        f = self.fields(1, timeout)
        return f[0] if f else None

    def rest(self, timeout=15):
        """Every field up to EOF of the status pipe, and whether EOF came
        (and nothing was left half)."""
        out = []
        deadline = time.time() + timeout
        while True:
            f = self.fields(1, max(0.0, deadline - time.time()))
            if not f:
                break
            out.append(f[0])
        eof = select.select([self.status_fd], [], [], 0)[0] and \
            os.read(self.status_fd, 1) == b"" and self.buf == b""
        return out, bool(eof)

    def tls(self, server_hostname=None, ctx=None, timeout=30):
        if ctx is None:
            ctx = client_ctx()
        self.client.settimeout(timeout)
        s = ctx.wrap_socket(self.client, server_hostname=server_hostname)
        self.client = s
        return s

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout"

    def log(self):
        """The relay's log, without the line every start without root
        writes (tested on its own)."""
        with open(self.logpath, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return "".join(l for l in text.splitlines(True)
                       if "not root" not in l)

    def full_log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        for s in (self.client, self.plain):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
        if self.external is not None:
            if self.external.poll() is None:
                self.external.kill()
            self.external.wait()
            self.external.stdin.close()
            self.external.stdout.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.status_fd)
        try:
            os.unlink(self.logpath)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def pem_of(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def recv_exactly(s, n):
    data = bytearray()
    while len(data) < n:
        d = s.recv(min(1 << 20, n - len(data)))
        if not d:
            break
        data += d
    return bytes(data)


def facts(fields):
    return dict(f.split("=", 1) for f in fields if "=" in f)


@test
def ready_then_ok_with_the_tls_facts():
    with TempDir() as tmp, Relay(tmp) as r:
        check_eq(r.word(), "ready", "the relay says ready once configured")
        s = r.tls()
        check_eq(r.word(), "ok", "then ok after the handshake")
        fields, eof = r.rest()
        f = facts(fields)
        check_eq(f.get("SSL_PROTOCOL"), s.version(),
                 "SSL_PROTOCOL is the protocol the client got")
        check_eq(f.get("SSL_CIPHER"), s.cipher()[0],
                 "SSL_CIPHER is the cipher the client got")
        check("SSL_TLS_SNI_SERVERNAME" not in f,
              "no SSL_TLS_SNI_SERVERNAME without SNI")
        check_eq(len(fields), 2, "nothing else is said")
        check(eof, "and the status pipe is closed after ok")
        check(all(re.fullmatch(r"[!-~]+", v) for v in fields),
              "every field is one printable word")


@test
def bytes_are_relayed_exactly_both_ways():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        r.client.settimeout(60)
        c = TLSClient(r.client)
        c.send(b"USER alice\r\n")
        check_eq(recv_exactly(r.plain, 12), b"USER alice\r\n",
                 "client to chain: a command line")
        r.plain.sendall(b"+OK\r\n")
        check_eq(c.recv(), b"+OK\r\n", "chain to client: a reply")
        up = os.urandom(3 * 1024 * 1024 + 17)
        down = os.urandom(5 * 1024 * 1024 + 3)
        got = {}

        def chain_reads():
            got["up"] = recv_exactly(r.plain, len(up))

        def chain_writes():
            r.plain.sendall(down)

        threads = [threading.Thread(target=f)
                   for f in (chain_reads, chain_writes)]
        for th in threads:
            th.start()
        got["down"] = c.exchange(up, len(down))
        for th in threads:
            th.join(60)
        check(got.get("up") == up, "3 MB from the client arrive exactly")
        check(got.get("down") == down, "5 MB to the client arrive exactly,"
              " both ways at once")
        r.plain.close()
        check_eq(c.recv(), b"", "the chain's end: close_notify to the client")
        r.client.close()
        check_eq(r.wait(), 0, "and the relay exits 0")


@test
def sni_picks_the_certificate():
    for name, want, label in ((SNI_NAME, SNI_NAME, "SNI " + SNI_NAME),
                              (None, "localhost", "no SNI"),
                              ("other.example.net", "localhost",
                               "an unknown SNI name")):
        with TempDir() as tmp, Relay(tmp) as r:
            r.word()
            s = r.tls(server_hostname=name)
            check(s.getpeercert(binary_form=True) == pem_of(cert(want)),
                  "%s gets the %s certificate" % (label, want))
            check_eq(r.word(), "ok", "%s: ok" % label)
            f = facts(r.rest()[0])
            check_eq(f.get("SSL_TLS_SNI_SERVERNAME"), name,
                     "%s: SSL_TLS_SNI_SERVERNAME is what the client sent"
                     % label)


@test
def the_sni_certificate_verifies_for_its_name():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        ctx = ssl.create_default_context(cafile=cert(SNI_NAME))
        s = r.tls(server_hostname=SNI_NAME, ctx=ctx)
        check_eq(s.getpeercert()["subjectAltName"], (("DNS", SNI_NAME),),
                 "a verifying client accepts the certificate for its name")


def old_client_ctx():
    ctx = client_ctx()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    return ctx


def tls11_handshake(r):
    """A TLS 1.1 handshake from Python's ssl: True if it succeeded."""
    try:
        r.tls(ctx=old_client_ctx(), timeout=10)
        return True
    except (ssl.SSLError, OSError):
        return False


def tls11_offered():
    """Whether Python's ssl here still sends a TLS 1.1 ClientHello at all
    (its OpenSSL's security level may forbid it)."""
    o = old_client_ctx().wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        return True         # the ClientHello is out, an answer awaited
    except ssl.SSLError:
        return False
    return True


def s_client(*args):
    """openssl s_client to 127.0.0.1:port, with args."""
    def start(port):
        return subprocess.Popen(
            ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] +
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
    return start


@test
def tls_1_1_is_refused_by_default():
    with TempDir() as tmp:
        if tls11_offered():
            with Relay(tmp) as r:
                r.word()
                ok = tls11_handshake(r)
                how = "Python ssl, TLS 1.1 at most"
                word, reason = (r.fields(2) + [None, None])[:2]
                code = r.wait()
                log = r.log()
        else:
            # This OpenSSL will not even offer TLS 1.1 from Python: the
            # command line client sends the ClientHello.
            with Relay(tmp, external=s_client(
                    "-tls1_1", "-cipher", "ALL:@SECLEVEL=0")) as r:
                r.word()
                word, reason = (r.fields(2) + [None, None])[:2]
                code = r.wait()
                log = r.log()
                r.external.stdin.close()
                ok = r.external.wait(30) == 0
                how = "openssl s_client -tls1_1"
        check(not ok, "a TLS 1.1 client (%s) fails the handshake" % how)
        check_eq(word, "fail", "the relay reports fail")
        check(reason is not None and re.search(r"protocol|version",
                                               reason) is not None,
              "because of the protocol: %r" % reason)
        check_eq(code, 1, "and exits 1")
        check(re.search(r"tls-handshake-failed remote=127\.0\.0\.1 error=",
                        log) is not None,
              "the failed handshake is logged with the peer address")


@test
def facts_are_made_safe():
    name = "we ird\\x\x01\x7f\u00e9.example"     # UTF-8 on the wire
    with TempDir() as tmp, Relay(tmp, external=s_client(
            "-servername", name)) as r:
        check_eq(r.word(), "ready", "ready")
        check_eq(r.word(), "ok", "a client sending a strange SNI name: ok")
        fields, eof = r.rest()
        f = facts(fields)
        check_eq(f.get("SSL_TLS_SNI_SERVERNAME"),
                 "we\\x20ird\\x5cx\\x01\\x7f\\xc3\\xa9.example",
                 "blanks, controls, non-ASCII and the backslash are \\xHH")
        check(all(re.fullmatch(r"[!-~]+", v) for v in fields),
              "every fact is printable, without blanks")
    # 100 blanks are 400 octets escaped: cut at 255, never inside an escape.
    with TempDir() as tmp, Relay(tmp, external=s_client(
            "-servername", "x" + " " * 100)) as r:
        r.word()
        if r.word() == "ok":
            v = facts(r.rest()[0]).get("SSL_TLS_SNI_SERVERNAME", "")
            check_eq(v, "x" + "\\x20" * 63,
                     "a value is cut at 255 octets, between escapes")
        else:
            skip("this client sends no such name")


@test
def tls_1_1_only_when_asked():
    if not tls11_offered():
        skip("this OpenSSL offers no TLS 1.1 client: nothing to ask")
        return
    with TempDir() as tmp, Relay(tmp, env={
            "POP3D_TLS_PROTOCOLS": "tlsv1.1,tlsv1.2,tlsv1.3",
            "POP3D_TLS_CIPHERS": "ALL:@SECLEVEL=0"}) as r:
        r.word()
        if tls11_handshake(r):
            check_eq(r.client.version(), "TLSv1.1",
                     "asked explicitly, the relay speaks TLS 1.1 (the same"
                     " client is refused by default)")
            check_eq(r.word(), "ok", "ok")
        else:
            check("fail" == r.word(), "this OpenSSL refuses TLS 1.1 even"
                  " when asked (its security level); the relay says fail")


@test
def garbage_instead_of_a_client_hello():
    with TempDir() as tmp, Relay(tmp, env={"TCPREMOTEIP": "192.0.2.9"}) as r:
        r.word()
        r.client.sendall(b"USER alice\r\nPASS secret\r\n")
        check_eq(r.word(), "fail", "plaintext instead of TLS: fail")
        check_eq(r.wait(), 1, "exit 1")
        check(re.search(r"tls-handshake-failed remote=192\.0\.2\.9 error=",
                        r.log()) is not None,
              "the log names the peer the front said (TCPREMOTEIP)")
        check_eq(recv_exactly(r.plain, 1), b"",
                 "nothing reaches the plaintext side")


@test
def a_silent_client_times_out():
    with TempDir() as tmp, Relay(tmp, env={"POP3D_TLS_TIMEOUT": "1"}) as r:
        r.word()
        t = time.time()
        check_eq(r.word(timeout=10), "fail", "no ClientHello: fail")
        reason = r.fields(1)
        check(reason and "timed out" in reason[0],
              "because the handshake timed out: %r" % reason)
        check(time.time() - t < 5, "after POP3D_TLS_TIMEOUT")
        check_eq(r.wait(), 1, "exit 1")


@test
def a_client_that_hangs_up_in_the_handshake():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        r.client.close()
        check_eq(r.word(), "fail", "a client gone before the handshake: fail")
        check_eq(r.wait(), 1, "exit 1")


def config_error(env=None, unset=(), what=""):
    with TempDir() as tmp, Relay(tmp, env=env, unset=unset) as r:
        word = r.word()
        reason = r.fields(1)
        code = r.wait()
        log = r.log()
        check(word == "error" and code == 111,
              "%s: status error and exit 111 (got %r, %r)"
              % (what, word, code))
        return (reason[0] if reason else ""), log


@test
def configuration_errors_are_reported():
    reason, log = config_error(env={"POP3D_TLS_KEY": "/nonexistent/key.pem"},
                               what="a missing key file")
    check("/nonexistent/key.pem" in reason, "the reason names the file: %r"
          % reason)
    lines = [l for l in log.splitlines() if "tls-config" in l]
    check(len(lines) == 1 and re.match(
        r"pop3d-tls\[\d+\]: tls-config error=\".*/nonexistent/key\.pem",
        lines[0]) is not None, "one clear log line: %r" % lines)
    check_eq(len(log.splitlines()), 1, "and nothing else")
    config_error(unset=("POP3D_TLS_CERT",), what="no POP3D_TLS_CERT")
    config_error(unset=("POP3D_TLS_KEY",), what="no POP3D_TLS_KEY")
    config_error(env={"POP3D_TLS_CERT": "/nonexistent/cert.pem"},
                 what="a missing certificate")
    reason, _ = config_error(env={"POP3D_TLS_KEY": key(SNI_NAME)},
                             what="a key that is not the certificate's")
    check("private key" in reason, "the reason says so: %r" % reason)
    config_error(env={"POP3D_TLS_CERT": key("localhost")},
                 what="a key where the certificate should be")
    for name, value in (("POP3D_TLS_TIMEOUT", "0"),
                        ("POP3D_TLS_TIMEOUT", "301"),
                        ("POP3D_TLS_TIMEOUT", "30s"),
                        ("POP3D_IDLE_TIMEOUT", "0"),
                        ("POP3D_TLS_PROTOCOLS", "tlsv1.4"),
                        ("POP3D_TLS_CIPHERS", "NO-SUCH-CIPHER"),
                        ("POP3D_TLS_ECDHECURVES", "no-such-curve"),
                        ("POP3D_TLS_DHEPARAMS", "huge"),
                        ("POP3D_TLS_KEYPAIRS", "just-a-file"),
                        ("POP3D_TLS_KEYPAIRS", "a:b:c"),
                        ("POP3D_TLS_KEYPAIRS", "/nonexistent/c:/x/k"),
                        ("POP3D_TLS_CERT", "x" * 5000),
                        ("POP3D_CHROOT", "/tmp/relative\x01")):
        reason, _ = config_error(env={name: value},
                                 what="%s=%.20r" % (name, value))
        check(name in reason or "/nonexistent" in reason,
              "the reason names %s: %r" % (name, reason))
    pairs = " ".join("%s:%s" % (cert(SNI_NAME), key(SNI_NAME))
                     for _ in range(17))
    reason, _ = config_error(env={"POP3D_TLS_KEYPAIRS": pairs},
                             what="17 SNI keypairs")
    check("more than 16" in reason, "at most 16: %r" % reason)


@test
def sixteen_sni_keypairs_are_fine():
    pairs = "\n\t".join("%s:%s" % (cert(SNI_NAME), key(SNI_NAME))
                        for _ in range(16))
    with TempDir() as tmp, Relay(tmp, env={"POP3D_TLS_KEYPAIRS": pairs}) as r:
        check_eq(r.word(), "ready", "16 keypairs, separated by any blanks")
        s = r.tls(server_hostname=SNI_NAME)
        check(s.getpeercert(binary_form=True) == pem_of(cert(SNI_NAME)),
              "and SNI still picks the right one")


@test
def settings_are_used():
    with TempDir() as tmp, Relay(tmp, env={
            "POP3D_TLS_PROTOCOLS": "tlsv1.2",
            "POP3D_TLS_CIPHERS": "ECDHE-ECDSA-AES128-GCM-SHA256",
            "POP3D_TLS_ECDHECURVES": "secp384r1",
            "POP3D_TLS_DHEPARAMS": "auto"}) as r:
        check_eq(r.word(), "ready", "every setting accepted")
        s = r.tls()
        check_eq((s.version(), s.cipher()[0]),
                 ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
                 "the protocol and cipher asked for are used")
        f = facts(r.fields(3)[1:])
        check_eq(f.get("SSL_PROTOCOL"), "TLSv1.2", "and reported")
    with TempDir() as tmp, Relay(tmp, env={
            "POP3D_TLS_ECDHECURVES": "secp384r1"}) as r:
        r.word()
        ctx = client_ctx()
        ctx.set_ecdh_curve("prime256v1")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            r.tls(ctx=ctx)
            ok = True
        except (ssl.SSLError, OSError):
            ok = False
        word, why = (r.fields(2) + [None, None])[:2]
        check(not ok and word == "fail" and "shared" in (why or ""),
              "a client without the configured curve is refused: %r" % why)


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return f.read()


@test
def the_relay_drops_privileges():
    with TempDir() as tmp, Relay(tmp) as r:
        check_eq(r.word(), "ready", "ready")
        pid = r.proc.pid
        st = proc_status(pid)
        uids = re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()
        check(re.search(r"^NoNewPrivs:\s+1$", st, re.M) is not None,
              "no_new_privs is set")
        check(re.search(r"^CapEff:\s+0+$", st, re.M) is not None,
              "no capabilities")
        with open("/proc/%d/limits" % pid) as f:
            limits = f.read()
        check(re.search(r"Max open files\s+8\s+8", limits) is not None,
              "few descriptors")
        check(re.search(r"Max core file size\s+0\s+0", limits) is not None,
              "no core file (the key is in memory)")
        if ROOT:
            u = drop_user()
            check_eq(uids, [str(u.pw_uid)] * 4,
                     "as root, the relay becomes %s after loading the key"
                     % u.pw_name)
            check_eq(os.readlink("/proc/%d/root" % pid),
                     os.path.join(tmp.path, "empty"),
                     "chrooted into the empty directory")
            check_eq(os.stat("/proc/%d/status" % pid).st_uid, 0,
                     "not dumpable: the pre-login process's uid cannot"
                     " ptrace it or read its memory")
        else:
            check_eq(uids[0], str(os.getuid()), "not root: keeps its uid")
            check("not root" in r.full_log(),
                  "and the log says what was not done")
        s = r.tls()
        r.word()
        r.rest()
        if ROOT:
            check_eq(sorted(os.listdir("/proc/%d/fd" % pid)),
                     ["0", "1", "2", "3"],
                     "after the handshake: fds 0-3 only (status pipe closed)")
        else:
            try:
                os.listdir("/proc/%d/fd" % pid)
                hidden = False
            except PermissionError:
                hidden = True
            check(hidden, "not dumpable: its own uid cannot look inside")
        s.sendall(b"x")
        check_eq(recv_exactly(r.plain, 1), b"x", "and it relays confined")


@test
def without_root_only_by_consent():
    if not ROOT:
        skip("not root: cannot start the relay as another user")
        return
    nobody = pwd.getpwnam("nobody")
    with TempDir() as tmp:
        mine = os.path.join(tmp.path, "mine")
        os.makedirs(mine)
        for f in ("localhost.pem", "localhost.key"):
            shutil.copy(os.path.join(CERTS.path, f), mine)
            os.chown(os.path.join(mine, f), nobody.pw_uid, nobody.pw_gid)
        env = {"POP3D_TLS_CERT": os.path.join(mine, "localhost.pem"),
               "POP3D_TLS_KEY": os.path.join(mine, "localhost.key")}
        with Relay(tmp, env=env, unset=("POP3D_TLS_KEYPAIRS",),
                   become=nobody) as r:
            f = r.fields(2)
            check(f[:1] == ["error"] and "POP3D_TLS_NONROOT" in "".join(f),
                  "started as a mail uid: refused, the key would be"
                  " readable by the pre-login process: %r" % f)
            check_eq(r.proc.wait(timeout=15), 111, "exit 111")
        with Relay(tmp, env=dict(env, POP3D_TLS_NONROOT="1"),
                   unset=("POP3D_TLS_KEYPAIRS",), become=nobody) as r:
            check_eq(r.word(), "ready", "POP3D_TLS_NONROOT=1: it runs")


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@test
def an_idle_relay_does_not_spin():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        s = r.tls()
        r.rest()
        s.sendall(b"hello")
        recv_exactly(r.plain, 5)
        before = cpu_ticks(r.proc.pid)
        time.sleep(1.5)
        check(cpu_ticks(r.proc.pid) - before <= 2,
              "idle both ways, it sleeps in poll")


class TLSClient:
    """A TLS client over MemoryBIOs on one thread: it may send a
    close_notify and go on reading, and send and receive at once (an
    ssl.SSLSocket can do neither; OpenSSL forbids two threads on one
    connection)."""

    def __init__(self, sock, server_hostname=None):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = client_ctx().wrap_bio(self.inc, self.out,
                                         server_hostname=server_hostname)
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._pump()
        self._flush()

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _pump(self):
        self._flush()
        d = self.sock.recv(65536)
        if d:
            self.inc.write(d)
        else:
            self.inc.write_eof()

    def send(self, data):
        self.obj.write(data)
        self._flush()

    def close_notify(self):
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self._flush()

    def recv(self):
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                self._pump()
            except ssl.SSLZeroReturnError:
                return b""

    def exchange(self, up, down_len, timeout=60):
        """Sends up while receiving down_len octets, on one thread."""
        got = bytearray()
        pos = 0
        pending = b""
        self.sock.setblocking(False)
        try:
            while len(got) < down_len or pos < len(up) or pending:
                if pos < len(up) and len(pending) < (1 << 20):
                    pos += self.obj.write(up[pos:pos + 16384])
                while True:
                    try:
                        d = self.obj.read(65536)
                    except ssl.SSLWantReadError:
                        break
                    if not d:
                        return bytes(got)
                    got += d
                pending += self.out.read()
                if len(got) >= down_len and pos >= len(up) and not pending:
                    break
                rd, wr, _ = select.select([self.sock],
                                          [self.sock] if pending else [],
                                          [], timeout)
                if not rd and not wr:
                    raise TimeoutError("exchange stalled")
                if wr:
                    pending = pending[self.sock.send(pending):]
                if rd:
                    d = self.sock.recv(1 << 20)
                    if not d:
                        self.inc.write_eof()
                        break
                    self.inc.write(d)
        finally:
            self.sock.setblocking(True)
        return bytes(got)


@test
def a_client_close_notify_half_closes_the_chain():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        r.client.settimeout(30)
        t = TLSClient(r.client)
        check_eq(r.word(), "ok", "handshake")
        t.send(b"QUIT\r\n")
        t.close_notify()
        check_eq(recv_exactly(r.plain, 6), b"QUIT\r\n",
                 "what came before the close_notify reaches the chain")
        check_eq(r.plain.recv(10), b"", "then the chain sees EOF")
        before = cpu_ticks(r.proc.pid)
        time.sleep(1)
        check(cpu_ticks(r.proc.pid) - before <= 2,
              "half-closed and idle, it does not spin")
        r.plain.sendall(b"+OK bye\r\n")
        got = b""
        while not got.endswith(b"\r\n"):
            d = t.recv()
            if not d:
                break
            got += d
        check_eq(got, b"+OK bye\r\n",
                 "the other way goes on after the client's close_notify")
        r.plain.close()
        check_eq(t.recv(), b"", "the chain's end: close_notify to the client")
        r.client.close()
        check_eq(r.wait(), 0, "exit 0")
        check_eq(r.log(), "", "nothing logged for a clean end")


@test
def a_client_eof_without_close_notify():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        r.client.settimeout(30)
        t = TLSClient(r.client)
        t.send(b"STAT\r\n")
        r.client.shutdown(socket.SHUT_WR)
        check_eq(recv_exactly(r.plain, 6), b"STAT\r\n", "the data arrives")
        check_eq(r.plain.recv(10), b"", "then EOF on the plaintext side")
        # OpenSSL 3 has ended the TLS session (it answered the FIN with an
        # alert): the relay need not wait for the chain.
        check_eq(r.wait(), 0, "exit 0")
        check_eq(r.log(), "", "a client closing so is no error")


@test
def a_client_reset_ends_the_chain():
    with TempDir() as tmp, Relay(tmp) as r:
        r.word()
        s = r.tls()
        s.sendall(b"LIST\r\n")
        recv_exactly(r.plain, 6)
        raw = socket.socket(fileno=os.dup(s.fileno()))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
        s.close()
        raw.close()     # RST
        try:
            r.plain.sendall(b"+OK 2 messages\r\n" * 1000)
            got = r.plain.recv(10)
        except (BrokenPipeError, ConnectionResetError):
            got = b""
        check_eq(got, b"", "the relay closes the plaintext side")
        check_eq(r.wait(), 0, "and exits 0")
        check(len(r.log().splitlines()) <= 1, "with at most one log line: %r"
              % r.log())


@test
def a_client_that_stops_reading_is_dropped_after_the_chain_ends():
    with TempDir() as tmp, Relay(tmp, env={"POP3D_IDLE_TIMEOUT": "2"}) as r:
        r.word()
        s = r.tls()
        r.rest()

        def fill():
            try:
                r.plain.sendall(b"x" * (16 << 20))
            except OSError:
                pass

        t = threading.Thread(target=fill)
        t.start()
        time.sleep(1)
        # The chain ends with its last data still queued for the relay
        # (shutdown first: close does not end a send in another thread).
        r.plain.shutdown(socket.SHUT_RDWR)
        r.plain.close()
        t0 = time.time()
        code = r.wait(timeout=30)
        check_eq(code, 0, "the relay ends (exit 0)")
        check(time.time() - t0 < 10, "after POP3D_IDLE_TIMEOUT without"
              " progress (%.1f s)" % (time.time() - t0))
        check("took nothing" in r.log(), "and says why: %r" % r.log())
        t.join(10)


@test
def usage():
    with TempDir() as tmp:
        for argv in ([RELAY, "-x"], [RELAY, "extra"]):
            with Relay(tmp, argv=argv) as r:
                check_eq(r.wait(), 2, "%s: exit 2" % " ".join(argv[1:]))
                check("usage" in r.log(), "with a usage line")
                check_eq(r.word(timeout=1), None, "and no status")
        e = base_env(tmp)
        p = subprocess.run([RELAY], env=e, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        check_eq(p.returncode, 2, "no sockets on fd 0 and 3: exit 2")


@test
def only_the_relay_links_libtls():
    check(carries_tls(RELAY), "pop3d-tls links libtls")
    for prog in ("pop3d", "pop3d-auth", "pop3d-maildrop"):
        path = os.path.join(BUILD, prog)
        if not os.path.exists(path):
            continue
        check(not carries_tls(path),
              "%s links neither libtls nor libssl" % prog)


@test
def the_cert_script_makes_private_keys():
    with TempDir() as tmp:
        d = os.path.join(tmp.path, "certs")
        p = subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                            d, "pop.example.net"], capture_output=True,
                           text=True)
        check_eq(p.returncode, 0, "tls-cert.sh runs")
        check_eq(sorted(os.listdir(d)), ["localhost.key", "localhost.pem",
                                         "pop.example.net.key",
                                         "pop.example.net.pem"],
                 "a default pair and one per name")
        check_eq(oct(os.stat(os.path.join(d, "localhost.key")).st_mode
                     & 0o777), "0o600", "keys are mode 0600")
        check("POP3D_TLS_KEYPAIRS=" in p.stdout, "it prints the settings")
        bad = subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                              d, "../evil"], capture_output=True)
        check(bad.returncode != 0, "a name that is not a host name is refused")


if __name__ == "__main__":
    run_all(sys.argv[2:])

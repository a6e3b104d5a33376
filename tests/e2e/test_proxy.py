"""The PROXY protocol end to end (issue 20): the front behind a balancer
that a rule trusts (POP3D_PROXY=1) takes the client's address from the
v1 or v2 header, before the greeting and before TLS, and that address is
the peer for the rules, the penalty box, the connection limit, the
chain's environment and the log; a header from anyone else is garbage;
a bad, oversized or late header closes the connection; LOCAL and UNKNOWN
are health checks, greeted and never logged in.  Last, a real HAProxy
with send-proxy-v2 in front, when it is installed."""

import os
import poplib
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, Raw, Spawner, TempDir, check, check_eq,
                     run_all, skip, test)
from test_policy import DENIED, FULL, HAMMERED, Site as PolicySite

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
POP3D = os.path.join(BUILD, "pop3d")
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
TRUST = "127.0.0.1:allow,POP3D_PROXY=1\n"

# The auth stage's environment, written down, then pop3d-auth as usual.
ENVDUMP = """#!/usr/bin/env python3
import os, sys
with open(sys.argv[1], "a") as f:
    f.write(" ".join("%s=%s" % (k, os.environ.get(k, "-")) for k in
            ("TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT",
             "TCPPROXYIP", "TCPREMOTEHOST", "POP3D_GREETING", "REMOTE_ADDR",
             "REMOTE_PORT", "REMOTE_HOST", "TCP6REMOTEIP", "TCP6REMOTEPORT",
             "TCP6REMOTEHOST", "TCP6LOCALIP", "TCP6LOCALPORT",
             "TCP6LOCALHOST")) + "\\n")
os.execv(sys.argv[2], sys.argv[2:])
"""


class Site(PolicySite):
    """test_policy's site (users alice and bob, rules, a state directory)
    with certificates and an auth stage that writes its environment."""

    def __init__(self, tmp):
        super().__init__(tmp)
        p = tmp.path
        self.certs = os.path.join(p, "certs")
        subprocess.run(["sh", os.path.join(TOP, "tests", "tls-cert.sh"),
                        self.certs, "localhost"], check=True,
                       capture_output=True)
        self.envdump = os.path.join(p, "envdump.py")
        with open(self.envdump, "w") as f:
            f.write(ENVDUMP)
        os.chmod(self.envdump, 0o755)
        self.envlog = os.path.join(p, "env.log")

    def serve(self, implicit=False, host="127.0.0.1", envdump=True, **kw):
        """envdump: the auth stage's environment written down, by a
        wrapper before pop3d-auth (a session is then two processes)."""
        kw.setdefault("POP3D_CLEARTEXT", "1")
        kw.setdefault("POP3D_TLS_CERT", os.path.join(self.certs,
                                                     "localhost.pem"))
        kw.setdefault("POP3D_TLS_KEY", os.path.join(self.certs,
                                                    "localhost.key"))
        argv = [POP3D] + (["-t"] if implicit else []) + [
            "mail.example.org"] + ([self.envdump, self.envlog] if envdump
                                   else []) + [
            os.path.join(BUILD, "pop3d-auth"),
            os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        return Spawner(argv, env=self.env(**kw), cwd=self.tmp.path,
                       as_root=True, host=host)

    def envs(self):
        try:
            with open(self.envlog) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def context(self):
        return ssl.create_default_context(
            cafile=os.path.join(self.certs, "localhost.pem"))


def v1(src, dst="198.51.100.1", sport=40000, dport=110):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def v2(src=None, dst=None, sport=40000, dport=110, cmd=1, tlvs=b""):
    """A version 2 header; no src: LOCAL (cmd 0) or UNSPEC."""
    if src is None:
        body, fam = b"", 0
    elif ":" in src:
        body = (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, dst or "2001:db8::1") +
                struct.pack("!HH", sport, dport))
        fam = 0x21
    else:
        body = (socket.inet_aton(src) + socket.inet_aton(dst or
                                                         "198.51.100.1") +
                struct.pack("!HH", sport, dport))
        fam = 0x11
    body += tlvs
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack("!H", len(body)) + body


def session(srv, header, user=b"alice", pw=b"alice-pw", then=b""):
    """Header (and then, in the same segment), a login: the replies."""
    r = Raw(srv.connect())
    r.send(header + then)
    out = [r.line()]
    if then:
        out.append(r.line())
    if out[0].startswith(b"+OK"):
        out.append(r.cmd(b"USER " + user))
        out.append(r.cmd(b"PASS " + pw))
        if out[-1].startswith(b"+OK"):
            out.append(r.cmd(b"QUIT"))
    r.close()
    return out


def settle(srv):
    srv.wait_all()
    return srv.log()


@test
def v1_and_v2_name_the_client_everywhere():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve() as srv:
            got = session(srv, v1("192.0.2.10", "198.51.100.1", 40001, 110))
            check(got[0].startswith(b"+OK") and
                  got[-2].startswith(b"+OK maildrop has 2"),
                  "v1: greeted and logged in: %r" % got)
            got = session(srv, v2("2001:db8::5", "2001:db8::1", 40002, 110))
            check(got[-2].startswith(b"+OK maildrop has 2"),
                  "v2 (IPv6): logged in: %r" % got)
            got = session(srv, v2("::ffff:192.0.2.12", "::1", 40003, 995,
                                  tlvs=b"\x02\x00\x04mail\x04\x00\x02xx"))
            check(got[-2].startswith(b"+OK maildrop has 2"),
                  "v2 with TLVs, a mapped address: logged in: %r" % got)
            # The header and a command in one segment: nothing swallowed.
            got = session(srv, v1("192.0.2.13"), then=b"XYZZY\r\n")
            check_eq(got[1], b"-ERR unknown command",
                     "the first command after the header is read as one")
            log = settle(srv)
        envs = site.envs()
        check_eq(envs[0], "TCPREMOTEIP=192.0.2.10 TCPREMOTEPORT=40001 "
                 "TCPLOCALIP=198.51.100.1 TCPLOCALPORT=110 "
                 "TCPPROXYIP=127.0.0.1 TCPREMOTEHOST=- POP3D_GREETING=- "
                 "REMOTE_ADDR=192.0.2.10 REMOTE_PORT=40001 REMOTE_HOST=- "
                 "TCP6REMOTEIP=- TCP6REMOTEPORT=- TCP6REMOTEHOST=- "
                 "TCP6LOCALIP=- TCP6LOCALPORT=- TCP6LOCALHOST=-",
                 "v1: the auth stage sees the client, and the proxy apart")
        check(envs[1].startswith("TCPREMOTEIP=2001:db8::5 TCPREMOTEPORT="
                                 "40002 TCPLOCALIP=2001:db8::1 "),
              "v2: the client's IPv6 address: %r" % envs[1])
        check(envs[2].startswith("TCPREMOTEIP=192.0.2.12 "),
              "a mapped address is the IPv4 client: %r" % envs[2])
        check(re.search(r"pop3d\[\d+\]: proxy remote=192\.0\.2\.10 version=1"
                        r" kind=tcp port=40001 proxy=127\.0\.0\.1 session=",
                        log), "the header is logged, with the proxy")
        check(re.search(r"auth remote=192\.0\.2\.10 user=alice mech=USER "
                        r"result=ok status=0 proxy=127\.0\.0\.1 session=",
                        log), "the login names the client and the proxy")
        check(re.search(r"end remote=2001:db8::5 .*end=login "
                        r"proxy=127\.0\.0\.1 session=", log),
              "the end line names the client and the proxy")
        check(re.search(r"pop3d-maildrop\[\d+\]: .*proxy=127\.0\.0\.1 "
                        r"session=", log),
              "the later stages' lines name the proxy too")
        check(not [l for l in log.splitlines()
                   if re.search(r"remote=192\.0\.2\.", l) and
                   "proxy=127.0.0.1" not in l],
              "every line with the client names the proxy")


@test
def the_balancers_names_do_not_reach_the_chain():
    """What a spawner said of the balancer's connection under other names
    (REMOTE_*, ucspi-tcp6's TCP6*) is gone or names the client."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        spawner = dict(REMOTE_ADDR="127.0.0.1", REMOTE_PORT="5555",
                       REMOTE_HOST="balancer.example", TCP6REMOTEIP="::1",
                       TCP6REMOTEPORT="5555",
                       TCP6REMOTEHOST="balancer.example",
                       TCP6LOCALIP="::1", TCP6LOCALPORT="110",
                       TCP6LOCALHOST="pop.example")
        with site.serve(**spawner) as srv:
            got = session(srv, v1("192.0.2.14", sport=40014))
            check(got[-2].startswith(b"+OK maildrop"), "logged in: %r" % got)
            settle(srv)
        env = (site.envs() or [""])[-1]
        check("REMOTE_ADDR=192.0.2.14 REMOTE_PORT=40014 REMOTE_HOST=- "
              "TCP6REMOTEIP=- TCP6REMOTEPORT=- TCP6REMOTEHOST=- "
              "TCP6LOCALIP=- TCP6LOCALPORT=- TCP6LOCALHOST=-" in env and
              "balancer" not in env and "5555" not in env,
              "the chain sees the client only: %r" % env)


@test
def rules_apply_to_the_client_not_the_proxy():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.1:allow,POP3D_PROXY=1,POP3D_GREETING=proxy\n"
                     "192.0.2.66:deny\n"
                     "192.0.2.67:allow,POP3D_GREETING=client\n")
        with site.serve() as srv:
            check_eq(session(srv, v1("192.0.2.66"))[0], DENIED,
                     "a client denied by its rule is denied behind the "
                     "proxy")
            check_eq(session(srv, v1("192.0.2.67"))[0], b"+OK client",
                     "the client's rule's settings apply")
            check_eq(session(srv, v1("192.0.2.68"))[0],
                     b"+OK POP3 server ready",
                     "nothing of the proxy's rule sticks to a client")
            settle(srv)
        check(all("POP3D_GREETING=proxy" not in e for e in site.envs()),
              "nor reaches the chain: %r" % site.envs())


@test
def penalty_box_and_limit_count_the_client():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve(POP3D_PENALTY_FAILURES="5") as srv:
            for i in range(5):
                got = session(srv, v1("192.0.2.20"), pw=b"wrong%d" % i)
                check(got[-1].startswith(b"-ERR"), "failure %d: %r" %
                      (i + 1, got[-1]))
            check_eq(session(srv, v1("192.0.2.20"))[0], HAMMERED,
                     "5 failures from one header address block it")
            got = session(srv, v1("192.0.2.21"))
            check(got[-2].startswith(b"+OK maildrop"),
                  "another client through the same proxy logs in: %r" % got)
            out = site.cli("penalty", "list").stdout
            check("192.0.2.20" in out and "127.0.0.1" not in out,
                  "the box holds the client, not the proxy: %r" % out)
        with site.serve(POP3D_MAX_PER_ADDRESS="1") as srv:
            held = Raw(srv.connect())
            held.send(v1("192.0.2.30"))
            check(held.line().startswith(b"+OK"), "one from 192.0.2.30")
            check_eq(session(srv, v1("192.0.2.30"))[0], FULL,
                     "a second from the same client is over the limit")
            check(session(srv, v1("192.0.2.31"))[0].startswith(b"+OK"),
                  "one from another client through the proxy is not")
            held.cmd(b"QUIT")
            held.close()
            log = settle(srv)
        check(re.search(r"limit remote=192\.0\.2\.30 max=1 proxy=127\.0\.0\.1"
                        , log), "the limit's line names the client")


@test
def a_header_from_an_untrusted_peer_is_garbage():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.1:allow\n")
        with site.serve() as srv:
            r = Raw(srv.connect())
            check(r.line().startswith(b"+OK"),
                  "an untrusted peer is greeted at once")
            check_eq(r.cmd(v1("192.0.2.40")[:-2]), b"-ERR unknown command",
                     "its v1 header is an unknown command")
            check_eq(r.cmd(b"USER alice"), b"+OK send PASS", "USER")
            check(r.cmd(b"PASS alice-pw").startswith(b"+OK maildrop"),
                  "the login is the peer's own")
            r.cmd(b"QUIT")
            r.close()
            r = Raw(srv.connect())
            r.line()
            r.send(v2("192.0.2.41"))
            replies = [r.line() for _ in range(4)]
            check_eq(replies[3], b"+OK bye",
                     "a v2 header is noise whose QUIT ends the session")
            check(r.closed(), "closed")
            r.close()
            log = settle(srv)
        check(re.search(r"preauth-log remote=127\.0\.0\.1 text=\"proxy-"
                        r"untrusted: a PROXY header from a peer that is not"
                        r" a trusted proxy", log),
              "the v1 header is logged with the peer's own address")
        check("192.0.2.4" not in log and "proxy=" not in log,
              "the header's address is never used")
        check(all(e.startswith("TCPREMOTEIP=127.0.0.1 ") and
                  "TCPPROXYIP=-" in e for e in site.envs()),
              "the chain sees the peer itself: %r" % site.envs())


@test
def a_second_header_is_said_to_be_in_the_dialogue_once():
    """A PROXY line after a trusted proxy's header (a second proxy, a
    client's trick) is no header: one line says so, once a connection,
    and says nothing of an untrusted peer."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve() as srv:
            r = Raw(srv.connect())
            r.send(v1("192.0.2.42"))
            check(r.line().startswith(b"+OK"), "greeted")
            for _ in range(3):
                check_eq(r.cmd(v1("192.0.2.43")[:-2]),
                         b"-ERR unknown command", "a second header: noise")
            r.cmd(b"QUIT")
            r.close()
            log = settle(srv)
        found = re.findall(r"preauth-log remote=192\.0\.2\.42 text=\"proxy-"
                           r"in-dialogue: a PROXY line in the dialogue: not "
                           r"used\"", log)
        check(len(found) == 1 and "not a trusted proxy" not in log,
              "said once, as what it is: %r" % log)
        check("192.0.2.43" not in log, "its address is never used")
        site.compile("127.0.0.1:allow\n")
        with site.serve() as srv:
            r = Raw(srv.connect())
            r.line()
            for _ in range(3):
                r.cmd(v1("192.0.2.44")[:-2])
            r.cmd(b"QUIT")
            r.close()
            log = settle(srv)
        check(log.count("proxy-untrusted") == 1,
              "an untrusted peer's headers: one line too: %r" % log)


def refused(srv, data, close=False, wait=10):
    """Sends data; whether the server then closes without a word."""
    r = Raw(srv.connect())
    if data:
        r.send(data)
    if close:
        r.s.shutdown(socket.SHUT_WR)
    shut = r.closed(wait)
    r.close()
    return shut and r.buf == b""


@test
def bad_late_or_oversized_headers_close_the_connection():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        cases = [
            (b"USER alice\r\n", "not a PROXY header",
             "a command, no header"),
            (b"PROXY TCP4 192.0.2.1\r\n", "v1: too few fields",
             "a v1 header with fields missing"),
            (b"PROXY TCP4 192.0.2.1 198.51.100.1 1 65536\r\n",
             "v1: bad destination port", "a port out of range"),
            (b"PROXY UNKNOWN " + b"x" * 93 + b"\r\n",
             "v1: line over 107 octets", "a 109-octet v1 line"),
            (b"PROXY TCP4 " + b"1" * 200, "v1: line over 107 octets",
             "200 octets and no line end"),
            (SIG + b"\x21\x11\x04\x01" + b"\0" * 1025,
             "v2: length over the maximum", "a v2 body of 1025 octets"),
            (SIG + b"\x21\x12\x00\x0c" + b"\0" * 12,
             "v2: family not TCP over IPv4 or IPv6", "v2 UDP"),
            (SIG + b"\x23\x11\x00\x0c" + b"\0" * 12,
             "v2: command not LOCAL or PROXY", "v2 command 3"),
            (SIG + b"\x21\x11\x00\x0e" + b"\0" * 14, "v2: cut TLV",
             "a cut TLV"),
        ]
        with site.serve(POP3D_PROXY_TIMEOUT="1") as srv:
            for data, why, what in cases:
                check(refused(srv, data), "%s: closed, no greeting" % what)
            t = time.time()
            check(refused(srv, b"", wait=5), "no header: closed")
            check(0.8 < time.time() - t < 4,
                  "after POP3D_PROXY_TIMEOUT (1 s): %.1f s" %
                  (time.time() - t))
            check(refused(srv, b"PROXY TCP4 192.0.2.1 ", wait=5),
                  "half a header: closed at the deadline")
            check(refused(srv, b"PROXY TC", close=True),
                  "a proxy that hangs up mid-header: closed")
            log = settle(srv)
        for data, why, what in cases:
            check(re.search(r"proxy-error remote=127\.0\.0\.1 error=\"?%s"
                            % re.escape(why), log),
                  "%s: logged as %r" % (what, why))
        check(log.count("error=\"no header in time\"") == 2,
              "the late ones are logged as late")
        check(log.count("end=proxy-error") == len(cases) + 3,
              "every one ends as proxy-error")
        check("192.0.2.1" not in log.replace("remote=127.0.0.1", ""),
              "no refused header's address is used")


@test
def local_and_unknown_are_health_checks():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve(POP3D_APOP="1", POP3D_CRAM_MD5="1") as srv:
            for header, what in ((v2(cmd=0), "v2 LOCAL"),
                                 (v2(), "v2 PROXY UNSPEC"),
                                 (b"PROXY UNKNOWN\r\n", "v1 UNKNOWN"),
                                 (b"PROXY UNKNOWN 192.0.2.9 1.2.3.4 1 2\r\n",
                                  "v1 UNKNOWN with addresses")):
                r = Raw(srv.connect())
                r.send(header)
                check_eq(r.line(), b"+OK POP3 server ready",
                         "%s: greeted, without an APOP timestamp" % what)
                r.send(b"CAPA\r\n")
                r.line()
                capa = r.multiline()
                check(b"USER" not in capa and b"SASL" not in capa,
                      "%s: CAPA offers no login: %r" % (what, capa))
                check(r.cmd(b"USER alice").startswith(b"-ERR"),
                      "%s: USER refused" % what)
                check(r.cmd(b"PASS alice-pw").startswith(b"-ERR"),
                      "%s: PASS refused" % what)
                check(r.cmd(b"APOP alice " + b"0" * 32).startswith(b"-ERR"),
                      "%s: APOP refused" % what)
                check(r.cmd(b"AUTH PLAIN AGFsaWNlAGFsaWNlLXB3").startswith(
                    b"-ERR"), "%s: AUTH refused" % what)
                check_eq(r.cmd(b"QUIT"), b"+OK bye", "%s: QUIT" % what)
                r.close()
            log = settle(srv)
        check(log.count("proxy remote=127.0.0.1 version=2 kind=local") == 1
              and log.count("kind=unknown") == 3,
              "health checks are logged with the proxy's address")
        check(" auth " not in log and site.envs() == [],
              "no login was tried")


@test
def health_checks_neither_block_nor_fill_the_balancer():
    """A connection that cannot log in (LOCAL, UNKNOWN) counts and blocks
    nothing under the balancer's address: hostile input after UNKNOWN
    (HAProxy sends it for real clients on a UNIX socket too) must not
    block the next health check, nor idle ones fill its slots."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve(POP3D_MAX_PER_ADDRESS="1") as srv:
            r = Raw(srv.connect())
            r.send(b"PROXY UNKNOWN\r\n")
            check(r.line().startswith(b"+OK"), "UNKNOWN: greeted")
            r.send(b"X" * 600 + b"\r\n")
            try:
                r.line()
            except (EOFError, OSError):
                pass
            r.close()
            held = Raw(srv.connect())
            held.send(b"PROXY UNKNOWN\r\n")
            check(held.line().startswith(b"+OK"), "an idle UNKNOWN is held")
            r = Raw(srv.connect())
            r.send(v2(cmd=0))
            check_eq(r.line(), b"+OK POP3 server ready",
                     "a LOCAL check after hostile UNKNOWN input, beside an "
                     "idle one, is still greeted")
            r.cmd(b"QUIT")
            r.close()
            held.cmd(b"QUIT")
            held.close()
            log = settle(srv)
        check("blocked" not in log and "limit remote" not in log,
              "nothing blocked or limited: %r" % log[-600:])
        out = site.cli("penalty", "list").stdout
        check("127.0.0.1" not in out, "the balancer is not in the box: %r"
              % out)


@test
def stls_and_implicit_tls_after_the_header():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve(implicit=True) as srv:
            s = srv.connect()
            s.sendall(v2("192.0.2.50", sport=40050, dport=995))
            t = site.context().wrap_socket(s, server_hostname="localhost")
            r = Raw(t)
            check(r.line().startswith(b"+OK"), "-t: the handshake after the "
                  "header, then the greeting")
            r.cmd(b"USER alice")
            got = r.cmd(b"PASS alice-pw")
            check(got.startswith(b"+OK maildrop"), "-t: logged in: %r" % got)
            r.cmd(b"QUIT")
            r.close()
            log = settle(srv)
        if not site.envs():
            print("# " + log.replace("\n", "\n# "))
        check((site.envs() or [""])[-1].startswith("TCPREMOTEIP=192.0.2.50 "
                                         "TCPREMOTEPORT=40050"),
              "-t: the chain sees the client: %r" % site.envs())
        check(re.search(r"end remote=192\.0\.2\.50 tls=TLSv1\.3 .*"
                        r"proxy=127\.0\.0\.1", log),
              "-t: the end line names the client and the proxy")
        with site.serve() as srv:
            s = srv.connect()
            s.sendall(v1("192.0.2.51", sport=40051))
            r = Raw(s)
            check(r.line().startswith(b"+OK"), "STLS: greeted")
            check(r.cmd(b"STLS").startswith(b"+OK"), "STLS: +OK")
            r = Raw(site.context().wrap_socket(s,
                                               server_hostname="localhost"))
            r.cmd(b"USER alice")
            check(r.cmd(b"PASS alice-pw").startswith(b"+OK maildrop"),
                  "STLS: logged in")
            r.cmd(b"QUIT")
            r.close()
            log = settle(srv)
        check((site.envs() or [""])[-1].startswith("TCPREMOTEIP=192.0.2.51 "),
              "STLS: the chain sees the client: %r" % (site.envs() or [""])[-1])
        check(re.search(r"end remote=192\.0\.2\.51 tls=TLSv1\.3 ", log),
              "STLS: the end line names the client")


@test
def a_spawners_tcpproxyip_is_in_no_line():
    """Only the front says a proxy was there, after a header: a
    TCPPROXYIP from the spawner is in no log line, not even the first
    ones (a usage error, a bad host name)."""
    with TempDir() as tmp:
        site = Site(tmp)
        env = site.env(TCPPROXYIP="10.9.9.9")
        env["PATH"] = "/usr/bin:/bin"
        for argv in (["bad_host!", "x"], ["mail.example.org"]):
            p = subprocess.run([POP3D] + argv, env=env, input=b"",
                               capture_output=True, timeout=30)
            check(p.stderr and b"10.9.9.9" not in p.stderr,
                  "%s: %r" % (argv, p.stderr))


def unix_session(site, header, lines, **env):
    """pop3d on a UNIX socket pair, as behind a local proxy, trusted by
    the spawner's POP3D_PROXY=1: the replies after the header, the log."""
    a, b = socket.socketpair()
    full = site.env(POP3D_PROXY="1", POP3D_CLEARTEXT="1", **env)
    full["PATH"] = "/usr/bin:/bin"
    logf = os.path.join(site.tmp.path, "unix.log")
    with open(logf, "wb") as log:
        p = subprocess.Popen([POP3D, "mail.example.org", site.envdump,
                              site.envlog, os.path.join(BUILD, "pop3d-auth"),
                              os.path.join(BUILD, "pop3d-maildrop"),
                              "Maildir"], stdin=b, stdout=b, stderr=log,
                             env=full, cwd=site.tmp.path, close_fds=True)
    b.close()
    a.settimeout(30)
    r = Raw(a)
    r.send(header)
    replies = []
    try:
        replies.append(r.line())
        for line in lines:
            replies.append(r.cmd(line))
    except (EOFError, OSError):
        pass
    r.close()
    p.wait(30)
    with open(logf) as f:
        return replies, f.read()


@test
def a_proxy_on_a_unix_socket():
    """Behind a local proxy on a UNIX socket the peer has no address: the
    header gives the client one, and the penalty box and the connection
    limit work again; a health check needs none."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("")
        replies, log = unix_session(site, v1("192.0.2.90"),
                                    [b"USER alice", b"PASS alice-pw",
                                     b"QUIT"], POP3D_MAX_PER_ADDRESS="2")
        check(len(replies) == 4 and replies[2].startswith(b"+OK maildrop"),
              "the client named by the header logs in: %r" % replies)
        check(re.search(r"auth remote=192\.0\.2\.90 user=alice .*"
                        r"proxy=unknown session=", log) and
              "unknown-peer" not in log,
              "it is the peer, not an unknown one, behind proxy=unknown")
        check(site.envs()[-1:] and site.envs()[-1].startswith(
            "TCPREMOTEIP=192.0.2.90 ") and "TCPPROXYIP=unknown" in
              site.envs()[-1], "the chain sees the client")
        replies, log = unix_session(site, v2(cmd=0), [b"QUIT"])
        check_eq(replies, [b"+OK POP3 server ready", b"+OK bye"],
                 "a health check is greeted though no address is known")
        check("kind=local" in log and "unknown-peer" not in log,
              "logged as such, with no penalty box or limit to skip: %r"
              % log[-300:])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@test
def haproxy_send_proxy_v2_in_front():
    haproxy = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if haproxy is None:
        skip("haproxy is not installed (tests/deps.sh test installs it)")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(TRUST)
        with site.serve() as srv:
            port = free_port()
            cfg = os.path.join(tmp.path, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write("global\n  maxconn 100\n"
                        "defaults\n  mode tcp\n  timeout connect 5s\n"
                        "  timeout client 30s\n  timeout server 30s\n"
                        "frontend pop3\n  bind 127.0.0.1:%d\n"
                        "  default_backend hosts\n"
                        "backend hosts\n"
                        "  option tcp-check\n"
                        "  tcp-check expect string +OK\n"
                        "  server h1 127.0.0.1:%d send-proxy-v2 check"
                        " check-send-proxy inter 300 fall 2\n"
                        % (port, srv.port))
            hp = subprocess.Popen([haproxy, "-f", cfg, "-db"],
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
            try:
                deadline = time.time() + 10
                while time.time() < deadline:
                    try:
                        socket.create_connection(("127.0.0.1", port),
                                                 timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.1)
                srv.connections += 1      # the probe above
                # Three health checks: a host failing them would be down.
                time.sleep(1.2)
                p = poplib.POP3("127.0.0.1", port, timeout=30)
                # poplib has no source address: the client is 127.0.0.1.
                p.user("alice")
                p.pass_("alice-pw")
                check_eq(p.stat()[0], 2, "poplib through HAProxy: STAT")
                check(p.retr(1)[1][0] == b"Subject: policy",
                      "poplib through HAProxy: RETR")
                p.quit()
                s = socket.create_connection(("127.0.0.1", port),
                                             source_address=("127.0.0.77", 0))
                srv.connections += 1
                r = Raw(s)
                check(r.line().startswith(b"+OK"),
                      "a client from 127.0.0.77 is greeted")
                r.cmd(b"USER alice")
                check(r.cmd(b"PASS alice-pw").startswith(b"+OK"),
                      "and logs in")
                r.cmd(b"QUIT")
                r.close()
            finally:
                hp.terminate()
                hp.wait(10)
            log = settle(srv)
        check(re.search(r"auth remote=127\.0\.0\.77 user=alice .*result=ok"
                        r" .*proxy=127\.0\.0\.1", log),
              "the log shows the client behind HAProxy")
        check((site.envs() or [""])[-1].startswith("TCPREMOTEIP=127.0.0.77 "),
              "the chain sees the client behind HAProxy")
        check(re.search(r"proxy remote=127\.0\.0\.1 version=2 kind=local",
                        log) and "proxy-error" not in log,
              "HAProxy's health checks come as LOCAL and are greeted")


if __name__ == "__main__":
    run_all(sys.argv[2:])

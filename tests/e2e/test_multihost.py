"""Several pop3d hosts behind HAProxy (issue 20): the balancer runs the
shipped deploy/haproxy.cfg (addresses and ports replaced, checks made
faster) with send-proxy-v2 and its health checks in front of three
"hosts", spawners on 127.0.0.2, .3 and .4, each with its own copy of
users.cdb and rules.cdb and all over one Maildir tree and one state
directory.  Real clients (poplib, curl, fetchmail, Python's ssl) from
their own 127.0.0.x addresses.  Skipped when haproxy is not installed."""

import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, Raw, Spawner, TempDir, check, check_eq, run_all, \
    skip, test
from test_policy import DENIED, HAMMERED
from test_proxy import Site as ProxySite

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
POP3D = os.path.join(BUILD, "pop3d")
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
IN_USE = b"-ERR [IN-USE]"


def haproxy_path():
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Farm:
    """Three hosts (a port 110 and a port 995 spawner each) and HAProxy."""

    def __init__(self, tmp, **env):
        self.site = ProxySite(tmp)
        self.tmp = tmp
        self.etc = []
        for i, _ in enumerate(HOSTS):
            etc = os.path.join(tmp.path, "host%d" % (i + 1))
            os.makedirs(etc)
            self.etc.append(etc)
        self.publish("127.0.0.1:allow,POP3D_PROXY=1\n")
        self.env = env
        self.plain, self.tls = [], []
        for i, host in enumerate(HOSTS):
            self.plain.append(self.host(i, host, False))
            self.tls.append(self.host(i, host, True))
        self.port, self.sport = free_port(), free_port()
        self.cfg = os.path.join(tmp.path, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(self.config())
        self.hp = subprocess.Popen([haproxy_path(), "-f", self.cfg, "-db"],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        self.wait_up()

    def publish(self, rules):
        """rules.cdb built once and copied to every host as an operator
        would (README): a copy beside it, then a rename over it."""
        self.site.compile(rules)
        for etc in self.etc:
            for name, src in (("rules.cdb", self.site.cdb),
                              ("users.cdb", os.path.join(self.site.etc,
                                                         "users.cdb"))):
                tmp = os.path.join(etc, "." + name + ".new")
                shutil.copyfile(src, tmp)
                os.rename(tmp, os.path.join(etc, name))

    def host(self, i, addr, implicit):
        env = self.site.env(POP3D_RULES=os.path.join(self.etc[i],
                                                     "rules.cdb"),
                            POP3D_USERS_CDB=os.path.join(self.etc[i],
                                                         "users.cdb"),
                            POP3D_GREETING="host%d" % (i + 1),
                            POP3D_CLEARTEXT="1",
                            POP3D_TLS_CERT=os.path.join(
                                self.site.certs, "localhost.pem"),
                            POP3D_TLS_KEY=os.path.join(
                                self.site.certs, "localhost.key"),
                            **self.env)
        argv = [POP3D] + (["-t"] if implicit else []) + [
            "mail.example.org", os.path.join(BUILD, "pop3d-auth"),
            os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        return Spawner(argv, env=env, cwd=self.site.tmp.path, as_root=True,
                       host=addr)

    def config(self):
        """deploy/haproxy.cfg with this farm's addresses and ports."""
        with open(os.path.join(TOP, "deploy", "haproxy.cfg")) as f:
            cfg = f.read()
        cfg = cfg.replace("\tlog /dev/log local0\n", "")
        cfg = cfg.replace("bind :110", "bind 127.0.0.1:%d" % self.port)
        cfg = cfg.replace("bind :995", "bind 127.0.0.1:%d" % self.sport)
        cfg = cfg.replace("inter 2s", "inter 300")
        for i, host in enumerate(HOSTS):
            cfg = cfg.replace("192.0.2.1%d:110" % (i + 1), "%s:%d" % (
                host, self.plain[i].port))
            cfg = cfg.replace("192.0.2.1%d:995" % (i + 1), "%s:%d"
                              % (host, self.tls[i].port))
        if any("192.0.2." in l for l in cfg.splitlines()
               if not l.startswith("#")):
            raise RuntimeError("deploy/haproxy.cfg: an address not replaced")
        return cfg

    def wait_up(self):
        """Until the balancer answers and every host passed a check, on
        port 110 and, over TLS, on port 995."""
        deadline = time.time() + 15
        while time.time() < deadline:
            if all("kind=local" in s.log() for s in self.plain) and all(
                    re.search(r"kind=local .*\n(.*\n)*.*end remote=127\."
                              r"0\.0\.1 tls=TLSv1\.\d ", s.log())
                    for s in self.tls):
                return
            time.sleep(0.1)
        raise RuntimeError("HAProxy's health checks never came")

    def connect(self, source, port=None):
        return socket.create_connection(("127.0.0.1", port or self.port),
                                        timeout=30,
                                        source_address=(source, 0))

    def hello(self, source):
        """The greeting a client from source gets, and the open Raw."""
        r = Raw(self.connect(source))
        return r.line(), r

    def login(self, source, user=b"alice", pw=b"alice-pw"):
        """(host's greeting, PASS reply), the session closed with QUIT."""
        first, r = self.hello(source)
        if not first.startswith(b"+OK"):
            r.close()
            return first, first
        r.cmd(b"USER " + user)
        reply = r.cmd(b"PASS " + pw)
        if reply.startswith(b"+OK"):
            r.cmd(b"QUIT")
        r.close()
        return first, reply

    def logs(self):
        return "".join(s.log() for s in self.plain + self.tls)

    def close(self):
        self.hp.terminate()
        try:
            self.hp.wait(10)
        except subprocess.TimeoutExpired:
            self.hp.kill()
            self.hp.wait()
        for s in self.plain + self.tls:
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def with_farm(fn):
    def run():
        if haproxy_path() is None:
            skip("haproxy is not installed (tests/deps.sh test installs it)")
            return
        with TempDir() as tmp:
            with Farm(tmp, POP3D_PENALTY_FAILURES="5") as farm:
                fn(farm)
    run.__name__ = fn.__name__
    return test(run)


@with_farm
def real_clients_through_the_balancer(farm):
    p = poplib.POP3("127.0.0.1", farm.port, timeout=30)
    check(p.getwelcome().startswith(b"+OK host"), "poplib: a host's greeting")
    p.user("alice")
    p.pass_("alice-pw")
    check_eq(p.stat()[0], 2, "poplib: STAT")
    check(p.retr(1)[1][0] == b"Subject: policy", "poplib: RETR")
    p.quit()
    out = subprocess.run(["curl", "-s", "--max-time", "30", "--interface",
                          "127.0.0.21", "-u", "alice:alice-pw",
                          "pop3://127.0.0.1:%d/1" % farm.port],
                         capture_output=True)
    check(out.returncode == 0 and b"Hello." in out.stdout,
          "curl: RETR through the balancer: %r" % out.stderr[-200:])
    if shutil.which("fetchmail"):
        rc = os.path.join(farm.tmp.path, "fetchmailrc")
        mbox = os.path.join(farm.tmp.path, "fetched")
        with open(rc, "w") as f:
            # sslproto '': no STLS with a certificate it would not trust.
            f.write("poll 127.0.0.1 service %d protocol pop3 auth password"
                    " user alice password alice-pw keep fetchall"
                    " sslproto '' mda \"cat >> %s\"\n" % (farm.port, mbox))
        os.chmod(rc, 0o600)
        out = subprocess.run(["fetchmail", "-f", rc, "--nosyslog",
                              "--idfile", rc + ".ids"],
                             capture_output=True, timeout=60,
                             env={"HOME": farm.tmp.path,
                                  "PATH": "/usr/bin:/bin"})
        check(out.returncode == 0 and os.path.exists(mbox) and
              open(mbox, "rb").read().count(b"Subject: policy") == 2,
              "fetchmail: both messages: %r" % out.stderr[-300:])
    ctx = farm.site.context()
    t = ctx.wrap_socket(farm.connect("127.0.0.22", farm.sport),
                        server_hostname="localhost")
    r = Raw(t)
    check(r.line().startswith(b"+OK host"), "port 995: TLS through the "
          "balancer, then a host's greeting")
    r.cmd(b"USER alice")
    check(r.cmd(b"PASS alice-pw").startswith(b"+OK maildrop"),
          "port 995: logged in")
    r.cmd(b"QUIT")
    r.close()
    for s in farm.plain + farm.tls:
        s.wait_all()
    log = farm.logs()
    check(re.search(r"auth remote=127\.0\.0\.21 user=alice .*result=ok .*"
                    r"proxy=127\.0\.0\.1", log),
          "the hosts log curl's real address")
    check(re.search(r"auth remote=127\.0\.0\.22 user=alice .*result=ok .*"
                    r"proxy=127\.0\.0\.1", log),
          "and the TLS client's")
    served = [s for s in farm.plain if "auth remote=" in s.log()]
    check(len(served) >= 2, "the logins were spread over %d hosts" %
          len(served))


@with_farm
def failures_on_any_host_block_the_address_on_all(farm):
    hosts = set()
    for i in range(5):
        first, reply = farm.login("127.0.0.60", pw=b"wrong%d" % i)
        hosts.add(first)
        # The fifth blocks the address, and says so.
        check(reply.startswith(b"-ERR [AUTH]" if i < 4 else
                               b"-ERR [LOGIN-DELAY]"),
              "failure %d on %r: %r" % (i + 1, first, reply))
    check(len(hosts) >= 2, "the failures were spread over hosts: %r" %
          sorted(hosts))
    for i in range(3):
        first, r = farm.hello("127.0.0.60")
        r.close()
        check_eq(first, HAMMERED, "connection %d from the blocked address"
                 % (i + 1))
    for s in farm.plain:
        s.wait_all()
    blocked = [s for s in farm.plain if "blocked remote=127.0.0.60" in
               s.log()]
    check(len(blocked) == 3, "every host refused it: %d" % len(blocked))
    first, reply = farm.login("127.0.0.61")
    check(reply.startswith(b"+OK maildrop"),
          "another address logs in meanwhile: %r" % reply)


@with_farm
def one_maildrop_one_session_across_hosts(farm):
    first, a = farm.hello("127.0.0.62")
    a.cmd(b"USER alice")
    check(a.cmd(b"PASS alice-pw").startswith(b"+OK maildrop"),
          "a session on %r" % first)
    second, b = farm.hello("127.0.0.63")
    check(second != first, "a second client lands on another host: %r"
          % second)
    b.cmd(b"USER alice")
    check(b.cmd(b"PASS alice-pw").startswith(IN_USE),
          "and is told the maildrop is in use")
    b.close()
    a.cmd(b"QUIT")
    a.close()


@with_farm
def a_stopped_host_is_taken_out(farm):
    check(farm.login("127.0.0.64")[1].startswith(b"+OK maildrop"),
          "all hosts up: a login")
    farm.plain[1].close()
    farm.tls[1].close()
    # fall 2 at inter 300 ms: out within a second.
    time.sleep(1.5)
    results = [farm.login("127.0.0.%d" % (65 + i)) for i in range(9)]
    check(all(r[1].startswith(b"+OK maildrop") for r in results),
          "after the checks, every client is served: %r" % results)
    check(all(r[0] != b"+OK host2" for r in results),
          "none by the stopped host")


@with_farm
def a_copied_rules_database_takes_effect_at_once(farm):
    check(farm.login("127.0.0.70")[1].startswith(b"+OK maildrop"),
          "127.0.0.70 logs in")
    farm.publish("127.0.0.1:allow,POP3D_PROXY=1\n127.0.0.70:deny\n")
    seen = set()
    for i in range(3):
        first, r = farm.hello("127.0.0.70")
        r.close()
        seen.add(first)
    check_eq(seen, {DENIED}, "on every host, the next connection obeys the"
             " new rules")
    check(farm.login("127.0.0.71")[1].startswith(b"+OK maildrop"),
          "others still log in")


if __name__ == "__main__":
    run_all(sys.argv[2:])

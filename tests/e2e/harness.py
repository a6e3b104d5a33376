"""The end-to-end tests' small framework: a loopback spawner that starts a
program per connection with the socket on fd 0/1 (as tcpserver does), Maildir
builders, and ok/not ok reporting that tests/run.sh adds up."""

import atexit
import os
import poplib
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
ROOT = os.geteuid() == 0
# pop3d-maildrop refuses root: as root, the programs run as nobody.
RUN_UID = pwd.getpwnam("nobody").pw_uid if ROOT else os.geteuid()
RUN_GID = pwd.getpwnam("nobody").pw_gid if ROOT else os.getegid()



def _preauth_user():
    """The pre-login processes' system user pop3d, made as an install
    makes it (tests/deps.sh, deploy/README) when missing: without it they
    run as nobody, the tests' mail user, and pop3d-auth rightly refuses
    that uid's logins."""
    try:
        pwd.getpwnam("pop3d")
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-d", "/nonexistent", "-s",
                        "/usr/sbin/nologin", "pop3d"], check=False)


if ROOT:
    _preauth_user()

_tests = []
_counts = {"passed": 0, "failed": 0}
_lock = threading.Lock()     # check() from side_by_side's threads


def test(fn):
    _tests.append(fn)
    return fn


def check(cond, what):
    """Records one assertion; returns cond so tests may branch on it."""
    with _lock:
        if cond:
            _counts["passed"] += 1
            print("ok - %s" % what)
        else:
            _counts["failed"] += 1
            print("not ok - %s" % what)
        sys.stdout.flush()
    return cond


def side_by_side(fn, cases, timeout=300):
    """fn(*case) for each case at once, each in a thread: for cases that
    mostly wait (a deadline, a settling chain) and share nothing.  An
    exception in one is raised here, after all have ended."""
    errors = []

    def run(case):
        try:
            fn(*case)
        except Exception as e:
            errors.append(e)
    threads = [threading.Thread(target=run, args=(c,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if any(t.is_alive() for t in threads):
        raise RuntimeError("a case still runs after %d s" % timeout)
    if errors:
        raise errors[0]


def skip(why):
    """A case that cannot run here, said but not counted as a pass."""
    print("# skipped: %s" % why)
    sys.stdout.flush()


def test_hooks(prog):
    """Whether prog reads the TEST_POP3D_* test hooks (lib/fsshare.c,
    front/handoff.c):
    built with make TEST_HOOKS=1, as make check builds; a plain make
    leaves them out.  Without them: under make check (TEST_HOOKS=1 in
    MAKEFLAGS) a failure, as the tests that need them would prove
    nothing; run by hand, a skip that says how to build them."""
    with open(prog, "rb") as f:
        data = f.read()
        if b"TEST_POP3D_MOUNTINFO" in data or \
                b"TEST_POP3D_SESSION_MAX" in data:
            return True
    if "TEST_HOOKS=1" in os.environ.get("MAKEFLAGS", "").split():
        check(False, "%s has no test hooks though make said TEST_HOOKS=1"
              % prog)
    else:
        skip("%s was built without the TEST_POP3D_* test hooks: build "
             "with make TEST_HOOKS=1 (make check does)" % prog)
    return False


def check_eq(got, want, what):
    ok = got == want
    check(ok, what)
    if not ok:
        print("#   got:  %r" % ((got if len(repr(got)) < 2000 else
                                  repr(got)[:2000]),))
        print("#   want: %r" % ((want if len(repr(want)) < 2000 else
                                  repr(want)[:2000]),))
    return ok


def run_all(only=None):
    for fn in _tests:
        # A test file may borrow another's helpers, not run its tests.
        if fn.__module__ != "__main__":
            continue
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
        except Exception:
            check(False, "%s raised" % fn.__name__)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (_counts["passed"], _counts["failed"]))
    sys.exit(1 if _counts["failed"] else 0)


class TempDir:
    """A directory the programs under test can use (owned by RUN_UID)."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pop3d-test.")
        os.chmod(self.path, 0o755)

    def give(self):
        """Hands everything below the directory to the user under test."""
        if ROOT:
            for top, dirs, files in os.walk(self.path):
                os.chown(top, RUN_UID, RUN_GID)
                for f in files:
                    os.lchown(os.path.join(top, f), RUN_UID, RUN_GID)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


def make_maildir(path, cur=(), new=()):
    """A Maildir with (name, bytes) messages in cur/ and new/."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for sub, msgs in (("cur", cur), ("new", new)):
        for name, data in msgs:
            with open(os.path.join(path, sub, name), "wb") as f:
                f.write(data)
    return path


def wire_form(data, top=None):
    """RFC 1939's wire form of a stored message, written independently of
    the C code: lines split at LF (a CR before it belongs to the line end),
    dot-stuffed, CRLF-terminated, the last line terminated too."""
    if data.endswith(b"\r") and not data.endswith(b"\r\n"):
        data = data[:-1] + b"\n"
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines = [l[:-1] if l.endswith(b"\r") else l for l in lines]
    if top is not None:
        try:
            sep = lines.index(b"")
            lines = lines[: sep + 1 + top]
        except ValueError:
            pass
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                   for l in lines)
    return out


def unstuffed_size(data):
    return len(wire_form(data)) - sum(
        1 for l in wire_form(data).split(b"\r\n") if l.startswith(b"."))


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def carries_tls(path):
    """Whether the program at path carries TLS code: libtls or libssl among
    its libraries, or, linked in statically (make STATIC=1, TLS_STATIC=1),
    libtls's symbols or OpenSSL's modules (they name openssl.org) in the
    file itself."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True)
    text = out.stdout + out.stderr
    if "libtls" in text or "libssl" in text:
        return True
    with open(path, "rb") as f:
        data = f.read()
    return b"tls_config_set_" in data or b"openssl.org" in data


def maps_tls(pid):
    """Whether the live process pid has TLS code mapped: a TLS library,
    or an executable that carries it (a static build)."""
    with open("/proc/%d/maps" % pid) as f:
        maps = f.read()
    if "libtls" in maps or "libssl" in maps:
        return True
    return carries_tls(os.readlink("/proc/%d/exe" % pid))


class Spawner:
    """Listens on 127.0.0.1 (or host: "::1", or "::ffff:127.0.0.1" for an
    IPv6 socket that sees IPv4 clients as mapped addresses) and runs argv
    for each connection with the socket as stdin and stdout, like
    tcpserver; remembers the processes."""

    def __init__(self, argv, env=None, cwd=None, as_root=False,
                 host="127.0.0.1"):
        self.argv = argv
        self.env = dict(env or {})
        self.env.setdefault("PATH", "/usr/bin:/bin")
        self.cwd = cwd
        self.as_root = as_root
        self.procs = []
        self.connections = 0        # made by connect() or counted by pop()
        fd, self.logpath = tempfile.mkstemp(prefix="pop3d-test-log.")
        os.close(fd)
        atexit.register(_unlink, self.logpath)
        self.host = host
        if ":" in host:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                                 0 if host.startswith("::ffff:") else 1)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            env = dict(self.env)
            env["TCPREMOTEIP"] = conn.getpeername()[0]
            kw = {}
            if ROOT and not self.as_root:
                kw = {"user": RUN_UID, "group": RUN_GID, "extra_groups": []}
            with open(self.logpath, "ab") as log:
                p = subprocess.Popen(self.argv, stdin=conn, stdout=conn,
                                     stderr=log, env=env, cwd=self.cwd,
                                     close_fds=True, **kw)
            conn.close()
            self.procs.append(p)

    def connect(self, timeout=30, source=None):
        """A connection, from the loopback address source if given."""
        host = "127.0.0.1" if self.host.startswith("::ffff:") else self.host
        s = socket.create_connection((host, self.port), timeout=timeout,
                                     source_address=(source, 0) if source
                                     else None)
        self.connections += 1
        return s

    def _spawned(self, wait=10):
        """Waits until every connection made so far has its process: the
        reply a test reads may come before the spawner thread records it."""
        deadline = time.time() + wait
        while len(self.procs) < self.connections and time.time() < deadline:
            time.sleep(0.01)

    def last_proc(self, wait=10):
        self._spawned(wait)
        return self.procs[-1]

    def wait_all(self, timeout=30):
        self._spawned()
        for p in self.procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def close(self):
        # A thread blocked in accept() is not woken by close(): shutdown()
        # wakes it, so that no later test's connection meets a stale spawner.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)
        self.wait_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Raw:
    """A raw POP3 connection, for what poplib will not send."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def cmd(self, text):
        self.send(text + b"\r\n")
        return self.line()

    def multiline(self):
        """The body of a multi-line reply, exactly as sent (stuffed)."""
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed in a multi-line reply")
            self.buf += d
        i = (b"\r\n" + self.buf).index(b"\r\n.\r\n")
        body, self.buf = self.buf[:i], self.buf[i + 3:]
        return body

    def closed(self, timeout=10):
        """Whether the server closes the connection (after what's buffered)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


# mboxes a real MTA delivers (Debian's exim4) to a system user of a test's
# own, served through the whole chain: test_mbox_clients.py.
POP3D = os.path.join(BUILD, "pop3d")
AUTH = os.path.join(BUILD, "pop3d-auth")
MAILDROP = os.path.join(BUILD, "pop3d-maildrop")
USERS = os.path.join(BUILD, "pop3d-users")
EXIM = "/usr/sbin/exim4"
SPOOL = "/var/mail"
SENDER = "sender@example.org"


def have_mta():
    if not ROOT:
        skip("%s: needs root (a system user of its own)" % sys.argv[0])
        return False
    if not os.access(EXIM, os.X_OK):
        skip("%s: needs exim4-daemon-light (tests/deps.sh test)"
             % sys.argv[0])
        return False
    # Debian's exim4-config, its default "local delivery only": users'
    # mail to /var/mail/$local_part by the mail_spool transport.
    t = subprocess.run([EXIM, "-bP", "transport", "mail_spool"],
                       capture_output=True, text=True).stdout
    r = subprocess.run([EXIM, "-bP", "router", "local_user"],
                       capture_output=True, text=True).stdout
    if "file = /var/mail/$local_part" not in t or \
            "transport = mail_spool" not in r:
        skip("%s: exim4 does not deliver to /var/mail (dpkg-reconfigure "
             "exim4-config: mail_spool)" % sys.argv[0])
        return False
    return True


def parse_mbox(data):
    """[(segment, from_line, content)]: each message's octets in the file
    (From_ line to the next From_ line), its From_ line and what is served
    of it, by pop3d-maildrop.8's rules."""
    if not data:
        return []
    assert data.startswith(b"From "), data[:80]
    starts, i = [0], 0
    while True:
        j = data.find(b"\n\nFrom ", i)
        if j < 0:
            break
        starts.append(j + 2)
        i = j + 1
    out = []
    for k, s in enumerate(starts):
        last = k + 1 == len(starts)
        e = len(data) if last else starts[k + 1]
        nl = data.find(b"\n", s, e)
        body = e if nl < 0 else nl + 1
        end = e - 1 if not last or data.endswith(b"\n\n") else e
        out.append((data[s:e], data[s:body], data[body:max(body, end)]))
    return out


def shadow(argv, ok=True):
    """useradd or userdel, tried again while another's holds the lock of
    /etc/passwd or /etc/group (exit 1 or 10)."""
    for _ in range(50):
        r = subprocess.run(argv, capture_output=True, timeout=60)
        if r.returncode not in (1, 10):
            break
        time.sleep(0.2)
    if ok and r.returncode != 0:
        raise RuntimeError("%s: %r" % (argv, r))
    return r


_seq = [0]


class MailUser:
    """A system user of the test's own (useradd -m; userdel -r at the end)
    with a users.cdb record, password pw-NAME, whose maildrop is
    /var/mail/NAME: in the record, or (default=True) through
    pop3d-maildrop's argument /var/mail/%u.  home: the record's home,
    when not the user's own."""

    def __init__(self, default=False, home=None):
        _seq[0] += 1
        self.name = "p3mb%dx%d" % (os.getpid() % 100000, _seq[0])
        self.default = default
        self.tmp = TempDir()
        # One left by a run that was killed goes first.
        shadow(["userdel", "-r", self.name], ok=False)
        shadow(["useradd", "-m", "-s", "/usr/sbin/nologin", self.name])
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.mbox = os.path.join(SPOOL, self.name)
        self.remove_mbox()
        self.etc = os.path.join(self.tmp.path, "etc")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.tmp.path, "empty"))
        self.home = home or self.home
        self.users("add", self.name, str(self.uid), str(self.gid),
                   self.home, *([] if default else [self.mbox]))
        self.users("passwd", "-s", self.name,
                   input=b"pw-" + self.name.encode() + b"\n")

    def users(self, *args, input=None):
        subprocess.run([USERS, "-f", os.path.join(self.etc, "users"), "-d",
                        os.path.join(self.etc, "users.cdb")] + list(args),
                       input=input, check=True, capture_output=True,
                       timeout=60)

    def remove_mbox(self):
        for p in (self.mbox, self.mbox + ".lock"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def serve(self, wrap=()):
        """The chain; wrap: a command put before pop3d-maildrop."""
        env = {"POP3D_USERS_CDB": os.path.join(self.etc, "users.cdb"),
               "POP3D_CHROOT": os.path.join(self.tmp.path, "empty"),
               "POP3D_AUTH_DELAY": "0", "POP3D_RULES": "",
               "POP3D_STATE_DIR": ""}
        arg = "/var/mail/%u" if self.default else "Maildir"
        return Spawner([POP3D, "mail.example.org", AUTH] + list(wrap) +
                       [MAILDROP, arg], env=env, cwd=self.tmp.path,
                       as_root=True)

    def login(self, srv):
        p = poplib.POP3("127.0.0.1", srv.port, timeout=60)
        srv.connections += 1
        p.user(self.name)
        p.pass_("pw-" + self.name)
        return p

    def deliver(self, data):
        """exim4 delivers at once (-odi), a lone '.' line not an end
        (-oi): (exit status, seconds taken)."""
        t = time.time()
        r = subprocess.run([EXIM, "-odi", "-oi", "-f", SENDER, self.name],
                           input=data, capture_output=True, timeout=120)
        if r.returncode:
            print("# exim4: %r" % (r.stderr,))
        return r.returncode, time.time() - t

    def read(self):
        try:
            with open(self.mbox, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def messages(self):
        return parse_mbox(self.read() or b"")

    def close(self):
        # A message exim could not deliver stays queued: not for later.
        q = subprocess.run([EXIM, "-bp"], capture_output=True, text=True)
        ids, cur = [], None
        for line in q.stdout.split("\n"):
            w = line.split()
            if len(w) >= 3 and not line.startswith(" "):
                cur = w[2]
            elif w and w[0].startswith(self.name + "@") and cur:
                ids.append(cur)
        if ids:
            print("# exim4 queued for %s: %s (removed)" % (self.name, ids))
            subprocess.run([EXIM, "-Mrm"] + ids, capture_output=True)
        shadow(["userdel", "-r", self.name])
        self.remove_mbox()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def file_facts(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_uid, st.st_gid,
            stat.S_IMODE(st.st_mode))

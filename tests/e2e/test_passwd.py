"""pop3d-passwd end to end: the poppassd dialogue over a loopback socket,
the change checked with pop3d-auth on fd 3, concurrent changes by several
connections and by pop3d-users, the rules database and the penalty box."""

import fcntl
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, run_all, test, skip)

PASSWD = os.path.join(BUILD, "pop3d-passwd")
AUTH = os.path.join(BUILD, "pop3d-auth")
USERS = os.path.join(BUILD, "pop3d-users")
RULES = os.path.join(BUILD, "pop3d-rules")
BAD = b"500 old password is incorrect"
PASSWORDS = {"alice": "alice-pw1", "bob": "bob-pw-22", "carol": "carol-pw3"}


class Site:
    """The users alice, bob and carol in a users file and users.cdb, a state
    directory and a rules file, in one temporary directory."""

    def __init__(self, tmp):
        self.dir = tmp.path
        self.file = os.path.join(self.dir, "users")
        self.db = os.path.join(self.dir, "users.cdb")
        self.state = os.path.join(self.dir, "state")
        self.rules = os.path.join(self.dir, "rules")
        self.rulesdb = os.path.join(self.dir, "rules.cdb")
        os.makedirs(self.state, mode=0o700)
        for name, pw in PASSWORDS.items():
            self.users("add", name, str(RUN_UID), str(RUN_GID), self.dir)
            self.users("passwd", "-s", name, input=pw + "\n")
        self.users("compile")

    def users(self, *args, input=None):
        r = subprocess.run([USERS, "-f", self.file, "-d", self.db] +
                           list(args), input=input, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("pop3d-users %s: %s" % (args, r.stderr))
        return r

    def env(self, **kw):
        e = {"POP3D_USERS_FILE": self.file, "POP3D_USERS_CDB": self.db,
             "POP3D_STATE_DIR": self.state, "POP3D_AUTH_DELAY": "0",
             "POP3D_RULES": self.rulesdb if os.path.exists(self.rulesdb)
             else ""}
        e.update(kw)
        return e

    def serve(self, **kw):
        return Spawner([PASSWD], env=self.env(**kw), cwd=self.dir,
                       as_root=True)

    def compile_rules(self, text):
        with open(self.rules, "w") as f:
            f.write(text)
        subprocess.run([RULES, "-d", self.rulesdb, "-s", self.state, "-f",
                        self.rules, "compile"], check=True,
                       capture_output=True)

    def login(self, user, pw):
        """pop3d-auth's verdict on user and pw: its exit status (0: in)."""
        data = b"\0".join(x.encode() for x in (user, pw, "<1@t>")) + b"\0"
        r = subprocess.run(["sh", "-c", 'exec "$0" /bin/true 3<&0', AUTH],
                           input=data, capture_output=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin",
                                "POP3D_USERS_CDB": self.db})
        return r.returncode

    def hash_of(self, user):
        with open(self.file) as f:
            for line in f:
                if line.startswith(user + ":"):
                    return line.split(":")[1]
        return None


def talk(srv, lines, source=None):
    """The greeting and the reply to each line, until the server closes."""
    r = Raw(srv.connect(source=source))
    replies = []
    try:
        replies.append(r.line())
        for l in lines:
            r.send(l + b"\r\n")
            replies.append(r.line())
    except (EOFError, ConnectionResetError):
        pass
    r.close()
    return replies


def change(srv, user, old, new, source=None):
    return talk(srv, [b"user " + user.encode(), b"pass " + old.encode(),
                      b"newpass " + new.encode(), b"quit"], source)


FULL = [b"200 pop3d-passwd hello, who are you?", b"200 your password please",
        b"200 your new password please", b"200 password changed",
        b"200 bye"]


@test
def full_exchange_changes_the_password():
    with TempDir() as tmp:
        site = Site(tmp)
        bob = site.hash_of("bob")
        with site.serve() as srv:
            check_eq(change(srv, "alice", "alice-pw1", "alice-new-1"), FULL,
                     "user, pass, newpass, quit: the classic exchange")
            srv.wait_all()
            log = srv.log()
        check_eq(site.login("alice", "alice-new-1"), 0,
                 "pop3d-auth accepts the new password")
        check_eq(site.login("alice", "alice-pw1"), 1,
                 "pop3d-auth refuses the old one")
        check_eq(site.hash_of("bob"), bob, "another user's record is kept")
        check(site.hash_of("alice").startswith("$y$"),
              "hashed with crypt_gensalt's default method (yescrypt)")
        check(re.search(r"passwd_changed remote=127\.0\.0\.1 user=alice",
                        log), "the change is logged")
        check(re.search(r"end remote=127\.0\.0\.1 user=alice changed=1 "
                        r"how=quit", log), "the session's summary line")
        check("alice-pw1" not in log and "alice-new-1" not in log,
              "no password in the log")
        st = os.stat(site.file)
        check_eq(st.st_mode & 0o777, 0o600, "the users file keeps its mode")
        r = subprocess.run([USERS, "-f", site.file, "check"],
                           capture_output=True)
        check_eq(r.returncode, 0, "pop3d-users check: the file is sound")


@test
def a_damaged_users_database_is_a_temporary_failure():
    """Issue 15: damage to users.cdb is never a wrong old password (which
    the penalty box would count): the session ends with the temporary
    reply, and the log says how to mend it."""
    with TempDir() as tmp:
        site = Site(tmp)
        before = site.hash_of("alice")
        with open(site.db, "rb") as f:
            data = bytearray(f.read())
        i = data.index(b"alice:")
        data[i + 3] ^= 1            # inside alice's record: its check fails
        with open(site.db, "wb") as f:
            f.write(data)
        with site.serve() as srv:
            replies = change(srv, "alice", "alice-pw1", "alice-new-1")
            srv.wait_all()
            log = srv.log()
        check(replies[-1].startswith(b"500") and replies[-1] != BAD,
              "the temporary reply, not a bad password: %r" % replies)
        check("passwd_temp" in log and "pop3d-users compile" in log,
              "logged with the fix: %r" % log)
        check("file=%s " % os.path.realpath(site.db) in log,
              "naming the database by its absolute path: %r" % log)
        check_eq(site.hash_of("alice"), before,
                 "the password is unchanged")


@test
def commands_are_case_insensitive():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            got = talk(srv, [b"USER bob", b"Pass bob-pw-22",
                             b"NewPass bob pw with spaces", b"QUIT"])
        check_eq(got, FULL, "USER, Pass, NewPass, QUIT")
        check_eq(site.login("bob", "bob pw with spaces"), 0,
                 "the password is the rest of the line, spaces included")


@test
def wrong_password_and_unknown_user_look_the_same():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_AUTH_DELAY="1",
                        POP3D_PENALTY_FAILURES="0") as srv:
            t = time.monotonic()
            wrong = talk(srv, [b"user alice", b"pass nope-nope",
                               b"newpass whatever-1"])
            t_wrong = time.monotonic() - t
            t = time.monotonic()
            unknown = talk(srv, [b"user mallory", b"pass nope-nope",
                                 b"newpass whatever-1"])
            t_unknown = time.monotonic() - t
            srv.wait_all()
            log = srv.log()
        check_eq(wrong[2:], [BAD], "wrong password: 500, then closed")
        check_eq(unknown, wrong, "unknown user: the same replies")
        check(t_wrong >= 1 and t_unknown >= 1,
              "both wait POP3D_AUTH_DELAY (%.2f, %.2f)" % (t_wrong, t_unknown))
        check(re.search(r"passwd_fail remote=127\.0\.0\.1 user=mallory "
                        r"reason=\"unknown user\"", log),
              "the log tells them apart")
        check("nope-nope" not in log, "no password in the log")
        check_eq(site.login("alice", "alice-pw1"), 0, "nothing changed")


@test
def new_password_rules():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            got = talk(srv, [b"user alice", b"pass alice-pw1",
                             b"newpass short", b"newpass alice-pw1",
                             b"newpass " + b"x" * 249,
                             b"newpass long-enough", b"quit"])
        check_eq(got[3], b"500 new password too short: at least 8"
                 b" characters", "a short new password is refused")
        check_eq(got[4], b"500 new password must differ from the old one",
                 "the old password again is refused")
        check_eq(got[5], b"500 new password too long: at most 248"
                 b" characters", "one longer than PASS can carry is refused")
        check_eq(got[6:], [b"200 password changed", b"200 bye"],
                 "then another is taken in the same session")
        with site.serve(POP3D_PASSWD_MIN="20") as srv:
            got = talk(srv, [b"user bob", b"pass bob-pw-22",
                             b"newpass nineteen-characters"])
        check_eq(got[3], b"500 new password too short: at least 20"
                 b" characters", "POP3D_PASSWD_MIN raises the minimum")
        with site.serve(POP3D_PASSWD_MIN="0") as srv:
            got = talk(srv, [b"user bob"])
            srv.wait_all()
            log = srv.log()
        check_eq(got, [b"500 temporary failure; try again later"],
                 "POP3D_PASSWD_MIN=0 is out of bounds: refused")
        check("POP3D_PASSWD_MIN" in log, "and the setting is named")


@test
def out_of_sequence_and_unknown_commands():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            check_eq(talk(srv, [b"pass alice-pw1"])[1:],
                     [b"500 user first"], "pass before user: 500")
            check_eq(talk(srv, [b"user alice", b"newpass xyzxyzxyz"])[2:],
                     [b"500 old password first"], "newpass before pass")
            check_eq(talk(srv, [b"stat"])[1:], [b"500 unknown command"],
                     "an unknown command: 500")
            check_eq(talk(srv, [b"user"])[1:], [b"500 usage: user name"],
                     "user without a name: 500")


@test
def overlong_line_is_hostile():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            r = Raw(srv.connect(source="127.0.0.6"))
            r.line()
            r.send(b"user " + b"a" * 600 + b"\r\n")
            check_eq(r.line(), b"500 line too long",
                     "a line over 512 octets: 500")
            check(r.closed(), "and the connection is closed")
            r.close()
            check_eq(talk(srv, [], source="127.0.0.6"),
                     [b"500 your address is blocked after hostile input;"
                      b" try again later"],
                     "the address is blocked before the greeting")
            check_eq(talk(srv, [], source="127.0.0.7")[0], FULL[0],
                     "another address is greeted")
            srv.wait_all()
            log = srv.log()
        check(re.search(r"hostile remote=127\.0\.0\.6", log),
              "the hostile line is logged")


@test
def idle_timeout():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_PASSWD_IDLE="1") as srv:
            r = Raw(srv.connect())
            r.line()
            t = time.monotonic()
            check_eq(r.line(), b"500 timeout", "an idle client: 500")
            check(time.monotonic() - t < 5, "after POP3D_PASSWD_IDLE")
            r.close()
        with site.serve(POP3D_PASSWD_TIMEOUT="2") as srv:
            r = Raw(srv.connect())
            r.line()
            t = time.monotonic()
            for _ in range(10):
                r.send(b"user al")      # never a whole line
                time.sleep(0.5)
                if r.closed(0.1):
                    break
            check(time.monotonic() - t < 6,
                  "a dribbling client is dropped after POP3D_PASSWD_TIMEOUT")
            r.close()


def parallel(jobs):
    threads = [threading.Thread(target=j) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


@test
def concurrent_changes_all_survive():
    with TempDir() as tmp:
        site = Site(tmp)
        pw = dict(PASSWORDS)
        lost = []
        with site.serve() as srv:
            for n in range(10):
                new = {u: "%s-round-%d" % (u, n) for u in pw}
                res = {}

                def by_passwd(u):
                    res[u] = change(srv, u, pw[u], new[u])

                def by_users():
                    site.users("passwd", "-s", "carol",
                               input=new["carol"] + "\n")
                    site.users("compile")
                    res["carol"] = FULL

                parallel([lambda: by_passwd("alice"),
                          lambda: by_passwd("bob"), by_users])
                for u in pw:
                    if res.get(u) != FULL or site.login(u, new[u]) != 0:
                        lost.append((n, u, res.get(u)))
                pw = new
        check_eq(lost, [], "10 rounds: alice and bob through pop3d-passwd"
                 " and carol through pop3d-users at once, no change lost")
        check_eq([site.login(u, p) for u, p in sorted(pw.items())],
                 [0, 0, 0], "the last passwords of all three work")


@test
def changes_wait_for_the_edit_lock():
    with TempDir() as tmp:
        site = Site(tmp)
        with open(site.file + ".lock", "a+") as lock:
            fcntl.lockf(lock, fcntl.LOCK_EX)
            with site.serve() as srv:
                res = []
                t = threading.Thread(target=lambda: res.append(
                    change(srv, "alice", "alice-pw1", "alice-new-1")))
                start = time.monotonic()
                t.start()
                time.sleep(1.5)
                check_eq(site.login("alice", "alice-pw1"), 0,
                         "while another holds the lock, nothing changes")
                fcntl.lockf(lock, fcntl.LOCK_UN)
                t.join(60)
                took = time.monotonic() - start
        check_eq(res, [FULL], "the change goes through once it is free")
        check(took >= 1.5, "after waiting for it (%.2f s)" % took)
        check_eq(site.login("alice", "alice-new-1"), 0, "and takes effect")


@test
def same_user_twice_at_once():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve() as srv:
            a, b = Raw(srv.connect()), Raw(srv.connect())
            for r in (a, b):
                r.line()
                r.cmd(b"user alice")
                check_eq(r.cmd(b"pass alice-pw1"),
                         b"200 your new password please",
                         "both sessions verified the old password")
            first = a.cmd(b"newpass first-new-pw")
            second = b.cmd(b"newpass second-new-pw")
            a.close()
            b.close()
        check_eq((first, second), (b"200 password changed",
                                   b"500 password not changed: it changed"
                                   b" meanwhile"),
                 "the second change, checked against a password that is"
                 " gone, is refused")
        check_eq(site.login("alice", "first-new-pw"), 0,
                 "the first change stands")


@test
def rules_database():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile_rules("127.0.0.2:deny\n"
                           "127.0.0.3:allow,POP3D_PASSWD_MIN=30\n")
        with site.serve() as srv:
            check_eq(talk(srv, [b"user alice"], source="127.0.0.2"),
                     [b"500 access denied"], "a deny rule refuses")
            got = talk(srv, [b"user alice", b"pass alice-pw1",
                             b"newpass alice-new-password"],
                       source="127.0.0.3")
            check_eq(got[3], b"500 new password too short: at least 30"
                     b" characters", "an allow rule's settings apply")
            check_eq(talk(srv, [b"quit"], source="127.0.0.4"),
                     [FULL[0], b"200 bye"], "other addresses are served")
            srv.wait_all()
            log = srv.log()
        check(re.search(r"deny remote=127\.0\.0\.2 rule=127\.0\.0\.2", log),
              "the refusal is logged with its rule")


@test
def failures_feed_the_penalty_box():
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(POP3D_PENALTY_FAILURES="3") as srv:
            got = [talk(srv, [b"user alice", b"pass guess-%d" % i],
                        source="127.0.0.8")[-1] for i in range(3)]
            check_eq(got, [BAD] * 3, "three wrong passwords")
            check_eq(talk(srv, [b"user alice"], source="127.0.0.8"),
                     [b"500 too many failed logins from your address; try"
                      b" again later"], "then the address is blocked")
            check_eq(change(srv, "alice", "alice-pw1", "alice-new-1",
                            source="127.0.0.9"), FULL,
                     "another address still changes its password")
        r = subprocess.run([RULES, "-s", site.state, "penalty", "list"],
                           capture_output=True, text=True)
        check("127.0.0.8" in r.stdout, "pop3d-rules lists the block")


@test
def cleartext_only_from_loopback():
    with TempDir() as tmp:
        site = Site(tmp)
        env = site.env(TCPREMOTEIP="192.0.2.7", POP3D_STATE_DIR="")
        env["PATH"] = "/usr/bin:/bin"
        r = subprocess.run([PASSWD], input=b"quit\r\n", env=env,
                           capture_output=True, timeout=30)
        check_eq(r.stdout, b"500 password changes are not allowed from"
                 b" your address\r\n", "a remote address is refused")
        env["POP3D_CLEARTEXT"] = "1"
        r = subprocess.run([PASSWD], input=b"quit\r\n", env=env,
                           capture_output=True, timeout=30)
        check_eq(r.stdout, FULL[0] + b"\r\n200 bye\r\n",
                 "POP3D_CLEARTEXT=1 serves it")


@test
def only_root_or_the_owner():
    if not ROOT:
        skip("# SKIP not root: the file's owner runs it")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        os.chmod(tmp.path, 0o755)
        srv = Spawner([PASSWD], env=site.env(POP3D_STATE_DIR=""),
                      cwd=tmp.path, as_root=False)
        with srv:
            got = talk(srv, [b"user alice"])
            srv.wait_all()
            log = srv.log()
        check_eq(got, [b"500 temporary failure; try again later"],
                 "run as nobody, not the file's owner: refused at once")
        check("neither root nor the owner" in log, "and logged why")


def dialogue_of(srv):
    """The pid of the spawned pop3d-passwd and of its one child, the
    dialogue process, once a client has been greeted."""
    parent = srv.last_proc().pid
    kids = open("/proc/%d/task/%d/children" % (parent, parent)).read().split()
    return parent, [int(k) for k in kids]


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        return re.search(r"^%s:\s+(.*)$" % name, f.read(), re.M).group(1)


def preauth_uid():
    """The uid pop3d-passwd's dialogue runs as: POP3D_PREAUTH_USER's
    default, pop3d, else nobody (lib/privdrop.c)."""
    import pwd
    try:
        return pwd.getpwnam("pop3d").pw_uid
    except KeyError:
        return pwd.getpwnam("nobody").pw_uid


def empty_dir(tmp):
    d = os.path.join(tmp.path, "empty")
    os.makedirs(d, mode=0o555)
    return d


@test
def dialogue_runs_unprivileged_and_chrooted():
    if not ROOT:
        skip("not root: the privilege drop is tested under CI")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        empty = empty_dir(tmp)
        with site.serve(POP3D_CHROOT=empty) as srv:
            r = Raw(srv.connect())
            check_eq(r.line(), FULL[0], "greeted by the dialogue process")
            parent, kids = dialogue_of(srv)
            check_eq(len(kids), 1, "one child: the dialogue process")
            kid = kids[0]
            uid = str(preauth_uid())
            check_eq(status_field(kid, "Uid").split(), [uid] * 4,
                     "the dialogue runs as the pre-login user (uid %s),"
                     " real, effective, saved and fs" % uid)
            check(status_field(kid, "Gid").split()[0] != "0",
                  "and not in group root")
            check_eq(status_field(kid, "NoNewPrivs"), "1",
                     "no_new_privs is set")
            check_eq(os.readlink("/proc/%d/root" % kid), empty,
                     "chrooted into POP3D_CHROOT")
            check_eq(sorted(int(x) for x in
                            os.listdir("/proc/%d/fd" % kid)), [0, 1, 2, 3],
                     "it holds the client, the log and the channel only")
            limits = open("/proc/%d/limits" % kid).read()
            check(re.search(r"Max open files\s+8\s+8", limits) is not None,
                  "with pop3d's pre-login limits")
            check_eq(status_field(parent, "Uid").split()[0], "0",
                     "the parent stays root")
            got = [r.cmd(b"user alice"), r.cmd(b"pass alice-pw1")]
            # It has answered a message: it is well past the fork.
            check_eq([os.readlink("/proc/%d/fd/%d" % (parent, fd))
                      for fd in (0, 1)], ["/dev/null"] * 2,
                     "and no longer holds the client's socket")
            got += [r.cmd(b"newpass alice-new-1"), r.cmd(b"quit")]
            check_eq(got, FULL[1:], "the whole exchange through it")
            check(r.closed(), "then the connection ends")
            r.close()
            srv.wait_all()
            check_eq(srv.procs[-1].returncode, 0, "pop3d-passwd exits 0")
            log = srv.log()
        check_eq(site.login("alice", "alice-new-1"), 0, "the change holds")
        check(re.search(r"end remote=127\.0\.0\.1 user=alice changed=1 "
                        r"how=quit", log), "the summary line as before")


@test
def dialogue_gone_or_stuck_ends_the_session():
    if not ROOT:
        skip("not root: the processes are root's to signal")
        return
    import signal
    with TempDir() as tmp:
        site = Site(tmp)
        empty = empty_dir(tmp)
        with site.serve(POP3D_CHROOT=empty) as srv:
            r = Raw(srv.connect())
            r.line()
            check_eq(r.cmd(b"user alice"), FULL[1], "user taken")
            parent, kids = dialogue_of(srv)
            os.kill(kids[0], signal.SIGKILL)
            check(r.closed(), "a dialogue process killed: the client is"
                  " closed")
            r.close()
            srv.wait_all()
            check_eq(srv.procs[-1].returncode, 111, "and the parent exits"
                     " 111")
            check(re.search(r"end remote=127\.0\.0\.1 user=alice changed=0"
                            r" how=lost", srv.log()),
                  "logged as lost, with the user it had sent")
        with site.serve(POP3D_CHROOT=empty,
                        POP3D_PASSWD_TIMEOUT="1") as srv:
            r = Raw(srv.connect())
            r.line()
            parent, kids = dialogue_of(srv)
            os.kill(kids[0], signal.SIGSTOP)
            t = time.monotonic()
            closed = r.closed(30)
            took = time.monotonic() - t
            check(closed and took < 20, "a stopped dialogue process is"
                  " killed after the deadline and its grace (%.1f s)" % took)
            r.close()
            srv.wait_all()
            check_eq(srv.procs[-1].returncode, 111, "the parent exits 111")
            check(re.search(r"did not end in time: killed", srv.log()) and
                  re.search(r"how=killed", srv.log()), "and says why")
        with site.serve(POP3D_CHROOT=empty) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"user bob")
            parent, kids = dialogue_of(srv)
            os.kill(parent, signal.SIGTERM)
            check_eq(r.line(), b"500 server shutting down",
                     "SIGTERM to pop3d-passwd: the client is told")
            r.close()
            srv.wait_all()
            check(re.search(r"end remote=127\.0\.0\.1 user=bob changed=0 "
                            r"how=signal", srv.log()), "how=signal")


# An LD_PRELOAD library for the dialogue process (any process but the one
# it was loaded into): its send() of the old password's message (type 'p')
# sends, as MALFORM says, the message without its NUL, one longer than any
# message may be, or a user's message (out of the dialogue's order): what a
# dialogue process taken over by a client could send.  With MALFORM=flood,
# a new password's message (type 'n') is sent again and again, and no
# verdict read.
MALFORM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * Set before the fork, in pop3d-passwd itself: after its drop, the dialogue
 * process may make few system calls (getpid is one of them).
 */
static ssize_t	(*real)(int, const void *, size_t, int);
static pid_t	 parent;
static const char *mode;

__attribute__((constructor)) static void
malform_init(void)
{
	real = (ssize_t (*)(int, const void *, size_t, int))
	    dlsym(RTLD_NEXT, "send");
	parent = getpid();
	mode = getenv("MALFORM");
}

ssize_t
send(int fd, const void *buf, size_t len, int flags)
{
	char		 big[1024];
	ssize_t		 n;

	if (getpid() == parent || mode == NULL || len < 2)
		return real(fd, buf, len, flags);
	if (strcmp(mode, "flood") == 0 && ((const char *)buf)[0] == 'n') {
		for (n = 0; n < 1000000; n++)
			if (real(fd, buf, len, flags) < 0)
				break;
		return -1;
	}
	if (strcmp(mode, "flood") == 0 || ((const char *)buf)[0] != 'p')
		return real(fd, buf, len, flags);
	if (strcmp(mode, "big") == 0) {
		memset(big, 'x', sizeof(big));
		big[0] = 'p';
		big[sizeof(big) - 1] = '\0';
		n = real(fd, big, sizeof(big), flags);
	} else if (strcmp(mode, "order") == 0)
		n = real(fd, "ubob", 5, flags);
	else
		n = real(fd, buf, len - 1, flags);
	return n > 0 ? (ssize_t)len : -1;
}
"""


def malformed_run(tmp, mode, lines):
    """The replies to lines, pop3d-passwd's exit status and its log, with
    MALFORM_C preloaded in MALFORM mode; None when no LD_PRELOAD can be
    made (no cc, or a static build)."""
    site = Site(tmp)
    empty = empty_dir(tmp)
    src = os.path.join(tmp.path, "malform.c")
    lib = os.path.join(tmp.path, "malform.so")
    with open(src, "w") as f:
        f.write(MALFORM_C)
    cc = subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src, "-ldl"],
                        capture_output=True)
    if cc.returncode != 0 or "not a dynamic" in subprocess.run(
            ["ldd", PASSWD], capture_output=True, text=True).stdout:
        return None
    os.chmod(tmp.path, 0o755)
    # Under AddressSanitizer (make sanitize) its runtime must come first,
    # unless told not to mind.
    with site.serve(POP3D_CHROOT=empty, LD_PRELOAD=lib, MALFORM=mode,
                    ASAN_OPTIONS="verify_asan_link_order=0") as srv:
        got = talk(srv, lines)
        srv.wait_all(timeout=60)
        return got, srv.procs[-1].returncode, srv.log(), site


@test
def malformed_message_ends_the_session():
    for mode, what in (("nul", "the old password without its NUL"),
                       ("big", "a message longer than any may be"),
                       ("order", "a user's message where the old"
                        " password's is due")):
        with TempDir() as tmp:
            run = malformed_run(tmp, mode, [b"user alice", b"pass alice-pw1",
                                            b"newpass alice-new-1"])
            if run is None:
                skip("no cc, or a static build: no LD_PRELOAD")
                return
            got, code, log, site = run
            check_eq(got, FULL[:2], "%s: no verdict, the connection ends"
                     % what)
            check_eq(code, 111, "the parent exits 111")
            check("malformed message from the dialogue process" in log,
                  "and logs why")
            check(re.search(r"end remote=127\.0\.0\.1 user=alice changed=0 "
                            r"how=malformed", log), "how=malformed")
            check("passwd_fail" not in log and "passwd_changed" not in log,
                  "nothing was checked or changed on it")
            check_eq(site.login("alice", "alice-pw1"), 0,
                     "the password is as it was")


@test
def a_flooding_dialogue_cannot_hold_the_parent():
    with TempDir() as tmp:
        t = time.monotonic()
        run = malformed_run(tmp, "flood", [b"user alice", b"pass alice-pw1",
                                           b"newpass short"])
        took = time.monotonic() - t
        if run is None:
            skip("no cc, or a static build: no LD_PRELOAD")
            return
        got, code, log, _ = run
        # The flooding process may still say its own goodbye (its sends
        # never block: the full channel fails them) before it is killed.
        check(got[:3] == FULL[:3] and got[3:] in
              ([], [b"500 temporary failure; try again later"]),
              "new password messages sent again and again, no verdict read:"
              " the connection ends (%r)" % got[3:])
        check(took < 40, "soon, not at a deadline (%.1f s)" % took)
        check_eq(code, 111, "the parent exits 111")
        # Which comes first, the full channel or the flooder's own end
        # (its sends fail too), is a race: either way the session is lost.
        check(re.search(r"end remote=\S+ user=alice changed=0 how=lost",
                        log), "and says why")

if __name__ == "__main__":
    run_all(sys.argv[2:])

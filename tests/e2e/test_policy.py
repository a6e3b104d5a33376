"""The access policy end to end: rules.cdb compiled with pop3d-rules, the
penalty box and the per-address connection limit, through the whole chain
(pop3d, pop3d-auth, pop3d-maildrop) on loopback, with clients on several
127.x.y.z source addresses, on ::1, and as IPv4-mapped peers of an IPv6
socket."""

import base64
import hashlib
import hmac
import os
import poplib
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, make_maildir, run_all, test)

POP3D = os.path.join(BUILD, "pop3d")
RULES = os.path.join(BUILD, "pop3d-rules")
USERS = os.path.join(BUILD, "pop3d-users")
MSG = b"Subject: policy\n\nHello.\n"
DENIED = b"-ERR [SYS/PERM] access denied"
HAMMERED = (b"-ERR [LOGIN-DELAY] too many failed logins from your address;"
            b" try again later")
HOSTILE = (b"-ERR [SYS/TEMP] your address is blocked after hostile input;"
           b" try again later")
FULL = b"-ERR [SYS/TEMP] too many connections from your address; try again later"


class Site:
    """A temporary installation: users alice and bob, a Maildir, a rules
    file and its database, a state directory."""

    def __init__(self, tmp):
        self.tmp = tmp
        p = tmp.path
        make_maildir(os.path.join(p, "Maildir"),
                     new=[("1700000000.M1P1.policy", MSG),
                          ("1700000001.M1P1.policy", MSG + b"two\n")])
        os.makedirs(os.path.join(p, "empty"))
        self.etc = os.path.join(p, "etc")
        self.state = os.path.join(p, "state")
        os.makedirs(self.etc)
        os.makedirs(self.state, mode=0o700)
        self.rules = os.path.join(self.etc, "rules")
        self.cdb = os.path.join(self.etc, "rules.cdb")
        u = [USERS, "-f", os.path.join(self.etc, "users"), "-d",
             os.path.join(self.etc, "users.cdb")]
        for name, pw in (("alice", "alice-pw"), ("bob", "bob-pw")):
            subprocess.run(u + ["add", name, str(RUN_UID), str(RUN_GID), p],
                           check=True, capture_output=True)
            subprocess.run(u + ["passwd", "-s", name], input=pw.encode() +
                           b"\n", check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        tmp.give()
        if ROOT:
            os.chown(os.path.join(p, "empty"), 0, 0)
            os.chown(self.state, 0, 0)

    def env(self, **kw):
        e = {"POP3D_USERS_CDB": os.path.join(self.etc, "users.cdb"),
             "POP3D_CHROOT": os.path.join(self.tmp.path, "empty"),
             "POP3D_AUTH_DELAY": "0", "POP3D_RULES": self.cdb,
             "POP3D_STATE_DIR": self.state}
        e.update(kw)
        return e

    def serve(self, host="127.0.0.1", **kw):
        argv = [POP3D, "mail.example.org", os.path.join(BUILD, "pop3d-auth"),
                os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        return Spawner(argv, env=self.env(**kw), cwd=self.tmp.path,
                       as_root=True, host=host)

    def compile(self, text):
        with open(self.rules, "w") as f:
            f.write(text)
        return self.cli("-f", self.rules, "compile")

    def cli(self, *args):
        return subprocess.run([RULES, "-d", self.cdb, "-s", self.state] +
                              list(args), capture_output=True, text=True)


def greeting(srv, source):
    """The first line the server sends to a client from source."""
    r = Raw(srv.connect(source=source))
    line = r.line()
    r.close()
    return line


def login(srv, source, user, pw):
    """USER/PASS from source: the PASS reply (or the refusal before it)."""
    r = Raw(srv.connect(source=source))
    first = r.line()
    if not first.startswith(b"+OK"):
        r.close()
        return first
    r.cmd(b"USER " + user)
    reply = r.cmd(b"PASS " + pw)
    if reply.startswith(b"+OK"):
        r.cmd(b"QUIT")
    r.close()
    return reply


def query(site, address):
    out = site.cli("query", address)
    return out.returncode, out.stdout


@test
def deny_rule_refuses_before_the_greeting():
    with TempDir() as tmp:
        site = Site(tmp)
        check_eq(site.compile("127.0.0.2:deny\n127.0.1.:deny\n").returncode,
                 0, "compile a deny list")
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.2"), DENIED, "127.0.0.2 refused")
            check_eq(greeting(srv, "127.0.1.9"), DENIED,
                     "127.0.1.9 refused by the prefix 127.0.1.")
            check(greeting(srv, "127.0.0.3").startswith(b"+OK"),
                  "127.0.0.3 greeted: no rule matches, allowed")
            check_eq(login(srv, "127.0.0.1", b"alice", b"alice-pw")[:21],
                     b"+OK maildrop has 2 me", "127.0.0.1 logs in")
            srv.wait_all()
        check(re.search(r"deny remote=127\.0\.0\.2 rule=127\.0\.0\.2 line=1",
                        srv.log()), "the refusal is logged with its rule")


@test
def deny_all_except_listed_and_ipv6():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("# only the office\n:deny\n127.0.0.0/29:allow\n"
                     "::1:deny\n")
        with site.serve() as srv:
            check(greeting(srv, "127.0.0.5").startswith(b"+OK"),
                  "127.0.0.5 in 127.0.0.0/29 greeted")
            check_eq(greeting(srv, "127.0.0.8"), DENIED,
                     "127.0.0.8 outside the /29: the default denies")
        with site.serve(host="::1") as srv:
            check_eq(greeting(srv, None), DENIED, "::1 refused by its rule")
        site.compile(":deny\n[::1]:allow\n")
        with site.serve(host="::1") as srv:
            check(greeting(srv, None).startswith(b"+OK"),
                  "::1 allowed by [::1]:allow")
        site.compile("127.0.0.11:deny\n")
        with site.serve(host="::ffff:127.0.0.1") as srv:
            check_eq(greeting(srv, "127.0.0.11"), DENIED,
                     "an IPv4-mapped peer matches its IPv4 rule")
            check(greeting(srv, "127.0.0.12").startswith(b"+OK"),
                  "another mapped peer is greeted")
            srv.wait_all()
        check("remote=127.0.0.11 " in srv.log(),
              "the mapped peer is logged as IPv4")


@test
def rule_settings_reach_the_session():
    with TempDir() as tmp:
        site = Site(tmp)
        bad = site.compile('127.0.0.4:allow,POP3D_GREETING="Office, '
                           'welcome",POP3D_MAX_MESSAGES=1,'
                           "POP3D_IMPLEMENTATION=office-rule\n"
                           "127.0.0.6:allow,POP3D_IDLE_TIMEOUT=nonsense\n")
        check(bad.returncode == 1 and "rules:2: POP3D_IDLE_TIMEOUT must be "
              "a number from 1 to 86400" in bad.stderr,
              "a bad value is a compile error naming file:line: %r" %
              bad.stderr)
        check_eq(site.compile('127.0.0.4:allow,POP3D_GREETING="Office, '
                              'welcome",POP3D_MAX_MESSAGES=1,'
                              "POP3D_IMPLEMENTATION=office-rule\n"
                              ).returncode, 0, "good settings compile")
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.4"), b"+OK Office, welcome",
                     "the rule's greeting")
            check_eq(greeting(srv, "127.0.0.5"), b"+OK POP3 server ready",
                     "other addresses keep the default")
            r = Raw(srv.connect(source="127.0.0.4"))
            r.line()
            r.cmd(b"USER alice")
            check_eq(r.cmd(b"PASS alice-pw")[:21], b"+OK maildrop has 1 me",
                     "POP3D_MAX_MESSAGES from the rule reaches the maildrop")
            r.cmd(b"CAPA")
            check(b"IMPLEMENTATION office-rule" in r.multiline(),
                  "and POP3D_IMPLEMENTATION too")
            r.cmd(b"QUIT")
            r.close()


@test
def broken_database_is_never_an_allow():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.2:deny\n")
        with open(site.cdb, "r+b") as f:
            f.truncate(100)
        temp = b"-ERR [SYS/TEMP] access rules unavailable; try again later"
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.3"), temp,
                     "a truncated rules.cdb: [SYS/TEMP]")
            srv.wait_all()
        check("rules-error" in srv.log(), "and logged")
        with open(site.cdb, "wb") as f:
            f.write(b"\0" * 2048)
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.3"), temp, "a garbage rules.cdb")
        with site.serve(POP3D_RULES=site.cdb + ".missing") as srv:
            check_eq(greeting(srv, "127.0.0.3"), temp,
                     "a configured rules.cdb that is missing")
        with site.serve(POP3D_RULES="") as srv:
            check(greeting(srv, "127.0.0.3").startswith(b"+OK"),
                  "POP3D_RULES empty: no rules")


@test
def a_damaged_database_is_unavailable_never_a_rule():
    """Issue 15: damage to rules.cdb denied an address its rule allowed
    (-ERR [SYS/PERM], for good).  Each octet past the table of contents
    flipped in turn: the front greets 127.0.0.1 as its rule says (+OK,
    with the rule's greeting) or answers [SYS/TEMP]; never the default
    rule's deny.  (t_rules damages every octet, two ways, for more
    addresses.)"""
    with TempDir() as tmp:
        site = Site(tmp)
        check_eq(site.compile("127.0.0.1:allow,POP3D_GREETING=ruled\n"
                              "127.0.0.0/8:deny\n:deny\n").returncode, 0,
                 "compile")
        with open(site.cdb, "rb") as f:
            orig = f.read()
        temp = b"-ERR [SYS/TEMP] access rules unavailable; try again later"
        count = {"allowed": 0, "unavailable": 0}
        wrong = []
        with site.serve() as srv:
            for off in range(2048, len(orig)):
                b = bytearray(orig)
                b[off] ^= 1
                with open(site.cdb + ".new", "wb") as f:
                    f.write(b)
                os.rename(site.cdb + ".new", site.cdb)
                line = greeting(srv, "127.0.0.1")
                if line.startswith(b"+OK ruled"):
                    count["allowed"] += 1
                elif line == temp:
                    count["unavailable"] += 1
                else:
                    wrong.append((off, line))
            srv.wait_all()
        print("# %d octets damaged: %d allowed by the rule, %d unavailable,"
              " %d wrong" % (len(orig) - 2048, count["allowed"],
                             count["unavailable"], len(wrong)))
        check_eq(wrong[:5], [], "no damage answers another rule")
        check(count["unavailable"] > 0, "damage is seen")


@test
def rebuilding_while_connections_run():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.5:allow\n")
        with site.serve() as srv:
            r = Raw(srv.connect(source="127.0.0.5"))
            r.line()
            r.cmd(b"USER alice")
            check(r.cmd(b"PASS alice-pw").startswith(b"+OK"), "a session")
            site.compile("127.0.0.5:deny\n")
            check_eq(greeting(srv, "127.0.0.5"), DENIED,
                     "the new database refuses the next connection")
            check(r.cmd(b"STAT").startswith(b"+OK 2 "),
                  "the running session goes on")
            r.cmd(b"QUIT")
            r.close()
            # Compile over and over while clients connect: each sees the
            # old database or the new one, never a broken one.
            stop = threading.Event()
            compiled = [0]
            failed = []

            def rebuild():
                while not stop.is_set():
                    text = ("127.0.0.7:deny\n" if compiled[0] % 2 else
                            "127.0.0.7:allow\n") + "".join(
                        "10.%d.%d.0/24:deny\n" % (i // 256, i % 256)
                        for i in range(2000))
                    if site.compile(text).returncode != 0:
                        failed.append(compiled[0])
                    compiled[0] += 1
            t = threading.Thread(target=rebuild)
            t.start()
            seen = set()
            for _ in range(60):
                seen.add(greeting(srv, "127.0.0.7")[:16])
            stop.set()
            t.join()
            check(compiled[0] >= 3 and not failed,
                  "rebuilt %d times meanwhile, every compile succeeded" %
                  compiled[0])
            check_eq(seen, {b"+OK POP3 server ", DENIED[:16]},
                     "every connection got an answer from a whole database,"
                     " and both databases were seen")


@test
def failed_logins_block_the_address_then_expire():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.0/8:allow\n")
        with site.serve(POP3D_PENALTY_BLOCK="3", POP3D_AUTH_FAILURES="3") as srv:
            replies = []
            for i in range(5):
                replies.append(login(srv, "127.0.0.20", b"alice", b"wrong"))
            check_eq(replies[:4], [b"-ERR [AUTH] authentication failed"] * 4,
                     "four failures are answered [AUTH]")
            check_eq(replies[4], b"-ERR [LOGIN-DELAY] too many failed logins"
                     b" from your address; closing",
                     "the fifth blocks the address and ends the session")
            check_eq(greeting(srv, "127.0.0.20"), HAMMERED,
                     "the sixth connection is refused before the greeting")
            code, out = query(site, "127.0.0.20")
            check(re.search(r"^penalty blocked until \S+ \(failed logins\)$",
                            out, re.M), "pop3d-rules query shows the block:"
                  " %r" % out)
            check(login(srv, "127.0.0.21", b"alice",
                        b"alice-pw").startswith(b"+OK"),
                  "another address is not affected")
            time.sleep(3.5)
            check(login(srv, "127.0.0.20", b"alice",
                        b"alice-pw").startswith(b"+OK"),
                  "after the block expires the address logs in again")
            srv.wait_all()
        check(re.search(r"blocked remote=127\.0\.0\.20 why=failures", srv.log()),
              "the block is logged")


@test
def parallel_guesses_get_no_more_than_the_threshold():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        with site.serve() as srv:
            conns = []
            for _ in range(30):
                r = Raw(srv.connect(source="127.0.0.80"))
                r.line()
                r.cmd(b"USER bob")
                conns.append(r)
            for r in conns:
                r.send(b"PASS guess\r\n")
            replies = [r.line() for r in conns]
            for r in conns:
                r.close()
            srv.wait_all()
        checked = len(re.findall(r"auth remote=127\.0\.0\.80 user=bob "
                                 r"mech=USER result=fail", srv.log()))
        check_eq(checked, 5, "30 parallel guesses: exactly 5 password checks"
                 " (%d)" % checked)
        waited = [r for r in replies if r.startswith(b"-ERR [LOGIN-DELAY]")]
        check_eq(len(waited), 30 - checked + 1,
                 "the others waited for a slot, then were told the address"
                 " is blocked (or to try later): %r" % sorted(set(waited)))
        check_eq(query(site, "127.0.0.80")[1].splitlines()[3][:22],
                 "penalty blocked until ", "and the address is blocked")


@test
def many_good_sessions_from_one_address_at_once():
    # An office polling at the full minute: logged-in sessions do not count
    # as logins in flight (pop3d-auth tells the front at once).
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        u = [USERS, "-f", os.path.join(site.etc, "users"), "-d",
             os.path.join(site.etc, "users.cdb")]
        for i in range(8):
            home = os.path.join(tmp.path, "h%d" % i)
            make_maildir(os.path.join(home, "Maildir"),
                         new=[("1700000000.M1P1.x", MSG)])
            subprocess.run(u + ["add", "u%d" % i, str(RUN_UID), str(RUN_GID),
                                home], check=True, capture_output=True)
            subprocess.run(u + ["passwd", "-s", "u%d" % i],
                           input=b"u-pw\n", check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        tmp.give()
        if ROOT:
            os.chown(os.path.join(tmp.path, "empty"), 0, 0)
            os.chown(site.state, 0, 0)
        with site.serve() as srv:
            held = []
            for i in range(8):
                r = Raw(srv.connect(source="127.0.0.90"))
                r.line()
                r.cmd(b"USER u%d" % i)
                reply = r.cmd(b"PASS u-pw")
                check(reply.startswith(b"+OK"), "session %d of 8 at once"
                      " logs in: %r" % (i + 1, reply))
                held.append(r)
            code, out = query(site, "127.0.0.90")
            check("penalty none" in out, "nothing is counted: %r" % out)
            for r in held:
                r.cmd(b"QUIT")
                r.close()
            # A burst: all 8 send PASS at once, more than the 5 checks
            # that may be in flight; the rest wait a moment, none refused.
            conns = []
            for i in range(8):
                r = Raw(srv.connect(source="127.0.0.91"))
                r.line()
                r.cmd(b"USER u%d" % i)
                conns.append(r)
            for r in conns:
                r.send(b"PASS u-pw\r\n")
            replies = [r.line() for r in conns]
            check(all(x.startswith(b"+OK") for x in replies),
                  "8 logins sent at once all succeed: %r" % replies)
            for r in conns:
                r.cmd(b"QUIT")
                r.close()
            srv.wait_all()


def descendants(pid):
    """(pid, comm) of every live descendant of pid, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append((int(d), comm))
    out, todo = [], [pid]
    while todo:
        for kid in kids.get(todo.pop(), []):
            out.append(kid)
            todo.append(kid[0])
    return out


def stage_script(tmp, name, body):
    """A mailbox stage as a shell script the user can run."""
    path = os.path.join(tmp.path, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


@test
def an_exec_that_fails_after_the_login_is_a_temporary_failure():
    # pop3d-auth accepts, then cannot run the next program: it says so on
    # fd 4, the pre-login process is still there and answers [SYS/TEMP],
    # the dialogue goes on, and a good password counts as no failure.
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        argv = [POP3D, "mail.example.org", os.path.join(BUILD, "pop3d-auth"),
                os.path.join(tmp.path, "no-such-program")]
        with Spawner(argv, env=site.env(), cwd=tmp.path, as_root=True) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            check_eq(r.cmd(b"PASS alice-pw"), b"-ERR [SYS/TEMP] temporary"
                     b" failure, try again later", "a temporary failure")
            check(r.cmd(b"QUIT").startswith(b"+OK"), "and the dialogue goes"
                  " on")
            r.close()
            srv.wait_all()
            log = srv.log()
            check("result=temp" in log, "the auth line says temp: %r"
                  % log[-600:])
        code, out = query(site, "127.0.0.1")
        check("penalty none" in out, "a good password is no failure: %r"
              % out)


@test
def a_failure_is_answered_the_delay_after_the_credentials():
    # POP3D_AUTH_DELAY runs from the credentials, not from the check's
    # end: a slow check (an unknown user's, a costly hash's) does not show
    # in the time to the answer, whichever it was.
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        slow = stage_script(tmp, "slow-auth", "exec 3<&-; sleep 1.5;"
                            " exit 1\n")
        argv = [POP3D, "mail.example.org", slow, "/bin/true"]
        with Spawner(argv, env=site.env(POP3D_AUTH_DELAY="2"), cwd=tmp.path,
                     as_root=True) as srv:
            r = Raw(srv.connect())
            r.line()
            r.cmd(b"USER alice")
            t = time.monotonic()
            check_eq(r.cmd(b"PASS x"), b"-ERR [AUTH] authentication failed",
                     "a failure")
            t = time.monotonic() - t
            # 2 s, not 1.5 + 2 (a generous bound: the machine is noisy).
            check(1.9 <= t < 3.0, "answered 2 s after the credentials, the"
                  " 1.5 s check included: %.2fs" % t)
            r.close()
            srv.wait_all()


@test
def once_the_stage_runs_the_front_says_nothing_more():
    # After pop3d-auth's word that the stage runs, how the stage ends is
    # for the log alone: no -ERR of the front's after the stage's own
    # words, and an exit 1 is no failed login.
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        for name, body, result in (
                ("exit1", "printf '+OK stage here\\r\\n'; exit 1\n",
                 "result=exit status=1"),
                ("crash", "printf '+OK stage here\\r\\n'; kill -9 $$\n",
                 "result=crash signal=9")):
            argv = [POP3D, "mail.example.org",
                    os.path.join(BUILD, "pop3d-auth"),
                    stage_script(tmp, name, body)]
            with Spawner(argv, env=site.env(), cwd=tmp.path,
                         as_root=True) as srv:
                for i in range(3):
                    r = Raw(srv.connect())
                    r.line()
                    r.cmd(b"USER alice")
                    check_eq(r.cmd(b"PASS alice-pw"), b"+OK stage here",
                             "%s: the stage's own reply" % name)
                    check(r.closed() and r.buf == b"", "%s: then the end,"
                          " nothing from the front: %r" % (name, r.buf))
                    r.close()
                srv.wait_all()
                log = srv.log()
                check(result in log, "%s: logged %s: %r" % (name, result,
                      log[-400:]))
            code, out = query(site, "127.0.0.1")
            check("penalty none" in out, "%s: no failed login counted: %r"
                  % (name, out))


@test
def allow_rules_do_not_lift_a_penalty_only_clear_does():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.22:allow,POP3D_GREETING=trusted\n")
        with site.serve(POP3D_PENALTY_FAILURES="2") as srv:
            login(srv, "127.0.0.22", b"bob", b"x")
            login(srv, "127.0.0.22", b"bob", b"y")
            check_eq(greeting(srv, "127.0.0.22"), HAMMERED,
                     "an allow rule does not lift the block")
            out = site.cli("penalty", "list")
            check(out.returncode == 0 and "127.0.0.22" in out.stdout,
                  "penalty list shows the address: %r" % out.stdout)
            out = site.cli("penalty", "clear", "127.0.0.22")
            check_eq(out.returncode, 0, "penalty clear")
            check_eq(greeting(srv, "127.0.0.22"), b"+OK trusted",
                     "cleared: greeted again")
            check_eq(site.cli("penalty", "clear", "127.0.0.22").returncode, 1,
                     "clearing a missing record exits 1")


@test
def a_hostile_line_bans_the_address():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("")
        with site.serve() as srv:
            r = Raw(srv.connect(source="127.0.0.30"))
            check(r.line().startswith(b"+OK"), "an empty rules file allows")
            check_eq(r.cmd(b"X" * 600),
                     b"-ERR command line far too long; closing",
                     "a 602-octet line")
            check(r.closed(), "ends the session")
            r.close()
            time.sleep(0.3)
            check_eq(greeting(srv, "127.0.0.30"), HOSTILE,
                     "and bans the address")
            check(greeting(srv, "127.0.0.31").startswith(b"+OK"),
                  "others are greeted")
            code, out = query(site, "127.0.0.30")
            check(re.search(r"^penalty blocked until \S+ \(hostile input\)$",
                            out, re.M), "query shows the hostile block")
            site.cli("penalty", "clear", "all")
            check(greeting(srv, "127.0.0.30").startswith(b"+OK"),
                  "penalty clear all lifts it")
        with site.serve(POP3D_PENALTY_HOSTILE="0") as srv:
            r = Raw(srv.connect(source="127.0.0.32"))
            r.line()
            r.cmd(b"X" * 600)
            r.closed()
            r.close()
            time.sleep(0.3)
            check(greeting(srv, "127.0.0.32").startswith(b"+OK"),
                  "POP3D_PENALTY_HOSTILE=0: no ban")


@test
def per_address_connection_limit():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.40:allow,POP3D_MAX_PER_ADDRESS=2\n")
        with site.serve() as srv:
            held = []
            for _ in range(2):
                r = Raw(srv.connect(source="127.0.0.40"))
                check(r.line().startswith(b"+OK"), "a connection within 2")
                held.append(r)
            check_eq(greeting(srv, "127.0.0.40"), FULL, "the third is refused")
            check(greeting(srv, "127.0.0.41").startswith(b"+OK"),
                  "another address has no limit by default")
            held[0].cmd(b"QUIT")
            held[0].close()
            time.sleep(0.3)
            r = Raw(srv.connect(source="127.0.0.40"))
            check(r.line().startswith(b"+OK"), "after a QUIT there is room")
            held[0] = r
            # A front killed outright frees its slot too.
            srv._spawned()
            fronts = [p for p in srv.procs if p.poll() is None]
            os.kill(fronts[-1].pid, signal.SIGKILL)
            fronts[-1].wait()
            time.sleep(0.3)
            r = Raw(srv.connect(source="127.0.0.40"))
            check(r.line().startswith(b"+OK"), "after a SIGKILL there is room")
            code, out = query(site, "127.0.0.40")
            check(re.search(r"^connections 2$", out, re.M),
                  "query counts the connections: %r" % out)
            for h in held + [r]:
                h.close()
            srv.wait_all()
        check(not os.path.exists(os.path.join(site.state, "conn",
                                              "127.0.0.40")),
              "the last connection to end removes the slot file")


@test
def nat_office_counts_failures_per_user():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("127.0.0.50:allow,POP3D_PENALTY_SCOPE=user\n")
        with site.serve(POP3D_PENALTY_FAILURES="3") as srv:
            replies = [login(srv, "127.0.0.50", b"alice", b"typo")
                       for _ in range(3)]
            check_eq(replies, [b"-ERR [AUTH] authentication failed"] * 3,
                     "alice mistypes three times")
            check_eq(login(srv, "127.0.0.50", b"alice", b"alice-pw"),
                     b"-ERR [LOGIN-DELAY] too many failed logins for this"
                     b" user from your address; try again later",
                     "alice is delayed, even with the right password")
            check(login(srv, "127.0.0.50", b"bob", b"bob-pw").startswith(
                b"+OK"), "bob, behind the same address, logs in")
            check(greeting(srv, "127.0.0.50").startswith(b"+OK"),
                  "the address itself is not blocked")
            code, out = query(site, "127.0.0.50")
            check(re.search(r"^penalty-user alice blocked until ", out, re.M),
                  "query shows alice's block: %r" % out)
        site.compile("127.0.0.51:allow,POP3D_PENALTY_SCOPE=user\n")
        with site.serve(POP3D_PENALTY_FAILURES="3",
                        POP3D_PENALTY_ADDRESS_FAILURES="4") as srv:
            replies = [login(srv, "127.0.0.51", user, b"guess")
                       for user in (b"carol", b"dave", b"erin", b"frank")]
            check_eq(replies[:3], [b"-ERR [AUTH] authentication failed"] * 3,
                     "one failure each for three users: no block yet")
            check_eq(replies[3], b"-ERR [LOGIN-DELAY] too many failed logins"
                     b" from your address; closing",
                     "the fourth user's failure reaches the address ceiling")
            check_eq(greeting(srv, "127.0.0.51"), HAMMERED,
                     "failures across many users still block the address")


def digest_login(srv, source, mech, user, secret, tries=1):
    """tries APOP or CRAM-MD5 logins for user with the shared secret given,
    in one session from source: the replies (stops at one that is not
    "-ERR [AUTH] authentication failed")."""
    r = Raw(srv.connect(source=source))
    greet = r.line()
    replies = []
    if not greet.startswith(b"+OK"):
        r.close()
        return [greet]
    for _ in range(tries):
        if mech == "APOP":
            stamp = re.search(rb"<[^>]*>", greet).group(0)
            d = hashlib.md5(stamp + secret).hexdigest().encode()
            reply = r.cmd(b"APOP " + user + b" " + d)
        else:
            chal = base64.b64decode(r.cmd(b"AUTH CRAM-MD5")[2:])
            d = hmac.new(secret, chal, hashlib.md5).hexdigest().encode()
            reply = r.cmd(base64.b64encode(user + b" " + d))
        replies.append(reply)
        if reply != b"-ERR [AUTH] authentication failed":
            break
    if replies[-1].startswith(b"+OK"):
        r.cmd(b"QUIT")
    r.close()
    return replies


@test
def digest_logins_without_a_secret_lock_no_one_out():
    # fetchmail tries CRAM-MD5 first: for a user without a shared secret
    # (or an unknown one) no digest can ever match, so the attempt is no
    # guess.  It is answered as any failure, after the same delay, and
    # ends the session after POP3D_AUTH_FAILURES as any failure does (else
    # the session's length would tell who has a secret), but is never
    # counted against the address.
    FAILED = b"-ERR [AUTH] authentication failed"
    with TempDir() as tmp:
        site = Site(tmp)
        u = [USERS, "-f", os.path.join(site.etc, "users"), "-d",
             os.path.join(site.etc, "users.cdb")]
        subprocess.run(u + ["add", "carol", str(RUN_UID), str(RUN_GID),
                            tmp.path], check=True, capture_output=True)
        subprocess.run(u + ["apop", "-s", "carol"], input=b"carol-secret\n",
                       check=True, capture_output=True)
        subprocess.run(u + ["compile"], check=True, capture_output=True)
        site.compile("127.0.0.0/8:allow\n")
        with site.serve(POP3D_CRAM_MD5="1", POP3D_APOP="1",
                        POP3D_AUTH_FAILURES="3",
                        POP3D_AUTH_DELAY="1") as srv:
            # The two users' polls side by side (each waits the delay):
            # at most two attempts in flight, below any threshold.
            polls = {}

            def poll(user):
                polls[user] = []
                for _ in range(10):
                    polls[user] += digest_login(srv, "127.0.0.70",
                                                "CRAM-MD5", user, b"guess")
            pollers = [threading.Thread(target=poll, args=(user,))
                       for user in (b"bob", b"nosuchuser")]
            for th in pollers:
                th.start()
            for th in pollers:
                th.join(120)
            for user in (b"bob", b"nosuchuser"):
                check_eq(polls.get(user), [FAILED] * 10, "10 CRAM-MD5 polls"
                         " for %s (no shared secret): each answered [AUTH]" %
                         user.decode())
            for user in (b"bob", b"nosuchuser"):
                t = time.monotonic()
                replies = digest_login(srv, "127.0.0.70", "APOP", user,
                                       b"guess", tries=3)
                check_eq(replies, [FAILED] * 2 + [FAILED + b"; closing"],
                         "3 APOP tries for %s in one session: it ends as"
                         " for any user" % user.decode())
                check(time.monotonic() - t >= 3, "each after"
                      " POP3D_AUTH_DELAY, as any failure")
            code, out = query(site, "127.0.0.70")
            check("penalty none" in out, "nothing counted against the"
                  " address: %r" % out)
            check(login(srv, "127.0.0.70", b"alice", b"alice-pw")
                  .startswith(b"+OK"), "a real user then logs in")
            check(digest_login(srv, "127.0.0.70", "CRAM-MD5", b"carol",
                               b"carol-secret")[0].startswith(b"+OK"),
                  "and carol with her secret")
            # Wrong digests for a user who has a secret are guesses.
            replies = []
            for _ in range(5):
                replies += digest_login(srv, "127.0.0.71", "CRAM-MD5",
                                        b"carol", b"guess")
            check_eq(replies[:4], [FAILED] * 4, "carol: four wrong digests")
            check_eq(replies[4], b"-ERR [LOGIN-DELAY] too many failed logins"
                     b" from your address; closing",
                     "the fifth blocks the address")
            check_eq(digest_login(srv, "127.0.0.72", "CRAM-MD5", b"carol",
                                  b"guess", tries=3)[-1],
                     FAILED + b"; closing", "and three in a session end it")
            srv.wait_all()
        log = srv.log()
        check_eq(len(re.findall(r"auth remote=127\.0\.0\.70 user=\S+ "
                                r"mech=\S+ result=no-secret", log)), 26,
                 "each logged as result=no-secret")
        check(not re.search(r"blocked remote=127\.0\.0\.70", log),
              "127.0.0.70 was never blocked")


@test
def ipv6_clients_count_by_prefix():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        with site.serve(host="::1", POP3D_PENALTY_FAILURES="2") as srv:
            check_eq([login(srv, None, b"bob", b"x") for _ in range(2)],
                     [b"-ERR [AUTH] authentication failed",
                      b"-ERR [LOGIN-DELAY] too many failed logins from your"
                      b" address; closing"], "two failures from ::1")
            check_eq(greeting(srv, None), HAMMERED, "::1 is blocked")
            srv.wait_all()
        check(re.search(r"blocked remote=::1 key=:: why=failures", srv.log()),
              "the log names the /64 as the key")
        code, out = query(site, "::2")
        check(re.search(r"^key ::$", out, re.M) and
              re.search(r"^penalty blocked until ", out, re.M),
              "another address of the /64 is blocked too: %r" % out)
        out = site.cli("penalty", "clear", "::5")
        check_eq(out.returncode, 0, "clearing any address of the /64")
        with site.serve(host="::1", POP3D_PENALTY_FAILURES="2",
                        POP3D_PENALTY_PREFIX6="128") as srv:
            login(srv, None, b"bob", b"x")
            login(srv, None, b"bob", b"x")
            srv.wait_all()
        out = subprocess.run(
            [RULES, "-d", site.cdb, "-s", site.state, "query", "::1"],
            env=dict(os.environ, POP3D_PENALTY_PREFIX6="128"),
            capture_output=True, text=True).stdout
        check("key" not in out and "penalty blocked" in out,
              "POP3D_PENALTY_PREFIX6=128 counts single addresses: %r" % out)
        check("penalty none" in query(site, "::2")[1],
              "so ::2 is not blocked then")


@test
def the_state_directory_is_made_or_logins_wait():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        fresh = os.path.join(tmp.path, "var", "pop3d")
        os.makedirs(os.path.dirname(fresh))
        with site.serve(POP3D_STATE_DIR=fresh,
                        POP3D_PENALTY_FAILURES="1") as srv:
            login(srv, "127.0.0.70", b"bob", b"x")
            check_eq(greeting(srv, "127.0.0.70"), HAMMERED,
                     "a missing state directory is made, and blocks work")
        check_eq(os.stat(fresh).st_mode & 0o777, 0o700, "made mode 0700")
        broken = os.path.join(tmp.path, "not-a-dir")
        open(broken, "w").close()
        with site.serve(POP3D_STATE_DIR=broken) as srv:
            check_eq(login(srv, "127.0.0.71", b"alice", b"alice-pw"),
                     b"-ERR [SYS/TEMP] temporary failure, try again later",
                     "an unusable state directory: no uncounted login")
            srv.wait_all()
        check("state-error" in srv.log(), "and it is logged")
        with site.serve(POP3D_STATE_DIR="") as srv:
            check(login(srv, "127.0.0.71", b"alice",
                        b"alice-pw").startswith(b"+OK"),
                  "POP3D_STATE_DIR empty: the box is off, logins work")


@test
def query_output():
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile("10.:allow,POP3D_GREETING='Hello, office'\n"
                     "10.1.2.0/24:deny\n:allow\n")
        code, out = query(site, "10.9.8.7")
        check_eq((code, out.splitlines()[:4]),
                 (0, ["address 10.9.8.7",
                      'rule 10.0.0.0/8 line 1 (pattern "10.")',
                      "action allow",
                      "setting POP3D_GREETING=Hello, office"]),
                 "query: the prefix rule and its setting")
        code, out = query(site, "::ffff:10.1.2.3")
        check_eq(out.splitlines()[:3],
                 ["address 10.1.2.3",
                  'rule 10.1.2.0/24 line 2 (pattern "10.1.2.0/24")',
                  "action deny"], "query: the most specific rule, mapped")
        code, out = query(site, "192.0.2.1")
        check_eq(out.splitlines()[1:3],
                 ['rule 0.0.0.0/0 line 3 (pattern "")', "action allow"],
                 "query: the default rule")
        check("penalty none" in out and "connections 0" in out,
              "query: penalty and connections: %r" % out)
        code = site.cli("query", "not-an-address").returncode
        check_eq(code, 1, "query of a bad address exits 1")
        bad = site.compile("10.1.2.3/8:deny\n")
        check(bad.returncode == 1 and "rules:1:" in bad.stderr,
              "a syntax error names file:line: %r" % bad.stderr)
        code, out = query(site, "10.1.2.3")
        check("action deny" in out, "and the old database stays in place")


def recheck(data):
    """Each record's check made again (lib/cdbcheck.h, written here from
    the format: FNV-1a 64 of the key's length, 4 octets little-endian, the
    key, the value's length and the value, 8 octets big-endian at the
    value's end), as a writer of the patched text would have made it."""
    data = bytearray(data)
    pos, end = 2048, struct.unpack("<L", data[:4])[0]
    while pos < end:
        kl, vl = struct.unpack("<LL", data[pos:pos + 8])
        k = bytes(data[pos + 8:pos + 8 + kl])
        v = bytes(data[pos + 8 + kl:pos + 8 + kl + vl - 8])
        h = 0xcbf29ce484222325
        for c in (struct.pack("<L", kl) + k + struct.pack("<L", len(v)) +
                  v):
            h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
        data[pos + 8 + kl + vl - 8:pos + 8 + kl + vl] = struct.pack(">Q", h)
        pos += 8 + kl + vl
    return bytes(data)


def patched_db(site, rule, old, new):
    """Compiles rule, then swaps the setting text old for new (as long) in
    rules.cdb, with the record's check made again: a database as a
    pop3d-rules older than its setting checks wrote it (cdb hashes keys,
    not values, and the header covers itself)."""
    check_eq(len(old), len(new), "the patch keeps the length")
    check_eq(site.compile(rule).returncode, 0, "compile %r" % rule)
    with open(site.cdb, "rb") as f:
        data = f.read()
    check_eq(data.count(old), 1, "the setting is in rules.cdb once")
    with open(site.cdb, "wb") as f:
        f.write(recheck(data.replace(old, new)))


@test
def rules_set_only_the_chains_settings():
    """Issue 14: a PATH= rule made the root front run another pop3d-auth;
    POP3D_AUTH_DELAY=abc compiled and refused its range with no hint."""
    with TempDir() as tmp:
        site = Site(tmp)
        cases = [
            ("10.:allow,PATH=/tmp/evil:/usr/bin\n", "rules:1: unknown "
             "setting PATH (pop3d-rules(5) lists those a rule may set)"),
            ("# office\n10.:allow,POP3D_CLEARTEXT=1,POP3D_AUTH_DELAY=abc\n",
             "rules:2: POP3D_AUTH_DELAY must be a number from 0 to 60"),
            ("10.:allow,POP3D_AUTH_DELAY=61\n",
             "rules:1: POP3D_AUTH_DELAY must be a number from 0 to 60"),
            ("10.:allow,POP3D_TLS_RELAY=/tmp/relay\n", "rules:1: "
             "POP3D_TLS_RELAY may not be set by a rule: it names a file or "
             "program the chain uses"),
            (":allow,POP3D_UNKNOWN_PEER=allow\n", "rules:1: "
             "POP3D_UNKNOWN_PEER may not be set by a rule"),
            ("10.:allow,POP3D_PENALTY_SCOPE=everyone\n", "rules:1: "
             "POP3D_PENALTY_SCOPE must be one of address|user"),
        ]
        for text, want in cases:
            out = site.compile(text)
            check(out.returncode == 1 and want in out.stderr,
                  "compile error %r: %r" % (want, out.stderr))
            out = site.cli("-f", site.rules, "check")
            check(out.returncode == 1 and want in out.stderr,
                  "check says the same: %r" % out.stderr)
        check(not os.path.exists(site.cdb), "and nothing was written")


@test
def query_and_front_refuse_an_old_databases_bad_settings():
    with TempDir() as tmp:
        site = Site(tmp)
        patched_db(site, "127.0.0.0/24:allow,POP3D_AUTH_DELAY=11\n:allow\n",
                   b"POP3D_AUTH_DELAY=11", b"POP3D_AUTH_DELAY=ab")
        code, out = query(site, "127.0.0.9")
        check_eq((code, out.splitlines()[2]),
                 (1, "action refused [SYS/TEMP]: bad setting in rule line "
                  "1: POP3D_AUTH_DELAY must be a number from 0 to 60"),
                 "query shows what the front does with a bad value")
        check("penalty none" in out, "and the address's state: %r" % out)
        code, out = query(site, "192.0.2.1")
        check_eq((code, out.splitlines()[2]), (0, "action allow"),
                 "the other rules are fine")
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.9"),
                     b"-ERR [SYS/TEMP] server misconfigured",
                     "the front refuses the range")
            srv.wait_all()
        check(re.search(r"rules-error file=\S+ line=1 rule=127\.0\.0\.0/24 "
                        r'error="POP3D_AUTH_DELAY must be a number from 0 '
                        r'to 60"', srv.log()),
              "its log names the rule's line: %r" % srv.log())
        patched_db(site, "127.0.0.0/24:allow,POP3D_IMPLEMENTATION=abcdefg\n",
                   b"POP3D_IMPLEMENTATION=abcdefg",
                   b"PATH=/tmp/evil:/usr/bin:/bin")
        code, out = query(site, "127.0.0.9")
        check_eq((code, out.splitlines()[2]),
                 (1, "action refused [SYS/TEMP]: bad setting in rule line "
                  "1: unknown setting PATH (pop3d-rules(5) lists those a "
                  "rule may set)"), "query: a PATH rule")
        with site.serve() as srv:
            check_eq(greeting(srv, "127.0.0.9"),
                     b"-ERR [SYS/TEMP] server misconfigured",
                     "the front never applies PATH")
        # Valid alone, refused in combination: query says so too.
        site.compile("127.0.0.0/24:allow,POP3D_TLS_REQUIRED=1\n")
        out = subprocess.run([RULES, "-d", site.cdb, "-s", site.state,
                              "query", "127.0.0.9"], capture_output=True,
                             text=True, env={"PATH": "/usr/bin:/bin"})
        check_eq((out.returncode, out.stdout.splitlines()[2]),
                 (1, "action refused [SYS/TEMP]: POP3D_TLS_REQUIRED=1 "
                  "without POP3D_TLS_CERT and POP3D_TLS_KEY (with this "
                  "environment)"), "query: a combination the front refuses")


@test
def the_state_directory_itself_is_checked():
    """Issue 14: a symbolic link, another user's directory, or one others
    may write was used silently: its owner could wipe every block."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        link = os.path.join(tmp.path, "state-link")
        os.symlink(site.state, link)
        temp = b"-ERR [SYS/TEMP] temporary failure, try again later"

        def refused(what, env_dir, want_path, fix):
            with site.serve(POP3D_STATE_DIR=env_dir) as srv:
                check_eq(login(srv, "127.0.0.80", b"alice", b"alice-pw"),
                         temp, "%s: no login the box cannot count" % what)
                srv.wait_all()
            log = srv.log()
            check(("state-error file=%s " % want_path) in log and
                  ('fix="%s"' % fix) in log,
                  "%s: logged with the absolute path and the fix: %r" %
                  (what, log))

        refused("a symbolic link", "state-link", link,
                "make it a real directory, not a symbolic link")
        fix = "chown it to the front's uid and chmod 0700 it"
        os.chmod(site.state, 0o770)
        refused("group-writable", site.state, site.state, fix)
        os.chmod(site.state, 0o707)
        refused("other-writable", site.state, site.state, fix)
        os.chmod(site.state, 0o700)
        if ROOT:
            os.chown(site.state, 65534, 65534)
            refused("another user's", site.state, site.state, fix)
            os.chown(site.state, 0, 0)
        with site.serve() as srv:
            check(login(srv, "127.0.0.80", b"alice",
                        b"alice-pw").startswith(b"+OK"),
                  "mended: logins work again")


def unix_session(site, env, lines=()):
    """pop3d with a UNIX socket pair for the client (no getpeername
    address), as a local proxy would run it: the replies, and the log."""
    a, b = socket.socketpair()
    full = site.env(**env)
    full["PATH"] = "/usr/bin:/bin"
    logf = os.path.join(site.tmp.path, "unix.log")
    with open(logf, "wb") as log:
        p = subprocess.Popen([POP3D, "mail.example.org",
                              os.path.join(BUILD, "pop3d-auth"),
                              os.path.join(BUILD, "pop3d-maildrop"),
                              "Maildir"], stdin=b, stdout=b, stderr=log,
                             env=full, cwd=site.tmp.path, close_fds=True)
    b.close()
    a.settimeout(30)
    r = Raw(a)
    replies = []
    try:
        replies.append(r.line())
        if replies[0].startswith(b"+OK"):
            for line in lines:
                replies.append(r.cmd(line))
    except (EOFError, OSError):
        pass
    r.close()
    p.wait(30)
    with open(logf) as f:
        return replies, f.read()


@test
def an_unknown_peer_fails_closed():
    """Issue 14: a UNIX-socket proxy or an unparsable TCPREMOTEIP turned
    the penalty box and the per-address limit off without a word."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow\n")
        refused = b"-ERR [SYS/TEMP] your address is unknown; try again later"
        for what, env, remote in (
                ("no address at all", {}, "unknown"),
                ("a TCPREMOTEIP that is no address",
                 {"TCPREMOTEIP": "bogus"}, "bogus")):
            replies, log = unix_session(site, env)
            check_eq(replies, [refused], "%s: refused" % what)
            check(("unknown-peer remote=%s action=refuse" % remote) in log,
                  "%s: logged: %r" % (what, log))
        login_lines = (b"USER alice", b"PASS alice-pw", b"QUIT")
        replies, log = unix_session(site, {"POP3D_UNKNOWN_PEER": "allow",
                                           "TCPREMOTEIP": "bogus",
                                           "POP3D_CLEARTEXT": "1"},
                                    login_lines)
        check(len(replies) == 4 and replies[2].startswith(b"+OK"),
              "POP3D_UNKNOWN_PEER=allow: the spawner vouches, logins work:"
              " %r" % replies)
        check("unknown-peer remote=bogus action=allow" in log,
              "and that is logged too: %r" % log)
        replies, log = unix_session(site, {"POP3D_STATE_DIR": "",
                                           "POP3D_CLEARTEXT": "1"},
                                    login_lines)
        check(replies[0].startswith(b"+OK") and
              "unknown-peer" not in log,
              "no penalty box and no limit: nothing to go past")
        replies, log = unix_session(site, {"POP3D_UNKNOWN_PEER": "yes"})
        check_eq(replies, [b"-ERR [SYS/TEMP] server misconfigured"],
                 "a bad POP3D_UNKNOWN_PEER is a bad setting")


@test
def a_user_block_survives_other_names():
    """Issue 14: failures under 16 other names lifted a real user's block
    (POP3D_PENALTY_SCOPE=user); now a full table blocks the address."""
    with TempDir() as tmp:
        site = Site(tmp)
        site.compile(":allow,POP3D_PENALTY_SCOPE=user\n")
        src = "127.0.0.90"
        with site.serve(POP3D_PENALTY_FAILURES="1",
                        POP3D_PENALTY_ADDRESS_FAILURES="1000") as srv:
            login(srv, src, b"alice", b"wrong")
            check("penalty-user alice blocked" in query(site, src)[1],
                  "alice is blocked from here")
            refusals = 0
            for i in range(40):
                reply = login(srv, src, b"other%d" % i, b"x")
                if reply == HAMMERED:
                    refusals += 1
                out = query(site, src)[1]
                if "penalty-user alice blocked" not in out:
                    break
            check("penalty-user alice blocked" in out,
                  "after 40 other names alice is still blocked: %r" % out)
            check("penalty blocked until" in out and refusals > 0,
                  "the full table blocked the whole address: %r" % out)


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""UIDLs carried over from Dovecot and Courier (pop3d-maildrop.8, UIDL):
a Maildir with a dovecot-uidlist (or a courierpop3dsizelist) keeps every
UIDL the old server gave, after the old file is removed, after a flag
change and after another message is deleted; mail delivered after the
switch gets pop3d's own; hostile files never crash the session nor make
two messages share a UIDL.  With Debian's Dovecot installed, the same
against the UIDLs Dovecot's own pop3 server reports, and mpop and
fetchmail (keep, with their UIDL state) that polled Dovecot fetch from
pop3d only the mail delivered after the switch; and mpop that polled a
stand-in giving Courier's UIDLs of a Courier-listed Maildir the same."""

import os
import re
import poplib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Spawner, TempDir, check,
                     check_eq, make_maildir, run_all, skip, test)

PROG = os.path.join(BUILD, "pop3d-maildrop")
UIDLIST = "dovecot-uidlist"
MAP = "pop3d-uidl.map"
UIDLIST_MAX = 1000000 * 256     # DOVECOT_UIDLIST_MAX (pop3d_limits.h)
LINE_MAX = 1024                 # DOVECOT_LINE_MAX
VALIDITY = 1796212228


def msg(i):
    return ("16000000%02d.M%dP7.old" % (i, i),
            b"Subject: m%d\n\nbody %d\n" % (i, i))


def dovecot_uidl(uid, validity=VALIDITY):
    """Dovecot's default pop3_uidl_format, %08Xu%08Xv: lower-case hex."""
    return "%08x%08x" % (uid, validity)


def write(md, name, data):
    with open(os.path.join(md, name), "wb") as f:
        f.write(data)
    if ROOT:
        os.chown(os.path.join(md, name), RUN_UID, RUN_GID)


def uidlist(lines, validity=VALIDITY, nextuid=100):
    """A dovecot-uidlist as Dovecot 2.3 writes it (version 3)."""
    head = b"3 V%d N%d G3085f01b7f11094c8d5500005f3c2e42\n" % (validity,
                                                           nextuid)
    return head + b"".join(l + b"\n" for l in lines)


def uidls(srv, dele=()):
    """{UIDL: Subject} of one session, after DELE of the numbers dele."""
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    got = {}
    for line in p.uidl()[1]:
        n, u = line.decode().split()
        head = p.top(int(n), 0)[1]
        subj = [h for h in head if h.startswith(b"Subject:")]
        got[u] = subj[0].decode() if subj else ""
    for n in dele:
        p.dele(n)
    p.quit()
    return got


def session(tmp, env=None, dele=()):
    with Spawner([PROG, "Maildir"], cwd=tmp.path, env=env) as srv:
        return uidls(srv, dele), srv.log()


def setup(tmp, n=6):
    md = make_maildir(os.path.join(tmp.path, "Maildir"),
                      cur=[(msg(i)[0] + ":2,S", msg(i)[1])
                           for i in range(1, n + 1) if i % 2],
                      new=[msg(i) for i in range(1, n + 1) if not i % 2])
    tmp.give()
    return md


def flag(md, i, flags):
    """Renames message i in cur/ to carry flags, as an IMAP server does."""
    cur = os.path.join(md, "cur")
    for f in os.listdir(cur):
        if f.startswith(msg(i)[0]):
            os.rename(os.path.join(cur, f),
                      os.path.join(cur, msg(i)[0] + ":2," + flags))


@test
def dovecot_uidls_carried_and_kept():
    with TempDir() as tmp:
        md = setup(tmp)
        # 1-4 listed (3 with an explicit POP3 UIDL, as Dovecot's
        # pop3_save_uidl writes it); 5 not: pop3d's own; 6 after the switch.
        write(md, UIDLIST, uidlist([
            b"1 G3085f01b7f11094c8d5500005f3c2e42 W30 S28 :" +
            msg(1)[0].encode(),
            b"2 W30 S28 :" + msg(2)[0].encode(),
            b"3 P0000beef-legacy :" + msg(3)[0].encode(),
            b"4 :" + msg(4)[0].encode(),
            b"9 :1599999999.M9P7.expunged"]))
        want = {dovecot_uidl(1): "Subject: m1", dovecot_uidl(2):
                "Subject: m2", "0000beef-legacy": "Subject: m3",
                dovecot_uidl(4): "Subject: m4", msg(5)[0]: "Subject: m5",
                msg(6)[0]: "Subject: m6"}
        got, log = session(tmp)
        check_eq(got, want, "Dovecot's UIDLs for the messages it listed, "
                 "pop3d's own for the others")
        check("uidl-carried" in log and "recorded=4" in log,
              "the carried UIDLs are logged as recorded")
        check(os.path.exists(os.path.join(md, MAP)), "and written to " + MAP)
        os.unlink(os.path.join(md, UIDLIST))
        flag(md, 1, "RS")
        got, log = session(tmp, dele=[2])
        check_eq(got, want, "the same after dovecot-uidlist is removed and "
                 "a flag changes")
        del want[dovecot_uidl(2)]
        # The scan cache is removed too: every UIDL from a full scan.
        os.unlink(os.path.join(md, "pop3d-scan.cache"))
        write(md, "new/1600000099.M99P7.new", b"Subject: m99\n\nnew\n")
        want["1600000099.M99P7.new"] = "Subject: m99"
        got, log = session(tmp)
        check_eq(got, want, "the same after another's DELE; new mail gets "
                 "pop3d's own UIDL")


@test
def uidl_format_setting():
    with TempDir() as tmp:
        md = setup(tmp, 2)
        write(md, UIDLIST, uidlist([b"1 :" + msg(1)[0].encode(),
                                    b"2 Gabcdef :" + msg(2)[0].encode()]))
        got, _ = session(tmp, env={"POP3D_DOVECOT_UIDL_FORMAT":
                                   "%v-%g-%04u"})
        check_eq(sorted(got), sorted(["%d-%s-0001" % (VALIDITY, msg(1)[0]),
                                      "%d-abcdef-0002" % VALIDITY]),
                 "POP3D_DOVECOT_UIDL_FORMAT: %v, %g (the base name without "
                 "a G), %04u")
    with TempDir() as tmp:
        setup(tmp, 2)
        p = subprocess.run([PROG, "Maildir"], cwd=tmp.path,
                           input=b"QUIT\r\n", capture_output=True,
                           env={"PATH": "/usr/bin:/bin", "USER": "t",
                                "POP3D_DOVECOT_UIDL_FORMAT": "%m"},
                           timeout=30, **({"user": RUN_UID, "group": RUN_GID,
                                           "extra_groups": []} if ROOT
                                          else {}))
        check(p.returncode == 101 and b"POP3D_DOVECOT_UIDL_FORMAT must be "
              b"a pop3_uidl_format" in p.stderr, "a format it cannot "
              "expand stops the session (exit 101, as any bad setting), "
              "the settings table's reason in the log")


def chain_uidls(srv, name):
    """The UIDLs name gets logged in through the whole chain."""
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    p.user(name)
    p.pass_("pw-" + name)
    got = sorted(line.decode().split()[1] for line in p.uidl()[1])
    p.quit()
    srv.wait_all()
    return got


@test
def uidl_format_per_user():
    """uidl-format in a users record (pop3d-users add -U) reaches
    pop3d-maildrop through pop3d-auth, for its user only."""
    from test_user_policy import MSGS as UMSGS, Records
    with TempDir() as tmp:
        site = Records(tmp, {"alice": ["-U", "%f"], "bob": []})
        for name in ("alice", "bob"):
            write(site.md[name], UIDLIST, uidlist(
                [b"%d :%s" % (i + 1, m[0].encode())
                 for i, m in enumerate(UMSGS)]))
        check_eq(site.users("list").stdout.decode().split("\n")[0]
                 .split()[-1], "uidl-format=%f", "list shows the format")
        with site.serve() as srv:
            alice = chain_uidls(srv, "alice")
            bob = chain_uidls(srv, "bob")
        check_eq(alice, sorted(m[0] for m in UMSGS),
                 "alice's record: uidl-format=%f, the base names")
        check_eq(bob, sorted(dovecot_uidl(i + 1)
                             for i in range(len(UMSGS))),
                 "bob, without: Dovecot's default %08Xu%08Xv")
        r = site.users("mod", "-U", "%u,%v", "alice", ok=False)
        check(r.returncode == 1 and b"cannot hold ',' or ':'" in r.stderr,
              "a format with the record's separators refused: %r" % (r,))
        r = site.users("mod", "-U", "%m", "alice", ok=False)
        check(r.returncode == 1 and b"bad uidl-format: POP3D_DOVECOT_UIDL_"
              b"FORMAT must be a pop3_uidl_format" in r.stderr,
              "a format the maildrop cannot expand refused: %r" % (r,))
        for bad in ("%u %v", "%v", "abc"):
            r = site.users("mod", "-U", bad, "alice", ok=False)
            check(r.returncode == 1 and b"with %u %f or %g, and no spaces"
                  in r.stderr, "a format that cannot give each message its "
                  "own valid UIDL refused (%r): %r" % (bad, r))
        site.users("mod", "-U", "-", "alice")
        check(b"uidl-format" not in site.users("list").stdout,
              "mod -U - clears it")


@test
def clash_log_bounded():
    """Every message a clash: 10 lines, then one count, not a flood."""
    with TempDir() as tmp:
        md = setup(tmp, 12)
        write(md, UIDLIST, uidlist([b"%d :%s" % (i, msg(i)[0].encode())
                                    for i in range(1, 13)]))
        for i in range(1, 13):
            write(md, "new/" + dovecot_uidl(i), b"Subject: c%d\n\nx\n" % i)
        got, log = session(tmp)
        check_eq(len(got), 24, "24 messages, 24 distinct UIDLs")
        check_eq(log.count("uidl-clash uidl="), 10,
                 "only the first 10 clashes logged one by one")
        check("uidl-clashes-unlogged count=2" in log,
              "the rest counted: %r" % (log,))


@test
def hostile_uidlist():
    with TempDir() as tmp:
        md = setup(tmp, 6)
        lines = [b"1 P" + b"x" * (LINE_MAX * 4) + b" :" + msg(1)[0].encode(),
                 b"2 Psame :" + msg(2)[0].encode(),
                 b"3 Psame :" + msg(3)[0].encode(),
                 b"\x00\xff\x01 binary \x7f :" + msg(4)[0].encode(),
                 b"5 P" + dovecot_uidl(6).encode() + b" :" +
                 msg(5)[0].encode(),
                 b"6 :" + msg(6)[0].encode(),
                 b"7 :" + b"a/b",
                 b"4294967296 :" + msg(4)[0].encode()]
        write(md, UIDLIST, uidlist(lines) + os.urandom(4096))
        # A file named like a carried UIDL: it loses its own to the carried.
        write(md, "new/same", b"Subject: m99\n\nx\n")
        got, log = session(tmp)
        check_eq(len(got), 7, "a hostile dovecot-uidlist: seven messages, "
                 "seven distinct UIDLs")
        check(got.get("same") != "Subject: m99" and
              "Subject: m99" in got.values(),
              "a file's own UIDL that is a carried one is changed")
        check_eq(got.get("same"), "Subject: m2", "a P UIDL twice: the first "
                 "line keeps it")
        check_eq(got.get(dovecot_uidl(3)), "Subject: m3",
                 "the second gets the format's")
        check_eq(got.get(msg(1)[0]), "Subject: m1",
                 "a line over the maximum is left out")
        check_eq(got.get(dovecot_uidl(6)), "Subject: m5",
                 "a P UIDL that is another's format UIDL: the first line's")
        check("uidl-clash uidl=same" in log and
              re.search(r"uidl-carried .*clashes=[1-9]", log),
              "the clashes are logged: %r" % (log,))
    with TempDir() as tmp:
        md = setup(tmp, 2)
        with open(os.path.join(md, UIDLIST), "wb") as f:
            f.write(uidlist([b"1 :" + msg(1)[0].encode()]))
            f.truncate(UIDLIST_MAX + 1)
        if ROOT:
            os.chown(os.path.join(md, UIDLIST), RUN_UID, RUN_GID)
        got, log = session(tmp)
        check_eq(sorted(got), sorted([msg(1)[0], msg(2)[0]]),
                 "a dovecot-uidlist over its maximum is ignored unread")
        check("uidl-file-ignored" in log, "and logged")
    with TempDir() as tmp:
        md = setup(tmp, 2)
        os.symlink("/dev/zero", os.path.join(md, UIDLIST))
        got, log = session(tmp)
        check_eq(sorted(got), sorted([msg(1)[0], msg(2)[0]]),
                 "a dovecot-uidlist that is a symbolic link is ignored")


@test
def courier_uidls_carried_and_kept():
    # Courier's pop3d (0.43 and later) moves new/ to cur/ and records
    # every message, with its flags, in courierpop3dsizelist (its /3 form;
    # /2 has no UTF-8 field) and reports UID<n>-<uidvalidity>.
    with TempDir() as tmp:
        md = setup(tmp, 4)
        write(md, "courierpop3dsizelist",
              b"/3 4 1700000000\n" +
              b"%s:2,S 28 1:1700000000:0\n" % msg(1)[0].encode() +
              b"%s:2, 28 2:1700000000:0\n" % msg(2)[0].encode() +
              b"%s:2,S 28 3:1700000000\n" % msg(3)[0].encode())
        want = {"UID1-1700000000": "Subject: m1",
                "UID2-1700000000": "Subject: m2",
                "UID3-1700000000": "Subject: m3",
                msg(4)[0]: "Subject: m4"}
        got, log = session(tmp)
        check_eq(got, want, "Courier's UIDLs for the messages it listed, "
                 "pop3d's own for the others")
        os.unlink(os.path.join(md, "courierpop3dsizelist"))
        flag(md, 2, "RS")
        got, _ = session(tmp, dele=[1])
        check_eq(got, want, "the same after courierpop3dsizelist is removed "
                 "and a flag changes")
        del want["UID1-1700000000"]
        os.unlink(os.path.join(md, "pop3d-scan.cache"))
        got, _ = session(tmp)
        check_eq(got, want, "the same after another's DELE")
    with TempDir() as tmp:
        md = setup(tmp, 3)
        write(md, "courierpop3dsizelist",
              b"/3 4 1700000000\n" +
              b"%s 28 1:1700000000:0\n" % msg(1)[0].encode() +
              b"%s 28 1:1700000000:0\n" % msg(2)[0].encode() +
              b"\xff\x00 junk\n" + b"x" * 5000 + b" 1 9:9\n" +
              b"%s 28 99999999999999999999999:1\n" % msg(3)[0].encode())
        got, log = session(tmp)
        check_eq(got, {"UID1-1700000000": "Subject: m1",
                       msg(2)[0]: "Subject: m2", msg(3)[0]: "Subject: m3"},
                 "a hostile courierpop3dsizelist: a UID twice goes to the "
                 "first line, bad lines are left out")


LDA = "/usr/lib/dovecot/dovecot-lda"
REAL_N = 1000       # the figure: every UIDL of 1,000 messages


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dovecot_conf(d, home, port, user="u", password="pw"):
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (user, password, RUN_UID,
                                                RUN_GID, home))
    os.chmod(os.path.join(d, "passwd"), 0o644)
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write("""# test_migrate.py: a private Dovecot, its defaults (and so
# pop3_uidl_format = %%08Xu%%08Xv) but for paths and the port.
base_dir = %(d)s/run
state_dir = %(d)s/state
instance_name = pop3d-test-%(port)d
log_path = %(d)s/log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
postmaster_address = postmaster@example.invalid
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = %(d)s/passwd
}
userdb {
  driver = passwd-file
  args = %(d)s/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(port)d
  }
}
""" % {"d": d, "port": port})
    return conf


def dovecot_pop(port, retr=(), dele=()):
    """{UIDL: Subject} as Dovecot's pop3 server reports them."""
    deadline = time.time() + 30
    while True:
        try:
            p = poplib.POP3("127.0.0.1", port, timeout=30)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    p.user("u")
    p.pass_("pw")
    got = {}
    for line in p.uidl()[1]:
        n, u = line.decode().split()
        subj = [h for h in p.top(int(n), 0)[1] if h.startswith(b"Subject:")]
        got[u] = subj[0].decode() if subj else ""
    for n in retr:
        p.retr(n)
    for n in dele:
        p.dele(n)
    p.quit()
    return got


def dovecot_ready(d, port):
    """Waits (30 s at most) for the pop3 listener and the userdb socket
    dovecot-lda asks: Dovecot starts its services after the master."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 5).close()
            if os.path.exists(os.path.join(d, "run", "auth-userdb")):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def lda(conf, i, user="u"):
    """Delivers message i; a temporary failure (75) is tried again, for
    an auth process still starting."""
    for _ in range(20):
        p = subprocess.run([LDA, "-c", conf, "-d", user, "-f",
                            "a@example.invalid"],
                           input=b"From: a@example.invalid\nSubject: real "
                           b"%d\n\nbody %d\n" % (i, i), timeout=60)
        if p.returncode != 75:
            break
        time.sleep(0.2)
    p.check_returncode()


@test
def real_dovecot_uidls():
    if not have_dovecot():
        skip("real_dovecot_uidls: needs root and Debian's dovecot-core and "
             "dovecot-pop3d (tests/deps.sh test)")
        return
    with TempDir() as tmp:
        d = os.path.join(tmp.path, "dovecot")
        os.makedirs(os.path.join(d, "run"))
        os.makedirs(os.path.join(d, "state"))
        md = make_maildir(os.path.join(tmp.path, "Maildir"))
        tmp.give()
        port = free_port()
        conf = dovecot_conf(d, tmp.path, port)
        dov = subprocess.Popen(["dovecot", "-c", conf, "-F"])
        try:
            check(dovecot_ready(d, port), "a private Dovecot started")
            for i in range(1, REAL_N + 1):
                lda(conf, i)
            # Through Dovecot: messages read (flags change, new/ to cur/)
            # and expunged.
            dovecot_pop(port, retr=range(1, 40), dele=[5, 17, 400])
            want = dovecot_pop(port)
        finally:
            dov.terminate()
            dov.wait(30)
        check_eq(len(want), REAL_N - 3, "Dovecot delivered %d messages and "
                 "expunged 3" % REAL_N)
        check(os.path.exists(os.path.join(md, UIDLIST)),
              "Dovecot wrote its dovecot-uidlist")
        got, log = session(tmp)
        check_eq(got, want, "pop3d reports every UIDL Dovecot reported, "
                 "for the same message")
        os.unlink(os.path.join(md, UIDLIST))
        os.unlink(os.path.join(md, "pop3d-scan.cache"))
        write(md, "new/1900000000.M1P1.after", b"Subject: after\n\nx\n")
        want["1900000000.M1P1.after"] = "Subject: after"
        got, log = session(tmp)
        check_eq(got, want, "the same with Dovecot's files removed; mail "
                 "delivered after the switch gets pop3d's own")


def have_dovecot():
    return ROOT and os.access(LDA, os.X_OK) and \
        shutil.which("dovecot") is not None


def mpop_poll(home, port, mbox):
    """mpop with its state (uidls file) in home, keeping mail on the
    server and fetching only what it has not seen: the messages it
    delivered to mbox."""
    open(mbox, "w").close()
    out = subprocess.run(
        ["mpop", "--host=127.0.0.1", "--port=%d" % port, "--user=alice",
         "--auth=user", "--passwordeval=echo alice-pw", "--tls=off",
         "--keep=on", "--only-new=on", "--half-quiet",
         "--uidls-file=" + os.path.join(home, "mpop-uidls"),
         "--delivery=mbox," + mbox],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, HOME=home))
    if out.returncode != 0:
        print("# " + out.stderr.replace("\n", "\n# "))
    with open(mbox, "rb") as f:
        data = f.read()
    # An mbox: one "From " line per message.
    return out.returncode, data.count(b"\nFrom ") + data.startswith(b"From ")


def after_the_switch(tmp, poll):
    """A client with state polls a private Dovecot (21 messages: Site's
    and 20 delivered with dovecot-lda), then pop3d serving the same
    Maildir with 2 more: poll(home, port, tag) returns (exit status,
    messages fetched)."""
    from test_sasl import Site
    site = Site(tmp)
    md = os.path.join(tmp.path, "Maildir")
    d = os.path.join(tmp.path, "dovecot")
    os.makedirs(os.path.join(d, "run"))
    os.makedirs(os.path.join(d, "state"))
    home = os.path.join(tmp.path, "client")
    os.makedirs(home, 0o700)
    port = free_port()
    conf = dovecot_conf(d, tmp.path, port, "alice", "alice-pw")
    dov = subprocess.Popen(["dovecot", "-c", conf, "-F"])
    try:
        check(dovecot_ready(d, port), "a private Dovecot started")
        for i in range(1, 21):
            lda(conf, i, "alice")
        first = poll(home, port, "1")
        again = poll(home, port, "2")
    finally:
        dov.terminate()
        dov.wait(30)
    for i in (1, 2):
        write(md, "new/19000000%02d.M%dP1.after" % (i, i),
              b"Subject: after %d\n\nx\n" % i)
    with site.serve() as srv:
        after = poll(home, srv.port, "3")
        srv.connections += 1
        srv.wait_all()
    return first, again, after


@test
def mpop_after_the_switch_fetches_only_new_mail():
    if not have_dovecot() or shutil.which("mpop") is None:
        skip("mpop_after_the_switch: needs root, mpop and Debian's Dovecot")
        return
    with TempDir() as tmp:
        first, again, after = after_the_switch(
            tmp, lambda home, port, tag: mpop_poll(
                home, port, os.path.join(home, tag + ".mbox")))
        check(first == (0, 21), "mpop fetched all 21 messages from "
              "Dovecot, keeping them (%r)" % (first,))
        check(again == (0, 0), "and nothing on its next poll")
        check(after == (0, 2), "polling pop3d after the switch, mpop "
              "fetches the 2 new messages and none of the 21 old (%r)"
              % (after,))



class CourierStandIn:
    """The old server of a Courier site, as its clients saw it: over a real
    socket, the Maildir's messages with the UIDLs Courier's documented
    courierpop3dsizelist gives them (UID<n>-<uidvalidity>), so that a
    client with state (mpop) learns them.  Only what mpop sends."""

    def __init__(self, msgs):
        self.msgs = msgs            # [(uidl, wire octets with CRLF)]
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(30)
                self.session(c.makefile("rwb"))

    def session(self, f):
        def say(text):
            f.write(text.encode() + b"\r\n")
            f.flush()
        say("+OK Courier stand-in")
        for line in f:
            w = line.decode("latin-1").strip().split()
            verb = w[0].upper() if w else ""
            if verb == "CAPA":
                say("+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.")
            elif verb in ("USER", "PASS", "NOOP", "RSET", "DELE"):
                say("+OK")
            elif verb == "STAT":
                say("+OK %d %d" % (len(self.msgs),
                                   sum(len(m) for _, m in self.msgs)))
            elif verb in ("LIST", "UIDL"):
                say("+OK")
                for i, (u, m) in enumerate(self.msgs, 1):
                    say("%d %s" % (i, u if verb == "UIDL" else len(m)))
                say(".")
            elif verb in ("RETR", "TOP") and len(w) > 1:
                m = self.msgs[int(w[1]) - 1][1]
                say("+OK")
                for l in m.split(b"\r\n")[:-1]:
                    f.write((b"." if l.startswith(b".") else b"") + l +
                            b"\r\n")
                say(".")
            elif verb == "QUIT":
                say("+OK")
                return
            else:
                say("-ERR")

    def close(self):
        self.sock.close()


@test
def mpop_after_a_switch_from_courier_fetches_only_new_mail():
    if shutil.which("mpop") is None:
        skip("mpop_after_a_switch_from_courier: needs mpop")
        return
    from test_sasl import Site
    with TempDir() as tmp:
        site = Site(tmp)
        md = os.path.join(tmp.path, "Maildir")
        # Courier moved everything to cur/ and listed it, with its flags.
        for name in os.listdir(os.path.join(md, "new")):
            os.rename(os.path.join(md, "new", name),
                      os.path.join(md, "cur", name + ":2,S"))
        for i in range(1, 6):
            write(md, "cur/%s:2,S" % msg(i)[0], msg(i)[1])
        names = sorted(os.listdir(os.path.join(md, "cur")))
        served, lines = [], []
        for n, name in enumerate(names, 1):
            with open(os.path.join(md, "cur", name), "rb") as f:
                data = f.read()
            served.append(("UID%d-1700000000" % n,
                           data.replace(b"\n", b"\r\n")))
            lines.append(b"%s %d %d:1700000000" % (name.encode(), len(data),
                                                   n))
        write(md, "courierpop3dsizelist", b"/3 %d 1700000000\n"
              % (len(names) + 1) + b"".join(l + b"\n" for l in lines))
        home = os.path.join(tmp.path, "client")
        os.makedirs(home, 0o700)
        old = CourierStandIn(served)
        try:
            first = mpop_poll(home, old.port, os.path.join(home, "1.mbox"))
            again = mpop_poll(home, old.port, os.path.join(home, "2.mbox"))
        finally:
            old.close()
        check(first == (0, len(names)), "mpop fetched the %d messages the "
              "old server listed, keeping them (%r)" % (len(names), first))
        check(again == (0, 0), "and nothing on its next poll")
        for i in (1, 2):
            write(md, "new/19000000%02d.M%dP1.after" % (i, i),
                  b"Subject: after %d\n\nx\n" % i)
        with site.serve() as srv:
            after = mpop_poll(home, srv.port, os.path.join(home, "3.mbox"))
            srv.connections += 1
            srv.wait_all()
        check(after == (0, 2), "polling pop3d after the switch, mpop "
              "fetches the 2 new messages and none of the old (%r)"
              % (after,))


def fetchmail_poll(home, port, tag):
    """fetchmail with keep (no fetchall) and UIDLs, its .fetchids in
    home, delivering each message it fetches to a file of its own in
    home/<tag> through an MDA: no SMTP server."""
    out_dir = os.path.join(home, tag)
    os.makedirs(out_dir)
    rc = os.path.join(home, ".fetchmailrc")
    with open(rc, "w") as f:
        # sslproto '': no STLS (pop3d offers it with a test certificate
        # fetchmail would not trust); fetchmail wants its rc file 0600.
        f.write("set no syslog\n"
                "poll 127.0.0.1 port %d protocol pop3 uidl auth password\n"
                "  user \"alice\" password \"alice-pw\"\n"
                "  keep no fetchall sslproto ''\n"
                "  mda \"/bin/sh -c 'cat > %s/$$.msg'\"\n"
                % (port, out_dir))
    os.chmod(rc, 0o600)
    out = subprocess.run(
        ["fetchmail", "-f", rc, "-i", os.path.join(home, ".fetchids"),
         "--nodetach", "--nosyslog", "-v"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, HOME=home, FETCHMAILHOME=home))
    # 0: mail fetched, 1: none there to fetch; anything else failed.
    if out.returncode not in (0, 1):
        print("# " + (out.stdout + out.stderr).replace("\n", "\n# "))
    return (out.returncode if out.returncode > 1 else 0,
            len(os.listdir(out_dir)))


@test
def fetchmail_after_the_switch_fetches_only_new_mail():
    if not have_dovecot() or shutil.which("fetchmail") is None:
        skip("fetchmail_after_the_switch: needs root, fetchmail and "
             "Debian's Dovecot")
        return
    with TempDir() as tmp:
        first, again, after = after_the_switch(tmp, fetchmail_poll)
        check(first == (0, 21), "fetchmail (keep, uidl) fetched all 21 "
              "messages from Dovecot (%r)" % (first,))
        check(again == (0, 0), "and nothing on its next poll (%r)"
              % (again,))
        check(after == (0, 2), "polling pop3d after the switch with the "
              "same .fetchids, fetchmail fetches the 2 new messages and "
              "none of the 21 old (%r)" % (after,))


if __name__ == "__main__":
    run_all(sys.argv[2:])

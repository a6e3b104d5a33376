"""mboxes Debian's exim4 delivers to /var/mail/USER (issue 19): what the
MTA writes and how it locks, which pop3d-maildrop relies on; deliveries
during a session, during UPDATE and racing session after session, none
lost or doubled; a local mail reader (bsd-mailx) rewriting the mbox; a
second session IN-USE; an empty spool file; a home the user may not
write.  The clients' side is test_mbox_clients.py, whose messages and
checks these share.  Needs root and exim4 (tests/deps.sh test): skipped
without them."""

import grp
import os
import poplib
import shutil
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (EXIM, SENDER, MailUser, TempDir, check, check_eq,
                     have_mta, run_all, skip, test)
from test_mbox_clients import MSGS, deliver_all


@test
def mta_writes_debian_mboxes():
    """The facts the server relies on, of the MTA installed here."""
    if not have_mta():
        return
    with MailUser() as u:
        check(u.read() is None, "no /var/mail/USER before the first "
              "delivery (useradd makes none)")
        strace = shutil.which("strace")
        trace = os.path.join(u.tmp.path, "trace")
        r = subprocess.run(([strace, "-f", "-o", trace, "-e",
                             "trace=link,fcntl"] if strace else []) +
                           [EXIM, "-odi", "-oi", "-f", SENDER, u.name],
                           input=MSGS[0], capture_output=True, timeout=120)
        check_eq(r.returncode, 0, "exim4 -odi delivers at once")
        deliver_all(u, MSGS[1:])
        st = os.stat(u.mbox)
        check_eq((st.st_uid, grp.getgrgid(st.st_gid).gr_name,
                  stat.S_IMODE(st.st_mode)), (u.uid, "mail", 0o660),
                 "/var/mail/USER: owner the user, group mail, mode 0660")
        if strace:
            with open(trace) as f:
                t = f.read()
            check('"%s.lock") = 0' % u.mbox in t and
                  "F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, "
                  "l_len=0}) = 0" in t, "it locks with a dotlock (link to "
                  "USER.lock) and fcntl F_WRLCK on the whole file")
        data = u.read()
        got = u.messages()
        check_eq(len(got), len(MSGS), "one From_ line per message")
        check(all(f.startswith(b"From " + SENDER.encode() + b" ")
                  for _, f, _ in got), "From_ lines: From SENDER DATE")
        check(data.endswith(b"\n\n") and all(s.endswith(b"\n\n")
                                             for s, _, _ in got),
              "each message ends with the empty line the MTA adds")
        c = [c for _, _, c in got]
        check(b"\n>From here on" in c[0] and b"\n>From the start" in
              c[0] and b"\n>From already quoted" in c[0] and
              b"\nFrom " not in c[0], "a body line 'From ' is quoted "
              "'>From ', one '>From ' left as it was (mboxo)")
        check(b"\r" not in c[3] and c[3].endswith(b"line one\nline two\n"),
              "CRLF is stored as LF")
        check(c[4].endswith(b"\xe9t\xe9 \xff\x80\xa0\n"), "8 bits stored")
        check(c[6].endswith(b"\n\nx\n\n\n") and c[7].endswith(b"\n\n"),
              "trailing empty lines kept (the separator is one more)")
        check(c[8].endswith(b"last line without a newline\n"),
              "a last line without LF gets one")
        check(all(b"\nReturn-path: <" + SENDER.encode() + b">\n" in
                  b"\n" + m for m in c), "a Return-path header added")


def removes_nothing(u, srv, p, n, why):
    """DELE n, QUIT: -ERR [SYS/TEMP] (why), the mbox as it was."""
    data = u.read()
    p.dele(n)
    try:
        r = p.quit()
    except poplib.error_proto as e:
        r = e.args[0]
    srv.wait_all()
    check(r.startswith(b"-ERR [SYS/TEMP]"), "QUIT after DELE: -ERR "
          "[SYS/TEMP], %s (%r)" % (why, r))
    check_eq(u.read(), data, "nothing removed")


@test
def empty_spool_file_and_a_home_not_writable():
    """An empty /var/mail/USER (useradd's CREATE_MAIL_SPOOL makes one)
    is 0 messages; a home the user may not write (no place for the
    journal): the session is served, but DELE's removal is refused at
    QUIT, nothing removed."""
    if not have_mta():
        return
    ro = TempDir()
    try:
        with MailUser(home=ro.path) as u, u.serve() as srv:
            with open(u.mbox, "wb"):
                pass
            os.chown(u.mbox, u.uid, grp.getgrnam("mail").gr_gid)
            os.chmod(u.mbox, 0o660)
            p = u.login(srv)
            check_eq(p.stat(), (0, 0), "an empty /var/mail/USER: empty")
            p.quit()
            if not deliver_all(u, MSGS[:3]):
                return
            p = u.login(srv)
            check_eq(p.stat()[0], 3, "home not writable: served")
            removes_nothing(u, srv, p, 1, "no place for its journal")
            check(ro.path in srv.log(), "the log names the home")
    finally:
        ro.cleanup()


def during_a_session(u, srv, gone, tag):
    """A session that lists the mbox, sees exim4 deliver one more, DELEs
    the messages gone and QUITs: the others and the new one are left."""
    p = u.login(srv)
    n = p.stat()[0]
    before = u.messages()
    check_eq(n, len(before), tag + ": STAT lists the mbox")
    late = b"Subject: late\n\ndelivered during session %s\n" % tag.encode()
    rc, took = u.deliver(late)
    check(rc == 0 and took < 2.5, tag + ": exim4 delivers during the "
          "session at once, no delivery lock held between commands "
          "(%.1f s; exim retries every 3 s)" % took)
    check_eq(p.stat()[0], n, tag + ": the session still lists %d" % n)
    for i in gone:
        p.dele(i)
    check(p.quit().startswith(b"+OK"), tag + ": DELE %r, QUIT: +OK"
          % (gone,))
    srv.wait_all()
    now = u.messages()
    kept = [m[0] for i, m in enumerate(before, 1) if i not in gone]
    check_eq([m[0] for m in now[:-1]], kept, tag + ": the messages not "
             "deleted are left as they were")
    check(len(now) == len(kept) + 1 and
          now[-1][2].endswith(late.split(b"\n\n")[1]), tag + ": the "
          "message delivered during the session is kept, after them")
    p = u.login(srv)
    check_eq(p.stat()[0], len(now), tag + ": the next session lists it")
    check_eq(p.retr(len(now))[1][-1], late.split(b"\n")[-2],
             tag + ": and RETRs it")
    p.quit()


@test
def delivery_during_a_session_is_kept():
    if not have_mta():
        return
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, MSGS[:3]):
            return
        during_a_session(u, srv, (1,), "first deleted")
        during_a_session(u, srv, (1, 3), "the last listed deleted")
        during_a_session(u, srv, (1, 2), "all deleted")
        data = u.read()
        check(data.startswith(b"From ") and len(u.messages()) == 1,
              "all listed deleted: the file is the new message")


def take_all(u, srv):
    """One session: RETR and DELE of every message, QUIT.  (Subjects
    taken, or [] with the -ERR when the session failed.)"""
    p = u.login(srv)
    try:
        got = []
        for i in range(1, p.stat()[0] + 1):
            got += [l for l in p.retr(i)[1] if l.startswith(b"Subject:")]
            p.dele(i)
        p.quit()
        return got, None
    except poplib.error_proto as e:
        p.close()
        return [], e.args[0]


@test
def deliveries_racing_sessions_lose_nothing():
    """exim4 delivers message after message while a client takes and
    DELEs all there is, session after session: each message is taken
    exactly once, none is lost."""
    if not have_mta():
        return
    n = 30
    with MailUser() as u, u.serve() as srv:
        rcs = []
        t = threading.Thread(target=lambda: rcs.extend(
            u.deliver(b"Subject: race %d\n\nbody %d\n" % (i, i))[0]
            for i in range(n)))
        t.start()
        taken, errors, sessions = [], [], 0
        deadline = time.time() + 240
        while time.time() < deadline:
            last = not t.is_alive()
            got, err = take_all(u, srv)
            taken += got
            sessions += 1
            if err:
                errors.append(err)
            if last:
                break
            time.sleep(0.02)
        t.join(60)
        check_eq(rcs, [0] * n, "exim4 delivered all %d (%d sessions ran "
                 "meanwhile)" % (n, sessions))
        check_eq(errors, [], "no session failed")
        check_eq(sorted(taken), sorted(b"Subject: race %d" % i
                                       for i in range(n)),
                 "every message taken once: none lost, none twice")
        check_eq(u.read(), b"", "and the mbox is empty")


MAILX = "/usr/bin/bsd-mailx"


def mailx_reads(u, cmds):
    """bsd-mailx, as the user, on the mbox (hold: read mail stays in it,
    marked Status: RO, the file rewritten in place under its locks)."""
    rc = os.path.join(u.home, ".mailrc")
    with open(rc, "w") as f:
        f.write("set hold\n")
    return subprocess.run(
        [MAILX, "-N", "-f", u.mbox], input=cmds, capture_output=True,
        user=u.uid, group=u.gid, extra_groups=[], cwd=u.home, timeout=60,
        env={"HOME": u.home, "MAILRC": rc, "PATH": "/usr/bin:/bin",
             "USER": u.name}).returncode


@test
def local_mua_marking_read():
    """A local mail reader (bsd-mailx) marks messages read: their UIDLs
    stay; a session that listed the mbox before it did removes nothing
    at QUIT (the messages moved), and says so."""
    if not have_mta():
        return
    if not os.access(MAILX, os.X_OK):
        return skip("local_mua_marking_read: needs bsd-mailx")
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, MSGS[:4]):
            return
        p = u.login(srv)
        before = p.uidl()[1]
        p.quit()
        check_eq(mailx_reads(u, b"p 1\np 3\nq\n"), 0, "mailx reads 1 and 3")
        data = u.read()
        check(data.count(b"\nStatus: RO\n") == 2, "and marks them read")
        p = u.login(srv)
        check_eq(p.uidl()[1], before, "the UIDLs are the same")
        check_eq(p.stat()[0], 4, "four messages still")
        check_eq(mailx_reads(u, b"p 2\nq\n"), 0, "mailx reads 2 during "
                 "the session")
        removes_nothing(u, srv, p, 4, "the mbox changed under it")
        p = u.login(srv)
        check_eq(p.uidl()[1], before, "the UIDLs still the same")
        p.dele(4)
        check(p.quit().startswith(b"+OK"), "DELE 4 in a new session: +OK")
        check_eq(len(u.messages()), 3, "removed")


@test
def second_session_is_in_use():
    if not have_mta():
        return
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, MSGS[:2]):
            return
        p = u.login(srv)
        p.stat()
        try:
            q = u.login(srv)
            check(False, "a second session logs in: %r" % (q.stat(),))
            q.quit()
        except poplib.error_proto as e:
            check(b"[IN-USE]" in e.args[0], "a second session gets "
                  "[IN-USE]: %r" % (e.args[0],))
        p.quit()
        p = u.login(srv)
        check_eq(p.stat()[0], 2, "after QUIT, a session again")
        p.quit()


@test
def mta_waits_for_the_update():
    """exim4 delivering while pop3d-maildrop holds the delivery locks in
    UPDATE (slowed under strace: its ftruncate waits 4 s) waits, retrying
    every 3 s, and then delivers: nothing lost."""
    if not have_mta():
        return
    strace = shutil.which("strace")
    if not strace:
        return skip("mta_waits_for_the_update: needs strace")
    with MailUser() as u:
        trace = os.path.join(u.home, "trace")
        wrap = [strace, "-o", trace, "-e", "trace=ftruncate,fsync",
                "-e", "inject=ftruncate:delay_enter=4000000"]
        with u.serve(wrap) as srv:
            if not deliver_all(u, MSGS[:3]):
                return
            before = u.messages()
            p = u.login(srv)
            p.stat()
            p.dele(1)
            res = {}
            t = threading.Thread(target=lambda: res.update(q=p.quit()))
            t.start()
            deadline = time.time() + 20
            while not os.path.exists(u.mbox + ".lock") and \
                    time.time() < deadline:
                time.sleep(0.01)
            check(os.path.exists(u.mbox + ".lock"), "UPDATE takes the "
                  "dotlock " + u.mbox + ".lock")
            late = b"Subject: during update\n\nwaited\n"
            rc, took = u.deliver(late)
            t.join(60)
            check_eq(res.get("q", b"")[:3], b"+OK", "QUIT: +OK")
            check(rc == 0 and took > 1, "exim4 waited for the lock "
                  "(%.1f s) and delivered" % took)
            srv.wait_all()
        now = u.messages()
        check_eq([s for s, _, _ in now[:-1]], [s for s, _, _ in before[1:]],
                 "message 1 removed, the others as they were")
        check(len(now) == 3 and now[-1][2].endswith(b"\n\nwaited\n"),
              "the message delivered during UPDATE is there, after them")
        with open(trace) as f:
            check("ftruncate(" in f.read(), "(UPDATE did call ftruncate)")


if __name__ == "__main__":
    run_all(sys.argv[2:])

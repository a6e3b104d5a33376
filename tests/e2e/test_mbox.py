"""pop3d-maildrop serving an mbox (pop3d-maildrop.8, MBOX): the real
binary on a loopback socket, driven with poplib and raw sockets, against
hand-made mboxes in a temporary home owned by the user under test."""

import grp
import hashlib
import os
import poplib
import socket
import stat
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
                     check, check_eq, run_all, skip, test, unstuffed_size,
                     wire_form)
import mboxlib  # noqa: E402
from mboxlib import message, served, write_mbox  # noqa: E402

PROG = os.path.join(BUILD, "pop3d-maildrop")

# The wire-form cases: dot lines, CRLF lines, a bare CR, a long line, a
# ">From " line (served as stored), a body-less message.
MSGS = [
    message(1, b".\n..\n.x\n>From here\n"),
    message(2, b"crlf line\r\nbare\rCR\r\n"),
    message(3, b"x" * 5000 + b"\n"),
    (mboxlib.from_line(4), b"Subject: headers only\n"),
    message(5, b"\nblank lines\n\n\ninside\n"),
]


def setup(tmp, msgs=MSGS, name="mbox"):
    path = os.path.join(tmp.path, name)
    write_mbox(path, msgs)
    tmp.give()
    return path


def spawner(tmp, path="mbox", env=None):
    e = {"USER": "nobody"}
    e.update(env or {})
    return Spawner([PROG, path], env=e, cwd=tmp.path)


def pop(srv):
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    srv.connections += 1
    return p


def uidls(p):
    return [l.split()[1] for l in p.uidl()[1]]


def read(path):
    with open(path, "rb") as f:
        return f.read()


@test
def retr_top_list_are_the_served_octets():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            count, octets = p.stat()
            check_eq(count, len(MSGS), "STAT counts every message")
            want = [unstuffed_size(served(c)) for _, c in MSGS]
            check_eq(octets, sum(want), "STAT octets: the wire sizes")
            check_eq([int(l.split()[1]) for l in p.list()[1]], want,
                     "LIST gives each message's wire size")
            p.quit()
            r = Raw(srv.connect())
            r.line()
            for i, (_, c) in enumerate(MSGS, 1):
                check_eq(r.cmd(b"RETR %d" % i), b"+OK %d octets" % want[i - 1],
                         "RETR %d announces its size" % i)
                check_eq(r.multiline(), wire_form(served(c)),
                         "RETR %d sends exactly its octets" % i)
                for n in (0, 1, 3):
                    r.cmd(b"TOP %d %d" % (i, n))
                    check_eq(r.multiline(), wire_form(served(c), top=n),
                             "TOP %d %d" % (i, n))
            check_eq(r.cmd(b"QUIT")[:3], b"+OK", "QUIT")
            r.close()


@test
def dele_quit_removes_exactly_those():
    with TempDir() as tmp:
        path = setup(tmp)
        before = os.stat(path)
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            p.dele(2)
            p.dele(4)
            check_eq(p.stat()[0], 3, "STAT leaves out deleted messages")
            check(p.quit().startswith(b"+OK"), "QUIT after DELE is +OK")
            kept = [MSGS[0], MSGS[2], MSGS[4]]
            check_eq(read(path), mboxlib.mbox_bytes(kept),
                     "the others are kept byte for byte")
            after = os.stat(path)
            check_eq((after.st_ino, after.st_uid, after.st_gid,
                      stat.S_IMODE(after.st_mode)),
                     (before.st_ino, RUN_UID, RUN_GID,
                      stat.S_IMODE(before.st_mode)),
                     "inode, owner, group and mode unchanged")
            check_eq([f for f in os.listdir(tmp.path)
                      if f.endswith((".journal", ".cutting"))], [],
                     "no journal left")
            p = pop(srv)
            check_eq(uidls(p), [u[0], u[2], u[4]],
                     "UIDLs stable after deleting others")
            p.dele(1)
            p.dele(2)
            p.dele(3)
            p.quit()
            check_eq(read(path), b"", "all deleted: an empty file")
            p = pop(srv)
            check_eq(p.stat(), (0, 0), "an empty mbox is 0 messages")
            p.quit()


@test
def rset_undeletes():
    with TempDir() as tmp:
        path = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            p.dele(1)
            p.rset()
            check_eq(p.stat()[0], len(MSGS), "RSET undeletes")
            p.quit()
        check_eq(read(path), mboxlib.mbox_bytes(MSGS), "nothing removed")


def make_spool(tmp, mode):
    """A spool directory of root's, as /var/mail (2775 root:mail) or
    /var/spool/mail (1777) are made."""
    spool = os.path.join(tmp.path, "spool")
    os.mkdir(spool)
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid if mode & 0o2000 else 0)
    os.chmod(spool, mode)
    return spool


@test
def missing_mbox_is_empty():
    for mode in (0o2775, 0o1777):
        with TempDir() as tmp:
            tmp.give()
            spool = make_spool(tmp, mode)
            with spawner(tmp, path=os.path.join(spool, "%u")) as srv:
                p = pop(srv)
                check_eq(p.stat(), (0, 0), "a missing mbox in a %o spool:"
                         " 0 messages" % mode)
                check(p.quit().startswith(b"+OK"), "QUIT")
            check(not os.path.exists(os.path.join(spool, "nobody")),
                  "nothing made in the spool")


@test
def missing_path_elsewhere_refused():
    """A missing path whose parent is no mail spool (root's 0755 here):
    a Maildir not there, refused as before; never an empty maildrop,
    which would hide the misconfiguration."""
    with TempDir() as tmp:
        tmp.give()
        other = os.path.join(tmp.path, "other")
        os.mkdir(other, 0o755)     # root's, not a spool
        line, log = refused(tmp, os.path.join(other, "nothere"))
        check(line.startswith(b"-ERR [SYS/PERM]"),
              "refused: %r %r" % (line, log))
        check(os.path.join(other, "nothere") in log, "the log names it")


@test
def percent_u_names_the_users_mbox():
    with TempDir() as tmp:
        os.mkdir(os.path.join(tmp.path, "spool"))
        write_mbox(os.path.join(tmp.path, "spool", "nobody"), MSGS[:2])
        tmp.give()
        with spawner(tmp, path="spool/%u") as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 2, "%u expanded to the user")
            p.quit()


def refused(tmp, path, env=None):
    with spawner(tmp, path=path, env=env) as srv:
        s = srv.connect()
        line = s.makefile("rb").readline()
        s.close()
        srv.wait_all()
        return line, srv.log()


@test
def not_an_mbox_and_too_large_are_refused():
    with TempDir() as tmp:
        with open(os.path.join(tmp.path, "notmbox"), "wb") as f:
            f.write(b"Subject: no From_ line\n\nhello\n")
        write_mbox(os.path.join(tmp.path, "big"),
                   [message(i, b"y" * 100 + b"\n") for i in range(20)])
        tmp.give()
        line, log = refused(tmp, "notmbox")
        check(line.startswith(b"-ERR [SYS/PERM]"), "not an mbox: SYS/PERM")
        check(os.path.join(tmp.path, "notmbox") in log,
              "the log names the file: %r" % log)
        line, log = refused(tmp, "big", {"POP3D_MBOX_MAX": "1024"})
        check_eq(line, b"-ERR [SYS/PERM] mailbox too large\r\n",
                 "over POP3D_MBOX_MAX")
        check(os.path.join(tmp.path, "big") in log and "1024" in log,
              "the log names the file and the limit: %r" % log)
        line, _ = refused(tmp, "big", {"POP3D_MBOX_MAX": "1023"})
        check(line.startswith(b"-ERR [SYS/TEMP] server misconfigured"),
              "POP3D_MBOX_MAX below its minimum is a bad setting")
        size = os.path.getsize(os.path.join(tmp.path, "big"))
        with spawner(tmp, path="big",
                     env={"POP3D_MBOX_MAX": str(size)}) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 20, "at the limit: served")
            p.quit()


@test
def symlink_fifo_and_others_file_refused():
    with TempDir() as tmp:
        setup(tmp)
        os.symlink("mbox", os.path.join(tmp.path, "link"))
        os.mkfifo(os.path.join(tmp.path, "fifo"))
        write_mbox(os.path.join(tmp.path, "theirs"), MSGS)
        tmp.give()
        os.chown(os.path.join(tmp.path, "theirs"), 0, 0)
        os.chmod(os.path.join(tmp.path, "theirs"), 0o666)
        for name in ("link", "fifo", "theirs"):
            line, log = refused(tmp, name)
            check(line.startswith(b"-ERR [SYS/PERM]"), "%s refused" % name)
            check(os.path.join(tmp.path, name) in log,
                  "the log names %s: %r" % (name, log))


@test
def trailing_slash_is_maildir():
    with TempDir() as tmp:
        tmp.give()
        spool = make_spool(tmp, 0o2775)
        line, log = refused(tmp, os.path.join(spool, "nothere") + "/")
        check(line.startswith(b"-ERR [SYS/PERM]"),
              "a missing path/ is a Maildir (refused), not an empty mbox")
        line, log = refused(tmp, os.path.join(spool, "nothere"))
        check(line.startswith(b"+OK"), "without the '/': an empty mbox")


@test
def second_session_in_use():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            s = srv.connect()
            line = s.makefile("rb").readline()
            check(line.startswith(b"-ERR [IN-USE]"),
                  "a second session: [IN-USE] (%r)" % line)
            s.close()
            p.quit()
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS), "free again after QUIT")
            p.quit()


@test
def mail_delivered_during_session_is_kept():
    with TempDir() as tmp:
        path = setup(tmp)
        new = message(99, b"arrived during the session\n")
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            mboxlib.deliver(path, new)
            check_eq(p.stat()[0], len(MSGS), "not listed in this session")
            p.dele(1)
            check(p.quit().startswith(b"+OK"), "QUIT removes message 1")
            check_eq(read(path), mboxlib.mbox_bytes(MSGS[1:] + [new]),
                     "the new message kept after the others")
            p = pop(srv)
            u2 = uidls(p)
            check_eq(u2[:-1], u[1:], "UIDLs stable across the delivery")
            check_eq(p.retr(len(MSGS))[1][-1], b"arrived during the session",
                     "the new message shows next session")
            p.quit()


@test
def x_uidl_reused_and_unique():
    msgs = [message(1, headers=b"X-UIDL: qpopper-1\n"),
            message(2, headers=b"X-UIDL:   spaced   \n"),
            message(3, headers=b"X-UIDL: qpopper-1\n"),
            message(4, headers=b"X-UIDL: bad uidl\n")]
    with TempDir() as tmp:
        setup(tmp, msgs)
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            check_eq(u[0], b"qpopper-1", "X-UIDL reused")
            check_eq(u[1], b"spaced", "X-UIDL trimmed")
            check(u[2] != b"qpopper-1", "a duplicate X-UIDL made unique")
            check(u[3] != b"bad", "an X-UIDL with a space is not used")
            check_eq(len(set(u)), 4, "all unique")
            p.quit()
            p = pop(srv)
            check_eq(uidls(p), u, "the same next session")
            p.quit()


@test
def x_uidl_cannot_take_an_older_uidl():
    """A new message whose X-UIDL is an older message's UIDL (a sender's
    trick) does not take it: duplicates are settled by file order."""
    with TempDir() as tmp:
        path = setup(tmp, [message(1), message(2)])
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            p.quit()
            mboxlib.deliver(path, message(50, b"spoof\n",
                                          b"X-UIDL: " + u[0] + b"\n"))
            p = pop(srv)
            u2 = uidls(p)
            p.quit()
        check_eq(u2[:2], u, "messages 1 and 2 keep their UIDLs")
        check(u2[2] not in u, "the new one gets another: %r" % u2[2])


@test
def status_change_keeps_uidl():
    with TempDir() as tmp:
        path = setup(tmp, [message(1), message(2)])
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            p.quit()
            # A local mail reader marks message 1 read.
            m1 = (mboxlib.from_line(1), b"Subject: message 1\nStatus: RO\n"
                  b"\nbody of 1\n")
            write_mbox(path, [m1, message(2)])
            os.chown(path, RUN_UID, RUN_GID)
            p = pop(srv)
            check_eq(uidls(p), u, "UIDLs survive a Status: header")
            p.quit()


INTERNAL = (b"From MAILER-DAEMON Thu Dec  3 08:00:00 2026\n",
            b"Date: Thu, 3 Dec 2026 08:00:00 +0000\n"
            b"From: Mail System Internal Data <MAILER-DAEMON@h>\n"
            b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
            b"X-IMAP: 1700000000 0000000002\n\n"
            b"This text is part of the internal format of your mail folder\n")


@test
def internal_message_hidden_and_kept():
    with TempDir() as tmp:
        path = setup(tmp, [INTERNAL] + MSGS[:3])
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 3, "the folder-internal message not listed")
            check_eq(p.retr(1)[1][0], b"Subject: message 1",
                     "message 1 is the first real one")
            p.dele(1)
            p.dele(2)
            p.dele(3)
            p.quit()
        check_eq(read(path), mboxlib.mbox_bytes([INTERNAL]),
                 "the internal message kept")


@test
def expire_zero_and_expire_days():
    with TempDir() as tmp:
        path = setup(tmp, MSGS[:3])
        with spawner(tmp, env={"POP3D_EXPIRE": "0"}) as srv:
            p = pop(srv)
            p.retr(2)
            p.quit()
        check_eq(read(path), mboxlib.mbox_bytes([MSGS[0], MSGS[2]]),
                 "EXPIRE 0: the retrieved message removed")
        with spawner(tmp, env={"POP3D_EXPIRE": "5"}) as srv:
            p = pop(srv)
            check(b"EXPIRE NEVER" in p.capa().get("EXPIRE", [b""])[0:1] or
                  p.capa().get("EXPIRE") == ["NEVER"],
                  "EXPIRE N > 0: NEVER advertised (%r)" % p.capa())
            p.retr(1)
            p.quit()
            check("expire=unsupported" in srv.log(), "logged")
        check_eq(read(path), mboxlib.mbox_bytes([MSGS[0], MSGS[2]]),
                 "EXPIRE 5: nothing removed")


@test
def home_not_writable_refuses_deletions():
    with TempDir() as tmp:
        os.mkdir(os.path.join(tmp.path, "home"))
        os.mkdir(os.path.join(tmp.path, "mail"))
        path = os.path.join(tmp.path, "mail", "mbox")
        write_mbox(path, MSGS[:2])
        tmp.give()
        home = os.path.join(tmp.path, "home")
        os.chown(home, 0, 0)
        os.chmod(home, 0o755)
        srv = Spawner([PROG, path], env={"USER": "nobody"}, cwd=home)
        with srv:
            p = pop(srv)
            p.dele(1)
            try:
                r = p.quit()
            except poplib.error_proto as e:
                r = e.args[0]
            check(r.startswith(b"-ERR [SYS/TEMP]"), "QUIT: -ERR [SYS/TEMP]"
                  " (%r)" % r)
            srv.wait_all()
            check(home in srv.log(), "the log names the home: %r" % srv.log())
        check_eq(read(path), mboxlib.mbox_bytes(MSGS[:2]), "nothing removed")


@test
def delivery_lock_waited_for():
    with TempDir() as tmp:
        path = setup(tmp, MSGS[:2])
        new = message(50)
        t = threading.Thread(target=mboxlib.deliver,
                             args=(path, new), kwargs={"hold": 1.0})
        with spawner(tmp) as srv:
            t.start()
            time.sleep(0.2)
            start = time.time()
            p = pop(srv)
            took = time.time() - start
            check_eq(p.stat()[0], 3, "waited for the delivery to end")
            check(took >= 0.5, "the session waited for the locks (%.2f s)" %
                  took)
            p.quit()
            t.join()


@test
def dotlock_held_too_long():
    with TempDir() as tmp:
        path = setup(tmp, MSGS[:2])
        # A live process's dotlock (ours, pid 1's: never stale).
        with open(path + ".lock", "w") as f:
            f.write("1\n")
        line, log = refused(tmp, "mbox")
        check_eq(line, b"-ERR [SYS/TEMP] mailbox locked by another program\r\n",
                 "past the deadline: SYS/TEMP")
        check(path in log, "the log names the file")
        os.unlink(path + ".lock")


@test
def dotlock_cannot_be_made():
    """A dotlock liblockfile cannot make (a spool neither the user nor
    group mail may write) is no lock held by another program: refused at
    once, [SYS/TEMP], the log names the lock file and liblockfile's
    code."""
    if not ROOT:
        skip("needs root: a spool the user may not write")
    with TempDir() as tmp:
        spool = os.path.join(tmp.path, "spool")
        os.mkdir(spool)
        path = setup(tmp, MSGS[:2], name="spool/mbox")
        os.chown(spool, 0, 0)
        os.chmod(spool, 0o755)
        t0 = time.monotonic()
        line, log = refused(tmp, "spool/mbox")
        took = time.monotonic() - t0
        check(line.startswith(b"-ERR [SYS/TEMP]"), "SYS/TEMP: %r" % line)
        check(b"locked by another program" not in line, "not 'locked'")
        check(took < 5, "at once, not after the lock wait (%.1f s)" % took)
        check("dotlock-failed" in log and path + ".lock" in log and
              "code=" in log, "logged with the lock file and code: %s" % log)


NONCE = b"0123456789abcdef"


def journal_case(tmp, path, drop, state, extra=b""):
    """A journal for removing message drop as a crash left it: "before"
    the rewrite (under its first name), "nonce" (content and nonce
    written, renamed to its cutting name, not yet cut) or "cut" (cut, the
    cutting journal not yet removed).  extra: more octets the file had
    after the messages (mail delivered during the session).  Its path."""
    data = read(path)
    st = os.stat(path)
    offs = [i for i in range(len(data) - len(extra))
            if data.startswith(b"From ", i) and (i == 0 or
                                                 data[i - 2:i] == b"\n\n")]
    F = offs[drop]
    end = offs[drop + 1] if drop + 1 < len(offs) else len(data)
    content = data[end:]
    S, N = len(data), len(data) - (end - F)
    j = mboxlib.journal(st, S, F, N, NONCE, content, data)
    if state != "before":
        k = min(mboxlib.JOURNAL_NONCE, S - N)
        with open(path, "r+b") as f:
            f.seek(F)
            f.write(content)
            f.seek(S - k)
            f.write(NONCE[:k])
            if state == "cut":
                f.truncate(N)
    jpath = os.path.join(tmp.path, mboxlib.side_name(
        st, "journal" if state == "before" else "cutting"))
    with open(jpath, "wb") as f:
        f.write(j)
    os.chown(jpath, RUN_UID, RUN_GID)
    return jpath


@test
def leftover_journal_recovered():
    for state in ("before", "nonce", "cut"):
        with TempDir() as tmp:
            path = setup(tmp)
            jpath = journal_case(tmp, path, 1, state)
            late = state != "cut"
            if late:
                # Mail delivered after the crash, before the recovery.
                mboxlib.deliver(path, message(77))
            with spawner(tmp) as srv:
                p = pop(srv)
                want = [MSGS[0]] + MSGS[2:] + ([message(77)] if late else [])
                check_eq(p.stat()[0], len(want),
                         "recovered (%s): the listing" % state)
                p.quit()
                check("mbox-journal-recovered" in srv.log(), "logged")
            check_eq(read(path), mboxlib.mbox_bytes(want),
                     "recovered (%s): message 2 gone, the rest once" % state)
            check(not os.path.exists(jpath), "the journal removed")


def cron(n):
    """A daily report: the same length and closing lines every day."""
    return (mboxlib.from_line(n), b"Subject: Cron <root@host> daily\n\nrun"
            b" %02d ok\n-- \nThis mail was sent by cron on host.example.org,"
            b" please do not reply to it, nobody reads it.\n" % n)


@test
def cut_then_same_length_mail_kept():
    """Cut, the cutting journal not yet removed, then a delivery of the
    same length and the same last octets as the message removed: the new
    mail is kept (the old test of the file's last octets took it for an
    unfinished rewrite and cut it away)."""
    with TempDir() as tmp:
        msgs = [message(1), cron(10)]
        path = setup(tmp, msgs)
        jpath = journal_case(tmp, path, 1, "cut")
        mboxlib.deliver(path, cron(11))
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 2, "the new cron mail listed")
            p.quit()
        check_eq(read(path), mboxlib.mbox_bytes([msgs[0], cron(11)]),
                 "the new cron mail kept whole")
        check(not os.path.exists(jpath), "the journal removed")


def stale_case(tmp, path, journal_for, F, N, content, what="journal",
               btime=(0, 0)):
    """A journal under this mbox's name written for the file as
    journal_for (its octets) was, which it no longer is."""
    jpath = os.path.join(tmp.path, mboxlib.side_name(os.stat(path), what))
    with open(jpath, "wb") as f:
        f.write(mboxlib.journal(os.stat(path), len(journal_for), F, N, NONCE,
                                content, journal_for, btime))
    os.chown(jpath, RUN_UID, RUN_GID)
    return jpath


def check_stale(tmp, srv, path, jpath, want, what):
    """The journal not applied: the file as it is, the journal renamed
    aside, logged with both paths; removals go on."""
    p = pop(srv)
    check_eq(p.stat()[0], len(want), "%s: listed as the file is" % what)
    p.dele(1)
    check(p.quit().startswith(b"+OK"), "%s: a removal not held back" % what)
    srv.wait_all()
    log = srv.log()
    aside = [n for n in os.listdir(tmp.path) if ".stale." in n]
    check(not os.path.exists(jpath) and len(aside) == 1 and
          aside[0].startswith(os.path.basename(jpath) + ".stale."),
          "%s: the journal renamed aside: %r" % (what, aside))
    check("mbox-journal-stale" in log and jpath in log and path in log and
          os.path.join(tmp.path, aside[0]) in log,
          "%s: logged with the journal's, its new and the mbox's paths: %r"
          % (what, log))
    check("rewrite redone" not in log, "%s: not redone" % what)
    check_eq(read(path), mboxlib.mbox_bytes(want[1:]),
             "%s: the mail there kept, message 1 removed" % what)


@test
def stale_journal_not_redone():
    """A crash left the journal under its first name; before the next
    login a mail reader rewrote the file (everything deleted, or the
    file removed and a new one given its inode) and new mail grew it past
    the recorded size: the journal is not redone over content it never
    saw (it wrote the old messages back and cut the new mail as if
    appended after the crash)."""
    new = [message(i, b"new mail %d\n" % i) for i in range(11, 14)]
    with TempDir() as tmp:
        path = setup(tmp, new)
        old = mboxlib.mbox_bytes([message(7, b"old kept\n")]) + b"x" * 40
        N = len(old) - 40
        jpath = stale_case(tmp, path, old, 0, N, old[:N])
        with spawner(tmp) as srv:
            check_stale(tmp, srv, path, jpath, new, "removed all")
    # The first message kept by the reader, the rest rewritten.
    with TempDir() as tmp:
        path = setup(tmp, MSGS[:1] + new)
        old = mboxlib.mbox_bytes(MSGS[:2])
        F = N = len(mboxlib.mbox_bytes(MSGS[:1]))
        jpath = stale_case(tmp, path, old, F, N, b"")
        with spawner(tmp) as srv:
            check_stale(tmp, srv, path, jpath, MSGS[:1] + new, "rewritten")
    # Only the octets before the rewrite differ.
    with TempDir() as tmp:
        path = setup(tmp, new)
        data = read(path)
        old = b"Y" + data[1:]
        F = len(mboxlib.mbox_bytes(new[:1]))
        N = F + len(mboxlib.mbox_bytes(new[2:]))
        jpath = stale_case(tmp, path, old, F, N, data[-(N - F):])
        with spawner(tmp) as srv:
            check_stale(tmp, srv, path, jpath, new, "octets before F")
    # The same octets, another birth time (when the file system keeps it).
    with TempDir() as tmp:
        path = setup(tmp, new)
        born = subprocess.run(["stat", "-c", "%W", path],
                              stdout=subprocess.PIPE).stdout.strip()
        if born in (b"0", b"-", b""):
            skip("no birth time on this file system")
            return
        data = read(path)
        F = len(mboxlib.mbox_bytes(new[:1]))
        N = F + len(mboxlib.mbox_bytes(new[2:]))
        jpath = stale_case(tmp, path, data, F, N, data[-(N - F):],
                           btime=(int(born) - 1, 0))
        with spawner(tmp) as srv:
            check_stale(tmp, srv, path, jpath, new, "birth time")


def journal_refused(tmp, jpath, data):
    """A session over an mbox whose journal (jpath, written) is not one to
    redo: listed as it is, QUIT removes nothing, the journal is left and
    logged with its path, the mbox still holds data."""
    os.chown(jpath, RUN_UID, RUN_GID)
    with spawner(tmp) as srv:
        p = pop(srv)
        check_eq(p.stat()[0], 3, "listed as it is")
        p.dele(1)
        r = quit_reply(p)
        check(r.startswith(b"-ERR"), "no removal: %r" % r)
        srv.wait_all()
        check("mbox-journal-foreign" in srv.log() and jpath in srv.log(),
              "logged with the journal's path: %r" % srv.log())
    check(os.path.exists(jpath), "the journal left")
    check_eq(read(os.path.join(tmp.path, "mbox")), data, "nothing removed")


@test
def older_format_journal_left_alone():
    """A journal of the format before the file's identity was kept cannot
    show the file is still its own: left and logged as another file's is,
    no removal meanwhile (dropped, a half-done rewrite would stay)."""
    with TempDir() as tmp:
        path = setup(tmp, END_MSGS)
        st = os.stat(path)
        data = read(path)
        S, N = len(data), len(data) - 10
        head = b"P3MBOXJ2" + struct.pack("<6Q", st.st_dev, st.st_ino, S, 0,
                                         N, 10) + NONCE
        j = head + data[10:]
        j += hashlib.sha256(j).digest()[:8]
        jpath = os.path.join(tmp.path, mboxlib.side_name(st, "journal"))
        with open(jpath, "wb") as f:
            f.write(j)
        journal_refused(tmp, jpath, data)


@test
def bad_journal_dropped():
    with TempDir() as tmp:
        path = setup(tmp)
        jpath = journal_case(tmp, path, 1, "before")
        with open(jpath, "r+b") as f:
            f.seek(-1, 2)
            f.write(b"\0")
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], len(MSGS), "a bad journal changes nothing")
            p.quit()
            check("mbox-journal-dropped" in srv.log(), "logged")
        check(not os.path.exists(jpath), "the bad journal removed")
        check_eq(read(path), mboxlib.mbox_bytes(MSGS), "the mbox as it was")


END_MSGS = [message(1, b"one\n"), message(2, b"two\n"),
            message(3, b"three tail xyz\n")]


def quit_reply(p):
    try:
        return p.quit()
    except poplib.error_proto as e:
        return e.args[0]


@test
def last_message_changed_in_place_refused():
    """The last listed message grown in place by a mail reader (Status:
    added), or shrunk and then mail delivered, before a QUIT that removes
    it: nothing removed (the old check trusted [listed end, size) to be
    new mail: remnants glued to a kept message, or the start of new mail
    cut off)."""
    m3 = END_MSGS[2]
    for how in ("grown", "shrunk"):
        with TempDir() as tmp:
            first = m3 if how == "grown" else \
                (m3[0], b"Status: O\nContent-Length: 15\n" + m3[1])
            path = setup(tmp, END_MSGS[:2] + [first])
            later = (m3[0], b"Status: RO\n" + m3[1]) if how == "grown" \
                else (m3[0], b"Status: O\n" + m3[1])
            new = message(99, b"delivered later\n")
            with spawner(tmp) as srv:
                p = pop(srv)
                p.dele(3)
                data = mboxlib.mbox_bytes(END_MSGS[:2] + [later])
                with open(path, "r+b") as f:
                    f.write(data)
                    f.truncate(len(data))
                if how == "shrunk":
                    mboxlib.deliver(path, new)
                    data = read(path)
                r = quit_reply(p)
                check(r.startswith(b"-ERR [SYS/TEMP] mailbox changed"),
                      "%s: QUIT refused: %r" % (how, r))
            check_eq(read(path), data, "%s: nothing removed" % how)


@test
def unchanged_end_then_delivery_removes():
    """The listed end where it was, then a delivery: the removal goes on
    and the new mail is kept (the end check refuses only a changed end)."""
    with TempDir() as tmp:
        path = setup(tmp, END_MSGS)
        with spawner(tmp) as srv:
            p = pop(srv)
            p.dele(3)
            mboxlib.deliver(path, message(98))
            check(p.quit().startswith(b"+OK"), "QUIT removes")
        check_eq(read(path), mboxlib.mbox_bytes(END_MSGS[:2] +
                                                [message(98)]),
                 "message 3 gone, the delivered one kept")


@test
def shared_home_journals_apart():
    """Two mboxes sharing a home (single-uid virtual users): a session on
    one leaves the other's pending journal alone (it was removed: a
    duplicated tail), and two UPDATEs at once do not cross."""
    with TempDir() as tmp:
        pa = os.path.join(tmp.path, "a.mbox")
        pb = os.path.join(tmp.path, "b.mbox")
        write_mbox(pa, END_MSGS)
        write_mbox(pb, END_MSGS)
        tmp.give()
        jpath = journal_case(tmp, pa, 0, "nonce")
        with spawner(tmp, "b.mbox") as srv:
            p = pop(srv)
            p.dele(2)
            check(p.quit().startswith(b"+OK"), "b.mbox: QUIT")
        check(os.path.exists(jpath), "a.mbox's journal left alone")
        check_eq(read(pb), mboxlib.mbox_bytes([END_MSGS[0], END_MSGS[2]]),
                 "b.mbox: message 2 removed")
        with spawner(tmp, "a.mbox") as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 2, "a.mbox recovered: 2 messages")
            p.quit()
        check_eq(read(pa), mboxlib.mbox_bytes(END_MSGS[1:]),
                 "a.mbox: messages 2 and 3 once each")
    big = [message(i, b"x" * 200000 + b"\n") for i in range(1, 6)]
    with TempDir() as tmp:
        for name in ("a.mbox", "b.mbox"):
            write_mbox(os.path.join(tmp.path, name), big)
        tmp.give()
        with spawner(tmp, "a.mbox") as sa, spawner(tmp, "b.mbox") as sb:
            pa_, pb_ = pop(sa), pop(sb)
            pa_.dele(1)
            pb_.dele(2)
            replies = []
            ts = [threading.Thread(target=lambda q: replies.append(q.quit()),
                                   args=(q,)) for q in (pa_, pb_)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            check_eq(len(replies), 2, "both QUITs answered")
        check_eq(read(os.path.join(tmp.path, "a.mbox")),
                 mboxlib.mbox_bytes(big[1:]), "a.mbox: message 1 removed")
        check_eq(read(os.path.join(tmp.path, "b.mbox")),
                 mboxlib.mbox_bytes(big[:1] + big[2:]),
                 "b.mbox: message 2 removed")


@test
def foreign_journal_left_alone():
    """A journal under this mbox's name that records another file (a
    restored home): left, logged with its path, no removal meanwhile."""
    with TempDir() as tmp:
        path = setup(tmp, END_MSGS)
        other = os.path.join(tmp.path, "other")
        write_mbox(other, END_MSGS)
        st = os.stat(path)
        data = read(other)
        jpath = os.path.join(tmp.path, mboxlib.side_name(st, "journal"))
        with open(jpath, "wb") as f:
            f.write(mboxlib.journal(os.stat(other), len(data), 0,
                                    len(data) - 10, NONCE, data[10:], data))
        journal_refused(tmp, jpath, mboxlib.mbox_bytes(END_MSGS))


def chattr(path, flag):
    return subprocess.run(["chattr", flag, path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


@test
def committed_journal_means_removed():
    """The journal committed but the rewrite cut short (the file made
    append-only during the session: its ftruncate fails): QUIT answers
    +OK, the log says the removal completes at the next lock and names
    the journal, and the next session finishes it."""
    with TempDir() as tmp:
        path = setup(tmp, END_MSGS)
        st = os.stat(path)
        jpath = os.path.join(tmp.path, mboxlib.side_name(st, "cutting"))
        with spawner(tmp) as srv:
            p = pop(srv)
            p.dele(1)
            if not chattr(path, "+a"):
                p.quit()
                skip("chattr +a not supported here")
                return
            try:
                r = quit_reply(p)
                check(r.startswith(b"+OK"), "QUIT: +OK once committed: %r"
                      % r)
                srv.wait_all()
                log = srv.log()
                check("mbox-journal-pending" in log and jpath in log,
                      "logged with the journal's path (renamed to its"
                      " cutting name before the cut): %r" % log)
            finally:
                chattr(path, "-a")
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 2, "finished at the next lock")
            p.quit()
        check_eq(read(path), mboxlib.mbox_bytes(END_MSGS[1:]),
                 "message 1 removed, the others once")
        check(not os.path.exists(jpath), "the journal removed")


@test
def journal_problem_names_the_journal():
    """A journal that cannot be used (a symbolic link here): the login is
    refused for now and the log names the journal, not the mbox (it
    blamed the mbox: "a symbolic link: refused")."""
    with TempDir() as tmp:
        path = setup(tmp, END_MSGS)
        jpath = os.path.join(tmp.path, mboxlib.side_name(os.stat(path),
                                                         "journal"))
        os.symlink("/etc/passwd", jpath)
        line, log = refused(tmp, "mbox")
        check(line.startswith(b"-ERR [SYS/TEMP]"), "refused for now: %r"
              % line)
        check(jpath in log and "a symbolic link" not in log,
              "the log names the journal: %r" % log)
        check(os.path.islink(jpath), "left for the administrator")


@test
def cache_dropped_after_update():
    """After an UPDATE the index is removed: the next session reads the
    file anew rather than trust offsets that moved (kept, the index took
    a file rewritten as messages 2, 1, 3 and new mail for one that only
    grew: the listing of before)."""
    m = END_MSGS
    with TempDir() as tmp:
        path = setup(tmp, m)
        cache = os.path.join(tmp.path, mboxlib.side_name(os.stat(path),
                                                         "cache"))
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            p.dele(1)
            p.quit()
            check(not os.path.exists(cache), "the cache removed")
            # A mail reader puts message 1 back, then new mail comes.
            data = mboxlib.mbox_bytes([m[1], m[0], m[2]])
            with open(path, "r+b") as f:
                f.write(data)
            mboxlib.deliver(path, message(4))
            p = pop(srv)
            u2 = uidls(p)
            p.quit()
        check_eq(u2[:3], [u[1], u[0], u[2]], "listed anew, in file order")


@test
def changed_by_another_program():
    with TempDir() as tmp:
        path = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            p.dele(2)
            # A mail reader rewrites the file in place, message 1 gone.
            with open(path, "r+b") as f:
                rest = mboxlib.mbox_bytes(MSGS[1:])
                f.write(rest)
                f.truncate(len(rest))
            try:
                r = p.quit()
            except poplib.error_proto as e:
                r = e.args[0]
            check(r.startswith(b"-ERR [SYS/TEMP] mailbox changed"),
                  "QUIT refused: %r" % r)
        check_eq(read(path), mboxlib.mbox_bytes(MSGS[1:]), "nothing removed")


@test
def retr_after_rewrite_is_refused():
    """A mail reader rewrites the mbox during the session: RETR and TOP
    answer -ERR for a message that is not the one listed (another with the
    same From_ line where it stood, or its length changed), never +OK with
    other octets."""
    with TempDir() as tmp:
        fl = mboxlib.from_line(7)
        a = (fl, b"Subject: A\n\nsecret A body\n")
        b = (fl, b"Subject: B\n\nbody of message B, longer\n")
        c = message(8)
        path = setup(tmp, [a, b, c])
        with spawner(tmp) as srv:
            p = pop(srv)
            with open(path, "r+b") as f:    # message 1 removed
                x = mboxlib.mbox_bytes([b, c])
                f.write(x)
                f.truncate(len(x))
            for cmd in (lambda: p.retr(1), lambda: p.top(1, 0)):
                try:
                    r = cmd()
                    check(False, "not +OK: %r" % (r,))
                except poplib.error_proto as e:
                    check_eq(e.args[0], b"-ERR [SYS/TEMP] message 1 was"
                             b" changed by another program",
                             "message 1 changed")
            p.quit()
        write_mbox(path, [a, b])
        os.chown(path, RUN_UID, RUN_GID)
        with spawner(tmp) as srv:
            p = pop(srv)
            with open(path, "r+b") as f:    # message 2 one line longer
                x = mboxlib.mbox_bytes([a, (b[0], b[1] + b"more\n")])
                f.write(x)
                f.truncate(len(x))
            try:
                r = p.retr(2)
                check(False, "not +OK: %r" % (r,))
            except poplib.error_proto as e:
                check(e.args[0].startswith(b"-ERR [SYS/TEMP] message 2 was"
                                           b" changed"),
                      "a longer message 2: %r" % e.args[0])
            check_eq(p.retr(1)[1][0], b"Subject: A", "message 1 still served")
            p.quit()


@test
def retr_cut_short_ends_session():
    """The mbox cut short while a message is sent: no final ".", the
    session ends (a client must not take a part for the message)."""
    with TempDir() as tmp:
        big = message(1, (b"w" * 1023 + b"\n") * (16 * 1024))
        path = setup(tmp, [big, message(2)])
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            check(r.line().startswith(b"+OK"), "greeting")
            r.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            check(r.cmd(b"RETR 1").startswith(b"+OK"), "+OK before the cut")
            time.sleep(0.5)     # the server blocks on a full socket
            with open(path, "r+b") as f:
                f.truncate(len(big[0]) + 100000)
            got = r.buf
            r.s.settimeout(20)
            while True:
                d = r.s.recv(65536)
                if not d:
                    break
                got += d
            check(len(got) < len(big[1]), "only a part sent (%d)" % len(got))
            check(not got.endswith(b"\r\n.\r\n"), "no final dot")
            time.sleep(0.2)
            check("read-failed" in srv.log(), "logged as a read error")


def peak_kb(srv):
    with open("/proc/%d/status" % srv.last_proc().pid) as f:
        return int([l for l in f if l.startswith("VmHWM")][0].split()[1])


def check_peak(srv, limit_kb, what):
    """Peak memory under limit_kb; not measured on the sanitizer build,
    whose shadow memory is no part of what is deployed."""
    kb = peak_kb(srv)
    with open(PROG, "rb") as f:
        if b"__asan_init" in f.read():
            skip("peak RSS (%s) on the sanitizer build: %d kB" % (what, kb))
            return
    check(kb < limit_kb, "peak RSS %d kB (%s)" % (kb, what))


@test
def many_messages_memory_flat():
    """100,000 messages: a session's peak memory within 20 MB, read or
    from the cache; POP3D_MAX_MESSAGES serves the newest."""
    n = 100000
    with TempDir() as tmp:
        path = os.path.join(tmp.path, "mbox")
        with open(path, "wb") as f:
            for i in range(n):
                f.write(mboxlib.from_line(i) + b"From: a%d@example.org\n"
                        b"Subject: %d\n\n" % (i, i) + b"x\n" * (i % 20) +
                        b"\n")
        tmp.give()
        with spawner(tmp) as srv:
            for what in ("read", "from the cache"):
                p = pop(srv)
                check_eq(p.stat()[0], n, "%d messages (%s)" % (n, what))
                p.list()
                p.uidl()
                check_peak(srv, 20 * 1024, what)
                p.quit()
        with spawner(tmp, env={"POP3D_MAX_MESSAGES": "60000"}) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 60000, "POP3D_MAX_MESSAGES: the newest")
            check_eq(p.retr(60000)[1][1], b"Subject: %d" % (n - 1),
                     "the last message is the newest")
            check_eq(p.retr(1)[1][1], b"Subject: %d" % (n - 60000),
                     "the first the oldest of those")
            p.quit()


@test
def damaged_cache_over_maximum():
    """An index found bad only at its checksum, after its records were
    taken, with more messages than POP3D_MAX_MESSAGES: what the index gave
    is dropped and the whole file parsed, still the newest maximum (the
    second pass's skip is not spent on the bad index)."""
    first = [message(i) for i in range(1, 11)]
    with TempDir() as tmp:
        path = setup(tmp, first)
        cache = os.path.join(tmp.path, mboxlib.side_name(os.stat(path),
                                                         "cache"))
        with spawner(tmp, env={"POP3D_MAX_MESSAGES": "15"}) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 10, "ten messages")
            p.quit()
            check(os.path.exists(cache), "the index written")
            for i in range(11, 21):
                mboxlib.deliver(path, message(i))
            with open(cache, "r+b") as f:   # one octet of the checksum
                f.seek(-1, os.SEEK_END)
                b = f.read(1)
                f.seek(-1, os.SEEK_END)
                f.write(bytes([b[0] ^ 1]))
            p = pop(srv)
            check_eq(p.stat()[0], 15, "the newest 15 of 20")
            got = [p.top(n, 0)[1][0] for n in (1, 15)]
            check_eq(got, [b"Subject: message 6", b"Subject: message 20"],
                     "messages 6 to 20")
            p.quit()
        check("cache-damaged" in srv.log(), "logged damaged: %r" % srv.log())


@test
def stale_cache_over_maximum():
    """An index of more messages than POP3D_MAX_MESSAGES, for an mbox a
    mail reader has since rewritten in place to fewer (and more octets):
    the index's records are taken, then its tail does not match, so they
    are dropped and the file read whole: all of its messages, none
    skipped (the truncation the bad index caused is undone)."""
    with TempDir() as tmp:
        path = setup(tmp, [message(i) for i in range(1, 21)])
        cache = os.path.join(tmp.path, mboxlib.side_name(os.stat(path),
                                                         "cache"))
        with spawner(tmp) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 20, "twenty messages")
            p.quit()
        check(os.path.exists(cache), "the index written")
        big = [message(i, b"z" * 300 + b"\n") for i in range(1, 11)]
        data = mboxlib.mbox_bytes(big)
        check(len(data) > os.path.getsize(path), "the rewrite is longer")
        with open(path, "r+b") as f:     # the same file, rewritten
            f.write(data)
        with spawner(tmp, env={"POP3D_MAX_MESSAGES": "15"}) as srv:
            p = pop(srv)
            check_eq(p.stat()[0], 10, "the ten messages there now")
            check_eq(p.top(10, 0)[1][0], b"Subject: message 10",
                     "the last one the tenth")
            p.quit()


@test
def big_message_memory_flat():
    """A 16 MB message: RETR streams it, memory does not grow with it."""
    body = (b"y" * 1023 + b"\n") * (16 * 1024)
    with TempDir() as tmp:
        path = setup(tmp, [message(1, body), message(2)])
        with spawner(tmp) as srv:
            r = Raw(srv.connect())
            r.line()
            head = r.cmd(b"RETR 1")
            check(head.startswith(b"+OK"), "RETR of the big message")
            got = r.multiline()
            check_eq(len(got), len(wire_form(served(message(1, body)[1]))),
                     "all of it sent")
            check_peak(srv, 8 * 1024, "a 16 MB message")
            r.cmd(b"DELE 1")
            check_eq(r.cmd(b"QUIT")[:3], b"+OK", "QUIT removes it")
            r.close()
        check_eq(read(path), mboxlib.mbox_bytes([message(2)]),
                 "the small one kept")


@test
def index_cache_whole_then_prefix():
    with TempDir() as tmp:
        path = setup(tmp)
        with spawner(tmp) as srv:
            p = pop(srv)
            u = uidls(p)
            p.quit()
            p = pop(srv)
            check_eq(uidls(p), u, "the same listing from the cache")
            p.quit()
            mboxlib.deliver(path, message(60))
            p = pop(srv)
            u2 = uidls(p)
            check_eq((len(u2), u2[:-1]), (len(u) + 1, u),
                     "the cache's prefix and the new tail")
            p.quit()
            srv.wait_all()
            log = srv.log()
        check("cache=saved" in log and "cache=whole" in log and
              "cache=prefix" in log, "cache states logged: %r" % log)
        check(os.path.exists(os.path.join(tmp.path, mboxlib.side_name(
              os.stat(path), "cache"))), "the cache is in the home, named"
              " by the mbox's dev and ino")


@test
def through_the_whole_chain():
    """pop3d, pop3d-auth and a users.cdb: one user's record names an mbox
    (MAILDROP), another has none and gets the argument's spool/%u, a
    spool made as Debian's /var/mail (root:mail 2775, so that the dotlock
    is made by the setgid-mail dotlockfile), a third the same with no
    file in the spool (0 messages); LOGIN-DELAY's file is in the home."""
    from test_user_policy import POP3D, AUTH, Records
    with TempDir() as tmp:
        site = Records(tmp, {})
        spool = os.path.join(tmp.path, "spool")
        os.mkdir(spool)
        homes = {}
        for name in ("ann", "bo", "cy"):
            homes[name] = os.path.join(tmp.path, name)
            os.mkdir(homes[name])
            extra = [os.path.join(homes[name], "mail")] if name == "ann" \
                else []
            site.users(*(["add", name, str(RUN_UID), str(RUN_GID),
                          homes[name]] + extra))
            site.users("passwd", "-s", name, input=b"pw-" + name.encode() +
                       b"\n")
        write_mbox(os.path.join(homes["ann"], "mail"), MSGS[:2])
        write_mbox(os.path.join(spool, "bo"), MSGS[:3])
        tmp.give()
        os.chown(os.path.join(tmp.path, "empty"), 0, 0)
        os.chown(spool, 0, grp.getgrnam("mail").gr_gid)
        os.chmod(spool, 0o2775)
        env = {"POP3D_USERS_CDB": os.path.join(site.etc, "users.cdb"),
               "POP3D_CHROOT": os.path.join(tmp.path, "empty"),
               "POP3D_AUTH_DELAY": "0", "POP3D_RULES": "",
               "POP3D_STATE_DIR": "", "POP3D_LOGIN_DELAY": "1"}
        with Spawner([POP3D, "mail.example.org", AUTH, PROG,
                      os.path.join(spool, "%u")], env=env, cwd=tmp.path,
                     as_root=True) as srv:
            for name, n in (("ann", 2), ("bo", 3), ("cy", 0)):
                try:
                    p = pop(srv)
                except poplib.error_proto:
                    srv.wait_all()
                    check(False, "the chain started: %r" % srv.log())
                    return
                p.user(name)
                p.pass_("pw-" + name)
                check_eq(p.stat()[0], n, "%s: %d messages" % (name, n))
                if n:
                    check_eq(p.retr(2)[1], wire_form(served(
                             MSGS[1][1])).split(b"\r\n")[:-1],
                             "%s: RETR through the chain" % name)
                    p.dele(1)
                check(p.quit().startswith(b"+OK"), "%s: QUIT" % name)
                check([f for f in os.listdir(homes[name])
                       if f.startswith(".pop3d-mbox.") and
                       f.endswith(".login")] != [],
                      "%s: the LOGIN-DELAY record in the home" % name)
        check_eq(read(os.path.join(homes["ann"], "mail")),
                 mboxlib.mbox_bytes(MSGS[1:2]), "ann's message 1 removed")
        check_eq(read(os.path.join(spool, "bo")),
                 mboxlib.mbox_bytes(MSGS[1:3]), "bo's message 1 removed")
        check(not os.path.exists(os.path.join(spool, "cy")),
              "nothing made for cy")
        check_eq(sorted(os.listdir(spool)), ["bo"], "no dotlock left")


@test
def mbox_kill_short():
    """30 trials of tests/stress/mbox_kill.py (the full run: 300)."""
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "stress"))
    import mbox_kill
    counts, phases, failures = mbox_kill.run(30)
    check_eq(counts["trials"], 30, "30 kill trials ran (seed %d, phases %r)"
             % (counts["seed"], phases))
    check_eq(failures, [], "no message lost or duplicated")


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""pop3d-maildrop serving an mbox (pop3d-maildrop.8, MBOX): the real
binary on a loopback socket, driven with poplib and raw sockets, against
hand-made mboxes in a temporary home owned by the user under test."""

import grp
import os
import poplib
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, RUN_GID, RUN_UID, Raw, Spawner, TempDir,
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
            check(not os.path.exists(os.path.join(tmp.path,
                                                  ".pop3d-mbox.journal")),
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


@test
def missing_mbox_is_empty():
    with TempDir() as tmp:
        tmp.give()
        spool = os.path.join(tmp.path, "spool")
        os.mkdir(spool, 0o755)     # root's: like /var/mail, not the user's
        with spawner(tmp, path=os.path.join(spool, "%u")) as srv:
            p = pop(srv)
            check_eq(p.stat(), (0, 0), "a missing mbox: 0 messages")
            check(p.quit().startswith(b"+OK"), "QUIT")
        check(not os.path.exists(os.path.join(spool, "nobody")),
              "nothing made in the spool")


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
        spool = os.path.join(tmp.path, "spool")
        os.mkdir(spool, 0o755)     # root's
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


def journal_case(tmp, path, drop, done):
    """A journal for removing message drop as a crash left it: before the
    rewrite (done=False) or after its truncate (done=True)."""
    data = read(path)
    st = os.stat(path)
    offs = [i for i in range(len(data))
            if data.startswith(b"From ", i) and (i == 0 or
                                                 data[i - 2:i] == b"\n\n")]
    F = offs[drop]
    end = offs[drop + 1] if drop + 1 < len(offs) else len(data)
    content = data[end:]
    S, N = len(data), len(data) - (end - F)
    j = mboxlib.journal(st, S, F, N, data[S - min(64, S - N):S], content)
    if done:
        with open(path, "r+b") as f:
            f.seek(F)
            f.write(content)
            f.truncate(N)
    jpath = os.path.join(tmp.path, ".pop3d-mbox.journal")
    with open(jpath, "wb") as f:
        f.write(j)
    os.chown(jpath, RUN_UID, RUN_GID)
    return jpath


@test
def leftover_journal_recovered():
    for done in (False, True):
        with TempDir() as tmp:
            path = setup(tmp)
            jpath = journal_case(tmp, path, 1, done)
            if not done:
                # Mail delivered after the crash, before the recovery.
                mboxlib.deliver(path, message(77))
            with spawner(tmp) as srv:
                p = pop(srv)
                want = [MSGS[0]] + MSGS[2:] + ([] if done else [message(77)])
                check_eq(p.stat()[0], len(want),
                         "recovered (%s): the listing" % done)
                p.quit()
                check("mbox-journal-recovered" in srv.log(), "logged")
            check_eq(read(path), mboxlib.mbox_bytes(want),
                     "recovered (%s): message 2 gone, the rest once" % done)
            check(not os.path.exists(jpath), "the journal removed")


@test
def bad_journal_dropped():
    with TempDir() as tmp:
        path = setup(tmp)
        jpath = journal_case(tmp, path, 1, False)
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
        check(os.path.exists(os.path.join(tmp.path, ".pop3d-mbox.cache")),
              "the cache is in the home")


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
                check(os.path.exists(os.path.join(homes[name],
                                                  ".pop3d-login")),
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

"""pop3d-maildrop's one cache (pop3d-scan.cache): a warm session answers
byte for byte as a full scan would, and any change, damage or doubt means a
full scan, which still takes the sizes of unchanged messages from the
cache's records.  Sessions run over pipes, as the real program with its real
environment; the directories are aged with utime, as time would age them."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, TempDir, check, check_eq,
                     make_maildir, run_all, test, wire_form)

PROG = os.path.join(BUILD, "pop3d-maildrop")
CACHE = "pop3d-scan.cache"
SETTLE = 2          # SCANCACHE_SETTLE_SEC in lib/pop3d_limits.h
FILE_MAX = 1000000 * 384    # SCANCACHE_FILE_MAX
LISTING = b"STAT\r\nLIST\r\nUIDL\r\nQUIT\r\n"

MSGS = [
    ("1600000001.M1P1.test", b"Subject: one\n\nHello\n.\n..\nbye\n"),
    ("1600000002.M1P1.test", b"Subject: two\r\n\r\nCRLF body\r\n"),
    ("1600000003.M1P1.test,W=40", b"Subject: three\n\nW= in the name\n"),
    ("1600000004.M1P1.test", b""),
    ("1600000005.M1 P1.test", b"Subject: digest UIDL\n\nx\n"),
    ("1600000006.M1P1.test", b"Subject: six\n\nsix\n"),
]


def session(md, commands=LISTING, env=None):
    """One session over pipes: (stdout bytes, the session log line)."""
    e = {"PATH": "/usr/bin:/bin", "USER": "test"}
    e.update(env or {})
    kw = {"user": RUN_UID, "group": RUN_GID, "extra_groups": []} if ROOT \
        else {}
    p = subprocess.run([PROG, md], input=commands, capture_output=True,
                       env=e, cwd=os.path.dirname(md), timeout=60, **kw)
    lines = [l for l in p.stderr.decode().splitlines() if " session " in l]
    return p.stdout, lines[-1] if lines else p.stderr.decode()


def age(md, seconds=10):
    """Makes cur/ and new/ look last changed seconds ago."""
    t = time.time() - seconds
    for d in ("cur", "new"):
        os.utime(os.path.join(md, d), (t, t))


def setup(tmp, msgs=MSGS, where="new"):
    md = make_maildir(os.path.join(tmp.path, "Maildir"),
                      **{where: msgs})
    tmp.give()
    return md


LIST_FLAG = 41      # the header's list flag (scancache.c)


def cache_flag(md):
    """The cache's list flag: 1 a list, 0 size hints only; None: none."""
    try:
        data = open(os.path.join(md, CACHE), "rb").read()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if len(data) < 112 or not data.startswith(b"pop3d-scan-2\0"):
        return None
    return data[LIST_FLAG]


def cached(md):
    """Whether the cache holds a list (not size hints only)."""
    return cache_flag(md) == 1


def warmed(md):
    """A full session that writes the cache, then its output."""
    age(md)
    out, log = session(md)
    check(cached(md) and "cache=index" not in log and " cache=written " in
          log, "a full scan over settled directories writes the cache")
    return out


@test
def warm_session_answers_as_a_cold_one():
    with TempDir() as tmp:
        md = setup(tmp)
        cold, log = session(md)
        check(cold.startswith(b"+OK maildrop has 6 messages"), "cold session")
        check(" cache=young " in log, "logged: no list, too young: "
              + log)
        check_eq(cache_flag(md), 0, "after moving new/ to cur/ (the mtimes"
                 " are fresh) the cache holds the sizes, not the list")
        age(md)
        full, log = session(md)
        check(cached(md) and " cache=written " in log, "a full scan over"
              " settled directories writes the list")
        check("size_cache=5 size_read=0" in log,
              "with the sizes measured by the young session: " + log)
        check_eq(full, cold, "a full scan of the moved mail answers the same")
        lock = os.path.join(md, "pop3d.lock")
        before = os.stat(lock).st_mtime_ns
        warm, log = session(md)
        check(" cache=index " in log,
              "the next session uses the cache: " + log)
        check("size_read=0" in log, "and reads no message")
        check_eq(os.stat(lock).st_mtime_ns, before, "and writes nothing:"
                 " only a scan touches the lock file for the time")
        check_eq(warm, cold, "STAT, LIST, UIDL byte for byte as cold")
        # RETR of every message from a warm session.
        cmds = b"".join(b"RETR %d\r\n" % i for i in range(1, 7)) + b"QUIT\r\n"
        out, log = session(md, cmds)
        check("cache=index" in log, "RETR session warm too")
        want = b"".join(b"+OK %d octets\r\n" % (len(wire_form(d)) - sum(
            1 for l in wire_form(d).split(b"\r\n") if l.startswith(b"."))) +
            wire_form(d) + b".\r\n" for _, d in MSGS[:2])
        check(out.split(b"\r\n", 1)[1].startswith(want),
              "RETR from a warm session sends the messages")


@test
def mail_delivered_after_the_cache_is_seen():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        warmed(md)
        for sub, name in (("new", "1700000001.M1P1.late"),
                          ("cur", "1700000002.M1P1.late:2,")):
            path = os.path.join(md, sub, name)
            with open(path, "wb") as f:
                f.write(b"Subject: late\n\nlate\n")
            if ROOT:
                os.chown(path, RUN_UID, RUN_GID)
            out, log = session(md)
            check("cache=index" not in log,
                  "delivery to %s/ invalidates the cache" % sub)
            check(name.split(":")[0].encode() in out,
                  "the message delivered to %s/ is listed" % sub)
            age(md)
            session(md)                         # rewrites it
            out2, log = session(md)
            check("cache=index" in log, "and the cache is made again")
            check_eq(out2, out, "listing the new mail the same")


@test
def mail_removed_by_another_program_is_gone():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        before = warmed(md)
        os.unlink(os.path.join(md, "cur", MSGS[0][0]))
        out, log = session(md)
        check("cache=index" not in log, "a removal invalidates the cache")
        check(out.startswith(b"+OK maildrop has 5 messages"),
              "the removed message is gone")
        check(MSGS[0][0].encode() not in out and before != out,
              "and not listed")
        # Renamed by another program (flags): still served, by a full scan.
        age(md)
        session(md)
        cur = os.path.join(md, "cur")
        os.rename(os.path.join(cur, MSGS[1][0]),
                  os.path.join(cur, MSGS[1][0] + ":2,S"))
        out2, log = session(md, b"RETR 1\r\nQUIT\r\n")
        check("cache=index" not in log and b"CRLF body" in out2,
              "a flag change by another program is a change")


@test
def dele_at_quit_removes_the_cache():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        warmed(md)
        out, log = session(md, b"DELE 1\r\nQUIT\r\n")
        check("cache=index" in log and "removed=1" in log, "warm DELE")
        check_eq(cache_flag(md), 0, "UPDATE cleared the cache's list")
        out, log = session(md)
        check(out.startswith(b"+OK maildrop has 5 messages"), "5 left")
        check("size_read=0" in log and "cache=index" not in log,
              "the next session scans, sizes from the cache: " + log)
        # A session that deletes nothing keeps it.
        warmed(md)
        session(md, b"DELE 1\r\nRSET\r\nQUIT\r\n")
        check(cached(md), "no removal, the cache stays")


@test
def damaged_cache_is_ignored():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        want = warmed(md)
        path = os.path.join(md, CACHE)
        good = open(path, "rb").read()
        cases = [("garbage", b"\xff" * 4096), ("empty", b""),
                 ("truncated", good[:-1]), ("header only", good[:104]),
                 ("one octet changed", good[:200] + bytes([good[200] ^ 1]) +
                  good[201:]),
                 ("longer", good + b"\0"),
                 ("another version", b"pop3d-scan-9" + good[12:]),
                 ("list flag 2", good[:LIST_FLAG] + b"\2" +
                  good[LIST_FLAG + 1:]),
                 ("version 1", b"pop3d-scan-1" + good[12:])]
        for label, data in cases:
            with open(path, "wb") as f:
                f.write(data)
            if ROOT:
                os.chown(path, RUN_UID, RUN_GID)
            out, log = session(md)
            check("cache=index" not in log, "%s cache not used" % label)
            check_eq(out, want, "%s cache: the right answers" % label)
            out, log = session(md)
            check("cache=index" in log, "%s cache: replaced by a good one"
                  % label)
        # The list flag cleared (as a removal does): no list, the sizes.
        with open(path, "wb") as f:
            f.write(good[:LIST_FLAG] + b"\0" + good[LIST_FLAG + 1:])
        if ROOT:
            os.chown(path, RUN_UID, RUN_GID)
        out, log = session(md)
        check("cache=index" not in log and "size_read=0" in log and
              out == want, "list flag cleared: a full scan, the sizes"
              " from the cache: " + log)
        # Not a regular file, or not the user's own.
        os.unlink(path)
        os.symlink("/etc/passwd", path)
        out, log = session(md)
        check_eq(out, want, "a symbolic link is not followed")
        if ROOT:
            session(md)
            os.chown(path, 0, 0)
            out, log = session(md)
            check("cache=index" not in log and out == want,
                  "a cache owned by another user is not trusted")


@test
def cache_over_its_maximum_is_not_read():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        want = warmed(md)
        path = os.path.join(md, CACHE)
        good = open(path, "rb").read()
        for size, used in ((FILE_MAX + 1, False), (FILE_MAX, False)):
            with open(path, "wb") as f:
                f.write(good)
                f.truncate(size)            # sparse: costs no disk
            if ROOT:
                os.chown(path, RUN_UID, RUN_GID)
            out, log = session(md)
            check("cache=index" not in log and out == want,
                  "a %d-octet cache is refused with the right answers" % size)


@test
def young_directories_are_rescanned():
    """Crossing SCANCACHE_SETTLE_SEC: a directory changed less than that
    before the scan may change again within its mtime's tick."""
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        for secs, written in ((0, False), (SETTLE - 1, False),
                              (SETTLE + 1, True)):
            if cached(md):
                os.unlink(os.path.join(md, CACHE))
            age(md, secs)
            session(md)
            check_eq(cached(md), written,
                     "directories %ds old: cache written" % secs)
        # A cache for directories now young again (a clock set back, or
        # utime): their mtimes differ, so it is not used.
        t = time.time()
        os.utime(os.path.join(md, "new"), (t, t))
        out, log = session(md)
        check("cache=index" not in log, "changed mtime: full scan")
        check("size_read=0" in log, "... with the sizes of the stale cache")
        check_eq(cache_flag(md), 0, "... which now holds no list")


@test
def message_maximum_change_is_a_rescan():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        warmed(md)
        out, log = session(md, env={"POP3D_MAX_MESSAGES": "3"})
        check("cache=index" not in log, "another maximum: full scan")
        check(out.startswith(b"+OK maildrop has 3 messages"),
              "the maximum still applies")
        check(b"1600000006" in out and b"1600000001" not in out,
              "the newest are listed")


@test
def rewritten_message_is_not_served_with_its_old_size():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        warmed(md)
        path = os.path.join(md, "cur", MSGS[1][0])
        with open(path, "ab") as f:     # in place: no directory change
            f.write(b"appended\r\n")
        out, log = session(md, b"RETR 2\r\nRETR 1\r\nQUIT\r\n")
        check("cache=index" in log, "the directories did not change")
        check(b"\r\n-ERR [SYS/TEMP] message 2 was changed by another"
              b" program\r\n" in out,
              "RETR of a file no longer its listed size: -ERR")
        check(b"Hello" in out, "the others are served")
        check(not cached(md), "and the cache's list is gone")
        out, log = session(md, b"RETR 2\r\nQUIT\r\n")
        check("cache=index" not in log and b"appended" in out,
              "the next session scans and serves it as it is now")


@test
def rewritten_message_of_the_same_size_is_noticed_by_its_mtime():
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        warmed(md)
        path = os.path.join(md, "cur", MSGS[1][0])
        with open(path, "r+b") as f:     # same size, other octets
            data = f.read()
            f.seek(0)
            f.write(data.replace(b"e", b"E"))
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000))
        out, log = session(md, b"RETR 2\r\nQUIT\r\n")
        check(b"-ERR [SYS/TEMP] message 2 was changed by another program"
              in out, "a message changed since the scan is not sent as listed")
        out, log = session(md, b"RETR 2\r\nQUIT\r\n")
        check(b"-ERR" not in out and b" octets\r\n" in out,
              "the next session serves it as it is now: %r" % out[:200])


@test
def size_cache_of_the_previous_version_is_removed():
    """pop3d-sizes.cdb, the size cache before the one cache: never read,
    removed when the cache is written, whatever it is."""
    with TempDir() as tmp:
        md = setup(tmp, where="cur")
        old = os.path.join(md, "pop3d-sizes.cdb")
        for kind in ("file", "symlink"):
            if kind == "file":
                with open(old, "wb") as f:
                    f.write(b"\xff" * 4096)
                if ROOT:
                    os.chown(old, RUN_UID, RUN_GID)
            else:
                os.symlink("/etc/passwd", old)
            want = warmed(md)
            check(not os.path.lexists(old), "an old size cache (%s) is"
                  " removed when the cache is written" % kind)
            check(want.startswith(b"+OK maildrop has 6 messages"),
                  "and the session is served")
            os.unlink(os.path.join(md, CACHE))
        check(os.path.exists("/etc/passwd"), "a link's target is untouched")


if __name__ == "__main__":
    run_all(sys.argv[2:])

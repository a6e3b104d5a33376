"""pop3d-maildrop's own files in the maildrop (the cache, the lock, and the
size cache of earlier versions) under damage and interference: a damaged
size record is
never served, a FIFO, link, directory or device of one of their names
neither hangs nor misleads a session, the lock holds when its file is
removed or replaced, a stale lock file is repaired or named in the log, and
a read-only maildrop is refused for good.  Sessions run over pipes, as the
real program with its real environment, each within a generous bound."""

import os
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, TempDir, check, check_eq,
                     make_maildir, run_all, skip, test, unstuffed_size)

PROG = os.path.join(BUILD, "pop3d-maildrop")
SIZES = "pop3d-sizes.cdb"     # earlier versions' size cache: removed
SCAN = "pop3d-scan.cache"
SC_REC = 56                   # a record's fixed part (scancache.c)
LOCK = "pop3d.lock"
BOUND = 20          # seconds a session may take here; a hang takes more
LISTING = b"LIST\r\nQUIT\r\n"

# Names without ",W=": every size comes from the cache or a read.
MSGS = [
    ("1600000001.M1P1.test", b"Subject: one\n\nHello\n.\n..\nbye\n"),
    ("1600000002.M1P1.test", b"Subject: two\r\n\r\nCRLF body\r\n"),
    ("1600000003.M1P1.test", b"Subject: three\n\nx\ny\nz\n"),
    ("1600000004.M1P1.test", b""),
    ("1600000005.M1P1.test", b"Subject: five\n\n" + b"line\n" * 40),
]
TRUE = [unstuffed_size(d) for _, d in MSGS]


def user_kw():
    return {"user": RUN_UID, "group": RUN_GID, "extra_groups": []} if ROOT \
        else {}


def in_md(md, name):
    """A file of the maildrop as its lines name it: by its absolute path."""
    return os.path.join(os.path.realpath(md), name)


def session(md, commands=LISTING, timeout=BOUND):
    """One session over pipes: (stdout, stderr, exit status); None for
    stdout when it did not end within timeout (then it is killed)."""
    e = {"PATH": "/usr/bin:/bin", "USER": "test"}
    try:
        p = subprocess.run([PROG, md], input=commands, capture_output=True,
                           env=e, cwd=os.path.dirname(md), timeout=timeout,
                           **user_kw())
    except subprocess.TimeoutExpired as ex:
        return None, (ex.stderr or b"").decode(), None
    return p.stdout, p.stderr.decode(), p.returncode


def sizes_listed(out):
    """LIST's sizes, in order, from a session's output; None if refused."""
    if out is None or not out.startswith(b"+OK"):
        return None
    lines = out.split(b"\r\n")
    i = next(i for i, l in enumerate(lines) if l.startswith(b"+OK") and
             i > 0)
    sizes = []
    for l in lines[i + 1:]:
        if l == b".":
            break
        sizes.append(int(l.split()[1]))
    return sizes


def setup(tmp):
    md = make_maildir(os.path.join(tmp.path, "Maildir"),
                      cur=[(n + ":2,", d) for n, d in MSGS])
    tmp.give()
    return md


def age(md, seconds=10):
    t = time.time() - seconds
    for d in ("cur", "new"):
        os.utime(os.path.join(md, d), (t, t))


def records(image):
    """(name, offset of its sizes) of each message's record in a cache
    image: file size, mtime and wire size, the 24 octets from 24 on of the
    record whose name follows its fixed part."""
    out = []
    for name, _ in MSGS:
        k = image.find(name.encode() + b":2,\0")
        if k >= SC_REC:
            out.append((name, k - SC_REC + 24, 24))
    return out


@test
def damaged_size_records_are_never_served():
    with TempDir() as tmp:
        md = setup(tmp)
        out, _, _ = session(md)
        check_eq(sizes_listed(out), TRUE, "a cold session lists true sizes")
        cache = os.path.join(md, SCAN)
        good = open(cache, "rb").read()
        recs = records(good)
        check_eq(len(recs), len(MSGS), "one record per message")
        out, err, _ = session(md)
        check(sizes_listed(out) == TRUE and "cache-damaged" not in err and
              "size_read=0" in err,
              "the undamaged cache serves true sizes, nothing logged")
        wrong = runs = logged = 0
        for name, off, vlen in recs:
            # Every octet of the sizes and mtime, +1 and -3: what a bit
            # error or torn write does.
            for i in range(vlen):
                for delta in (1, -3):
                    bad = bytearray(good)
                    bad[off + i] = (bad[off + i] + delta) % 256
                    with open(cache, "wb") as f:
                        f.write(bad)
                    os.chown(cache, RUN_UID, RUN_GID)
                    out, err, _ = session(md)
                    runs += 1
                    if sizes_listed(out) != TRUE:
                        wrong += 1
                    if "cache-damaged file=%s" % in_md(md, SCAN) in err:
                        logged += 1
        print("# %d damaged caches: %d sessions with a wrong size,"
              " %d logged the damage" % (runs, wrong, logged))
        check_eq(wrong, 0, "no damaged record's size is ever served")
        check_eq(logged, runs, "the damage is logged, every time")


def make_odd(path, kind):
    """Puts a file that is not a regular file of the user's at path."""
    if kind == "fifo":
        os.mkfifo(path, 0o666)
    elif kind == "symlink":
        os.symlink("/dev/zero", path)
    elif kind == "dangling":
        os.symlink("nowhere", path)
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "device":
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "root-file":
        with open(path, "wb") as f:
            f.write(b"\0" * 4096)
        os.chmod(path, 0o666)
    if kind in ("fifo", "directory") and ROOT:
        os.chown(path, RUN_UID, RUN_GID)


@test
def files_of_cache_and_lock_names_neither_hang_nor_mislead():
    kinds = ["fifo", "symlink", "dangling", "directory"]
    if ROOT:
        kinds += ["device", "root-file"]
    else:
        skip("device and root-owned files need root")
    names = [SIZES, SCAN, LOCK,
             # pop3d before unique temporary names wrote these
             SIZES + ".tmp", SCAN + ".tmp"]
    for name in names:
        for kind in kinds:
            with TempDir() as tmp:
                md = setup(tmp)
                # Once for the caches, once settled for the scan cache.
                session(md)
                age(md)
                path = os.path.join(md, name)
                if os.path.lexists(path):
                    os.unlink(path)
                make_odd(path, kind)
                t0 = time.time()
                out, err, rc = session(md)
                took = time.time() - t0
                what = "%s as a %s" % (name, kind)
                if out is None:
                    check(False, "%s: the session hangs (killed after %ds)"
                          % (what, BOUND))
                    continue
                check_eq(sizes_listed(out), TRUE,
                         "%s: the session goes on, true sizes (%.1fs)"
                         % (what, took))
                check_eq(rc, 0, "%s: exit 0" % what)
                # The next session is not hurt either.
                out, _, _ = session(md)
                check_eq(sizes_listed(out), TRUE, "%s: and the next" % what)
                if name == SIZES:
                    check(kind == "directory" or not os.path.lexists(path),
                          "%s: an old size cache is removed" % what)
                if name == SCAN:
                    st = os.lstat(path)
                    check(stat.S_ISREG(st.st_mode) and st.st_uid ==
                          (RUN_UID if ROOT else os.geteuid()),
                          "%s: rebuilt as a cache of the user's" % what)
                if name == LOCK:
                    st = os.lstat(path)
                    check(stat.S_ISREG(st.st_mode) and st.st_uid ==
                          (RUN_UID if ROOT else os.geteuid()) and
                          "lock-repaired file=%s" % in_md(md, LOCK) in err,
                          "%s: replaced by a lock file of the user's, logged"
                          % what)


@test
def lock_holds_when_its_file_is_removed_or_replaced():
    with TempDir() as tmp:
        md = setup(tmp)
        e = {"PATH": "/usr/bin:/bin", "USER": "test"}
        for how in ("removed", "replaced"):
            a = subprocess.Popen([PROG, md], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, env=e,
                                 **user_kw())
            greeting = a.stdout.readline()
            check(greeting.startswith(b"+OK"), "session A is in")
            lock = os.path.join(md, LOCK)
            os.unlink(lock)
            if how == "replaced":
                with open(lock, "wb"):
                    pass
                if ROOT:
                    os.chown(lock, RUN_UID, RUN_GID)
            out, _, rc = session(md)
            check_eq((out or b"").split(b"\r\n")[0],
                     b"-ERR [IN-USE] maildrop is in use by another session",
                     "lock file %s under A: B still gets [IN-USE]" % how)
            check_eq(rc, 101, "exit 101")
            a.stdin.write(b"QUIT\r\n")
            a.stdin.close()
            a.stdout.read()
            a.wait(BOUND)
            out, _, _ = session(md)
            check_eq(sizes_listed(out), TRUE, "after A, a session gets in")
        check_eq(sorted(f for f in os.listdir(md) if "tmp" in f or
                        f.startswith(".")), ["tmp"],
                 "no temporary cache file is left behind")


@test
def stale_lock_files_are_repaired():
    cases = ["mode 000", "symlink", "fifo", "empty directory"]
    if ROOT:
        cases += ["root's"]
    for case in cases:
        with TempDir() as tmp:
            md = setup(tmp)
            lock = os.path.join(md, LOCK)
            if case == "mode 000":
                with open(lock, "wb"):
                    pass
                os.chmod(lock, 0)
                if ROOT:
                    os.chown(lock, RUN_UID, RUN_GID)
            elif case == "symlink":
                os.symlink("/tmp", lock)
            elif case == "fifo":
                make_odd(lock, "fifo")
            elif case == "empty directory":
                make_odd(lock, "directory")
            else:
                with open(lock, "wb"):
                    pass
                os.chmod(lock, 0o600)
            out, err, rc = session(md)
            check_eq(sizes_listed(out), TRUE,
                     "a stale lock file (%s): the session goes on" % case)
            check("lock-repaired file=%s" % in_md(md, LOCK) in err,
                  "and is logged, by its absolute path: %r" % err)
            out, _, rc = session(md)
            check_eq(rc, 0, "the next session too")


@test
def unrepairable_lock_file_is_named_with_its_fix():
    with TempDir() as tmp:
        md = setup(tmp)
        lock = os.path.join(md, LOCK)
        # A directory with something in it: not removed.
        os.mkdir(lock)
        with open(os.path.join(lock, "x"), "wb"):
            pass
        out, err, rc = session(md)
        check_eq((out or b"").split(b"\r\n")[0],
                 b"-ERR [SYS/TEMP] maildrop unavailable, try again later",
                 "a lock that cannot be repaired: [SYS/TEMP]")
        check_eq(rc, 101, "exit 101")
        real = os.path.realpath(lock)
        check("lock file %s unusable" % real in err and "remove it" in err,
              "the log names the file by its absolute path and the fix")
        if not ROOT:
            skip("a maildrop not the user's needs root")
            return
        os.unlink(os.path.join(lock, "x"))
        os.rmdir(lock)
        # The maildrop is root's (writable by all): what is in it is not
        # the user's to remove.
        os.chown(md, 0, 0)
        os.chmod(md, 0o777)
        with open(lock, "wb"):
            pass
        os.chmod(lock, 0o600)
        out, err, rc = session(md)
        check_eq((out or b"").split(b"\r\n")[0],
                 b"-ERR [SYS/TEMP] maildrop unavailable, try again later",
                 "root's lock file in root's maildrop: [SYS/TEMP]")
        check("lock file %s unusable" % real in err, "named in the log")
        check(os.stat(lock).st_uid == 0, "and left alone")


@test
def read_only_maildrop_is_refused_for_good():
    with TempDir() as tmp:
        md = setup(tmp)
        out, _, rc = session(md)
        check_eq(rc, 0, "a writable maildrop is served")
        for sub in (".", "cur", "new"):
            d = os.path.normpath(os.path.join(md, sub))
            os.chmod(d, 0o555)
            out, err, rc = session(md)
            check_eq((out or b"").split(b"\r\n")[0],
                     b"-ERR [SYS/PERM] maildrop is read-only",
                     "%s not writable: [SYS/PERM] read-only" % sub)
            check_eq(rc, 100, "exit 100")
            check("not writable: %s" % os.path.realpath(d) in err,
                  "the log names the directory")
            os.chmod(d, 0o700)
        out, _, rc = session(md)
        check_eq(sizes_listed(out), TRUE, "writable again: served")
        if not ROOT:
            skip("a maildrop of another owner needs root")
            return
        # Another's maildrop the user may read (the lock file is there).
        for top, dirs, files in os.walk(md):
            os.chown(top, 0, 0)
            os.chmod(top, 0o755)
            for f in files:
                os.chown(os.path.join(top, f), 0, 0)
                os.chmod(os.path.join(top, f), 0o644)
        out, err, rc = session(md)
        check_eq((out or b"").split(b"\r\n")[0],
                 b"-ERR [SYS/PERM] maildrop is read-only",
                 "another user's maildrop, readable: [SYS/PERM] read-only")
        check_eq(rc, 100, "exit 100")


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""One mail store, many hosts (issue 20): the maildrop lock and the
maildrop cache on file systems shared between hosts.  No network file
system can be mounted here, so pop3d-maildrop is shown the mount table it
would see (TEST_POP3D_MOUNTINFO: /proc/self/mountinfo with the line of the
test's own file system given another type and options), told that flock
failed as on a network file system (TEST_POP3D_FLOCK_ERRNO), and given a
host's skewed clock (TEST_POP3D_CLOCK_OFFSET: where it stamps the lock file
for "now").  Directory stamps by other hosts' skewed clocks are made with
utime, as those hosts' kernels would make them."""

import errno
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, TempDir, check, check_eq,
                     make_maildir, run_all, skip, test, test_hooks)

PROG = os.path.join(BUILD, "pop3d-maildrop")
LISTING = b"STAT\r\nLIST\r\nUIDL\r\nQUIT\r\n"
SKEW = 300          # five minutes: under SCANCACHE_SKEW_SEC (600)
MOUNTINFO_MAX = 4 * 1024 * 1024     # lib/pop3d_limits.h
MSG = b"Subject: %d\n\nbody %d\n"


def env_for(md, fstype=None, opts="rw", **extra):
    e = {"PATH": "/usr/bin:/bin", "USER": "test"}
    if fstype is not None:
        e["TEST_POP3D_MOUNTINFO"] = fake_mountinfo(md, fstype, opts)
    e.update(extra)
    return e


def fake_mountinfo(md, fstype, opts):
    """This process's mount table with md's file system retyped: the mount
    ids are the system's, so that pop3d-maildrop finds its line."""
    st = os.stat(md)
    dev = "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.rstrip("\n").split(" ")
            if fields[2] == dev:
                sep = fields.index("-")
                fields = fields[:sep + 1] + [fstype, "server:/export", opts]
            out.append(" ".join(fields) + "\n")
    path = os.path.join(os.path.dirname(md), "mountinfo.%s" % fstype)
    with open(path, "w") as f:
        f.write("".join(out))
    os.chmod(path, 0o644)
    return path


def run_kw():
    return {"user": RUN_UID, "group": RUN_GID, "extra_groups": []} \
        if ROOT else {}


def session(md, env, commands=LISTING):
    """One session over pipes: (stdout, the warning lines, the session
    line)."""
    p = subprocess.run([PROG, md], input=commands, capture_output=True,
                       env=env, cwd=os.path.dirname(md), timeout=60,
                       **run_kw())
    err = p.stderr.decode()
    warns = [l for l in err.splitlines() if " warning " in l]
    sess = [l for l in err.splitlines() if " session " in l]
    return p.stdout, warns, sess[-1] if sess else err


def holder(md, env):
    """A session left open after its greeting, holding the lock."""
    p = subprocess.Popen([PROG, md], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=env, cwd=os.path.dirname(md), **run_kw())
    check(p.stdout.readline().startswith(b"+OK"), "the first session is in")
    return p


def give(path):
    if ROOT:
        for top, dirs, files in os.walk(path):
            os.chown(top, RUN_UID, RUN_GID)
            for f in files:
                os.lchown(os.path.join(top, f), RUN_UID, RUN_GID)


def setup(tmp, n=3):
    md = make_maildir(os.path.join(tmp.path, "Maildir"), cur=[
        ("16000000%02d.M1P1.a:2,S" % i, MSG % (i, i)) for i in range(n)])
    give(tmp.path)
    return md


def stamp(md, t):
    for d in ("cur", "new"):
        os.utime(os.path.join(md, d), (t, t))


def mtimes(md):
    return [os.stat(os.path.join(md, d)).st_mtime_ns for d in ("cur", "new")]


def restamp(md, ns):
    for d, t in zip(("cur", "new"), ns):
        os.utime(os.path.join(md, d), ns=(t, t))


def deliver(md, i):
    """A message put into new/ as an MDA does (tmp/, then a rename)."""
    name = "17000000%02d.M%dP1.b" % (i, i)
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(MSG % (i, i))
    if ROOT:
        os.chown(tmp, RUN_UID, RUN_GID)
    os.rename(tmp, os.path.join(md, "new", name))


def reference(md, tmp):
    """What a full scan of md's messages answers: a copy without cache."""
    ref = os.path.join(tmp.path, "ref")
    shutil.rmtree(ref, ignore_errors=True)
    shutil.copytree(md, ref, ignore=shutil.ignore_patterns(
        "pop3d-scan.cache", "pop3d.lock"))
    give(ref)
    out, _, _ = session(ref, env_for(ref))
    return out


@test
def flock_failing_leaves_the_lock_file_to_exclude():
    # NFSv4 answers an exclusive flock on a descriptor not open for
    # writing with EBADF; other network file systems with ENOLCK or
    # EOPNOTSUPP.  The session goes on, and the lock file's OFD lock (a
    # lock on the server) still keeps a second session out.
    for err in (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP):
        with TempDir() as tmp:
            md = setup(tmp)
            env = env_for(md, "nfs4", "rw,vers=4.2,local_lock=none",
                          TEST_POP3D_FLOCK_ERRNO=str(err))
            out, warns, log = session(md, env)
            check(out.startswith(b"+OK") and b"\r\n+OK 3 " in out,
                  "errno %d: the session is not refused: %r" % (err, out))
            check_eq(warns, [], "no warning on NFSv4 with local_lock=none")
            p = holder(md, env)
            out, _, log = session(md, env)
            check(out.startswith(b"-ERR [IN-USE]"),
                  "errno %d: a second session gets [IN-USE]: %r" %
                  (err, out))
            # And one whose flock works (another host's kernel) too.
            out, _, _ = session(md, env_for(md, "nfs4", "rw"))
            check(out.startswith(b"-ERR [IN-USE]"), "so does one whose "
                  "flock works: %r" % out)
            p.stdin.close()
            p.wait(timeout=30)
            out, _, _ = session(md, env)
            check(out.startswith(b"+OK"), "after the holder ends, in")


@test
def flock_failing_otherwise_refuses_for_now():
    # An error that says nothing of the file system's kind is no lock.
    with TempDir() as tmp:
        md = setup(tmp)
        out, _, _ = session(md, env_for(md, TEST_POP3D_FLOCK_ERRNO=str(
            errno.EIO)))
        check(out.startswith(b"-ERR [SYS/TEMP]"), "EIO: refused for now: %r"
              % out)


@test
def a_lock_that_may_be_host_local_is_warned_once_per_session():
    cases = [
        ("nfs", "rw,vers=3,local_lock=all,addr=192.0.2.1", "nfs"),
        ("nfs4", "rw,vers=4.2,local_lock=posix", "nfs4"),
        ("cifs", "rw,vers=3.1.1,nobrl", "cifs"),
        ("gfs2", "rw,localflocks", "gfs2"),
        ("fuse.sshfs", "rw,user_id=0", "fuse.sshfs"),
        ("9p", "rw,trans=virtio", "9p"),
    ]
    for fstype, opts, name in cases:
        with TempDir() as tmp:
            md = setup(tmp)
            out, warns, log = session(md, env_for(md, fstype, opts))
            check(out.startswith(b"+OK"), "%s: the session goes on" % fstype)
            check_eq(len(warns), 1, "%s: one warning line: %r" %
                     (fstype, warns))
            lock = os.path.realpath(os.path.join(md, "pop3d.lock"))
            check(warns and "warning msg=\"the maildrop lock may hold on "
                  "this host only: %s is on %s, " % (lock, name) in warns[0],
                  "%s: it names the lock file and the type: %r" %
                  (fstype, warns))


@test
def a_mount_table_past_its_maximum_is_not_read():
    # MOUNTINFO_MAX (lib/pop3d_limits.h): at most that much is read; a
    # larger table tells nothing (no warning; the cache's skew margin).
    for size, warned in ((MOUNTINFO_MAX, 1), (MOUNTINFO_MAX + 1, 0)):
        with TempDir() as tmp:
            md = setup(tmp)
            mi = fake_mountinfo(md, "nfs", "rw,local_lock=all")
            with open(mi) as f:
                text = f.read()
            filler = "999999 1 0:999 / /x rw - ext4 s rw\n"
            n = (size - len(text)) // len(filler)
            text += filler * n
            text += "#" * (size - len(text) - 1) + "\n"
            with open(mi, "w") as f:
                f.write(text)
            check_eq(os.path.getsize(mi), size, "a table of %d octets" % size)
            out, warns, _ = session(md, env_for(md, TEST_POP3D_MOUNTINFO=mi))
            check(out.startswith(b"+OK") and len(warns) == warned,
                  "%d octets: %d warning: %r" % (size, warned, warns))


@test
def a_lock_that_holds_everywhere_is_not_warned():
    for fstype, opts in (("nfs4", "rw,vers=4.2,local_lock=none"),
                         ("nfs", "rw,vers=3,local_lock=flock"),
                         ("cifs", "rw,vers=3.1.1"), ("ceph", "rw,name=a"),
                         ("gfs2", "rw"), ("ocfs2", "rw"),
                         ("ext4", "rw,nobrl,local_lock=all")):
        with TempDir() as tmp:
            md = setup(tmp)
            out, warns, _ = session(md, env_for(md, fstype, opts))
            check(out.startswith(b"+OK") and warns == [],
                  "%s %s: no warning: %r" % (fstype, opts, warns))
    with TempDir() as tmp:
        md = setup(tmp)
        out, warns, _ = session(md, env_for(md))
        check(out.startswith(b"+OK") and warns == [],
              "this machine's own file system: no warning: %r" % warns)


@test
def a_real_fuse_mount_is_warned_from_the_kernels_own_table():
    # The one network-like file system this machine can mount: FUSE
    # (bindfs, a test dependency).  No hook: the kernel's mount table.
    if not ROOT or shutil.which("bindfs") is None or \
            not os.path.exists("/dev/fuse"):
        skip("needs root, /dev/fuse and bindfs")
        return
    with TempDir() as tmp:
        store = os.path.join(tmp.path, "store")
        os.makedirs(store)
        md = make_maildir(os.path.join(store, "Maildir"),
                          cur=[("1600000001.M1P1.a:2,S", MSG % (1, 1))])
        give(tmp.path)
        mnt = os.path.join(tmp.path, "mnt")
        os.makedirs(mnt)
        r = subprocess.run(["bindfs", store, mnt], capture_output=True,
                           timeout=30)
        if r.returncode != 0:
            skip("bindfs could not mount: %r" % r.stderr)
            return
        try:
            md = os.path.join(mnt, "Maildir")
            env = env_for(md)
            out, warns, _ = session(md, env)
            check(out.startswith(b"+OK") and len(warns) == 1 and
                  " is on fuse, a FUSE file system" in warns[0],
                  "one warning, from /proc/self/mountinfo: %r" % warns)
            p = holder(md, env)
            out, _, _ = session(md, env)
            check(out.startswith(b"-ERR [IN-USE]"),
                  "on this host the lock holds: %r" % out)
            p.stdin.close()
            p.wait(timeout=30)
        finally:
            subprocess.run(["umount", mnt], capture_output=True, timeout=30)


@test
def an_mbox_whose_flock_may_be_host_local_is_warned():
    # An mbox's session lock is flock on the file: on NFS local_lock=flock
    # keeps that local (a Maildir's fcntl lock is not), posix does not:
    # then flock is a lock on the server, which stops the MTA's fcntl
    # lock for the whole session: refused (pop3d-maildrop.8, MBOX).
    for fstype, opts, warned in (("nfs", "rw,vers=3,local_lock=flock", 1),
                                 ("nfs", "rw,vers=4.2,local_lock=posix", -1),
                                 ("nfs4", "rw,vers=4.2,local_lock=none", -1),
                                 ("cifs", "rw,vers=3.0", -1),
                                 ("ceph", "rw", 0)):
        with TempDir() as tmp:
            mbox = os.path.join(tmp.path, "mbox")
            with open(mbox, "wb") as f:
                f.write(b"From a@b Thu Jan  1 00:00:00 2026\n" + MSG % (1, 1)
                        + b"\n")
            give(tmp.path)
            out, warns, last = session(mbox, env_for(mbox, fstype, opts))
            if warned == -1:
                check(out.startswith(b"-ERR [SYS/PERM]"),
                      "%s %s: refused: %r" % (fstype, opts, out[:80]))
                check("local_lock=flock" in last and
                      os.path.realpath(mbox) in last,
                      "the log names the mbox and the remedy: %r" % last)
                continue
            check(out.startswith(b"+OK") and b"+OK 1 " in out,
                  "%s: the session goes on: %r" % (opts, out[:80]))
            check_eq(len(warns), warned, "%s: %d warning: %r" %
                     (opts, warned, warns))
            check(not warns or "warning msg=\"the mbox lock may hold on this"
                  " host only: %s is on nfs, mounted with local_lock=all, "
                  "local_lock=flock or nolock" % os.path.realpath(mbox) in
                  warns[0], "it names the mbox: %r" % warns)


def same_tick_delivery(reader_env, writer_offset):
    """A host whose clock is writer_offset seconds off from the reader's
    last changed the directories; the reader lists them; then that host
    changes new/ again within the same timestamp tick (so that the mtime
    stays as it was).  The next session must still see the message."""
    with TempDir() as tmp:
        md = setup(tmp)
        env = reader_env(md)
        stamp(md, time.time() + writer_offset)
        before = mtimes(md)
        out, _, log = session(md, env)
        check(b"+OK 3 " in out, "the first session lists 3")
        deliver(md, 7)
        restamp(md, before)
        out, _, log = session(md, env)
        check(b"\r\n+OK 4 " in out and "cache=index" not in log,
              "the message delivered in the same tick is listed, by a "
              "scan: %r %s" % (out[:60], log))
        check_eq(out, reference(md, tmp), "the same answer as a full scan")


@test
def a_writer_whose_clock_is_behind_cannot_make_a_fresh_change_look_old():
    # On a file system where each host stamps with its own clock (ceph,
    # gfs2, ocfs2, SMB): the stamp looks SKEW seconds old to this host.
    same_tick_delivery(lambda md: env_for(md, "ceph", "rw"), -SKEW)
    same_tick_delivery(lambda md: env_for(md, "cifs", "rw"), -SKEW)


@test
def a_reader_whose_clock_is_ahead_cannot_either():
    same_tick_delivery(lambda md: env_for(
        md, "gfs2", "rw", TEST_POP3D_CLOCK_OFFSET=str(SKEW)), 0)


@test
def a_writer_whose_clock_is_ahead_only_costs_the_list():
    with TempDir() as tmp:
        md = setup(tmp)
        env = env_for(md, "ceph", "rw")
        stamp(md, time.time() + SKEW)
        out, _, log = session(md, env)
        check(" cache=young " in log, "stamps in the future are young: "
              + log)
        out, _, log = session(md, env)
        check((" cache=young " in log or " cache=kept " in log) and
              b"+OK 3 " in out, "and stay so: no list, a full scan: " + log)


@test
def settled_lists_serve_where_one_clock_stamps_everything():
    # The NFS server stamps the directories and, asked to touch the lock
    # file, with the same clock: the two-second rule alone is safe.  So
    # is one host's own file system.  Where pop3d cannot tell, the margin.
    for fstype, want in (("nfs4", "written"), (None, "written"),
                         ("ceph", "young")):
        with TempDir() as tmp:
            md = setup(tmp)
            env = env_for(md, fstype, "rw,local_lock=none")
            stamp(md, time.time() - 10)
            out, _, log = session(md, env)
            check(" cache=%s " % want in log, "%s: dirs 10 s old: %s: %s" %
                  (fstype, want, log))
            if want == "written":
                out, _, log = session(md, env)
                check(" cache=index " in log, "%s: then served" % fstype)
    with TempDir() as tmp:
        md = setup(tmp)
        env = env_for(md, TEST_POP3D_MOUNTINFO=os.path.join(tmp.path, "no"))
        stamp(md, time.time() - 10)
        out, _, log = session(md, env)
        check(" cache=young " in log and b"+OK 3 " in out,
              "no mount table: the margin, and no warning: " + log)
        stamp(md, time.time() - 700)
        out, _, log = session(md, env)
        check(" cache=written " in log, "beyond the margin, written: " + log)


@test
def a_file_system_pop3d_does_not_know_keeps_the_margin_unwarned():
    # Only types known to live on one host (ext4, xfs, tmpfs, ...) go
    # without the margin; a cluster file system pop3d has no word of
    # (panfs, wekafs) or an overlay (on what?) may be stamped by several
    # clocks: the margin, but no warning, as nothing is known of its locks.
    for fstype, want in (("ext4", "written"), ("xfs", "written"),
                         ("panfs", "young"), ("wekafs", "young"),
                         ("overlay", "young")):
        with TempDir() as tmp:
            md = setup(tmp)
            env = env_for(md, fstype, "rw")
            stamp(md, time.time() - 10)
            out, warns, log = session(md, env)
            check(" cache=%s " % want in log and b"+OK 3 " in out and
                  warns == [], "%s: dirs 10 s old: %s, no warning: %s %r"
                  % (fstype, want, log, warns))
    same_tick_delivery(lambda md: env_for(md, "wekafs", "rw"), -SKEW)


@test
def hosts_with_skewed_clocks_take_turns_with_deliveries():
    # Two readers, 5 minutes ahead and 5 minutes behind, over ceph, with
    # deliveries stamped by a third host's clock (behind, ahead or right)
    # and some in the tick of the last stamp.  After every session: the
    # same answer as a full scan of the same messages.
    with TempDir() as tmp:
        md = setup(tmp)
        hosts = [env_for(md, "ceph", "rw", TEST_POP3D_CLOCK_OFFSET=str(o))
                 for o in (SKEW, -SKEW)]
        writers = (-SKEW, SKEW, 0, -SKEW, -SKEW, 0, SKEW, -SKEW)
        for i, w in enumerate(writers):
            out, _, log = session(md, hosts[i % 2])
            check_eq(out, reference(md, tmp), "turn %d: host %d answers as "
                     "a full scan (%s)" % (i, i % 2, log))
            after = mtimes(md)
            # After a session that found new/ empty: a delivery, in the
            # tick of the stamps that session saw, or by a skewed clock.
            if i % 2 == 1:
                deliver(md, i)
                if i % 4 == 1:
                    restamp(md, after)
                else:
                    stamp(md, time.time() + w)
        out, _, log = session(md, hosts[0])
        check_eq(out, reference(md, tmp), "the last session too")
        check(b"\r\n+OK %d " % (3 + len(writers) // 2) in out,
              "every message listed")


@test
def login_delay_is_measured_by_the_file_systems_clock():
    # An NFS server stamps the record of the last login with its clock; a
    # host whose clock is 5 minutes off from it must still count the
    # delay right, both ways.  (The hook makes "now" the server's clock.)
    for server in (SKEW, -SKEW):
        with TempDir() as tmp:
            md = setup(tmp)
            env = env_for(md, "nfs4", "rw,local_lock=none",
                          POP3D_LOGIN_DELAY="60",
                          TEST_POP3D_CLOCK_OFFSET=str(server))
            record = os.path.join(md, "pop3d-login")
            with open(record, "w"):
                pass
            if ROOT:
                os.chown(record, RUN_UID, RUN_GID)
            ago = time.time() + server - 10
            os.utime(record, (ago, ago))
            out, _, _ = session(md, env)
            check(out.startswith(b"-ERR [LOGIN-DELAY] "), "server %+d s: "
                  "a login 10 s after the last is refused: %r" % (server, out))
            ago = time.time() + server - 120
            os.utime(record, (ago, ago))
            out, _, _ = session(md, env)
            check(out.startswith(b"+OK"), "server %+d s: 120 s after, in: "
                  "%r" % (server, out))
            check(abs(os.stat(record).st_mtime - (time.time() + server)) < 30,
                  "server %+d s: the new record is by the server's clock" %
                  server)


# futimens with times (the record's time put back) fails as on a file
# system that refuses it; with none (touching it) goes on.
NO_PUT_BACK = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
int futimens(int fd, const struct timespec t[2])
{
	if (t != NULL) {
		errno = EROFS;
		return -1;
	}
	return (int)syscall(SYS_utimensat, fd, NULL, t, 0);
}
"""


@test
def a_record_whose_time_cannot_be_put_back_is_logged():
    # A login too soon touches the record to read the file system's clock
    # and puts its time back; when that fails, the next delay counts from
    # this refused login: said, as any other failure of the record.
    with TempDir() as tmp:
        src = os.path.join(tmp.path, "noputback.c")
        so = os.path.join(tmp.path, "noputback.so")
        with open(src, "w") as f:
            f.write(NO_PUT_BACK)
        r = subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            skip("no C compiler for the shim: %r" % r.stderr[-200:])
            return
        os.chmod(so, 0o755)
        md = setup(tmp)
        record = os.path.join(md, "pop3d-login")
        with open(record, "w"):
            pass
        if ROOT:
            os.chown(record, RUN_UID, RUN_GID)
        # Under the sanitizers the shim comes before ASan's runtime.
        env = env_for(md, POP3D_LOGIN_DELAY="60", LD_PRELOAD=so,
                      ASAN_OPTIONS="verify_asan_link_order=0")
        p = subprocess.run([PROG, md], input=LISTING, capture_output=True,
                           env=env, cwd=os.path.dirname(md), timeout=60,
                           **run_kw())
        err = p.stderr.decode()
        check(p.stdout.startswith(b"-ERR [LOGIN-DELAY] ") and
              re.search(r"login-file-failed .*pop3d-login", err),
              "refused, and the failed put-back is logged: %r %r" %
              (p.stdout[:60], err))


if __name__ == "__main__":
    # Every case but the real FUSE mount's needs the hooks.
    run_all(sys.argv[2:] if test_hooks(PROG) else
            ["a_real_fuse_mount_is_warned_from_the_kernels_own_table",
             "a_record_whose_time_cannot_be_put_back_is_logged"])

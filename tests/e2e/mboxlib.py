"""Hand-made mboxes for the mbox tests (test_mbox.py, tests/stress/
mbox_kill.py): messages as (From_ line, content) pairs, the file as an MTA
writes it, the octets each message serves, and an MTA's delivery under
its locks (fcntl on the file, then the dotlock)."""

import fcntl
import hashlib
import os
import struct
import time


def from_line(n):
    return b"From sender%d@example.org Thu Dec  3 08:%02d:%02d 2026\n" % (
        n, n // 60 % 60, n % 60)


def message(n, body=b"", headers=b""):
    """(From_ line, content): content is what RETR serves."""
    return (from_line(n), b"Subject: message %d\n%s\nbody of %d\n%s" % (
        n, headers, n, body))


def mbox_bytes(msgs):
    """The file: each From_ line, its content, and the empty line an MTA
    puts after each message."""
    out = b""
    for fl, content in msgs:
        if content and not content.endswith(b"\n"):
            content += b"\n"
        out += fl + content + b"\n"
    return out


def served(content):
    """What a message serves when written by mbox_bytes."""
    return content if content.endswith(b"\n") or not content else \
        content + b"\n"


def write_mbox(path, msgs, mode=0o600):
    with open(path, "wb") as f:
        f.write(mbox_bytes(msgs))
    os.chmod(path, mode)


def deliver(path, msg, uid=None, gid=None, hold=0.0):
    """Appends msg as a Debian MTA does: fcntl lock on the open file, then
    the dotlock PATH.lock, waiting for each; holds them hold seconds."""
    lock = path + ".lock"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    if uid is not None:
        os.fchown(fd, uid, gid)
    deadline = time.time() + 30
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.01)
            continue
        try:
            lfd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(lfd, b"%d\n" % os.getpid())
            os.close(lfd)
            break
        except FileExistsError:
            fcntl.lockf(fd, fcntl.LOCK_UN)
            stale_lock(lock)
            if time.time() > deadline:
                raise
            time.sleep(0.01)
    try:
        size = os.fstat(fd).st_size
        os.write(fd, mbox_bytes([msg]))
        if hold:
            time.sleep(hold)
    finally:
        os.unlink(lock)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    return size


def stale_lock(lock):
    """Removes a dotlock whose process is gone, as liblockfile does."""
    try:
        with open(lock) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)
    except ProcessLookupError:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
    except (OSError, ValueError, IndexError):
        pass


JOURNAL_NONCE = 16


def side_name(st, what):
    """The name in the home of the file what ("journal", "cutting",
    "cache", "login") beside the mbox whose os.stat is st."""
    return ".pop3d-mbox.%d.%d.%s" % (st.st_dev, st.st_ino, what)


JOURNAL_NEAR = 4096


def journal(st, S, F, N, nonce, content, orig, btime=(0, 0)):
    """A journal as pop3d-maildrop writes it (mbox_journal.c): nonce is
    the octets it writes over [S - k, S) before the cut; orig the file as
    it was when the journal was written (what a redo checks is still
    there: the octets before F and before S - k); btime the file's birth
    time (seconds, nanoseconds), (0, 0) for not known (not checked)."""
    k = min(JOURNAL_NONCE, S - N)
    head = b"P3MBOXJ3" + struct.pack("<8Q", st.st_dev, st.st_ino, S, F, N,
                                     k, btime[0], btime[1])
    head += nonce[:JOURNAL_NONCE].ljust(JOURNAL_NONCE, b"\0")
    head += orig[S - k:S].ljust(JOURNAL_NONCE, b"\0")
    head += hashlib.sha256(orig[F - min(F, JOURNAL_NEAR):F]).digest()
    head += hashlib.sha256(orig[max(N, S - JOURNAL_NEAR):S - k]).digest()
    data = head + content
    return data + hashlib.sha256(data).digest()[:8]

"""The mbox UPDATE kill test (pop3d-maildrop.8, MBOX): trials that each
build an mbox, run a session that DELEs a random subset and QUITs, SIGKILL
pop3d-maildrop at a random moment of its UPDATE, in three trials of four
deliver a new message (as an MTA does: fcntl lock, then the dotlock)
during the session, racing the QUIT, or right after the kill, then run a
recovery session and check that every message not DELE'd is there
exactly once and byte for byte, every DELE'd one at most once, every
delivered one exactly once, and the file is one of the two it may be.

    python3 tests/stress/mbox_kill.py build [TRIALS [SEED]]

Defaults: 300 trials.  make check runs 30 of them (tests/e2e/test_mbox.py,
mbox_kill_short).  It prints the counts (trials, kills by the phase the
files show, failures) and exits 1 when any trial failed."""

import os
import poplib
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness  # noqa: E402
import mboxlib  # noqa: E402
from harness import RUN_GID, RUN_UID, Spawner, TempDir  # noqa: E402

JOURNAL = ".pop3d-mbox.journal"


def make_msgs(rng, n, base):
    msgs = []
    for i in range(n):
        size = rng.choice((10, 200, 5000, 60000, 300000, 1000000))
        body = (b"line %d of message %d\n" % (i, base + i)) * (size // 24 + 1)
        msgs.append(mboxlib.message(base + i, body))
    return msgs


def open_files(pid):
    """What the process has open, just before the kill."""
    out = []
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
            except OSError:
                pass
    except OSError:
        pass
    return out


def phase_of(path, home, size0, data0, exited, fds):
    """What the files show of where the UPDATE was cut."""
    if exited:
        return "finished"
    jexists = os.path.exists(os.path.join(home, JOURNAL))
    size = os.path.getsize(path)
    if not jexists and size == size0:
        with open(path, "rb") as f:
            same = f.read() == data0
        if not same:
            return "odd"
        # The journal is an unnamed file (O_TMPFILE) until it is in place.
        if any(f.startswith(home + "/#") for f in fds):
            return "journal-writing"
        if os.path.exists(path + ".lock"):
            return "locked-checking"
        return "before-locks"
    if jexists and size == size0:
        with open(path, "rb") as f:
            same = f.read() == data0
        return "journal-written" if same else "rewriting"
    if jexists:
        return "truncated"
    return "done-not-exited"


def retr_all(srv):
    p = poplib.POP3("127.0.0.1", srv.port, timeout=60)
    srv.connections += 1     # so that last_proc() waits for this one
    n = p.stat()[0]
    got = [b"\n".join(p.retr(i)[1]) + b"\n" for i in range(1, n + 1)]
    p.quit()
    return got


class Trials:
    def __init__(self, prog, tmp, rng):
        self.prog = prog
        self.tmp = tmp
        self.rng = rng
        self.path = os.path.join(tmp.path, "mbox")
        self.counts = {"trials": 0, "failures": 0, "delivered": 0}
        self.phases = {}
        self.update_s = 0.02
        self.failures = []

    def session(self, srv, deletes):
        s = srv.connect(timeout=60)
        f = s.makefile("rb")
        f.readline()
        for n in deletes:
            s.sendall(b"DELE %d\r\n" % n)
        for n in deletes:
            f.readline()
        return s, f

    def trial(self, srv, t):
        rng = self.rng
        msgs = make_msgs(rng, rng.randint(3, 30), 1000 * t)
        mboxlib.write_mbox(self.path, msgs)
        os.chown(self.path, RUN_UID, RUN_GID)
        with open(self.path, "rb") as f:
            data0 = f.read()
        k = rng.randint(1, len(msgs))
        deletes = sorted(rng.sample(range(1, len(msgs) + 1), k))
        s, f = self.session(srv, deletes)
        proc = srv.last_proc()
        if proc.args is None or proc.poll() is not None:
            raise RuntimeError("the session's process is not the last")
        # Deliveries: during the session, racing the QUIT, after the kill.
        new, when = [], rng.choice(("none", "during", "racing", "after"))
        if when != "none":
            new = [mboxlib.message(1000 * t + 999, b"delivered %s\n" %
                                   when.encode())]
            self.counts["delivered"] += 1
        if when == "during":
            mboxlib.deliver(self.path, new[0])
            with open(self.path, "rb") as f:
                data0 = f.read()
        racer = threading.Thread(target=mboxlib.deliver,
                                 args=(self.path, new[0])) \
            if when == "racing" else None
        # Most kills late: the journal's writing takes the most time.
        delay = self.update_s * (rng.uniform(0, 1) if rng.random() < 0.3
                                 else rng.uniform(0.5, 1.1))
        start = time.time()
        s.sendall(b"QUIT\r\n")
        if racer is not None:
            racer.start()
        time.sleep(delay)
        exited = proc.poll() is not None
        fds = [] if exited else open_files(proc.pid)
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            exited = True
        proc.wait()
        if exited:
            took = time.time() - start
            self.update_s = max(0.002, 0.8 * self.update_s + 0.2 * took)
        s.close()
        if racer is not None:
            racer.join()
            phase = "racing-delivery"
        else:
            phase = phase_of(self.path, self.tmp.path, len(data0), data0,
                             exited, fds)
        self.phases[phase] = self.phases.get(phase, 0) + 1
        if when == "after":
            mboxlib.deliver(self.path, new[0])
        got = retr_all(srv)
        self.check(t, msgs, deletes, new, got, phase)
        self.counts["trials"] += 1

    def check(self, t, msgs, deletes, new, got, phase):
        want = [mboxlib.served(c) for _, c in msgs]
        kept = [c for i, c in enumerate(want, 1) if i not in deletes]
        gone = [c for i, c in enumerate(want, 1) if i in deletes]
        newc = [mboxlib.served(c) for _, c in new]
        bad = []
        for c in kept + newc:
            if got.count(c) != 1:
                bad.append("kept/new message present %d times" %
                           got.count(c))
        for c in gone:
            if got.count(c) > 1:
                bad.append("deleted message present %d times" % got.count(c))
        with open(self.path, "rb") as f:
            data = f.read()
        ok_files = (mboxlib.mbox_bytes([m for i, m in enumerate(msgs, 1)
                                        if i not in deletes] + new),
                    mboxlib.mbox_bytes(msgs + new))
        if data not in ok_files:
            bad.append("the file is neither before nor after")
        if os.path.exists(os.path.join(self.tmp.path, JOURNAL)):
            bad.append("a journal left after recovery")
        if bad:
            self.counts["failures"] += 1
            self.failures.append("trial %d (%s): %s" % (t, phase,
                                                        "; ".join(bad)))


def run(trials, seed=None):
    """Runs the trials; returns (counts, phases, failures)."""
    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    prog = os.path.join(harness.BUILD, "pop3d-maildrop")
    with TempDir() as tmp:
        tmp.give()
        tr = Trials(prog, tmp, rng)
        with Spawner([prog, "mbox"], env={"USER": "nobody"},
                     cwd=tmp.path) as srv:
            for t in range(trials):
                tr.trial(srv, t)
    tr.counts["seed"] = seed
    return tr.counts, tr.phases, tr.failures


def main():
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else None
    counts, phases, failures = run(trials, seed)
    print("trials=%d delivered=%d failures=%d seed=%d" % (
        counts["trials"], counts["delivered"], counts["failures"],
        counts["seed"]))
    print("kills by phase: " + " ".join("%s=%d" % kv
                                        for kv in sorted(phases.items())))
    for f in failures[:20]:
        print("FAIL " + f)
    sys.exit(1 if counts["failures"] else 0)


if __name__ == "__main__":
    main()

"""Another program changing a Maildir under pop3d-maildrop's feet, as an
IMAP server does: every message's flags flipped in a loop (the file renamed
within cur/, Dovecot-style) and every file of new/ moved to cur/.  Run as a
script (python3 renamer.py MAILDIR [RATE]) it renames until SIGTERM, at
most RATE renames a second when RATE is given (0: as fast as it can), and
counts its renames in MAILDIR/../renamer.count on exit.  The trials below
drive real POP3 sessions beside it and count what the server got wrong."""

import os
import signal
import sys
import time

FLAG_SETS = ["", "S", "RS", "FS", "S", "T"]


def reflag(name, step):
    """The name with other flags: the unique part stays."""
    uniq, _, info = name.partition(":2,")
    cur = FLAG_SETS.index(info) if info in FLAG_SETS else 0
    flags = FLAG_SETS[(cur + 1 + step % 2) % len(FLAG_SETS)]
    if flags == info:
        flags = FLAG_SETS[(cur + 3) % len(FLAG_SETS)]
    return uniq + ":2," + flags


def run(maildir, rate):
    cur = os.path.join(maildir, "cur")
    new = os.path.join(maildir, "new")
    count = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    start = time.time()
    step = 0
    while not stop:
        step += 1
        for sub, names in (("new", os.listdir(new)), ("cur", os.listdir(cur))):
            for n in names:
                if stop:
                    break
                if n.startswith("."):
                    continue
                try:
                    if sub == "new":
                        if ":" in n:
                            continue
                        os.rename(os.path.join(new, n),
                                  os.path.join(cur, n + ":2,"))
                    else:
                        os.rename(os.path.join(cur, n),
                                  os.path.join(cur, reflag(n, step)))
                except OSError:
                    continue
                count += 1
                if rate > 0:
                    ahead = count / rate - (time.time() - start)
                    if ahead > 0:
                        time.sleep(ahead)
    with open(os.path.join(os.path.dirname(maildir.rstrip("/")),
                           "renamer.count"), "w") as f:
        f.write("%d\n" % count)


if __name__ == "__main__":
    run(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0)


class Trials:
    """POP3 sessions against a Maildir that the renamer keeps changing.
    Each trial: UIDL (every message must be listed: no other program
    removes any), RETR of a few (none may be called removed, each must be
    the right message), DELE of a few and QUIT; then, with the renamer
    stopped for a moment, the files: every message QUIT counted as removed
    must be gone, every other one still there."""

    def __init__(self, harness, tmp, count, rate=0, retr=3, dele=2,
                 seed=15):
        import random
        self.h = harness
        self.tmp = tmp
        self.md = harness.make_maildir(os.path.join(tmp.path, "Maildir"))
        self.rand = random.Random(seed)
        self.next = 0
        self.expected = set()
        self.retr_n = retr
        self.dele_n = dele
        self.counts = dict(trials=0, listed=0, missing=0, extra=0, retr=0,
                           false_removed=0, retr_errors=0, wrong=0, dele=0,
                           claimed=0, resurrected=0, unremoved=0, lost=0,
                           quit_errors=0, renames=0)
        for _ in range(count):
            self.deliver(cur=self.next % 2 == 0)
        tmp.give()
        self.rate = rate
        self.renamer = None

    def uniq(self, i):
        # ,W= on every third: such a message is sized by its name.
        w = ",W=%d" % self.wire(i) if i % 3 == 0 else ""
        return "%d.M%dP%d.renames,S=%d%s" % (1700000000 + i, i % 1000000,
                                              4000 + i % 7, len(
                                                  self.body(i)), w)

    def body(self, i):
        return b"Subject: message %d\n\nbody of message %d\n" % (i, i)

    def wire(self, i):
        return len(self.body(i)) + self.body(i).count(b"\n")

    def deliver(self, cur=False):
        """A new message, as a delivery agent writes it: tmp/, then new/
        (or straight into cur/ with flags, for the first ones)."""
        i = self.next
        self.next += 1
        u = self.uniq(i)
        tmp = os.path.join(self.md, "tmp", u)
        with open(tmp, "wb") as f:
            f.write(self.body(i))
        if self.h.ROOT:
            os.chown(tmp, self.h.RUN_UID, self.h.RUN_GID)
        os.rename(tmp, os.path.join(self.md, "cur", u + ":2,S") if cur
                  else os.path.join(self.md, "new", u))
        self.expected.add(u)

    def start(self):
        import subprocess
        self.renamer = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), self.md,
             str(self.rate)])

    def stop(self):
        self.renamer.send_signal(signal.SIGTERM)
        self.renamer.wait()
        self.renamer = None
        try:
            with open(os.path.join(self.tmp.path, "renamer.count")) as f:
                self.counts["renames"] = int(f.read())
        except (OSError, ValueError):
            pass

    def on_disk(self):
        """The unique names in cur/ and new/, read while nothing renames."""
        running = self.renamer is not None
        if running:
            os.kill(self.renamer.pid, signal.SIGSTOP)
            os.waitpid(self.renamer.pid, os.WUNTRACED)
        try:
            return [n.partition(":")[0] for sub in ("cur", "new")
                    for n in os.listdir(os.path.join(self.md, sub))]
        finally:
            if running:
                os.kill(self.renamer.pid, signal.SIGCONT)

    def trial(self, port):
        import poplib
        c = self.counts
        c["trials"] += 1
        p = poplib.POP3("127.0.0.1", port, timeout=60)
        _, lines, _ = p.uidl()
        nums = {}
        for l in lines:
            n, u = l.decode().split()
            nums[u] = int(n)
        c["listed"] += len(nums)
        c["missing"] += len(self.expected - set(nums))
        # A message listed twice gets a second, digest UIDL.
        c["extra"] += len(set(nums) - self.expected)
        live = sorted(set(nums) & self.expected)
        for u in self.rand.sample(live, min(self.retr_n, len(live))):
            c["retr"] += 1
            try:
                _, body, _ = p.retr(nums[u])
            except poplib.error_proto as e:
                if b"removed by another program" in e.args[0]:
                    c["false_removed"] += 1
                else:
                    c["retr_errors"] += 1
                continue
            i = int(u.split(".")[0]) - 1700000000
            if b"\r\n".join(body) + b"\r\n" != self.body(i).replace(
                    b"\n", b"\r\n"):
                c["wrong"] += 1
        dele = self.rand.sample(live, min(self.dele_n, len(live)))
        for u in dele:
            p.dele(nums[u])
        c["dele"] += len(dele)
        try:
            reply = p.quit()
            claimed = len(dele)
            if not reply.startswith(b"+OK bye, %d messages removed"
                                    % len(dele)):
                c["quit_errors"] += 1
        except poplib.error_proto as e:
            # "-ERR [SYS/TEMP] N of M deleted messages could not be removed"
            words = e.args[0].split()
            try:
                claimed = len(dele) - int(words[2])
            except (IndexError, ValueError):
                claimed = 0
                c["quit_errors"] += 1
        c["claimed"] += claimed
        disk = self.on_disk()
        present = set(disk)
        still = [u for u in dele if u in present]
        c["unremoved"] += len(still)
        c["resurrected"] += max(0, len(still) - (len(dele) - claimed))
        c["lost"] += len(self.expected - set(dele) - present)
        c["extra"] += len(disk) - len(present)   # duplicates on disk
        self.expected = present
        for _ in range(len(dele)):
            self.deliver()

    def summary(self):
        return " ".join("%s=%d" % kv for kv in sorted(self.counts.items()))

"""A long run of tests/e2e/test_renames.py's trials: POP3 sessions (UIDL,
RETR, DELE, QUIT) beside a renamer that changes flags and moves new/ to
cur/ at a steady rate, as an IMAP server would, for a given time.  Not in
make check (it takes minutes); run it by hand:

    python3 tests/stress/renames.py build [SECONDS [RATE [MESSAGES]]]

Defaults: 180 seconds, 300 renames a second, 2000 messages.  It prints the
counts (missing from listings, RETRs called removed, resurrections after
QUIT, ...) and exits 1 when any of those is not 0."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness  # noqa: E402
import renamer  # noqa: E402
from harness import Spawner, TempDir  # noqa: E402


def main():
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 180
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 300
    messages = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    prog = os.path.join(harness.BUILD, "pop3d-maildrop")
    with TempDir() as tmp:
        t = renamer.Trials(harness, tmp, messages, rate=rate)
        with Spawner([prog, "Maildir"], cwd=tmp.path) as srv:
            t.start()
            end = time.time() + seconds
            try:
                while time.time() < end:
                    t.trial(srv.port)
            finally:
                t.stop()
    c = t.counts
    print("%s: %d s, %d messages, renamer at %g/s" % (prog, seconds,
                                                      messages, rate))
    print(t.summary())
    bad = sum(c[k] for k in ("missing", "extra", "false_removed",
                             "retr_errors", "wrong", "resurrected",
                             "quit_errors", "lost"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

"""pop3d-maildrop beside another program that renames the messages (an IMAP
server changing flags, moving new/ to cur/): every message is listed, none
is called removed while it exists, and QUIT counts as removed only what is
gone.  The renamer and the trials are in renamer.py; tests/stress/renames.py
runs them for minutes."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness
from harness import (Raw, Spawner, TempDir, check, check_eq, make_maildir,
                     run_all, test, wire_form)
import renamer

PROG = os.path.join(harness.BUILD, "pop3d-maildrop")


def run_trials(messages, trials, what):
    with TempDir() as tmp:
        t = renamer.Trials(harness, tmp, messages)
        with Spawner([PROG, "Maildir"], cwd=tmp.path) as srv:
            t.start()
            try:
                for _ in range(trials):
                    t.trial(srv.port)
            finally:
                t.stop()
        c = t.counts
        print("# %s: %s" % (what, t.summary()))
        check(c["renames"] >= trials, "%s: the renamer ran (%d renames)" %
              (what, c["renames"]))
        check_eq(c["missing"], 0, "%s: no message missing from UIDL" % what)
        check_eq(c["extra"], 0, "%s: no message listed twice" % what)
        check_eq(c["false_removed"], 0,
                 "%s: no RETR of a message that exists says removed" % what)
        check_eq(c["retr_errors"] + c["wrong"], 0,
                 "%s: every RETR gives its message" % what)
        check_eq(c["resurrected"], 0,
                 "%s: every message QUIT counted as removed is gone" % what)
        check_eq(c["quit_errors"], 0, "%s: QUIT's reply as documented" % what)
        check_eq(c["lost"], 0, "%s: no message lost" % what)
        check_eq(c["claimed"] + c["unremoved"], c["dele"],
                 "%s: QUIT's counts add up to the DELEs" % what)


@test
def small_maildrop_with_a_fast_renamer():
    # Each directory fits one getdents call: the races are between the
    # scan, the sizing, RETR and QUIT, and between new/ and cur/.
    run_trials(40, 300, "40 messages")


@test
def large_maildrop_with_a_fast_renamer():
    # cur/ takes several getdents calls: a rename between two of them can
    # hide a file from readdir under both its names.
    run_trials(1200, 30, "1200 messages")


def one_message(tmp, name="1700000000.M1P1.h", data=b"Subject: x\n\nbody\n"):
    md = make_maildir(os.path.join(tmp.path, "Maildir"),
                      cur=[(name + ":2,S", data)])
    return md, os.path.join(md, "cur", name + ":2,S")


@test
def hard_linked_message_is_one_message_and_removed_whole():
    with TempDir() as tmp:
        md, path = one_message(tmp)
        os.link(path, path[:-1] + "RS")
        tmp.give()
        with Spawner([PROG, "Maildir"], cwd=tmp.path) as srv:
            r = Raw(srv.connect())
            check_eq(r.line()[:6], b"+OK ma", "greeting")
            check_eq(r.cmd(b"STAT")[:6], b"+OK 1 ",
                     "one file under two names (same inode): one message")
            check_eq(r.cmd(b"DELE 1"), b"+OK message 1 deleted", "DELE 1")
            check_eq(r.cmd(b"QUIT"), b"+OK bye, 1 messages removed",
                     "QUIT removes it")
            srv.wait_all()
        check_eq(os.listdir(os.path.join(md, "cur")), [],
                 "both names are gone: it cannot come back")


@test
def quit_says_what_could_not_be_removed():
    with TempDir() as tmp:
        md = make_maildir(os.path.join(tmp.path, "Maildir"),
                          cur=[("1700000001.M1P1.h:2,", b"A: 1\n\none\n"),
                               ("1700000002.M1P1.h:2,", b"A: 2\n\ntwo\n"),
                               ("1700000003.M1P1.h:2,", b"A: 3\n\nthree\n")])
        tmp.give()
        cur = os.path.join(md, "cur")
        with Spawner([PROG, "Maildir"], cwd=tmp.path) as srv:
            r = Raw(srv.connect())
            r.line()
            for n in (b"1", b"2", b"3"):
                r.cmd(b"DELE " + n)
            # Message 1 is also linked outside new/ and cur/ (another
            # folder, tmp/): removing its name here does not remove it.
            os.link(os.path.join(cur, "1700000001.M1P1.h:2,"),
                    os.path.join(md, "tmp", "elsewhere"))
            # Message 3 was removed by another program: it is gone.
            os.unlink(os.path.join(cur, "1700000003.M1P1.h:2,"))
            check_eq(r.cmd(b"QUIT"), b"-ERR [SYS/TEMP] 1 of 3 deleted"
                     b" messages could not be removed",
                     "QUIT counts only what is gone as removed")
            srv.wait_all()
        check_eq(os.listdir(cur), [], "what could go went")
        log = srv.log()
        check(re.search(r"remove-failed file=/\S*/Maildir/cur/"
                        r"1700000001\.M1P1\.h:2,", log),
              "the failure is logged with the file, from the root: %r" % log)
        check("removed=2 unremoved=1" in log, "the session line counts both")
        # A cur/ the user cannot write is refused before the session
        # (test_maildrop_files: read_only_maildrop_is_refused_for_good), so
        # a false +OK from it cannot arise.


@test
def message_renamed_after_the_scan_is_served_and_removed():
    with TempDir() as tmp:
        md, path = one_message(tmp)
        new = os.path.join(md, "new", "1700000009.M1P1.h")
        with open(new, "wb") as f:
            f.write(b"Subject: new\n\nnew one\n")
        tmp.give()
        with Spawner([PROG, "Maildir"], cwd=tmp.path) as srv:
            r = Raw(srv.connect())
            r.line()
            check_eq(r.cmd(b"STAT")[:6], b"+OK 2 ", "two messages")
            # An IMAP server changes both names: flags, and new/ to cur/
            # after this session moved it (a client that reads cur/).
            os.rename(path, path + "T")
            cur2 = os.path.join(md, "cur", "1700000009.M1P1.h:2,")
            os.rename(cur2, cur2 + "F")
            check_eq(r.cmd(b"TOP 1 0")[:3], b"+OK", "TOP finds message 1")
            r.multiline()
            check_eq(r.cmd(b"RETR 2")[:3], b"+OK", "RETR finds message 2")
            check_eq(r.multiline(), wire_form(b"Subject: new\n\nnew one\n"),
                     "... and sends it")
            r.cmd(b"DELE 1")
            r.cmd(b"DELE 2")
            os.rename(path + "T", path + "ST")
            check_eq(r.cmd(b"QUIT"), b"+OK bye, 2 messages removed",
                     "QUIT removes both under their new names")
            srv.wait_all()
        check_eq(os.listdir(os.path.join(md, "cur")), [], "both are gone")


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""Per-user policies enforced by pop3d-maildrop, end to end with poplib:
EXPIRE (RFC 2449 section 6.7) removes at UPDATE what it says; LOGIN-DELAY
(section 6.8) refuses a login that comes too soon after the last one,
through the whole chain (pop3d, a checkpassword program, pop3d-maildrop)."""

import os
import poplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Spawner, TempDir, check,
                     check_eq, make_maildir, run_all, test)

PROG = os.environ.get("POP3D_MAILDROP_PROG",
                      os.path.join(BUILD, "pop3d-maildrop"))

MSGS = [("16000000%02d.M1P1.test" % i, b"Subject: %d\n\nbody\n" % i)
        for i in range(1, 6)]
DAY = 86400
POP3D = os.environ.get("POP3D_PROG", os.path.join(BUILD, "pop3d"))
CHECKPW = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "checkpassword.py")


def setup(tmp, cur=()):
    md = make_maildir(os.path.join(tmp.path, "Maildir"), cur=cur, new=MSGS)
    tmp.give()
    return md


def spawner(tmp, expire):
    env = {"POP3D_EXPIRE": expire} if expire is not None else {}
    return Spawner([PROG, "Maildir"], env=env, cwd=tmp.path)


def pop(srv):
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    srv.connections += 1
    return p


def uniqs(md):
    """The unique names left, with their flags, cur/ and new/ together."""
    return sorted(os.listdir(os.path.join(md, "cur")) +
                  os.listdir(os.path.join(md, "new")))


def left(md):
    return sorted(n.split(":")[0] for n in uniqs(md))


def names(*idx):
    return sorted(MSGS[i - 1][0] for i in idx)


@test
def expire_0_removes_what_was_retrieved():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp, "0") as srv:
            p = pop(srv)
            check_eq(p.capa().get("EXPIRE"), ["0"], "EXPIRE 0 advertised")
            p.retr(1)
            p.retr(3)
            p.top(2, 0)
            p.list()
            p.uidl()
            check_eq(p.stat()[0], 5, "retrieved messages still listed")
            resp = p.quit()
            check_eq(resp, b"+OK bye, 2 messages removed",
                     "QUIT counts the expired messages")
            srv.wait_all()
        check_eq(left(md), names(2, 4, 5),
                 "RETR'd removed; TOP'd and LISTed kept")
        check("expired=2" in srv.log() and "removed=2" in srv.log(),
              "the session line counts them")


@test
def expire_0_counts_with_dele():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp, "0") as srv:
            p = pop(srv)
            p.retr(1)
            p.dele(1)
            p.dele(4)
            p.retr(5)
            check_eq(p.quit(), b"+OK bye, 3 messages removed",
                     "a RETR'd and DELE'd message counts once")
            srv.wait_all()
        check_eq(left(md), names(2, 3), "what was deleted or retrieved went")


@test
def expire_0_no_quit_or_rset_removes_nothing():
    with TempDir() as tmp:
        md = setup(tmp)
        with spawner(tmp, "0") as srv:
            p = pop(srv)
            p.retr(1)
            p.close()
            srv.wait_all()
            check_eq(left(md), names(1, 2, 3, 4, 5),
                     "a dropped connection removes nothing")
            p = pop(srv)
            p.retr(2)
            p.rset()
            check_eq(p.quit(), b"+OK bye, 0 messages removed",
                     "RSET undoes the retrieval's removal")
            srv.wait_all()
        check_eq(left(md), names(1, 2, 3, 4, 5), "RSET then QUIT keeps all")


@test
def expire_never_or_unset_removes_nothing():
    for expire in ("NEVER", None):
        with TempDir() as tmp:
            md = setup(tmp)
            with spawner(tmp, expire) as srv:
                p = pop(srv)
                p.retr(1)
                check_eq(p.quit(), b"+OK bye, 0 messages removed",
                         "EXPIRE %s: nothing removed" % expire)
                srv.wait_all()
            check_eq(uniqs(md), sorted(n + ":2," for n, _ in MSGS),
                     "EXPIRE %s: nothing removed or renamed" % expire)


@test
def expire_days_marks_seen_then_removes_old():
    with TempDir() as tmp:
        md = setup(tmp)
        cur = os.path.join(md, "cur")
        with spawner(tmp, "1") as srv:
            p = pop(srv)
            p.retr(1)
            p.retr(2)
            p.top(3, 0)
            check_eq(p.quit(), b"+OK bye, 0 messages removed",
                     "EXPIRE 1: nothing removed in the retrieving session")
            srv.wait_all()
            check_eq(uniqs(md), sorted([MSGS[0][0] + ":2,S",
                                        MSGS[1][0] + ":2,S"] +
                                       [n + ":2," for n, _ in MSGS[2:]]),
                     "RETR'd messages marked seen, the others not")
            now = time.time()
            st = os.stat(os.path.join(cur, MSGS[0][0] + ":2,S"))
            check(abs(st.st_atime - now) < 600,
                  "the mark sets the access time to the QUIT's")
            # Message 1 was retrieved two days ago, 2 an hour ago; 3 is
            # unseen but old, 4 is seen by another program long ago.
            for name, age in ((MSGS[0][0] + ":2,S", 2 * DAY),
                              (MSGS[1][0] + ":2,S", 3600),
                              (MSGS[2][0] + ":2,", 3 * DAY)):
                p_ = os.path.join(cur, name)
                os.utime(p_, (now - age, os.stat(p_).st_mtime))
            os.rename(os.path.join(cur, MSGS[3][0] + ":2,"),
                      os.path.join(cur, MSGS[3][0] + ":2,FS"))
            p_ = os.path.join(cur, MSGS[3][0] + ":2,FS")
            os.utime(p_, (now - 3 * DAY, os.stat(p_).st_mtime))

            # RSET and a dropped connection remove nothing.
            p = pop(srv)
            p.rset()
            p.close()
            srv.wait_all()
            check_eq(len(uniqs(md)), 5, "no QUIT: nothing expired")

            p = pop(srv)
            check_eq(p.stat()[0], 5, "expired messages are served until"
                     " the UPDATE")
            check_eq(p.quit(), b"+OK bye, 2 messages removed",
                     "QUIT counts the expired ones")
            srv.wait_all()
        check_eq(left(md), names(2, 3, 5),
                 "seen two days ago removed, seen an hour ago kept,"
                 " unseen kept")
        check("expired=2" in srv.log(), "the session line says expired=2")


@test
def expire_days_retrieved_again_is_not_removed():
    with TempDir() as tmp:
        old = MSGS[0][0] + ":2,S"
        md = setup(tmp, cur=[(old, b"Subject: old\n\nx\n")])
        p_ = os.path.join(md, "cur", old)
        os.utime(p_, (time.time() - 5 * DAY, os.stat(p_).st_mtime))
        with spawner(tmp, "2") as srv:
            p = pop(srv)
            _, lst, _ = p.uidl()
            n = [l.split()[0] for l in lst if l.split()[1] ==
                 MSGS[0][0].encode()][0]
            p.retr(int(n))
            check_eq(p.quit(), b"+OK bye, 0 messages removed",
                     "retrieved in this session: kept, its time renewed")
            srv.wait_all()
        check(time.time() - os.stat(p_).st_atime < 600,
              "the retrieval time is renewed")


def front(tmp, env, stage=()):
    """The whole chain, as test_front.py runs it, users alice/secret;
    stage: what runs the maildrop stage (a per-user environment)."""
    os.makedirs(os.path.join(tmp.path, "empty"))
    if ROOT:
        os.chown(os.path.join(tmp.path, "empty"), 0, 0)
    e = {"CP_HOME": tmp.path, "CP_UID": str(RUN_UID), "CP_GID": str(RUN_GID),
         "POP3D_AUTH_DELAY": "0", "POP3D_CHROOT": os.path.join(tmp.path,
                                                               "empty"),
         "POP3D_RULES": "", "POP3D_STATE_DIR": ""}
    e.update(env)
    return Spawner([POP3D, "mail.example.org", CHECKPW] + list(stage) +
                   [PROG, "Maildir"],
                   env=e, cwd=tmp.path, as_root=True)


def login(srv):
    """PASS's reply: +OK..., or the -ERR line."""
    p = pop(srv)
    p.user("alice")
    try:
        r = p.pass_("secret")
        p.quit()
    except poplib.error_proto as e:
        r = e.args[0]
        p.close()
    srv.wait_all()
    return r


@test
def login_delay_refuses_a_login_too_soon():
    with TempDir() as tmp:
        md = setup(tmp)
        record = os.path.join(md, "pop3d-login")
        with front(tmp, {"POP3D_LOGIN_DELAY": "60"}) as srv:
            check(login(srv).startswith(b"+OK maildrop has 5"),
                  "LOGIN-DELAY 60: the first login passes")
            st = os.stat(record)
            check(st.st_uid == RUN_UID and st.st_mode & 0o777 == 0o600,
                  "the record is the user's, mode 0600")
            r = login(srv)
            check(r.startswith(b"-ERR [LOGIN-DELAY] "),
                  "the second login at once is refused [LOGIN-DELAY]: %r"
                  % r)
            check_eq(srv.procs[-1].returncode, 0, "pop3d ends cleanly")
            check("login-delay" in srv.log(), "the refusal is logged")
            check_eq(os.stat(record).st_mtime, st.st_mtime,
                     "a refused login does not move the last login")
            # The last login 2 minutes ago: the next one passes.
            os.utime(record, (st.st_atime - 120, st.st_mtime - 120))
            check(login(srv).startswith(b"+OK"),
                  "a login after the delay passes")
            check(time.time() - os.stat(record).st_mtime < 600,
                  "and is the new last login")


@test
def login_delay_0_or_unset_lets_every_login_in():
    for env in ({"POP3D_LOGIN_DELAY": "0"}, {}):
        with TempDir() as tmp:
            md = setup(tmp)
            with front(tmp, env) as srv:
                check(login(srv).startswith(b"+OK") and
                      login(srv).startswith(b"+OK"),
                      "%r: two logins in a row pass" % env)
            check(not os.path.exists(os.path.join(md, "pop3d-login")),
                  "%r: no record kept" % env)


@test
def login_delay_record_not_a_users_file_is_not_followed():
    with TempDir() as tmp:
        md = setup(tmp)
        target = os.path.join(tmp.path, "target")
        with open(target, "w") as f:
            f.write("x")
        os.symlink(target, os.path.join(md, "pop3d-login"))
        before = os.stat(target).st_mtime
        with front(tmp, {"POP3D_LOGIN_DELAY": "60"}) as srv:
            os.utime(target, (before - 3600, before - 3600))
            check(login(srv).startswith(b"+OK"),
                  "a symbolic link as the record: the login passes")
            check_eq(os.stat(target).st_mtime, before - 3600,
                     "the link is not followed")
            check("login-file-failed" in srv.log(), "and it is logged")


@test
def capa_user_form_before_login_exact_values_after():
    with TempDir() as tmp:
        md = setup(tmp)
        # The user's own values, as a checkpassword program would set
        # them for the maildrop stage: not the front's.
        stage = ["/usr/bin/env", "POP3D_EXPIRE=0", "POP3D_LOGIN_DELAY=0"]
        env = {"POP3D_EXPIRE": "NEVER", "POP3D_LOGIN_DELAY": "60"}
        with front(tmp, env, stage) as srv:
            p = pop(srv)
            caps = p.capa()
            check_eq((caps.get("EXPIRE"), caps.get("LOGIN-DELAY")),
                     (["NEVER", "USER"], ["60", "USER"]),
                     "before login: the defaults, with USER")
            p.user("alice")
            p.pass_("secret")
            caps = p.capa()
            check_eq((caps.get("EXPIRE"), caps.get("LOGIN-DELAY")),
                     (["0"], ["0"]),
                     "after login: the user's exact values, no USER")
            p.retr(1)
            check_eq(p.quit(), b"+OK bye, 1 messages removed",
                     "and the user's EXPIRE 0 is the one enforced")
            srv.wait_all()
        check_eq(left(md), names(2, 3, 4, 5), "message 1 removed")


@test
def capa_after_login_lists_login_delay():
    with TempDir() as tmp:
        setup(tmp)
        with spawner(tmp, None) as srv:
            p = pop(srv)
            check("LOGIN-DELAY" not in p.capa(), "unset: not listed")
            p.quit()
        srv = Spawner([PROG, "Maildir"], env={"POP3D_LOGIN_DELAY": "300"},
                      cwd=tmp.path)
        with srv:
            p = pop(srv)
            check_eq(p.capa().get("LOGIN-DELAY"), ["300"],
                     "LOGIN-DELAY 300 listed after login")
            p.quit()


USERS = os.path.join(BUILD, "pop3d-users")
AUTH = os.path.join(BUILD, "pop3d-auth")


class Records:
    """The whole chain with pop3d-auth and a users file made by
    pop3d-users: each user (name: add options) with password pw-NAME and
    a home of its own holding a Maildir of MSGS."""

    def __init__(self, tmp, users):
        self.tmp = tmp
        self.etc = os.path.join(tmp.path, "etc")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(tmp.path, "empty"))
        self.md = {}
        for name, opts in users.items():
            home = os.path.join(tmp.path, name)
            self.md[name] = make_maildir(os.path.join(home, "Maildir"),
                                         new=MSGS)
            self.users(*(["add"] + opts + [name, str(RUN_UID),
                                           str(RUN_GID), home]))
            self.users("passwd", "-s", name, input=b"pw-" +
                       name.encode() + b"\n")
        tmp.give()
        if ROOT:
            os.chown(os.path.join(tmp.path, "empty"), 0, 0)

    def users(self, *args, input=None, ok=True):
        r = subprocess.run([USERS, "-f", os.path.join(self.etc, "users"),
                            "-d", os.path.join(self.etc, "users.cdb")] +
                           list(args), input=input, capture_output=True,
                           timeout=60)
        if ok:
            check_eq(r.returncode, 0, "pop3d-users %s: %r" % (args, r))
        return r

    def serve(self, **kw):
        e = {"POP3D_USERS_CDB": os.path.join(self.etc, "users.cdb"),
             "POP3D_CHROOT": os.path.join(self.tmp.path, "empty"),
             "POP3D_AUTH_DELAY": "0", "POP3D_RULES": "",
             "POP3D_STATE_DIR": ""}
        e.update(kw)
        return Spawner([POP3D, "mail.example.org", AUTH, PROG, "Maildir"],
                       env=e, cwd=self.tmp.path, as_root=True)


def session(srv, name):
    """Logs name in, RETRs message 1, QUITs: (CAPA after login, QUIT's
    reply), or the -ERR of PASS."""
    p = pop(srv)
    p.user(name)
    try:
        p.pass_("pw-" + name)
    except poplib.error_proto as e:
        p.close()
        srv.wait_all()
        return e.args[0], None
    caps = p.capa()
    p.retr(1)
    r = p.quit()
    srv.wait_all()
    return caps, r


@test
def record_expire_0_removes_for_its_user_only():
    with TempDir() as tmp:
        site = Records(tmp, {"alice": ["-e", "0"], "bob": []})
        with site.serve(POP3D_EXPIRE="NEVER") as srv:
            caps, r = session(srv, "alice")
            check_eq(caps.get("EXPIRE"), ["0"],
                     "alice's CAPA after login: her record's EXPIRE 0")
            check_eq(r, b"+OK bye, 1 messages removed",
                     "her retrieved message is removed at QUIT")
            caps, r = session(srv, "bob")
            check_eq(caps.get("EXPIRE"), ["NEVER"],
                     "bob's: the environment's default")
            check_eq(r, b"+OK bye, 0 messages removed", "his is kept")
        check_eq(left(site.md["alice"]), names(2, 3, 4, 5),
                 "alice's message 1 is gone")
        check_eq(left(site.md["bob"]), names(1, 2, 3, 4, 5),
                 "bob keeps all five")


@test
def record_login_delay_refuses_a_second_login():
    with TempDir() as tmp:
        site = Records(tmp, {"carol": ["-l", "60"], "bob": []})
        with site.serve() as srv:
            caps, r = session(srv, "carol")
            check_eq(caps.get("LOGIN-DELAY"), ["60"],
                     "carol's CAPA after login: LOGIN-DELAY 60")
            r, _ = session(srv, "carol")
            check(r.startswith(b"-ERR [LOGIN-DELAY] "),
                  "a second login within 60 s is refused: %r" % r)
            for _ in range(2):
                caps, r = session(srv, "bob")
                check("LOGIN-DELAY" not in caps and r is not None,
                      "bob, without one, logs in twice")


@test
def record_wins_over_the_environment_and_mod_changes_it():
    with TempDir() as tmp:
        site = Records(tmp, {"alice": ["-e", "NEVER", "-l", "0"]})
        with site.serve(POP3D_EXPIRE="0", POP3D_LOGIN_DELAY="60") as srv:
            p = pop(srv)
            caps = p.capa()
            check_eq((caps.get("EXPIRE"), caps.get("LOGIN-DELAY")),
                     (["0", "USER"], ["60", "USER"]),
                     "before login: the defaults, with USER")
            p.quit()
            caps, r = session(srv, "alice")
            check_eq((caps.get("EXPIRE"), caps.get("LOGIN-DELAY")),
                     (["NEVER"], ["0"]), "after: the record's values")
            check_eq(r, b"+OK bye, 0 messages removed",
                     "EXPIRE NEVER: nothing removed")
            site.users("mod", "-e", "-", "alice")
            check_eq(site.users("list").stdout.decode().split()[-1],
                     "login-delay=0", "mod -e - clears expire only")
            caps, r = session(srv, "alice")
            check_eq(caps.get("EXPIRE"), ["0"],
                     "without the record's: the environment's again")
            check_eq(r, b"+OK bye, 1 messages removed", "and enforced")


@test
def record_policy_bad_values_are_refused():
    with TempDir() as tmp:
        site = Records(tmp, {"alice": []})
        for opts, what in ((["-e", "10000"], "expire"),
                           (["-e", "never"], "expire"),
                           (["-l", "86401"], "login-delay"),
                           (["-l", "-1"], "login-delay")):
            r = site.users("mod", *(opts + ["alice"]), ok=False)
            check(r.returncode == 1 and what in r.stderr.decode(),
                  "mod %s refused: %r" % (opts, r))
        site.users("mod", "-e", "9999", "-l", "86400", "alice")
        check_eq(site.users("list").stdout.decode().split()[-1],
                 "expire=9999,login-delay=86400", "the bounds are accepted")
        path = os.path.join(site.etc, "users")
        with open(path) as f:
            good = f.read()
        for field, why in (("expire=10000", "bad expire"),
                           ("login-delay=86401", "bad login-delay"),
                           ("expire=1,expire=2", "policy key given twice"),
                           ("quota=5", "unknown policy key"),
                           ("expire=1,", "bad policy item"),
                           ("uidl-format=%m", "bad uidl-format: POP3D_"
                            "DOVECOT_UIDL_FORMAT must be a pop3_uidl_"
                            "format")):
            with open(path, "w") as f:
                f.write("# c\n" + good.strip() + "\n" +
                        "x:!:1000:1000:/x:::" + field + "\n")
            r = site.users("check", ok=False)
            check(r.returncode == 1 and
                  ("%s:3: %s" % (path, why)) in r.stderr.decode(),
                  "%s: a file:line error: %r" % (field, r.stderr))


if __name__ == "__main__":
    run_all(sys.argv[2:])

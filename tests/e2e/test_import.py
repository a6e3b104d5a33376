"""pop3d-users import end to end: the real pop3d-users reads a Dovecot
passwd-file and a passwd+shadow pair, writes the users file and users.cdb,
and the imported passwords (and, with -s, APOP secrets) log in through the
whole chain (pop3d, pop3d-auth, pop3d-maildrop) with Python's poplib."""

import ctypes
import ctypes.util
import os
import poplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, Spawner, TempDir, check,
                     check_eq, make_maildir, run_all, test)

POP3D = os.path.join(BUILD, "pop3d")
USERS = os.path.join(BUILD, "pop3d-users")
MSG = b"Subject: import\n\nCarried over.\n"

_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p


def crypt(password, prefix, cost=0):
    """libcrypt's own hash, as Dovecot's doveadm pw or passwd(1) make."""
    setting = _libcrypt.crypt_gensalt(prefix.encode(), cost, None, 0)
    return _libcrypt.crypt(password.encode(), setting).decode()


def crypt_sum(site, name):
    """The checksum part of name's hash in the Dovecot file."""
    with open(site.dovecot) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":")[1].rsplit("$", 1)[1]
    raise AssertionError("no %s in %s" % (name, site.dovecot))


class Site:
    """A Maildir every user shares (home = the temporary directory), the
    sources to import from, and the chain to log in through."""

    def __init__(self, tmp):
        self.tmp = tmp
        p = self.dir = tmp.path
        make_maildir(os.path.join(p, "Maildir"),
                     new=[("1700000000.M1P1.import", MSG)])
        make_maildir(os.path.join(p, "example.org", "Maildir"),
                     new=[("1700000000.M2P1.import", MSG)])
        os.makedirs(os.path.join(p, "empty"))
        self.etc = os.path.join(p, "etc")
        os.makedirs(self.etc)
        self.file = os.path.join(self.etc, "users")
        self.db = os.path.join(self.etc, "users.cdb")
        ids = "%d:%d" % (RUN_UID, RUN_GID)
        self.dovecot = self.write("dovecot.passwd", [
            "# Dovecot's passwd-file",
            "alice:{SHA512-CRYPT}%s:%s::%s::" % (
                crypt("alice-pw", "$6$"), ids, p),
            "bob:{PLAIN}bob-secret:%s:Bob:%s:/bin/false:" % (ids, p),
            "carol:{SSHA}c2VjcmV0c2FsdHNhbHQ=:%s::%s" % (ids, p),
            "dave:%s:%s::%s" % (crypt("dave-pw", "$y$"), ids, p)])
        self.passwd = self.write("passwd", [
            "root:x:0:0:root:/root:/bin/bash",
            "sam:x:%s:Sam:%s:/bin/sh" % (ids, p),
            "tom:x:%s:Tom:%s:/bin/sh" % (ids, p)])
        self.shadow = self.write("shadow", [
            "root:*:19000:0:99999:7:::",
            "sam:%s:19000:0:99999:7:::" % crypt("sam-pw", "$6$"),
            "tom:!:19000:0:99999:7:::"])
        tmp.give()
        if ROOT:
            os.chown(os.path.join(p, "empty"), 0, 0)

    def write(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def users(self, *args):
        r = subprocess.run([USERS, "-f", self.file, "-d", self.db] +
                           list(args), capture_output=True, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def records(self):
        with open(self.file) as f:
            return {l.split(":")[0]: l.rstrip("\n").split(":")
                    for l in f if l.strip()}

    def serve(self):
        env = {"POP3D_USERS_CDB": self.db,
               "POP3D_CHROOT": os.path.join(self.dir, "empty"),
               "POP3D_AUTH_DELAY": "0", "POP3D_RULES": "",
               "POP3D_STATE_DIR": "", "POP3D_APOP": "1"}
        argv = [POP3D, "mail.example.org", os.path.join(BUILD, "pop3d-auth"),
                os.path.join(BUILD, "pop3d-maildrop"), "Maildir"]
        return Spawner(argv, env=env, cwd=self.dir, as_root=True)


def login(srv, user, password, apop=False):
    """True when the chain lets user in and serves the message."""
    p = poplib.POP3("127.0.0.1", srv.port, timeout=30)
    srv.connections += 1
    try:
        if apop:
            p.apop(user, password)
        else:
            p.user(user)
            p.pass_(password)
        ok = b"\n".join(p.retr(1)[1]) + b"\n" == MSG
        p.quit()
        return ok
    except poplib.error_proto:
        p.close()
        return False


@test
def dry_run_writes_nothing_and_says_each_user():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, err = site.users("import", "-D", site.dovecot)
        check_eq(rc, 1, "a user not carried over makes the exit code 1")
        check(not os.path.exists(site.file) and
              not os.path.exists(site.db), "a dry run writes nothing")
        names = [l.split(":")[0] for l in out.splitlines()]
        check_eq(names, ["alice", "bob", "dave"],
                 "and shows the records it would write, in the file's order")
        check("%s:4: carol: {SSHA}: a password scheme that crypt(3)"
              " cannot check" % site.dovecot in err,
              "carol's scheme is said with file and line: %r" % err)
        check("3 users to import (a dry run" in err, "the count: %r" % err)
        # With -s bob's plaintext is his APOP secret: masked all the same.
        rc, out, err = site.users("import", "-s", "-D", site.dovecot)
        recs = {l.split(":")[0]: l.split(":") for l in out.splitlines()}
        check("bob-secret" not in out + err and
              recs["bob"][6] == "(secret)",
              "no password shown, the APOP secret as (secret): %r" % out)
        # Only the method of a hash: no hash, and no costly hash made
        # of a plaintext that -w would hash afresh anyway.
        check_eq([recs[n][1] for n in ("alice", "bob", "dave")],
                 ["(hash $6$)", "(plain, hashed with yescrypt by -w)",
                  "(hash $y$)"], "the dry run shows methods, not hashes")
        check("$6$rounds" not in out and crypt_sum(site, "alice") not in out,
              "alice's hash is not shown")
        rc2, out2, _ = site.users("import", "-n", "-D", site.dovecot, "bob")
        check_eq((rc2, [l.split(":")[0] for l in out2.splitlines()]),
                 (0, ["bob"]), "names given: only those users")
        check_eq(site.users("import", "-n", "-w", "-D", site.dovecot)[0], 2,
                 "-n with -w is a usage error")


@test
def dovecot_users_log_in_through_the_chain():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, err = site.users("import", "-w", "-D", site.dovecot)
        check_eq(rc, 1, "carol is not carried over: exit 1")
        check(out == "", "a write shows no records")
        recs = site.records()
        check_eq(sorted(recs), ["alice", "bob", "dave"],
                 "the users file has the three others")
        check(recs["alice"][1].startswith("$6$") and
              recs["bob"][1].startswith("$y$"),
              "sha512-crypt carried as it is, PLAIN hashed with yescrypt")
        check_eq(len(recs["bob"]), 5, "no APOP secret without -s")
        with site.serve() as srv:
            check(login(srv, "alice", "alice-pw"),
                  "{SHA512-CRYPT} alice logs in with her Dovecot password")
            check(login(srv, "dave", "dave-pw"),
                  "yescrypt without a scheme ({CRYPT}) logs in")
            check(login(srv, "bob", "bob-secret"), "{PLAIN} bob logs in")
            check(not login(srv, "bob", "wrong"), "a wrong password fails")
            check(not login(srv, "bob", "bob-secret", apop=True),
                  "no APOP for bob without -s")
            check(not login(srv, "carol", "secret"), "carol is unknown")
        rc, _, err = site.users("import", "-w", "-s", "-D", site.dovecot,
                                "bob")
        check_eq(rc, 1, "bob exists: not overwritten without -o")
        check("%s:2: bob: already a user: not overwritten" % site.file
              in err, "and said so: %r" % err)
        rc, _, err = site.users("import", "-w", "-o", "-s", "-D",
                                site.dovecot, "bob")
        check_eq((rc, site.records()["bob"][6]), (0, "bob-secret"),
                 "-o -s replaces bob's record, the password kept as the"
                 " APOP secret")
        with open(site.file, "a") as f:
            f.write("broken line\n")
        with open(site.file) as f:
            before = f.read()
        rc, _, err = site.users("import", "-w", "-o", "-D", site.dovecot)
        check_eq(rc, 1, "a users file with errors is refused")
        check("%s:4: too few fields" % site.file in err and
              "has errors: nothing imported" in err, "said: %r" % err)
        with open(site.file) as f:
            check_eq(f.read(), before, "and left as it was")
        with open(site.file, "w") as f:
            f.write(before.replace("broken line\n", ""))
        with site.serve() as srv:
            check(login(srv, "bob", "bob-secret", apop=True),
                  "bob logs in with APOP")
            check(login(srv, "bob", "bob-secret"), "and with PASS")
            check(login(srv, "alice", "alice-pw"), "alice still does")


@test
def a_password_that_cannot_be_a_secret_is_a_warning_not_a_skip():
    with TempDir() as tmp:
        site = Site(tmp)
        ids = "%d:%d" % (RUN_UID, RUN_GID)
        src = site.write("long.passwd", [
            "ivy:{PLAIN}%s:%s::%s" % ("p" * 129, ids, site.dir)])
        rc, out, err = site.users("import", "-s", "-D", src)
        check_eq(rc, 0, "ivy is imported: exit 0 (%r)" % err)
        check("warning: %s:1: ivy: the password cannot be an APOP secret"
              % src in err and "1 users to import" in err and
              "0 not carried over" in err, "a warning, not a skip: %r" % err)
        check_eq(len(out.split(":")), 5, "ivy without an APOP secret")


@test
def a_fifo_source_is_refused_not_waited_on():
    # Nothing writes to these FIFOs: an open without O_NONBLOCK would wait
    # until the timeout.
    with TempDir() as tmp:
        site = Site(tmp)
        fifo = os.path.join(site.dir, "fifo")
        os.mkfifo(fifo)
        link = os.path.join(site.dir, "link.passwd")
        os.symlink(site.dovecot, link)
        for args, what in ((["-D", fifo], "-D"),
                           (["-y", "-P", site.passwd, "-S", fifo], "-S"),
                           (["-y", "-P", fifo, "-S", site.shadow], "-P")):
            try:
                r = subprocess.run([USERS, "-f", site.file, "-d", site.db,
                                    "import"] + args, capture_output=True,
                                   timeout=10)
                rc, err = r.returncode, r.stderr.decode()
            except subprocess.TimeoutExpired:
                rc, err = None, "timed out"
            check_eq(rc, 111, "%s FIFO: exit 111, not a hang" % what)
            check("%s: not a regular file" % fifo in err,
                  "%s: said with its absolute path: %r" % (what, err))
        rc, out, _ = site.users("import", "-D", link)
        check_eq((rc, len(out.splitlines())), (1, 3),
                 "a symbolic link to a regular file is followed")


@test
def shadow_users_log_in_through_the_chain():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.users("import", "-y", "-P", site.passwd,
                                "-S", site.shadow)
        with open(site.shadow) as f:
            sam = [l.split(":")[1] for l in f if l.startswith("sam:")][0]
        check(sam.rsplit("$", 1)[1] not in out and
              out.startswith("sam:(hash $6$):"),
              "a dry run shows no shadow hash, only its method: %r" % out)
        rc, _, err = site.users("import", "-w", "-y", "-P", site.passwd,
                                "-S", site.shadow)
        check_eq(rc, 1, "root and tom are not carried over: exit 1")
        check("%s:3: tom: no password (empty or locked): not imported" %
              site.shadow in err, "the locked account is said: %r" % err)
        check("%s:1: root:" % site.shadow in err, "so is root")
        check_eq(sorted(site.records()), ["sam"], "sam is imported")
        with site.serve() as srv:
            check(login(srv, "sam", "sam-pw"),
                  "sam logs in with his shadow password")
            check(not login(srv, "tom", "x"), "tom does not")


@test
def static_userdb_lines_take_the_defaults():
    """Dovecot sites with userdb static keep only user:{SCHEME}pass."""
    with TempDir() as tmp:
        site = Site(tmp)
        static = site.write("static", ["v1@example.org:{PLAIN}v1-pw",
                                       "v2@example.org:{CLEAR}v2-pw:::::"])
        rc, _, err = site.users("import", "-w", "-D", static)
        check_eq(rc, 1, "without -u, -g, -h: not carried over")
        check("%s:1: v1@example.org: no uid, gid or home" % static in err,
              "said per line: %r" % err)
        check(not os.path.exists(site.file), "nothing written")
        rc, _, err = site.users("import", "-w", "-u", str(RUN_UID), "-g",
                                str(RUN_GID), "-h", site.dir + "/%d",
                                "-D", static)
        check_eq(rc, 0, "with them, both are imported: %r" % err)
        check_eq(site.records()["v2@example.org"][2:5],
                 [str(RUN_UID), str(RUN_GID),
                  os.path.join(site.dir, "example.org")],
                 "uid, gid and the home from -h's %d")
        with site.serve() as srv:
            check(login(srv, "v1@example.org", "v1-pw"), "v1 logs in")
            check(login(srv, "v2@example.org", "v2-pw"), "v2 logs in")


@test
def line_longer_than_the_maximum_is_said_and_passed_over():
    with TempDir() as tmp:
        site = Site(tmp)
        ids = "%d:%d" % (RUN_UID, RUN_GID)
        head = "long:{PLAIN}long-pw:%s::%s::" % (ids, site.dir)
        fit = site.write("fit", [head + "x" * (8192 - len(head))])
        rc, out, err = site.users("import", "-D", fit)
        check_eq((rc, out.split(":")[0]), (0, "long"),
                 "a line of 8192 octets is read")
        over = site.write("over", [head + "x" * (8193 - len(head)),
                                   "next:{PLAIN}next-pw:%s::%s" % (
                                       ids, site.dir)])
        rc, out, err = site.users("import", "-D", over)
        check_eq(rc, 1, "one of 8193 is an error")
        check("%s:1: line too long" % over in err, "said: %r" % err)
        check_eq(out.split(":")[0], "next", "the next line is read")


def openssl_passwd(flag, password):
    """A hash made by another implementation than libcrypt: openssl's."""
    r = subprocess.run(["openssl", "passwd", flag, "-stdin"],
                       input=password.encode(), capture_output=True,
                       timeout=30, check=True)
    return r.stdout.decode().strip()


@test
def legacy_md5_and_sha256_users_are_carried_with_a_warning():
    """md5-crypt and sha256-crypt (legacy to libxcrypt) carried as they
    are, each said; DES (8 characters checked) is not carried over."""
    with TempDir() as tmp:
        site = Site(tmp)
        ids = "%d:%d" % (RUN_UID, RUN_GID)
        md5 = openssl_passwd("-1", "erin-password")
        legacy = site.write("legacy", [
            "erin:{MD5-CRYPT}%s:%s::%s" % (md5, ids, site.dir),
            "fred:{SHA256-CRYPT}%s:%s::%s" % (
                openssl_passwd("-5", "fred-password"), ids, site.dir),
            "gina:{SHA256-CRYPT}%s:%s::%s" % (
                crypt("gina-pw", "$5$", 6000), ids, site.dir),
            "hal:{CRYPT}%s:%s::%s" % (
                _libcrypt.crypt(b"hal-pw", b"ab").decode(), ids, site.dir)])
        rc, out, err = site.users("import", "-D", legacy, "erin", "fred",
                                  "gina")
        check_eq((rc, len(out.splitlines())), (0, 3),
                 "legacy users only: imported, exit 0: %r" % err)
        check_eq(err.count("legacy hash"), 3, "each said: %r" % err)
        rc, _, err = site.users("import", "-w", "-D", legacy)
        check_eq(rc, 1, "hal (DES) is not carried over: exit 1: %r" % err)
        check("%s:4: hal: a legacy method (DES" % legacy in err,
              "DES is said: %r" % err)
        for line, name, method in ((1, "erin", "$1$"), (2, "fred", "$5$"),
                                   (3, "gina", "$5$")):
            check("warning: %s:%d: %s: legacy hash %s: set a new password"
                  " with pop3d-users passwd" % (legacy, line, name, method)
                  in err, "%s's legacy hash is said: %r" % (name, err))
        recs = site.records()
        check_eq(sorted(recs), ["erin", "fred", "gina"], "DES left out")
        check_eq(recs["erin"][1], md5, "md5-crypt carried as it is")
        check(recs["gina"][1].startswith("$5$rounds=6000$"),
              "sha256-crypt's rounds kept")
        with site.serve() as srv:
            check(login(srv, "erin", "erin-password"),
                  "{MD5-CRYPT} erin logs in with her Dovecot password")
            check(login(srv, "fred", "fred-password"),
                  "{SHA256-CRYPT} fred logs in")
            check(login(srv, "gina", "gina-pw"), "rounds= too")
            check(not login(srv, "erin", "erin-passwor"), "a wrong one fails")
            check(not login(srv, "hal", "hal-pw"), "hal is unknown")
        rc, _, err = site.users("check")
        check_eq(rc, 0, "check passes: %r" % err)
        check_eq(err.count("legacy hash"), 3, "and says each: %r" % err)
        check("warning: %s:1: erin: legacy hash $1$: set a new password"
              " with pop3d-users passwd" % site.file in err,
              "with file and line: %r" % err)
        p = subprocess.run([USERS, "-f", site.file, "-d", site.db, "passwd",
                            "-s", "erin"], input=b"new-pw\n",
                           capture_output=True, timeout=120)
        check_eq(p.returncode, 0, "passwd: %r" % p.stderr)
        check(site.records()["erin"][1].startswith("$y$"),
              "a new password is never legacy")
        rc, _, err = site.users("check")
        check_eq(err.count("legacy hash"), 2, "erin no longer said: %r" %
                 err)


if __name__ == "__main__":
    run_all(sys.argv[2:])

"""pop3d-auth and pop3d-users end to end: the real binaries, the users file
edited and compiled by the CLI, and the checkpassword interface driven with
fd 3 as the front drives it."""

import hashlib
import hmac
import os
import resource
import pwd
import stat
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, TempDir, check, check_eq,
                     run_all, test, skip)

AUTH = os.path.join(BUILD, "pop3d-auth")
USERS = os.path.join(BUILD, "pop3d-users")

# The next stage of the chain, for the tests: records who it runs as,
# where, with which arguments and environment.
NEXT = """#!/bin/sh
{ echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"
  echo "cwd=$(pwd)"; echo "args=$*"; env; } >"$PWD/next.out"
exit 7
"""


class Box:
    """A users file, its users.cdb, a home owned by the target user and the
    next-stage script, in one temporary directory."""

    def __init__(self, tmp):
        self.dir = tmp.path
        self.file = os.path.join(self.dir, "users")
        self.db = os.path.join(self.dir, "users.cdb")
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home)
        if ROOT:
            os.chown(self.home, RUN_UID, RUN_GID)
        self.next = os.path.join(self.dir, "next.sh")
        with open(self.next, "w") as f:
            f.write(NEXT)
        os.chmod(self.next, 0o755)

    def users(self, *args, input=None):
        return subprocess.run([USERS, "-f", self.file, "-d", self.db] +
                              list(args), input=input, capture_output=True,
                              timeout=60)

    def add(self, name, password=None, apop=None, maildrop=None, uid=None):
        args = ["add", name, str(uid or RUN_UID), str(RUN_GID), self.home]
        if maildrop:
            args.append(maildrop)
        r = self.users(*args)
        check_eq(r.returncode, 0, "pop3d-users add %s" % name)
        if password is not None:
            r = self.users("passwd", "-s", name,
                           input=password.encode() + b"\n")
            check_eq(r.returncode, 0, "pop3d-users passwd %s" % name)
        if apop is not None:
            r = self.users("apop", name, input=apop.encode() + b"\n")
            check_eq(r.returncode, 0, "pop3d-users apop %s" % name)

    def compile(self):
        r = self.users("compile")
        check_eq(r.returncode, 0, "pop3d-users compile")
        return r

    def out(self):
        try:
            with open(os.path.join(self.home, "next.out")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def clear_out(self):
        try:
            os.unlink(os.path.join(self.home, "next.out"))
        except FileNotFoundError:
            pass


def auth(box, data, mech=None, argv=None, env=None, fd3=True, db=None,
         **kw):
    """Runs pop3d-auth with data on fd 3 (a pipe, closed after data, as the
    front does); returns (exit status, stderr, CPU seconds it used: what a
    hash costs, whatever else the machine runs)."""
    e = {"PATH": "/usr/bin:/bin", "POP3D_USERS_CDB": db or box.db,
         "KEEPME": "kept"}
    if mech is not None:
        e["AUTHMECH"] = mech
    e.update(env or {})
    args = [AUTH] + (argv if argv is not None else [box.next, "a1", "a 2"])
    saved = None
    r = w = None
    try:
        if fd3:
            r, w = os.pipe()
            os.write(w, data)
            os.close(w)
            try:
                saved = os.dup(3)
            except OSError:
                saved = None
            os.dup2(r, 3, inheritable=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(args, env=e, capture_output=True, timeout=60,
                           pass_fds=(3,) if fd3 else (), **kw)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = (after.ru_utime + after.ru_stime) - \
            (before.ru_utime + before.ru_stime)
    finally:
        if fd3:
            if saved is not None:
                os.dup2(saved, 3)
                os.close(saved)
            else:
                os.close(3)
            os.close(r)
    return p.returncode, p.stderr.decode("utf-8", "replace"), t


def creds(user, secret, stamp="<1.2@test>"):
    return b"\0".join(x.encode() if isinstance(x, str) else x
                      for x in (user, secret, stamp)) + b"\0"


def fields(out):
    d = {}
    for line in out.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            d.setdefault(k, v)
    return d


def cdb_check(k, v):
    """The check that ends a value of users.cdb (lib/cdbcheck.h), made
    independently of the C code: FNV-1a 64 of the key's length (4 octets,
    little-endian as cdb's), the key, the value's length and the value,
    8 octets big-endian."""
    h = 0xcbf29ce484222325
    for c in struct.pack("<L", len(k)) + k + struct.pack("<L", len(v)) + v:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return struct.pack(">Q", h)


def cdb_write(path, items, checked=True):
    """A cdb file written independently of the C code (the format as
    published: 256 table pointers, records, then the hash tables), each
    value with its check unless checked is false (version 1)."""
    if checked:
        items = [(k, v + cdb_check(k, v)) for k, v in items]

    def h(k):
        v = 5381
        for c in k:
            v = ((v << 5) + v ^ c) & 0xffffffff
        return v
    body, entries, pos = b"", [[] for _ in range(256)], 2048
    for k, v in items:
        entries[h(k) & 255].append((h(k), pos))
        rec = struct.pack("<LL", len(k), len(v)) + k + v
        body += rec
        pos += len(rec)
    head, tables = b"", b""
    for ents in entries:
        n = 2 * len(ents)
        slots = [(0, 0)] * n
        for hh, p in ents:
            i = (hh >> 8) % n
            while slots[i][1]:
                i = (i + 1) % n
            slots[i] = (hh, p)
        head += struct.pack("<LL", pos + len(tables), n)
        tables += b"".join(struct.pack("<LL", a, b) for a, b in slots)
    with open(path, "wb") as f:
        f.write(head + body + tables)


MARK = (b"\0pop3d-users", b"2")
MARK1 = (b"\0pop3d-users", b"1")
MD5_HUNTER2 = "$1$abcdefgh$vhxKZ/s1ygZHyCEDPyqtQ/"
DUMMY = (b"\0pop3d-dummy", b"$6$abcdefghijklmnop$x")


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- pop3d-users ----

@test
def users_add_list_delete():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", maildrop="Maildir")
        box.add("bob@example.org")
        check(stat.S_IMODE(os.stat(box.file).st_mode) == 0o600,
              "a new users file is mode 0600")
        r = box.users("list")
        check_eq(r.returncode, 0, "list succeeds")
        check_eq(r.stdout.decode().splitlines(), [
            "alice %d %d %s Maildir locked - -" % (RUN_UID, RUN_GID,
                                                   box.home),
            "bob@example.org %d %d %s - locked - -" % (RUN_UID, RUN_GID,
                                                       box.home)],
            "list shows both users; a new account is locked")
        r = box.users("add", "alice", "1000", "1000", "/x")
        check_eq(r.returncode, 1, "adding an existing user exits 1")
        check("user exists" in r.stderr.decode(), "and says the user exists")
        r = box.users("delete", "alice")
        check_eq(r.returncode, 0, "delete succeeds")
        r = box.users("list")
        check_eq(r.stdout.decode().splitlines(),
                 ["bob@example.org %d %d %s - locked - -" %
                  (RUN_UID, RUN_GID, box.home)], "alice is gone")
        r = box.users("delete", "alice")
        check_eq(r.returncode, 1, "deleting an unknown user exits 1")
        check("no such user" in r.stderr.decode(), "and says so")
        check_eq(os.listdir(tmp.path).count("users"), 1,
                 "no temporary file is left beside the users file")
        check(not [n for n in os.listdir(tmp.path) if n.startswith(".")],
              "no hidden temporary files either")


@test
def users_add_refuses_bad_values():
    with TempDir() as tmp:
        box = Box(tmp)
        for args, what in ((["root", "0", "1", "/h"], "uid 0"),
                           (["root", "1", "0", "/h"], "gid 0"),
                           (["a b", "1", "1", "/h"], "a name with a space"),
                           (["-a", "1", "1", "/h"], "a name like an option"),
                           (["a:b", "1", "1", "/h"], "a name with a colon"),
                           (["x" * 129, "1", "1", "/h"], "a 129-octet name"),
                           (["a", "1", "1", "rel"], "a relative home"),
                           (["a", "x", "1", "/h"], "a uid that is no number"),
                           (["a", "4294967295", "1", "/h"], "uid 2^32-1"),
                           (["a", "1", "1", "/h", "M:d"], "a colon in the "
                            "maildrop")):
            r = box.users("add", *args)
            check_eq(r.returncode, 1, "add refuses %s" % what)
        check(not os.path.exists(box.file), "and writes no file")
        r = box.users("add", "x" * 128, "1", "1", "/h")
        check_eq(r.returncode, 0, "add takes a 128-octet name")
        r = box.users("add", "a")
        check_eq(r.returncode, 2, "add with too few arguments is misuse")
        r = box.users("frobnicate")
        check_eq(r.returncode, 2, "an unknown command is misuse")
        r = subprocess.run([USERS], capture_output=True)
        check_eq(r.returncode, 2, "no command is misuse")


@test
def users_passwd_from_stdin_and_methods():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        line = open(box.file).read().strip()
        check(line.split(":")[1].startswith("$y$"),
              "passwd hashes with yescrypt by default")
        check("hunter2" not in line, "the password is not stored")
        # The costs near yescrypt's default work (pop3d_limits.h), not
        # libxcrypt's 5000 rounds and cost 5 (1.5 ms a guess).
        for method, prefix in (("sha512", "$6$rounds=80000$"),
                               ("bcrypt", "$2b$09$"),
                               ("yescrypt", "$y$j9T$")):
            r = box.users("passwd", "-m", method, "alice",
                          input=b"pw-" + method.encode() + b"\n")
            check_eq(r.returncode, 0, "passwd -m %s" % method)
            h = open(box.file).read().split(":")[1]
            check(h.startswith(prefix), "passwd -m %s makes %s" %
                  (method, prefix))
            box.compile()
            rc, err, _ = auth(box, creds("alice", "pw-" + method))
            check_eq(rc, 7, "pop3d-auth accepts a %s hash" % method)
        r = box.users("passwd", "-m", "md5", "alice", input=b"x\n")
        check_eq(r.returncode, 2, "passwd refuses an unknown method")
        r = box.users("passwd", "-s", "alice", input=b"")
        check_eq(r.returncode, 1, "passwd refuses an empty password")
        r = box.users("passwd", "-s", "alice", input=b"x" * 249 + b"\n")
        check_eq(r.returncode, 1, "passwd refuses a 249-character password")
        r = box.users("passwd", "-s", "alice", input=b"y" * 248 + b"\n")
        check_eq(r.returncode, 0, "passwd takes a 248-character password")
        r = box.users("passwd", "-s", "nobody-here", input=b"x\n")
        check_eq(r.returncode, 1, "passwd of an unknown user exits 1")


@test
def users_apop_set_and_clear():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="pw", apop="tanstaaf")
        check_eq(open(box.file).read().strip().split(":")[6], "tanstaaf",
                 "apop sets the record's 7th field")
        r = box.users("list")
        check("tanstaaf" not in r.stdout.decode() and
              "$y$" not in r.stdout.decode(),
              "list prints neither hashes nor secrets")
        check(r.stdout.decode().split()[-3:] == ["password", "apop", "-"],
              "list says a password and an APOP secret are set")
        r = box.users("apop", "-s", "alice", input=b"bad secret\n")
        check_eq(r.returncode, 1, "apop refuses a secret with a space")
        r = box.users("apop", "-s", "alice", input=b"s" * 129 + b"\n")
        check_eq(r.returncode, 1, "apop refuses a 129-character secret")
        r = box.users("apop", "-c", "alice")
        check_eq(r.returncode, 0, "apop -c clears")
        check_eq(len(open(box.file).read().strip().split(":")), 5,
                 "the cleared record has no APOP field")


@test
def users_check_reports_file_and_line():
    with TempDir() as tmp:
        box = Box(tmp)
        with open(box.file, "w") as f:
            f.write("# users\n"
                    "alice:!:1000:1000:/home/alice\n"
                    "bob:!:0:1000:/home/bob\n"
                    "\n"
                    "carol:!:1000:1000\n"
                    "alice:!:1001:1001:/home/alice2\n"
                    "dave:!:1000:1000:/h:" + "m" * 3000 + "\n"
                    "erin:!:1:1:/h\0\n"
                    "frank:!:1:1:/h")
        r = box.users("check")
        err = r.stderr.decode()
        check_eq(r.returncode, 1, "check exits 1 on errors")
        for line, what in ((3, "uid 0"), (5, "too few fields"),
                           (6, "duplicate user"), (7, "line too long"),
                           (8, "NUL")):
            check("%s:%d: " % (box.file, line) in err and what in err,
                  "check reports %s as file:%d" % (what, line))
        check(":1:" not in err and ":2:" not in err and ":9:" not in err,
              "and no error for the good lines")
        check(not os.path.exists(box.db), "check writes no database")
        r = box.users("list")
        check_eq(r.returncode, 1, "list of a file with errors exits 1")
        check_eq(len(r.stdout.decode().splitlines()), 3,
                 "but lists the good records")
        before = read(box.file)
        r = box.users("add", "zed", "1", "1", "/z")
        check_eq(r.returncode, 1, "an edit of a file with errors fails")
        check_eq(read(box.file), before, "and leaves the file as it was")
        os.mkdir(os.path.join(box.home, "Maildir"))
        with open(box.file, "w") as f:
            f.write("# fine\nalice:!:1000:1000:%s\n" % box.home)
        r = box.users("check")
        check_eq((r.returncode, r.stderr), (0, b""), "a good file checks")


@test
def users_check_warns_about_missing_homes_and_maildrops():
    """Issue 17: a record whose home or maildrop is not there is a warning
    (the file itself is sound: exit 0), with file:line and the path."""
    with TempDir() as tmp:
        box = Box(tmp)
        os.mkdir(os.path.join(box.home, "Maildir"))
        nohome = os.path.join(tmp.path, "nohome")
        vmail = os.path.join(tmp.path, "vmail", "gina", "Maildir")
        with open(box.file, "w") as f:
            f.write("ann:!:1000:1000:%s\n" % box.home +
                    "bea:!:1000:1000:%s\n" % nohome +
                    "gina:!:1000:1000:%s:%s\n" % (box.home, vmail) +
                    "ida:!:1000:1000:%s:Mail2\n" % box.home)
        r = box.users("check")
        err = r.stderr.decode()
        check_eq(r.returncode, 0, "warnings only: exit 0")
        if "bea: home" not in err:
            print("# stderr: %r" % err)
        check("ann" not in err, "nothing for a record that is all there")
        check("%s:2: bea: home %s: No such file" % (box.file, nohome) in err,
              "a missing home, with file:line")
        check("%s:3: gina: maildrop %s: No such file" % (box.file, vmail)
              in err and "not made at the first login" in err,
              "a missing maildrop, never made (no directory)")
        check("%s:4: ida: maildrop %s/Mail2: No such file" % (box.file,
                                                              box.home)
              in err, "a relative maildrop is under the home")
        check(not os.path.exists(box.db), "check writes no database")


@test
def users_add_takes_account_names():
    """Issue 17: "pop3d-users add alice alice alice /home/alice" takes the
    uid and gid of the system account and group."""
    import grp
    with TempDir() as tmp:
        box = Box(tmp)
        user = pwd.getpwuid(RUN_UID).pw_name
        group = grp.getgrgid(RUN_GID).gr_name
        r = box.users("add", "alice", user, group, box.home)
        check_eq((r.returncode, r.stderr), (0, b""),
                 "add %s %s: accepted" % (user, group))
        check_eq(box.users("list").stdout.decode().split()[:3],
                 ["alice", str(RUN_UID), str(RUN_GID)],
                 "the record holds their numbers")
        r = box.users("add", "bob", "no-such-account", group, box.home)
        check_eq(r.returncode, 1, "an unknown account: exit 1")
        check("bad uid: no-such-account: no such user" in r.stderr.decode(),
              "and says so: %r" % r.stderr)
        r = box.users("add", "bob", user, "no-such-group", box.home)
        check("bad gid: no-such-group: no such group" in r.stderr.decode(),
              "an unknown group said: %r" % r.stderr)
        r = box.users("add", "bob", "12x", group, box.home)
        check_eq(r.returncode, 1, "12x is neither a number nor looked up")


@test
def users_edits_take_effect_without_compile():
    """Issue 17 (the choice of man/pop3d-users.8): every edit compiles the
    database under the same lock, as pop3d-passwd does."""
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        check(os.path.exists(box.db), "add and passwd wrote users.cdb")
        rc, _, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 7, "the new account logs in with no compile")
        r = box.users("passwd", "-s", "alice", input=b"new\n")
        rc, _, _ = auth(box, creds("alice", "new"))
        check_eq(rc, 7, "a new password takes effect at once")
        r = box.users("delete", "alice")
        check_eq(r.returncode, 0, "delete")
        rc, _, _ = auth(box, creds("alice", "new"))
        check_eq(rc, 1, "a deleted account is refused at once")
        r = box.users("-d", os.path.join(tmp.path, "nodir", "u.cdb"), "add",
                      "bob", str(RUN_UID), str(RUN_GID), box.home)
        err = r.stderr.decode()
        check_eq(r.returncode, 111, "a database that cannot be written: 111")
        check("saved in %s but is not in the database" % box.file in err
              and "pop3d-users compile" in err, "and says what: %r" % err)


@test
def users_names_the_directory_to_create():
    """Issue 17: the README's first command on a fresh machine failed with
    "/etc/pop3d/users.lock: No such file or directory"; it names the
    directory to create, absolute."""
    with TempDir() as tmp:
        for path, cwd in ((os.path.join(tmp.path, "etc", "users"), None),
                          ("etc/users", tmp.path)):
            r = subprocess.run([USERS, "-f", path, "-d", path + ".cdb",
                                "add", "alice", str(RUN_UID), str(RUN_GID),
                                "/home/alice"], capture_output=True,
                               cwd=cwd, timeout=60)
            err = r.stderr.decode()
            check_eq(r.returncode, 111, "%s: exit 111" % path)
            check("create the directory %s/etc " % tmp.path in err
                  and "users.lock" in err,
                  "%s: names the directory" % path)


@test
def compile_is_atomic_and_keeps_old_db_on_error():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        os.chmod(box.db, 0o640)
        old = read(box.db)
        check(old.find(b"alice:$y$") > 0, "the database holds the record")
        with open(box.file, "a") as f:
            f.write("broken line\n")
        r = box.users("compile")
        check_eq(r.returncode, 1, "compile of a bad file exits 1")
        check("%s:2: " % box.file in r.stderr.decode(),
              "and names file:line")
        check_eq(read(box.db), old, "the old users.cdb is byte for byte "
                 "in place")
        check_eq(sorted(os.listdir(tmp.path)),
                 ["home", "next.sh", "users", "users.cdb", "users.lock"],
                 "no temporary file is left (the edit lock stays)")
        rc, _, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 7, "and logins still work with it")
        with open(box.file, "w") as f:
            f.write("alice:!:%d:%d:%s\n" % (RUN_UID, RUN_GID, box.home))
        ino = os.stat(box.db).st_ino
        box.compile()
        check(os.stat(box.db).st_ino != ino,
              "compile replaces the database by rename")
        check_eq(stat.S_IMODE(os.stat(box.db).st_mode), 0o640,
                 "and keeps its mode")
        rc, _, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 1, "a change takes effect on the next login")
        r = box.users("-d", os.path.join(tmp.path, "nodir", "u.cdb"),
                      "compile")
        check_eq(r.returncode, 111, "compile into a missing directory "
                 "exits 111")


# ---- pop3d-auth ----

@test
def auth_good_password_execs_next_as_user():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2", maildrop="Maildir")
        box.compile()
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 7, "pop3d-auth execs the next program (its status)")
        f = fields(box.out())
        check_eq(f.get("uid"), str(RUN_UID), "it runs as the user's uid")
        check_eq(f.get("gid"), str(RUN_GID), "with the user's gid")
        if ROOT:
            check_eq(f.get("groups"), str(RUN_GID),
                     "with the user's groups only")
        check_eq(f.get("cwd"), box.home, "in the home directory")
        check_eq(f.get("args"), "a1 a 2", "with the rest of argv")
        check_eq(f.get("USER"), "alice", "USER is set")
        check_eq(f.get("HOME"), box.home, "HOME is set")
        check_eq(f.get("SHELL"), "/bin/sh", "SHELL is set")
        check_eq(f.get("MAILDROP"), "Maildir", "MAILDROP is set")
        check_eq(f.get("KEEPME"), "kept", "the rest of the environment "
                 "is kept")
        check("auth_ok user=alice mech=USER" in err, "a success is logged")
        check("hunter2" not in err, "the password is not logged")


@test
def auth_refuses_the_preauth_uid():
    """POP3D_PREAUTH_UID (exported by pop3d when root): a user of that uid
    is never switched to; a malformed value refuses every login."""
    if not ROOT:
        skip("not root: no switch of users, nothing to refuse")
        return
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        rc, err, _ = auth(box, creds("alice", "hunter2"),
                          env={"POP3D_PREAUTH_UID": str(RUN_UID)})
        check_eq(rc, 111, "the pre-login processes' uid: exit 111")
        check('auth_temp user=alice mech=USER reason="uid %d is the'
              ' pre-login processes\' (POP3D_PREAUTH_UID)"' % RUN_UID in err,
              "and a log line says why: %r" % err)
        check_eq(box.out(), "", "the next program did not run")
        rc, err, _ = auth(box, creds("alice", "wrong"),
                          env={"POP3D_PREAUTH_UID": str(RUN_UID)})
        check_eq(rc, 1, "a wrong password stays a wrong password")
        rc, err, _ = auth(box, creds("alice", "hunter2"),
                          env={"POP3D_PREAUTH_UID": "12x"})
        check_eq(rc, 111, "a malformed POP3D_PREAUTH_UID: exit 111")
        check("bad setting: POP3D_PREAUTH_UID" in err, "said: %r" % err)
        rc, err, _ = auth(box, creds("alice", "hunter2"),
                          env={"POP3D_PREAUTH_UID": str(RUN_UID + 1)})
        check_eq(rc, 7, "another uid: the login goes on")


def system_group_member():
    """(name, gid) of a system account that /etc/group lists as a member
    of a group other than its own, or None."""
    import grp
    import pwd
    for g in grp.getgrall():
        for name in g.gr_mem:
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            if pw.pw_gid != g.gr_gid and pw.pw_uid != 0:
                return name, g.gr_gid
    return None


@test
def auth_gives_no_supplementary_groups_by_name():
    # A mail user who shares a system account's name must not get that
    # account's groups (initgroups would give them).
    if not ROOT:
        skip("(not root: no group switch)")
        return
    found = system_group_member()
    if found is None:
        skip("(no system account here is a member of another group)")
        return
    name, sysgid = found
    with TempDir() as tmp:
        box = Box(tmp)
        box.add(name, password="pw-%s" % name)
        box.compile()
        rc, err, _ = auth(box, creds(name, "pw-%s" % name))
        check_eq(rc, 7, "pop3d-auth execs the next program as %s" % name)
        f = fields(box.out())
        check_eq(f.get("groups"), str(RUN_GID), "only the record's gid,"
                 " not group %d of the system account %s" % (sysgid, name))


def auth_fd4(box, data, argv, mech="USER"):
    """Runs pop3d-auth as the front does, with POP3D_AUTH_OK_FD=4: (exit
    status, what it wrote on fd 4 before end of file)."""
    r3, w3 = os.pipe()
    os.write(w3, data)
    os.close(w3)
    r4, w4 = os.pipe()
    e = {"PATH": "/usr/bin:/bin", "POP3D_USERS_CDB": box.db,
         "AUTHMECH": mech, "POP3D_AUTH_OK_FD": "4"}
    # The shell puts the pipes at 3 and 4 and leaves no other copy.
    sh = 'exec "$0" "$@" 3<&%d 4>&%d' % (r3, w4)
    sh += "".join(" %d>&-" % fd for fd in (r3, w4) if fd not in (3, 4))
    p = subprocess.Popen(["/bin/sh", "-c", sh, AUTH] + argv, env=e,
                         pass_fds=(r3, w4), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    os.close(r3)
    os.close(w4)
    said = b""
    while True:
        d = os.read(r4, 16)
        if not d:
            break
        said += d
    os.close(r4)
    return p.wait(timeout=60), said


@test
def auth_tells_the_front_on_fd4_when_the_stage_runs():
    # "A" and then end of file (close-on-exec): the next program runs;
    # "A" then "X": its exec failed; nothing: the login was refused.
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        rc, said = auth_fd4(box, creds("alice", "hunter2"), ["/bin/true"])
        check_eq((rc, said), (0, b"A"), "accepted, and the stage ran")
        rc, said = auth_fd4(box, creds("alice", "hunter2"),
                            [os.path.join(tmp.path, "no-such-program")])
        check_eq((rc, said), (111, b"AX"), "accepted, but no stage")
        rc, said = auth_fd4(box, creds("alice", "wrong"), ["/bin/true"])
        check_eq((rc, said), (1, b""), "refused: not a word")
        # The stage itself gets neither the descriptor nor the variable.
        rc, said = auth_fd4(box, creds("alice", "hunter2"),
                            ["/bin/sh", "-c", 'test -z "$POP3D_AUTH_OK_FD"'
                             ' && ! test -e /proc/self/fd/4'])
        check_eq((rc, said), (0, b"A"), "no fd 4 nor POP3D_AUTH_OK_FD in"
                 " the stage")


@test
def auth_says_n_when_a_digest_login_has_no_secret():
    # APOP and CRAM-MD5 for a user without a shared secret, or for an
    # unknown user: "N" before exit 1, so that the front does not count
    # what could never have matched.  A wrong digest for a user with a
    # secret, and a wrong password, are guesses: no word.
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("tim", password="pw", apop="tanstaaf")
        box.add("bob", password="pw")
        box.compile()
        chal = "<1896.697170952@postoffice.reston.mci.net>"
        for mech, d in (("CRAM-MD5", cram("x", chal)),
                        ("APOP", hashlib.md5((chal + "x").encode())
                         .hexdigest())):
            for user, want, what in (
                    ("bob", (1, b"N"), "a user without a shared secret"),
                    ("mallory", (1, b"N"), "an unknown user"),
                    ("tim", (1, b""), "a wrong digest for a user with a"
                     " secret")):
                got = auth_fd4(box, creds(user, d, chal), ["/bin/true"],
                               mech=mech)
                check_eq(got, want, "%s, %s" % (mech, what))
        check_eq(auth_fd4(box, creds("tim", cram("tanstaaf", chal), chal),
                          ["/bin/true"], mech="CRAM-MD5"), (0, b"A"),
                 "the right CRAM-MD5 digest: A")
        for user in ("bob", "mallory"):
            check_eq(auth_fd4(box, creds(user, "pw-x"), ["/bin/true"]),
                     (1, b""), "a wrong password for %s: no word" % user)


# Records the setting of every crypt_rn(3) call to $CRYPT_LOG: which hash a
# check was made against, seen from outside pop3d-auth.
CRYPT_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
char *
crypt_rn(const char *pw, const char *setting, void *data, int size)
{
	static char *(*real)(const char *, const char *, void *, int);
	const char *log = getenv("CRYPT_LOG");
	FILE *f;

	if (real == NULL)
		real = (char *(*)(const char *, const char *, void *, int))
		    dlsym(RTLD_NEXT, "crypt_rn");
	if (log != NULL && (f = fopen(log, "a")) != NULL) {
		fprintf(f, "%s\n", setting);
		fclose(f);
	}
	return real(pw, setting, data, size);
}
"""


def crypt_shim(tmp):
    src = os.path.join(tmp.path, "shim.c")
    lib = os.path.join(tmp.path, "shim.so")
    with open(src, "w") as f:
        f.write(CRYPT_SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src, "-ldl"],
                   check=True, capture_output=True)
    return lib


def checked_against(box, shim, user, password="wrong"):
    """The settings pop3d-auth handed crypt_rn for one login, and its
    stderr."""
    log = os.path.join(box.dir, "crypt.log")
    if os.path.exists(log):
        os.unlink(log)
    # A sanitizer build must let the shim come first.
    rc, err, _ = auth(box, creds(user, password), env={
        "LD_PRELOAD": shim, "CRYPT_LOG": log,
        "ASAN_OPTIONS": "verify_asan_link_order=0"})
    check_eq(rc, 1, "%s: refused" % user)
    with open(log) as f:
        return f.read().split(), err


def setting(h):
    """The method and cost of a hash, as pop3d-users writes them."""
    if h.startswith("$2"):
        return h[:7]
    if h.startswith("$6$") and not h.startswith("$6$rounds="):
        return "$6$"
    return h[:h.index("$", 3) + 1]


@test
def auth_unknown_users_check_the_dummy_of_the_database_kind():
    # An unknown user and a locked account are checked against the
    # database's dummy: a stored hash (the same every time) of the method
    # and cost most accounts have, whichever that is.
    with TempDir() as tmp:
        shim = crypt_shim(tmp)
        for method, other in (("yescrypt", "sha512"), ("sha512", "bcrypt"),
                              ("bcrypt", "yescrypt")):
            sub = os.path.join(tmp.path, method)
            os.mkdir(sub)
            box = Box(type("Sub", (), {"path": sub})())
            for name, m in (("a1", method), ("a2", method), ("b1", other)):
                box.add(name)
                r = box.users("passwd", "-s", "-m", m, name,
                              input=b"pw-" + name.encode() + b"\n")
                check_eq(r.returncode, 0, "passwd -m %s %s" % (m, name))
            box.add("locked")
            box.compile()
            hashes = dict((l.split(":")[0], l.split(":")[1])
                          for l in open(box.file).read().split())
            want = setting(hashes["a1"])
            seen, _ = checked_against(box, shim, "a1")
            check_eq(seen, [hashes["a1"]], "%s: a wrong password is checked"
                     " against the account's hash" % method)
            seen, err = checked_against(box, shim, "mallory")
            check(len(seen) == 1 and setting(seen[0]) == want and
                  seen[0] not in hashes.values(),
                  "%s: an unknown user is checked against a hash of %s, "
                  "no account's: %r" % (method, want, seen))
            check("auth_warn" not in err, "%s: no warning" % method)
            again, _ = checked_against(box, shim, "mallory2")
            check_eq(again, seen, "%s: the same dummy every time (stored,"
                     " not made per login)" % method)
            locked, _ = checked_against(box, shim, "locked")
            check_eq(locked, seen, "%s: a locked account costs the same"
                     " check" % method)
        # A database of version 1 (no checks, no dummy): refused, with
        # the fix in the log, and no failure counted.
        line = open(box.file).read().split()[0].encode()
        cdb_write(box.db, [MARK1, (line.split(b":")[0], line)],
                  checked=False)
        rc, err, _ = auth(box, creds("mallory", "wrong"))
        check(rc == 111 and "auth_temp" in err and "auth_fail" not in err
              and "older version" in err and "pop3d-users compile" in err,
              "an older database: exit 111, said: %r %r" % (rc, err))


@test
def auth_without_maildrop_field_sets_none():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("bob", password="pw")
        box.compile()
        for mech in ("PLAIN", "LOGIN", ""):
            box.clear_out()
            rc, _, _ = auth(box, creds("bob", "pw"), mech=mech)
            check_eq(rc, 7, "AUTHMECH=%r is a password check" % mech)
        check("MAILDROP" not in fields(box.out()),
              "no MAILDROP without the field")


@test
def bad_file_settings_are_refused():
    """A file's setting goes through the settings table, as the front's."""
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        rc, err, _ = auth(box, creds("alice", "hunter2"), db="/x\x01")
        check_eq(rc, 111, "pop3d-auth: a bad POP3D_USERS_CDB exits 111")
        check("bad setting: POP3D_USERS_CDB must be" in err,
              "and names the setting: %r" % err)
        check_eq(box.out(), "", "the next program never ran")
        env = {"PATH": "/usr/bin:/bin",
               "POP3D_USERS_FILE": "/" + "x" * 4096}
        r = subprocess.run([USERS, "-d", box.db, "list"], env=env,
                           capture_output=True, timeout=60)
        check_eq(r.returncode, 2, "pop3d-users: a bad POP3D_USERS_FILE"
                 " exits 2")
        check(b"bad setting: POP3D_USERS_FILE must be" in r.stderr,
              "and names the setting")


@test
def auth_bad_credentials_exit_1():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.add("locked")
        box.compile()
        rc, err, _ = auth(box, creds("alice", "hunter3"))
        check_eq(rc, 1, "a wrong password exits 1")
        check("auth_fail user=alice" in err and "bad password" in err,
              "and logs the user and the reason")
        check("hunter3" not in err, "but not the password")
        rc, err, _ = auth(box, creds("mallory", "hunter2"))
        check_eq(rc, 1, "an unknown user exits 1")
        check("unknown user" in err, "logged as unknown")
        rc, _, _ = auth(box, creds("locked", ""))
        check_eq(rc, 1, "a locked account exits 1")
        rc, _, _ = auth(box, creds("bad name\x01", "x"))
        check_eq(rc, 1, "an impossible user name exits 1")
        rc, _, _ = auth(box, creds("", ""))
        check_eq(rc, 1, "an empty user name exits 1")
        rc, _, _ = auth(box, creds("alice", "hunter2"), mech="CRAM-MD5")
        check_eq(rc, 1, "the password is no CRAM-MD5 digest: exit 1")
        for mech in ("PLAIN", "LOGIN"):
            rc, err, _ = auth(box, creds("alice", "hunter3"), mech=mech)
            check_eq(rc, 1, "AUTHMECH=%s with a wrong password exits 1" %
                     mech)
            check("auth_fail user=alice mech=%s" % mech in err and
                  "bad password" in err, "and is logged with its mechanism")
            rc, _, _ = auth(box, creds("mallory", "hunter2"), mech=mech)
            check_eq(rc, 1, "AUTHMECH=%s for an unknown user exits 1" % mech)
        check_eq(box.out(), "", "the next program never ran")


@test
def auth_unknown_mechanism_is_misuse():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        for mech in ("KERBEROS", "DIGEST-MD5", "SCRAM-SHA-1", "plain",
                     "cram-md5", "PLAIN ", "USER\x01"):
            rc, err, _ = auth(box, creds("alice", "hunter2"), mech=mech)
            check_eq(rc, 2, "AUTHMECH=%r is misuse (exit 2)" % mech)
            check("auth_usage" in err and "unknown AUTHMECH" in err,
                  "and is logged as such")
        check("hunter2" not in err, "the password is not logged")
        check_eq(box.out(), "", "the next program never ran")
        rc, _, _ = auth(box, creds("alice", "hunter2"), mech="")
        check_eq(rc, 7, "an empty AUTHMECH is USER")


@test
def auth_unknown_user_costs_a_hash():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        wrong = min(auth(box, creds("alice", "x"))[2] for _ in range(3))
        unknown = min(auth(box, creds("mallory", "x"))[2] for _ in range(3))
        check(unknown > wrong * 0.5,
              "an unknown user costs as much CPU as a wrong password "
              "(%.3fs vs %.3fs)" % (unknown, wrong))


@test
def auth_legacy_hash_costs_as_much_as_an_unknown_user():
    # A $1$ check takes microseconds: unless the dummy's work is done as
    # well, an attacker could pick out the md5-crypt accounts by time.
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.add("erin")
        with open(box.file) as f:
            text = f.read()
        with open(box.file, "w") as f:
            f.write(text.replace("erin:!:", "erin:%s:" % MD5_HUNTER2)
                    .replace("erin::", "erin:%s:" % MD5_HUNTER2))
        box.compile()
        check(MD5_HUNTER2 in open(box.file).read(), "erin has a $1$ hash")
        rc, _, _ = auth(box, creds("erin", "hunter2"))
        check_eq(rc, 7, "the $1$ hash still lets erin in")
        legacy = min(auth(box, creds("erin", "x"))[2] for _ in range(3))
        unknown = min(auth(box, creds("mallory", "x"))[2] for _ in range(3))
        check(legacy >= unknown * 0.5,
              "a $1$ user with a wrong password costs as much CPU as an "
              "unknown user (%.4fs vs %.4fs)" % (legacy, unknown))


@test
def auth_apop():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="pw", apop="tanstaaf")
        box.add("bob", password="pw")
        box.compile()
        stamp = "<1896.697170952@dbc.mtview.ca.us>"
        digest = hashlib.md5((stamp + "tanstaaf").encode()).hexdigest()
        check_eq(digest, "c4c9334bac560ecc979e58001b3e22fb",
                 "the digest is RFC 1939's example")
        rc, err, _ = auth(box, creds("alice", digest, stamp), mech="APOP")
        check_eq(rc, 7, "APOP with the right digest logs in")
        check("mech=APOP" in err, "logged as APOP")
        rc, _, _ = auth(box, creds("alice", digest.upper(), stamp),
                        mech="APOP")
        check_eq(rc, 7, "an upper-case digest is the same digest")
        bad = hashlib.md5((stamp + "wrong").encode()).hexdigest()
        rc, err, _ = auth(box, creds("alice", bad, stamp), mech="APOP")
        check_eq(rc, 1, "APOP with a wrong digest exits 1")
        check("bad digest" in err, "logged as a bad digest")
        rc, _, _ = auth(box, creds("alice", digest, "<other@x>"),
                        mech="APOP")
        check_eq(rc, 1, "the digest of another timestamp exits 1")
        rc, _, _ = auth(box, creds("alice", digest[:31], stamp),
                        mech="APOP")
        check_eq(rc, 1, "a short digest exits 1")
        rc, _, _ = auth(box, creds("alice", "tanstaaf", stamp), mech="APOP")
        check_eq(rc, 1, "the secret itself is not a digest")
        rc, err, _ = auth(box, creds("bob", hashlib.md5(
            stamp.encode()).hexdigest(), stamp), mech="APOP")
        check_eq(rc, 1, "a user without an APOP secret cannot use APOP")
        check("no APOP secret" in err, "logged as such")
        rc, _, _ = auth(box, creds("mallory", digest, stamp), mech="APOP")
        check_eq(rc, 1, "APOP for an unknown user exits 1")
        rc, _, _ = auth(box, creds("alice", "pw", stamp), mech="APOP")
        check_eq(rc, 1, "APOP does not take the password")


def cram(secret, challenge):
    return hmac.new(secret.encode(), challenge.encode(),
                    hashlib.md5).hexdigest()


@test
def auth_cram_md5():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("tim", password="pw", apop="tanstaaftanstaaf")
        box.add("bob", password="pw")
        box.add("long", password="pw", apop="s" * 128)
        box.compile()
        chal = "<1896.697170952@postoffice.reston.mci.net>"
        digest = cram("tanstaaftanstaaf", chal)
        check_eq(digest, "b913a602c7eda7a495b4e6e7334d3890",
                 "the digest is RFC 2195's example")
        rc, err, _ = auth(box, creds("tim", digest, chal), mech="CRAM-MD5")
        check_eq(rc, 7, "CRAM-MD5 with the right digest logs in")
        check("auth_ok user=tim mech=CRAM-MD5" in err,
              "logged as CRAM-MD5")
        check(digest not in err and "tanstaaf" not in err,
              "neither the digest nor the secret is logged")
        check_eq(fields(box.out()).get("USER"), "tim",
                 "the next program runs for the user")
        box.clear_out()
        rc, _, _ = auth(box, creds("tim", digest.upper(), chal),
                        mech="CRAM-MD5")
        check_eq(rc, 7, "an upper-case digest is the same digest")
        box.clear_out()
        rc, _, _ = auth(box, creds("long", cram("s" * 128, chal), chal),
                        mech="CRAM-MD5")
        check_eq(rc, 7, "a 128-character secret (longer than MD5's block) "
                 "works")
        box.clear_out()
        for user, d, c, what in (
                ("tim", cram("wrong", chal), chal, "a wrong digest"),
                ("tim", digest, "<1897.697170952@postoffice.reston.mci.net>",
                 "the digest of another challenge"),
                ("tim", digest[:31], chal, "a 31-digit digest"),
                ("tim", digest + "0", chal, "a 33-digit digest"),
                ("tim", "g" + digest[1:], chal, "a digest that is not hex"),
                ("tim", "", chal, "an empty digest"),
                ("tim", "tanstaaftanstaaf", chal, "the secret itself"),
                ("tim", hashlib.md5((chal + "tanstaaftanstaaf").encode())
                 .hexdigest(), chal, "APOP's digest")):
            rc, err, _ = auth(box, creds(user, d, c), mech="CRAM-MD5")
            check_eq(rc, 1, "CRAM-MD5 with %s exits 1" % what)
            check("auth_fail user=tim mech=CRAM-MD5" in err and
                  "bad digest" in err, "logged as a bad digest")
        rc, _, _ = auth(box, creds("tim", digest, chal), mech="APOP")
        check_eq(rc, 1, "a CRAM-MD5 digest is no APOP digest")
        rc, err, _ = auth(box, creds("bob", cram("", chal), chal),
                          mech="CRAM-MD5")
        check_eq(rc, 1, "a user without a shared secret cannot use "
                 "CRAM-MD5, even with the digest of an empty key")
        check("no APOP secret" in err, "logged as such")
        rc, err, _ = auth(box, creds("mallory", digest, chal),
                          mech="CRAM-MD5")
        check_eq(rc, 1, "CRAM-MD5 for an unknown user exits 1")
        check("unknown user" in err, "logged as unknown")
        check_eq(box.out(), "", "the next program never ran")


@test
def auth_cram_md5_challenge_bounds():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("tim", password="pw", apop="tanstaaftanstaaf")
        box.compile()
        rc, err, _ = auth(box, creds("tim", cram("tanstaaftanstaaf", ""),
                                     ""), mech="CRAM-MD5")
        check_eq(rc, 1, "an empty challenge exits 1")
        check("bad challenge" in err, "logged as a bad challenge")
        chal = "<" + "a" * 379 + ">"
        rc, _, _ = auth(box, creds("tim", cram("tanstaaftanstaaf", chal),
                                   chal), mech="CRAM-MD5")
        check_eq(rc, 7, "a 381-octet challenge is taken")
        box.clear_out()
        chal = "<" + "a" * 380 + ">"
        rc, err, _ = auth(box, creds("tim", cram("tanstaaftanstaaf", chal),
                                     chal), mech="CRAM-MD5")
        check_eq(rc, 1, "a 382-octet challenge exits 1")
        check("bad challenge" in err, "logged as a bad challenge")
        rc, _, _ = auth(box, b"tim\0" + b"0" * 32 + b"\0<x>", mech="CRAM-MD5")
        check_eq(rc, 2, "CRAM-MD5 with malformed fd 3 data is misuse")
        check_eq(box.out(), "", "the next program never ran")


@test
def auth_fd3_misuse_exits_2():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.compile()
        rc, err, _ = auth(box, b"x" * 513)
        check_eq(rc, 2, "513 octets on fd 3 exit 2")
        check("auth_usage" in err, "and are logged as misuse")
        name = "u" * (512 - len(creds("", "pw", "")))
        rc, _, _ = auth(box, creds(name, "pw", ""))
        check_eq(rc, 1, "512 octets on fd 3 are read (an unknown user)")
        rc, _, _ = auth(box, b"alice\0hunter2\0stamp")
        check_eq(rc, 2, "an unterminated last field exits 2")
        rc, _, _ = auth(box, b"alice\0hunter2\0")
        check_eq(rc, 2, "two fields exit 2")
        rc, _, _ = auth(box, b"alice\0hunter2\0s\0extra\0")
        check_eq(rc, 2, "four fields exit 2")
        rc, _, _ = auth(box, b"")
        check_eq(rc, 2, "an empty fd 3 exits 2")
        rc, err, _ = auth(box, b"", fd3=False)
        check_eq(rc, 2, "no fd 3 exits 2")
        rc, err, _ = auth(box, creds("alice", "hunter2"), argv=[])
        check_eq(rc, 2, "no program to run exits 2")
        check("usage" in err, "and says how to use it")
        check_eq(box.out(), "", "the next program never ran")


@test
def auth_database_trouble_exits_111():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        os.unlink(box.db)  # every edit compiles it (pop3d-users.8)
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a missing users.cdb exits 111")
        check("auth_temp" in err and "cannot open" in err, "and is logged")
        with open(box.db, "wb") as f:
            f.write(b"garbage")
        rc, _, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a corrupt users.cdb exits 111")
        line = open(box.file).read().strip().encode()
        cdb_write(box.db, [(b"alice", line)])
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a cdb without pop3d-users' marker exits 111")
        check("not a pop3d users database" in err, "and is logged as such")
        cdb_write(box.db, [MARK, DUMMY, (b"alice", line)], checked=False)
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a database of this version without checks "
                 "exits 111")
        check("damaged" in err and "pop3d-users compile" in err,
              "and is logged as damaged, with the fix")
        cdb_write(box.db, [MARK1, (b"alice", line)], checked=False)
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a database of version 1 exits 111")
        check("older version" in err and "pop3d-users compile" in err,
              "and is logged with the fix")
        cdb_write(box.db, [MARK, (b"alice", line)])
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a database without its dummy exits 111")
        cdb_write(box.db, [MARK, DUMMY, (b"alice", line)])
        rc, _, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 7, "the test's own cdb writer makes a usable "
                 "database")
        box.clear_out()
        cdb_write(box.db, [MARK, DUMMY,
                           (b"alice", line.replace(b":", b";", 2))])
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "an invalid record exits 111")
        cdb_write(box.db, [MARK, DUMMY, (b"alice", b"bob" + line[5:])])
        rc, err, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "a record under another name's key exits 111")
        cdb_write(box.db, [MARK, DUMMY, (b"alice", line + b"x" * 4000)])
        rc, _, _ = auth(box, creds("alice", "hunter2"))
        check_eq(rc, 111, "an overlong record exits 111")
        good = read(box.file)
        box.compile()
        rc, _, _ = auth(box, creds("alice", "hunter2"),
                        db=os.path.join(tmp.path, "none.cdb"),
                        argv=["-d", box.db, box.next])
        check_eq(rc, 7, "-d names the database over POP3D_USERS_CDB")
        check(good == read(box.file), "(the users file is untouched)")
        box.clear_out()
        if ROOT:
            os.chmod(box.db, 0o600)
            rc, _, _ = auth(box, creds("alice", "hunter2"),
                            user=RUN_UID, group=RUN_GID, extra_groups=[])
            check_eq(rc, 111, "an unreadable users.cdb exits 111")
        check_eq(box.out(), "", "the next program never ran")


@test
def auth_damaged_database_never_answers_wrong():
    """Issue 15: each octet of a small users.cdb damaged in turn (its low
    bit flipped; past the table of contents, also moved by 0x5a), then
    alice logs in with her password: her own session, or exit 111 with a
    log line (which the front answers [SYS/TEMP] and does not count) --
    never exit 1 (a failed login counted) nor another uid, gid, home or
    maildrop.  Version 1 failed 72 of 6,959 such logins and ran one as
    another uid."""
    with TempDir() as tmp:
        # Open to all, so that a session under a wrong uid would run
        # (and be seen) rather than fail to enter its home.
        os.chmod(tmp.path, 0o755)
        homes = {}
        for n in ("alice", "bob"):
            homes[n] = os.path.join(tmp.path, "h" + n)
            os.mkdir(homes[n], 0o755)
        uid2 = RUN_UID - 1 if ROOT else RUN_UID
        gid2 = RUN_GID - 1 if ROOT else RUN_GID
        # sha512-crypt at its default cost: thousands of logins quickly.
        def crypt(pw):
            return subprocess.run(["openssl", "passwd", "-6", "-salt",
                                   "saltsalt" + pw[:4], pw],
                                  capture_output=True, check=True,
                                  text=True).stdout.strip()
        users = os.path.join(tmp.path, "users")
        with open(users, "w") as f:
            f.write("alice:%s:%d:%d:%s:Maildir-a\n" % (
                crypt("pw-alice"), RUN_UID, RUN_GID, homes["alice"]))
            f.write("bob:%s:%d:%d:%s:Maildir-b\n" % (
                crypt("pw-bob"), uid2, gid2, homes["bob"]))
        good = os.path.join(tmp.path, "users.cdb")
        r = subprocess.run([USERS, "-f", users, "-d", good, "compile"],
                           capture_output=True, timeout=60)
        check_eq(r.returncode, 0, "compile the small database")
        orig = read(good)
        db = os.path.join(tmp.path, "damaged.cdb")
        argv = ["/bin/sh", "-c",
                'echo "SESSION $(id -u) $(id -g) $HOME $MAILDROP $USER" >&2;'
                ' exit 7']
        want = "SESSION %d %d %s Maildir-a alice" % (RUN_UID, RUN_GID,
                                                      homes["alice"])
        box = type("B", (), {"db": db})()
        count = {"session": 0, "temp": 0, "wrong": 0}
        wrong = []
        for off in range(len(orig)):
            for d in ((1, 0x5a) if off >= 2048 else (1,)):
                b = bytearray(orig)
                b[off] = b[off] ^ 1 if d == 1 else (b[off] + d) & 0xff
                with open(db, "wb") as f:
                    f.write(b)
                rc, err, _ = auth(box, creds("alice", "pw-alice"),
                                  argv=argv)
                got = [l for l in err.splitlines() if "SESSION" in l]
                if rc == 7 and got == [want]:
                    count["session"] += 1
                elif rc == 111 and not got and "auth_temp" in err:
                    count["temp"] += 1
                else:
                    count["wrong"] += 1
                    wrong.append((off, d, rc, got))
        print("# %d octets, %d logins: %d sessions, %d exit 111, %d wrong"
              % (len(orig), sum(count.values()), count["session"],
                 count["temp"], count["wrong"]))
        check_eq(wrong[:5], [], "no damage gives a failed login or "
                 "another user's session")
        check(count["session"] > 0 and count["temp"] > 0,
              "both outcomes happen (the sweep damaged what matters)")


@test
def auth_refuses_root_records():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        line = open(box.file).read().strip()
        parts = line.split(":")
        for uid, gid, what in (("0", "1", "uid 0"), ("1", "0", "gid 0")):
            rec = ":".join(parts[:2] + [uid, gid] + parts[4:]).encode()
            cdb_write(box.db, [MARK, DUMMY, (b"alice", rec)])
            rc, err, _ = auth(box, creds("alice", "hunter2"))
            check_eq(rc, 111, "a record with %s exits 111" % what)
            check("auth_temp user=alice" in err, "and is logged")
        check_eq(box.out(), "", "the next program never ran")


@test
def auth_home_and_exec_failures_exit_111():
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        with open(box.file, "a") as f:
            f.write("gone:%s:%d:%d:/nonexistent/home\n" % (
                open(box.file).read().split(":")[1], RUN_UID, RUN_GID))
        box.compile()
        rc, err, _ = auth(box, creds("gone", "hunter2"))
        check_eq(rc, 111, "a missing home exits 111")
        check("cannot enter home" in err, "and is logged")
        rc, err, _ = auth(box, creds("alice", "hunter2"),
                          argv=[os.path.join(tmp.path, "no-such-prog")])
        check_eq(rc, 111, "a next program that cannot run exits 111")
        check("cannot run" in err, "and is logged")


@test
def auth_not_root_only_as_itself():
    if not ROOT:
        skip("(not root: the uid switch is covered above)")
        return
    with TempDir() as tmp:
        box = Box(tmp)
        box.add("alice", password="hunter2")
        box.add("other", password="hunter2", uid=RUN_UID - 1)
        box.compile()
        os.chmod(box.db, 0o644)
        kw = {"user": RUN_UID, "group": RUN_GID, "extra_groups": []}
        rc, _, _ = auth(box, creds("alice", "hunter2"), **kw)
        check_eq(rc, 7, "without root, its own uid's user logs in")
        rc, err, _ = auth(box, creds("other", "hunter2"), **kw)
        check_eq(rc, 111, "without root, another uid's user exits 111")
        check("not ours" in err, "and is logged")


if __name__ == "__main__":
    run_all(sys.argv[2:])

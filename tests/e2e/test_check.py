"""pop3d-check end to end: the real program over a temporary installation
(users.cdb and rules.cdb made by pop3d-users and pop3d-rules, a chroot, a
state directory, a certificate), each check passing and each mistake
detected; login runs the real pop3d-auth (issue 17, a configuration
check)."""

import datetime
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, RUN_GID, RUN_UID, TempDir, check, check_eq,
                     make_maildir, run_all, skip, test, test_hooks)

CHECK = os.path.join(BUILD, "pop3d-check")
USERS = os.path.join(BUILD, "pop3d-users")
RULES = os.path.join(BUILD, "pop3d-rules")
MSG = b"From: a@example.org\r\nSubject: t\r\n\r\nbody\r\n"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   capture_output=True, timeout=60)


def make_pair(d, name, days=3650):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", str(days), "-subj",
            "/CN=" + name, "-addext", "subjectAltName=DNS:" + name,
            "-keyout", key, "-out", cert)
    os.chmod(key, 0o600)
    return cert, key


def make_expired(d, name):
    """A certificate whose validity ended a year ago (openssl req cannot
    make one: python3-cryptography, tests/deps.sh)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    k = ec.generate_private_key(ec.SECP256R1())
    n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(n).issuer_name(n)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=800))
         .not_valid_after(now - datetime.timedelta(days=365))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]),
                        critical=False)
         .sign(k, hashes.SHA256()))
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    with open(cert, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    with open(key, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    os.chmod(key, 0o600)
    return cert, key


class Site:
    """A whole installation that pop3d-check finds good: user alice (a
    password, a Maildir with two new messages and one in cur), a rules
    database, the chroot and the state directory, a certificate."""

    def __init__(self, tmp):
        p = self.dir = tmp.path
        self.etc = os.path.join(p, "etc")
        os.makedirs(self.etc)
        self.home = os.path.join(p, "home")
        self.maildir = os.path.join(self.home, "Maildir")
        make_maildir(self.maildir, cur=[("1700000000.M1P1.c:2,S", MSG)],
                     new=[("1700000001.M1P1.c", MSG),
                          ("1700000002.M1P1.c", MSG)])
        self.users_file = os.path.join(self.etc, "users")
        self.users_cdb = os.path.join(self.etc, "users.cdb")
        self.rules = os.path.join(self.etc, "rules")
        self.rules_cdb = os.path.join(self.etc, "rules.cdb")
        self.chroot = os.path.join(p, "empty")
        self.state = os.path.join(p, "state")
        os.makedirs(self.chroot)
        os.chmod(self.chroot, 0o555)
        os.makedirs(self.state, mode=0o700)
        self.add("alice", RUN_UID, "alice-pw")
        self.compile_rules('127.0.0.4:allow,POP3D_GREETING="Office"\n')
        self.cert, self.key = make_pair(self.etc, "mail.example.org")
        tmp.give()
        if ROOT:
            for d in (self.dir, self.etc, self.chroot, self.state):
                os.chown(d, 0, 0)

    def users(self, *args, input=None):
        return subprocess.run([USERS, "-f", self.users_file, "-d",
                               self.users_cdb] + list(args), input=input,
                              capture_output=True, timeout=60)

    def add(self, name, uid, password):
        check_eq(self.users("add", name, str(uid), str(RUN_GID),
                            self.home).returncode, 0, "add %s" % name)
        check_eq(self.users("passwd", "-s", name, input=password.encode() +
                            b"\n").returncode, 0, "passwd %s" % name)
        check_eq(self.users("compile").returncode, 0, "compile users")

    def compile_rules(self, text):
        with open(self.rules, "w") as f:
            f.write(text)
        r = subprocess.run([RULES, "-d", self.rules_cdb, "-f", self.rules,
                            "compile"], capture_output=True, timeout=60)
        check_eq(r.returncode, 0, "compile rules")

    def env(self, **kw):
        e = {"PATH": "/usr/bin:/bin", "POP3D_USERS_CDB": self.users_cdb,
             "POP3D_USERS_FILE": self.users_file,
             "POP3D_RULES": self.rules_cdb, "POP3D_CHROOT": self.chroot,
             "POP3D_STATE_DIR": self.state, "POP3D_PREAUTH_USER": "pop3d",
             "POP3D_TLS_CERT": self.cert, "POP3D_TLS_KEY": self.key}
        for k, v in kw.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def run(self, *args, input=b"", **kw):
        r = subprocess.run([CHECK] + list(args), env=self.env(**kw),
                           input=input, capture_output=True, timeout=120)
        return (r.returncode, r.stdout.decode("utf-8", "replace"),
                r.stderr.decode("utf-8", "replace"))


def lines(out, level):
    return [ln for ln in out.splitlines() if ln.startswith(level + " ")]


def has(out, prefix):
    return any(ln.startswith(prefix) for ln in out.splitlines())


def well_formed(out):
    return all(ln.split(" ", 1)[0] in ("ok", "warn", "error") and
               ": " in ln for ln in out.splitlines())


@test
def a_good_installation_passes_every_check():
    if not ROOT:
        skip("the chroot and pre-login user checks need root")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, err = site.run()
        check_eq(lines(out, "error"), [], "no error line")
        check_eq(rc, 0, "exit 0")
        check(well_formed(out), "every line is 'ok|warn|error what: "
              "detail'")
        check(has(out, "ok users: %s: 1 users" % site.users_cdb),
              "users.cdb read, its user counted")
        check(has(out, "ok users: %s is not older than" % site.users_cdb),
              "users.cdb is not older than the users file")
        check(has(out, "ok rules: %s:" % site.rules_cdb), "rules.cdb read")
        check(has(out, "ok chroot: %s" % site.chroot), "chroot checked")
        check(has(out, "ok state-dir: %s" % site.state), "state dir checked")
        check_eq(len([ln for ln in out.splitlines() if "state-dir:" in ln]),
                 1, "on this machine's own file system, no word of locks")
        check(has(out, "ok preauth-user: pop3d: uid %d" %
                  pwd.getpwnam("pop3d").pw_uid), "pre-login user checked")
        check(has(out, "ok tls-key: %s matches %s" % (site.key, site.cert)),
              "key matches its certificate")
        check(any("names mail.example.org, expires in" in ln and
                  ln.startswith("ok tls-cert") for ln in out.splitlines()),
              "the names and days to expiry are shown: %r" %
              [ln for ln in out.splitlines() if "tls-cert" in ln])


@test
def settings_are_listed_with_where_they_come_from():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.run("settings", POP3D_IDLE_TIMEOUT="300")
        check_eq(rc, 0, "exit 0")
        check("ok setting POP3D_IDLE_TIMEOUT: 300 (environment)" in out,
              "a value from the environment")
        check("ok setting POP3D_LOGIN_TIMEOUT: 120 (default)" in out,
              "a number's default, from the table")
        check("ok setting POP3D_USERS_FILE: %s (environment)" %
              site.users_file in out, "a path from the environment")
        rc, out, _ = site.run("settings", POP3D_CHROOT=None)
        check("ok setting POP3D_CHROOT: /var/empty (default)" in out,
              "a path's default")
        rc, out, _ = site.run("settings", "127.0.0.4")
        check_eq(rc, 0, "with an address: exit 0")
        check('ok rule: 127.0.0.4: line 1, pattern "127.0.0.4", allow' in
              out, "the rule that matches is named")
        check("ok setting POP3D_GREETING: Office (rule line 1)" in out,
              "a setting the rule gives, with its source")
        rc, out, _ = site.run("settings", "127.0.0.9")
        check("no rule matches" in out and
              "ok setting POP3D_GREETING: unset (default)" in out,
              "another address: no rule, the default")


@test
def a_bad_number_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.run("settings", POP3D_IDLE_TIMEOUT="10m")
        check_eq(rc, 1, "exit 1")
        check("error setting POP3D_IDLE_TIMEOUT: 10m (environment): "
              "POP3D_IDLE_TIMEOUT must be a number from" in out,
              "the setting, its value and the bounds: %r" %
              lines(out, "error"))


@test
def a_bad_uidl_format_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.run("settings", POP3D_DOVECOT_UIDL_FORMAT="%m")
        check_eq(rc, 1, "exit 1")
        check("error setting POP3D_DOVECOT_UIDL_FORMAT: %m (environment): "
              "POP3D_DOVECOT_UIDL_FORMAT must be a pop3_uidl_format of at "
              "most 64 characters" in out,
              "a format pop3d-maildrop cannot expand, with the same reason "
              "as pop3d-maildrop's: %r" % lines(out, "error"))
        rc, out, _ = site.run("settings",
                              POP3D_DOVECOT_UIDL_FORMAT="%08Xu%08Xv")
        check(not has(out, "error setting POP3D_DOVECOT_UIDL_FORMAT"),
              "Dovecot's default is good")


@test
def an_unknown_pop3d_name_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.run("settings", POP3D_IDEL_TIMEOUT="300",
                              POP3D_FROBNICATE="1")
        check_eq(rc, 1, "exit 1")
        check("error setting POP3D_IDEL_TIMEOUT: unknown setting, no "
              "program reads it (did you mean POP3D_IDLE_TIMEOUT?)" in out,
              "a misspelled name, with the likely one")
        check(has(out, "error setting POP3D_FROBNICATE: unknown setting"),
              "a name no program reads")


@test
def a_damaged_users_cdb_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        with open(site.users_cdb, "r+b") as f:
            data = bytearray(f.read())
            # A record's octet, past the table of contents.
            i = data.index(b"alice", 2048) + 8
            data[i] ^= 0x01
            f.seek(0)
            f.write(data)
        rc, out, _ = site.run()
        check_eq(rc, 1, "exit 1")
        check(has(out, "error users: %s" % site.users_cdb) and
              "damaged" in out, "users.cdb damaged: %r" %
              lines(out, "error"))


@test
def a_missing_rules_cdb_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        os.unlink(site.rules_cdb)
        rc, out, _ = site.run()
        check_eq(rc, 1, "exit 1")
        check(has(out, "error rules: cannot open rules database %s: No such"
                  % site.rules_cdb), "named and missing: %r" %
              lines(out, "error"))


@test
def a_users_cdb_older_than_the_users_file_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        st = os.stat(site.users_cdb)
        os.utime(site.users_file, (st.st_atime + 60, st.st_mtime + 60))
        rc, out, _ = site.run()
        check_eq(rc, 1, "exit 1")
        check(has(out, "error users: %s is older than %s: run pop3d-users "
                  "compile" % (site.users_cdb, site.users_file)),
              "the stale database is named: %r" % lines(out, "error"))


@test
def a_group_writable_state_dir_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        os.chmod(site.state, 0o770)
        rc, out, _ = site.run()
        check_eq(rc, 1, "exit 1")
        check(has(out, "error state-dir: %s: must be owned" % site.state),
              "the state directory is refused: %r" % lines(out, "error"))


@test
def a_state_dir_whose_locks_may_stay_on_one_host_is_warned():
    # Seen through the mount table the program would read on NFS.
    from test_shared import fake_mountinfo
    if not test_hooks(CHECK):
        return
    for fstype, opts, level, words in (
            ("nfs", "rw,vers=3,local_lock=all", "warn",
             "on nfs, mounted with local_lock=all, local_lock=posix or "
             "nolock: fcntl locks stay on this host: with several hosts on"
             " it, its locks may hold on this host only"),
            ("fuse.sshfs", "rw", "warn", "on fuse.sshfs, a FUSE file system"),
            ("nfs4", "rw,vers=4.2,local_lock=none", "ok",
             "on nfs4, whose locks hold across hosts")):
        with TempDir() as tmp:
            site = Site(tmp)
            mi = fake_mountinfo(site.state, fstype, opts)
            rc, out, _ = site.run(TEST_POP3D_MOUNTINFO=mi)
            check(has(out, "%s state-dir: %s: %s" % (level, site.state,
                                                     words)),
                  "%s: %r" % (fstype, [ln for ln in out.splitlines()
                                       if "state-dir" in ln]))
            check_eq(lines(out, "error"), [], "%s: no error" % fstype)


@test
def a_chroot_owned_by_a_user_is_an_error():
    if not ROOT:
        skip("the chroot is checked only as root")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        os.chown(site.chroot, RUN_UID, RUN_GID)
        rc, out, _ = site.run()
        check_eq(rc, 1, "exit 1")
        check(has(out, "error chroot: %s: %s must be a directory owned by "
                  "root" % (site.chroot, site.chroot)),
              "the chroot is refused, in privdrop's words: %r" %
              lines(out, "error"))


@test
def a_preauth_user_with_a_mail_users_uid_is_an_error():
    if not ROOT:
        skip("the pre-login user is checked only as root")
        return
    with TempDir() as tmp:
        site = Site(tmp)
        site.add("mallory", pwd.getpwnam("pop3d").pw_uid, "m-pw")
        rc, out, _ = site.run()
        check_eq(rc, 1, "exit 1")
        check(has(out, "error preauth-user: pop3d: uid %d is a mail user's "
                  "uid" % pwd.getpwnam("pop3d").pw_uid),
              "the shared uid is found: %r" % lines(out, "error"))
        rc, out, _ = site.run(POP3D_PREAUTH_USER="no-such-user-x")
        check(has(out, "error preauth-user: no user no-such-user-x"),
              "a missing pre-login user is an error")
        check(has(out, "error preauth-user: nobody: shared"),
              "and falling back to nobody is one too")


@test
def a_certificate_without_its_key_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.run(POP3D_TLS_KEY=None)
        check_eq(rc, 1, "exit 1")
        check(has(out, "error tls: POP3D_TLS_CERT set without "
                  "POP3D_TLS_KEY"), "cert without key: %r" %
              lines(out, "error"))
        rc, out, _ = site.run(POP3D_TLS_CERT=None)
        check(has(out, "error tls: POP3D_TLS_KEY set without "
                  "POP3D_TLS_CERT"), "key without cert")
        rc, out, _ = site.run(POP3D_TLS_CERT=None, POP3D_TLS_KEY=None)
        check(has(out, "ok tls: no certificate"), "neither is fine")
        rc, out, _ = site.run("settings", POP3D_TLS_CERT=None,
                              POP3D_TLS_KEY=None, POP3D_TLS_REQUIRED="1")
        check_eq(rc, 1, "TLS required without a certificate: exit 1")
        check(has(out, "error settings: POP3D_TLS_REQUIRED=1 without "
                  "POP3D_TLS_CERT and POP3D_TLS_KEY"),
              "the combination the front refuses is an error")


@test
def an_expired_certificate_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        cert, key = make_expired(site.etc, "old.example.org")
        rc, out, _ = site.run(POP3D_TLS_CERT=cert, POP3D_TLS_KEY=key)
        check_eq(rc, 1, "exit 1")
        check(any(ln.startswith("error tls-cert: %s: expired 36" % cert) and
                  "old.example.org" in ln for ln in out.splitlines()),
              "expired, how long ago, its names: %r" % lines(out, "error"))
        cert, key = make_pair(site.etc, "soon.example.org", days=5)
        rc, out, _ = site.run(POP3D_TLS_CERT=cert, POP3D_TLS_KEY=key)
        check(any(ln.startswith("warn tls-cert: %s: names soon.example.org"
                                ", expires in 4 days" % cert) or
                  ln.startswith("warn tls-cert: %s: names soon.example.org"
                                ", expires in 5 days" % cert)
                  for ln in out.splitlines()),
              "one that expires soon is a warning: %r" %
              [ln for ln in out.splitlines() if "tls" in ln])


@test
def a_key_of_another_certificate_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        _, other = make_pair(site.etc, "other.example.org")
        rc, out, _ = site.run(POP3D_TLS_KEY=other)
        check_eq(rc, 1, "exit 1")
        check(has(out, "error tls-key: %s does not match the certificate %s"
                  % (other, site.cert)), "mismatch: %r" %
              lines(out, "error"))


def maildir_listing(site):
    return sorted(os.path.join(t, f) for t, _, fs in os.walk(site.home)
                  for f in fs + [""])


@test
def login_reports_each_stage_without_touching_the_mail():
    with TempDir() as tmp:
        site = Site(tmp)
        before = maildir_listing(site)
        rc, out, err = site.run("login", "alice", input=b"alice-pw\n")
        check_eq(rc, 0, "exit 0: %r" % (out + err))
        check(has(out, "ok user: alice: found in %s: uid %d, gid %d, home "
                  "%s, password yescrypt" % (site.users_cdb, RUN_UID,
                                             RUN_GID, site.home)),
              "user found, password scheme from the hash")
        check(has(out, "ok auth: alice: password accepted; running as uid "
                  "%d, gid %d" % (RUN_UID, RUN_GID)),
              "pop3d-auth accepted and ran the next stage as the user")
        check(has(out, "ok maildrop: %s: 3 messages (2 new, 1 cur)" %
                  site.maildir), "the maildrop and its count")
        check_eq(maildir_listing(site), before, "no file moved or made")
        check("alice-pw" not in out + err, "the password is never shown")
        check(well_formed(out), "every line is 'ok|warn|error what: "
              "detail'")


@test
def login_reports_the_users_own_maildrop():
    # The user's maildrop field wins over the chain's argument, as
    # pop3d-maildrop chooses it.
    with TempDir() as tmp:
        site = Site(tmp)
        other = os.path.join(site.dir, "vmail", "gina", "Maildir")
        make_maildir(other, new=[("1700000003.M1P1.c", MSG)])
        tmp.give()
        check_eq(site.users("add", "gina", str(RUN_UID), str(RUN_GID),
                            site.home, other).returncode, 0, "add gina")
        check_eq(site.users("passwd", "-s", "gina",
                            input=b"gina-pw\n").returncode, 0, "passwd gina")
        rc, out, err = site.run("login", "gina", "Maildir",
                                input=b"gina-pw\n")
        check_eq(rc, 0, "exit 0: %r" % (out + err))
        check(has(out, "ok maildrop: %s: 1 messages (1 new, 0 cur)" % other),
              "gina's own maildrop, not the chain's argument")


@test
def login_reports_where_the_maildrop_lock_holds():
    from test_shared import fake_mountinfo
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, _ = site.run("login", "alice", input=b"alice-pw\n")
        check(not any(ln.startswith(("ok maildrop", "warn maildrop")) and
                      " on " in ln for ln in out.splitlines()),
              "this machine's own file system: no word of locks")
        if not test_hooks(CHECK):
            return
        mi = fake_mountinfo(site.maildir, "cifs", "rw,vers=3.0,nobrl")
        rc, out, _ = site.run("login", "alice", input=b"alice-pw\n",
                              TEST_POP3D_MOUNTINFO=mi)
        check_eq(rc, 0, "a warning is no error")
        check(has(out, "warn maildrop: %s: on cifs, mounted with nobrl" %
                  site.maildir), "SMB with nobrl: warned: %r" %
              [ln for ln in out.splitlines() if "maildrop" in ln])


@test
def login_reports_the_users_own_policy():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, err = site.run("login", "alice", input=b"alice-pw\n",
                                POP3D_EXPIRE="NEVER")
        check(has(out, "ok policy: EXPIRE NEVER, LOGIN-DELAY none"),
              "without the user's own: the environment's: %r" % out)
        check_eq(site.users("mod", "-e", "0", "-l", "900",
                            "alice").returncode, 0, "mod alice")
        rc, out, err = site.run("login", "alice", input=b"alice-pw\n",
                                POP3D_EXPIRE="NEVER")
        check_eq(rc, 0, "exit 0: %r" % (out + err))
        check(has(out, "ok user: alice: found in %s: uid %d, gid %d, home "
                  "%s, password yescrypt, expire 0, login-delay 900" %
                  (site.users_cdb, RUN_UID, RUN_GID, site.home)),
              "the record's values: %r" % out)
        check(has(out, "ok policy: EXPIRE 0, LOGIN-DELAY 900"),
              "and they win over the environment's")
        check(well_formed(out), "every line is 'ok|warn|error what: "
              "detail'")


@test
def login_reads_the_password_from_a_terminal_without_echo():
    import pty
    import select
    with TempDir() as tmp:
        site = Site(tmp)
        master, slave = pty.openpty()
        p = subprocess.Popen([CHECK, "login", "alice"], env=site.env(),
                             stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        os.close(slave)
        prompt = b""
        while b"Password: " not in prompt:
            if not select.select([p.stderr], [], [], 60)[0]:
                break
            chunk = os.read(p.stderr.fileno(), 100)
            if not chunk:
                break
            prompt += chunk
        check(b"Password: " in prompt, "a prompt on stderr")
        os.write(master, b"alice-pw\n")
        try:
            out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        echoed = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 1000)
            except OSError:
                break
            if not chunk:
                break
            echoed += chunk
        os.close(master)
        check_eq(p.returncode, 0, "the login passes")
        check(b"alice-pw" not in echoed, "the terminal did not echo the "
              "password: %r" % echoed)
        check(b"ok maildrop: " in out, "the chain ran to the maildrop stage")


@test
def login_with_a_bad_password_is_an_error():
    with TempDir() as tmp:
        site = Site(tmp)
        rc, out, err = site.run("login", "alice", input=b"bad-guess-7\n")
        check_eq(rc, 1, "exit 1")
        check(has(out, "ok user: alice: found"), "the user is found")
        check(has(out, "error auth: alice: refused"), "the refusal")
        check("bad password" in err, "pop3d-auth's own reason")
        check(not has(out, "ok maildrop"), "no maildrop stage")
        check("bad-guess-7" not in out + err, "the password is never shown")
        rc, out, err = site.run("login", "nosuch", input=b"x\n")
        check_eq(rc, 1, "an unknown user: exit 1")
        check(has(out, "error user: nosuch: not in %s" % site.users_cdb),
              "the unknown user is said")


@test
def misuse_exits_2():
    with TempDir() as tmp:
        site = Site(tmp)
        for args in (["login"], ["settings", "1", "2"], ["-x"],
                     ["check", "a", "b"]):
            rc, _, err = site.run(*args)
            check_eq(rc, 2, "exit 2 for %r" % args)
            check("usage:" in err, "usage for %r" % args)


@test
def help_is_usage_on_stdout():
    r = subprocess.run([CHECK, "--help"], capture_output=True, timeout=30)
    check_eq(r.returncode, 0, "--help exits 0")
    check(b"usage: pop3d-check" in r.stdout and b"login user" in r.stdout,
          "--help lists the commands on stdout")


@test
def only_pop3d_check_links_libcrypto():
    """X.509 parsing is pop3d-check's alone: no stage of the chain but the
    TLS relay (libtls) pays for loading libcrypto."""
    mine = subprocess.run(["readelf", "-d", CHECK], capture_output=True,
                          timeout=30).stdout
    if b"NEEDED" not in mine:
        skip("a static build (make STATIC=1) links no shared library")
        return
    for prog in ("pop3d", "pop3d-auth", "pop3d-maildrop", "pop3d-users",
                 "pop3d-rules", "pop3d-passwd"):
        r = subprocess.run(["readelf", "-d", os.path.join(BUILD, prog)],
                           capture_output=True, timeout=30)
        check(r.returncode == 0 and b"libcrypto" not in r.stdout,
              "%s does not link libcrypto" % prog)
    check(b"libcrypto" in mine, "pop3d-check links it")


if __name__ == "__main__":
    run_all(sys.argv[2:])

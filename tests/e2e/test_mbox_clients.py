"""mboxes a real MTA wrote, served to real clients (issue 19): Debian's
exim4 (exim4-daemon-light, its default local-only configuration) delivers
to /var/mail/USER for a system user made here; the whole chain (pop3d,
pop3d-auth, pop3d-maildrop) serves it to poplib, curl, fetchmail and
mpop.  What each message must be is read from the mbox file by the rules
of pop3d-maildrop.8 (the served octets of a message: after its From_ line,
up to the empty line the MTA put before the next one), in Python, apart
from the C parser.  Needs root (useradd) and exim4 (tests/deps.sh test):
skipped without them."""

import grp
import os
import poplib
import shutil
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (EXIM, SENDER, SPOOL, MailUser, Raw, TempDir, check,
                     check_eq, file_facts, have_mta, parse_mbox, run_all,
                     skip, test, unstuffed_size, wire_form)

# A 20,000-octet line is served whole (poplib refuses lines over 2048).
poplib._MAXLINE = 1 << 20

# What the clients fetch: each a case the MTA or the server must not spoil.
MSGS = [
    # A body line "From " after an empty line: unquoted, a false boundary.
    b"From: a@example.org\nSubject: from\n\nHello,\n\nFrom here on, a line "
    b"the MTA quotes.\nFrom the start.\n>From already quoted\n",
    b"Subject: dots\n\n.\n..two\n.leading dot\nend\n",
    b"Subject: long\n\n" + b"y" * 20000 + b"\nafter the long line\n",
    b"Subject: crlf\r\nX-Test: 1\r\n\r\nline one\r\nline two\r\n",
    b"Subject: 8bit\nContent-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: 8bit\n\n\xe9t\xe9 \xff\x80\xa0\n",
    b"Subject: uidl\nX-UIDL: qpopper-0123456789abcdef\n\nbody\n",
    b"Subject: blanks\n\nx\n\n\n",
    b"Subject: empty\n\n",
    b"Subject: nofinal\n\nlast line without a newline",
]
X_UIDL = "qpopper-0123456789abcdef"


def lines_of(content, top=None):
    """The lines poplib returns for RETR (or TOP n top) of content: CRLF
    and stuffing gone."""
    w = wire_form(content, top)
    return [l[1:] if l.startswith(b".") else l
            for l in w.split(b"\r\n")[:-1]]


def x_uidl(content):
    """The UIDL an X-UIDL header gives (the first; trimmed, 1 to 70
    octets 0x21-0x7e), else None."""
    head = content.split(b"\n\n", 1)[0]
    for h in head.split(b"\n"):
        if h.lower().startswith(b"x-uidl:"):
            v = h[7:].strip(b" \t")
            ok = 1 <= len(v) <= 70 and all(0x21 <= c <= 0x7e for c in v)
            return v.decode() if ok else None
    return None


def deliver_all(u, msgs=MSGS):
    rcs = [u.deliver(m)[0] for m in msgs]
    return check_eq(rcs, [0] * len(msgs), "exim4 delivers %d messages"
                    % len(msgs))


@test
def mta_writes_debian_mboxes():
    """The facts the server relies on, of the MTA installed here."""
    if not have_mta():
        return
    with MailUser() as u:
        check(u.read() is None, "no /var/mail/USER before the first "
              "delivery (useradd makes none)")
        strace = shutil.which("strace")
        trace = os.path.join(u.tmp.path, "trace")
        r = subprocess.run(([strace, "-f", "-o", trace, "-e",
                             "trace=link,fcntl"] if strace else []) +
                           [EXIM, "-odi", "-oi", "-f", SENDER, u.name],
                           input=MSGS[0], capture_output=True, timeout=120)
        check_eq(r.returncode, 0, "exim4 -odi delivers at once")
        deliver_all(u, MSGS[1:])
        st = os.stat(u.mbox)
        check_eq((st.st_uid, grp.getgrgid(st.st_gid).gr_name,
                  stat.S_IMODE(st.st_mode)), (u.uid, "mail", 0o660),
                 "/var/mail/USER: owner the user, group mail, mode 0660")
        if strace:
            with open(trace) as f:
                t = f.read()
            check('"%s.lock") = 0' % u.mbox in t and
                  "F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, "
                  "l_len=0}) = 0" in t, "it locks with a dotlock (link to "
                  "USER.lock) and fcntl F_WRLCK on the whole file")
        data = u.read()
        got = u.messages()
        check_eq(len(got), len(MSGS), "one From_ line per message")
        check(all(f.startswith(b"From " + SENDER.encode() + b" ")
                  for _, f, _ in got), "From_ lines: From SENDER DATE")
        check(data.endswith(b"\n\n") and all(s.endswith(b"\n\n")
                                             for s, _, _ in got),
              "each message ends with the empty line the MTA adds")
        c = [c for _, _, c in got]
        check(b"\n>From here on" in c[0] and b"\n>From the start" in
              c[0] and b"\n>From already quoted" in c[0] and
              b"\nFrom " not in c[0], "a body line 'From ' is quoted "
              "'>From ', one '>From ' left as it was (mboxo)")
        check(b"\r" not in c[3] and c[3].endswith(b"line one\nline two\n"),
              "CRLF is stored as LF")
        check(c[4].endswith(b"\xe9t\xe9 \xff\x80\xa0\n"), "8 bits stored")
        check(c[6].endswith(b"\n\nx\n\n\n") and c[7].endswith(b"\n\n"),
              "trailing empty lines kept (the separator is one more)")
        check(c[8].endswith(b"last line without a newline\n"),
              "a last line without LF gets one")
        check(all(b"\nReturn-path: <" + SENDER.encode() + b">\n" in
                  b"\n" + m for m in c), "a Return-path header added")


def check_session(u, srv, what):
    """STAT, LIST, UIDL, TOP 0 and RETR of every message, against the
    mbox file: {content: UIDL}."""
    want = [c for _, _, c in u.messages()]
    p = u.login(srv)
    check_eq(p.stat(), (len(want), sum(unstuffed_size(c) for c in want)),
             what + ": STAT counts the messages and their wire sizes")
    sizes = [int(l.split()[1]) for l in p.list()[1]]
    check_eq(sizes, [unstuffed_size(c) for c in want],
             what + ": LIST gives each message's wire size")
    uidls = [l.split()[1].decode() for l in p.uidl()[1]]
    check_eq(len(set(uidls)), len(want), what + ": a UIDL each, distinct")
    check(all(1 <= len(x) <= 70 and all(0x21 <= ord(ch) <= 0x7e
                                        for ch in x) for x in uidls),
          what + ": UIDLs of 1 to 70 printable octets")
    for i, c in enumerate(want, 1):
        if x_uidl(c):
            check_eq(uidls[i - 1], x_uidl(c), what + ": message %d's "
                     "X-UIDL header is its UIDL" % i)
        _, lines, octets = p.retr(i)
        check_eq(lines, lines_of(c), what + ": RETR %d is the stored "
                 "message" % i)
        check_eq(octets, sizes[i - 1], what + ": RETR %d's size is LIST's"
                 % i)
        for top in (0, 1):
            check_eq(p.top(i, top)[1], lines_of(c, top=top),
                     what + ": TOP %d %d" % (i, top))
    p.quit()
    return dict(zip(want, uidls))


@test
def poplib_retrieves_what_the_mta_stored():
    if not have_mta():
        return
    with MailUser() as u, u.serve() as srv:
        p = u.login(srv)
        check_eq(p.stat(), (0, 0), "no /var/mail/USER yet: an empty "
                 "maildrop, not an error")
        p.quit()
        check(u.read() is None, "and nothing made in /var/mail")
        # And octets no mail should hold but exim4 stores: NUL, ^Z, DEL.
        if not deliver_all(u, MSGS + [b"Subject: nul\n\na\x00b\n\x1a\x7f\n"]):
            return
        first = check_session(u, srv, "record's maildrop")
        # Byte for byte, dot-stuffing included, on a raw socket.
        r = Raw(srv.connect())
        r.line()
        r.cmd(b"USER " + u.name.encode())
        check_eq(r.cmd(b"PASS pw-" + u.name.encode())[:3], b"+OK", "PASS")
        for i, (_, _, c) in enumerate(u.messages(), 1):
            r.cmd(b"RETR %d" % i)
            check_eq(r.multiline(), wire_form(c), "raw RETR %d is the "
                     "exact wire form" % i)
        r.cmd(b"QUIT")
        r.close()
        again = check_session(u, srv, "second session")
        check_eq(again, first, "the same UIDLs in the next session")
        dele_and_rewrite(u, srv, first)


def dele_and_rewrite(u, srv, uidls):
    before = u.messages()
    facts = file_facts(u.mbox)
    data = u.read()
    mtime = os.stat(u.mbox).st_mtime_ns
    p = u.login(srv)
    p.dele(1)
    p.rset()
    p.quit()
    srv.wait_all()
    check(u.read() == data and os.stat(u.mbox).st_mtime_ns == mtime,
          "DELE, RSET, QUIT: the mbox untouched (not even its mtime, "
          "which says 'new mail' to shells and biff)")
    gone = (2, 5, len(before))
    p = u.login(srv)
    for n in gone:
        p.dele(n)
    check(p.quit().startswith(b"+OK"), "QUIT after DELE %r: +OK" % (gone,))
    srv.wait_all()
    kept = [m for i, m in enumerate(before, 1) if i not in gone]
    check_eq(u.read(), b"".join(s for s, _, _ in kept), "the mbox holds "
             "exactly the other messages, byte for byte")
    check_eq(file_facts(u.mbox), facts, "its device, inode, owner, group "
             "and mode are the same")
    after = check_session(u, srv, "after DELE")
    check_eq(after, {c: uidls[c] for _, _, c in kept},
             "the kept messages keep their UIDLs")
    check_eq(sorted(f for f in os.listdir(SPOOL) if f.startswith(u.name)),
             [u.name], "nothing left beside it in /var/mail (no dotlock)")
    cache = os.path.join(u.home, ".pop3d-mbox.cache")
    check(os.path.exists(cache) and file_facts(cache)[2:] ==
          (u.uid, u.gid, 0o600), "its index in the home, the user's, 0600")
    check(not os.path.exists(os.path.join(u.home, ".pop3d-mbox.journal")),
          "no UPDATE journal left")


@test
def default_maildrop_argument():
    """No maildrop in the record: pop3d-maildrop /var/mail/%u."""
    if not have_mta():
        return
    with MailUser(default=True) as u, u.serve() as srv:
        p = u.login(srv)
        check_eq(p.stat(), (0, 0), "/var/mail/%u, missing: empty")
        p.quit()
        if deliver_all(u, MSGS[:4]):
            check_session(u, srv, "/var/mail/%u")


@test
def x_uidl_headers_and_their_duplicates():
    """qpopper's X-UIDL headers: reused when valid; one that is not, and
    the second of two alike, get UIDLs of their own, the same in every
    session."""
    if not have_mta():
        return
    heads = [b"X-UIDL: same-uidl", b"X-UIDL: same-uidl",
             b"X-UIDL:  " + b"a" * 70 + b"  ", b"X-UIDL: " + b"b" * 71,
             b"X-UIDL: with space", b"X-UIDL:", b"X-UIDL: \x80\xff"]
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, [b"Subject: u%d\n%s\n\nbody %d\n" % (i, h, i)
                               for i, h in enumerate(heads)]):
            return
        p = u.login(srv)
        got = [l.split()[1].decode() for l in p.uidl()[1]]
        p.quit()
        check_eq(len(set(got)), len(heads), "%d messages, %d distinct "
                 "UIDLs: %r" % (len(heads), len(heads), got))
        check_eq((got[0], got[2]), ("same-uidl", "a" * 70), "valid "
                 "X-UIDL headers (trimmed) are the UIDLs")
        check(not set(got[3:]) & {"b" * 71, "with", "with space", ""},
              "invalid ones are not")
        p = u.login(srv)
        check_eq([l.split()[1].decode() for l in p.uidl()[1]], got,
                 "the same UIDLs in the next session")
        p.dele(1)
        p.quit()
        p = u.login(srv)
        after = [l.split()[1].decode() for l in p.uidl()[1]]
        p.quit()
        # The second 'same-uidl' may now get it: uniqueness is made per
        # session, as for a Maildir.
        check_eq(after[1:], got[2:], "after DELE of the first, the others "
                 "keep their UIDLs")
        check(len(set(after)) == len(after), "all distinct")


@test
def empty_spool_file_and_a_home_not_writable():
    """An empty /var/mail/USER (useradd's CREATE_MAIL_SPOOL makes one)
    is 0 messages; a home the user may not write (no place for the
    journal): the session is served, but DELE's removal is refused at
    QUIT, nothing removed."""
    if not have_mta():
        return
    ro = TempDir()
    try:
        with MailUser(home=ro.path) as u, u.serve() as srv:
            with open(u.mbox, "wb"):
                pass
            os.chown(u.mbox, u.uid, grp.getgrnam("mail").gr_gid)
            os.chmod(u.mbox, 0o660)
            p = u.login(srv)
            check_eq(p.stat(), (0, 0), "an empty /var/mail/USER: empty")
            p.quit()
            if not deliver_all(u, MSGS[:3]):
                return
            data = u.read()
            p = u.login(srv)
            check_eq(p.stat()[0], 3, "home not writable: served")
            p.dele(1)
            try:
                r = p.quit()
            except poplib.error_proto as e:
                r = e.args[0]
            srv.wait_all()
            check(r.startswith(b"-ERR [SYS/TEMP]"), "QUIT after DELE: "
                  "-ERR [SYS/TEMP] (%r)" % (r,))
            check_eq(u.read(), data, "nothing removed")
            check(ro.path in srv.log(), "the log names the home")
    finally:
        ro.cleanup()


@test
def curl_lists_and_retrieves():
    if not have_mta():
        return
    if not shutil.which("curl"):
        return skip("curl_lists_and_retrieves: needs curl")
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u):
            return
        want = [c for _, _, c in u.messages()]
        base = "pop3://127.0.0.1:%d/" % srv.port

        def curl(path):
            srv.connections += 1
            return subprocess.run(["curl", "-s", "--max-time", "30", "-u",
                                   u.name + ":pw-" + u.name, base + path],
                                  capture_output=True, timeout=60)
        r = curl("")
        check_eq(r.stdout, b"".join(b"%d %d\r\n" % (i, unstuffed_size(c))
                                    for i, c in enumerate(want, 1)),
                 "curl's LIST: every message with its size")
        for n in (2, 3, 5):
            r = curl(str(n))
            check_eq(r.stdout, b"".join(l + b"\r\n" for l in
                                        lines_of(want[n - 1])),
                     "curl's RETR %d: the stored message" % n)
        srv.wait_all()


def fetch_rc(home, port, u, keep):
    out_dir = os.path.join(home, "out")
    os.makedirs(out_dir, exist_ok=True)
    rc = os.path.join(home, ".fetchmailrc")
    with open(rc, "w") as f:
        f.write("set no syslog\n"
                "poll 127.0.0.1 port %d protocol pop3 uidl auth password\n"
                "  user \"%s\" password \"pw-%s\"\n"
                "  %s fetchall no rewrite sslproto ''\n"
                "  mda \"/bin/sh -c 'cat > %s/$$.msg'\"\n"
                % (port, u.name, u.name, "keep" if keep else "no keep",
                   out_dir))
    os.chmod(rc, 0o600)
    return rc, out_dir


def show_closest(want, got):
    """Where want differs from the closest of got (for a failure)."""
    best = max(got, key=lambda g: len(os.path.commonprefix([g, want])),
               default=b"")
    k = len(os.path.commonprefix([best, want]))
    print("#   at octet %d: want %r" % (k, want[max(0, k - 40):k + 60]))
    print("#   got %r" % (best[max(0, k - 40):k + 60],))


def without_fetchmails_received(msg):
    """msg less the header fetchmail puts before the first Received:."""
    lines = msg.split(b"\n")
    for i, l in enumerate(lines):
        if l.startswith(b"Received: from 127.0.0.1 [127.0.0.1]"):
            j = i + 1
            while j < len(lines) and lines[j].startswith(b"\t"):
                j += 1
            return b"\n".join(lines[:i] + lines[j:])
    return msg


@test
def fetchmail_fetches_all_and_empties():
    if not have_mta():
        return
    if not shutil.which("fetchmail"):
        return skip("fetchmail_fetches_all_and_empties: needs fetchmail")
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u):
            return
        want = [c for _, _, c in u.messages()]
        facts = file_facts(u.mbox)
        home = os.path.join(u.tmp.path, "client")
        os.makedirs(home, 0o700)
        rc, out_dir = fetch_rc(home, srv.port, u, keep=False)
        out = subprocess.run(
            ["fetchmail", "-f", rc, "-i", os.path.join(home, ".fetchids"),
             "--nodetach", "--nosyslog", "-v"], capture_output=True,
            text=True, timeout=180, env=dict(os.environ, HOME=home,
                                             FETCHMAILHOME=home))
        srv.connections += 1
        srv.wait_all()
        if not check_eq(out.returncode, 0, "fetchmail fetched mail"):
            print("# " + (out.stdout + out.stderr).replace("\n", "\n# "))
        got = []
        for name in os.listdir(out_dir):
            with open(os.path.join(out_dir, name), "rb") as f:
                got.append(f.read())
        check_eq(len(got), len(want), "fetchmail fetched every message")
        got = [without_fetchmails_received(g) for g in got]
        # fetchmail 6.4 cuts a line over its 8 KB buffer, with garbage
        # (the same from a Maildir): the long line's message is counted,
        # not compared.
        missing = [c for c in want if c not in got and b"y" * 9000 not in c]
        check_eq(len(missing), 0, "each stored message fetched as it is, "
                 "but for the Received: header fetchmail adds")
        for c in missing[:3]:
            show_closest(c, got)
        check_eq(u.read(), b"", "fetchall, no keep: the mbox is empty")
        check_eq(file_facts(u.mbox), facts, "and the same file, owner, "
                 "group and mode")


def mpop_poll(u, port, home, tag):
    mbox = os.path.join(home, tag + ".mbox")
    open(mbox, "w").close()
    out = subprocess.run(
        ["mpop", "--host=127.0.0.1", "--port=%d" % port, "--user=" + u.name,
         "--auth=user", "--passwordeval=echo pw-" + u.name, "--tls=off",
         "--keep=on", "--only-new=on", "--half-quiet",
         "--uidls-file=" + os.path.join(home, "mpop-uidls"),
         "--delivery=mbox," + mbox], capture_output=True, text=True,
        timeout=180, env=dict(os.environ, HOME=home))
    if out.returncode != 0:
        print("# " + out.stderr.replace("\n", "\n# "))
    with open(mbox, "rb") as f:
        data = f.read()
    return out.returncode, data.count(b"\nFrom ") + data.startswith(b"From ")


@test
def mpop_fetches_only_new_mail():
    """UIDLs stable across deliveries: mpop with its UIDL state fetches
    only what the MTA delivered since its last poll."""
    if not have_mta():
        return
    if not shutil.which("mpop"):
        return skip("mpop_fetches_only_new_mail: needs mpop")
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u):
            return
        home = os.path.join(u.tmp.path, "client")
        os.makedirs(home, 0o700)
        check_eq(mpop_poll(u, srv.port, home, "1"), (0, len(MSGS)),
                 "mpop fetches every message, keeping them")
        with open(os.path.join(home, "mpop-uidls")) as f:
            recorded = f.read()
        check(X_UIDL in recorded, "its UIDL file holds the X-UIDL one")
        check_eq(mpop_poll(u, srv.port, home, "2"), (0, 0),
                 "nothing new on its next poll")
        deliver_all(u, [b"Subject: new 1\n\nx\n", b"Subject: new 2\n\ny\n"])
        check_eq(mpop_poll(u, srv.port, home, "3"), (0, 2),
                 "after two more deliveries, exactly those two")
        srv.connections += 3
        srv.wait_all()


def during_a_session(u, srv, gone, tag):
    """A session that lists the mbox, sees exim4 deliver one more, DELEs
    the messages gone and QUITs: the others and the new one are left."""
    p = u.login(srv)
    n = p.stat()[0]
    before = u.messages()
    check_eq(n, len(before), tag + ": STAT lists the mbox")
    late = b"Subject: late\n\ndelivered during session %s\n" % tag.encode()
    rc, took = u.deliver(late)
    check(rc == 0 and took < 2.5, tag + ": exim4 delivers during the "
          "session at once, no delivery lock held between commands "
          "(%.1f s; exim retries every 3 s)" % took)
    check_eq(p.stat()[0], n, tag + ": the session still lists %d" % n)
    for i in gone:
        p.dele(i)
    check(p.quit().startswith(b"+OK"), tag + ": DELE %r, QUIT: +OK"
          % (gone,))
    srv.wait_all()
    now = u.messages()
    kept = [m[0] for i, m in enumerate(before, 1) if i not in gone]
    check_eq([m[0] for m in now[:-1]], kept, tag + ": the messages not "
             "deleted are left as they were")
    check(len(now) == len(kept) + 1 and
          now[-1][2].endswith(late.split(b"\n\n")[1]), tag + ": the "
          "message delivered during the session is kept, after them")
    p = u.login(srv)
    check_eq(p.stat()[0], len(now), tag + ": the next session lists it")
    check_eq(p.retr(len(now))[1][-1], late.split(b"\n")[-2],
             tag + ": and RETRs it")
    p.quit()


@test
def delivery_during_a_session_is_kept():
    if not have_mta():
        return
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, MSGS[:3]):
            return
        during_a_session(u, srv, (1,), "first deleted")
        during_a_session(u, srv, (1, 3), "the last listed deleted")
        during_a_session(u, srv, (1, 2), "all deleted")
        data = u.read()
        check(data.startswith(b"From ") and len(u.messages()) == 1,
              "all listed deleted: the file is the new message")


def take_all(u, srv):
    """One session: RETR and DELE of every message, QUIT.  (Subjects
    taken, or [] with the -ERR when the session failed.)"""
    p = u.login(srv)
    try:
        got = []
        for i in range(1, p.stat()[0] + 1):
            got += [l for l in p.retr(i)[1] if l.startswith(b"Subject:")]
            p.dele(i)
        p.quit()
        return got, None
    except poplib.error_proto as e:
        p.close()
        return [], e.args[0]


@test
def deliveries_racing_sessions_lose_nothing():
    """exim4 delivers message after message while a client takes and
    DELEs all there is, session after session: each message is taken
    exactly once, none is lost."""
    if not have_mta():
        return
    n = 30
    with MailUser() as u, u.serve() as srv:
        rcs = []
        t = threading.Thread(target=lambda: rcs.extend(
            u.deliver(b"Subject: race %d\n\nbody %d\n" % (i, i))[0]
            for i in range(n)))
        t.start()
        taken, errors, sessions = [], [], 0
        deadline = time.time() + 240
        while time.time() < deadline:
            last = not t.is_alive()
            got, err = take_all(u, srv)
            taken += got
            sessions += 1
            if err:
                errors.append(err)
            if last:
                break
            time.sleep(0.02)
        t.join(60)
        check_eq(rcs, [0] * n, "exim4 delivered all %d (%d sessions ran "
                 "meanwhile)" % (n, sessions))
        check_eq(errors, [], "no session failed")
        check_eq(sorted(taken), sorted(b"Subject: race %d" % i
                                       for i in range(n)),
                 "every message taken once: none lost, none twice")
        check_eq(u.read(), b"", "and the mbox is empty")


MAILX = "/usr/bin/bsd-mailx"


def mailx_reads(u, cmds):
    """bsd-mailx, as the user, on the mbox (hold: read mail stays in it,
    marked Status: RO, the file rewritten in place under its locks)."""
    rc = os.path.join(u.home, ".mailrc")
    with open(rc, "w") as f:
        f.write("set hold\n")
    return subprocess.run(
        [MAILX, "-N", "-f", u.mbox], input=cmds, capture_output=True,
        user=u.uid, group=u.gid, extra_groups=[], cwd=u.home, timeout=60,
        env={"HOME": u.home, "MAILRC": rc, "PATH": "/usr/bin:/bin",
             "USER": u.name}).returncode


@test
def local_mua_marking_read():
    """A local mail reader (bsd-mailx) marks messages read: their UIDLs
    stay; a session that listed the mbox before it did removes nothing
    at QUIT (the messages moved), and says so."""
    if not have_mta():
        return
    if not os.access(MAILX, os.X_OK):
        return skip("local_mua_marking_read: needs bsd-mailx")
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, MSGS[:4]):
            return
        p = u.login(srv)
        before = p.uidl()[1]
        p.quit()
        check_eq(mailx_reads(u, b"p 1\np 3\nq\n"), 0, "mailx reads 1 and 3")
        data = u.read()
        check(data.count(b"\nStatus: RO\n") == 2, "and marks them read")
        p = u.login(srv)
        check_eq(p.uidl()[1], before, "the UIDLs are the same")
        check_eq(p.stat()[0], 4, "four messages still")
        check_eq(mailx_reads(u, b"p 2\nq\n"), 0, "mailx reads 2 during "
                 "the session")
        data = u.read()
        p.dele(4)
        try:
            r = p.quit()
        except poplib.error_proto as e:
            r = e.args[0]
        srv.wait_all()
        check(r.startswith(b"-ERR [SYS/TEMP]"), "QUIT after DELE: -ERR "
              "[SYS/TEMP], the mbox changed under it (%r)" % (r,))
        check_eq(u.read(), data, "nothing removed")
        p = u.login(srv)
        check_eq(p.uidl()[1], before, "the UIDLs still the same")
        p.dele(4)
        check(p.quit().startswith(b"+OK"), "DELE 4 in a new session: +OK")
        check_eq(len(u.messages()), 3, "removed")


@test
def second_session_is_in_use():
    if not have_mta():
        return
    with MailUser() as u, u.serve() as srv:
        if not deliver_all(u, MSGS[:2]):
            return
        p = u.login(srv)
        p.stat()
        try:
            q = u.login(srv)
            check(False, "a second session logs in: %r" % (q.stat(),))
            q.quit()
        except poplib.error_proto as e:
            check(b"[IN-USE]" in e.args[0], "a second session gets "
                  "[IN-USE]: %r" % (e.args[0],))
        p.quit()
        p = u.login(srv)
        check_eq(p.stat()[0], 2, "after QUIT, a session again")
        p.quit()


@test
def mta_waits_for_the_update():
    """exim4 delivering while pop3d-maildrop holds the delivery locks in
    UPDATE (slowed under strace: its ftruncate waits 4 s) waits, retrying
    every 3 s, and then delivers: nothing lost."""
    if not have_mta():
        return
    strace = shutil.which("strace")
    if not strace:
        return skip("mta_waits_for_the_update: needs strace")
    with MailUser() as u:
        trace = os.path.join(u.home, "trace")
        wrap = [strace, "-o", trace, "-e", "trace=ftruncate,fsync",
                "-e", "inject=ftruncate:delay_enter=4000000"]
        with u.serve(wrap) as srv:
            if not deliver_all(u, MSGS[:3]):
                return
            before = u.messages()
            p = u.login(srv)
            p.stat()
            p.dele(1)
            res = {}
            t = threading.Thread(target=lambda: res.update(q=p.quit()))
            t.start()
            deadline = time.time() + 20
            while not os.path.exists(u.mbox + ".lock") and \
                    time.time() < deadline:
                time.sleep(0.01)
            held = check(os.path.exists(u.mbox + ".lock"), "UPDATE takes "
                         "the dotlock " + u.mbox + ".lock")
            late = b"Subject: during update\n\nwaited\n"
            rc, took = u.deliver(late)
            t.join(60)
            check_eq(res.get("q", b"")[:3], b"+OK", "QUIT: +OK")
            check(rc == 0 and (took > 1 or not held), "exim4 waited for "
                  "the lock (%.1f s) and delivered" % took)
            srv.wait_all()
        now = u.messages()
        check_eq([s for s, _, _ in now[:-1]], [s for s, _, _ in before[1:]],
                 "message 1 removed, the others as they were")
        check(len(now) == 3 and now[-1][2].endswith(b"\n\nwaited\n"),
              "the message delivered during UPDATE is there, after them")
        with open(trace) as f:
            check("ftruncate(" in f.read(), "(UPDATE did call ftruncate)")


if __name__ == "__main__":
    run_all(sys.argv[2:])

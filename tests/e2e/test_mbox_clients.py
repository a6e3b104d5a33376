"""mboxes a real MTA wrote, served to real clients (issue 19): Debian's
exim4 (exim4-daemon-light, its default local-only configuration) delivers
to /var/mail/USER for a system user made here; the whole chain (pop3d,
pop3d-auth, pop3d-maildrop) serves it to poplib, curl, fetchmail and
mpop.  What each message must be is read from the mbox file by the rules
of pop3d-maildrop.8 (the served octets of a message: after its From_ line,
up to the empty line the MTA put before the next one), in Python, apart
from the C parser.  Needs root (useradd) and exim4 (tests/deps.sh test):
skipped without them.  test_mbox_mta.py: the MTA's side (its format and
locks, deliveries during sessions and UPDATE, a local mail reader)."""

import os
import poplib
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SPOOL, MailUser, Raw, check, check_eq, file_facts,
                     have_mta, run_all, skip, test, unstuffed_size,
                     wire_form)

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
    st = os.stat(os.path.join(SPOOL, u.name))
    cache = os.path.join(u.home, ".pop3d-mbox.%d.%d.cache" % (st.st_dev,
                                                               st.st_ino))
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


if __name__ == "__main__":
    run_all(sys.argv[2:])

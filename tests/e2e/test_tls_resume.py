"""TLS session resumption across per-connection processes (issue 21, first
part): what is possible with libtls, and what pop3d does today.

Each connection's relay is a new process, so a resumed session needs
session tickets sealed with a key every relay shares.  libtls has the
calls (tls_config_add_ticket_key, tls_config_set_session_id,
tls_config_set_session_lifetime), but on OpenSSL (Debian's libtls is
LibreTLS) it issues no usable ticket: its ticket callback returns 0 after
setting the keys when asked for a new ticket, which LibreSSL's libssl
takes as success and OpenSSL as "no ticket" (no NewSessionTicket in TLS
1.3, an empty one in TLS 1.2).  tls-ticket-probe configures libtls as
every relay would and shows it; when a libtls comes that issues tickets,
libtls_issues_no_ticket fails and says the relay's part can be built.
pop3d-tls.8 (CAVEATS) documents the limit; relay_resumes_no_session holds
pop3d to what it says."""

import os
import re
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, Spawner, TempDir, check, check_eq, run_all,
                     skip, test)
from test_tls import Site

PROBE = os.path.join(BUILD, "tests", "tls-ticket-probe")
VERSIONS = (("TLSv1.3", ssl.TLSVersion.TLSv1_3, "-tls1_3"),
            ("TLSv1.2", ssl.TLSVersion.TLSv1_2, "-tls1_2"))
# A candidate libtls can be tried: LD_LIBRARY_PATH=dir python3 this build.
PROBE_ENV = ({"LD_LIBRARY_PATH": os.environ["LD_LIBRARY_PATH"]}
             if os.environ.get("LD_LIBRARY_PATH") else {})
# What the libtls of today makes of a shared key, on the wire.
NO_TICKET = ("libtls on OpenSSL issues no ticket with a shared key; if"
             " this fails, libtls now does: build issue 21's resumption"
             " (tls_config_add_ticket_key in pop3d-tls) and update"
             " pop3d-tls.8 CAVEATS")


def client_ctx(site, version):
    ctx = site.context()
    ctx.minimum_version = ctx.maximum_version = version
    return ctx


def probe_session(port, ctx, session=None):
    """One connection to the probe: its line, and the client's session
    once the server has closed (a TLS 1.3 ticket comes after the
    handshake, so only then is it in the session)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost",
                            session=session)
        data = read_to_end(s)
        reused, sess = s.session_reused, s.session
        s.close()
    return data.decode(), reused, sess


def read_to_end(s):
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk


def s_client(port, flag, *more, data=b""):
    """openssl s_client's report of one connection (stdout and stderr),
    with every handshake message (-msg); it reads until the server
    closes (-ign_eof)."""
    out = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, flag,
         "-msg", "-ign_eof"] + list(more),
        input=data, capture_output=True, timeout=60)
    return out.stdout.decode("latin-1") + out.stderr.decode("latin-1")


def tickets(report):
    """The NewSessionTicket messages a -msg report shows, as the hex of
    each message's first line."""
    return re.findall(r"<<< TLS 1\.[23], Handshake \[length [0-9a-f]+\],"
                      r" NewSessionTicket\n\s+([0-9a-f ]+)", report)


@test
def libtls_issues_no_ticket():
    if not os.path.exists(PROBE):
        skip("no %s: make %s" % (PROBE, os.path.relpath(PROBE)))
        return
    with TempDir() as tmp:
        site = Site(tmp)
        argv = [PROBE, site.cert(), site.key(), "shared"]
        with Spawner(argv, env=PROBE_ENV, as_root=True) as srv:
            for name, version, flag in VERSIONS:
                ctx = client_ctx(site, version)
                line, reused, sess = probe_session(srv.port, ctx)
                srv.connections += 1
                check_eq(line, "resumed=0 %s\n" % name,
                         "%s: a full handshake with the shared key" % name)
                check(not sess.has_ticket, "%s: %s" % (name, NO_TICKET))
                line, reused, _ = probe_session(srv.port, ctx, sess)
                srv.connections += 1
                check(not reused and line == "resumed=0 %s\n" % name,
                      "%s: the next process (same key) resumes nothing,"
                      " and the session still works: %r" % (name, line))
            # The wire: what OpenSSL makes of the callback's 0.
            report = s_client(srv.port, "-tls1_3")
            srv.connections += 1
            check("resumed=0 TLSv1.3" in report and tickets(report) == [],
                  "TLS 1.3: no NewSessionTicket at all: %r" %
                  tickets(report))
            report = s_client(srv.port, "-tls1_2")
            srv.connections += 1
            # Type 4, length 6, lifetime 0, a ticket of no octets.
            check_eq(tickets(report), ["04 00 00 06 00 00 00 00 00 00"],
                     "TLS 1.2: one empty NewSessionTicket (lifetime 0)")


@test
def the_probe_sees_tickets_a_process_keeps():
    """The instrument can see a ticket: libtls without a key (as
    pop3d-tls runs) sends TLS 1.3 tickets that name its in-process cache;
    the next process has another cache, so they never resume."""
    if not os.path.exists(PROBE):
        skip("no %s" % PROBE)
        return
    with TempDir() as tmp:
        site = Site(tmp)
        argv = [PROBE, site.cert(), site.key(), "none"]
        with Spawner(argv, env=PROBE_ENV, as_root=True) as srv:
            ctx = client_ctx(site, ssl.TLSVersion.TLSv1_3)
            line, reused, sess = probe_session(srv.port, ctx)
            srv.connections += 1
            check(sess.has_ticket, "TLS 1.3 without a key: the client"
                  " holds a ticket (the process's own cache)")
            line, reused, _ = probe_session(srv.port, ctx, sess)
            srv.connections += 1
            check(not reused and line == "resumed=0 TLSv1.3\n",
                  "another process cannot resume it: %r" % line)


def relay_session(srv, ctx, session=None):
    """A POP3 session over implicit TLS: the greeting, QUIT's reply,
    whether the handshake resumed, and the session after it."""
    with srv.connect() as raw:
        s = ctx.wrap_socket(raw, server_hostname="localhost",
                            session=session)
        greeting = s.recv(512)
        s.sendall(b"QUIT\r\n")
        bye = read_to_end(s)
        reused, sess = s.session_reused, s.session
        s.close()
    return greeting, bye, reused, sess


@test
def relay_resumes_no_session():
    """What pop3d-tls.8 says: every TLS session is a full handshake, with
    Python's ssl and with openssl s_client's saved session, and a client
    that offers an old session is served all the same."""
    with TempDir() as tmp:
        site = Site(tmp)
        sess_file = os.path.join(tmp.path, "s_client.session")
        with site.serve(implicit=True) as srv:
            for name, version, flag in VERSIONS:
                ctx = client_ctx(site, version)
                g, bye, reused, sess = relay_session(srv, ctx)
                check(g.startswith(b"+OK") and b"+OK" in bye and
                      not reused, "%s: a full handshake" % name)
                g, bye, reused, _ = relay_session(srv, ctx, sess)
                check(g.startswith(b"+OK") and b"+OK" in bye and
                      not reused, "%s: an old session offered to the next"
                      " relay: a full handshake, the session works" % name)
                if os.path.exists(sess_file):
                    os.unlink(sess_file)
                first = s_client(srv.port, flag, "-CAfile", site.cert(),
                                 "-sess_out", sess_file, data=b"QUIT\r\n")
                srv.connections += 1
                check("+OK" in first and re.search(r"^New, ", first, re.M),
                      "s_client %s -sess_out: a new session" % flag)
                if not os.path.exists(sess_file):
                    # Nothing to offer: no session ID, no ticket.
                    check(version == ssl.TLSVersion.TLSv1_2 and
                          re.search(r"^ *Session-ID: *$", first, re.M) and
                          "TLS session ticket" not in first,
                          "s_client %s: nothing resumable (no session ID,"
                          " no ticket), so nothing saved" % flag)
                    continue
                second = s_client(srv.port, flag, "-CAfile", site.cert(),
                                  "-sess_in", sess_file, data=b"QUIT\r\n")
                srv.connections += 1
                check("+OK" in second and
                      re.search(r"^New, ", second, re.M) and
                      not re.search(r"^Reused, ", second, re.M),
                      "s_client %s -sess_in: not reused (another relay"
                      " process), the session works" % flag)


if __name__ == "__main__":
    run_all(sys.argv[2:])

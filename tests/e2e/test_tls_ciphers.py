"""pop3d-tls's default cipher policy, suite by suite: every TLS 1.2 suite
this OpenSSL knows ('openssl ciphers -v ALL:COMPLEMENTOFALL') is offered
alone by openssl s_client to a real relay, once with an ECDSA certificate
and once with an RSA one (with DHE on, so that DHE-RSA suites can be
chosen at all).  Exactly the suites with an ephemeral key exchange (ECDHE,
DHE) and an AEAD cipher (AES-GCM, ChaCha20-Poly1305) may be accepted, as
pop3d-tls(8) says; every other one is refused."""

import concurrent.futures
import multiprocessing
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TempDir, check, check_eq, run_all, test
from test_tls_relay import CERTS, Relay, cert, key, s_client

WORKERS = 3     # relays at a time: the handshakes are quick, the box small


def rsa_pair():
    """A self-signed RSA certificate next to tls-cert.sh's EC ones."""
    pem, k = cert("rsa"), key("rsa")
    if not os.path.exists(pem):
        old = os.umask(0o077)
        try:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-days", "30", "-subj", "/CN=localhost",
                            "-keyout", k, "-out", pem], check=True,
                           capture_output=True)
        finally:
            os.umask(old)
        os.chmod(pem, 0o644)
    return pem, k


def suites():
    """(name, protocol, fields) for every suite 'openssl ciphers' lists."""
    out = subprocess.run(["openssl", "ciphers", "-v", "ALL:COMPLEMENTOFALL"],
                         capture_output=True, text=True, check=True).stdout
    got = []
    for line in out.splitlines():
        w = line.split()
        got.append((w[0], w[1], dict(f.split("=", 1) for f in w[2:]
                                     if "=" in f)))
    return got


def aead_ephemeral(f, au):
    """What the page promises for a certificate of kind au."""
    return (f["Kx"] in ("ECDH", "DH") and f["Au"] == au and
            f["Mac"] == "AEAD" and
            re.match(r"(AESGCM|CHACHA20/POLY1305)\(", f["Enc"]) is not None)


def try_suite(env, name, proto, f):
    """'accepted', 'refused' (no shared cipher, the client told so by an
    alert), or what else happened."""
    args = ["-tls1_3", "-ciphersuites", name] if proto == "TLSv1.3" else \
        ["-tls1_2", "-cipher", name + ":@SECLEVEL=0"]
    # Without these the client leaves PSK and SRP suites out of its hello.
    if "PSK" in f["Kx"]:
        args += ["-psk", "1a2b3c4d"]
    if "SRP" in f["Kx"]:
        args += ["-srpuser", "u", "-srppass", "pass:p"]
    with TempDir() as tmp, Relay(tmp, env=env,
                                 external=s_client(*args)) as r:
        ready = r.word()
        verdict = r.fields(2) + [None, None]
        r.external.stdin.close()
        out = r.external.stdout.read().decode("latin-1")
        r.external.wait(30)
    m = re.search(r"Cipher is (\S+)", out)
    chosen = m.group(1) if m else None
    if ready == "ready" and verdict[0] == "ok" and chosen == name:
        return "accepted"
    if (ready == "ready" and verdict[0] == "fail" and
            "no shared cipher" in (verdict[1] or "") and
            "alert handshake failure" in out):
        return "refused"
    return "odd: relay %r %r, client chose %r" % (ready, verdict[:2], chosen)


def try_one(job):
    return try_suite(*job)


def run_suites(env, todo):
    """A few at a time, in forked processes: Relay's child set-up is not
    safe beside other threads."""
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(WORKERS,
                                                mp_context=ctx) as ex:
        res = ex.map(try_one, [(env,) + tuple(s) for s in todo])
        return dict(zip((s[0] for s in todo), res))


def check_policy(env, au, what):
    all_suites = suites()
    tls12 = [s for s in all_suites if s[1] != "TLSv1.3"]
    check(len(tls12) > 50, "openssl lists %d TLS 1.2 suites" % len(tls12))
    got = run_suites(env, tls12)
    odd = {n: v for n, v in got.items() if v not in ("accepted", "refused")}
    check_eq(odd, {}, "%s: every suite is accepted or refused by the"
             " server" % what)
    want = sorted(n for n, _, f in tls12 if aead_ephemeral(f, au))
    accepted = sorted(n for n, v in got.items() if v == "accepted")
    check_eq(accepted, want, "%s: exactly the ECDHE/DHE AES-GCM and"
             " ChaCha20-Poly1305 suites are accepted (%d of %d)"
             % (what, len(accepted), len(tls12)))
    tls13 = [s for s in all_suites if s[1] == "TLSv1.3"]
    got = run_suites(env, tls13)
    check(tls13 and all(v == "accepted" for v in got.values()),
          "%s: TLS 1.3's suites (all AEAD) are accepted: %r" % (what, got))
    return accepted


@test
def default_policy_with_an_ecdsa_certificate():
    # tls-cert.sh's certificates are EC P-256.
    accepted = check_policy({}, "ECDSA", "ECDSA certificate")
    check_eq(sorted(accepted), sorted([
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305"]), "the three the page lists")


@test
def default_policy_with_an_rsa_certificate():
    pem, k = rsa_pair()
    env = {"POP3D_TLS_CERT": pem, "POP3D_TLS_KEY": k,
           "POP3D_TLS_DHEPARAMS": "auto"}
    accepted = check_policy(env, "RSA", "RSA certificate, DHE on")
    check_eq(sorted(accepted), sorted([
        "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-RSA-CHACHA20-POLY1305", "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"]),
        "the six the page lists")


def server_key(env, *args):
    """What openssl s_client, with args, says of the server's key and of
    its handshake signature, with the relay's defaults otherwise."""
    with TempDir() as tmp, Relay(tmp, env=env,
                                 external=s_client(*args)) as r:
        ready = r.word()
        verdict = r.fields(3)
        r.external.stdin.close()
        out = r.external.stdout.read().decode("latin-1")
        r.external.wait(30)
    got = [ready, verdict[0]]
    for pat in (r"Protocol *: *(\S+)", r"Peer signature type: (\S+)",
                r"Server public key is (\d+) bit"):
        m = re.search(pat, out)
        got.append(m.group(1) if m else None)
    return got


@test
def an_ecdsa_p256_certificate_signs_the_handshake():
    # tls-cert.sh's pairs are EC P-256, the fast choice pop3d-tls(8)
    # names: TLS 1.3 by default, then TLS 1.2.
    check_eq(server_key({}), ["ready", "ok", "TLSv1.3", "ECDSA", "256"],
             "TLS 1.3: the P-256 key signs with ECDSA")
    check_eq(server_key({}, "-tls1_2"),
             ["ready", "ok", "TLSv1.2", "ECDSA", "256"],
             "TLS 1.2: the same")
    pem, k = rsa_pair()
    check_eq(server_key({"POP3D_TLS_CERT": pem, "POP3D_TLS_KEY": k}),
             ["ready", "ok", "TLSv1.3", "RSA-PSS", "2048"],
             "an RSA-2048 pair still works, signing with RSA-PSS")


@test
def ecdsa_and_rsa_pairs_side_by_side_by_sni():
    # An RSA default for old clients and a P-256 pair by name, or the
    # reverse: libtls picks the pair by SNI whatever its kind.
    pem, k = rsa_pair()
    env = {"POP3D_TLS_CERT": pem, "POP3D_TLS_KEY": k,
           "POP3D_TLS_KEYPAIRS": "%s:%s" % (cert("localhost"),
                                            key("localhost"))}
    check_eq(server_key(env, "-servername", "localhost"),
             ["ready", "ok", "TLSv1.3", "ECDSA", "256"],
             "SNI localhost: its P-256 pair")
    check_eq(server_key(env, "-servername", "other.example.net"),
             ["ready", "ok", "TLSv1.3", "RSA-PSS", "2048"],
             "another name: the RSA default")


@test
def secure_is_the_default_and_others_are_libtls_own():
    pem, k = rsa_pair()
    base = {"POP3D_TLS_CERT": pem, "POP3D_TLS_KEY": k}
    cbc = ("ECDHE-RSA-AES128-SHA", "TLSv1.0", {"Kx": "ECDH"})
    gcm = ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", {"Kx": "ECDH"})
    for name in ("secure", "DEFAULT"):
        env = dict(base, POP3D_TLS_CIPHERS=name)
        check_eq((try_suite(env, *gcm), try_suite(env, *cbc)),
                 ("accepted", "refused"),
                 "POP3D_TLS_CIPHERS=%s is the same policy" % name)
    client = s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305:"
                      "ECDHE-ECDSA-AES256-GCM-SHA384:"
                      "ECDHE-ECDSA-AES128-GCM-SHA256")
    with TempDir() as tmp, Relay(tmp, external=client) as r:
        r.word()
        check_eq(r.fields(3)[::2], ["ok", "SSL_CIPHER=ECDHE-ECDSA-AES128-"
                                    "GCM-SHA256"],
                 "the server's order of preference, not the client's")
    env = dict(base, POP3D_TLS_CIPHERS="compat")
    check_eq(try_suite(env, *cbc), "accepted",
             "compat, libtls's wider list, still lets CBC in when asked")
    env = dict(base, POP3D_TLS_CIPHERS="ECDHE-RSA-AES256-GCM-SHA384")
    check_eq((try_suite(env, *gcm), try_suite(
        env, "ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", {"Kx": "ECDH"})),
        ("refused", "accepted"), "an OpenSSL cipher list is taken as given")


if __name__ == "__main__":
    run_all(sys.argv[2:])

#!/usr/bin/env python3
"""bench/authtime.py [BUILD] [N]: what a failed login costs in pop3d-auth,
by who the user is (issue 14, part 2).  Not part of make check: it is a
measurement, and this machine is noisy.

Drives the real BUILD/pop3d-auth as a checkpassword program, as the
front does (the credentials on a pipe at fd 3, AUTHMECH=USER), N times
(default 200) for each case, the cases interleaved so that the machine's
drift falls on all alike, and prints the median, 10th and 90th
percentiles of the wall time of each run (fork, exec, database, check,
exit), and each median's ratio to the unknown user's.

Two sets of cases:
 - one database per method, all its accounts hashed by pop3d-users with
   that method: a wrong password for one of them, a locked account, and
   an unknown user, who is checked against the dummy hash the compile
   stored, of the method and cost most accounts have;
 - one database holding an account of each method (yescrypt the most
   used): how far the costs pop3d-users gives sha512-crypt and bcrypt are
   from yescrypt's default work.

The "pass" column says whether the median is within 10 % of the unknown
user's, in the same database."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
AUTH = os.path.join(BUILD, "pop3d-auth")
USERS = os.path.join(BUILD, "pop3d-users")
UID = GID = 65534


def users(d, *args, stdin=None):
    subprocess.run([USERS, "-f", os.path.join(d, "users"), "-d",
                    os.path.join(d, "users.cdb")] + list(args),
                   input=stdin, check=True, capture_output=True)


def database(d, accounts):
    """accounts: (name, method or None for locked)."""
    os.makedirs(d)
    for name, method in accounts:
        users(d, "add", name, str(UID), str(GID), "/nonexistent")
        if method:
            users(d, "passwd", "-s", "-m", method, name,
                  stdin=b"right-" + name.encode() + b"\n")
    users(d, "compile")
    return os.path.join(d, "users.cdb")


def once(db, user):
    """One failed login: seconds."""
    r, w = os.pipe()
    os.write(w, user.encode() + b"\0wrong password\0\0")
    os.close(w)
    env = {"PATH": "/usr/bin:/bin", "POP3D_USERS_CDB": db,
           "AUTHMECH": "USER"}
    t = time.monotonic()
    p = subprocess.run([AUTH, "/bin/true"], env=env, pass_fds=(r,),
                       stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       preexec_fn=lambda: os.dup2(r, 3))
    t = time.monotonic() - t
    os.close(r)
    if p.returncode != 1:
        sys.exit("%s: exit %d, not 1" % (user, p.returncode))
    return t


def measure(cases):
    """cases: (label, db, user); returns label -> list of seconds."""
    times = dict((c[0], []) for c in cases)
    for _ in range(N):
        for label, db, user in cases:
            times[label].append(once(db, user))
    return times


def report(title, times, base):
    print("%s (n=%d each)" % (title, N))
    print("  %-28s %8s %8s %8s %7s %5s" % ("case", "median", "p10", "p90",
                                         "ratio", "pass"))
    ref = statistics.median(times[base])
    for label, t in times.items():
        q = statistics.quantiles(t, n=10)
        m = statistics.median(t)
        print("  %-28s %6.2fms %6.2fms %6.2fms %7.3f %5s" % (
            label, m * 1e3, q[0] * 1e3, q[-1] * 1e3, m / ref,
            "yes" if abs(m / ref - 1) <= 0.10 else "NO"))


def main():
    with tempfile.TemporaryDirectory(prefix="authtime.") as top:
        for method in ("yescrypt", "sha512", "bcrypt"):
            d = os.path.join(top, method)
            db = database(d, [("a1", method), ("a2", method),
                              ("a3", method), ("locked", None)])
            with open(os.path.join(d, "users")) as f:
                setting = f.readline().split(":")[1][:16]
            times = measure([("unknown user", db, "nosuchuser"),
                             ("%s account" % method, db, "a1"),
                             ("locked account", db, "locked")])
            report("database of %s accounts (%s...)" % (method, setting),
                   times, "unknown user")
        db = database(os.path.join(top, "mixed"),
                      [("y1", "yescrypt"), ("y2", "yescrypt"),
                       ("s1", "sha512"), ("b1", "bcrypt")])
        times = measure([("unknown user", db, "nosuchuser"),
                         ("yescrypt account", db, "y1"),
                         ("sha512 account", db, "s1"),
                         ("bcrypt account", db, "b1")])
        report("mixed database, yescrypt the most used", times,
               "unknown user")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A checkpassword program of the third-party kind, for the tests: reads
user\\0secret\\0timestamp\\0 from fd 3 and accepts the one account named by
CP_USER / CP_PASS (APOP: CP_APOP is the shared secret).  CP_EXIT forces an
exit status; CP_LOG names a file to record what it was given.  On success it
becomes CP_UID/CP_GID, changes to CP_HOME and execs the rest of its argv."""

import fcntl
import hashlib
import os
import sys

data = b""
while True:
    chunk = os.read(3, 1024)
    if not chunk:
        break
    data += chunk
fields = data.split(b"\0")
if len(data) > 512 or len(fields) != 4 or fields[3] != b"":
    sys.exit(2)
user, secret, stamp = fields[0], fields[1], fields[2]
mech = os.environ.get("AUTHMECH", "")
if os.environ.get("CP_LOG"):
    with open(os.environ["CP_LOG"], "a") as f:
        f.write("%s %s %s %d\n" % (mech, user.decode(), stamp.decode(),
                                   len(secret)))
if os.environ.get("CP_STATE"):
    # What it was started with: its descriptors, and whether the client
    # socket came blocking, as a next stage may expect.
    fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
    with open(os.environ["CP_STATE"], "w") as f:
        f.write("fds=%s nonblock=%d\n" % (
            ",".join(map(str, fds)),
            bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK)))
if os.environ.get("CP_EXIT"):
    sys.exit(int(os.environ["CP_EXIT"]))
if os.environ.get("CP_CRASH"):
    os.kill(os.getpid(), 9)
ok = user == os.environ.get("CP_USER", "alice").encode()
if mech == "APOP":
    want = hashlib.md5(stamp + os.environ.get("CP_APOP", "").encode())
    ok = ok and secret.decode() == want.hexdigest()
else:
    ok = ok and secret == os.environ.get("CP_PASS", "secret").encode()
if not ok:
    sys.exit(1)
os.environ["USER"] = user.decode()
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(int(os.environ.get("CP_GID", "65534")))
    os.setuid(int(os.environ.get("CP_UID", "65534")))
os.chdir(os.environ.get("CP_HOME", "/"))
os.execvp(sys.argv[1], sys.argv[1:])

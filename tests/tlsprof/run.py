"""tests/tls-profile.sh's driver: one pop3d-tls, given the descriptors
the front gives it (client socket on 0/1, chain on 3, status pipe on 4),
run by the command line given after the relay (valgrind), a handshake
by Python's ssl, then the chain's end.

usage: run.py relay cert key chroot [prefix...]"""

import os
import socket
import ssl
import subprocess
import sys

relay, cert, key, chroot = sys.argv[1:5]
prefix = sys.argv[5:]
env = {"PATH": "/usr/bin:/bin", "POP3D_TLS_CERT": cert,
       "POP3D_TLS_KEY": key, "POP3D_CHROOT": chroot,
       "TCPREMOTEIP": "127.0.0.1", "POP3D_LOG": "stderr",
       "LD_PRELOAD": os.environ["SHIM"]}
client, theirs = socket.socketpair()
chain, chain_theirs = socket.socketpair()
rd, wr = os.pipe()


def fds():
    p = os.dup2(chain_theirs.fileno(), 100)
    s = os.dup2(wr, 101)
    os.dup2(p, 3)
    os.dup2(s, 4)


proc = subprocess.Popen(prefix + [relay], stdin=theirs, stdout=theirs,
                        env=env, preexec_fn=fds, close_fds=False)
theirs.close()
chain_theirs.close()
os.close(wr)
if os.read(rd, 100) != b"ready\0":
    sys.exit("run.py: the relay did not say ready")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(client, server_hostname="localhost")
word = os.read(rd, 300)
chain.close()
try:    # the relay's close_notify, then its lingering close
    while s.recv(4096):
        pass
except (ssl.SSLError, OSError):
    pass
s.close()
sys.exit(0 if proc.wait(120) == 0 and word.startswith(b"ok\0") else 1)

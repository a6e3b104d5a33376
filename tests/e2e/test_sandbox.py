"""The seccomp allow-list, in live processes: a forbidden system call made
inside a running pre-login process or TLS relay (injected with ptrace, as
root may) kills that process with SIGSYS or fails, and hurts no other
connection; an allowed one works and the session goes on.  The same filter
call is tested case by case in tests/unit/t_sandbox.c."""

import ctypes
import os
import platform
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Raw, TempDir, check, check_eq, run_all, skip, test
from test_front import POP3D, front, sanitized, setup
from test_tls import Site, children, exe

PTRACE_PEEKTEXT = 1
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_SINGLESTEP = 9
PTRACE_ATTACH = 16
PTRACE_DETACH = 17
WALL = 0x40000000

# x86_64 system call numbers.
SYS = {"write": 1, "mprotect": 10, "socket": 41, "clone": 56, "fork": 57,
       "execve": 59, "kill": 62, "ptrace": 101, "getpid": 39,
       "tgkill": 234, "openat": 257, "getppid": 110}
EACCES, EBADF = 13, 9


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
        "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
        "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")]


libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


def ptrace(req, pid, addr=None, data=None):
    ctypes.set_errno(0)
    r = libc.ptrace(req, pid, addr, data)
    if r == -1 and ctypes.get_errno() != 0:
        raise OSError(ctypes.get_errno(), "ptrace %d" % req)
    return r


def inject(pid, name, *args):
    """Makes the stopped-in-a-call process pid run one system call:
    ("signal", N) when that killed it, else ("ret", value) with the
    process left running as before."""
    ptrace(PTRACE_ATTACH, pid)
    _, st = os.waitpid(pid, WALL)
    saved = Regs()
    ptrace(PTRACE_GETREGS, pid, None, ctypes.byref(saved))
    # It waits in poll or ppoll: the instruction before rip is "syscall".
    word = ptrace(PTRACE_PEEKTEXT, pid, ctypes.c_void_p(saved.rip - 2))
    if word & 0xffff != 0x050f:
        ptrace(PTRACE_DETACH, pid)
        raise RuntimeError("not stopped after a syscall instruction")
    regs = Regs.from_buffer_copy(saved)
    regs.rip = saved.rip - 2
    regs.rax = SYS[name]
    regs.orig_rax = 2 ** 64 - 1          # no restart of the interrupted call
    for reg, val in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
        setattr(regs, reg, val % 2 ** 64)
    ptrace(PTRACE_SETREGS, pid, None, ctypes.byref(regs))
    ptrace(PTRACE_SINGLESTEP, pid)
    _, st = os.waitpid(pid, WALL)
    if os.WIFSIGNALED(st):
        return ("signal", os.WTERMSIG(st))
    if os.WIFEXITED(st):
        return ("exit", os.WEXITSTATUS(st))
    ptrace(PTRACE_GETREGS, pid, None, ctypes.byref(regs))
    ret = ctypes.c_longlong(regs.rax).value
    ptrace(PTRACE_SETREGS, pid, None, ctypes.byref(saved))
    ptrace(PTRACE_DETACH, pid)
    return ("ret", ret)


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def preauth_of(srv):
    """A fresh connection's pre-login process: (Raw, its pid)."""
    r = Raw(srv.connect())
    r.line()
    fpid = srv.last_proc().pid
    kids = children(fpid)
    return r, kids[0] if len(kids) == 1 else -1


def relay_of(srv):
    """A fresh implicit-TLS connection's relay, waiting for the handshake."""
    s = srv.connect()
    fpid = srv.last_proc().pid
    deadline = time.time() + 10
    while time.time() < deadline:
        relay = [k for k in children(fpid) if exe(k).endswith("pop3d-tls")]
        if relay and state(relay[0]) == "S":
            return s, relay[0]
        time.sleep(0.05)
    return s, -1


# (call, arguments given the victim's pid, expected outcome, what)
FORBIDDEN = [
    ("kill", lambda v: (v, signal.SIGSTOP), ("signal", signal.SIGSYS),
     "kill of another connection's process"),
    ("kill", lambda v: (-1, signal.SIGSTOP), ("signal", signal.SIGSYS),
     "kill(-1) of every process of its uid"),
    ("tgkill", lambda v: (v, v, signal.SIGSTOP), ("signal", signal.SIGSYS),
     "tgkill of another connection's process"),
    ("ptrace", lambda v: (PTRACE_ATTACH, v), ("signal", signal.SIGSYS),
     "ptrace of another connection's process"),
    ("execve", lambda v: (0, 0, 0), ("signal", signal.SIGSYS), "execve"),
    ("fork", lambda v: (), ("signal", signal.SIGSYS), "fork"),
    ("clone", lambda v: (signal.SIGCHLD, 0), ("signal", signal.SIGSYS),
     "clone"),
    ("mprotect", lambda v: (0, 4096, 7), ("signal", signal.SIGSYS),
     "mprotect to executable"),
    ("socket", lambda v: (2, 1, 0), ("ret", -EACCES), "socket: EACCES"),
    ("openat", lambda v: (-100, 0, 0), ("ret", -EACCES), "openat: EACCES"),
]


def usable():
    if not ROOT:
        skip("not root: ptrace of another uid's process needs root")
        return False
    if platform.machine() != "x86_64":
        skip("the injection knows x86_64 only")
        return False
    return True


@test
def forbidden_calls_in_a_live_preauth_process():
    if not usable():
        return
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            victim_r, victim = preauth_of(srv)
            for name, args, want, what in FORBIDDEN:
                r, pid = preauth_of(srv)
                got = inject(pid, name, *args(victim))
                check_eq(got, want, "pre-login process: %s" % what)
                r.close()
            r, pid = preauth_of(srv)
            got = inject(pid, "write", 2, 0, 0)
            if sanitized(POP3D):
                skip("the sanitizer build lets fd 2 take its reports")
            else:
                check_eq(got, ("ret", -EBADF), "pre-login process: write"
                         " to fd 2: EBADF")
            check_eq(inject(pid, "getpid"), ("ret", pid),
                     "an allowed call (getpid) works")
            check(r.cmd(b"CAPA").startswith(b"+OK"),
                  "and that process serves on")
            r.close()
            check_eq(state(victim), "S", "the other connection's pre-login"
                     " process was neither stopped nor killed")
            check(victim_r.cmd(b"USER alice").startswith(b"+OK") and
                  victim_r.cmd(b"PASS secret").startswith(b"+OK"),
                  "and its client logs in")
            victim_r.cmd(b"QUIT")
            victim_r.close()
            srv.wait_all()


@test
def forbidden_calls_in_a_live_relay():
    if not usable():
        return
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            vs, victim = relay_of(srv)
            check(victim > 0, "a live relay to protect")
            for name, args, want, what in FORBIDDEN:
                s, pid = relay_of(srv)
                got = inject(pid, name, *args(victim)) if pid > 0 else None
                check_eq(got, want, "relay: %s" % what)
                s.close()
            s, pid = relay_of(srv)
            check_eq(inject(pid, "getpid"), ("ret", pid),
                     "relay: an allowed call (getpid) works")
            s.close()
            check_eq(state(victim), "S", "the other connection's relay was"
                     " neither stopped nor killed")
            t = site.context().wrap_socket(vs, server_hostname="localhost")
            r = Raw(t)
            check(r.line().startswith(b"+OK"), "its client gets the"
                  " greeting over TLS")
            r.cmd(b"QUIT")
            t.close()
            srv.wait_all()


@test
def no_filter_no_service():
    """When the filter cannot be loaded (seccomp(2) made to fail with EPERM
    by strace's fault injection), the pre-login process and the relay end
    (exit 111) before a byte of the client's is read, and say why."""
    if not ROOT:
        skip("not root: the test runs the chain as root under strace")
        return
    if sanitized(POP3D):
        skip("under strace the sanitizer build is too slow")
        return
    inj = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=seccomp",
           "-e", "inject=seccomp:error=EPERM"]
    with TempDir() as tmp:
        setup(tmp)
        with front(tmp) as srv:
            srv.argv = inj + srv.argv
            r = Raw(srv.connect())
            check(r.closed(30) and r.buf == b"",
                  "no greeting: the connection ends: %r" % r.buf)
            r.close()
            srv.wait_all()
        check('preauth-log remote=127.0.0.1 text="pre-login privilege drop'
              ' failed: seccomp filter: ' in
              srv.log(), "the pre-login process says why, through the"
              " front: %r" % srv.log()[-300:])
    with TempDir() as tmp:
        site = Site(tmp)
        with site.serve(implicit=True) as srv:
            srv.argv = inj + srv.argv
            s = srv.connect()
            s.settimeout(30)
            try:
                got = s.recv(100)
            except OSError:
                got = b""
            check_eq(got, b"", "implicit TLS: no handshake, the"
                     " connection ends")
            s.close()
            srv.wait_all()
        check("TLS relay privilege drop failed: seccomp filter: " in
              srv.log() and "end=tls-failed" in
              srv.log(), "the relay says why: %r" % srv.log()[-300:])


if __name__ == "__main__":
    run_all(sys.argv[2:])

/*
 * The seccomp allow-list of the processes that handle a stranger's bytes
 * with no privileges: the front's pre-login process and the TLS relay
 * (the model: OpenSSH's pre-auth sandbox, sandbox-seccomp-filter.c).
 * privdrop_apply() loads it as its last step; nothing else should.
 */
#ifndef POP3D_SANDBOX_H
#define POP3D_SANDBOX_H

/*
 * Loads the filter into the calling process, for good: reading, writing
 * and polling descriptors it already holds, memory for malloc (never
 * executable), clocks, random octets, signals to itself, the end.
 * Opening a file or making a socket fails with EACCES and isatty() with
 * ENOTTY (libc and OpenSSL may try one lazily, and a refusal harms
 * nothing: the errors are the decision, not the kill); any other call, a
 * signal to another process, ptrace, exec, fork, or a call of another
 * architecture's ABI kills the process (SIGSYS).  Writes to fd 2 fail
 * with EBADF unless stderr_ok (the process logs there).  Needs
 * no_new_privs set, or root.  0, or -1 with errno: the caller must not
 * go on unconfined.
 */
int	sandbox_apply(int stderr_ok);

#endif

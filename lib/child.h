/*
 * Waiting for a child process, always until a deadline: the one way every
 * program of pop3d waits for another, so that no stopped, stuck or
 * spinning process can hold its parent (and the spawner's slot) for ever.
 * Deadlines are io_now_ms() times (CLOCK_MONOTONIC milliseconds).
 */
#ifndef POP3D_CHILD_H
#define POP3D_CHILD_H

#include <sys/types.h>

#include <stdint.h>

/*
 * Waits for the child pid to end until deadline, sleeping (on a pidfd, or
 * in short naps where there is none), never spinning: 0 and its wait
 * status in *status (when not NULL), or -1 with errno ETIMEDOUT when the
 * deadline passed first (the child still runs), or another errno
 * (ECHILD: no such child).
 */
int	child_wait(pid_t, int64_t, int *);

/*
 * Ends the child pid: SIGKILL, then reaped within CHILD_REAP_MS.  0 and
 * the wait status in *status (when not NULL), or -1 when it could not be
 * reaped (a process stuck in the kernel: the parent goes on without it).
 */
int	child_kill(pid_t, int *);

/*
 * child_wait until deadline; past it, child_kill and one log line
 * "timeout remote=REMOTE wait=WHAT pid=PID" (remote left out when NULL).
 * 0 when the child ended by itself, 1 when it was killed at the deadline
 * (*status then says SIGKILL, or is -1 if it could not be reaped), -1 on
 * an error (errno).
 */
int	child_wait_kill(pid_t, int64_t, const char *, const char *, int *);

/*
 * In a child about to exec: a on fd 3, b on fd 4 (either may sit on 3 or
 * 4 already), and no other descriptor beyond 0-4 goes along.  0, or -1.
 */
int	child_fds_3_4(int, int);

#endif

/*
 * Open file description (OFD) locks on ranges of a file: held by the open
 * file, not the process, so that two descriptors of one process exclude
 * each other too, and dropped by the kernel when the last descriptor of
 * it closes, however its process ends.  lock_own alone makes a POSIX
 * lock, the process's own.
 */
#ifndef POP3D_LOCK_H
#define POP3D_LOCK_H

#include <sys/types.h>

/*
 * Sets an OFD lock of type (F_RDLCK, F_WRLCK, or F_UNLCK to release it)
 * on len octets of fd from start (len 0: to the end of the file, however
 * it grows), without waiting: 0, or -1 with errno, EAGAIN when another
 * open file holds a conflicting lock.
 */
int	lock_try(int, short, off_t, off_t);

/*
 * As lock_try, waiting at most timeout_ms for a conflicting lock to go:
 * 0, or -1 with errno, ETIMEDOUT when it is still held.  Polled: a
 * blocking OFD lock could be interrupted by no timer that other code
 * does not also see.
 */
int	lock_wait(int, short, off_t, off_t, int);

/*
 * Does another open file than fd's hold a lock on len octets of fd from
 * start that a write lock would conflict with?  1, 0, or -1 with errno.
 */
int	lock_held(int, off_t, off_t);

/*
 * Turns fd's OFD write lock on octet into this process's own (a POSIX
 * lock: a child forked later does not hold it, as it would hold the open
 * file's), gate write-locked meanwhile so that a taker, which read-locks
 * gate while it looks, never finds the octet free in between; waits at
 * most timeout_ms for the gate.  0, or -1 with errno.  The process must
 * then close no descriptor of the file: that drops a POSIX lock.
 */
int	lock_own(int, off_t, off_t, int);

#endif

/* Running the checkpassword program with the client's credentials. */
#ifndef POP3D_HANDOFF_H
#define POP3D_HANDOFF_H

#include <stddef.h>

/*
 * Starts argv (the auth program and the rest of the chain) with the client
 * on fd 0/1, the credentials (len octets: user\0secret\0timestamp\0) on a
 * pipe at fd 3 and AUTHMECH=mech, and waits for it.  Its wait status, or
 * -1 when it could not be started.
 */
int	handoff_run(char **, const char *, const char *, size_t);

#endif

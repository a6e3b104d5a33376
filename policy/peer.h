/*
 * The client's address, found one way by every program a spawner starts
 * with the client on fd 0/1.
 */
#ifndef POP3D_PEER_H
#define POP3D_PEER_H

#include <stddef.h>

/*
 * The peer of fd: getpeername(), else what the spawner said (TCPREMOTEIP,
 * REMOTE_ADDR), else "unknown"; in canonical form (addr_format: an
 * IPv4-mapped address as IPv4), so that logs, rules and the penalty box
 * name one client one way, into buf (size n, ADDR_TEXT_MAX or more), and
 * exported as TCPREMOTEIP.  TCP_NODELAY is set on a socket.  0, or -1
 * with errno when the environment cannot be set.
 */
int	peer_find(int, char *, size_t);

/*
 * For a program the front starts (the TLS relay): the client the front
 * found and exported (TCPREMOTEIP), canonical, so that the chain names
 * one client as the front decided; peer_find when it says nothing.
 */
int	peer_told(int, char *, size_t);

/* 1 for a loopback address's text (127.0.0.0/8, ::1), else 0. */
int	peer_is_loopback(const char *);

#endif

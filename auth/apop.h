/* APOP (RFC 1939 section 7): the digest of the timestamp and a secret. */
#ifndef POP3D_APOP_H
#define POP3D_APOP_H

/*
 * Checks digest (hex, either case) against MD5(timestamp secret),
 * comparing in constant time.  A NULL secret (APOP off for the user) does
 * the same work and never matches.  Returns 1 for a match, else 0.
 */
int	apop_verify(const char *, const char *, const char *);

#endif

/*
 * The digest logins: APOP (RFC 1939 section 7) and CRAM-MD5 (RFC 2195).
 * Both prove knowledge of the user's shared secret (the record's apop
 * field, user.h) by a digest of a challenge the front issued, sent as 32
 * hexadecimal digits.
 */
#ifndef POP3D_APOP_H
#define POP3D_APOP_H

#include "pop3d_limits.h"

/*
 * Checks digest (hex, either case) against MD5(timestamp secret),
 * comparing in constant time.  A NULL secret (APOP off for the user) does
 * the same work and never matches.  Returns 1 for a match, else 0.
 */
int	apop_verify(const char *, const char *, const char *);

/*
 * 1 when the challenge can be one the front issued: 1 to
 * CRAM_CHALLENGE_MAX octets.  Else 0.
 */
int	cram_challenge_valid(const char *);

/*
 * Checks digest (hex, either case) against HMAC-MD5 with the secret as
 * key and the challenge as message, comparing in constant time.  A NULL
 * secret (none set for the user) does the same work and never matches;
 * a challenge that cram_challenge_valid refuses never matches either.
 * Returns 1 for a match, else 0.
 */
int	cram_verify(const char *, const char *, const char *);

#endif

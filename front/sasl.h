/*
 * The SASL messages of AUTH (RFC 5034) as the pre-login process reads
 * them: strict base64, PLAIN's three fields (RFC 4616) and CRAM-MD5's
 * response (RFC 2195).  Pure functions over buffers, for the unit tests
 * and the fuzz target; the dialogue itself is in preauth.c.
 */
#ifndef POP3D_SASL_H
#define POP3D_SASL_H

#include <stddef.h>
#include <sys/types.h>

#include "pop3d_limits.h"

/*
 * Decodes n octets of base64 (RFC 4648: the standard alphabet, padded,
 * nothing else, not even spaces; "=" alone is the empty response of RFC
 * 5034; at most SASL_LINE_MAX) into out, which has room for max octets.
 * The length, or -1 when the text is not such base64 or decodes to more
 * than max.
 */
ssize_t	sasl_b64_decode(const char *, size_t, unsigned char *, size_t);

/* Encodes n octets into out (room for max with the NUL): 0, or -1. */
int	sasl_b64_encode(const unsigned char *, size_t, char *, size_t);

/*
 * Splits a PLAIN message of len octets (changed in place, with room for
 * one more: NULs end the fields): NULL with *user and *pass pointing into it, or why it is
 * refused.  Exactly three fields; the authorization identity empty or
 * the user's own; the user 1 to POP3_USER_MAX octets; the password 1 to
 * SASL_SECRET_MAX.
 */
const char *sasl_plain(unsigned char *, size_t, const char **, const char **);

/*
 * Splits a CRAM-MD5 response "user SP digest" of len octets (changed in
 * place, with room for one more): NULL with *user and *digest (32 hexadecimal digits, lower-cased)
 * pointing into it, or why it is refused.  The user is everything before
 * the last space, 1 to POP3_USER_MAX octets with no NUL.
 */
const char *sasl_cram(unsigned char *, size_t, const char **, const char **);

#endif

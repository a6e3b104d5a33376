/* Parsing what the network and the environment give, one call each. */
#ifndef POP3D_NUM_H
#define POP3D_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses all of s as a plain decimal number (digits only: no sign, no
 * spaces, no base prefix) within [min, max].  Returns 0 and sets *out, or
 * -1 with errno EINVAL (not a number) or ERANGE (a number out of range,
 * overflow included).  *out is untouched on failure.
 */
int	num_parse(const char *, uint64_t, uint64_t, uint64_t *);

/* The same for exactly len octets of s (a field within a name). */
int	num_parse_n(const char *, size_t, uint64_t, uint64_t, uint64_t *);

/* "1" or "yes": 1; "0" or "no": 0; else -1 with errno EINVAL. */
int	flag_parse(const char *, int *);

/*
 * Is s at most max octets of printable ASCII (0x20-0x7E; with blanks set
 * also tab, CR and LF, the separators of a list)?  1 or 0.
 */
int	text_valid(const char *, size_t, int);

/*
 * Is s a user name (1) or not (0, also for NULL)?  1 to POP3_USER_MAX
 * letters, digits and "._+-@", not starting with '-' or '.': the rule of
 * the users file (pop3d-users.5) and of the name XTND XMIT passes to the
 * submission program, which must never take it for an option.
 */
int	user_name_valid(const char *);

/* The settings of the environment are read through settings.h. */

#endif

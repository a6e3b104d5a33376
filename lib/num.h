/* Parsing numbers from the network and the environment, in one call each. */
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
 * Reads a numeric setting from the environment.  Unset or empty gives the
 * default; a value that is not a number in [min, max] is logged and gives
 * the default too, so that a typo never stops the service.
 */
uint64_t env_num(const char *, uint64_t, uint64_t, uint64_t);

/*
 * The strict forms, for programs that refuse to run with a guess: 0 and
 * the value (the default when unset or empty), or -1 after logging what
 * is wrong with the setting.
 */
int	env_num_strict(const char *, uint64_t, uint64_t, uint64_t, uint64_t *);
int	env_text_strict(const char *, size_t, const char **);
/* A yes/no setting: 0 or 1 (also "no"/"yes"); unset gives the default. */
int	env_flag_strict(const char *, int, int *);

/*
 * Reads a text setting: NULL when unset or empty.  A value longer than max
 * or holding characters outside 0x20-0x7E is logged and treated as unset.
 */
const char *env_text(const char *, size_t);

/* A file's path: the variable when set and not empty, else def. */
const char *env_path(const char *, const char *);

#endif

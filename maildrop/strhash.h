/*
 * A seeded hash of octet strings for the maildrop's hash tables (carried
 * UIDLs, the UIDL uniqueness check).  The strings are the mail user's or a
 * sender's (names, X-UIDL headers): with a fixed hash, strings crafted to
 * share a slot would make every lookup a walk of all of them.
 */
#ifndef POP3D_STRHASH_H
#define POP3D_STRHASH_H

#include <stddef.h>
#include <stdint.h>

/* A word-at-a-time hash under a seed drawn once per process, avalanched. */
uint64_t	strhash(const char *, size_t);

#endif

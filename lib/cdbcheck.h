/*
 * Checked cdb files (users.cdb, rules.cdb): damage reads as damage, never
 * as an answer.  Each record's value ends with a check, the FNV-1a 64-bit
 * hash of the record's lengths, key and value, so that a record changed,
 * or moved under another key, fails it.  A lookup checks every octet it
 * reads to reach its answer: the table of contents on open (the tables
 * where tinycdb writes them, one after the other to the end of the file),
 * every slot it passes (an empty slot is all zero; a full one points to a
 * whole record in the data, of that table, whose key has the slot's hash
 * and whose check holds), and, before it answers "not found", that the
 * table holds as many records as cdb gave it slots (twice as many), so
 * that a slot zeroed away is not taken for an empty one.  The cost is the
 * records passed and, for a miss, one pass over one table: about 1/128 of
 * the slots, whatever the size of the file (pop3d-rules.5 has figures).
 */
#ifndef POP3D_CDBCHECK_H
#define POP3D_CDBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <cdb.h>

/* The check that ends each value: 8 octets, big-endian. */
#define CDBCHECK_LEN	8

/* The check of a record with this key and value (without its check). */
uint64_t cdbcheck_sum(const void *, size_t, const void *, size_t);

/* FNV-1a, 64 bits, of n octets, from h (0: FNV's offset basis). */
uint64_t cdbcheck_fnv(uint64_t, const void *, size_t);

/*
 * Adds key and value with its check: as cdb_make_put with mode (0 added,
 * 1 when CDB_PUT_INSERT found the key there already, -1 with errno).
 */
int	cdbcheck_put(struct cdb_make *, const void *, unsigned, const void *,
	    unsigned, enum cdb_put_mode);

/*
 * cdb_init, then the table of contents checked against the file's size.
 * Returns 0; -1 with errno from the system; -2 when the file is not a
 * whole cdb (too short, a table outside it or not where cdb writes it,
 * an odd table, a tail).
 */
int	cdbcheck_init(struct cdb *, int);

/*
 * Looks key up in a file that cdbcheck_init took: 1 with *val and *vlen
 * the value without its check (pointing into the map, valid until
 * cdb_free), 0 when the key is not there, -2 when anything read on the
 * way is damaged (the answer is then unknown, not "absent").
 */
int	cdbcheck_find(const struct cdb *, const void *, unsigned,
	    const unsigned char **, unsigned *);

/*
 * The record at *pos in the data (start at 2048), checked: 1 with the key
 * and the value without its check, *pos moved past it; 0 past the last
 * record; -2 for a damaged one.
 */
int	cdbcheck_next(const struct cdb *, unsigned *, const unsigned char **,
	    unsigned *, const unsigned char **, unsigned *);

/*
 * The whole file, as a writer checks what it wrote before it renames it
 * into place: every record checked, and each found by cdbcheck_find at
 * its own place (so no key twice).  0 and the number of records in *n,
 * or -2.
 */
int	cdbcheck_verify(const struct cdb *, unsigned long *);

#endif

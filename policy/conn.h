/*
 * Concurrent connections per client address, counted across processes:
 * one file per address in a directory, one locked octet per connection
 * (an OFD lock), so that a slot is free again the moment its process ends,
 * however it ends.
 */
#ifndef POP3D_CONN_H
#define POP3D_CONN_H

/*
 * Takes one of limit (at most CONN_PER_ADDRESS_MAX) connection slots of
 * addr (a name as penalty_path takes) in dir, making dir 0700 if it is
 * missing: 1 and *fd, which holds the slot until it is closed or the
 * process ends however it ends (an OFD lock; close-on-exec, but a child
 * forked with it holds the slot too until it closes it or ends); 0 when
 * all limit slots are taken; -1 with errno.  limit 0 is no limit: 1 and
 * *fd -1.
 */
int	conn_slot_take(const char *, const char *, unsigned, int *);

/*
 * Slots of addr held now by any process (for pop3d-rules): the count, 0
 * with no file, or -1.
 */
int	conn_slot_count(const char *, const char *);

#endif

/*
 * The TRANSACTION state of RFC 1939 over one listed store (store.h: a
 * Maildir or an mbox), and the UPDATE that QUIT has the store perform.
 */
#ifndef POP3D_TRANS_H
#define POP3D_TRANS_H

#include <stdint.h>

#include "io.h"
#include "store.h"
#include "pop3.h"
#include "xmit.h"

struct session {
	struct store	*st;
	struct in	*in;			/* XTND XMIT reads a message */
	struct out	*out;
	const struct xmit_settings *xmit;
	const char	*implementation;	/* CAPA IMPLEMENTATION, or NULL */
	const char	*expire;		/* CAPA EXPIRE, or NULL */
	int64_t		 expire_days;		/* enforced: expire.h */
	int64_t		 login_delay;		/* CAPA LOGIN-DELAY, or -1 */
	uint64_t	 retr, retr_octets, top;
	uint64_t	 dele, dele_octets;
	uint64_t	 removed, unremoved;	/* by the UPDATE */
	uint64_t	 expired, seen;		/* of removed; marked seen */
	const char	*update_why;		/* nothing removed: why */
	int		 quit;			/* QUIT seen, UPDATE done */
	int		 broken;		/* a message failed mid-reply */
	int		 stopped;		/* a handler ended the session */
	enum pop3_end	 stop;			/* ... this way (not QUIT) */
};

extern const struct pop3_verb trans_verbs[];

#endif

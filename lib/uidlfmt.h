/*
 * Dovecot's pop3_uidl_format: the record it is expanded for, the
 * expansion (uidlfmt.c) and the one check of a format every program
 * uses (settings.c's SETTING_UIDLFMT, maildrop/dovecot.c).
 */
#ifndef POP3D_UIDLFMT_H
#define POP3D_UIDLFMT_H

#include <stddef.h>
#include <stdint.h>

/* A dovecot-uidlist's header: its version (1, 2 or 3) and UIDVALIDITY. */
struct dovecot_head {
	unsigned	version;
	uint32_t	uidvalidity;
};

/* One message of a dovecot-uidlist; the texts point into the buffer. */
struct dovecot_rec {
	uint32_t	 uid;
	const char	*name;		/* the base name: up to a ':' */
	size_t		 name_len;
	const char	*guid;		/* 'G' extension, or NULL */
	size_t		 guid_len;
	const char	*pop3;		/* 'P' extension: its POP3 UIDL */
	size_t		 pop3_len;
};

/*
 * Expands a pop3_uidl_format for a record as Dovecot does: %u UID, %v
 * UIDVALIDITY, %f base name, %g GUID (the base name without one), %m
 * unsupported, %% a '%'; long names %{uid}, %{uidvalidity}, %{filename},
 * %{guid}; modifiers X (a number in lower-case hex), L and U (case);
 * "%0<w>" pads with zeros to w, "%<w>" keeps the first w characters.
 * The length written to out (NUL-terminated), or -1 when the format uses
 * anything else or the result does not fit n - 1 octets.
 */
int	dovecot_uidl_expand(const char *, const struct dovecot_head *,
	    const struct dovecot_rec *, char *, size_t);

/*
 * Whether a format is one dovecot_uidl_expand takes, giving each message
 * its own UIDL: with %u, %f or %g, expanding to 1 to UIDL_MAX octets of
 * 0x21 to 0x7e (for the settings).
 */
int	dovecot_uidl_format_ok(const char *);

#endif

/*
 * Inside the mbox parser: what a message's header says (mbox_fields.c),
 * called by the line machinery (mbox_parse.c) on the parser's state.
 */
#ifndef POP3D_MBOX_FIELDS_H
#define POP3D_MBOX_FIELDS_H

#include "mbox_parse.h"

enum { F_NONE, F_XUIDL, F_SUBJECT };		/* p->field */

/* A message begins (its UIDL inputs) and ends (its UIDL made). */
void	mbox_fields_open(struct mbox_parser *);
void	mbox_fields_close(struct mbox_parser *);
/* Octets of the From_ line, and of a header field, to the UIDL inputs. */
void	mbox_from_uidl(struct mbox_parser *, size_t, const char *);
void	mbox_head_hash(struct mbox_parser *, size_t, const char *);
/* A field's name is over at its colon (whole) or cut short. */
void	mbox_name_done(struct mbox_parser *, const char *, size_t, int);
/* Octets of the value of the field being read (a line's, no LF). */
void	mbox_value_rest(struct mbox_parser *, const char *, const char *);
/* The end of a header field (and of its folded lines). */
void	mbox_field_end(struct mbox_parser *);

#endif

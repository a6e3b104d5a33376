/*
 * Reading a text file a line at a time, as the compilers of the users
 * and rules files do: a line too long or holding a NUL is read to its
 * end and refused, so that the next line starts where it should and an
 * error names the right line.
 */
#ifndef POP3D_TEXTLINE_H
#define POP3D_TEXTLINE_H

#include <stddef.h>
#include <stdio.h>

#define TEXTLINE_EOF	0
#define TEXTLINE_OK	1
#define TEXTLINE_ERROR	(-1)	/* errno says why */
#define TEXTLINE_LONG	(-2)	/* more than max octets; buf is "" */
#define TEXTLINE_NUL	(-3)	/* a NUL in it */

/*
 * The next line of f without its LF, into buf (max + 1 octets) with a
 * NUL after it and its length in *len: one of TEXTLINE_*.  A last line
 * without an LF is a line.
 */
int	textline_read(FILE *, char *, size_t, size_t *);

#endif

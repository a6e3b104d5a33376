/*
 * A secret typed by an operator: a password or an APOP secret, for
 * pop3d-users.
 */
#ifndef POP3D_SECRET_H
#define POP3D_SECRET_H

#include <stddef.h>

/*
 * A secret of at most max characters into buf (size max + 1 at least):
 * from the terminal, typed twice without echo, or one line of stdin when
 * that is no terminal or when from_stdin is set; what names it in the
 * prompts and messages.  Returns 0, or -1 after saying why.
 */
int	secret_read(int, const char *, char *, size_t);

#endif

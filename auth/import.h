/*
 * pop3d-users import (pop3d-users.8): reading the users of another
 * server, a Dovecot passwd-file or the system's passwd and shadow, into
 * records of the users file.  The parsers here split one line in place
 * and classify its password; they take no crypt(3), so that a fuzz
 * target can run them (tests/fuzz/fuzz_import.c).
 */
#ifndef POP3D_IMPORT_H
#define POP3D_IMPORT_H

#include <stddef.h>

#include "pop3d_limits.h"

enum import_kind {
	IMPORT_HASH,	/* a crypt(3) hash, carried as it is */
	IMPORT_PLAIN,	/* a password in the clear, to be hashed */
	IMPORT_LOCKED,	/* no password: empty, or locked ("!", "*") */
	IMPORT_SCHEME	/* a scheme crypt(3) cannot check: not imported */
};

struct import_entry {
	const char		*name;
	enum import_kind	 kind;
	const char		*pass;	/* hash, or the password in the clear */
	char			 scheme[32];	/* as the file names it */
	unsigned long		 uid, gid;
	int			 uid_set, gid_set;	/* 0: left empty */
	const char		*home;	/* NULL: left empty */
	/* {PLAIN.HEX}, {PLAIN.B64}: the decoded password. */
	char			 plain[USERS_PASSWORD_MAX + 1];
};

/*
 * A Dovecot passwd-file line, user:{SCHEME}pass:uid:gid:gecos:home:shell:
 * extra, split in place into e; uid, gid and home may be empty or left
 * out (a userdb static gave them: the command's -u, -g, -h do).  A
 * missing {SCHEME} is Dovecot's default_pass_scheme, CRYPT.  Returns 0,
 * 1 for a comment or a blank line, or -1 with *why.
 */
int	import_dovecot(char *, struct import_entry *, const char **);

/*
 * A line of /etc/passwd (name:x:uid:gid:gecos:home:shell) into e, its
 * password left for import_shadow.  Returns as import_dovecot does.
 */
int	import_passwd(char *, struct import_entry *, const char **);

/*
 * A line of /etc/shadow: its name into *name and its hash classified
 * into e (kind, pass, scheme).  Returns as import_dovecot does.
 */
int	import_shadow(char *, const char **, struct import_entry *,
	    const char **);

/*
 * Classifies a password field: "{SCHEME}rest" or, without a scheme,
 * the scheme given as dflt ("CRYPT" for Dovecot, shadow's own hash).
 * Returns 0, or -1 with *why for a value that is none of them (a
 * {PLAIN.HEX} that is no hex, a password too long to type).
 */
int	import_password(char *, const char *, struct import_entry *,
	    const char **);

/*
 * The command: pop3d-users import's arguments (argv[0] "import") for the
 * users file and database given.  Returns the exit code (pop3d-users.8),
 * or -1 for a usage error.
 */
int	import_command(const char *, const char *, int, char **);

#endif

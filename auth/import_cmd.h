/*
 * pop3d-users import's own parts (import_read.c reads the sources,
 * import_cmd.c merges and writes): not for other programs.
 */
#ifndef POP3D_IMPORT_CMD_H
#define POP3D_IMPORT_CMD_H

#include <stddef.h>

#include "import.h"
#include "pop3d_limits.h"

#define EXIT_DATA	1
#define EXIT_TEMP	111

enum rec_state { REC_NEW, REC_DONE, REC_SKIP };

struct rec {
	char		*line;	/* the record as written */
	char		*shown;	/* the same, its APOP secret masked */
	char		*name;
	const char	*src;	/* where it was read */
	unsigned long	 lineno;
	enum rec_state	 state;
};

struct import {
	const char	*file, *db;	/* the users file and users.cdb */
	const char	*prefix;	/* -m: the method of hashed plains */
	int		 write, overwrite, secret;
	unsigned long	 uid, gid;	/* -u, -g: for lines without */
	int		 uid_set, gid_set;
	const char	*home;		/* -h: the template, or NULL */
	char		**names;	/* only these, when nnames > 0 */
	int		 nnames;
	struct rec	*v;
	size_t		 n, cap;
	unsigned long	 skipped;
	char		 line[IMPORT_LINE_MAX + 1];
};

/* "src:lineno: name: msg" on stderr, and one more user not carried over. */
void	import_skip(struct import *, const char *, unsigned long,
	    const char *, const char *);

/* The users of a Dovecot passwd-file: 0, or -1 on a system error (said). */
int	import_read_dovecot(struct import *, const char *);

/* The users of passwd with shadow's hashes: as import_read_dovecot. */
int	import_read_system(struct import *, const char *, const char *);

#endif

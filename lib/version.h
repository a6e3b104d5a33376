/*
 * Every program's --help and --version, and the frame of the CLIs with
 * commands (pop3d-users, pop3d-rules).  The version comes from one
 * place, the Makefile's VERSION (passed as POP3D_VERSION).
 */
#ifndef POP3D_VERSION_H
#define POP3D_VERSION_H

/*
 * When argv[1] is exactly "--help" or "--version" (and nothing else is:
 * pop3d's and pop3d-auth's later arguments are the next programs, which
 * may have options of their own), writes the usage text or the line
 * "NAME VERSION" to stdout and exits 0 (1 when stdout cannot be
 * written); else returns.
 */
void	version_help(int, char **, const char *, const char *);

/* Writes "usage: SYNOPSIS TEXT" to stderr and exits 2. */
void	cli_usage(const char *, const char *) __attribute__((noreturn));

/*
 * The command argv[0] names in table (argc and argv past the options): an
 * array of size-octet structs whose first member is the name (const char
 * *), ended by a NULL name.  Its index; with no command, or an unknown
 * one (then listing names), cli_usage(synopsis, ...).
 */
size_t	cli_command(const void *, size_t, int, char **, const char *,
	    const char *);

#endif

/*
 * Every program's --help and --version.  The version comes from one
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

#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#ifndef POP3D_VERSION
#error "POP3D_VERSION comes from the Makefile's VERSION"
#endif

void
version_help(int argc, char **argv, const char *name, const char *usage)
{
	if (argc < 2)
		return;
	if (strcmp(argv[1], "--help") == 0)
		fputs(usage, stdout);
	else if (strcmp(argv[1], "--version") == 0)
		printf("%s %s\n", name, POP3D_VERSION);
	else
		return;
	exit(fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
}

void
cli_usage(const char *synopsis, const char *text)
{
	fprintf(stderr, "usage: %s %s\n", synopsis, text);
	exit(2);
}

size_t
cli_command(const void *table, size_t size, int argc, char **argv,
    const char *synopsis, const char *names)
{
	const char	*name;
	size_t		 i;

	if (argc < 1)
		cli_usage(synopsis, "command [args ...]");
	for (i = 0; (name = *(const char *const *)((const char *)table +
	    i * size)) != NULL; i++)
		if (strcmp(argv[0], name) == 0)
			return i;
	cli_usage(synopsis, names);
}

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

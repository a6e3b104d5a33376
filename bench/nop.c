/*
 * nop: the do-nothing program for the ceiling of a per-connection design
 * (issue 8, scenario 6): under tcpserver it prints a greeting and exits.
 * Built with the project's flags and linked like its programs (dynamic,
 * PIE), so that its exec costs what one stage's exec costs at the least.
 */
#include <unistd.h>

int
main(void)
{
	static const char	greeting[] = "+OK nop\r\n";

	return write(1, greeting, sizeof(greeting) - 1) ==
	    (ssize_t)sizeof(greeting) - 1 ? 0 : 1;
}

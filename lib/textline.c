#include <stdio.h>

#include "textline.h"

int
textline_read(FILE *f, char *buf, size_t max, size_t *len)
{
	size_t	n = 0;
	int	c, seen = 0, nul = 0;

	while ((c = getc_unlocked(f)) != EOF) {
		seen = 1;
		if (c == '\n')
			break;
		if (c == '\0')
			nul = 1;
		if (n < max)
			buf[n] = c;
		n++;
	}
	*len = 0;
	if (ferror(f) || !seen || n > max) {
		buf[0] = '\0';
		return ferror(f) ? TEXTLINE_ERROR : !seen ? TEXTLINE_EOF :
		    TEXTLINE_LONG;
	}
	buf[n] = '\0';
	*len = n;
	return nul ? TEXTLINE_NUL : TEXTLINE_OK;
}

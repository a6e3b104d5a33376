# auth/: pop3d-auth and pop3d-users (issue 3).  Included by the Makefile;
# adds to PROGS, MAN8, MAN5 and UNIT.

# passwd/: pop3d-passwd, the poppassd protocol (issue 7).  Included by the
# Makefile; adds to PROGS, MAN8 and UNIT.
#
# It checks passwords and edits the users file with auth/'s code, and
# obeys the rules database and the penalty box with the access policy
# (policy/access.c, in libpolicy.a; front/ipc.o for the messages'
# framing: no other part of the front).  The dialogue runs in an unprivileged process
# (dialogue.c) that sends the privileged one checked messages (pwipc.c).
PASSWD_OBJ = $(O)/passwd/pop3d-passwd.o $(O)/passwd/change.o \
	     $(O)/passwd/dialogue.o $(O)/passwd/pwipc.o

PROGS	+= $(O)/pop3d-passwd
MAN8	+= man/pop3d-passwd.8

$(O)/passwd/%.o: passwd/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipasswd -Iauth -Ifront -Ipolicy -c -o $@ $<

$(O)/pop3d-passwd: $(PASSWD_OBJ) $(O)/front/ipc.o \
	    $(O)/libauth.a $(O)/libpolicy.a $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AUTH_LIBS) $(SECCOMP_LIBS)

UNIT	+= t_pwipc
$(O)/tests/t_pwipc: tests/unit/t_pwipc.c $(O)/passwd/pwipc.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipasswd -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/passwd/pwipc.o

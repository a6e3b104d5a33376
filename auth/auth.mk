# auth/: pop3d-auth and pop3d-users (issue 3).  Included by the Makefile;
# adds to PROGS, MAN8, MAN5 and UNIT.
#
# Only pop3d-auth and pop3d-users link libcrypt (passwords); nettle
# (Makefile) makes APOP's MD5 and CRAM-MD5's HMAC-MD5 and compares them in
# constant time.
CRYPT_LIBS	= $(shell $(PKG_CONFIG) --libs libcrypt)

AUTH_SRC = auth/apop.c auth/become.c auth/import.c auth/import_cmd.c \
	   auth/import_read.c auth/passwd.c auth/secret.c auth/user.c \
	   auth/userdb.c auth/usersfile.c
AUTH_OBJ = $(AUTH_SRC:%.c=$(O)/%.o)
AUTH_LIBS = $(CDB_LIBS) $(CRYPT_LIBS) $(NETTLE_LIBS)

PROGS	+= $(O)/pop3d-auth $(O)/pop3d-users
MAN8	+= man/pop3d-auth.8 man/pop3d-users.8
MAN5	+= man/pop3d-users.5
UNIT	+= t_users t_cram t_import

$(O)/auth/%.o: auth/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(NETTLE_CFLAGS) -Iauth -c -o $@ $<

$(O)/libauth.a: $(AUTH_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/pop3d-auth: $(O)/auth/pop3d-auth.o $(O)/libauth.a $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AUTH_LIBS)

$(O)/pop3d-users: $(O)/auth/pop3d-users.o $(O)/libauth.a $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AUTH_LIBS)

$(O)/tests/t_users: tests/unit/t_users.c $(O)/libauth.a $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iauth -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/libauth.a $(O)/libpop3d.a $(AUTH_LIBS)

$(O)/tests/t_cram: tests/unit/t_cram.c $(O)/libauth.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iauth -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/libauth.a $(NETTLE_LIBS)

$(O)/tests/t_import: tests/unit/t_import.c $(O)/libauth.a $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iauth -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/libauth.a $(O)/libpop3d.a $(AUTH_LIBS)

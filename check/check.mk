# check/: pop3d-check, the configuration check (issue 17).  Included by the
# Makefile; adds to PROGS and MAN8.
#
# pop3d-check reads the settings table, both databases and the directories
# with the chain's own code (libauth.a, libpolicy.a, libpop3d.a) and is the
# only program besides pop3d-tls that links libcrypto: it parses X.509
# certificates to report their names and expiry.  The chain never loads it.
CRYPTO_CFLAGS	= $(shell $(PKG_CONFIG) --cflags libcrypto)
CRYPTO_LIBS	= $(shell $(PKG_CONFIG) $(PKG_STATIC) --libs libcrypto)

CHECK_SRC = check/pop3d-check.c check/say.c check/listing.c check/files.c \
	    check/x509.c check/login.c
CHECK_OBJ = $(CHECK_SRC:%.c=$(O)/%.o)

PROGS	+= $(O)/pop3d-check
MAN8	+= man/pop3d-check.8

$(O)/check/%.o: check/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iauth -Ipolicy $(CRYPTO_CFLAGS) -c -o $@ $<

$(O)/pop3d-check: $(CHECK_OBJ) $(O)/libauth.a $(O)/libpolicy.a \
	    $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(AUTH_LIBS) $(CRYPTO_LIBS) \
	    $(SECCOMP_LIBS)

# tls/: pop3d-tls, the TLS relay (issue 5).  Included by the Makefile;
# adds to PROGS and MAN8.
#
# pop3d-tls is the only program that links libtls (Debian's libtls-dev,
# libretls): loading libssl and libcrypto costs every exec, and a
# plaintext connection must not pay for it.
TLS_CFLAGS	= $(shell $(PKG_CONFIG) --cflags libtls)
TLS_LIBS	= $(shell $(PKG_CONFIG) $(PKG_STATIC) --libs libtls)
# TLS_STATIC=1 links libtls, libssl and libcrypto into pop3d-tls alone,
# libc staying shared (users from NSS as before): the dynamic loader's
# relocation of libssl and libcrypto is 13% of a relay's instructions to
# the end of a P-256 handshake: 30.7 M down to 26.6 M (callgrind), 42
# page faults fewer, 8.4 ms of CPU down to 7.1 on the test machine.  The
# price: an OpenSSL fix reaches the relay only with a rebuild.  STATIC=1
# (every program static) includes it.
ifeq ($(TLS_STATIC)$(STATIC),1)
TLS_LIBS	= -Wl,-Bstatic $(shell $(PKG_CONFIG) --static --libs libtls) \
		  -Wl,-Bdynamic
endif

TLS_SRC	= tls/conf.c tls/relay.c tls/status.c
TLS_OBJ	= $(TLS_SRC:%.c=$(O)/%.o)

PROGS	+= $(O)/pop3d-tls
MAN8	+= man/pop3d-tls.8

$(O)/tls/%.o: tls/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itls $(TLS_CFLAGS) -c -o $@ $<

# The client's address is found as the front finds it (policy/peer.c).
$(O)/tls/pop3d-tls.o: private ALL_CFLAGS += -Ipolicy
$(O)/pop3d-tls: $(O)/tls/pop3d-tls.o $(TLS_OBJ) $(O)/policy/peer.o \
	    $(O)/policy/addr.o $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TLS_LIBS) $(SECCOMP_LIBS)

# test_tls_resume.py's probe of what libtls does with a session ticket key
# (issue 21); a test helper, never installed.  Not t_*: tests/run.sh runs
# those as unit testers.
TLS_PROBE = $(O)/tests/tls-ticket-probe
$(TLS_PROBE): tests/e2e/tls_ticket_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TLS_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(TLS_LIBS)
check: $(TLS_PROBE)

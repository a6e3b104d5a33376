# front/: pop3d, the front, and its helpers.  Included by the Makefile.
FRONT_SRC = front/dialogue.c front/handoff.c front/ipc.c front/preauth.c \
	    front/starttls.c front/sasl.c front/proxied.c
FRONT_OBJ = $(FRONT_SRC:%.c=$(O)/%.o)
PROGS	+= $(O)/pop3d
MAN8	+= man/pop3d.8

$(O)/front/%.o: front/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifront -Ipolicy -c -o $@ $<

# The policy code is linked in: tinycdb is small, libtls stays out; nettle
# (Makefile) decodes SASL's base64.
$(O)/pop3d: $(O)/front/pop3d.o $(FRONT_OBJ) $(O)/libpolicy.a $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CDB_LIBS) $(NETTLE_LIBS) $(SECCOMP_LIBS)

UNIT	+= t_sasl
$(O)/tests/t_sasl: tests/unit/t_sasl.c $(O)/front/sasl.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifront -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/front/sasl.o $(NETTLE_LIBS)

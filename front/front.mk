# The front: pop3d.c and its helpers in front/.  Included by the Makefile.
FRONT_SRC = front/handoff.c front/ipc.c front/preauth.c front/privdrop.c
FRONT_OBJ = $(FRONT_SRC:%.c=$(O)/%.o)
PROGS	+= $(O)/pop3d
MAN8	+= man/pop3d.8

$(O)/front/%.o: front/%.c front/*.h lib/*.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifront -c -o $@ $<

$(O)/pop3d.o: pop3d.c front/*.h lib/*.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifront -c -o $@ $<

$(O)/pop3d: $(O)/pop3d.o $(FRONT_OBJ) $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^

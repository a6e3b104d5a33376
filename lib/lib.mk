# lib/: libpop3d.a, the code every program shares.  Included by the
# Makefile; adds to UNIT.  lib/ includes only lib/: a change in a
# program's folder never rebuilds it.
LIB_SRC	= lib/atomic.c lib/cdbcheck.c lib/child.c lib/endline.c \
	  lib/fsshare.c lib/io.c lib/lock.c lib/log.c lib/num.c lib/pop3.c \
	  lib/privdrop.c lib/sandbox.c lib/settings.c lib/textline.c \
	  lib/uidlfmt.c lib/version.c
LIB_OBJ	= $(LIB_SRC:%.c=$(O)/%.o)
LIB_UNIT = t_num t_pop3 t_io t_log t_sandbox t_child t_fsshare t_nohooks \
	   t_endline
UNIT	+= $(LIB_UNIT)

$(O)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# A new VERSION is a new --version.
$(O)/lib/version.o: Makefile

$(O)/libpop3d.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(LIB_UNIT:%=$(O)/tests/%): $(O)/tests/%: tests/unit/%.c $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/libpop3d.a $(CDB_LIBS) $(SECCOMP_LIBS)

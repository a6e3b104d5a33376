# maildrop/: pop3d-maildrop, the TRANSACTION and UPDATE states over a
# Maildir or an mbox.  Included by the Makefile; adds to PROGS, MAN8 and
# UNIT.
#
# Only maildrop's own objects and testers see its headers (-Imaildrop):
# a change to one rebuilds pop3d-maildrop and its testers, nothing else.
# nettle (Makefile) makes the digest form of a UIDL (SHA-256); no libcdb:
# the maildrop's one cache has its own format (scancache.h).  liblockfile
# makes an mbox's dotlock (mbox_lock.c).
MD_SRC	= maildrop/maildir.c maildrop/maildir_scan.c maildrop/maildir_locate.c \
	  maildrop/maildir_msg.c maildrop/maildir_lock.c maildrop/maildir_create.c \
	  maildrop/sizes.c maildrop/trans.c maildrop/store_maildir.c \
	  maildrop/uidl.c maildrop/wire.c maildrop/xmit.c \
	  maildrop/scancache.c maildrop/expire.c \
	  maildrop/dovecot.c maildrop/courier.c maildrop/carry.c maildrop/strhash.c \
	  maildrop/mbox.c maildrop/mbox_lock.c maildrop/mbox_update.c \
	  maildrop/mbox_journal.c maildrop/mbox_parse.c maildrop/mbox_fields.c \
	  maildrop/mbox_cache.c \
	  maildrop/mbox_digest.c maildrop/mbox_jhead.c
MD_OBJ	= $(MD_SRC:%.c=$(O)/%.o)

PROGS	+= $(O)/pop3d-maildrop
MAN8	+= man/pop3d-maildrop.8
MD_UNIT	= t_wire t_uidl t_xmit t_scancache t_sizes t_maildir t_migrate \
	  t_mbox t_mbox_cache
UNIT	+= $(MD_UNIT)

$(O)/maildrop/%.o: maildrop/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Imaildrop $(NETTLE_CFLAGS) -c -o $@ $<

$(O)/libmaildrop.a: $(MD_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/pop3d-maildrop: $(O)/maildrop/pop3d-maildrop.o $(O)/libmaildrop.a \
	    $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(NETTLE_LIBS) -llockfile

$(MD_UNIT:%=$(O)/tests/%): $(O)/tests/%: tests/unit/%.c $(O)/libmaildrop.a \
	    $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Imaildrop -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/libmaildrop.a $(O)/libpop3d.a $(NETTLE_LIBS) -llockfile

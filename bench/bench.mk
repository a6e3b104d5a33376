# bench/: pop3d against a private Dovecot (bench/RESULTS.md); root, not in
# check.  Included by the Makefile.
BENCH_BIN = $(O)/bench/popload $(O)/bench/gen $(O)/bench/nop
bench: $(PROGS) $(BENCH_BIN)
	sh bench/run.sh $(O)

$(O)/bench/popload: bench/popload.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -pthread $(TLS_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
	    $(TLS_LIBS)

$(O)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

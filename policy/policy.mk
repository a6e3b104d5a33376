# policy/: the IP rules, the penalty box and per-address connection limits
# (issue 4).  Included by the Makefile; adds to PROGS, MAN8, MAN5 and UNIT.
# The front links libpolicy.a; pop3d-rules is the operators' CLI.
RULES_SRC  = policy/addr.c policy/rules.c policy/rules_compile.c \
	     policy/rulesdb.c policy/peer.c policy/proxy.c
PENALTY_SRC = policy/penalty.c policy/penalty_list.c policy/penalty_record.c \
	      policy/penalty_queue.c policy/statedir.c policy/conn.c
POLICY_SRC = $(RULES_SRC) $(PENALTY_SRC) policy/access.c
POLICY_OBJ = $(POLICY_SRC:%.c=$(O)/%.o)

PROGS	+= $(O)/pop3d-rules
MAN8	+= man/pop3d-rules.8
MAN5	+= man/pop3d-rules.5
UNIT	+= t_rules t_penalty t_penalty_queue t_proxy

$(O)/policy/%.o: policy/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -c -o $@ $<

# The access policy answers with the front's verdicts (front/ipc.h).
$(O)/policy/access.o: policy/access.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -Ifront -c -o $@ $<

$(O)/libpolicy.a: $(POLICY_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(O)/pop3d-rules: $(O)/policy/pop3d-rules.o $(O)/libpolicy.a $(O)/libpop3d.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CDB_LIBS)

# Each tester links only what it tests.
$(O)/tests/t_rules: tests/unit/t_rules.c \
	    $(RULES_SRC:%.c=$(O)/%.o) $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(RULES_SRC:%.c=$(O)/%.o) $(O)/libpop3d.a $(CDB_LIBS)

# The penalty box names its files by address: it needs addr.c too.
$(O)/tests/t_penalty: tests/unit/t_penalty.c \
	    $(PENALTY_SRC:%.c=$(O)/%.o) $(O)/policy/addr.o $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(PENALTY_SRC:%.c=$(O)/%.o) $(O)/policy/addr.o $(O)/libpop3d.a

$(O)/tests/t_penalty_queue: tests/unit/t_penalty_queue.c \
	    $(PENALTY_SRC:%.c=$(O)/%.o) $(O)/policy/addr.o $(O)/libpop3d.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(PENALTY_SRC:%.c=$(O)/%.o) $(O)/policy/addr.o $(O)/libpop3d.a

# The PROXY header's parser is pure: it needs addresses only.
$(O)/tests/t_proxy: tests/unit/t_proxy.c $(O)/policy/proxy.o \
	    $(O)/policy/addr.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ipolicy -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
	    $(O)/policy/proxy.o $(O)/policy/addr.o

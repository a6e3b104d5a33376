# pop3d: see README.md.  "make" builds, "make check" tests, "make sanitize"
# runs the tests again under AddressSanitizer and UBSan.

# Every program's --version says this.
VERSION	= 0.9.0

PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
# The penalty box and connection slots (pop3d.8: POP3D_STATE_DIR).
STATEDIR ?= /var/lib/pop3d
# The users and rules files and databases (pop3d-users.8, pop3d-rules.8).
CONFDIR	?= /etc/pop3d
# The pre-login processes' system user (pop3d.8: POP3D_PREAUTH_USER).
PREAUTH_USER ?= pop3d
DESTDIR	?=

# Objects and programs go to $(O); the sanitizer build uses its own.
O	?= build
CC	?= cc
PKG_CONFIG ?= pkg-config
PYTHON	?= python3

WARN	= -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
DEFS	= -D_GNU_SOURCE -DPOP3D_VERSION='"$(VERSION)"'
ifeq ($(SAN),1)
OPT	= -O1 -g -fno-omit-frame-pointer \
	  -fsanitize=address,undefined -fno-sanitize-recover=all
else
OPT	= -O2 -g -D_FORTIFY_SOURCE=2
endif
HARDEN	= -fstack-protector-strong -fPIE
LDHARDEN = -pie -Wl,-z,relro,-z,now
# STATIC=1 links every program statically (static PIE): each connection
# then skips the dynamic loader's symbol lookups, about 1 ms of CPU for
# pop3d-tls (libssl, libcrypto) and 0.1-0.2 ms for each other stage
# (bench/RESULTS.md).  The price: users come from /etc/passwd only (NSS
# cannot load into a static program), and fixes to libc, OpenSSL and the
# rest arrive only with a rebuild.
ifeq ($(STATIC),1)
LDHARDEN = -static-pie -Wl,-z,relro,-z,now
DEFS	+= -DPOP3D_STATIC
PKG_STATIC = --static
endif

CDB_CFLAGS	= $(shell $(PKG_CONFIG) --cflags libcdb)
CDB_LIBS	= $(shell $(PKG_CONFIG) --libs libcdb)
# nettle: every digest and encoding (MD5, SHA-256, HMAC, base64) and the
# constant-time comparison (this libbsd has no timingsafe_bcmp).
NETTLE_CFLAGS	= $(shell $(PKG_CONFIG) --cflags nettle)
NETTLE_LIBS	= $(shell $(PKG_CONFIG) --libs nettle)
# libseccomp: only the programs that confine a process (privdrop.c) link it.
SECCOMP_LIBS	= $(shell $(PKG_CONFIG) $(PKG_STATIC) --libs libseccomp)

# Every folder's objects see lib/ and, through their folder's rule, only
# the other folders they include; -MMD -MP has each compile write its
# object's header dependencies (.d beside the .o), so a change to a header
# rebuilds what includes it and nothing else.  A tester's go to .t_X.d:
# tests/run.sh runs every $(O)/tests/t_*.
DEPFLAGS = -MMD -MP
$(O)/tests/%: private DEPFLAGS = -MMD -MP -MF $(@D)/.$(@F).d
ALL_CFLAGS = $(OPT) $(HARDEN) $(WARN) $(DEPFLAGS) $(DEFS) -Ilib \
	     $(CDB_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(OPT) $(LDHARDEN) $(LDFLAGS)

PROGS	=
MAN8	=
MAN5	=
UNIT	=

# Each folder's .mk has its rules and adds its programs, pages and testers.
include lib/lib.mk
include maildrop/maildrop.mk
include front/front.mk
include auth/auth.mk
include policy/policy.mk
include tls/tls.mk
include deploy/deploy.mk
include passwd/passwd.mk
include check/check.mk
include bench/bench.mk

UNIT_BIN = $(UNIT:%=$(O)/tests/%)

.PHONY: all check check-run unit e2e sanitize deps test-deps install install-system \
	uninstall run lint fuzz clean bench
.DEFAULT_GOAL := all

all: $(PROGS)

# The header dependencies the compiler wrote (ALL_CFLAGS: -MMD).
-include $(wildcard $(O)/*/*.d $(O)/tests/.*.d)

# TEST_HOOKS=1 compiles in the test hooks, TEST_POP3D_* variables that
# fake a mount table, a failing flock and a skewed clock (lib/fsshare.c,
# DESIGN.md "Several hosts") and shorten the day-long session bound
# (front/handoff.c): the tests need them, a server must never honour
# them.  "make check" (and so "make sanitize") builds with them, a
# plain "make" without; the objects that hold hooks are rebuilt whenever
# TEST_HOOKS changes ($(O)/.test-hooks), so "make check" then "make
# install" installs programs without them.  The tests' own make runs
# (tests/install.sh) inherit TEST_HOOKS=1 through MAKEFLAGS.
# Only from the command line (make check passes it so): a builder's
# environment that happens to export TEST_HOOKS=1 must not put the hooks
# into the programs it installs.
ifneq ($(origin TEST_HOOKS),command line)
TEST_HOOKS :=
endif
HOOK_OBJ = $(O)/lib/fsshare.o $(O)/front/handoff.o
$(HOOK_OBJ): $(O)/.test-hooks
ifeq ($(TEST_HOOKS),1)
$(HOOK_OBJ): DEFS += -DPOP3D_TEST_HOOKS
endif
$(O)/.test-hooks: FORCE
	@mkdir -p $(@D)
	@echo '$(TEST_HOOKS)' | cmp -s - $@ || echo '$(TEST_HOOKS)' >$@
FORCE:

# The whole suite: unit tests, end-to-end tests, man page lint; JOBS
# test files at a time (tests/run.sh: default three times the cores).
JOBS	?=
check:
	@$(MAKE) --no-print-directory TEST_HOOKS=1 check-run

check-run: $(PROGS) $(UNIT_BIN)
	BUILD=$(O) PYTHON=$(PYTHON) JOBS=$(JOBS) sh tests/run.sh

sanitize:
	$(MAKE) O=build/sanitize SAN=1 check

# What building and running need; test-deps: that and what the tests need
# (clang, mpop, xinetd, daemontools, ...), never for a production host.
deps:
	sh tests/deps.sh

test-deps:
	sh tests/deps.sh test

lint:
	mandoc -Tlint -Wwarning $(MAN8) $(MAN5)

run: $(PROGS)
	sh tests/demo.sh $(O)

install: $(PROGS) install-deploy
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(PROGS) $(DESTDIR)$(SBINDIR)
	install -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5)
	install -d -m 700 $(DESTDIR)$(STATEDIR)
	[ -d $(DESTDIR)$(CONFDIR) ] || install -d -m 700 $(DESTDIR)$(CONFDIR)
	@$(MAKE) -s install-system

# What is made outside the files: the pre-login user, made when missing
# as root (deploy/sysuser.sh).  A DESTDIR install (a package being built)
# makes nothing outside DESTDIR and says what the package must do.
install-system:
ifeq ($(DESTDIR),)
	@if [ "$$(id -u)" -eq 0 ]; then \
	    sh deploy/sysuser.sh $(PREAUTH_USER) || exit 1; \
	elif ! id $(PREAUTH_USER) >/dev/null 2>&1; then \
	    echo "install: not root: the system user $(PREAUTH_USER) is" \
	        "missing; as root: sh deploy/sysuser.sh $(PREAUTH_USER)"; \
	fi
else
	@echo "install: DESTDIR install: nothing was made outside $(DESTDIR)."
	@echo "install: the package must, when installed:"
	@echo "install:   create the system user $(PREAUTH_USER) when missing" \
	    "(sh $(KITDIR)/sysuser.sh $(PREAUTH_USER), as adduser --system);"
	@echo "install:   keep $(CONFDIR) (0700), $(STATEDIR) (0700) and" \
	    "$(CHROOTDIR) (0555) owned by root (made under DESTDIR)."
endif

uninstall: uninstall-deploy
	rm -f $(PROGS:$(O)/%=$(DESTDIR)$(SBINDIR)/%)
	rm -f $(MAN8:man/%=$(DESTDIR)$(MANDIR)/man8/%)
	rm -f $(MAN5:man/%=$(DESTDIR)$(MANDIR)/man5/%)

# Fuzz targets (clang's libFuzzer): FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
FUZZ	= fuzz_pop3 fuzz_wire fuzz_ipc fuzz_rules fuzz_sasl fuzz_scancache \
	  fuzz_users fuzz_pwipc fuzz_cdbcheck fuzz_seen fuzz_import \
	  fuzz_uidlist fuzz_courier fuzz_proxy fuzz_mbox \
	  fuzz_mbox_cache fuzz_mountinfo
fuzz:
	@mkdir -p build/fuzz
	@for f in $(FUZZ); do \
	    clang -g -O1 -fsanitize=fuzzer,address,undefined $(DEFS) -Ilib \
	        -Imaildrop -Ifront -Ipolicy -Iauth -Ipasswd $(CDB_CFLAGS) \
	        -o build/fuzz/$$f tests/fuzz/$$f.c $(LIB_SRC) $(MD_SRC) \
	        front/ipc.c $(RULES_SRC) front/sasl.c auth/user.c auth/import.c \
	        passwd/pwipc.c $(CDB_LIBS) $(NETTLE_LIBS) -llockfile \
	        $(SECCOMP_LIBS) || exit 1; \
	    mkdir -p build/fuzz/$$f.corpus; \
	    if build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=build/fuzz/ build/fuzz/$$f.corpus \
	        tests/fuzz/$$f.seed >build/fuzz/$$f.log 2>&1; then \
	        echo "fuzz $$f: $$(grep -o 'Done [0-9]* runs' \
	            build/fuzz/$$f.log), no failure"; \
	    else \
	        tail -40 build/fuzz/$$f.log; echo "fuzz $$f: FAILED"; exit 1; \
	    fi; \
	done

clean:
	rm -rf build

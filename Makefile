# mproc - plain GNU make. Targets: all check install uninstall clean bench
# sanitize tsan valgrind docs dist demo. `make CC=clang check` works too.

VERSION_MAJOR := $(shell sed -n 's/^\#define MP_VERSION_MAJOR \([0-9]*\)/\1/p' include/mproc/version.h)
VERSION_MINOR := $(shell sed -n 's/^\#define MP_VERSION_MINOR \([0-9]*\)/\1/p' include/mproc/version.h)
VERSION_PATCH := $(shell sed -n 's/^\#define MP_VERSION_PATCH \([0-9]*\)/\1/p' include/mproc/version.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC      ?= cc
PKG_CONFIG ?= pkg-config
BUILD   ?= build
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wwrite-strings -Wundef -Wformat=2 -Wvla -Werror
SAN     ?=
CFLAGS  ?=
CFLAGS  += -std=c11 $(OPT) $(WARN) $(SAN) -Iinclude -MMD -MP
UUID_CFLAGS := $(shell $(PKG_CONFIG) --cflags uuid 2>/dev/null || echo -I/usr/include/uuid)
UUID_LIBS   := $(shell $(PKG_CONFIG) --libs uuid 2>/dev/null || echo -luuid)
LIBS    := $(UUID_LIBS) -lrt -pthread
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

SONAME  := libmproc.so.$(VERSION_MAJOR)
LIB_SRC := $(wildcard lib/*.c)
LIB_PIC := $(LIB_SRC:lib/%.c=$(BUILD)/pic/%.o)
LIB_OBJ := $(LIB_SRC:lib/%.c=$(BUILD)/obj/%.o)
SHLIB   := $(BUILD)/libmproc.so.$(VERSION)
STLIB   := $(BUILD)/libmproc.a
# The default build puts the CLI in bin/; variant builds keep theirs apart.
CLI     := $(if $(filter build,$(BUILD)),bin/mproc,$(BUILD)/mproc)
PC      := $(BUILD)/mproc.pc
CLI_SRC := $(wildcard bin/*.c)
TEST_SRC := $(wildcard test/*.c)
TEST_BIN := $(BUILD)/test/runner
EXAMPLES := $(patsubst docs/examples/%.c,$(BUILD)/examples/%,$(wildcard docs/examples/*.c))
HEADERS := $(wildcard include/mproc/*.h)
MAN1    := $(wildcard docs/man/*.1)
MAN3    := $(wildcard docs/man/*.3)
MAN7    := $(wildcard docs/man/*.7)

.DEFAULT_GOAL := all
FORCE:
.PHONY: FORCE all check test install uninstall install-lib install-headers \
        install-bin install-man install-pc uninstall-lib uninstall-headers \
        uninstall-bin uninstall-man uninstall-pc clean bench sanitize tsan \
        valgrind docs dist demo check-headers check-symbols check-errors \
        check-examples check-install check-cli check-install-here

all: $(SHLIB) $(BUILD)/libmproc.so $(STLIB) $(CLI) $(PC)

$(BUILD)/pic/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(UUID_CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/obj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(UUID_CFLAGS) -fvisibility=hidden -c $< -o $@

$(SHLIB): $(LIB_PIC) lib/libmproc.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) \
	  -Wl,--version-script=lib/libmproc.map -Wl,-z,defs -o $@ $(LIB_PIC) $(LIBS)

$(BUILD)/libmproc.so: $(SHLIB)
	ln -sf libmproc.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libmproc.so.$(VERSION) $@

$(STLIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The CLI links the static library: it runs from the tree and when installed.
$(CLI): $(CLI_SRC) $(STLIB)
	$(CC) $(CFLAGS) -o $@ $(CLI_SRC) $(STLIB) $(LIBS)

# Regenerated every time: PREFIX and LIBDIR are baked into it.
$(PC): mproc.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# Internal helpers under test (deadlines, process liveness) are compiled
# into the runner too: the shared library hides them.
TEST_INTERNAL := lib/deadline.c lib/procinfo.c
$(TEST_BIN): $(TEST_SRC) test/tests.h $(TEST_INTERNAL) $(BUILD)/libmproc.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Ilib -o $@ $(TEST_SRC) $(TEST_INTERNAL) \
	  -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lmproc $(CHECK_LIBS) $(LIBS)

$(BUILD)/examples/%: docs/examples/%.c $(BUILD)/libmproc.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -lmproc $(LIBS)

# ---- check ---------------------------------------------------------------
# The test command. Runs every suite, then proves nothing was left in /dev/shm.
# The Check suites run last, so their summary line ends the output.
check: all $(TEST_BIN) check-headers check-symbols check-errors check-examples \
       check-cli check-install-here
	test/shm-guard.sh $(TEST_BIN)

check-install-here:
	@$(MAKE) --no-print-directory check-install BUILD=$(BUILD)-install SAN= OPT="$(OPT)"

test: check

# Each public header compiles on its own, as C11 and as C++.
check-headers:
	@mkdir -p $(BUILD)/hdr
	@for h in $(HEADERS) include/mproc.h; do \
	  n=$${h#include/}; \
	  printf '#include <%s>\nint mp_header_check_;\n' "$$n" > $(BUILD)/hdr/t.c; \
	  $(CC) -std=c11 -pedantic $(WARN) -Iinclude -c $(BUILD)/hdr/t.c -o $(BUILD)/hdr/t.o || exit 1; \
	done; echo "headers: each compiles on its own"

# The shared library exports the API and nothing else.
check-symbols: $(SHLIB)
	@bad=$$(nm -D --defined-only $(SHLIB) | awk '$$2 ~ /[A-Z]/ && $$3 !~ /^mp_[a-z]/ && $$3 !~ /^MPROC_/ {print $$3}'); \
	if [ -n "$$bad" ]; then echo "exported symbols outside mp_*: $$bad"; exit 1; fi; \
	echo "symbols: only mp_* exported"

# Every error code has a message (tested) and a line in docs/errors.md.
check-errors:
	@missing=; for n in $$(sed -n 's/^ *XX(\([A-Z0-9]*\),.*/\1/p' include/mproc/error.h); do \
	  grep -q "MP_$$n\b" docs/errors.md || missing="$$missing MP_$$n"; done; \
	if [ -n "$$missing" ]; then echo "undocumented error codes:$$missing"; exit 1; fi; \
	echo "errors: every code documented in docs/errors.md"

# Examples in docs/ are built and run.
check-examples: $(EXAMPLES)
	@test/shm-guard.sh sh -c 'for e in $(EXAMPLES); do echo "example $$e"; $$e > /dev/null || exit 1; done'

# The CLI, driven as a user would.
check-cli: $(CLI)
	test/shm-guard.sh test/cli-test.sh $(CLI)

# A program outside the tree builds against the installed library with
# pkg-config (shared and static) and runs.
check-install:
	@rm -rf $(abspath $(BUILD))/root
	$(MAKE) --no-print-directory install PREFIX=$(abspath $(BUILD))/root >/dev/null
	test/install-test.sh $(abspath $(BUILD))/root "$(CC)"

# ---- install -------------------------------------------------------------
install: install-lib install-headers install-bin install-man install-pc
uninstall: uninstall-lib uninstall-headers uninstall-bin uninstall-man uninstall-pc

install-lib: $(SHLIB) $(STLIB)
	install -d $(DESTDIR)$(LIBDIR)
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libmproc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf libmproc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmproc.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
uninstall-lib:
	rm -f $(DESTDIR)$(LIBDIR)/libmproc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libmproc.so $(DESTDIR)$(LIBDIR)/libmproc.a

install-headers:
	install -d $(DESTDIR)$(INCLUDEDIR)/mproc
	install -m 644 include/mproc.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/mproc/
uninstall-headers:
	rm -f $(DESTDIR)$(INCLUDEDIR)/mproc.h
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/mproc/,$(notdir $(HEADERS)))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/mproc 2>/dev/null

install-bin: $(CLI)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/
uninstall-bin:
	rm -f $(DESTDIR)$(BINDIR)/mproc

# The names a man page documents (its NAME section): each gets a link page,
# so `man mp_lock_acquire` finds mp_lock(3).
MAN_NAMES := awk '/^\.SH NAME/ {f=1; next} f {s=$$0; gsub(/,/," ",s); \
  if (sub(/ *\\-.*/,"",s)) {print s; exit} print s}'

install-man:
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN3),install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	@for p in $(MAN3); do b=$$(basename $$p); \
	  for n in $$($(MAN_NAMES) $$p); do [ "$$n.3" = "$$b" ] || \
	    echo ".so man3/$$b" > $(DESTDIR)$(MANDIR)/man3/$$n.3; done; done
uninstall-man:
	@for p in $(MAN3); do b=$$(basename $$p); \
	  for n in $$($(MAN_NAMES) $$p); do [ "$$n.3" = "$$b" ] || \
	    rm -f $(DESTDIR)$(MANDIR)/man3/$$n.3; done; done
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7)))

install-pc: $(PC)
	install -d $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(PC) $(DESTDIR)$(PKGCONFIGDIR)/
uninstall-pc:
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/mproc.pc

# ---- variants ------------------------------------------------------------
sanitize:
	$(MAKE) --no-print-directory check BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

tsan:
	$(MAKE) --no-print-directory check BUILD=build-tsan OPT="-O1 -g" SAN="-fsanitize=thread"

valgrind: all $(TEST_BIN)
	TEST_UNDER_VALGRIND=1 test/shm-guard.sh valgrind -q --error-exitcode=99 \
	  --leak-check=full --errors-for-leak-kinds=definite --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*' \
	  $(TEST_BIN)

bench: all
	$(MAKE) --no-print-directory -C test/bench BUILD=$(abspath $(BUILD)) CC="$(CC)"

# The README's first command: build, then show mproc at work.
demo: all $(EXAMPLES)
	@test/shm-guard.sh sh -c 'for e in $(EXAMPLES); do echo "== $$e"; $$e || exit 1; done'
	@echo "== bin/mproc shm ls"; $(CLI) shm ls

docs:
	@echo "docs are plain Markdown in docs/ and man pages in docs/man/"

dist:
	git archive --format=tar.gz --prefix=mproc-$(VERSION)/ -o mproc-$(VERSION).tar.gz HEAD

clean:
	rm -rf build build-* bin/mproc mproc-*.tar.gz
	-$(MAKE) --no-print-directory -C test/bench clean 2>/dev/null

-include $(LIB_PIC:.o=.d) $(LIB_OBJ:.o=.d)

# clonefs: one Makefile, no generator. See README.md for the two commands (make demo, make test).
#
# Sources are found by wildcard so that a new file in a module needs no edit here:
#   transport/*.c          wire, TLS channel, chunk codec, manifest, client   -> build/libclonefs.a
#   transport/donor/*.c    the donor agent (clonefsd); main in clonefsd_main.c
#   fs/*.c                 chunk cache, fetcher, tree, status (no FUSE)       -> build/libclonefs.a
#   fs/fuse_*.c            the thin FUSE layer; main in fs/mount_main.c
#   tools/*.c              clonefs subcommands; main in tools/clonefs_main.c
#   tests/unit/test_*.c    one binary each, linked with build/libclonefs.a
#   tests/fuzz/fuzz_*.c    libFuzzer targets (make fuzz); replayed over their corpus by make test

comma   := ,
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
BIN     := bin

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wcast-qual -Wswitch-enum -Wimplicit-fallthrough -Wundef
ifdef CI
WARN += -Werror
endif
ifdef WERROR
WARN += -Werror
endif

HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT    ?= -O2 -g

ifdef SANITIZE
OPT    := -O1 -g -fno-omit-frame-pointer -fsanitize=$(SANITIZE)
HARDEN := -fPIE
SANLD  := -fsanitize=$(SANITIZE)
BUILD  := build-$(subst $(comma),-,$(SANITIZE))
BIN    := $(BUILD)/bin
endif

PKGS    := fuse3 libssl libcrypto libzstd jansson libcurl
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(shell mysql_config --cflags 2>/dev/null)
DEPLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(shell mysql_config --libs 2>/dev/null) -lpthread
# sd_notify for clonefsd's Type=notify unit when libsystemd is there; without it clonefsd builds and
# runs the same, only without telling systemd it is ready (transport/donor/donor_service.c).
ifeq ($(shell pkg-config --exists libsystemd 2>/dev/null && echo y),y)
DEPCFLAGS += -DCLONEFS_HAVE_LIBSYSTEMD $(shell pkg-config --cflags libsystemd)
DEPLIBS   += $(shell pkg-config --libs libsystemd)
endif

CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -I. $(DEPCFLAGS)
LDFLAGS += -pie $(SANLD)

MAINS       := transport/donor/clonefsd_main.c fs/mount_main.c tools/clonefs_main.c
LIB_SRC     := $(filter-out $(MAINS) fs/fuse_%.c,$(wildcard transport/*.c transport/donor/*.c fs/*.c tools/*.c))
FUSE_SRC    := $(wildcard fs/fuse_*.c)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB         := $(BUILD)/libclonefs.a
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
REPLAY_BINS := $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/tests/replay_%,$(FUZZ_SRC))
PROGRAMS    := $(BIN)/clonefsd $(BIN)/mount.clonefs $(BIN)/clonefs

# Keep the objects make would call intermediate (unit and replay objects): no rebuild each run.
.SECONDARY:

.PHONY: all deps test test-unit test-e2e test-sanitize demo demo-store bench fuzz install clean check-valgrind test-reflink-soak deb

all: $(PROGRAMS)

# The flags an object was built with: a change (CI=1 adds -Werror) rebuilds everything.
FLAGS_STAMP := $(BUILD)/.cflags
$(shell mkdir -p $(BUILD) && echo '$(CC) $(CFLAGS)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(CFLAGS)' >$(FLAGS_STAMP))

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(BIN)/clonefsd: $(call obj,transport/donor/clonefsd_main.c) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

$(BIN)/mount.clonefs: $(call obj,fs/mount_main.c $(FUSE_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

$(BIN)/clonefs: $(call obj,tools/clonefs_main.c) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

$(BUILD)/tests/test_%: $(call obj,tests/unit/test_%.c) $(call obj,tests/unit/tap.c) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

# The regression driver: each fuzz target linked with a main that replays its corpus.
$(BUILD)/tests/replay_%: $(call obj,tests/fuzz/fuzz_%.c tests/fuzz/replay.c) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(DEPLIBS)

# Debian's packages: installs only when something is missing (apt-get, as root).
deps:
	@sh tests/deps.sh

# make test: every test on the normal build, then a CI-sized subset on the ASan+UBSan (with leak
# detection) and TSan builds; every process's sanitizer report goes to a file of its test's
# (tests/run.sh), so a finding in a daemon, a leak at its exit included, fails its test.
# make test-sanitize: everything.
ASAN_RUN := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_RUN := TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp"
ASAN_SUBSET := unit/|fuzz-corpus/|e2e/test_hostile_donor|e2e/test_lazy_read|e2e/test_tls_modes|e2e/test_clone_statement|e2e/test_mitm_key_pin|e2e/test_donor_grants|e2e/test_innodb_layout|e2e/test_thin_crash
TSAN_SUBSET := e2e/test_lazy_read|e2e/test_mount_faults|e2e/test_eight_recipients|e2e/test_clone_statement|e2e/test_thin_share
SAN_TEST_BINS = $(patsubst $(BUILD)/%,build-$(1)/%,$(UNIT_BINS) $(REPLAY_BINS))

test: deps
	$(MAKE) all $(UNIT_BINS) $(REPLAY_BINS)
	@bash tests/run.sh --build=$(BUILD) --bin=$(BIN)
	$(MAKE) SANITIZE=address,undefined all $(call SAN_TEST_BINS,address-undefined)
	@echo "== under ASan+UBSan: $(ASAN_SUBSET)"
	@$(ASAN_RUN) TESTS='$(ASAN_SUBSET)' bash tests/run.sh --build=build-address-undefined --bin=build-address-undefined/bin
	$(MAKE) SANITIZE=thread all
	@echo "== under TSan: $(TSAN_SUBSET)"
	@$(TSAN_RUN) TESTS='$(TSAN_SUBSET)' bash tests/run.sh --only=e2e --build=build-thread --bin=build-thread/bin

test-unit: all $(UNIT_BINS) $(REPLAY_BINS)
	@bash tests/run.sh --build=$(BUILD) --bin=$(BIN) --only=unit

test-e2e: all
	@bash tests/run.sh --build=$(BUILD) --bin=$(BIN) --only=e2e

test-sanitize: deps
	$(MAKE) SANITIZE=address,undefined all $(call SAN_TEST_BINS,address-undefined)
	@$(ASAN_RUN) bash tests/run.sh --build=build-address-undefined --bin=build-address-undefined/bin
	$(MAKE) SANITIZE=thread all
	@$(TSAN_RUN) bash tests/run.sh --only=e2e --build=build-thread --bin=build-thread/bin

# The reflink method's long run: 20 snapshots in a row under load on XFS, 6 on btrfs (make test runs 4 and 2).
test-reflink-soak: all
	@REFLINK_ROUNDS=20 TESTS='e2e/test_reflink_snapshot' bash tests/run.sh --build=$(BUILD) --bin=$(BIN) --only=e2e
	@REFLINK_ROUNDS=6 TESTS='e2e/test_reflink_btrfs' bash tests/run.sh --build=$(BUILD) --bin=$(BIN) --only=e2e

check-valgrind: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

demo: deps all
	@bash tests/demo.sh --bin=$(BIN)

# The same from an object store: publish to a radosgw it starts, clonefsd stopped, mount from the store.
demo-store: deps all
	@bash tests/demo_store.sh --bin=$(BIN)

bench: deps all
	@bash tests/bench/run.sh --bin=$(BIN)
	@bash tests/bench/thin.sh --bin=$(BIN)

# libFuzzer targets (clang): FUZZ_SECONDS per target, corpus grows in tests/fuzz/corpus/<target>.
FUZZ_SECONDS ?= 60
fuzz:
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/sbin
	install -m 755 $(BIN)/clonefsd $(BIN)/mount.clonefs $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(BIN)/clonefs $(DESTDIR)$(PREFIX)/bin/
	ln -sf $(PREFIX)/sbin/mount.clonefs $(DESTDIR)/sbin/mount.clonefs
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	for m in $(wildcard docs/man/*.1); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done
	for m in $(wildcard docs/man/*.8); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done

# make deb: the Debian package (debian/, debhelper) in build/deb/, built from a copy of the tree so
# that neither the parent directory (where dpkg-buildpackage leaves its files) nor build/ and bin/
# are touched; rebuilt only when a source, the package's files or this Makefile changed.
DEB_VERSION := $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
DEB_ARCH    := $(shell dpkg --print-architecture 2>/dev/null)
DEB         := build/deb/clonefs_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_TREE    := $(filter-out build build-% bin tests,$(wildcard *)) # all the sources but the tests
deb: $(DEB)
$(DEB): $(shell find $(DEB_TREE) -type f 2>/dev/null)
	@rm -rf build/deb/src && mkdir -p build/deb/src/clonefs
	@cp -a $(DEB_TREE) build/deb/src/clonefs/
	@echo "  DEB     $@"
	@cd build/deb/src/clonefs && dpkg-buildpackage -b -us -uc -jauto >../build.log 2>&1 || { tail -30 ../build.log; exit 1; }
	@rm -f build/deb/clonefs_*.deb
	@mv build/deb/src/clonefs_$(DEB_VERSION)_$(DEB_ARCH).deb $@
	@rm -rf build/deb/src/clonefs

clean:
	rm -rf build build-* bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

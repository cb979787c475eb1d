# Makefile: builds pgmcp and its tests; `make check` is what CI runs.
# Plain GNU make: pkg-config for libpq, json-c and libyaml; libpg_query has no .pc file.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
DOCDIR ?= $(PREFIX)/share/doc/pgmcp
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
DESTDIR ?=

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CC ?= cc
PKGS := libpq json-c yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wpointer-arith -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -DPGMCP_VERSION='"$(VERSION)"' $(WARN) \
	-Icommon -Iserver $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LIBS = $(PKG_LIBS) -lpg_query

BUILD ?= build
COMMON_SRC := $(wildcard common/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
UNIT_SRC := $(wildcard t/unit/*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/server/main.o
UNIT_BIN := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%)

.SECONDARY:

.PHONY: all check check-fast unit asan valgrind interop deps demo install uninstall clean bench

all: $(BUILD)/pgmcp

# Quiet by default; `make V=1` shows the full commands.
Q = $(if $(V),,@)
say = $(if $(V),,@echo "  $(1) $(2)";)

$(BUILD)/pgmcp: $(MAIN_OBJ) $(SERVER_OBJ) $(COMMON_OBJ)
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/t/%.o: t/unit/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -It/unit -c -o $@ $<

$(BUILD)/t/%: $(BUILD)/t/%.o $(SERVER_OBJ) $(COMMON_OBJ)
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

deps:
	@scripts/deps.sh

# Everything CI runs: build, unit tests, integration tests on the normal build, the same
# integration tests on an ASan+UBSan build, a valgrind session, and SDK interop.
check: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@$(MAKE) --no-print-directory BUILD=build/asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" build/asan/pgmcp
	@python3 scripts/run-tests --bin $(BUILD)/pgmcp --asan-bin build/asan/pgmcp \
		--unit $(BUILD)/t $(TESTS)

# The suite on the normal build only (fast inner loop).
check-fast: all $(UNIT_BIN)
	@python3 scripts/run-tests --bin $(BUILD)/pgmcp --unit $(BUILD)/t $(TESTS)

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" build/asan/pgmcp

demo: deps all
	@scripts/demo.sh $(BUILD)/pgmcp

# Benchmarks print figures; they are never pass/fail. See bench/.
bench: deps all
	@bench/run

.PHONY: soak
# The daemon soak for longer (bench/soak; SOAK_SECONDS, default 600): figures and checks.
soak: deps all
	@bench/soak --bin $(BUILD)/pgmcp $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS))

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSCONFDIR)/pgmcp \
		$(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/pgmcp $(DESTDIR)$(BINDIR)/pgmcp
	install -m 0644 man/pgmcp.1 $(DESTDIR)$(MANDIR)/man1/pgmcp.1
	install -m 0644 conf/pgmcp.yaml $(DESTDIR)$(DOCDIR)/pgmcp.yaml.example
	test -e $(DESTDIR)$(SYSCONFDIR)/pgmcp/pgmcp.yaml || \
		install -m 0640 conf/pgmcp.yaml $(DESTDIR)$(SYSCONFDIR)/pgmcp/pgmcp.yaml
	install -m 0644 README.md SECURITY.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in pgmcp.service pgmcp.socket pgmcp-inetd.socket pgmcp-inetd@.service; do \
		sed -e 's|/usr/bin/pgmcp|$(BINDIR)/pgmcp|g' -e 's|/etc/pgmcp/|$(SYSCONFDIR)/pgmcp/|g' \
			systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done

# Deployment checks that need no Docker engine (slow, and root for the rehearsal; not part of
# `make check`): Dockerfile lint, docker-compose.yml, the image's runtime stage rehearsed on a
# debootstrapped Debian root, and the Debian package. See scripts/deploy-check.
.PHONY: deploy-check deb
deploy-check: deps all
	@scripts/deploy-check

# build/pgmcp_<VERSION>_<arch>.deb (dpkg-deb; see scripts/build-deb).
deb: all
	@scripts/build-deb

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgmcp $(DESTDIR)$(MANDIR)/man1/pgmcp.1
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

include fuzz.mk

# fuzz.mk: libFuzzer targets for every parser that reads outside bytes (t/fuzz/fuzz_*.c).
# Included by the Makefile (`make fuzz`), or used alone: `make -f fuzz.mk fuzz-build`.
# Needs clang with libFuzzer (Debian: clang libclang-rt-14-dev; scripts/deps.sh installs them).
#
#   make fuzz                      build, then run each target for FUZZ_SECONDS (default 60)
#   make fuzz FUZZ_TARGETS=http    only some targets
#   make fuzz-build                build only: build/fuzz/fuzz_<target>
#
# Seeds are t/fuzz/corpus/<target>/ (read only); what a run learns goes to
# build/fuzz/corpus/<target>/, crashes to build/fuzz/crashes/. Replay one with
# `build/fuzz/fuzz_<target> build/fuzz/crashes/<target>-crash-...`.

FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)
FUZZ_STANDALONE := $(if $(filter-out fuzz.mk,$(notdir $(MAKEFILE_LIST))),,yes)

FUZZ_CC ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_ALL := $(patsubst t/fuzz/fuzz_%.c,%,$(wildcard t/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)

FUZZ_PKGS := libpq json-c yaml-0.1
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Project code gets coverage instrumentation only; libFuzzer's main is linked into the targets.
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -DPGMCP_VERSION='"$(shell cat VERSION 2>/dev/null || echo 0.0.0)"' \
	-DPGMCP_FUZZING -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	-Icommon -Iserver $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null) \
	-O1 -gline-tables-only $(FUZZ_SAN) -MMD -MP
FUZZ_LIBS = $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) -lpg_query

FUZZ_SRC := $(wildcard common/*.c) $(filter-out server/main.c,$(wildcard server/*.c))
FUZZ_OBJ := $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz_say = $(if $(V),,@echo "  $(1) $(2)";)

.PHONY: fuzz fuzz-build fuzz-clean
.SECONDARY: $(FUZZ_OBJ) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/obj/t/fuzz/fuzz_%.o)

fuzz-build: $(FUZZ_BIN)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call fuzz_say,CC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/obj/t/fuzz/%.o: t/fuzz/%.c
	@mkdir -p $(dir $@)
	$(call fuzz_say,CC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/t/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(call fuzz_say,LINK,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

# Each target in turn, FUZZ_SECONDS each; stops at the first crash (left in build/fuzz/crashes).
fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/crashes
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		dict=; [ -f t/fuzz/$$t.dict ] && dict=-dict=t/fuzz/$$t.dict; \
		echo "  FUZZ $$t ($(FUZZ_SECONDS)s)"; \
		ASAN_OPTIONS=detect_leaks=1:$${ASAN_OPTIONS:-} \
		$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 $$dict \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$t- $(FUZZ_FLAGS) \
			$(FUZZ_BUILD)/corpus/$$t t/fuzz/corpus/$$t 2>$(FUZZ_BUILD)/$$t.log || \
			{ tail -n 60 $(FUZZ_BUILD)/$$t.log; echo "fuzz: $$t failed; see $(FUZZ_BUILD)/$$t.log"; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' $(FUZZ_BUILD)/$$t.log | tail -n 1; \
	done

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/obj/t/fuzz/fuzz_%.d)

# Included in the Makefile: leave its default goal alone (empty = the next rule it defines).
.DEFAULT_GOAL := $(if $(FUZZ_STANDALONE),fuzz-build,$(FUZZ_SAVED_GOAL))

# socklb build. Components only list their sources by directory; the shared
# flags live here. `make` builds build/socklb and build/socklb-syncd.

BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

# SANITIZE=1 builds everything with ASan+UBSan into build-asan/.
ifeq ($(SANITIZE),1)
BUILD := build-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-truncation -D_GNU_SOURCE \
	  -Ibpf -I$(BUILD) $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
LDLIBS += -lbpf -lelf -lz -lcjson -lpthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ibpf \
	      $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH))

LIB_SRCS := $(filter-out %.bpf.c,$(wildcard bpf/*.c))
PLUGIN_SRCS := $(filter-out plugin/main.c,$(wildcard plugin/*.c))
SYNCD_SRCS := $(filter-out pinned-maps-daemon/main.c,$(wildcard pinned-maps-daemon/*.c))
UNIT_TESTS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(wildcard test/unit/test_*.c))
TEST_TOOLS := $(patsubst test/tools/%.c,$(BUILD)/test/tools/%,$(wildcard test/tools/*.c))
BPF_TESTS := $(patsubst test/bpf/%.bpf.c,$(BUILD)/test/%,$(wildcard test/bpf/test_*.bpf.c))

SKELETONS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(wildcard bpf/*.bpf.c))
LIB := $(BUILD)/libsocklb.a
PLUGIN_LIB := $(BUILD)/libplugin.a
SYNCD_LIB := $(BUILD)/libsyncd.a

.PHONY: all deps test test-kernels demo bench fuzz stress lint format clean tests-build
.DELETE_ON_ERROR:

all: $(BUILD)/socklb $(BUILD)/socklb-syncd

deps:
	@bash hack/install-deps.sh

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

# The datapath id names this build's pinned programs: a different datapath
# gets a different id and loads beside the old one.
$(BUILD)/datapath_id.h: $(BUILD)/socklb.bpf.o
	@printf '#define SOCKLB_DATAPATH_HASH "%s"\n' "$$(sha256sum $< | cut -c1-12)" > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/obj/%.o: %.c $(SKELETONS) $(BUILD)/datapath_id.h $(wildcard bpf/*.h plugin/*.h pinned-maps-daemon/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
	$(AR) rcs $@ $^

$(PLUGIN_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(PLUGIN_SRCS))
	$(AR) rcs $@ $^

$(SYNCD_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(SYNCD_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/socklb: $(BUILD)/obj/plugin/main.o $(PLUGIN_LIB) $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/socklb-syncd: $(BUILD)/obj/pinned-maps-daemon/main.o $(SYNCD_LIB) $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcurl -o $@

# Tests ----------------------------------------------------------------------
$(BUILD)/test/%.bpf.o: test/bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/test/%.skel.h: $(BUILD)/test/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

$(BUILD)/test/test_%: test/unit/test_%.c $(PLUGIN_LIB) $(SYNCD_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itest -Iplugin -Ipinned-maps-daemon $< $(PLUGIN_LIB) $(SYNCD_LIB) $(LIB) $(LDFLAGS) $(LDLIBS) -lcurl -lcmocka -o $@

$(BUILD)/test/test_%: test/bpf/test_%.c $(BUILD)/test/test_%.skel.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(BUILD)/test -Itest $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/test/tools/%: test/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itest $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

tests-build: all $(UNIT_TESTS) $(BPF_TESTS) $(TEST_TOOLS)

test: deps
	@$(MAKE) --no-print-directory tests-build
	@BUILD=$(BUILD) bash test/run.sh

# The real-kernel tests on the host's kernel and on Debian's LTS kernels in
# qemu (hack/test-kernels.sh; KERNELS="host debian12" picks some).
test-kernels: deps
	@$(MAKE) --no-print-directory tests-build
	@BUILD=$(BUILD) bash hack/test-kernels.sh $(KERNELS)

demo: deps
	@$(MAKE) --no-print-directory all $(TEST_TOOLS)
	@bash hack/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all $(TEST_TOOLS)
	@bash hack/bench.sh

# Reliability: long fuzzing (hack/fuzz.sh builds the fuzzers itself into
# build/fuzz/; make test runs them briefly through fuzz_smoke.sh) and stress.
FUZZ_SECONDS ?= 600

fuzz: deps
	@bash hack/fuzz.sh $(FUZZ_SECONDS)

stress: deps
	@$(MAKE) --no-print-directory tests-build
	@BUILD=$(BUILD) bash hack/stress.sh

# Lint -------------------------------------------------------------------------
C_SOURCES = $(shell git ls-files '*.c' '*.h')
USER_SOURCES = $(filter-out %.bpf.c %.bpf.h bpf/socklb.h,$(shell git ls-files '*.c'))

# cppcheck does not read libbpf's headers: tell it what their iteration macros are.
CPPCHECK_MACROS = "-Dbpf_object__for_each_program(p,o)=for(p=0;p;)" \
		  "-Dbpf_object__for_each_map(m,o)=for(m=0;m;)" "-DLIBBPF_OPTS(t,n,...)=struct t n = {0}"

lint: $(SKELETONS) $(BUILD)/datapath_id.h $(patsubst test/bpf/%.bpf.c,$(BUILD)/test/%.skel.h,$(wildcard test/bpf/test_*.bpf.c))
	clang-format --dry-run --Werror $(C_SOURCES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem $(CPPCHECK_MACROS) -Ibpf -I$(BUILD) -I$(BUILD)/test \
		-Iplugin -Ipinned-maps-daemon -Itest $(USER_SOURCES)
	clang-tidy --quiet $(USER_SOURCES) -- $(filter-out -Wno-format-truncation,$(CFLAGS)) -Itest -Iplugin -Ipinned-maps-daemon -I$(BUILD)/test

format:
	clang-format -i $(C_SOURCES)

clean:
	rm -rf build build-asan

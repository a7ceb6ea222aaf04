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
# Sources are found by directory: a component's sub-folders are its modules,
# and each folder is on the include path (headers are included by file name).
LIB_SRCS := $(wildcard bpf/lib/*.c)
PLUGIN_SRCS := $(filter-out plugin/main.c,$(wildcard plugin/*.c))
SYNCD_SRCS := $(filter-out pinned-maps-daemon/main.c,$(shell find pinned-maps-daemon -name '*.c' | sort))
SRC_DIRS := bpf $(sort $(patsubst %/,%,$(dir $(LIB_SRCS) $(PLUGIN_SRCS) $(SYNCD_SRCS))))
INCLUDES := $(addprefix -I,$(SRC_DIRS)) -I$(BUILD)
UNIT_SRCS := $(shell find test/unit -name 'test_*.c' | sort)
TEST_INCLUDES := -Itest -Itest/unit

CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-truncation -D_GNU_SOURCE \
	  $(INCLUDES) $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
LDLIBS += -lbpf -lelf -lz -lcjson -lpthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ibpf \
	      $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH))

UNIT_TESTS := $(addprefix $(BUILD)/test/,$(basename $(notdir $(UNIT_SRCS))))
TEST_TOOLS := $(patsubst test/tools/%.c,$(BUILD)/test/tools/%,$(wildcard test/tools/*.c))
# Linked static for the test pods' image (test/cri/containerd.sh): no libraries in it.
STATIC_TEST_TOOLS := $(BUILD)/test/static/slb-pause $(BUILD)/test/static/slb-probe
BPF_TESTS := $(patsubst test/bpf/%.bpf.c,$(BUILD)/test/%,$(wildcard test/bpf/test_*.bpf.c))

SKELETONS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(wildcard bpf/*.bpf.c))

# The plugin lands on every node, whatever its userland (DESIGN.md invariant
# 9): it is linked statically, as a static PIE (still randomised). Debian has
# libbpf.a, libelf.a and libz.a but no libcjson.a: cJSON.c is compiled from
# Debian's source package at libcjson-dev's version (hack/cjson-source.sh).
# ASan does not link statically: the sanitizer build's plugin is dynamic.
ifeq ($(SANITIZE),1)
PLUGIN_LDFLAGS := $(LDFLAGS)
PLUGIN_LDLIBS := $(LDLIBS)
else
PLUGIN_CJSON := $(BUILD)/cjson/cJSON.o
PLUGIN_LDFLAGS := -static-pie $(LDFLAGS)
PLUGIN_LDLIBS := -lbpf -lelf -lz
endif

LIB := $(BUILD)/libsocklb.a
PLUGIN_LIB := $(BUILD)/libplugin.a
SYNCD_LIB := $(BUILD)/libsyncd.a

.PHONY: all deps check-deps check-test-deps test test-kernels demo bench fuzz stress lint format clean tests-build image
.DELETE_ON_ERROR:

all: $(BUILD)/socklb $(BUILD)/socklb-syncd

deps:
	@bash hack/install-deps.sh

# Before the first compile: what is missing, one line each, instead of a compiler error.
check-deps:
	@CC="$(CC)" CLANG="$(CLANG)" BPFTOOL="$(BPFTOOL)" bash hack/check-deps.sh

check-test-deps:
	@CC="$(CC)" CLANG="$(CLANG)" BPFTOOL="$(BPFTOOL)" bash hack/check-deps.sh tests

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) | check-deps
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

# The datapath id names this build's pinned programs: a different datapath
# gets a different id and loads beside the old one.
$(BUILD)/datapath_id.h: $(BUILD)/socklb.bpf.o
	@printf '#define SOCKLB_DATAPATH_HASH "%s"\n' "$$(sha256sum $< | cut -c1-12)" > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

HEADERS := $(wildcard $(addsuffix /*.h,$(SRC_DIRS)))

$(BUILD)/obj/%.o: %.c $(SKELETONS) $(BUILD)/datapath_id.h $(HEADERS) | check-deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
	$(AR) rcs $@ $^

$(PLUGIN_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(PLUGIN_SRCS))
	$(AR) rcs $@ $^

$(SYNCD_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(SYNCD_SRCS))
	$(AR) rcs $@ $^

$(BUILD)/cjson/cJSON.o: $(wildcard /usr/include/cjson/cJSON.h) | check-deps
	@mkdir -p $(@D)
	src=$$(bash hack/cjson-source.sh) && $(CC) -O2 -g -c "$$src/cJSON.c" -o $@

$(BUILD)/socklb: $(BUILD)/obj/plugin/main.o $(PLUGIN_LIB) $(LIB) $(PLUGIN_CJSON)
	$(CC) $(PLUGIN_LDFLAGS) $^ $(PLUGIN_LDLIBS) -o $@

$(BUILD)/socklb-syncd: $(BUILD)/obj/pinned-maps-daemon/main.o $(SYNCD_LIB) $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcurl -lyaml -o $@

# Tests ----------------------------------------------------------------------
$(BUILD)/test/%.bpf.o: test/bpf/%.bpf.c $(wildcard bpf/*.h) | check-test-deps
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/test/%.skel.h: $(BUILD)/test/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

# Unit tests mirror the source layout (test/unit/<component>/...); each
# builds to $(BUILD)/test/<name>.
define unit_test
$(BUILD)/test/$(basename $(notdir $(1))): $(1) $(PLUGIN_LIB) $(SYNCD_LIB) $(LIB) $(wildcard test/unit/*.h $(dir $(1))*.h) | check-test-deps
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(TEST_INCLUDES) $$< $(PLUGIN_LIB) $(SYNCD_LIB) $(LIB) $$(LDFLAGS) $$(LDLIBS) -lcurl -lyaml -lcmocka -o $$@
endef
$(foreach src,$(UNIT_SRCS),$(eval $(call unit_test,$(src))))

$(BUILD)/test/test_%: test/bpf/test_%.c $(BUILD)/test/test_%.skel.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(BUILD)/test $(TEST_INCLUDES) $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

# The plugin linked dynamically, for valgrind: it cannot follow a static glibc's malloc.
$(BUILD)/test/socklb-dynamic: $(BUILD)/obj/plugin/main.o $(PLUGIN_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/test/tools/%: test/tools/%.c $(wildcard test/tools/*.h) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_INCLUDES) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# Without the sanitizers (no static runtime) and without the library (they use none of it).
$(BUILD)/test/static/%: test/tools/%.c $(wildcard test/tools/*.h)
	@mkdir -p $(@D)
	$(CC) $(filter-out $(SAN_FLAGS),$(CFLAGS)) -Itest $< -static -o $@

tests-build: all $(UNIT_TESTS) $(BPF_TESTS) $(TEST_TOOLS) $(STATIC_TEST_TOOLS) $(BUILD)/test/socklb-dynamic

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

# The DaemonSet's image (conf/Dockerfile) as an OCI archive, $(BUILD)/socklb-image.tar:
# root filesystem from Debian packages (mmdebstrap, cached), buildah, no registry.
image: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash hack/image.sh

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
		--suppress=missingIncludeSystem $(CPPCHECK_MACROS) $(INCLUDES) -I$(BUILD)/test \
		$(TEST_INCLUDES) $(USER_SOURCES)
	clang-tidy --quiet $(USER_SOURCES) -- $(filter-out -Wno-format-truncation,$(CFLAGS)) $(TEST_INCLUDES) -I$(BUILD)/test

format:
	clang-format -i $(C_SOURCES)

clean:
	rm -rf build build-asan

# For scripts that build outside make (hack/fuzz.sh): `make -s print-INCLUDES`.
print-%:
	@echo $($*)

# umigame — top-level build. `make` builds everything; `make check` installs
# what is missing, builds and runs every test tier; `make demo` shows the lab.
#
#   make [all]      BPF objects + skeletons, C++ userspace, kernel module
#   make deps       install the Debian packages everything needs (idempotent)
#   make check      deps + build + unit, BPF, netns and VM tests
#   make demo       deps + build + the lab in network namespaces
#   make bench      benchmarks, printed as ratios against a same-run baseline
#
# KDIR= points the module build at other kernel headers (default: Debian's
# 6.1 headers, the kernel the VM tests boot).

BUILD      ?= build
BPF_OUT    := $(BUILD)/bpf
CLANG      ?= clang
BPFTOOL    ?= bpftool
JOBS       ?= $(shell nproc)
KVER       ?= $(shell ls /lib/modules 2>/dev/null | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$$' | sort -V | tail -1)
KDIR       ?= /lib/modules/$(KVER)/build
ARCH_INC   := /usr/include/$(shell uname -m)-linux-gnu

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS  := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.skel.h,$(BPF_SRCS))
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
              -I include -I bpf -idirafter $(ARCH_INC)

.PHONY: all bpf userspace userspace-asan kmod deps ensure-deps bpffs check demo bench clean

all: bpf userspace kmod

deps:
	@tools/deps.sh

ensure-deps:
	@tools/deps.sh --check 2>/dev/null || tools/deps.sh

# The guard and the ESP program pin under /sys/fs/bpf; systemd mounts it on
# a booted Debian, a container or a bare VM may not have.
bpffs:
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

bpf: $(BPF_OBJS) $(BPF_SKELS)

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/umigame/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

# Release build: the CLI and daemons the demo and netns tests run.
userspace: bpf
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DUMIGAME_BPF_DIR=$(abspath $(BPF_OUT)) >/dev/null
	@cmake --build $(BUILD)/release -j $(JOBS)

# Sanitizer build: unit and BPF test-run tests run under ASan/UBSan.
userspace-asan: bpf
	@cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DUMIGAME_SANITIZE=ON \
		-DUMIGAME_BPF_DIR=$(abspath $(BPF_OUT)) >/dev/null
	@cmake --build $(BUILD)/asan -j $(JOBS)

kmod:
	@$(MAKE) -C kmod KDIR=$(KDIR) BUILD=$(abspath $(BUILD))

check: ensure-deps bpffs
	@$(MAKE) --no-print-directory all userspace-asan
	@tools/check.sh

demo: ensure-deps bpffs
	@$(MAKE) --no-print-directory bpf userspace kmod
	@tools/demo.sh

bench: ensure-deps bpffs
	@$(MAKE) --no-print-directory bpf userspace kmod
	@tools/bench/run.sh

clean:
	rm -rf $(BUILD)
	@$(MAKE) -C kmod clean KDIR=$(KDIR) >/dev/null 2>&1 || true

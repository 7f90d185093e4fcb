# SPDX-License-Identifier: GPL-2.0-only
#
# Lazy MMU nesting test suite.  Kernel-module conventions first:
#   make [KDIR=...] [ARCH=... CROSS_COMPILE=... LLVM=1 W=1 C=1]
# builds kmod/lazy_mmu_test.ko (and kunit/lazy_mmu_nesting_kunit.ko when
# KDIR has KUnit) against KDIR.  `make help` lists the other targets.

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(shell pwd)

# Passed through to the kernel's build when set.
KBUILD_PASS := $(foreach v,ARCH CROSS_COMPILE LLVM W C,$(if $($(v)),$(v)=$($(v))))

# Lanes for `make run` and `make mutate`: names from the lane table
# (scripts/lanes; empty: the lanes it marks default).  GUEST_ARCH is the
# old spelling of LANE.  KERNEL_VERSION=pin (each lane's pinned kernel,
# lanes.json) or newest|7.2|6.12|7.3.4+deb13 to follow the mirror.
GUEST_ARCH ?=
LANE ?= $(GUEST_ARCH)
KERNEL_VERSION ?= pin

MUTANTS ?= mutants
KUNIT_ARCH ?= x86_64 arm64

.PHONY: all modules clean help run check check-newest lanes mutate kunit gate bench

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) $(KBUILD_PASS) modules

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || \
		find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \
		-o -name 'lmm_api.h' -o -name modules.order -o -name Module.symvers \) -delete

run:
	scripts/run --kernel $(KERNEL_VERSION) $(LANE)

check:
	scripts/check

check-newest:
	scripts/check-newest

lanes:
	@scripts/lanes

kunit:
	scripts/kunit $(foreach a,$(KUNIT_ARCH),--arch $(a)) $(if $(KSRC),--ksrc $(KSRC))

bench:
	scripts/bench $(foreach a,$(LANE),--lane $(a))

mutate:
	scripts/mutate $(if $(TREE),--tree $(TREE),$(foreach a,$(LANE),--lane $(a)) --kernel $(KERNEL_VERSION)) $(MUTANTS)

gate:
	$(if $(SERIES),,$(error SERIES=<patch dir|mbox|git range> is required))
	scripts/gate $(if $(KSRC),--ksrc $(KSRC)) $(SERIES)

help:
	@echo 'Targets:'
	@echo '  modules (default)  build the test modules against KDIR=$(KDIR)'
	@echo '                     (ARCH, CROSS_COMPILE, LLVM=1, W=1, C=1 passed through)'
	@echo '  run                run the suite on Debian kernels under QEMU'
	@echo '                     LANE="$(LANE)" (lane names: make lanes; empty: the default lanes)'
	@echo '                     KERNEL_VERSION=$(KERNEL_VERSION) (pin: the kernels lanes.json pins)'
	@echo '  lanes              print the lane table and its pinned kernels'
	@echo '  check              everything CI gates on (make run, self-tests, mutants), on the pins'
	@echo '  check-newest       the newest lanes on the newest kernels the mirror serves; pins behind'
	@echo '  mutate             mutation harness: MUTANTS=$(MUTANTS) LANE="$(LANE)"'
	@echo '                     TREE=x86_64|arm64|powerpc: on the kunit.py debug kernel, beside upstream'"'"'s test'
	@echo '  bench              where the time goes: warm run split per lane, sweep vs boot-per-mutant, make check steps'
	@echo '  kunit              kunit.py lane on a debug kernel: KUNIT_ARCH="$(KUNIT_ARCH)" [KSRC=tree]'
	@echo '  gate               gate a patch series: SERIES=<patch dir|mbox|git range> [KSRC=tree]'
	@echo '  clean              remove build products'
	@echo 'Results of `make run` go to out/<run>/ (KTAP, JSON, JUnit, console logs).'

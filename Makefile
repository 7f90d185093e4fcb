# SPDX-License-Identifier: GPL-2.0-only
#
# Lazy MMU nesting test suite.  Kernel-module conventions first:
#   make [KDIR=...] [ARCH=... CROSS_COMPILE=... LLVM=1 W=1 C=1]
# builds kmod/lazy_mmu_test.ko (and kunit/lazy_mmu_nesting_kunit.ko when
# KDIR has KUnit) against KDIR.  `make help` lists the other targets.

KDIR ?= /lib/modules/$(shell uname -r)/build

# Passed through to the kernel's build when set.
KBUILD_PASS := $(foreach v,ARCH CROSS_COMPILE LLVM W C,$(if $($(v)),$(v)=$($(v))))

# Lanes for `make run`, `make kunit` and `make mutate`: names from the
# lane table (scripts/lanes; empty: the lanes it marks default).
# GUEST_ARCH is the old spelling of LANE, KUNIT_ARCH (a build: x86_64,
# arm64, powerpc, powerpc-4k) picks every lane of a kunit.py build.
# Which kernel: KERNEL=pin (each lane's pinned kernel or linux-source,
# lanes.json), newest|7.2|6.12|7.3.4+deb13 to follow the mirror, or a
# kernel tree of your own (make kunit, make gate).  KERNEL_VERSION and
# KSRC are its old spellings.
GUEST_ARCH ?=
LANE ?= $(GUEST_ARCH)
KERNEL_VERSION ?= pin
KERNEL ?= $(if $(KSRC),$(KSRC),$(KERNEL_VERSION))

MUTANTS ?= mutants
KUNIT_ARCH ?=

# $(call q,VALUE): VALUE as one shell word, whatever it holds (a value
# given on the command line is data, never shell syntax); $(call qs,LIST):
# each word of LIST so.
q = '$(subst ','"'"',$(1))'
qs = $(foreach w,$(1),$(call q,$(w)))

# Installing on a test VM: the runner (PREFIX/bin/lazy_mmu_test.sh) and
# its kselftest layout (PREFIX/lib/lazy-mmu-tests/kselftest: add it to a
# kselftest install, or run run_kselftest.sh there); the module sources
# for DKMS (/usr/src/lazy-mmu-tests-VERSION); DESTDIR for packaging.
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog 2>/dev/null)
KSFT_DIR := $(PREFIX)/lib/lazy-mmu-tests/kselftest
DKMS_NAME := lazy-mmu-tests
DKMS_DIR := /usr/src/$(DKMS_NAME)-$(VERSION)
# What DKMS builds from: the module trees, the top Kbuild, detect-api.
DKMS_FILES := Kbuild scripts/detect-api kmod/Kbuild $(wildcard kmod/*.c) \
	kunit/Kbuild kunit/Kconfig $(wildcard kunit/*.c kunit/*.kunitconfig) \
	scenarios/Kbuild.include $(wildcard scenarios/*.c scenarios/*.h)

.PHONY: all modules clean help run check check-newest lanes mutate mutate-kernel kunit gate bench
.PHONY: install install-src dkms-install dkms-uninstall

all: modules

modules:
	$(MAKE) -C $(call q,$(KDIR)) M=$(call q,$(CURDIR)) $(call qs,$(KBUILD_PASS)) modules

clean:
	$(MAKE) -C $(call q,$(KDIR)) M=$(call q,$(CURDIR)) clean 2>/dev/null || \
		find . \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \
		-o -name 'lmm_api.h' -o -name modules.order -o -name Module.symvers \) -delete

run:
	scripts/run --kernel $(call q,$(KERNEL)) $(call qs,$(LANE))

check:
	scripts/check $(if $(CHECK_JOBS),--jobs $(call q,$(CHECK_JOBS)))

check-newest:
	scripts/check-newest

lanes:
	@scripts/lanes

kunit:
	scripts/kunit --kernel $(call q,$(KERNEL)) $(foreach a,$(KUNIT_ARCH),--arch $(call q,$(a))) $(call qs,$(LANE))

bench:
	scripts/bench $(foreach a,$(LANE),--lane $(call q,$(a)))

mutate:
	scripts/mutate $(if $(TREE),--tree $(call q,$(TREE)),$(foreach a,$(LANE),--lane $(call q,$(a))) --kernel $(call q,$(KERNEL))) $(call qs,$(MUTANTS))

# The kernel-code mutants (mutants/kernel/), each on a kunit.py kernel
# rebuilt with it: arm64 as built; x86_64 with series/xen-pv-lazy-mmu.mbox
# applied and its Xen PV dom0 lane (where PTE writes are deferred).
mutate-kernel:
	rc=0; \
	scripts/mutate --tree arm64 --rebuild mutants/kernel/ || rc=1; \
	scripts/mutate --tree x86_64 --rebuild --xen --known-failures \
		--series xen-pv-lazy-mmu.mbox mutants/kernel/ || rc=1; \
	exit $$rc

gate:
	$(if $(SERIES),,$(error SERIES=<patch dir|mbox|git range> is required))
	scripts/gate --kernel $(call q,$(KERNEL)) $(if $(EACH),--each) $(call q,$(SERIES))

install:
	install -D -m 755 runner/lazy_mmu_test.sh $(call q,$(DESTDIR)$(KSFT_DIR)/lazy_mmu/lazy_mmu_test.sh)
	install -D -m 644 runner/settings $(call q,$(DESTDIR)$(KSFT_DIR)/lazy_mmu/settings)
	install -D -m 644 runner/kselftest-list.txt $(call q,$(DESTDIR)$(KSFT_DIR)/kselftest-list.txt)
	install -d $(call q,$(DESTDIR)$(PREFIX)/bin)
	ln -sf ../lib/lazy-mmu-tests/kselftest/lazy_mmu/lazy_mmu_test.sh $(call q,$(DESTDIR)$(PREFIX)/bin/lazy_mmu_test.sh)

install-src:
	$(if $(VERSION),,$(error no version in debian/changelog))
	for f in $(DKMS_FILES); do install -D -m 644 "$$f" $(call q,$(DESTDIR)$(DKMS_DIR))/"$$f" || exit 1; done
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf > $(call q,$(DESTDIR)$(DKMS_DIR)/dkms.conf)

# DKMS on this machine: the sources added, the module built and installed
# for every kernel whose headers are installed (later kernels: DKMS's
# own hooks, AUTOINSTALL), and the runner.
dkms-install: install-src install
	$(if $(VERSION),,$(error no version in debian/changelog))
	@# Added already (a second dkms-install) is fine; any other failure says why.
	dkms status $(DKMS_NAME)/$(VERSION) | grep -q . || dkms add $(DKMS_NAME)/$(VERSION)
	for k in /lib/modules/*/build; do [ -e "$$k/Makefile" ] || continue; k=$${k%/build}; \
		dkms install $(DKMS_NAME)/$(VERSION) -k "$${k##*/}" || exit 1; done

dkms-uninstall:
	$(if $(VERSION),,$(error no version in debian/changelog))
	dkms remove $(DKMS_NAME)/$(VERSION) --all
	rm -rf $(call q,$(DKMS_DIR)) $(call q,$(DESTDIR)$(KSFT_DIR)) $(call q,$(DESTDIR)$(PREFIX)/bin/lazy_mmu_test.sh)

help:
	@echo 'Targets:'
	@echo '  modules (default)  build the test modules against KDIR=$(KDIR)'
	@echo '                     (ARCH, CROSS_COMPILE, LLVM=1, W=1, C=1 passed through)'
	@echo '  run                run the suite on Debian kernels under QEMU'
	@echo '                     LANE="$(LANE)" (lane names: make lanes; empty: the default lanes)'
	@echo '                     KERNEL=$(KERNEL) (pin: the kernels lanes.json pins; newest, 7.2, ...)'
	@echo '  lanes              print the lane table and its pinned kernels'
	@echo '  check              everything CI gates on (make run, self-tests, mutants), on the pins;'
	@echo '                     CHECK_JOBS=N steps side by side (default: one per two cores)'
	@echo '  check-newest       the newest lanes on the newest kernels the mirror serves; pins behind'
	@echo '  mutate             mutation harness: MUTANTS=$(MUTANTS) LANE="$(LANE)"'
	@echo '                     TREE=x86_64|arm64|powerpc: on the kunit.py debug kernel, beside upstream'"'"'s test'
	@echo '  mutate-kernel      the kernel-code mutants (mutants/kernel/) on rebuilt arm64 and x86_64 kernels'
	@echo '  bench              where the time goes: warm run split per lane, sweep vs boot-per-mutant, make check steps'
	@echo '  kunit              kunit.py lanes on a debug kernel: LANE="kunit-..." or KUNIT_ARCH=<build>'
	@echo '                     [KERNEL=pin|7.2|newest|<kernel tree>]'
	@echo '  gate               gate a patch series: SERIES=<patch dir|mbox|git range> [KERNEL=<base tree>]'
	@echo '                     EACH=1: patch by patch, what each patch changes on its own'
	@echo '  install            the runner lazy_mmu_test.sh and its kselftest layout (PREFIX=$(PREFIX), DESTDIR)'
	@echo '  install-src        the module sources for DKMS in $(DKMS_DIR)'
	@echo '  dkms-install       install-src, install, then dkms builds and installs the module for every kernel with headers'
	@echo '  dkms-uninstall     dkms remove, and what dkms-install installed'
	@echo '  clean              remove build products'
	@echo 'Results of `make run` go to out/<run>/ (KTAP, JSON, JUnit, console logs).'

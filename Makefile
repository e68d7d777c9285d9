# SPDX-License-Identifier: GPL-2.0
#
# kvm-pageflip top-level Makefile.
#
#   make                 module (against KDIR) + CLI + selftests
#   make module          the module and its guest driver; KDIR=/path/to/kernel/build
#   make test            every kselftest in the test VM, on every supported kernel
#   make demo            the main job: a guest watching pages flipped into it
#   make bench           flip against copy, batch against single (test VM)
#   make check           static checks (sparse, checkpatch, clang-format)
#   make qemu            QEMU with the kvm-pageflip device, and the test VM's QEMU
#                        (tools/qemu/build.sh, tools/qemu/build.sh --test-vm)
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
CURDIR_ABS := $(abspath $(CURDIR))

.PHONY: all module tools selftests test demo bench check qemu clean install

all: module tools selftests

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR_ABS) W=1 modules

tools:
	$(MAKE) -C tools

selftests:
	$(MAKE) -C selftests

test:
	selftests/vm/run.sh test

demo:
	selftests/vm/run.sh demo

bench:
	selftests/vm/run.sh bench

check:
	scripts/check.sh

qemu:
	tools/qemu/build.sh
	tools/qemu/build.sh --test-vm

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR_ABS) modules_install

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR_ABS) clean 2>/dev/null
	$(MAKE) -C tools clean
	$(MAKE) -C selftests clean
	rm -rf build

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# What the test VM needs to run L2 Linux guests with the kvm-pageflip
# device, as a directory to merge into its initramfs:
#
#   /e2e/lib.sh, /e2e/demo    the test's and the demo's shared functions,
#                             and the demo of L2 guests (demo.sh)
#   /e2e/qemu-system-x86_64   the QEMU tools/qemu/build.sh built, with the
#                             shared libraries ldd names and the firmware it
#                             loads, each at its own path
#   /e2e/l2/vmlinuz           the L2 guests' kernel
#   /e2e/l2/initrd.cpio       busybox, l2-init, l2-report, l2-reset,
#                             kvm-pageflip-net.ko for that kernel, ethtool
#   /e2e/l2/kver, /e2e/l2/cpu the L2 kernel's release and the -cpu model the
#                             L2 guests run with (L2_CPU below)
#   /etc/passwd, /etc/group   an unprivileged user kpf, in group kvm, for
#                             QEMU to run as
#
#   payload.sh OUT L2LABEL QEMU
#
# OUT      the directory to (re)create
# L2LABEL  the label of the guests' kernel (kernels.list); its guest driver
#          is built if it is not yet
# QEMU     the qemu-system-x86_64 with the device

set -euo pipefail
KPF_PROG=e2e-payload
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"

HERE=$KPF_REPO/selftests/e2e
# The L2 guests' CPU has no XSAVE: QEMU's TCG, which runs the test VM, does
# not let the test VM's KVM intercept XSETBV, so an L2 kernel's XSETBV would
# go past KVM, whose XSAVE sizes would then be wrong.  Nor has it what needs
# XSAVE (AVX, AVX2, FMA, F16C), which a 7.3 kernel would otherwise use and
# die of (Documentation/testing.rst, "L2 guests in the test VM").
L2_CPU=host,-xsave,-avx,-avx2,-fma,-f16c
FIRMWARE="/usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin
	/usr/share/qemu/linuxboot_dma.bin"

# l2_initramfs OUT KO
l2_initramfs() {
	local stage=$1.d
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
	cp /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$HERE/l2-init" "$stage/init"
	install -m 0755 "$HERE/l2-report" "$HERE/l2-reset" "$stage/"
	install -m 0644 "$KPF_REPO/selftests/vm/log-bad.txt" \
		"$KPF_REPO/selftests/vm/log-expected.txt" "$stage/"
	install -m 0644 "$2" "$stage/kvm-pageflip-net.ko"
	install -m 0755 /usr/sbin/ethtool "$stage/usr/sbin/ethtool"
	# shellcheck disable=SC2046
	copy_with_path "$stage" $(shared_libs /usr/sbin/ethtool)
	cpio_of "$stage" "$1"
	rm -rf "$stage"
}

main() {
	local out=$1 l2label=$2 qemu=$3 line label kver kdir vmlinuz modroot root ko

	[ -x "$qemu" ] || die "$qemu: no such QEMU (make qemu builds it)"
	[ -x /usr/sbin/ethtool ] || die "/usr/sbin/ethtool is missing (selftests/vm/setup.sh installs it)"
	line=$(KPF_KERNELS=$l2label kernels_selected)
	IFS=$'\t' read -r label kver kdir vmlinuz modroot root <<<"$line"
	ko=$KPF_BUILD/kernels/$kver/kvm-pageflip-net.ko
	[ -f "$ko" ] || KPF_KERNELS=$l2label "$KPF_REPO/selftests/vm/build-module.sh"

	rm -rf "$out"
	mkdir -p "$out/e2e/l2" "$out/etc"
	install -m 0644 "$HERE/lib.sh" "$out/e2e/lib.sh"
	install -m 0755 "$HERE/demo.sh" "$out/e2e/demo"
	install -m 0755 "$qemu" "$out/e2e/qemu-system-x86_64"
	# shellcheck disable=SC2046,SC2086
	copy_with_path "$out" $(shared_libs "$qemu") $FIRMWARE
	install -m 0644 "$vmlinuz" "$out/e2e/l2/vmlinuz"
	l2_initramfs "$out/e2e/l2/initrd.cpio" "$ko"
	printf 'root:x:0:0:root:/:/bin/sh\nkpf:x:1000:1000:kpf:/tmp:/bin/sh\n' >"$out/etc/passwd"
	printf 'root:x:0:\nkvm:x:104:kpf\nkpf:x:1000:\n' >"$out/etc/group"
	echo "$kver" >"$out/e2e/l2/kver"
	echo "$L2_CPU" >"$out/e2e/l2/cpu"
}

main "$@"

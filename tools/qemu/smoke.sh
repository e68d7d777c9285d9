#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the QEMU device: the test VM (L1, QEMU/TCG with nested SVM
# in the QEMU of `build.sh --test-vm`, as in selftests/vm/run.sh) runs the
# QEMU that tools/qemu/build.sh built, with an L2 Linux guest and -device
# kvm-pageflip; the L2 guest checks the device from userspace
# (smoke-l2-init), L1 checks the module's side (smoke-l1-init).  Prints the
# checks, "@@smoke ok|fail WHAT", and exits non-zero when one failed or the
# run did not finish.
#
#   tools/qemu/smoke.sh        (as root; KPF_SMOKE_KERNEL=6.1 for another
#                               kernel than 6.12, V=1 for the console live)
#
# The L1 initramfs is the test VM's (selftests/vm/initramfs.sh: busybox, the
# kernel's modules, kvm-pageflip.ko, the CLI) with what the end-to-end test
# adds (selftests/e2e/payload.sh: this QEMU with its libraries and
# firmware, the same kernel as L2 kernel, the user kpf), and this test's L2
# initramfs (busybox and smoke-l2-init).  L1 has one vCPU, as for
# kpf_e2e_test (Documentation/testing.rst, "L2 guests in the test VM").

set -euo pipefail
KPF_PROG=qemu-smoke
. "$(dirname "${BASH_SOURCE[0]}")/../../selftests/vm/lib.sh"

HERE=$KPF_REPO/tools/qemu
CLI=$KPF_REPO/tools/kvm-pageflip
TIMEOUT=${KPF_SMOKE_TIMEOUT:-900}

# l2_initramfs OUT: busybox and smoke-l2-init.
l2_initramfs() {
	local stage=$1.d
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev}
	cp /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$HERE/smoke-l2-init" "$stage/init"
	cpio_of "$stage" "$1"
}

# l1_initramfs OUT KVER MODROOT KO LABEL QEMU
l1_initramfs() {
	local out=$1 kver=$2 modroot=$3 ko=$4 label=$5 qemu=$6 stage=$1.d
	"$KPF_REPO/selftests/e2e/payload.sh" "$out.payload" "$label" "$qemu"
	KPF_INITRAMFS_EXTRA=$out.payload "$KPF_REPO/selftests/vm/initramfs.sh" \
		"$out" "$kver" "$modroot" "$ko" test 60 "$CLI" -
	install -m 0755 "$HERE/smoke-l1-init" "$stage/init"
	mkdir -p "$stage/l2"
	l2_initramfs "$stage/l2/initrd.cpio"
	rm -rf "$stage/l2/initrd.cpio.d" "$out.payload"
	cpio_of "$stage" "$out"
}

main() {
	local label=${KPF_SMOKE_KERNEL:-6.12} line kver kdir vmlinuz modroot root
	local ko qemu l1_qemu out status=0

	[ "$(id -u)" = 0 ] || die "must run as root (like selftests/vm/run.sh)"
	line=$(KPF_KERNELS=$label kernels_selected)
	IFS=$'\t' read -r label kver kdir vmlinuz modroot root <<<"$line"
	out=$KPF_BUILD/qemu-smoke/$kver
	mkdir -p "$out"

	say "building kvm-pageflip.ko for $kver, the CLI and QEMU"
	KPF_KERNELS=$label "$KPF_REPO/selftests/vm/build-module.sh"
	ko=$KPF_BUILD/kernels/$kver/kvm-pageflip.ko
	logged "$out/build.log" make -C "$KPF_REPO/tools"
	qemu=$("$HERE/build.sh" | tail -n 1)
	l1_qemu=$("$HERE/build.sh" --test-vm | tail -n 1)

	say "building the L1 and L2 initramfs"
	l1_initramfs "$out/initramfs.cpio" "$kver" "$modroot" "$ko" "$label" "$qemu"

	say "$kver: booting the test VM (log: $out/console.log)"
	timeout -k 10 "$TIMEOUT" "$l1_qemu" \
		-accel tcg,thread=single -machine q35 -cpu EPYC,+svm,+npt -smp 1 -m 2G \
		-nographic -no-reboot -nodefaults -monitor none \
		-netdev hubport,id=uplink,hubid=0 \
		-device e1000e,netdev=uplink,mac=52:54:00:6b:70:02,addr=0x4 \
		-netdev hubport,id=sender,hubid=0 \
		-device e1000e,netdev=sender,mac=52:54:00:6b:70:03,addr=0x5 \
		-serial file:"$out/console.log" \
		-kernel "$vmlinuz" -initrd "$out/initramfs.cpio" \
		-append "console=ttyS0 panic=-1" </dev/null >"$out/qemu.log" 2>&1 &
	if [ "${V:-0}" = 1 ]; then
		tail -n +1 -f --pid=$! "$out/console.log"
	fi
	wait $! || status=$?
	tr -d '\r' <"$out/console.log" | grep -a '^@@smoke' || :
	line=$(tr -d '\r' <"$out/console.log" | grep -a '^@@smoke end' || :)
	[ -n "$line" ] || die "the test VM did not finish (status $status; see $out/console.log)"
	read -r _ _ passed failed <<<"$line"
	say "$kver: $passed passed, $failed failed"
	[ "$failed" = 0 ]
}

main "$@"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the QEMU device: the test VM (L1, QEMU/TCG with nested SVM,
# as in selftests/vm/run.sh) runs the QEMU that tools/qemu/build.sh built,
# with an L2 Linux guest and -device kvm-pageflip; the L2 guest checks the
# device from userspace (smoke-l2-init), L1 checks the module's side
# (smoke-l1-init).  Prints the checks, "@@smoke ok|fail WHAT", and exits
# non-zero when one failed or the run did not finish.
#
#   tools/qemu/smoke.sh        (as root; KPF_SMOKE_KERNEL=6.1 for another
#                               kernel than 6.12, V=1 for the console live)
#
# The L1 initramfs is the test VM's (selftests/vm/initramfs.sh: busybox, the
# kernel's modules, kvm-pageflip.ko, the CLI) plus this QEMU with the shared
# libraries ldd names, the firmware it loads (SeaBIOS, linuxboot_dma.bin,
# kvmvapic.bin), the same kernel as L2 kernel and the L2 initramfs
# (busybox and smoke-l2-init).

set -euo pipefail
KPF_PROG=qemu-smoke
. "$(dirname "${BASH_SOURCE[0]}")/../../selftests/vm/lib.sh"

HERE=$KPF_REPO/tools/qemu
CLI=$KPF_REPO/tools/kvm-pageflip
FIRMWARE="/usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin
	/usr/share/qemu/linuxboot_dma.bin"
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

# l1_initramfs OUT KVER MODROOT KO VMLINUZ QEMU
l1_initramfs() {
	local out=$1 kver=$2 modroot=$3 ko=$4 vmlinuz=$5 qemu=$6 stage=$1.d libs
	"$KPF_REPO/selftests/vm/initramfs.sh" "$out" "$kver" "$modroot" "$ko" test 60 "$CLI" -
	install -m 0755 "$HERE/smoke-l1-init" "$stage/init"
	install -D -m 0755 "$qemu" "$stage/qemu/qemu-system-x86_64"
	libs=$(shared_libs "$qemu")
	# shellcheck disable=SC2086
	copy_with_path "$stage" $libs $FIRMWARE
	install -D -m 0644 "$vmlinuz" "$stage/l2/vmlinuz"
	l2_initramfs "$stage/l2/initrd.cpio"
	rm -rf "$stage/l2/initrd.cpio.d"
	mkdir -p "$stage/etc"
	printf 'root:x:0:0:root:/:/bin/sh\nkpf:x:1000:1000:kpf:/tmp:/bin/sh\n' >"$stage/etc/passwd"
	printf 'root:x:0:\nkvm:x:104:kpf\nkpf:x:1000:\n' >"$stage/etc/group"
	cpio_of "$stage" "$out"
}

main() {
	local label=${KPF_SMOKE_KERNEL:-6.12} line kver kdir vmlinuz modroot root
	local ko qemu out status=0

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

	say "building the L1 and L2 initramfs"
	l1_initramfs "$out/initramfs.cpio" "$kver" "$modroot" "$ko" "$vmlinuz" "$qemu"

	say "$kver: booting the test VM (log: $out/console.log)"
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=single -machine q35 -cpu EPYC,+svm,+npt -smp 2 -m 2G \
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

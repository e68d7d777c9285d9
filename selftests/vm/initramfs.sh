#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the initramfs of the test VM for one kernel: busybox-static, /init
# (selftests/vm/init), the kernel's modules for KVM and networking with
# their dependencies (decompressed, so that busybox can load them, with a
# modules.dep from depmod), kvm-pageflip.ko as an extra module, the CLI, and
# the selftest programs (test mode) or the demo (demo mode).
#
#   initramfs.sh OUT KVER MODROOT KO MODE TIMEOUT CLI DEMO [TEST...]
#
# OUT      the cpio archive to write
# MODROOT  directory holding lib/modules/KVER
# KO       kvm-pageflip.ko built for KVER
# MODE     test, demo or bench
# TIMEOUT  seconds each program may run inside the VM; KPF_PROGRAM_TIMEOUTS
#          (NAME=SECONDS words) sets it for single programs
# CLI      the kvm-pageflip CLI (static)
# DEMO     the demo or the benchmark program (static; unused in test mode;
#          "-" for none: the demo's L2 boot runs only /e2e/demo)
# TEST     the selftest programs (static, or busybox sh scripts; test mode)
#
# KPF_INITRAMFS_EXTRA names a directory whose contents are added as they are
# (the L2 guests' payload, selftests/e2e/payload.sh).

set -euo pipefail
KPF_PROG=initramfs
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Loaded by /init: kvm_amd and the drivers of the NICs run.sh gives the VM
# (virtio_pci brings the virtio core modules of 6.1), and 8021q.  Shipped
# for the selftests to modprobe: the virtual netdevs.
VM_MODULES="kvm_amd e1000e virtio_pci virtio_net veth tun 8021q macvlan"

# require_static FILE: busybox's initramfs has no dynamic loader; a script
# must be one for busybox.
require_static() {
	[ -x "$1" ] || die "$1 is missing or not executable"
	if [ "$(head -c 2 "$1")" = "#!" ]; then
		[ "$(head -n 1 "$1")" = "#!/bin/busybox sh" ] ||
			die "$1: the test VM runs scripts only with #!/bin/busybox sh"
	elif readelf -l "$1" | grep -q 'program interpreter'; then
		die "$1 is dynamically linked; the test VM needs static binaries"
	fi
}

# add_module STAGE SRC DEST: SRC (maybe compressed) as the plain DEST.
add_module() {
	mkdir -p "$(dirname "$1/$3")"
	case $2 in
	*.xz) xz -dc "$2" >"$1/$3" ;;
	*.zst) zstd -dcq "$2" >"$1/$3" ;;
	*.gz) gzip -dc "$2" >"$1/$3" ;;
	*) cp "$2" "$1/$3" ;;
	esac
}

# add_modules STAGE KVER MODROOT KO: VM_MODULES with their dependencies
# (as modules.dep lists them) and KO, then depmod for busybox's modprobe.
add_modules() {
	local stage=$1 kver=$2 modroot=$3 ko=$4 dir=lib/modules/$2 name path
	for name in $VM_MODULES; do
		modprobe -d "$modroot" -S "$kver" --show-depends "$name" ||
			die "$kver has no module $name"
	done | awk '$1 == "insmod" { print $2 }' | sort -u | while read -r path; do
		path=${path#"$modroot/$dir/"}
		add_module "$stage" "$modroot/$dir/$path" "$dir/${path%.ko*}.ko"
	done
	cp "$modroot/$dir"/modules.builtin* "$modroot/$dir/modules.order" "$stage/$dir/"
	add_module "$stage" "$ko" "$dir/extra/kvm-pageflip.ko"
	depmod -b "$stage" "$kver"
}

main() {
	local out=$1 kver=$2 modroot=$3 ko=$4 mode=$5 timeout=$6 cli=$7 demo=$8 stage t names=
	shift 8
	stage=$out.d

	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,kpf/tests}
	cp /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$KPF_REPO/selftests/vm/init" "$stage/init"
	# For the checks of L2 guests' kernel logs (report.awk's patterns).
	install -D -m 0644 "$KPF_REPO/selftests/vm/log-bad.txt" \
		"$KPF_REPO/selftests/vm/log-expected.txt" -t "$stage/kpf/"
	add_modules "$stage" "$kver" "$modroot" "$ko"

	require_static "$cli"
	cp "$cli" "$stage/usr/bin/kvm-pageflip"
	if [ "$mode" != test ] && [ "$demo" != - ]; then
		require_static "$demo"
		cp "$demo" "$stage/demo"
	fi
	for t; do
		require_static "$t"
		cp "$t" "$stage/kpf/tests/"
		names+=" ${t##*/}"
	done
	[ -z "${KPF_INITRAMFS_EXTRA:-}" ] || cp -a "$KPF_INITRAMFS_EXTRA/." "$stage/"
	printf 'KPF_MODE=%s\nKPF_TIMEOUT=%s\nKPF_TIMEOUTS="%s"\nKPF_TESTS="%s"\n' \
		"$mode" "$timeout" "${KPF_PROGRAM_TIMEOUTS:-}" "${names# }" >"$stage/kpf/config"
	# The fuzzer's, the soak's and the end-to-end test's settings
	# (KPF_FUZZ_SEED, KPF_SOAK_FRAMES, KPF_E2E_BOOT_LOOP and the like)
	# reach them as they are.
	env | grep -E '^KPF_(FUZZ|SOAK|E2E)_[A-Z_]+=[0-9A-Za-z]*$' | sed 's/^/export /' >>"$stage/kpf/config" || :

	cpio_of "$stage" "$out"
}

main "$@"

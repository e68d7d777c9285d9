#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build kvm-pageflip.ko and the guest driver kvm-pageflip-net.ko for every
# kernel prepared by setup.sh (or those named in KPF_KERNELS) with W=1,
# failing on any compiler or modpost warning.
# The sources (top-level Kbuild, kvm-pageflip/, guest/, include/) are copied to
# build/kernels/KVER/src (for a kernel built in a chroot, that same path
# inside the chroot, so that every clone of the repository has its own); the
# modules land in build/kernels/KVER/ and the build log in
# build/logs/KVER/build.log.
#
#   selftests/vm/build-module.sh     (KPF_KERNELS="6.1 7.3", V=1 verbose)

set -euo pipefail
KPF_PROG=build
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KOS=(kvm-pageflip/kvm-pageflip.ko guest/kvm-pageflip-net.ko)

# copy_sources DEST: the module's sources into DEST.  Contents, not times,
# decide what is copied, so that make rebuilds exactly what changed; build
# products (.gitignore) stay in DEST for the next incremental build.
copy_sources() {
	mkdir -p "$1"
	rsync -r --checksum --delete --filter=':- .gitignore' \
		--include=/Kbuild --include='/kvm-pageflip/***' --include='/guest/***' \
		--include='/include/***' \
		--exclude='*' "$KPF_REPO/" "$1/"
}

# build_one KVER KDIR CHROOT: build the module for one kernel.
build_one() {
	local kver=$1 kdir=$2 root=$3 src out log ko
	out=$KPF_BUILD/kernels/$kver
	src=$out/src
	log=$KPF_BUILD/logs/$kver/build.log
	mkdir -p "$out" "${log%/*}"
	for ko in "${KOS[@]}"; do
		rm -f "$out/${ko##*/}"
	done

	say "$kver: make -C $kdir M=$src W=1 modules$(in_root "$root")"
	copy_sources "${root#-}$src"
	: >"$log"
	if ! run_logged "$log" in_chroot "$root" make -C "$kdir" M="$src" W=1 -j"$(nproc)" modules ||
		grep -qi 'warning:' "$log"; then
		grep -i -B2 -A4 'warning:\|error' "$log" | head -n 60 >&2 || tail -n 30 "$log" >&2
		# Start from scratch next time: an object that built with a
		# warning must not be reused silently.
		rm -rf "${root#-}$src"
		die "$kver: the module build failed or warned (log: $log)"
	fi
	for ko in "${KOS[@]}"; do
		cp "${root#-}$src/$ko" "$out/"
	done
}

main() {
	local label kver kdir vmlinuz modroot root

	while IFS=$'\t' read -r label kver kdir vmlinuz modroot root; do
		build_one "$kver" "$kdir" "$root"
	done < <(kernels_selected)
}

main "$@"

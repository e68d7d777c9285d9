# SPDX-License-Identifier: GPL-2.0
#
# Settings and helpers shared by the test-VM scripts.  Sourced, never run.
#
# Everything downloaded or built outside the repository lives under
# KPF_CACHE; setup.sh writes the kernels it prepared to KPF_KERNELS_LIST, one
# tab-separated line per kernel:
#
#   label  kver  kdir  vmlinuz  modroot  chroot
#
# label    short name used by KPF_KERNELS (e.g. 6.12)
# kver     the kernel release (uname -r)
# kdir     the headers tree to build modules against (a path inside chroot)
# vmlinuz  the kernel image to boot
# modroot  directory holding lib/modules/KVER of that kernel (depmod -b)
# chroot   root of the chroot that builds go through, or "-" for the host

KPF_CACHE=${KPF_CACHE:-/var/cache/kvm-pageflip}
KPF_KERNELS_LIST=$KPF_CACHE/kernels.list
KPF_CHROOT=$KPF_CACHE/trixie
KPF_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KPF_BUILD=$KPF_REPO/build

export DEBIAN_FRONTEND=noninteractive

# say MESSAGE...: one line of progress, prefixed with the script's name.
say() {
	printf '%s: %s\n' "$KPF_PROG" "$*"
}

die() {
	say "error: $*" >&2
	exit 1
}

# run_logged LOG CMD...: run CMD without stdin, its output appended to LOG
# (and shown too with V=1); returns CMD's status.
run_logged() {
	local log=$1 status=0
	shift
	if [ "${V:-0}" = 1 ]; then
		"$@" </dev/null 2>&1 | tee -a "$log" || status=$?
	else
		"$@" </dev/null >>"$log" 2>&1 || status=$?
	fi
	return "$status"
}

# logged LOG CMD...: run_logged, and on failure show the end of LOG and stop.
logged() {
	local log=$1
	shift
	if ! run_logged "$log" "$@"; then
		[ "${V:-0}" = 1 ] || tail -n 30 "$log" >&2
		die "'$*' failed (whole log: $log)"
	fi
}

# kernels_selected: the lines of KPF_KERNELS_LIST whose label is in
# KPF_KERNELS (all of them when KPF_KERNELS is empty).
kernels_selected() {
	local label line want

	[ -s "$KPF_KERNELS_LIST" ] || die "$KPF_KERNELS_LIST is missing: run selftests/vm/setup.sh"
	for want in ${KPF_KERNELS:-}; do
		grep -q "^$want	" "$KPF_KERNELS_LIST" ||
			die "KPF_KERNELS: no kernel labelled '$want' in $KPF_KERNELS_LIST"
	done
	while IFS= read -r line; do
		label=${line%%	*}
		if [[ " ${KPF_KERNELS:-$label} " == *" $label "* ]]; then
			printf '%s\n' "$line"
		fi
	done <"$KPF_KERNELS_LIST"
}

# in_root ROOT: " in ROOT" for messages about a chroot, nothing for the host.
in_root() {
	[ "$1" = - ] || echo " in $1"
}

# in_chroot ROOT CMD...: run CMD on the host (ROOT is "-") or inside the
# chroot ROOT with its own /proc, in a private mount namespace so that the
# mount disappears with the command (7.3's objtool needs /proc).
in_chroot() {
	local root=$1
	shift
	if [ "$root" = - ]; then
		"$@"
	else
		unshare --mount --propagation private -- \
			sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root" "$@"
	fi
}

# cpio_of DIR OUT: the newc archive of DIR's contents, owned by root, in a
# stable order.
cpio_of() {
	(cd "$1" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$2"
}

# copy_with_path STAGE FILE...: each FILE (symlinks followed) at its own
# path under STAGE.
copy_with_path() {
	local stage=$1 f
	shift
	for f; do
		mkdir -p "$stage$(dirname "$f")"
		cp -L "$f" "$stage$f"
	done
}

# shared_libs BINARY...: the shared libraries and the loader the BINARYs
# need, as ldd resolves them on this machine.
shared_libs() {
	ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u
}

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare this machine to build kvm-pageflip and boot it in the test VM:
# Debian packages, the three kernels (6.1 from bookworm, 6.12 from
# bookworm-backports, 7.3 from trixie-backports built in a trixie chroot) and
# their unpacked images and modules under KPF_CACHE.  Idempotent: a step
# already done is skipped, so a second run only checks.  Writes the list of
# prepared kernels to KPF_KERNELS_LIST (see lib.sh).
#
#   selftests/vm/setup.sh        (as root; V=1 shows apt's output)

set -euo pipefail
KPF_PROG=setup
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# clang builds the CLI's XDP classifier; the CLI links libbpf, libelf and
# zlib statically (their .a files come with the -dev packages).  The L2
# guests of the end-to-end test run Debian's ethtool (selftests/e2e).
HOST_PACKAGES="qemu-system-x86 busybox-static cpio kmod xz-utils zstd rsync
	debootstrap gcc make libc6-dev clang clang-format libbpf-dev libelf-dev
	zlib1g-dev sparse ethtool"
CHROOT_PACKAGES="gcc-14,make,libc6-dev,libelf-dev,xz-utils,kmod"
DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
LOG=$KPF_CACHE/setup.log
declare -A APT_UPDATED=()
KERNELS=

# first_stanza: the first stanza of this machine's Debian apt entry (the main
# archive; the second one is the security archive).
first_stanza() {
	[ -r "$DEBIAN_SOURCES" ] || die "$DEBIAN_SOURCES is missing: cannot derive apt entries"
	awk 'BEGIN { RS = "" } NR == 1 { print; exit }' "$DEBIAN_SOURCES"
}

# debian_stanza SUITE: that stanza with only its Suites line changed, so that
# no host name is ever written anywhere but where the machine already has it.
debian_stanza() {
	first_stanza | sed "s/^Suites:.*/Suites: $1/"
}

# debian_uri: the archive URI of that stanza.
debian_uri() {
	first_stanza | awk '$1 == "URIs:" { print $2; exit }'
}

# add_suite ROOT SUITE: make SUITE known to apt in ROOT ("-": the host).
add_suite() {
	local root=$1 suite=$2 file
	file=${root#-}/etc/apt/sources.list.d/kvm-pageflip-$suite.sources
	if [ "$(cat "$file" 2>/dev/null)" != "$(debian_stanza "$suite")" ]; then
		say "adding $suite to apt sources (${file})"
		debian_stanza "$suite" >"$file"
		unset "APT_UPDATED[$root]"
	fi
	suite_known "$root" "$suite" || apt_update "$root"
}

suite_known() {
	in_chroot "$1" apt-cache policy | grep -q "n=$2,"
}

# apt_update ROOT: apt-get update, at most once per run and root.
apt_update() {
	[ -z "${APT_UPDATED[$1]:-}" ] || return 0
	say "updating apt package lists$(in_root "$1")"
	logged "$LOG" in_chroot "$1" apt-get update -o DPkg::Lock::Timeout=600
	APT_UPDATED[$1]=1
}

# missing_packages ROOT PKG...: the PKGs not installed in ROOT.
missing_packages() {
	local root=$1 pkg status
	shift
	for pkg; do
		status=$(dpkg-query --admindir="${root#-}/var/lib/dpkg" -W -f='${Status}' "$pkg" 2>/dev/null) || true
		[ "$status" = "install ok installed" ] || echo "$pkg"
	done
}

# apt_install ROOT RELEASE PKG...: install the missing PKGs in ROOT, from
# RELEASE ("" for the default one).
apt_install() {
	local root=$1 release=$2 missing
	shift 2
	missing=$(missing_packages "$root" "$@" | xargs)
	[ -n "$missing" ] || return 0
	apt_update "$root"
	say "installing $missing from Debian${release:+ $release}$(in_root "$root")"
	logged "$LOG" in_chroot "$root" apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 \
		${release:+-t "$release"} $missing
}

# headers_kver ROOT SUITES: the kernel release that the newest
# linux-headers-amd64 metapackage of SUITES points at (explicit suites: the
# candidate version depends on what happens to be installed).
headers_kver() {
	local version kver
	version=$(in_chroot "$1" apt-cache madison linux-headers-amd64 |
		awk -F' *[|] *' -v suites=" $2 " '{ split($3, w, " "); sub("/.*", "", w[2]) }
			index(suites, " " w[2] " ") { print $2; exit }')
	[ -n "$version" ] || die "no linux-headers-amd64 in $2$(in_root "$1")"
	kver=$(in_chroot "$1" apt-cache depends "linux-headers-amd64=$version" |
		sed -n 's/^ *Depends: linux-headers-\(.*-amd64\)$/\1/p' | head -n 1)
	[ -n "$kver" ] || die "cannot resolve linux-headers-amd64=$version$(in_root "$1")"
	echo "$kver"
}

# image_packages ROOT KVER: the packages carrying the image and modules of
# KVER.  Where the archive splits them (7.x), linux-binary has the image,
# linux-modules the modules and linux-base modules.builtin and modules.order.
image_packages() {
	if in_chroot "$1" apt-cache show "linux-binary-$2" >/dev/null 2>&1; then
		echo "linux-binary-$2 linux-modules-$2 linux-base-$2"
	else
		echo "linux-image-$2"
	fi
}

# unpack_kernel ROOT KVER: download KVER's image and modules with ROOT's apt
# (same version as its installed headers), unpack them into
# KPF_CACHE/kernels/KVER/root and run depmod there.
unpack_kernel() {
	local root=$1 kver=$2 dest=$KPF_CACHE/kernels/$2/root version pkgs pkg want debs
	version=$(dpkg-query --admindir="${root#-}/var/lib/dpkg" -W -f='${Version}' "linux-headers-$kver")
	pkgs=$(image_packages "$root" "$kver")
	want="$pkgs $version"
	[ "$(cat "$dest/.kpf-unpacked" 2>/dev/null)" != "$want" ] || return 0

	say "unpacking $pkgs ($version) into $dest"
	debs=${root#-}$KPF_CACHE/debs
	mkdir -p "$debs"
	for pkg in $pkgs; do
		logged "$LOG" in_chroot "$root" sh -c 'cd "$0" &&
			apt-get download -q -o APT::Sandbox::User=root "$1"' "$KPF_CACHE/debs" "$pkg=$version"
	done
	rm -rf "$dest"
	mkdir -p "$dest"
	for pkg in $pkgs; do
		dpkg -x "$debs/${pkg}_${version/:/%3a}_amd64.deb" "$dest"
	done
	logged "$LOG" depmod -b "$(modroot "$dest" "$kver")" "$kver"
	echo "$want" >"$dest/.kpf-unpacked"
}

# modroot DIR KVER: where lib/modules/KVER is in the unpacked tree DIR
# (merged-/usr packages ship it under usr/).
modroot() {
	if [ -d "$1/lib/modules/$2" ]; then
		echo "$1"
	elif [ -d "$1/usr/lib/modules/$2" ]; then
		echo "$1/usr"
	else
		die "no lib/modules/$2 in $1"
	fi
}

# vmlinuz DIR KVER: the kernel image in the unpacked tree DIR.
vmlinuz() {
	local f
	for f in "$1/boot/vmlinuz-$2" "$(modroot "$1" "$2")/lib/modules/$2/vmlinuz"; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
	die "no vmlinuz for $2 in $1"
}

# kernel_line ROOT KVER: the KPF_KERNELS_LIST line of KVER (see lib.sh).
kernel_line() {
	local dest=$KPF_CACHE/kernels/$2/root
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(echo "$2" | cut -d. -f1,2)" "$2" \
		"/usr/src/linux-headers-$2" "$(vmlinuz "$dest" "$2")" "$(modroot "$dest" "$2")" "$1"
}

# prepare_kernel ROOT RELEASE SUITES: headers of the kernel of SUITES
# installed in ROOT (from RELEASE, "" for the default), its image and modules
# unpacked; adds its line to KERNELS.
prepare_kernel() {
	local kver
	kver=$(headers_kver "$1" "$3")
	apt_install "$1" "$2" "linux-headers-$kver"
	unpack_kernel "$1" "$kver"
	KERNELS+=$(kernel_line "$1" "$kver")$'\n'
}

# debug_kernel: the debug kernel of build-debug-kernel.sh as a fourth
# kernel, labelled 6.12-debug, when a build for the current debug.config is
# cached.  KPF_DEBUG_KERNEL=1 builds it first if it is not (about 20
# minutes on 2 cores, so never without being asked).
debug_kernel() {
	local script line
	script=$(dirname "${BASH_SOURCE[0]}")/build-debug-kernel.sh
	if [ "${KPF_DEBUG_KERNEL:-0}" = 1 ]; then
		"$script"
	fi
	if line=$("$script" --line); then
		KERNELS+=$line$'\n'
	fi
}

# make_chroot: a minimal trixie with the compiler its kernels need.
make_chroot() {
	if [ ! -e "$KPF_CHROOT/.kpf-debootstrapped" ]; then
		say "building a trixie chroot in $KPF_CHROOT (debootstrap)"
		rm -rf --one-file-system "$KPF_CHROOT"
		logged "$LOG" debootstrap --variant=minbase --include="$CHROOT_PACKAGES" \
			trixie "$KPF_CHROOT" "$(debian_uri)"
		touch "$KPF_CHROOT/.kpf-debootstrapped"
	fi
	apt_install "$KPF_CHROOT" "" ${CHROOT_PACKAGES//,/ }
}

main() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	mkdir -p "$KPF_CACHE"
	exec 9>"$KPF_CACHE/setup.lock"
	flock 9
	: >"$LOG"

	add_suite - bookworm-backports
	apt_install - "" $HOST_PACKAGES
	# The kselftest harness, checkpatch and .clang-format come from here.
	apt_install - bookworm-backports linux-source-6.12
	make_chroot
	add_suite "$KPF_CHROOT" trixie-backports

	prepare_kernel - "" "bookworm bookworm-updates bookworm-security"
	prepare_kernel - bookworm-backports bookworm-backports
	prepare_kernel "$KPF_CHROOT" trixie-backports trixie-backports
	debug_kernel
	printf '%s' "$KERNELS" >"$KPF_KERNELS_LIST"
	say "kernels ready: $(cut -f2 "$KPF_KERNELS_LIST" | xargs) (list: $KPF_KERNELS_LIST)"
}

main "$@"

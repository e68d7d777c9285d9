#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a KVM-only qemu-system-x86_64 with the kvm-pageflip device, or the
# TCG-only one that runs the test VM.
#
#   tools/qemu/build.sh            the device's QEMU (as root, or `make qemu`)
#   tools/qemu/build.sh --test-vm  the test VM's QEMU (selftests/vm/run.sh)
#
# V=1 shows the output of apt, configure and ninja.
#
# QEMU cannot load a device model from outside, so the device is compiled
# into QEMU's own source: Debian's source package of exactly the installed
# qemu-system-x86 version, with Debian's patches, so that the binary matches
# the machine's QEMU in everything but the added device.  The steps:
#
#   1. a deb-src entry for the machine's Debian suites (the first stanza of
#      its Debian apt entry, only Types changed);
#   2. the build dependencies, from Debian's packages;
#   3. `apt-get source --download-only qemu=VERSION` into the cache, unpacked
#      with dpkg-source (which applies Debian's patch series);
#   4. the device (tools/qemu/kvm-pageflip.c) copied to hw/net/, added to
#      hw/net/meson.build and hw/net/Kconfig, the uapi headers copied to
#      QEMU's linux-headers/linux/;
#   5. configure for x86_64-softmmu with KVM only, then ninja.
#
# The test VM's QEMU comes from the same tree, configured with TCG only (in
# build-test-vm/), and with the fixes in tools/qemu/patches/ applied: Debian
# 12's QEMU 7.2 loses interrupts of a guest that runs its own KVM guests,
# which stopped the test VM now and then (Documentation/testing.rst, "L2
# guests in the test VM").  Those fixes touch TCG code only, which the
# device's KVM-only build does not compile.
#
# Nothing lands in the repository.  Under KPF_CACHE/qemu/VERSION/ (without the epoch) the source
# tree and its build directories are kept and rebuilt incrementally; every
# result is copied to bin-HASH/qemu-system-x86_64 (bin-test-vm-HASH/ for
# the test VM's), HASH being that of the QEMU version, this script, the
# device, the headers and the patches, so that nothing unchanged is ever
# rebuilt.  The last line printed is the binary's path, and
# KPF_CACHE/qemu/qemu-system-x86_64 (qemu-system-x86_64-test-vm) links to it.

set -euo pipefail
KPF_PROG=qemu-build
. "$(dirname "${BASH_SOURCE[0]}")/../../selftests/vm/lib.sh"

DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
DEB_SRC_FILE=/etc/apt/sources.list.d/kvm-pageflip-deb-src.sources
BUILD_DEPS="build-essential dpkg-dev libglib2.0-dev libpixman-1-dev libfdt-dev
	zlib1g-dev meson ninja-build flex bison python3-venv pkg-config"
DEVICE=$KPF_REPO/tools/qemu/kvm-pageflip.c
HEADERS="$KPF_REPO/include/uapi/linux/kvm_pageflip.h
	$KPF_REPO/include/uapi/linux/kvm_pageflip_pci.h"
PATCHES=$(echo "$KPF_REPO"/tools/qemu/patches/*.patch)
QEMU_CACHE=$KPF_CACHE/qemu
export CI=true

[ "$(id -u)" = 0 ] || die "run as root: it installs packages and writes $KPF_CACHE"
mkdir -p "$QEMU_CACHE"
LOG=$QEMU_CACHE/build.log

# The source package and version the installed binary package was built
# from (a binary NMU's +bN suffix is not part of the source version).
installed_source() {
	dpkg-query -W -f='${source:Package} ${source:Version}\n' qemu-system-x86 2>/dev/null ||
		die "qemu-system-x86 is not installed (selftests/vm/setup.sh installs it)"
}

# deb_src_stanza: the first stanza of the machine's Debian apt entry (the
# main archive) with Types: deb-src, nothing else changed.
deb_src_stanza() {
	[ -r "$DEBIAN_SOURCES" ] || die "$DEBIAN_SOURCES is missing: cannot derive a deb-src entry"
	awk 'BEGIN { RS = "" } NR == 1 { print; exit }' "$DEBIAN_SOURCES" |
		sed 's/^Types:.*/Types: deb-src/'
}

ensure_deb_src() {
	local pkg=$1 version=$2

	if [ "$(cat "$DEB_SRC_FILE" 2>/dev/null)" != "$(deb_src_stanza)" ]; then
		say "adding a deb-src entry for Debian's sources ($DEB_SRC_FILE)"
		deb_src_stanza >"$DEB_SRC_FILE"
	fi
	if ! source_known "$pkg" "$version"; then
		say "updating apt package lists"
		logged "$LOG" apt-get update -o DPkg::Lock::Timeout=600
		source_known "$pkg" "$version" ||
			die "Debian's archive does not offer source $pkg $version"
	fi
}

source_known() {
	local versions

	versions=$(apt-cache showsrc "$1" 2>/dev/null) || return 1
	grep -qx "Version: $2" <<<"$versions"
}

install_build_deps() {
	local pkg missing=()

	for pkg in $BUILD_DEPS; do
		[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] ||
			missing+=("$pkg")
	done
	[ "${#missing[@]}" = 0 ] && return 0
	say "installing build dependencies: ${missing[*]}"
	logged "$LOG" apt-get install -y --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "${missing[@]}"
}

# fetch_source PKG VERSION DIR: the unpacked, patched source tree in DIR.
fetch_source() {
	local pkg=$1 version=$2 dir=$3 dl=$QEMU_CACHE/${2#*:}/download dsc

	[ -f "$dir/.kpf-unpacked" ] && return 0
	mkdir -p "$dl"
	dsc=$dl/${pkg}_${version#*:}.dsc
	if [ ! -f "$dsc" ]; then
		say "downloading Debian's source package $pkg $version"
		(cd "$dl" && logged "$LOG" apt-get source --download-only "$pkg=$version")
	fi
	say "unpacking it and applying Debian's patches"
	rm -rf "$dir"
	logged "$LOG" dpkg-source -x "$dsc" "$dir"
	touch "$dir/.kpf-unpacked"
}

# add_device DIR: the device and its headers in the tree, and the build
# rules for them.  Only the copies change on a later run.
add_device() {
	local dir=$1 h

	install -m 0644 "$DEVICE" "$dir/hw/net/kvm-pageflip.c"
	for h in $HEADERS; do
		install -m 0644 "$h" "$dir/linux-headers/linux/"
	done
	if ! grep -q CONFIG_KVM_PAGEFLIP "$dir/hw/net/meson.build"; then
		say "adding the device to hw/net/meson.build and hw/net/Kconfig"
		# It uses kvm_state, so it is built per target like vhost and vfio.
		printf "\nspecific_ss.add(when: 'CONFIG_KVM_PAGEFLIP', if_true: files('kvm-pageflip.c'))\n" \
			>>"$dir/hw/net/meson.build"
		printf '\nconfig KVM_PAGEFLIP\n    bool\n    default y if PCI_DEVICES\n    depends on PCI && MSI_NONBROKEN && KVM && LINUX\n' \
			>>"$dir/hw/net/Kconfig"
	fi
	# Debian's tarball has no firmware blobs, yet meson.build unpacks the
	# edk2 ones whenever bzip2 is installed; firmware comes from Debian's
	# packages at run time instead.
	if grep -q '^ *unpack_edk2_blobs = bzip2.found()' "$dir/meson.build"; then
		say "not unpacking the edk2 blobs Debian's tarball does not carry"
		sed -i 's/^\( *unpack_edk2_blobs = \)bzip2.found()/\1false/' "$dir/meson.build"
	fi
}

# add_patches DIR: the fixes of tools/qemu/patches/ applied to the tree,
# each once; a stamp with the patch's hash says which version was applied.
add_patches() {
	local dir=$1 p name stamp

	for p in $PATCHES; do
		name=$(basename "$p")
		stamp=$dir/.kpf-patched-$name-$(sha256sum <"$p" | cut -c1-16)
		[ -f "$stamp" ] && continue
		if compgen -G "$dir/.kpf-patched-$name-*" >/dev/null; then
			die "$name changed since it was applied to $dir: remove that directory to unpack the source again"
		fi
		say "applying $name"
		logged "$LOG" patch -d "$dir" -p1 -N -i "$p"
		touch "$stamp"
	done
}

# Firmware is found where Debian's QEMU finds it (debian/rules): in the
# directories of the qemu-system-data, seabios and ipxe-qemu packages.  QEMU
# rewrites every configured directory under its prefix relative to where
# the binary is, so the prefix is one that none of them is under: then they
# are used as they are, wherever the binary lies.  Nothing is installed.
COMMON_ARGS="--prefix=/opt/kvm-pageflip-qemu
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
	--target-list=x86_64-softmmu --without-default-features
	--disable-user --disable-docs --disable-werror --disable-install-blobs"
DEVICE_ARGS="$COMMON_ARGS --enable-kvm --disable-tcg"
TEST_VM_ARGS="$COMMON_ARGS --enable-tcg --disable-kvm"

# configure_qemu DIR BUILDDIR ARGS WHAT: BUILDDIR configured, unless it
# already is with ARGS; WHAT names the build.
configure_qemu() {
	local build=$1/$2 args=$3 what=$4 stamp=$1/$2/.kpf-configure

	[ "$(cat "$stamp" 2>/dev/null)" = "$args" ] && return 0
	say "configuring $what"
	mkdir -p "$build"
	# shellcheck disable=SC2086
	(cd "$build" && logged "$LOG" ../configure $args)
	echo "$args" >"$stamp"
}

main() {
	local flavour=${1:-} pkg version src key bin builddir args link tag what

	read -r pkg version < <(installed_source)
	case $flavour in
	"")
		builddir=build args=$DEVICE_ARGS link=qemu-system-x86_64 tag=
		what="QEMU $version with this device"
		;;
	--test-vm)
		builddir=build-test-vm args=$TEST_VM_ARGS
		link=qemu-system-x86_64-test-vm tag=-test-vm
		what="the test VM's QEMU $version (TCG, with tools/qemu/patches/)"
		;;
	*) die "usage: $0 [--test-vm]" ;;
	esac
	# shellcheck disable=SC2086
	key=$( { echo "$version $flavour"; cat "${BASH_SOURCE[0]}" "$DEVICE" $HEADERS $PATCHES; } |
		sha256sum | cut -c1-16)
	# QEMU's configure refuses a path with a colon: no epoch in the names.
	bin=$QEMU_CACHE/${version#*:}/bin$tag-$key/qemu-system-x86_64
	if [ -x "$bin" ]; then
		say "$what is already built"
	else
		src=$QEMU_CACHE/${version#*:}/src
		ensure_deb_src "$pkg" "$version"
		install_build_deps
		fetch_source "$pkg" "$version" "$src"
		add_device "$src"
		add_patches "$src"
		configure_qemu "$src" "$builddir" "$args" "$what"
		say "building $what (from scratch 2 to 10 minutes on 2 cores, by load; log: $LOG)"
		logged "$LOG" ninja -C "$src/$builddir" qemu-system-x86_64
		mkdir -p "${bin%/*}"
		install -m 0755 "$src/$builddir/qemu-system-x86_64" "$bin.tmp"
		mv "$bin.tmp" "$bin"
	fi
	ln -sfn "$bin" "$QEMU_CACHE/$link"
	echo "$bin"
}

main "$@"

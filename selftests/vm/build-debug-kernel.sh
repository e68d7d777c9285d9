#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test VM's debug kernel (KASAN, lockdep, kmemleak, fault
# injection; see debug.config) from Debian's linux-source-6.12, once per
# machine.  A second run with the same debug.config and the same
# linux-source-6.12 package only prints where the kernel is.
#
#   selftests/vm/build-debug-kernel.sh         (root; V=1 shows make's output)
#   selftests/vm/build-debug-kernel.sh --line  print the kernels.list line of
#       the build for the current debug.config and linux-source-6.12, or
#       fail silently if there is none; never builds (for setup.sh)
#
# Everything lands in KPF_CACHE/debug-kernel/HASH, HASH being a hash of
# debug.config and of the linux-source-6.12 package version:
#
#   linux/     the configured and built tree; KDIR for out-of-tree modules
#   bzImage    the kernel to boot
#   root/      lib/modules/KVER, with modules.dep (depmod -b root KVER)
#   build.log  the output of every step
#
# and KPF_CACHE/debug-kernel/kernel.line is its line in the format of
# KPF_KERNELS_LIST (see lib.sh), labelled 6.12-debug.  A successful build
# removes the trees of older hashes.  Changes to this script alone rebuild
# nothing: remove KPF_CACHE/debug-kernel to force a build.
#
# Measured on 2 cores: extraction and configuration take under a minute,
# compilation 16 to 22 minutes; the tree takes 3 GB.  An interrupted build
# resumes where it stopped.

set -Eeuo pipefail
KPF_PROG=debug-kernel
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Anything failing unexpectedly ends the run with one line (only the main
# shell says it: a failed command substitution also fails its caller).
trap '[ "$BASH_SUBSHELL" != 0 ] || die "line $LINENO: \"$BASH_COMMAND\" failed"' ERR

FRAGMENT=$KPF_REPO/selftests/vm/debug.config
SOURCE_PACKAGE=linux-source-6.12
TARBALL=/usr/src/linux-source-6.12.tar.xz
BUILD_PACKAGES="bc libssl-dev libelf-dev dwarves flex bison build-essential cpio kmod xz-utils"
LABEL=6.12-debug
TOP=$KPF_CACHE/debug-kernel
LINE=$TOP/kernel.line
VERSION=

# install_build_packages: the Debian packages a kernel build needs, those
# missing only.
install_build_packages() {
	local pkg missing=
	for pkg in $BUILD_PACKAGES; do
		[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] ||
			missing+=" $pkg"
	done
	[ -n "$missing" ] || return 0
	say "installing${missing} from Debian"
	logged "$TOP/apt.log" apt-get update -o DPkg::Lock::Timeout=600
	logged "$TOP/apt.log" apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 $missing
}

# source_version: VERSION, the installed linux-source-6.12 package version.
source_version() {
	VERSION=$(dpkg-query -W -f='${Version}' "$SOURCE_PACKAGE" 2>/dev/null) || true
	[ -n "$VERSION" ] && [ -r "$TARBALL" ] ||
		die "$SOURCE_PACKAGE is not installed ($TARBALL): run selftests/vm/setup.sh"
}

# cache_hash VERSION: what names the cache directory of this build.
cache_hash() {
	{ cat "$FRAGMENT"; echo "$SOURCE_PACKAGE $1"; } | sha256sum | cut -c1-16
}

# timed STEP CMD...: say STEP, run CMD, say how long it took.
timed() {
	local step=$1 start=$SECONDS
	shift
	say "$step"
	"$@"
	say "$step: done in $((SECONDS - start)) s"
}

# extract DIR: the source tarball unpacked into DIR/linux.
extract() {
	local dir=$1
	rm -rf --one-file-system "$dir/linux" "$dir/linux-source-6.12"
	logged "$dir/build.log" tar -xJf "$TARBALL" -C "$dir"
	mv "$dir/linux-source-6.12" "$dir/linux"
	touch "$dir/linux/.kpf-extracted"
}

# configure DIR: x86_64_defconfig, kvm_guest.config, then debug.config
# merged in and completed by olddefconfig; then checked.
configure() {
	local dir=$1 tree=$1/linux log=$1/build.log
	logged "$log" make -C "$tree" x86_64_defconfig
	logged "$log" make -C "$tree" kvm_guest.config
	logged "$log" "$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" "$FRAGMENT"
	logged "$log" make -C "$tree" olddefconfig
	check_config "$tree/.config"
	touch "$tree/.kpf-configured"
}

# check_config CONFIG: every option of debug.config set in CONFIG as
# requested ("is not set" also matches an option absent from CONFIG); one
# line per option that is not, then failure.  Kconfig drops an option whose
# dependencies are unmet without a word.
check_config() {
	local bad
	bad=$(awk '
		FNR == NR {
			if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) {
				name = substr($0, 1, RLENGTH - 1)
				want[name] = substr($0, RLENGTH + 1)
				order[++n] = name
			} else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set$/) {
				want[$2] = "n"
				order[++n] = $2
			}
			next
		}
		/^CONFIG_/ {
			i = index($0, "=")
			got[substr($0, 1, i - 1)] = substr($0, i + 1)
		}
		END {
			for (i = 1; i <= n; i++) {
				name = order[i]
				g = name in got ? got[name] : "n"
				if (g == want[name])
					continue
				printf "  %s: requested %s, got %s\n", name,
					want[name] == "n" ? "not set" : want[name],
					name in got ? g : "not set (unknown option or unmet dependency)"
			}
		}' "$FRAGMENT" "$1")
	[ -n "$bad" ] || return 0
	printf '%s\n' "$bad" >&2
	rm -f "$1"
	die "$(wc -l <<<"$bad") option(s) of debug.config not as requested in the final .config (above)"
}

# compile DIR: the kernel image and its modules.  The kernel's version
# string names the project, not the user and machine that built it.
compile() {
	logged "$1/build.log" env KBUILD_BUILD_USER=kvm-pageflip KBUILD_BUILD_HOST=debug-kernel \
		make -C "$1/linux" -j"$(nproc)" bzImage modules
}

# install_kernel DIR: the modules into DIR/root (with modules.dep) and the
# image to DIR/bzImage; records the kernel release in DIR/.kpf-built.
install_kernel() {
	local dir=$1 kver
	kver=$(cat "$dir/linux/include/config/kernel.release")
	rm -rf --one-file-system "$dir/root" "$dir/.kpf-built"
	logged "$dir/build.log" make -C "$dir/linux" modules_install INSTALL_MOD_PATH="$dir/root"
	logged "$dir/build.log" depmod -b "$dir/root" "$kver"
	cp "$dir/linux/arch/x86/boot/bzImage" "$dir/bzImage"
	echo "$kver" >"$dir/.kpf-built"
}

# built DIR: whether DIR holds a complete build.
built() {
	local kver
	kver=$(cat "$1/.kpf-built" 2>/dev/null) || return 1
	[ -f "$1/bzImage" ] && [ -f "$1/root/lib/modules/$kver/modules.dep" ] &&
		[ -f "$1/linux/Module.symvers" ]
}

# kernel_line DIR: the KPF_KERNELS_LIST line of the build in DIR (label,
# kver, kdir, vmlinuz, modroot, chroot; see lib.sh).
kernel_line() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$LABEL" "$(cat "$1/.kpf-built")" "$1/linux" \
		"$1/bzImage" "$1/root" -
}

# prune KEEP: remove the build directories of other hashes.
prune() {
	local d
	for d in "$TOP"/*/; do
		d=${d%/}
		[[ ${d##*/} =~ ^[0-9a-f]{16}$ ]] && [ "${d##*/}" != "$1" ] || continue
		say "removing the stale build $d"
		rm -rf --one-file-system "$d"
	done
}

# print_line: the --line mode.
print_line() {
	local version
	version=$(dpkg-query -W -f='${Version}' "$SOURCE_PACKAGE" 2>/dev/null) || exit 1
	built "$TOP/$(cache_hash "$version")" || exit 1
	kernel_line "$TOP/$(cache_hash "$version")"
	exit 0
}

main() {
	local hash dir

	case ${1:-} in
	"") ;;
	--line) print_line ;;
	*) die "usage: $0 [--line]" ;;
	esac
	[ "$(id -u)" = 0 ] || die "must run as root (apt, $KPF_CACHE)"
	mkdir -p "$TOP"
	exec 9>"$TOP/build.lock"
	flock -n 9 || { say "waiting for another build in $TOP"; flock 9; }

	install_build_packages
	source_version
	hash=$(cache_hash "$VERSION")
	dir=$TOP/$hash
	if ! built "$dir"; then
		mkdir -p "$dir"
		say "building from $SOURCE_PACKAGE $VERSION and debug.config in $dir" \
			"(log: $dir/build.log)"
		# Steps run in an "if" body, not after "||", so that errexit holds.
		if [ ! -e "$dir/linux/.kpf-extracted" ]; then
			timed "extracting $TARBALL into $dir/linux" extract "$dir"
		fi
		if [ ! -e "$dir/linux/.kpf-configured" ]; then
			timed "configuring: x86_64_defconfig, kvm_guest.config, debug.config; checking it" \
				configure "$dir"
		fi
		timed "make -j$(nproc) bzImage modules" compile "$dir"
		timed "installing the modules into $dir/root (depmod) and bzImage" install_kernel "$dir"
		prune "$hash"
	fi
	kernel_line "$dir" >"$LINE.tmp"
	mv "$LINE.tmp" "$LINE"
	say "debug kernel $(cat "$dir/.kpf-built"): bzImage $dir/bzImage, modules $dir/root," \
		"KDIR $dir/linux"
	say "its kernels.list line: $LINE"
}

main "$@"

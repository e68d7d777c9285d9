#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: the static checks the kernel community uses, on our own files.
#
#   sparse        the module and the guest driver, built with C=2 against
#                 the 6.12 headers
#   checkpatch    every C file and header (module and guest driver strictly,
#                 userspace with the rules that only make sense in the
#                 kernel turned off)
#   clang-format  every C file and header, against the kernel's .clang-format
#   syzlang       the syzkaller descriptions against the uapi header
#                 (selftests/syzkaller/check.sh)
#
# checkpatch.pl and .clang-format come from Debian's linux-source-6.12
# package, which selftests/vm/setup.sh installs with everything else.

set -euo pipefail
cd "$(dirname "$0")/.."

cache=/var/cache/kvm-pageflip/check
tarball=/usr/src/linux-source-6.12.tar.xz
failed=0

# The QEMU device is QEMU's code and follows QEMU's coding style instead.
QEMU_STYLE=(':!tools/qemu/*')

say() { echo "check: $*"; }

fail() {
	echo "check: FAILED: $*" >&2
	failed=1
}

prepare() {
	say "making sure the toolchain is installed (selftests/vm/setup.sh)"
	selftests/vm/setup.sh >/dev/null
	if [ ! -f "$cache/.clang-format" ] || [ "$tarball" -nt "$cache/.clang-format" ]; then
		say "extracting checkpatch.pl and .clang-format from $tarball"
		mkdir -p "$cache"
		tar -xJf "$tarball" -C "$cache" --strip-components=1 \
			--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch' '*/.clang-format'
	fi
}

# The KDIR of the 6.12 kernel the setup resolved.
kdir_612() {
	awk -F'\t' '$1 == "6.12" { print $3 }' /var/cache/kvm-pageflip/kernels.list
}

run_sparse() {
	local out
	say "sparse on the module and the guest driver (6.12 headers)"
	out=$(make -s module KDIR="$(kdir_612)" C=2 2>&1) || { echo "$out"; fail "module build"; return; }
	if grep -E 'warning:|error:' <<<"$out"; then
		fail "sparse reported the lines above"
	fi
	make -s -C "$(kdir_612)" M="$PWD" clean >/dev/null
}

run_checkpatch() {
	local cp=(perl "$cache/scripts/checkpatch.pl" --no-tree --terse --show-types
		  --max-line-length=100 -f)
	say "checkpatch on the module, the guest driver and the uapi headers"
	# KPF_IOCTL_OP() uses its ioctl argument twice; it is always a constant.
	"${cp[@]}" --strict --ignore MACRO_ARG_REUSE \
		$(git ls-files 'kvm-pageflip/*.[ch]' 'guest/*.[ch]' 'include/*.h') |
		grep -v '^total:' && fail "checkpatch (module)"
	say "checkpatch on userspace (tools/, selftests/)"
	"${cp[@]}" --ignore PREFER_DEFINED_ATTRIBUTE_MACRO,PREFER_PRINTF,PREFER_PACKED,PREFER_ALIGNED,SPLIT_STRING,AVOID_EXTERNS,NEW_TYPEDEFS,VOLATILE,EMBEDDED_FUNCTION_NAME,PREFER_KERNEL_TYPES \
		$(git ls-files 'tools/*.[ch]' 'selftests/*.[ch]' "${QEMU_STYLE[@]}") |
		grep -v '^total:' && fail "checkpatch (userspace)"
	return 0
}

run_clang_format() {
	local f bad=0
	say "clang-format --dry-run against the kernel's .clang-format"
	for f in $(git ls-files '*.[ch]' "${QEMU_STYLE[@]}"); do
		clang-format --style="file:$cache/.clang-format" --dry-run --Werror "$f" 2>/dev/null || {
			echo "  $f: run clang-format --style=file:$cache/.clang-format -i $f"
			bad=1
		}
	done
	[ "$bad" = 0 ] || fail "clang-format"
}

run_syzlang() {
	say "syzkaller descriptions against the uapi header"
	selftests/syzkaller/check.sh || fail "syzlang"
}

prepare
run_sparse
run_checkpatch
run_clang_format
run_syzlang
if [ "$failed" = 0 ]; then
	say "all clean"
else
	exit 1
fi

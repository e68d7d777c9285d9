#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the syzkaller descriptions (kvm_pageflip.txt and its .const file)
# against include/uapi/linux/kvm_pageflip.h, without syzkaller:
#
#  - every ioctl the header defines is described, with its own number;
#  - every constant of the .const file has the header's value;
#  - every struct kpf_* of the header that an ioctl takes is described, and
#    each described struct has the header's size and each of its fields the
#    header's offset and size (the layout is computed here from the syzlang types
#    and checked by the C compiler with _Static_assert);
#  - KPF_MAX_BATCH_SYZ is the module's KPF_MAX_BATCH.
#
#   selftests/syzkaller/check.sh        (make check runs it)
#
# Exit status 0 when everything matches; otherwise each mismatch is printed.

set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$dir/../.." && pwd)
txt=$dir/kvm_pageflip.txt
const=$dir/kvm_pageflip.txt.const
hdr=$repo/include/uapi/linux/kvm_pageflip.h
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

fail() {
	echo "syzlang: $*" >&2
	failed=1
}

# Structs of the header that describe guest memory, not an ioctl argument.
NOT_SYSCALL="kpf_ring_hdr kpf_used_elem"

# 1. Every ioctl of the header is described with its own number.
for name in $(sed -nE 's/^#define (KPF_[A-Z_]+) _IO\(KPF_TYPE,.*/\1/p' "$hdr"); do
	grep -q "^ioctl\\\$$name(.*cmd const\\[$name\\]" "$txt" ||
		fail "$name is not described (ioctl\$$name with cmd const[$name])"
	grep -q "^$name = " "$const" || fail "$name is missing from $(basename "$const")"
done

# 2. The .const values are the header's.
{
	echo '#include <stdio.h>'
	echo '#include <fcntl.h>'
	echo '#include <linux/kvm_pageflip.h>'
	echo "#define KPF_MAX_BATCH_SYZ $(sed -nE 's/^define KPF_MAX_BATCH_SYZ[[:space:]]+([0-9]+).*/\1/p' "$txt")"
	echo 'int main(void)'
	echo '{'
	sed -nE 's/^([A-Z_][A-Z0-9_]*) = .*/\1/p' "$const" | grep -v '^arches$' |
		while read -r c; do
			printf '\tprintf("%%s = %%llu\\n", "%s", (unsigned long long)(%s));\n' "$c" "$c"
		done
	echo '	return 0;'
	echo '}'
} >"$work/consts.c"
if cc -I"$repo/include/uapi" -o "$work/consts" "$work/consts.c" 2>"$work/cc.log"; then
	"$work/consts" >"$work/consts.txt"
	grep -E '^[A-Z_][A-Z0-9_]* = ' "$const" | grep -v '^arches = ' | sort >"$work/want.txt"
	sort "$work/consts.txt" | diff -u "$work/want.txt" - >"$work/diff.txt" ||
		fail "constants differ from the header (- .const, + header):$(echo; cat "$work/diff.txt")"
else
	fail "a constant of $(basename "$const") is not in the header: $(cat "$work/cc.log")"
fi
grep -q "^#define KPF_MAX_BATCH $(sed -nE 's/^define KPF_MAX_BATCH_SYZ[[:space:]]+([0-9]+).*/\1/p' "$txt")\$" \
	"$repo/kvm-pageflip/region.h" || fail "KPF_MAX_BATCH_SYZ is not the module's KPF_MAX_BATCH"

# 3. Every ioctl struct of the header is described.
for s in $(sed -nE 's/^struct (kpf_[a-z0-9_]+) \{.*/\1/p' "$hdr"); do
	[[ " $NOT_SYSCALL " == *" $s "* ]] && continue
	grep -q "^$s {" "$txt" || fail "struct $s is not described"
done

# 4. Layout of every described struct that the header has, as C sees it.
awk -v hdr_structs="$(sed -nE 's/^struct (kpf_[a-z0-9_]+) \{.*/\1/p' "$hdr" | tr '\n' ' ')" \
	-v consts_file="$const" '
BEGIN {
	while ((getline line < consts_file) > 0)
		if (split(line, kv, " = ") == 2)
			cval[kv[1]] = kv[2]
	n = split(hdr_structs, hs, " ")
	for (i = 1; i <= n; i++)
		in_hdr[hs[i]] = 1
}
# A struct: "name {", fields, "}"; a union: "name [", fields, "]".
/^[a-z_][a-z0-9_$]* [{[]$/ { cur = $1; kind[cur] = $2; nf[cur] = 0; next }
/^[}\]]/ { cur = ""; next }
cur != "" && NF >= 2 && $1 !~ /^#/ {
	f = ++nf[cur]
	fname[cur, f] = $1
	t = $0
	sub(/^[ \t]*[^ \t]+[ \t]+/, "", t)
	sub(/[ \t]*\((in|out|inout)\)[ \t]*$/, "", t)
	ftype[cur, f] = t
}

# size and alignment of a syzlang type, in sz and al
function type_of(t,    m, inner, cnt, k) {
	if (t ~ /^(const|flags|bytesize|len)\[/) {
		m = t; sub(/.*, */, "", m); sub(/\].*/, "", m); t = m
	}
	if (t ~ /^int(8|16|32|64)/) {
		m = t; sub(/^int/, "", m); sub(/\[.*/, "", m)
		sz = al = m / 8; return
	}
	if (t ~ /^ptr64\[/ || t == "vma64") { sz = al = 8; return }
	if (t ~ /^array\[/) {
		inner = t; sub(/^array\[/, "", inner); sub(/\]$/, "", inner)
		cnt = inner; sub(/.*, */, "", cnt); sub(/, .*/, "", inner)
		if (cnt in cval) cnt = cval[cnt]
		type_of(inner); sz *= cnt; return
	}
	if (t in kind) { layout(t); sz = ssize[t]; al = salign[t]; return }
	# Resources: fds, ids and handles are 32 bits.
	sz = al = 4
}
function layout(s,    f, off, maxal, o) {
	if (s in ssize) return
	off = 0; maxal = 1
	for (f = 1; f <= nf[s]; f++) {
		type_of(ftype[s, f])
		fsize[s, f] = sz
		if (kind[s] == "{") {
			off = int((off + al - 1) / al) * al
			foff[s, f] = off; off += sz
		} else if (sz > off) {
			off = sz
		}
		if (al > maxal) maxal = al
	}
	ssize[s] = int((off + maxal - 1) / maxal) * maxal; salign[s] = maxal
}
END {
	print "#include <stddef.h>"
	print "#include <linux/kvm_pageflip.h>"
	for (s in kind) {
		if (!(s in in_hdr) || kind[s] != "{") continue
		layout(s)
		printf "_Static_assert(sizeof(struct %s) == %d, \"struct %s: size %d in the description\");\n", s, ssize[s], s, ssize[s]
		for (f = 1; f <= nf[s]; f++) {
			printf "_Static_assert(offsetof(struct %s, %s) == %d, \"%s.%s: offset %d in the description\");\n", s, fname[s, f], foff[s, f], s, fname[s, f], foff[s, f]
			printf "_Static_assert(sizeof(((struct %s *)0)->%s) == %d, \"%s.%s: size %d in the description\");\n", s, fname[s, f], fsize[s, f], s, fname[s, f], fsize[s, f]
		}
	}
}' "$txt" >"$work/layout.c"
cc -fsyntax-only -I"$repo/include/uapi" "$work/layout.c" 2>"$work/layout.log" ||
	fail "struct layouts differ from the header:$(echo; grep -E 'error' "$work/layout.log")"

n=$(grep -c '_Static_assert' "$work/layout.c")
[ "$failed" = 0 ] && echo "syzlang: kvm_pageflip.txt matches the header ($n sizes and offsets checked)"
exit "$failed"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# check-guest.sh OBJECT...
#
# Guest code (functions marked __guest, section .text.kpf_guest) runs in a
# VM that has the test binary but no libc state: a call from it into host
# code, such as a memcpy() the compiler emitted for a struct copy, would
# crash the guest in ways that are hard to read.  Fail the build instead:
# every call from the guest section of any OBJECT must go to a symbol that
# is itself in a guest section of one of the OBJECTs, and no relocation may
# point into another code section.
set -eu

sec=.text.kpf_guest

guest_syms=$(for obj in "$@"; do objdump -t "$obj"; done |
	awk -v sec="$sec" '{ for (i = 1; i < NF; i++) if ($i == sec) { print $NF; break } }' |
	sort -u | tr '\n' ' ')

status=0
for obj in "$@"; do
	objdump -h "$obj" | grep -q " $sec " || continue
	objdump -r -j "$sec" "$obj" |
	awk -v sec="$sec" -v syms="$guest_syms" -v obj="$obj" '
		BEGIN { n = split(syms, s, " "); for (i = 1; i <= n; i++) guest[s[i]] = 1 }
		$2 ~ /^R_X86_64_/ {
			target = $3
			sub(/[-+]0x[0-9a-f]+$/, "", target)
			if (target == sec)
				next
			if (($2 == "R_X86_64_PLT32" && !(target in guest)) || target ~ /^\.text/) {
				printf "%s: guest code calls %s, which is not guest code\n", obj, target
				bad = 1
			}
		}
		END { exit bad }' || status=1
done
exit $status

#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo's second part, in the test VM (`make demo`): two real Linux
# guests, each started by an unprivileged QEMU with -device kvm-pageflip
# and driven by the guest driver kvm-pageflip-net, receive traffic from a
# NIC of the test VM: guest A by its MAC, guest B by its MAC on VLAN 100
# (selftests/e2e/lib.sh describes the set-up).  Guest A's port flips what
# can be flipped (copybreak=0); guest B's copies, the module's default.
# Shows the module's bindings, rules and counters and the guests' own
# statistics; exits non-zero if a guest could not be reached or received
# corrupted data.

. /e2e/lib.sh

STATUS=0
MIB=8

step() {
	echo
	echo "== $*"
}

# expect WHAT OK: note a failure.
expect() {
	if [ "$2" = 1 ]; then
		echo "   ok: $1"
	else
		echo "   FAILED: $1"
		STATUS=1
	fi
}

step "The uplink: $UP (virtio-net) in XDP mode; frames come from $TX on the same QEMU hub"
net_setup
dd if=/dev/urandom of="$BULK" bs=1048576 count=$MIB 2>/dev/null

step "Starting two L2 guests (Debian $(cat /e2e/l2/kver), kvm-pageflip-net), QEMU as user kpf:"
echo "   kvm-pageflip qemu --uplink $UP --user kpf -- qemu-system-x86_64 ... -device kvm-pageflip,mac=$MAC_A,copybreak=0"
boot_guest A $LOG_A $MAC_A $IP_A/24 ",copybreak=0" && a=1 || a=0
QA=$GUEST_PID
echo "   kvm-pageflip qemu --uplink $UP --user kpf -- qemu-system-x86_64 ... -device kvm-pageflip,mac=$MAC_B,vlan=100"
boot_guest B $LOG_B $MAC_B $IP_B/24 ",vlan=100" && b=1 || b=0
QB=$GUEST_PID
expect "guest A up ($(tr -d '\r' <$LOG_A | awk '$1 == "@@l2" && $2 == "ready" { print $3, $4 }'))" $a
expect "guest B up ($(tr -d '\r' <$LOG_B | awk '$1 == "@@l2" && $2 == "ready" { print $3, $4 }'))" $b

step "QEMU added each guest's rule; the XDP classifier's map is the CLI's to update:"
echo "   kvm-pageflip sync $UP"
kvm-pageflip sync "$UP" | sed 's/^/   /'

step "What the module holds: one binding per QEMU, their rules"
kvm-pageflip bindings
kvm-pageflip rules
PA=$(port_of $MAC_A)
PB=$(port_of $MAC_B 100)

step "ping guest A by its MAC (untagged), guest B over VLAN 100"
n=$(pings $IP_A)
expect "$IP_A answered ${n:-0} of 10" "$([ "${n:-0}" = 10 ] && echo 1)"
n=$(pings $IP_B)
expect "$IP_B answered ${n:-0} of 10 (the guest sees no tag: its device strips and adds it)" \
	"$([ "${n:-0}" = 10 ] && echo 1)"

step "$MIB MiB over TCP into each guest; each guest computes the md5 of what it got"
expect "guest A" "$([ "$(bulk $IP_A $MIB)" = match ] && echo 1)"
expect "guest B" "$([ "$(bulk $IP_B $MIB)" = match ] && echo 1)"

step "The ports' counters (flipped: the NIC's page became the guest's; copied: into a page the guest posted)"
echo "   port $PA (guest A, copybreak 0): $(port_summary "$PA")"
echo "   port $PB (guest B, always copy): $(port_summary "$PB")"
echo "   (virtio-net flips only buffers it posted before XDP was attached;"
echo "    Documentation/design.rst, \"Flip or copy\")"

step "What the guests' drivers counted (ethtool -S, non-zero)"
for g in A B; do
	[ $g = A ] && ip=$IP_A || ip=$IP_B
	report "$ip" /tmp/report-$g
	echo "   guest $g: $(awk '$1 == "stat" && $3 != 0 && $2 ~ /^rx_(frames|bytes|guest_copy|pages_reused|interrupts)|^tx_frames/ { printf "%s %s  ", $2, $3 }' /tmp/report-$g)"
	expect "guest $g copied no byte of a flipped frame" \
		"$([ "$(guest_stat /tmp/report-$g rx_guest_copy_bytes_flipped)" = 0 ] && echo 1)"
	expect "guest $g's kernel log is clean" "$(grep -q '^log clean' /tmp/report-$g && echo 1)"
done

step "Stopping both QEMUs; the module is left with nothing"
kill $QA $QB
wait $QA
wait $QB
expect "no binding, port or rule left" \
	"$([ -z "$(kvm-pageflip bindings | tail -n +2)$(kvm-pageflip rules | tail -n +2)" ] && echo 1)"
kvm-pageflip detach "$UP"
exit $STATUS

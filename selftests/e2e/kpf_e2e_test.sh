#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end test, run in the test VM like every selftest program (TAP on
# stdout): two L2 Linux guests, each with the QEMU device and the guest
# driver, behind the module (the set-up is described in selftests/e2e/
# lib.sh).  Guest A's port flips what can be flipped (copybreak=0); guest
# B's has the default copy-break (always copy).
#
# The guests run selftests/e2e/l2-init; what they check themselves comes
# back over TCP (an md5 of what they received, their driver's statistics,
# their kernel log) or in their console logs.  Needs the payload of
# selftests/e2e/payload.sh under /e2e; without it every test is skipped
# with the reason.

BULK_MB=20
PLAN=12
N=0
FAILS=0

tap() {
	N=$((N + 1))
	if [ "$1" = ok ]; then
		echo "ok $N $2"
	else
		echo "not ok $N $2"
	fi
}

# want EXPECTED ACTUAL WHAT: one check of the current test.
want() {
	if [ "$1" = "$2" ]; then
		echo "#   $3: $2"
	else
		echo "#   $3: expected '$1', got '$2'"
		FAILS=$((FAILS + 1))
	fi
}

# result NAME: the current test passed if none of its checks failed.
result() {
	if [ "$FAILS" = 0 ]; then tap ok "$1"; else tap fail "$1"; fi
	FAILS=0
}

skip_all() {
	echo "1..$PLAN"
	for t in guests_boot rules_and_ports ping_by_mac ping_by_vlan vlan_isolation \
		bulk_tcp_a bulk_tcp_b flip_policy guest_reboot_mid_traffic \
		qemu_kill_mid_traffic guest_logs_clean module_clean; do
		N=$((N + 1))
		echo "ok $N $t # SKIP $1"
	done
	exit 0
}

[ -r /e2e/lib.sh ] || skip_all "no QEMU with the kvm-pageflip device in the test VM (make qemu builds it)"
. /e2e/lib.sh
[ -n "$UP" ] && [ -n "$TX" ] || skip_all "the virtio-net uplink or the sender NIC is missing"

# KPF_E2E_BOOT_LOOP=N: only boot guest A N times, each given 120 s, and
# count the boots that never got ready, and those whose kernel log has a
# bad line (bad_lines; a measurement, not a test).
if [ -n "${KPF_E2E_BOOT_LOOP:-}" ]; then
	echo "1..1"
	net_setup >/dev/null
	stalls=0 bad=0
	for n in $(seq "$KPF_E2E_BOOT_LOOP"); do
		t0=$(date +%s)
		start_guest $LOG_A $MAC_A $IP_A/24 ""
		pid=$!
		if wait_l2 $LOG_A ready 1 120 $pid; then
			echo "# boot $n: ready in $(($(date +%s) - t0)) s"
			if bad_lines $LOG_A | sed 's/^/#   bad: /' | grep .; then
				bad=$((bad + 1))
			fi
		else
			stalls=$((stalls + 1))
			echo "# boot $n: not ready after $(($(date +%s) - t0)) s"
			tr -d '\r' <$LOG_A | awk '/BUG:|Oops|WARNING:|general protection/ { n = 45 } n-- > 0' | sed 's/^/#   /'
			tr -d '\r' <$LOG_A | tail -n 3 | sed 's/^/#   /'
			stuck $pid $LOG_A | grep -E 'RIP|RBX' | head -n 2
		fi
		kill -9 $pid
		wait $pid 2>/dev/null
	done
	echo "# $stalls of $KPF_E2E_BOOT_LOOP boots stalled, $bad more with a bad kernel log"
	kvm-pageflip detach "$UP" >/dev/null
	[ $((stalls + bad)) = 0 ] && echo "ok 1 boot_loop" || echo "not ok 1 boot_loop"
	exit 0
fi

echo "TAP version 13"
echo "1..$PLAN"
echo "# L1 $(uname -r), L2 $(cat /e2e/l2/kver); uplink $UP (XDP), sender $TX"
net_setup | sed 's/^/# /'
# Frames for B's MAC without its VLAN (10.0.0.99 is a MAC nobody has).
arp -i "$TX" -s 10.0.0.3 $MAC_B
dd if=/dev/urandom of="$BULK" bs=1048576 count=$BULK_MB 2>/dev/null

# 1. Both guests boot and bring their interface up.
# One after the other: two L2 boots at once are slow under TCG.
boot_guest A $LOG_A $MAC_A $IP_A/24 ",copybreak=0" && ok_a=1 || ok_a=0
QA=$GUEST_PID
boot_guest B $LOG_B $MAC_B $IP_B/24 ",vlan=100" -no-reboot && ok_b=1 || ok_b=0
QB=$GUEST_PID
want 1 $ok_a "guest A ready"
want 1 $ok_b "guest B ready"
result guests_boot
# QEMU added its rules through the ioctl; the XDP classifier's rule map is
# the CLI's to keep (kvm-pageflip(8)), and until it has them the guests'
# frames take the rx_handler path, which always copies.
kvm-pageflip sync "$UP" | sed 's/^/# /'

# 2. The module holds a binding, a port and a rule for each.
kvm-pageflip bindings | sed 's/^/#   /'
kvm-pageflip rules | sed 's/^/#   /'
PA=$(port_of $MAC_A)
PB=$(port_of $MAC_B 100)
want 1 "$(kvm-pageflip bindings | awk -v a=$QA '$3 == a' | wc -l)" "binding of QEMU A (pid $QA)"
want 1 "$(kvm-pageflip bindings | awk -v b=$QB '$3 == b' | wc -l)" "binding of QEMU B (pid $QB)"
want 2 "$(kvm-pageflip ports | grep -c '^port ')" "ports"
want 1 "$([ -n "$PA" ] && echo 1)" "port of A's MAC rule ($PA)"
want 1 "$([ -n "$PB" ] && echo 1)" "port of B's MAC and VLAN 100 rule ($PB)"
want 1 "$(kvm-pageflip ports | grep "^port $PA:" | grep -c 'copybreak 0,')" "A's copybreak is 0"
result rules_and_ports

# 3, 4. Pings by MAC and by VLAN.
want 10 "$(pings $IP_A)" "echo replies from A (by MAC)"
result ping_by_mac
want 10 "$(pings $IP_B)" "echo replies from B (by VLAN 100)"
result ping_by_vlan
pin_neighbours

# 5. Untagged frames for B's MAC reach nobody, and nothing of A's traffic
# reaches B (checked again during the bulk transfer to A).
b0=$(counter "$PB" delivered)
a0=$(counter "$PA" delivered)
ping -c 3 -W 1 10.0.0.3 >/dev/null 2>&1
ping -c 3 -W 1 10.0.0.99 >/dev/null 2>&1
want "$b0" "$(counter "$PB" delivered)" "frames delivered to B after untagged frames for its MAC"
want "$a0" "$(counter "$PA" delivered)" "frames delivered to A after frames for other MACs"
result vlan_isolation

# 6, 7. 20 MiB over TCP into each guest; the guest's md5 must match.
b0=$(counter "$PB" delivered)
a0=$(counter "$PA" delivered)
want match "$(bulk $IP_A $BULK_MB)" "md5 of $BULK_MB MiB into A"
want "$b0" "$(counter "$PB" delivered)" "frames delivered to B during A's transfer"
echo "# frames delivered to A during its transfer: $(($(counter "$PA" delivered) - a0))"
result bulk_tcp_a
want match "$(bulk $IP_B $BULK_MB)" "md5 of $BULK_MB MiB into B"
result bulk_tcp_b

# 8. Policy: A (copybreak 0) has frames flipped, and its guest copied no
# byte of them; B (always copy) has none.  Every delivered frame is either.
report $IP_A /tmp/report-a
report $IP_B /tmp/report-b
echo "# port $PA (A): $(port_summary "$PA")"
echo "# port $PB (B): $(port_summary "$PB")"
for g in a b; do
	echo "# guest ${g}: $(awk '$1 == "stat" && $3 != 0 { printf "%s %s  ", $2, $3 }' /tmp/report-$g)"
done
fa=$(counter "$PA" flipped)
want 1 "$([ "${fa:-0}" -ge 1 ] && echo 1)" "A's port flipped at least one frame ($fa)"
want "$(counter "$PA" delivered)" "$(($(counter "$PA" flipped) + $(counter "$PA" copied)))" "A: flipped + copied"
want 0 "$(counter "$PB" flipped)" "B's port flipped"
want "$(counter "$PB" delivered)" "$(counter "$PB" copied)" "B: copied"
ga=$(guest_stat /tmp/report-a rx_frames_flipped)
want 1 "$([ "${ga:-0}" -ge 1 ] && echo 1)" "guest A received flipped frames ($ga)"
want 0 "$(guest_stat /tmp/report-a rx_guest_copy_bytes_flipped)" "bytes guest A copied out of flipped frames"
want 0 "$(guest_stat /tmp/report-b rx_frames_flipped)" "flipped frames guest B received"
result flip_policy

# 9. A resets while data flows to it; it comes back with a new port.
timeout 120 nc $IP_A 5002 <"$BULK" >/dev/null 2>&1 &
nc_pid=$!
ok=1
wait_l2 $LOG_A resetting 1 120 $QA || ok=0
want 1 $ok "guest A reset while receiving"
reboot_ready $LOG_A $QA 2 && ok=1 || ok=0
want 1 $ok "guest A booted again"
[ $ok = 1 ] || dump $LOG_A
kill $nc_pid 2>/dev/null
wait $nc_pid 2>/dev/null
kvm-pageflip sync "$UP" | sed 's/^/# /'
PA=$(port_of $MAC_A)
want 1 "$(port_of $MAC_A | wc -l)" "rules for A's MAC"
want 2 "$(kvm-pageflip ports | grep -c '^port ')" "ports"
want 10 "$(pings $IP_A)" "echo replies from A after its reboot"
want match "$(bulk $IP_A 4)" "md5 of 4 MiB into A after its reboot"
result guest_reboot_mid_traffic

# 10. QEMU B is killed while data flows to B: nothing of B is left.
timeout 300 nc $IP_B 5000 <"$BULK" >/dev/null 2>&1 &
nc_pid=$!
b0=$(counter "$PB" delivered)
i=0
while [ $(($(counter "$PB" delivered) - b0)) -lt 200 ] && [ $i -lt 120 ]; do
	sleep 0.5
	i=$((i + 1))
done
echo "# killing QEMU B after $(($(counter "$PB" delivered) - b0)) frames of its transfer"
kill -9 $QB
wait $QB
kill $nc_pid 2>/dev/null
wait $nc_pid 2>/dev/null
want 0 "$(kvm-pageflip bindings | awk -v b=$QB '$3 == b' | wc -l)" "bindings of QEMU B"
want "" "$(port_of $MAC_B 100)" "rules for B's MAC"
want 1 "$(kvm-pageflip ports | grep -c '^port ')" "ports"
want 10 "$(pings $IP_A)" "echo replies from A"
result qemu_kill_mid_traffic

# 11. Neither guest's kernel logged anything bad.
report $IP_A /tmp/report-a
want "log clean" "$(grep '^log ' /tmp/report-a)" "guest A's kernel log"
bad=$(bad_lines $LOG_B)
want "" "$bad" "guest B's console"
grep -v '^log clean' /tmp/report-a | grep -q '^log' && dump $LOG_A
result guest_logs_clean

# 12. QEMU A quits: nothing is left in the module; the uplink detaches.
kill $QA
wait $QA
want 0 "$?" "QEMU A's exit status after SIGTERM"
want "" "$(kvm-pageflip bindings | tail -n +2)" "bindings"
want 0 "$(kvm-pageflip ports | grep -c '^port ')" "ports"
want "" "$(kvm-pageflip rules | tail -n +2)" "rules"
kvm-pageflip detach "$UP" >/dev/null
want 0 "$?" "kvm-pageflip detach"
result module_clean

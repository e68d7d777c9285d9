# SPDX-License-Identifier: GPL-2.0
#
# What the end-to-end test (kpf_e2e_test.sh) and the demo (demo.sh) share,
# in the test VM: the two L2 guests, the network around them, and reading
# the module's and the guests' counters.  Sourced from /e2e/lib.sh.
#
#   guest A  52:54:00:6b:70:a1, no VLAN (a MAC rule), 10.0.0.2/24; the
#            sender NIC is 10.0.0.1
#   guest B  52:54:00:6b:70:b1, access VLAN 100 (a MAC and VLAN rule),
#            10.0.100.2/24; the sender's VLAN 100 interface is 10.0.100.1
#
# Both sit behind the XDP uplink (virtio-net, KPF_NIC_XDP); frames come from
# the sender (KPF_NIC_TX) through the QEMU hub.  QEMU runs as the
# unprivileged user kpf, started by `kvm-pageflip qemu --user kpf`.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
QEMU=/e2e/qemu-system-x86_64
MAC_A=52:54:00:6b:70:a1
MAC_B=52:54:00:6b:70:b1
MAC_NOBODY=02:6b:70:00:01:ee
IP_A=10.0.0.2
IP_B=10.0.100.2
LOG_A=/tmp/l2-a.log
LOG_B=/tmp/l2-b.log
BULK=/tmp/bulk
# Seconds an L2 boot may take before it counts as stuck: 11 to 15 s alone
# on 6.12, longer under the debug kernel and on a loaded machine.
BOOT_TRY_S=${KPF_E2E_BOOT_TRY_S:-120}
UP=$KPF_NIC_XDP
TX=$KPF_NIC_TX

# l2_lines LOG KEY: how many "@@l2 KEY" lines LOG has.
l2_lines() {
	tr -d '\r' <"$1" 2>/dev/null | grep -c "^@@l2 $2"
}

# wait_l2 LOG KEY COUNT SECONDS PID: wait for the COUNT-th "@@l2 KEY";
# fails early if the guest reported a failure or QEMU (PID) exited.
wait_l2() {
	i=0
	while [ "$(l2_lines "$1" "$2")" -lt "$3" ]; do
		[ $i -lt $(($4 * 2)) ] || return 1
		[ "$(l2_lines "$1" fail)" = 0 ] || return 1
		kill -0 "$5" 2>/dev/null || return 1
		sleep 0.5
		i=$((i + 1))
	done
}

# net_setup: QEMU may use /dev/kvm as kpf; the sender's addresses; the
# uplink attached in XDP mode.  virtio-net's receive buffers are fragments
# of compound pages, which the module never flips; only a buffer posted
# before XDP was attached is first copied by the driver into a page of its
# own, which can be flipped.  As kpf_xdp_test does, the NIC first receives
# as many frames nobody takes as its ring holds (256), so that its ring is
# full of such buffers: pings to a neighbour that does not exist, 128 at a
# time, until rx_packets says that 256 arrived.
net_setup() {
	chgrp kvm /dev/kvm
	chmod 0660 /dev/kvm
	ip link set lo up
	ip link set "$UP" up
	ip link set "$TX" up
	ip addr add 10.0.0.1/24 dev "$TX"
	ip link add link "$TX" name "$TX.100" type vlan id 100
	ip link set "$TX.100" up
	ip addr add 10.0.100.1/24 dev "$TX.100"
	ip link set "$UP" promisc on
	arp -i "$TX" -s 10.0.0.99 $MAC_NOBODY
	rx0=$(cat /sys/class/net/"$UP"/statistics/rx_packets)
	for round in 1 2 3 4 5 6 7 8; do
		ping -q -c 128 -i 0.01 -W 1 10.0.0.99 >/dev/null
		primed=$(($(cat /sys/class/net/"$UP"/statistics/rx_packets) - rx0))
		[ "$primed" -lt 256 ] || break
	done
	echo "$UP received $primed frames before XDP was attached"
	kvm-pageflip attach "$UP"
}

# pin_neighbours: static ARP entries in the test VM for both guests, so
# that from now on no ARP frame reaches a guest (the guests have one for
# the sender, set by l2-init from kpf_peer).
pin_neighbours() {
	arp -i "$TX" -s $IP_A $MAC_A
	arp -i "$TX.100" -s $IP_B $MAC_B
}

# start_guest LOG MAC IP DEVICE-OPTIONS [QEMU-OPTION...]: an L2 guest in
# the background; $! is QEMU's pid (the launcher execs it).  The guest's
# CPU model is the one payload.sh chose (its L2_CPU says why).
L2_CPU=$(cat /e2e/l2/cpu)
start_guest() {
	log=$1 mac=$2 ip=$3 opts=$4
	shift 4
	: >"$log"
	chmod 0666 "$log"
	kvm-pageflip qemu --uplink "$UP" --user kpf -- $QEMU -accel kvm -cpu $L2_CPU \
		-machine q35 -m 256M -smp 1 -nodefaults -nographic \
		-monitor tcp:127.0.0.1:$(monitor_port "$log"),server,nowait \
		-serial file:"$log" -kernel /e2e/l2/vmlinuz -initrd /e2e/l2/initrd.cpio \
		-append "console=ttyS0 nokaslr panic=-1 kpf_ip=$ip kpf_peer=${ip%.*}.1,$(cat /sys/class/net/"$TX"/address)" \
		-device "kvm-pageflip,mac=$mac$opts" "$@" >"$log.qemu" 2>&1 &
}

# boot_guest NAME LOG MAC IP DEVICE-OPTIONS [QEMU-OPTION...]: start an L2
# guest and wait until it is ready; sets GUEST_PID to QEMU's pid.  Under
# nested TCG an L2 boot now and then stops making progress before the
# guest driver is even loaded (Documentation/testing.rst); such a boot is
# killed after BOOT_TRY_S seconds, with QEMU's threads and the guest's
# registers shown, and tried again, three times in all.
boot_guest() {
	name=$1
	shift
	for try in 1 2 3; do
		t0=$(date +%s)
		start_guest "$@"
		GUEST_PID=$!
		if wait_l2 "$1" ready 1 "$BOOT_TRY_S" $GUEST_PID; then
			echo "# guest $name ready in $(($(date +%s) - t0)) s (boot $try)"
			return 0
		fi
		echo "# guest $name not ready after $(($(date +%s) - t0)) s (boot $try)"
		dump "$1"
		stuck $GUEST_PID "$1"
		kill -9 $GUEST_PID 2>/dev/null
		wait $GUEST_PID 2>/dev/null
	done
	return 1
}

# reboot_ready LOG PID N: wait for the guest to report ready for the N-th
# time after a reset it did itself; a reboot that does not get there in
# BOOT_TRY_S seconds is reset again through QEMU's monitor, three resets
# in all.
reboot_ready() {
	n=$3
	for try in 1 2 3; do
		t0=$(date +%s)
		if wait_l2 "$1" ready "$n" "$BOOT_TRY_S" "$2"; then
			echo "# guest ready again in $(($(date +%s) - t0)) s (boot $try)"
			return 0
		fi
		echo "# guest not ready again after $(($(date +%s) - t0)) s (boot $try)"
		dump "$1"
		stuck "$2" "$1"
		n=$(($(l2_lines "$1" ready) + 1))
		echo system_reset | timeout 5 nc 127.0.0.1 "$(monitor_port "$1")" >/dev/null 2>&1
	done
	return 1
}

# monitor_port LOG: the TCP port on lo of the QEMU monitor of LOG's guest.
monitor_port() {
	[ "$1" = "$LOG_A" ] && echo 4441 || echo 4442
}

# bad_lines LOG: the lines of an L2 guest's console log LOG that
# /kpf/log-bad.txt names and /kpf/log-expected.txt does not excuse.
bad_lines() {
	tr -d '\r' <"$1" | grep -F -f /kpf/log-bad.txt | grep -v -F -f /kpf/log-expected.txt
}

# stuck PID LOG: where QEMU's threads are, and where the guest's vCPU is
# (five samples of RIP; the guest runs with nokaslr), as comments.
stuck() {
	for t in /proc/"$1"/task/*; do
		[ -d "$t" ] || continue
		echo "# thread ${t##*/} $(cat "$t/comm") $(awk '/^State:/ { print $2 }' "$t/status") wchan $(cat "$t/wchan")"
		sed 's/^/#     /' "$t/stack" 2>/dev/null
	done
	for i in 1 2 3 4 5; do
		echo "info registers" | timeout 5 nc 127.0.0.1 "$(monitor_port "$2")" 2>/dev/null |
			tr -d '\r' | grep -E '^(RAX|RSI|R8 |R12|RIP|CS |CR0)' | sed 's/^/#   vcpu: /'
		sleep 1
	done
}

# port_of MAC [VLAN]: the port the uplink's rule for MAC (and VLAN, "*"
# for none) sends to.
port_of() {
	kvm-pageflip rules | awk -v m="$1" -v v="${2:-*}" \
		'tolower($2) == m && $3 == v { print $4 }'
}

# counter PORT NAME: one of a port's counters, as `kvm-pageflip ports`
# prints them.
counter() {
	kvm-pageflip ports | awk -v p="port $1:" -v n="$2" \
		'index($0, p) == 1 { on = 1; next } /^port / { on = 0 } on && $1 == n { print $2 }'
}

# port_summary PORT: the counters that tell flips from copies, on a line.
port_summary() {
	kvm-pageflip ports | awk -v p="port $1:" 'index($0, p) == 1 { on = 1; next } /^port / { on = 0 }
		on && $1 ~ /^(delivered|flipped|copied|bytes_copied|bytes_zeroed|invalidations)$/ { printf "%s %s  ", $1, $2 }'
}

# guest_stat REPORT NAME: one of the guest driver's statistics in a report.
guest_stat() {
	awk -v n="$2" '$1 == "stat" && $2 == n { print $3 }' "$1"
}

# pings IP: how many of 10 echo requests IP answers, once it answered one.
pings() {
	i=0
	until ping -c 1 -W 2 "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 30 ] || break
	done
	ping -c 10 -i 0.2 -w 30 "$1" | awk '/packets received/ { print $4 }'
}

# bulk IP MIB: send the first MIB MiB of BULK to IP's md5 service; prints
# "match" when the md5 the guest computed is that of what was sent.
bulk() {
	head -c $(($2 * 1048576)) "$BULK" >/tmp/bulk.part
	sent=$(md5sum </tmp/bulk.part | cut -d' ' -f1)
	got=$(timeout 600 nc "$1" 5000 </tmp/bulk.part | cut -d' ' -f1)
	echo "# $2 MiB to $1 over TCP: md5 sent $sent, the guest's ${got:-none}" >&2
	[ "$sent" = "$got" ] && echo match || echo mismatch
}

# report IP OUT: the guest's own report (l2-report) into OUT.
report() {
	timeout 120 nc "$1" 5001 </dev/null >"$2"
}

# dump LOG: the end of a guest's console and QEMU's output, as comments.
dump() {
	echo "# the end of $1:"
	tr -d '\r' <"$1" | tail -n 25 | sed 's/^/#   /'
	sed 's/^/#   qemu: /' "$1.qemu" 2>/dev/null
}

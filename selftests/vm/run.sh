#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run kvm-pageflip in the test VM: QEMU (TCG, nested SVM, emulated IOMMU)
# booting each Debian kernel prepared by setup.sh with a busybox initramfs.
#
#   selftests/vm/run.sh test    every selftest program on every kernel
#   selftests/vm/run.sh demo    the demo, `kvm-pageflip stats` and the demo
#                               of two L2 Linux guests, live
#   selftests/vm/run.sh bench   the benchmark (selftests/bench), live
#
# Environment:
#   KPF_KERNELS        labels of the kernels to use (e.g. "6.1 7.3"; test)
#   KPF_TESTS          names of the selftest programs to run (test)
#   KPF_DEMO_KERNEL    label of the kernel the demo boots (default 6.12)
#   KPF_BENCH_KERNEL   label of the kernel the benchmark boots (default 6.12)
#   KPF_TEST_TIMEOUT   seconds each program may run in the VM (default 600;
#                      1200 for the demo and the benchmark)
#   KPF_TEST_TIMEOUTS  per-program limits that replace it, as NAME=SECONDS
#                      words (added to, and overriding, PROGRAM_TIMEOUTS)
#   KPF_FUZZ_*         passed to the programs in the VM (kpf_fuzz_test)
#   KPF_SOAK_*         passed to the programs in the VM (kpf_soak_test)
#   KPF_VM_TIMEOUT     seconds one VM may run (default 2700: the debug
#                      kernel with every program took about 900 before
#                      kpf_soak_test, which adds about 830)
#   KPF_STALL_S        seconds a VM may print nothing before it counts as
#                      stopped (default 300; init prints every 30 s)
#   KPF_BUDGET         seconds after which no further VM is started, the
#                      running one included in the limit (default 4500)
#   V=1                show build and apt output and the VM console live
#
# The test VM runs in `tools/qemu/build.sh --test-vm`: Debian's QEMU built
# from its source with TCG and the fixes in tools/qemu/patches/ (once;
# cached).  When kpf_e2e_test runs, and for the demo, tools/qemu/build.sh
# builds QEMU with the kvm-pageflip device (once; cached) and
# selftests/e2e/payload.sh adds it, the L2 guests' kernel and their
# initramfs to the test VM's.
#
# Results come back through the VM's second serial port (see init); the
# console is kept in build/logs/KVER/console.log.  Per kernel a line
# "KVER: N passed, N failed, N skipped" is printed (report.awk says what is
# counted), and last "total: N passed, N failed, N skipped".  The exit
# status is non-zero when anything failed (in demo mode: or was skipped).

set -euo pipefail
KPF_PROG=run
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VM_DIR=$KPF_REPO/selftests/vm
TESTS_DIR=$KPF_REPO/selftests/build/tests
CLI=$KPF_REPO/tools/kvm-pageflip
DEMO=$KPF_REPO/selftests/build/kpf-demo
BENCH=$KPF_REPO/selftests/build/kpf-bench
TEST_TIMEOUT=${KPF_TEST_TIMEOUT:-600}
# Programs that need longer than KPF_TEST_TIMEOUT: the fuzzer makes 10^6
# calls and the soak sends 10^6 frames on the debug kernel, which takes
# minutes under TCG (Documentation/testing.rst); the end-to-end test boots
# L2 guests three times.
PROGRAM_TIMEOUTS="kpf_fuzz_test=1200 kpf_soak_test=1200 kpf_e2e_test=1500 ${KPF_TEST_TIMEOUTS:-}"
export KPF_PROGRAM_TIMEOUTS=$PROGRAM_TIMEOUTS
VM_TIMEOUT=${KPF_VM_TIMEOUT:-2700}
STALL_S=${KPF_STALL_S:-300}
BUDGET=${KPF_BUDGET:-4500}
# no_timer_check: under TCG on a busy machine the kernel's boot-time check
# of the IO-APIC timer can miss its ticks and panic ("timer doesn't work
# through Interrupt-remapped IO-APIC"; seen with other VMs running).
CMDLINE="console=ttyS0 panic=-1 panic_on_warn=0 intel_iommu=on iommu.strict=1 no_timer_check ${KPF_CMDLINE_EXTRA:-}"
# Single-threaded TCG: with thread=multi, QEMU 7.2 lets the guest kernel's
# int3-based code patching go wrong now and then (measured: 6.1 stalled in
# RCU/soft lockups in 3 of 6 runs, 7.3 hit "Oops: int3" in 3 of 4, 6.12
# failed 1 of 4), while thread=single passed every run at the same speed.
ACCEL=tcg,thread=single

PASSED=0 FAILED=0 SKIPPED=0
START=$SECONDS
VM_PID=

# Never leave a VM behind (timeout(1) runs in a process group of its own).
trap '[ -z "$VM_PID" ] || kill "$VM_PID" 2>/dev/null' EXIT

usage() {
	echo "usage: $0 test|demo|bench" >&2
	exit 2
}

# build_userspace: the selftests, the demo and the CLI (static binaries).
build_userspace() {
	local dir log=$KPF_BUILD/logs/userspace.log
	mkdir -p "${log%/*}"
	: >"$log"
	for dir in selftests tools; do
		say "make -C $dir"
		logged "$log" make -C "$KPF_REPO/$dir"
	done
}

# test_programs: the selftest programs to run (KPF_TESTS or all of them).
test_programs() {
	local t names=${KPF_TESTS:-}

	[ -n "$names" ] || names=$(find "$TESTS_DIR" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort)
	[ -n "$names" ] || die "no selftest programs in $TESTS_DIR"
	for t in $names; do
		[ -x "$TESTS_DIR/$t" ] || die "KPF_TESTS: no selftest program $TESTS_DIR/$t"
		echo "$TESTS_DIR/$t"
	done
}

# count LINE: add a report's "KVER: N passed, N failed, N skipped" line to
# the totals.
count() {
	local -a w
	read -ra w <<<"$1"
	PASSED=$((PASSED + w[1])) FAILED=$((FAILED + w[3])) SKIPPED=$((SKIPPED + w[5]))
}

# fail_kernel KVER WHAT WHY: a kernel that could not be tested at all.
fail_kernel() {
	echo "  FAIL $2: $3"
	echo "$1: 0 passed, 1 failed, 0 skipped"
	count "$1: 0 passed, 1 failed, 0 skipped"
}

# follow PID KVER: show the VM's progress (in VM_LOG) while PID runs: the
# program being run, and in demo mode the demo's and the CLI's output; with
# V=1 the whole console.
follow() {
	if [ "${V:-0}" = 1 ]; then
		tail -n +1 -f --pid="$1" "$VM_LOG/console.log"
		return
	fi
	tail -n +1 -f --pid="$1" "$VM_LOG/channel.log" | awk -v mode="$MODE" -v kver="$2" '
		{ sub(/\r$/, "") }
		$1 == "@@kpf" && $2 == "begin" && $3 != "dmesg" {
			printf "%s: running %s\n", kver, $4
			live = mode != "test"; next
		}
		$1 == "@@kpf" { live = 0; next }
		live { print; fflush() }'
}

# The test VM's NICs, all on one QEMU hub, so that a frame sent out of one
# arrives on the two others through real drivers.  init finds them by
# driver and MAC and exports their names (KPF_NIC_XDP, KPF_NIC_SKB,
# KPF_NIC_TX).
#  - the XDP uplink: virtio-net behind the IOMMU.  Its guest offloads are
#    off (a hub has no vnet header, so QEMU would drop them anyway; said
#    here so that the driver lets an XDP program attach on every kernel);
#    merged receive buffers stay on for jumbo frames in skb mode.
#  - the skb uplink: an e1000e, whose driver has no XDP.
#  - the sender: an e1000e the tests send frames out of.
NICS=(
	-netdev hubport,id=nic_xdp,hubid=0
	-device virtio-net-pci,netdev=nic_xdp,mac=52:54:00:6b:70:01,addr=0x3,iommu_platform=on,disable-legacy=on,mrg_rxbuf=on,guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off
	-netdev hubport,id=nic_skb,hubid=0
	-device e1000e,netdev=nic_skb,mac=52:54:00:6b:70:02,addr=0x4
	-netdev hubport,id=nic_tx,hubid=0
	-device e1000e,netdev=nic_tx,mac=52:54:00:6b:70:03,addr=0x5
)

# vm_monitor SOCKET COMMAND...: run QEMU monitor commands on SOCKET and
# print what they printed (at most 10 s each).
vm_monitor() {
	perl -MIO::Socket::UNIX -MIO::Select -e '
		my $s = IO::Socket::UNIX->new(Peer => shift) or exit 1;
		my $sel = IO::Select->new($s);
		sub upto_prompt {
			my $out = "";
			while ($out !~ /\(qemu\) $/ && $sel->can_read(10)) {
				sysread($s, my $buf, 65536) or last;
				$out .= $buf;
			}
			$out =~ s/\e\[[0-9;]*[A-Za-z]//g;
			$out =~ s/\r//g;
			return $out;
		}
		upto_prompt();
		for my $cmd (@ARGV) {
			print $s "$cmd\n";
			my $out = upto_prompt();
			$out =~ s/^[^\n]*\n//;	# the echo of the command
			$out =~ s/\(qemu\) $//;
			print "(qemu) $cmd\n$out";
		}' "$@"
}

# vm_state: the vCPUs' state of the running VM, into VM_LOG/stall.txt.
vm_state() {
	vm_monitor "$VM_LOG/monitor.sock" "info cpus" "info registers -a" \
		"x/32i \$pc" "info lapic" >"$VM_LOG/stall.txt" 2>&1 || true
}

# watchdog SECONDS PID: watch the VM that PID runs for SECONDS.  A VM that
# has printed nothing on its console or channel for STALL_S seconds (init
# prints a heartbeat every 30 s) has stopped making progress: its vCPUs'
# state goes to VM_LOG/stall.txt, VM_LOG/stalled says for how long it was
# quiet, and it is stopped.  A VM about to reach its time limit leaves its
# state too.
watchdog() {
	local limit=$1 pid=$2 size last= quiet=0 t=0 nap=
	trap '[ -z "$nap" ] || kill "$nap" 2>/dev/null; exit 0' TERM
	while kill -0 "$pid" 2>/dev/null; do
		sleep 10 &
		nap=$!
		wait "$nap"
		t=$((t + 10))
		size=$(stat -c %s "$VM_LOG/console.log" "$VM_LOG/channel.log")
		if [ "$size" != "$last" ]; then
			last=$size quiet=0
		else
			quiet=$((quiet + 10))
		fi
		if [ "$quiet" -ge "$STALL_S" ]; then
			vm_state
			echo "$quiet" >"$VM_LOG/stalled"
			kill "$pid" 2>/dev/null
			return 0
		fi
		if [ "$t" -ge $((limit - 20)) ]; then
			vm_state
			return 0
		fi
	done
}

# boot KVER VMLINUZ INITRD SECONDS: run the VM with its console and its
# channel in VM_LOG; sets VM_END to how it ended.
boot() {
	local kver=$1 status=0 dog
	: >"$VM_LOG/console.log"
	: >"$VM_LOG/channel.log"
	rm -f "$VM_LOG/monitor.sock" "$VM_LOG/stall.txt" "$VM_LOG/stalled"
	timeout -k 10 "$4" "$TEST_VM_QEMU" \
		-accel "$ACCEL" -machine q35,kernel-irqchip=split \
		-cpu EPYC,+svm,+npt -smp "$VM_SMP" -m 2G -nographic -no-reboot \
		-nodefaults -monitor unix:"$VM_LOG/monitor.sock",server=on,wait=off \
		-device intel-iommu,intremap=on,caching-mode=on \
		"${NICS[@]}" \
		-serial file:"$VM_LOG/console.log" -serial file:"$VM_LOG/channel.log" \
		-kernel "$2" -initrd "$3" -append "$CMDLINE" \
		</dev/null >"$VM_LOG/qemu.log" 2>&1 &
	VM_PID=$!
	watchdog "$4" "$VM_PID" &
	dog=$!
	follow "$VM_PID" "$kver"
	wait "$VM_PID" || status=$?
	VM_PID=
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	if [ -e "$VM_LOG/stalled" ]; then
		VM_END="stopped making progress: it printed nothing for $(cat "$VM_LOG/stalled") s (its vCPUs' state is in $VM_LOG/stall.txt)"
		return
	fi
	case $status in
	0) VM_END="QEMU stopped before the VM reported its end (panic? see $VM_LOG/console.log)" ;;
	124) VM_END="timed out after $4 s (see $VM_LOG/console.log and $VM_LOG/stall.txt)" ;;
	*) VM_END="QEMU failed with status $status (see $VM_LOG/qemu.log)" ;;
	esac
}

# needs_l2 PROGRAM...: whether one of them runs L2 Linux guests (and needs
# QEMU with the device and the guests' payload in the test VM).
needs_l2() {
	local t
	for t; do
		[ "${t##*/}" != kpf_e2e_test ] || return 0
	done
	return 1
}

# The L2 guests run the test VM's own kernel, except under these: the
# debug kernel has no ZONE_DEVICE (the guest driver would copy) and is
# slow.  LABEL=L2LABEL words.
L2_KERNEL_OVERRIDES="6.12-debug=6.12"

# l2_payload LABEL: the L2 guests' payload for the test VM of kernel LABEL
# into KPF_BUILD/vm/e2e-LABEL, exported as KPF_INITRAMFS_EXTRA.
l2_payload() {
	local out=$KPF_BUILD/vm/e2e-$1 l2label=$1 w
	for w in $L2_KERNEL_OVERRIDES; do
		[ "${w%%=*}" != "$1" ] || l2label=${w#*=}
	done
	"$KPF_REPO/selftests/e2e/payload.sh" "$out" "$l2label" "$QEMU_BIN" || return
	export KPF_INITRAMFS_EXTRA=$out
}

# test_kernel LABEL KVER VMLINUZ MODROOT KIND PROGRAM...: build the module
# and the initramfs for one kernel, boot it and report.  KIND "l2" is the
# boot that runs L2 Linux guests (kpf_e2e_test, the demo's second part):
# with their payload, and with one vCPU (see Documentation/testing.rst, "L2
# guests in the test VM"); its logs are in build/logs/KVER-l2.
test_kernel() {
	local label=$1 kver=$2 vmlinuz=$3 modroot=$4 kind=$5 ko initrd left started t
	local names= name=$2 program=$PROGRAM
	shift 5
	unset KPF_INITRAMFS_EXTRA
	VM_SMP=2
	if [ "$kind" = l2 ]; then
		name=$kver-l2 VM_SMP=1
		program=-
		if ! l2_payload "$label"; then
			fail_kernel "$name" "the L2 guests' payload builds" "see the error above"
			return
		fi
	fi
	VM_LOG=$KPF_BUILD/logs/$name
	ko=$KPF_BUILD/kernels/$kver/kvm-pageflip.ko
	initrd=$KPF_BUILD/vm/$name/initramfs.cpio

	if ! KPF_KERNELS=$label "$VM_DIR/build-module.sh"; then
		fail_kernel "$name" "kvm-pageflip.ko builds" "see $KPF_BUILD/logs/$kver/build.log"
		return
	fi
	left=$((BUDGET - (SECONDS - START)))
	if [ "$left" -le 0 ]; then
		fail_kernel "$name" "the VM runs" "the time budget of $BUDGET s is spent (KPF_BUDGET)"
		return
	fi
	mkdir -p "${initrd%/*}" "$VM_LOG"
	if ! "$VM_DIR/initramfs.sh" "$initrd" "$kver" "$modroot" "$ko" "$MODE" "$TEST_TIMEOUT" \
		"$CLI" "${program:--}" "$@"; then
		fail_kernel "$name" "the test VM's initramfs builds" "see the error above"
		return
	fi

	say "$name: booting the test VM"
	started=$SECONDS
	boot "$name" "$vmlinuz" "$initrd" $((left < VM_TIMEOUT ? left : VM_TIMEOUT))
	say "$name: the VM ran for $((SECONDS - started)) s"
	for t in "$@"; do names+=" ${t##*/}"; done
	[ "$MODE" = test ] || names=kpf-demo
	[ "$MODE" = test ] || [ "$kind" != l2 ] || names=kpf-demo-l2
	awk -v kver="$name" -v programs="$names" -v limit="$TEST_TIMEOUT" -v vm="$VM_END" \
		-v console="$VM_LOG/console.log" -v patterns="$VM_DIR" -f "$VM_DIR/report.awk" "$VM_LOG/channel.log" |
		tee "$VM_LOG/report.txt"
	count "$(tail -n 1 "$VM_LOG/report.txt")"
}

main() {
	local kernels line label kver kdir vmlinuz modroot root t
	local programs=() programs_main=() l2_programs=()

	MODE=${1:-}
	case $MODE in
	test) PROGRAM= ;;
	demo)
		KPF_KERNELS=${KPF_DEMO_KERNEL:-6.12} PROGRAM=$DEMO
		TEST_TIMEOUT=${KPF_TEST_TIMEOUT:-1200}
		;;
	bench)
		KPF_KERNELS=${KPF_BENCH_KERNEL:-6.12} PROGRAM=$BENCH
		TEST_TIMEOUT=${KPF_TEST_TIMEOUT:-1200}
		;;
	*) usage ;;
	esac
	[ "$(id -u)" = 0 ] || die "must run as root (apt, chroot, the VM's initramfs)"
	# One run at a time per tree: runs share build/.
	mkdir -p "$KPF_BUILD"
	exec 8>"$KPF_BUILD/run.lock"
	flock -n 8 || { say "waiting for another run in $KPF_BUILD"; flock 8; }

	"$VM_DIR/setup.sh"
	build_userspace
	kernels=$(kernels_selected)
	if [ "$MODE" = test ]; then
		line=$(test_programs)
		mapfile -t programs <<<"$line"
	fi
	# The programs that run L2 guests get a boot of their own.
	for t in "${programs[@]}"; do
		if needs_l2 "$t"; then l2_programs+=("$t"); else programs_main+=("$t"); fi
	done
	say "the test VM's QEMU (tools/qemu/build.sh --test-vm; cached once built)"
	TEST_VM_QEMU=$("$KPF_REPO/tools/qemu/build.sh" --test-vm | tail -n 1)
	QEMU_BIN=
	if [ "$MODE" = demo ] || [ ${#l2_programs[@]} -gt 0 ]; then
		say "QEMU with the kvm-pageflip device (tools/qemu/build.sh; cached once built)"
		QEMU_BIN=$("$KPF_REPO/tools/qemu/build.sh" | tee /dev/stderr | tail -n 1)
	fi
	while IFS=$'\t' read -r label kver kdir vmlinuz modroot root; do
		if [ "$MODE" != test ] || [ ${#programs_main[@]} -gt 0 ]; then
			test_kernel "$label" "$kver" "$vmlinuz" "$modroot" main \
				"${programs_main[@]}" </dev/null
		fi
		if [ "$MODE" = demo ] || [ ${#l2_programs[@]} -gt 0 ]; then
			test_kernel "$label" "$kver" "$vmlinuz" "$modroot" l2 \
				"${l2_programs[@]}" </dev/null
		fi
	done <<<"$kernels"

	say "finished in $((SECONDS - START)) s; logs in $KPF_BUILD/logs"
	echo "total: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" = 0 ] && { [ "$MODE" = test ] || [ "$SKIPPED" = 0 ]; }
}

main "$@"

# SPDX-License-Identifier: GPL-2.0
#
# Judge one boot of the test VM from what came back through its channel
# (the protocol is described in selftests/vm/init) and print, for kernel
# KVER, every failure with the tail of its output, every skip with its
# reason, and last a line "KVER: N passed, N failed, N skipped".
#
#   awk -v kver=KVER -v programs="PROG..." -v limit=SECONDS \
#       -v vm="how the VM ended" -v console=CONSOLE_LOG -f report.awk CHANNEL_LOG
#
# Counted: each TAP result line of each selftest program (kselftest style:
# "ok N name", "not ok N name", "ok N name # SKIP reason"); a program that
# crashes, times out, exits non-zero without a failing result, or reports
# fewer results than its plan; "kvm-pageflip.ko loads"; "module unloads
# cleanly"; "kernel log clean"; the demo and "kvm-pageflip stats" (demo
# mode); a VM that does not reach its end fails, and so does every program
# it did not run.

BEGIN {
	# What must never appear in a kernel log (log-bad.txt), and lines
	# that contain one of those but are expected (log-expected.txt): both
	# one fixed string per line, in the directory given as -v patterns,
	# and used by the L2 guests' checks too.  Expected are: the note
	# every kernel makes at boot that the emulated EPYC has no SRSO
	# microcode (6.1 even with spec_rstack_overflow=off); the debug
	# kernel's announcements of lockdep's RCU checks and of kmemleak; and
	# kmemleak's note that it scans a whole object when kpf_failnth_test
	# failed an allocation it made for a scan area.
	nbad = read_lines(patterns "/log-bad.txt", bad)
	nexpected = read_lines(patterns "/log-expected.txt", expected_ok)
	TAIL = 20
	kind = ""
}

# read_lines FILE ARRAY: ARRAY[1..N] = FILE's non-empty lines; returns N.
function read_lines(file, array,    line, n, status) {
	while ((status = (getline line < file)) > 0)
		if (line != "")
			array[++n] = line
	if (status < 0 || n == 0) {
		print "report.awk: cannot read " file > "/dev/stderr"
		broken = 1
		exit 2
	}
	close(file)
	return n
}

function pass(name) {
	passed++
}

function fail(name, why) {
	failed++
	printf "  FAIL %s%s\n", name, why == "" ? "" : ": " why
}

function skip(name, why) {
	skipped++
	printf "  SKIP %s: %s\n", name, why
}

# show_tail BUF N: the last TAIL of the N lines kept in BUF.
function show_tail(buf, n,    i) {
	for (i = n > TAIL ? n - TAIL : 0; i < n; i++)
		printf "       | %s\n", buf[i % TAIL]
}

# rest FROM: the words of the current line from word FROM on.
function rest(from,    s, i) {
	s = $from
	for (i = from + 1; i <= NF; i++)
		s = s " " $i
	return s
}

function begin_program(name) {
	kind = $3
	prog = name
	plimit = $5 != "" ? $5 + 0 : limit
	ran[prog] = 1
	nout = nsub = results = plan = progfail = 0
	planskip = ""
}

# tap_result: an "ok"/"not ok" line of the current program.
function tap_result(    ok, line, name, directive, at) {
	results++
	ok = $1 == "ok"
	line = $0
	sub(/^(not )?ok [0-9]+ ?(- )?/, "", line)
	name = line
	directive = ""
	if ((at = index(line, " # ")) > 0 || line ~ /^# /) {
		at = at ? at : 1
		name = substr(line, 1, at - 1)
		directive = substr(line, at + (at == 1 ? 2 : 3))
	}
	if (name == "")
		name = "#" $(ok ? 2 : 3)
	name = prog ": " name
	if (toupper(directive) ~ /^SKIP/) {
		sub(/^[Ss][Kk][Ii][Pp] *:? */, "", directive)
		skip(name, directive == "" ? "no reason given" : directive)
	} else if (ok) {
		pass(name)
	} else {
		fail(name)
		show_tail(subout, nsub)
		progfail++
	}
	nsub = 0
}

# end_program STATUS SECONDS: judge how the current program ended.
function end_program(status, secs) {
	if (kind != "test") {
		if (status == 0)
			pass(prog)
		else {
			fail(prog, "exit status " status)
			show_tail(out, nout)
		}
	} else if (status >= 128) {
		fail(prog, "killed by signal " status - 128 \
			(secs >= plimit ? " at its " plimit " s time limit" : ""))
		show_tail(out, nout)
	} else if (planskip != "") {
		skip(prog, planskip)
	} else if (results == 0) {
		fail(prog, "no test results (exit status " status ")")
		show_tail(out, nout)
	} else if (results < plan) {
		fail(prog, "planned " plan " tests, reported " results)
		show_tail(out, nout)
	} else if (status != 0 && status != 4 && progfail == 0) {
		fail(prog, "exit status " status " although no test failed")
		show_tail(out, nout)
	}
	kind = ""
}

# bad_line LINE: does LINE say something went wrong in the kernel?
function bad_line(line,    j) {
	for (j = 1; j <= nexpected; j++)
		if (index(line, expected_ok[j]))
			return 0
	for (j = 1; j <= nbad; j++)
		if (index(line, bad[j]))
			return 1
	return 0
}

# check_log BUF N SOURCE: fail "kernel log clean" if BUF has a bad line;
# show the first one with what follows it, then further bad lines.
function check_log(buf, n, source,    i, first, printed) {
	first = -1
	for (i = 0; i < n && printed < 2 * TAIL; i++) {
		if (first < 0 && bad_line(buf[i])) {
			first = i
			fail("kernel log clean", source)
		}
		if (first >= 0 && (i < first + TAIL || bad_line(buf[i]))) {
			printf "       | %s\n", buf[i]
			printed++
		}
	}
	if (first < 0)
		pass("kernel log clean")
}

{ sub(/\r$/, "") }

kind == "dmesg" && !/^@@kpf end dmesg /	{ log_[nlog++] = $0; next }

kind != "" && !/^@@kpf end / {
	out[nout++ % TAIL] = $0
	if (kind == "test") {
		if (/^(not )?ok [0-9]+/)
			tap_result()
		else if (/^1\.\.[0-9]+/) {
			plan = substr($1, 4) + 0
			if (plan == 0 && match($0, /# *[Ss][Kk][Ii][Pp]/))
				planskip = substr($0, RSTART + RLENGTH)
			sub(/^[: ]+/, "", planskip)
		} else
			subout[nsub++ % TAIL] = $0
	}
	next
}

$1 != "@@kpf"	{ next }
$2 == "nics"	{ printf "  nics: %s\n", rest(3) }
$2 == "kvm" && $3 == "ok"	{ printf "  kvm: %s\n", rest(4) }
$2 == "kvm" && $3 == "skip"	{ printf "  kvm: unavailable, selftests skipped: %s\n", rest(4) }
$2 == "load"	{ if ($3 == "ok") pass("kvm-pageflip.ko loads"); else fail("kvm-pageflip.ko loads", rest(4)) }
$2 == "unload"	{ unloaded = 1; if ($3 == "ok") pass("module unloads cleanly"); else fail("module unloads cleanly", rest(4)) }
$2 == "begin" && $3 == "dmesg"	{ kind = "dmesg"; gotlog = 1 }
$2 == "begin" && $3 != "dmesg"	{ begin_program($4) }
$2 == "end" && $3 == "dmesg"	{ kind = "" }
$2 == "end" && $3 != "dmesg"	{ end_program($5 + 0, $6 + 0) }
$2 == "skip"	{ ran[$4] = 1; skip($4, rest(5)) }
$2 == "done"	{ done = 1 }

END {
	if (broken)
		exit 2
	if (kind != "" && kind != "dmesg") {
		fail(prog, "did not finish: " vm)
		show_tail(out, nout)
	}
	if (!done) {
		fail("the VM runs to its end", vm)
		n = split(programs, list, " ")
		for (i = 1; i <= n; i++)
			if (!(list[i] in ran))
				fail(list[i], "not run")
		if (!unloaded)
			fail("module unloads cleanly", "never reported")
	}
	if (gotlog)
		check_log(log_, nlog, "see the VM's dmesg")
	else {
		while ((getline line < console) > 0)
			log_[nlog++] = line
		check_log(log_, nlog, "no dmesg came back; from the console log")
	}
	printf "%s: %d passed, %d failed, %d skipped\n", kver, passed, failed, skipped
}

#!/usr/bin/env bash
# vm.sh [--shell] KERNEL SELFTESTS_OUT TESTS_LIST RUN_DIR [EXTRA_CMDLINE]: pack the
# listed tests into an initramfs (a test name is looked up in SELFTESTS_OUT, then under
# build/), boot KERNEL (KVM runs nested inside; the accelerator is chosen by
# pick_accel in lib.sh), collect TAP and console.
# Prints one TAP line per test, any kernel splat, and "N passed, N failed, N skipped";
# exits non-zero on any failure, unexpected skip (see "#expect-skip"), splat or hang.
# --shell: an interactive shell in the VM on this terminal instead of the test run
# (make shell).
# QEMU names the emulator (the test bed's own tests use a stub).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shell=""
if [ "${1:-}" = --shell ]; then
	shell=1
	shift
fi
kernel=$1 out=$2 list=$3 run=$4 cmdline_extra=${5:-}
QEMU=${QEMU:-qemu-system-x86_64}
[ -f "$kernel" ] || die "no kernel at $kernel: build it first (make test-fast builds it)"
command -v "$QEMU" >/dev/null || die "$QEMU not found: apt-get install qemu-system-x86"
mkdir -p "$run"
VM_TIMEOUT=${VM_TIMEOUT:-1800}
# Panic on a hung task or a soft lockup, with the stack on the console, so that a
# deadlock ends the run in minutes (hung_task_timeout_secs is 120 s by default).
WATCHDOG_CMDLINE="hung_task_panic=1 softlockup_panic=1 watchdog_thresh=30"

build_initramfs() {
	local root=$run/initramfs
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,tests,lib,lib64,usr/bin}
	cp /bin/busybox "$root/bin/busybox"
	install -m 755 "$ROOT/vm/init" "$root/init"
	cp "$ROOT/vm/run-test.sh" "$root/run-test.sh"
	list_tests "$list" >"$root/tests.list"
	local name bin lib
	while read -r name _; do
		bin=$out/$name
		[ -x "$bin" ] || bin=$BUILD/$name
		[ -x "$bin" ] || die "test binary $name is in neither $out nor $BUILD: the build did not produce it"
		mkdir -p "$root/tests/$(dirname "$name")"
		cp "$bin" "$root/tests/$name"
		# Shared libraries the test needs, at the same paths as on the host.
		for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done <"$root/tests.list"
	[ -n "$(ls -A "$root/tests")" ] || die "no tests in $list"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$run/initramfs.cpio.gz"
	rm -rf "$root"
}

# qemu runs under timeout(1): TERM to timeout is passed on to qemu, KILL would not be.
qemu_pid=""
stop_qemu() {
	if [ -n "$qemu_pid" ]; then
		kill -TERM "$qemu_pid" 2>/dev/null || true
	else	# a signal between the start and $! being known
		pkill -TERM -P $$ timeout 2>/dev/null || true
	fi
}

boot() {
	pick_accel
	say "booting $(basename "$kernel") with $ACCEL_WHY (log: $run/console.log)"
	echo "# accelerator: $ACCEL_WHY" >"$run/accel.txt"
	: >"$run/tap.txt"
	local rc=0
	# What the shell and the test run share.
	local vm=("${QEMU_ACCEL[@]}" -smp 2 -m 2G -nographic -no-reboot -nodefaults
		-kernel "$kernel" -initrd "$run/initramfs.cpio.gz")
	local append="console=ttyS0 panic=-1 $WATCHDOG_CMDLINE"
	if [ -n "$shell" ]; then
		"$QEMU" "${vm[@]}" -serial mon:stdio -append "$append gmem.shell $cmdline_extra"
		return 0
	fi
	# qemu stays in this process group (timeout --foreground), so ^C reaches it; the
	# trap covers a TERM or a ^C that reaches only this script.
	# (A background job ignores SIGINT, so the trap is what stops qemu on ^C; then
	# this script dies of the signal, so that the caller stops too.)
	trap 'stop_qemu; trap - INT; kill -INT $$' INT
	trap 'stop_qemu; trap - TERM; kill -TERM $$' TERM
	trap stop_qemu EXIT
	timeout --foreground -s KILL "$VM_TIMEOUT" "$QEMU" "${vm[@]}" \
		-chardev file,id=console,path="$run/console.log" -serial chardev:console \
		-chardev file,id=result,path="$run/tap.txt" -serial chardev:result \
		-append "$append oops=panic $cmdline_extra" \
		>"$run/qemu.log" 2>&1 &
	qemu_pid=$!
	wait "$qemu_pid" || rc=$?
	qemu_pid=""
	if [ $rc -eq 137 ]; then
		echo "VM killed after ${VM_TIMEOUT}s (hang); console tail:"
		tail -n 40 "$run/console.log"
		return 1
	elif [ $rc -ne 0 ]; then
		cat "$run/qemu.log"
		die "$QEMU failed to start or exited with $rc (output above)"
	fi
}

# Kernel splats in the console: each fails the run.
SPLATS='WARNING:|BUG:|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|rcu.*detected stall|Oops|general protection fault|blocked for more than|soft lockup|Kernel panic|kmemleak:.*new suspected'

# What the reliability tests did, summed over the run (from their own output).
figures() {
	local c=$run/console.log conv calls seeds splats leaks
	grep -aqE '^Ran for [0-9.]+s, [0-9]+ conversions issued|^[0-9]+ calls \(|^=== END kmemleak' "$c" || return 0
	# (awk, not grep, so that a figure that is absent is no error under pipefail)
	conv=$(awk '/^Ran for [0-9.]+s, [0-9]+ conversions issued/ { n += $4 } END { print n + 0 }' "$c")
	calls=$(awk '/^[0-9]+ calls \(/ { n += $1 } END { print n + 0 }' "$c")
	seeds=$(awk '{ sub(/\r$/, "") } /^Seed: [0-9]+/ && !seen[$2]++ { printf "%s%s", sep, $2; sep = "," }' "$c")
	splats=$(grep -acE "$SPLATS" "$c" || true)
	leaks=$(awk '/^=== END kmemleak: [0-9]+/ { print $4 }' "$c")
	echo "# figures: stress conversions $conv, fuzzer calls $calls, seeds ${seeds:-none}, splats $splats, kmemleak objects ${leaks:-not scanned}"
}

verdict() {
	local pass fail skip
	tr -d '\r' <"$run/tap.txt" >"$run/results.tap"
	touch "$run/console.log"
	grep -E '^(not )?ok ' "$run/results.tap" || true
	pass=$(grep -E '^ok ' "$run/results.tap" | grep -vc '# SKIP' || true)
	skip=$(grep -cE '^ok .*# SKIP' "$run/results.tap" || true)
	fail=$(grep -cE '^not ok ' "$run/results.tap" || true)
	local expected
	expected=$(list_tests "$list" | wc -l)
	local ran=$((pass + skip + fail))
	if ! grep -q '^# done' "$run/results.tap"; then
		echo "the VM stopped before the test list finished ($ran of $expected ran); console tail:"
		tail -n 40 "$run/console.log"
		fail=$((fail + expected - ran))
	fi
	if grep -q '^TAP version' "$run/results.tap" &&
		! grep -q '^# watchdogs: hung_task_panic=[1-9][0-9]* softlockup_panic=1' "$run/results.tap"; then
		echo "the kernel did not arm the hang watchdogs: $(grep '^# watchdogs:' "$run/results.tap" || echo "vm/init did not report them")"
		echo "  (needs CONFIG_DETECT_HUNG_TASK and CONFIG_SOFTLOCKUP_DETECTOR; see configs/test.config)"
		fail=$((fail + 1))
	fi
	if grep -aqE "$SPLATS" "$run/console.log"; then
		echo "kernel splat in the guest console:"
		grep -aE -A 25 "$SPLATS" "$run/console.log" | head -n 80
		fail=$((fail + 1))
	fi
	figures
	# A list may name tests whose SKIP is the expected result ("#expect-skip NAME
	# [REASON]", e.g. the SW-protected VM tests under kvm_amd.npt=0, the SNP test on
	# a host without SNP); any other skip, or one for another reason, fails.
	local xskip xskips
	xskips=$({ grep -E '^ok [0-9]+ .*# SKIP' "$run/results.tap" || true; } |
		XSKIPS=$(list_expected_skips "$list") awk '
			BEGIN {
				n = split(ENVIRON["XSKIPS"], w, "\n")
				for (i = 1; i <= n; i++) {
					split(w[i], f, " ")
					r = substr(w[i], length(f[1]) + 1)
					sub(/^[ \t]+/, "", r)
					expected[f[1]] = 1
					why[f[1]] = r
				}
			}
			!expected[$3] { next }
			{
				r = why[$3]
				p = index($0, " reason: ")
				if (r == "" || (p && substr($0, p + 9, length(r)) == r))
					print "expected"
				else
					print "# " $3 " skipped, but not because \"" r "\""
			}')
	grep '^# ' <<<"$xskips" || true
	xskip=$(grep -c '^expected$' <<<"$xskips" || true)
	skip=$((skip - xskip))
	local expected_note=""
	[ "$xskip" -eq 0 ] || expected_note=", $xskip skipped as expected"
	cat "$run/accel.txt" 2>/dev/null || true
	echo "$pass passed, $((fail + skip)) failed, $skip skipped$expected_note"
	[ $((fail + skip)) -eq 0 ]
}

build_initramfs
if [ -n "$shell" ]; then
	boot
	exit 0
fi
boot || true
verdict

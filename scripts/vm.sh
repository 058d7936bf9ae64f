#!/usr/bin/env bash
# vm.sh KERNEL SELFTESTS_OUT TESTS_LIST RUN_DIR [EXTRA_CMDLINE]: pack the tests into an
# initramfs (a test name is looked up in SELFTESTS_OUT, then under build/), boot KERNEL under TCG (KVM runs nested inside), collect TAP and console.
# Prints one TAP line per test, any kernel splat, and "N passed, N failed, N skipped";
# exits non-zero on any failure, skip, splat or hang.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kernel=$1 out=$2 list=$3 run=$4 cmdline_extra=${5:-}
[ -f "$kernel" ] || die "no kernel at $kernel: build it first (make kernel)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
mkdir -p "$run"
VM_TIMEOUT=${VM_TIMEOUT:-1800}

build_initramfs() {
	local root=$run/initramfs
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,tests,lib,lib64,usr/bin}
	cp /bin/busybox "$root/bin/busybox"
	install -m 755 "$ROOT/vm/init" "$root/init"
	grep -v '^#' "$list" >"$root/tests.list"
	local name bin lib
	while read -r name _; do
		bin=$out/$name
		[ -x "$bin" ] || bin=$BUILD/$name
		[ -x "$bin" ] || die "test binary $name is in neither $out nor $BUILD: the build did not produce it"
		mkdir -p "$root/tests/$(dirname "$name")"
		cp "$bin" "$root/tests/$name"
		# Shared libraries the test needs, at the same paths as on the host.
		for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done <"$root/tests.list"
	[ -n "$(ls -A "$root/tests")" ] || die "no tests in $list"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$run/initramfs.cpio.gz"
	rm -rf "$root"
}

boot() {
	say "booting $(basename "$kernel") under qemu TCG (log: $run/console.log)"
	: >"$run/tap.txt"
	local rc=0
	timeout -s KILL "$VM_TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=single -cpu max -smp 2 -m 2G \
		-nographic -no-reboot -nodefaults \
		-chardev file,id=console,path="$run/console.log" -serial chardev:console \
		-chardev file,id=result,path="$run/tap.txt" -serial chardev:result \
		-kernel "$kernel" -initrd "$run/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 oops=panic $cmdline_extra" \
		>"$run/qemu.log" 2>&1 || rc=$?
	if [ $rc -eq 137 ]; then
		echo "VM killed after ${VM_TIMEOUT}s (hang); console tail:"
		tail -n 40 "$run/console.log"
		return 1
	elif [ $rc -ne 0 ]; then
		cat "$run/qemu.log"
		die "qemu-system-x86_64 failed to start or exited with $rc (output above)"
	fi
}

# Kernel splats in the console: each fails the run.
SPLATS='WARNING:|BUG:|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|rcu.*detected stall|Oops|general protection fault|blocked for more than|Kernel panic|kmemleak:.*new suspected'

# What the reliability tests did, summed over the run (from their own output).
figures() {
	local c=$run/console.log conv calls seeds splats leaks
	grep -aqE '^Conversions: [0-9]+ issued|^[0-9]+ calls \(|^=== END kmemleak' "$c" || return 0
	# (awk, not grep, so that a figure that is absent is no error under pipefail)
	conv=$(awk '/^Conversions: [0-9]+ issued/ { n += $2 } END { print n + 0 }' "$c")
	calls=$(awk '/^[0-9]+ calls \(/ { n += $1 } END { print n + 0 }' "$c")
	seeds=$(awk '{ sub(/\r$/, "") } /^Seed: [0-9]+/ && !seen[$2]++ { printf "%s%s", sep, $2; sep = "," }' "$c")
	splats=$(grep -acE "$SPLATS" "$c" || true)
	leaks=$(awk '/^=== END kmemleak: [0-9]+/ { print $4 }' "$c")
	echo "# figures: stress conversions $conv, fuzzer calls $calls, seeds ${seeds:-none}, splats $splats, kmemleak objects ${leaks:-not scanned}"
}

verdict() {
	local pass fail skip
	tr -d '\r' <"$run/tap.txt" >"$run/results.tap"
	grep -E '^(not )?ok ' "$run/results.tap" || true
	pass=$(grep -E '^ok ' "$run/results.tap" | grep -vc '# SKIP' || true)
	skip=$(grep -cE '^ok .*# SKIP' "$run/results.tap" || true)
	fail=$(grep -cE '^not ok ' "$run/results.tap" || true)
	local expected
	expected=$(grep -cv '^#' "$list")
	local ran=$((pass + skip + fail))
	if ! grep -q '^# done' "$run/results.tap"; then
		echo "the VM stopped before the test list finished ($ran of $expected ran); console tail:"
		tail -n 40 "$run/console.log"
		fail=$((fail + expected - ran))
	fi
	if grep -aqE "$SPLATS" "$run/console.log"; then
		echo "kernel splat in the guest console:"
		grep -aE -A 25 "$SPLATS" "$run/console.log" | head -n 80
		fail=$((fail + 1))
	fi
	figures
	# A list may name tests whose SKIP is the expected result ("#expect-skip NAME",
	# e.g. the SW-protected VM tests under kvm_amd.npt=0); any other skip fails.
	local xskip=0
	if grep -q '^#expect-skip ' "$list"; then
		xskip=$(grep -E '^ok [0-9]+ .*# SKIP' "$run/results.tap" |
			awk 'NR == FNR { if ($1 == "#expect-skip") want[$2] = 1; next } want[$3]' "$list" - | wc -l)
		skip=$((skip - xskip))
	fi
	local expected_note=""
	[ "$xskip" -eq 0 ] || expected_note=", $xskip skipped as expected"
	echo "$pass passed, $((fail + skip)) failed, $skip skipped$expected_note"
	[ $((fail + skip)) -eq 0 ]
}

build_initramfs
boot || true
verdict

#!/usr/bin/env bash
# bench.sh: build the test kernel from patches/ as test.sh does, build the guest_memfd
# conversion benchmark (testbed/guest_memfd_conversion_perf_test: tests/kvm/, not part
# of the series, built against the tree's selftest library), boot the kernel under
# QEMU with vm/bench.list, and turn the figures the test prints ("gmem_perf ..." lines,
# kept as data.txt) into the table, the target verdicts (scripts/bench-report.py) and
# a plot of conversion time against size, in results/<run>/ (bench.txt,
# conversion-time.png) and docs/bench/.
#
#   BENCH_SKIP_KERNEL=1  use the kernel and uAPI headers already in build/obj-test:
#                        no patches applied, no kernel built
#   BENCH_TREE=DIR       build the benchmark against the selftest library of DIR
#                        (default: the test tree, i.e. patches/ applied); e.g.
#                        build/linux before "make export"
#   BENCH_MAX_LOAD=L     the host counts as busy above this 1-minute load average
#                        (default 0.5; while the benchmark runs, on top of its own QEMU)
#   BENCH_SETTLE=S       seconds to wait for a busy host to settle before refusing
#                        (default 300: the kernel build just before leaves load behind)
#   BENCH_FORCE=1        run and publish even on a busy host; the table says LOADED
#
# Emulated timings mean nothing on a busy host, so the run is refused if, once the
# kernel is built, the load average stays above BENCH_MAX_LOAD or other compilers,
# linkers, QEMUs or builds (make) run; a host that gets busy during the run is
# recorded (load.txt), marks the table LOADED and keeps it out of docs/bench/.
# Exits non-zero if the benchmark fails (a functional error, a kernel splat or a
# hang) or the host was busy, not if it misses a performance target: the table
# marks those MISS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"

TEST=testbed/guest_memfd_conversion_perf_test
LIST=$ROOT/vm/bench.list
DOCS=$ROOT/docs/bench
src=$(realpath -m "${BENCH_TREE:-$TEST_TREE}")
MAX_LOAD=${BENCH_MAX_LOAD:-0.5}
SETTLE=${BENCH_SETTLE:-300}
# Why this run's timings are suspect, if they are (empty: the host was quiet), and
# what the load was while it ran.
LOADED="" LOAD_SUMMARY=""

build_kernel() {
	if [ "${BENCH_SKIP_KERNEL:-0}" = 1 ]; then
		[ -f "$KOBJ/arch/x86/boot/bzImage" ] ||
			die "BENCH_SKIP_KERNEL=1 but there is no kernel in $KOBJ: run scripts/bench.sh without it once (or make test)"
		grep -q KVM_CAP_GMEM_CONVERSION "$KOBJ/usr/include/linux/kvm.h" 2>/dev/null ||
			die "BENCH_SKIP_KERNEL=1 but $KOBJ/usr/include has no patched uAPI headers: rebuild the test kernel (scripts/bench.sh without BENCH_SKIP_KERNEL)"
		say "BENCH_SKIP_KERNEL=1: using the kernel in $KOBJ as it is"
		return
	fi
	say "applying patches/ ($(series_patches | wc -l) patches) to $TEST_TREE"
	apply_series "$TEST_TREE"
	"$ROOT/scripts/kernel.sh" "$TEST_TREE" "$KOBJ"
}

build_benchmark() {
	[ -d "$src/tools/testing/selftests/kvm" ] ||
		die "$src has no KVM selftests to build the benchmark against; set BENCH_TREE to a kernel tree with the series (e.g. BENCH_TREE=build/linux)"
	"$ROOT/scripts/selftests.sh" "$src" "$KOBJ" "$SELFTESTS_OUT" "$TEST"
}

# Processes that compete with the benchmark for the host: compilers, linkers, QEMUs and
# make, but not this run's own (its ancestors, e.g. "make bench", and its
# descendants, e.g. its QEMU). Prints "name*count" items, comma-separated.
competitors() {
	ps -e -o pid=,ppid=,comm= | awk -v self=$$ '
		{ parent[$1] = $2; comm[$1] = $3 }
		END {
			for (p = self; p > 1; p = parent[p]) mine[p] = 1
			for (pid in comm) {
				if (comm[pid] !~ /^(qemu-.*|make|gmake|cc1|cc1plus|as|ld|ld\..*|lld|rustc|clang.*)$/ || (pid in mine))
					continue
				for (p = pid; p > 1 && p != self; p = parent[p])
					;
				if (p != self)
					count[comm[pid]]++
			}
			for (c in count)
				printf "%s%s*%d", n++ ? "," : "", c, count[c]
		}'
}

above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# Before the run: wait up to SETTLE seconds for the host to be quiet, then refuse
# (or, with BENCH_FORCE=1, go on and mark the run).
wait_for_quiet_host() {
	local waited=0 load others busy
	while :; do
		read -r load _ </proc/loadavg
		others=$(competitors)
		if ! above "$load" "$MAX_LOAD" && [ -z "$others" ]; then
			say "host quiet: load average $load, no other compiler, QEMU or make"
			return
		fi
		busy="load average $load (BENCH_MAX_LOAD=$MAX_LOAD)${others:+, also running: $others}"
		[ "$waited" -lt "$SETTLE" ] || break
		[ "$waited" -gt 0 ] || say "host busy ($busy): waiting up to ${SETTLE}s for it to settle"
		sleep 10
		waited=$((waited + 10))
	done
	[ "${BENCH_FORCE:-0}" = 1 ] ||
		die "host busy before the benchmark: $busy. Emulated timings are not comparable on a busy host: stop the other work (another VM, a build) and run again, or set BENCH_FORCE=1 to run anyway (the table is then marked LOADED)"
	warn "BENCH_FORCE=1: running on a busy host ($busy); the table will be marked LOADED"
	LOADED="before the run, $busy"
}

# During the run: a sample every 15 s in load.txt ("epoch load1 other-processes").
monitor_load() {
	while sleep 15; do
		echo "$(date +%s) $(cut -d' ' -f1 /proc/loadavg) $(competitors)"
	done >>"$run/load.txt"
}

# After the run: was the host busy while it ran? Its own QEMU counts for 1.
check_load_during_run() {
	local peak others
	peak=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$run/load.txt")
	others=$(awk 'NF > 2 { n = split($3, a, ","); for (i = 1; i <= n; i++) { sub(/\*.*/, "", a[i]); seen[a[i]] = 1 } }
		END { for (c in seen) printf "%s%s", k++ ? "," : "", c }' "$run/load.txt")
	LOAD_SUMMARY="peak load average $peak during the run (limit 1 + $MAX_LOAD: the benchmark's QEMU counts for 1)${others:+, also running: $others}"
	if above "$peak" "$(awk -v m="$MAX_LOAD" 'BEGIN { print 1 + m }')" || [ -n "$others" ]; then
		LOADED="${LOADED:+$LOADED; }during the run, $LOAD_SUMMARY"
	fi
}

# Where the numbers come from: they are only comparable within one run.
describe_machine() {
	local cpu qemu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	qemu=$(qemu-system-x86_64 --version | head -n 1)
	if [ -n "$LOADED" ]; then
		echo "# LOADED: NOT COMPARABLE: the host was busy: $LOADED"
	fi
	echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# host: ${cpu:-unknown CPU}, $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "# load: $LOAD_SUMMARY"
	pick_accel
	echo "# guest: $qemu, ${QEMU_ACCEL[*]} -smp 2 -m 2G, KVM nested inside (see scripts/vm.sh): $ACCEL_WHY"
	if [ "${BENCH_SKIP_KERNEL:-0}" = 1 ]; then
		echo "# kernel: as found in ${KOBJ#"$ROOT"/} (BENCH_SKIP_KERNEL=1), built $(date -u -r "$KOBJ/arch/x86/boot/bzImage" '+%Y-%m-%d %H:%M UTC')"
	else
		echo "# kernel: Debian linux-source-7.3 7.3.4 + patches/ ($(series_patches | wc -l) patches)"
	fi
	echo "# benchmark: $TEST (tests/kvm/) against the selftest library of ${src#"$ROOT"/}"
	echo "# Emulated timings: compare ratios within this run only, never absolute times;"
	echo "# docs/bench.md says which figures carry over to hardware."
}

run_benchmark() {
	local rc=0
	mkdir -p "$run"
	: >"$run/load.txt"
	monitor_load &
	monitor=$!
	trap 'kill "$monitor" 2>/dev/null || true' EXIT
	"$ROOT/scripts/vm.sh" "$KOBJ/arch/x86/boot/bzImage" "$SELFTESTS_OUT" "$LIST" "$run" \
		>"$run/summary.txt" 2>&1 || rc=$?
	kill "$monitor" 2>/dev/null || true
	wait "$monitor" 2>/dev/null || true
	cat "$run/summary.txt"
	[ $rc -eq 0 ] || die "the benchmark failed (see above; console: ${run#"$ROOT"/}/console.log)"
	check_load_during_run
}

# The figures are the console's "gmem_perf" lines; kernel messages are other lines.
make_report() {
	tr -d '\r' <"$run/console.log" | grep -a '^gmem_perf ' >"$run/data.txt" ||
		die "no 'gmem_perf' lines in ${run#"$ROOT"/}/console.log: did the test run? (tail of the console above)"
	{
		describe_machine
		echo
		python3 "$ROOT/scripts/bench-report.py" "$run/data.txt" "$run/conversion-time.dat" ||
			die "scripts/bench-report.py could not build the table from ${run#"$ROOT"/}/data.txt (its error above)"
		if [ -n "$LOADED" ]; then
			echo
			echo "LOADED: NOT COMPARABLE: the host was busy: $LOADED"
		fi
	} >"$run/bench.txt"
}

# Conversion time against size, nothing allocated: median with min-max bars, one
# panel per direction, one curve per model (columns: see conversion-time.dat).
plot_curve() {
	gnuplot <<-EOF || die "gnuplot failed to draw $run/conversion-time.png (its error above)"
		set terminal pngcairo size 1200,600 font ",10" noenhanced
		set output "$run/conversion-time.png"
		set datafile missing "-"
		set logscale xy
		set xrange [3000:1.5e9]
		set xtics ("4K" 4096, "64K" 65536, "1M" 1048576, "2M" 2097152, "16M" 16777216, "256M" 268435456, "1G" 1073741824)
		set xlabel "size converted (nothing allocated)"
		set ylabel "time per conversion (us, log scale; bars: min-max)"
		set grid
		set key top left
		set multiplot layout 1,2 title "guest_memfd conversion time vs. size${LOADED:+ (LOADED HOST: NOT COMPARABLE)} (QEMU TCG: compare ratios only)"
		set title "to shared"
		plot "$run/conversion-time.dat" using 1:2:3:4 with yerrorlines lw 2 title "in-place", \
		     "" using 1:5:6:7 with yerrorlines lw 2 title "discard (QEMU)", \
		     "" using 1:8:9:10 with yerrorlines lw 2 title "discard, 1M memslots", \
		     "" using 1:11:12:13 with yerrorlines lw 2 dt 2 title "keep (attributes alone)"
		set title "to private"
		plot "$run/conversion-time.dat" using 1:14:15:16 with yerrorlines lw 2 title "in-place", \
		     "" using 1:17:18:19 with yerrorlines lw 2 title "discard (QEMU)", \
		     "" using 1:20:21:22 with yerrorlines lw 2 title "discard, 1M memslots", \
		     "" using 1:23:24:25 with yerrorlines lw 2 dt 2 title "keep (attributes alone)"
		unset multiplot
	EOF
}

publish() {
	if [ -n "$LOADED" ] && [ "${BENCH_FORCE:-0}" != 1 ]; then
		say "not copied to ${DOCS#"$ROOT"/}/: the host was busy during the run"
		return
	fi
	mkdir -p "$DOCS"
	cp "$run/bench.txt" "$run/conversion-time.png" "$DOCS/"
	say "table: ${run#"$ROOT"/}/bench.txt, plot: ${run#"$ROOT"/}/conversion-time.png (copied to ${DOCS#"$ROOT"/}/)"
}

ensure_host_packages
build_kernel
build_benchmark
wait_for_quiet_host
run=$RESULTS/$(date +%Y%m%d-%H%M%S)-bench
say "booting the test kernel to run vm/bench.list (a few minutes under TCG)"
run_benchmark
make_report
plot_curve
publish
echo
sed -n '/^targets/,$p' "$run/bench.txt"
if [ -n "$LOADED" ]; then
	warn "LOADED: the host was busy ($LOADED): these timings are not comparable"
	[ "${BENCH_FORCE:-0}" = 1 ] ||
		die "the host was busy during the benchmark: ${run#"$ROOT"/}/bench.txt is marked LOADED and was not published; run again on a quiet host (or BENCH_FORCE=1 to publish anyway)"
fi

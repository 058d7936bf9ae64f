#!/usr/bin/env bash
# bench.sh: build the test kernel from patches/ as test.sh does, build the guest_memfd
# conversion benchmark (guest_memfd_conversion_perf_test), boot the kernel under QEMU
# with vm/bench.list, and keep the benchmark's table and a plot of conversion time
# against size in results/<run>/ (bench.txt, conversion-time.png) and docs/bench/.
#
#   BENCH_SKIP_KERNEL=1  use the kernel and uAPI headers already in build/obj-test:
#                        no patches applied, no kernel built
#   BENCH_TREE=DIR       build the benchmark from DIR (default: the test tree, i.e.
#                        patches/ applied); e.g. build/linux before "make export"
#
# Exits non-zero if the benchmark fails (a functional error, a kernel splat or a
# hang), not if it misses a performance target: its table marks those MISS.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"

TEST=guest_memfd_conversion_perf_test
LIST=$ROOT/vm/bench.list
DOCS=$ROOT/docs/bench
src=$(realpath -m "${BENCH_TREE:-$TEST_TREE}")

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
	local file=$src/tools/testing/selftests/kvm/$TEST.c
	[ -f "$file" ] ||
		die "$file does not exist: the tree has no benchmark (patches/ should add it); set BENCH_TREE to a tree that has it (e.g. BENCH_TREE=build/linux)"
	"$ROOT/scripts/selftests.sh" "$src" "$KOBJ" "$SELFTESTS_OUT" "$TEST"
}

# Where the numbers come from: they are only comparable within one run.
describe_machine() {
	local cpu qemu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	qemu=$(qemu-system-x86_64 --version | head -n 1)
	echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# host: ${cpu:-unknown CPU}, $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
	pick_accel
	echo "# guest: $qemu, ${QEMU_ACCEL[*]} -smp 2 -m 2G, KVM nested inside (see scripts/vm.sh): $ACCEL_WHY"
	if [ "${BENCH_SKIP_KERNEL:-0}" = 1 ]; then
		echo "# kernel: as found in ${KOBJ#"$ROOT"/} (BENCH_SKIP_KERNEL=1), built $(date -u -r "$KOBJ/arch/x86/boot/bzImage" '+%Y-%m-%d %H:%M UTC')"
	else
		echo "# kernel: Debian linux-source-7.3 7.3.4 + patches/ ($(series_patches | wc -l) patches)"
	fi
	echo "# benchmark: $TEST from ${src#"$ROOT"/}"
	echo "# Emulated (TCG) timings: compare ratios within this run only, never absolute times."
}

run_benchmark() {
	local rc=0
	mkdir -p "$run"
	"$ROOT/scripts/vm.sh" "$KOBJ/arch/x86/boot/bzImage" "$SELFTESTS_OUT" "$LIST" "$run" \
		>"$run/summary.txt" 2>&1 || rc=$?
	cat "$run/summary.txt"
	[ $rc -eq 0 ] || die "the benchmark failed (see above; console: ${run#"$ROOT"/}/console.log)"
}

# The table is one block of the console, from its title to the verdict line; kernel
# messages printed meanwhile ("[ seconds] ...") are dropped.
extract_table() {
	tr -d '\r' <"$run/console.log" | grep -av '^\[ *[0-9]*\.[0-9]*\]' >"$run/console.txt"
	{
		describe_machine
		echo
		sed -n '/^guest_memfd conversion benchmark:/,/target(s) missed$/p' "$run/console.txt"
	} >"$run/bench.txt"
	grep -q 'target(s) missed$' "$run/bench.txt" ||
		die "no benchmark table in ${run#"$ROOT"/}/console.log: did the test run? (tail of the console above)"
	grep '^# data ' "$run/console.txt" >"$run/data.txt" ||
		die "no '# data' lines in ${run#"$ROOT"/}/console.log: the benchmark printed no curve"
	rm -f "$run/console.txt"
}

# One row per size: in-place to shared/private, baseline to shared/private, and the
# baseline's KVM_SET_MEMORY_ATTRIBUTES alone; times in microseconds.
curve_data() {
	awk '
		$3 ~ /^(attr-)?to-(shared|private)$/ {
			key = $3 "/" $4; t[$5, key] = $6 / 1000; sizes[$5] = 1
		}
		END {
			print "# bytes in-place-shared in-place-private baseline-shared baseline-private attr-shared attr-private"
			for (s in sizes)
				print s, t[s, "to-shared/in-place"], t[s, "to-private/in-place"],
				      t[s, "to-shared/baseline"], t[s, "to-private/baseline"],
				      t[s, "attr-to-shared/baseline"], t[s, "attr-to-private/baseline"]
		}' "$run/data.txt" | sort -n >"$run/conversion-time.dat"
	[ "$(grep -vc '^#' "$run/conversion-time.dat")" -gt 1 ] ||
		die "too few sizes in ${run#"$ROOT"/}/data.txt to draw a curve"
}

plot_curve() {
	gnuplot <<-EOF || die "gnuplot failed to draw $run/conversion-time.png (its error above)"
		set terminal pngcairo size 900,600 font ",10" noenhanced
		set output "$run/conversion-time.png"
		set title "guest_memfd conversion time vs. size, nothing allocated (QEMU TCG: compare ratios only)"
		set xlabel "size converted"
		set ylabel "time per conversion (us, log scale)"
		set logscale xy
		set xrange [3000:1.5e9]
		set xtics ("4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576, "2M" 2097152, "4M" 4194304, "16M" 16777216, "64M" 67108864, "256M" 268435456, "1G" 1073741824)
		set grid
		set key top left
		plot "$run/conversion-time.dat" using 1:2 with linespoints lw 2 title "in-place KVM_GMEM_CONVERT_SHARED", \
		     "" using 1:3 with linespoints lw 2 title "in-place KVM_GMEM_CONVERT_PRIVATE", \
		     "" using 1:4 with linespoints lw 2 title "baseline to shared (attributes + PUNCH_HOLE)", \
		     "" using 1:5 with linespoints lw 2 title "baseline to private (attributes + MADV_DONTNEED)", \
		     "" using 1:6 with lines dt 2 title "baseline KVM_SET_MEMORY_ATTRIBUTES alone, to shared", \
		     "" using 1:7 with lines dt 2 title "baseline KVM_SET_MEMORY_ATTRIBUTES alone, to private"
	EOF
}

publish() {
	mkdir -p "$DOCS"
	cp "$run/bench.txt" "$run/conversion-time.png" "$DOCS/"
	say "table: ${run#"$ROOT"/}/bench.txt, plot: ${run#"$ROOT"/}/conversion-time.png (copied to ${DOCS#"$ROOT"/}/)"
}

ensure_host_packages
build_kernel
build_benchmark
run=$RESULTS/$(date +%Y%m%d-%H%M%S)-bench
say "booting the test kernel to run vm/bench.list (a few minutes under TCG)"
run_benchmark
extract_table
curve_data
plot_curve
publish
echo
sed -n '/^targets/,$p' "$run/bench.txt"

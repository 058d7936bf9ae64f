#!/usr/bin/env bash
# test.sh [--debug|--kcsan] [--npt0] [--show] [--shell] [LIST]: apply patches/ to the
# test tree, build the test kernel, the listed KVM selftests and the demo VMM (demo/),
# boot the kernel under QEMU and run the list (default vm/tests.list). Results go to
# results/<run>/ (console.log, results.tap, summary.txt). Options may come in any order.
#   --debug  the debug kernel (configs/debug.config: KASAN, lockdep, kmemleak, fault
#            injection) booted with panic_on_warn=1, objects in build/obj-debug, with
#            vm/race-windows.patch on top of the series (test bed only, never part
#            of the series): delays that widen the race windows the tests aim at,
#            and a model of SEV-SNP's RMP rule that WARNs when the host maps memory
#            a private fault gave the guest and no conversion took back
#   --kcsan  a KCSAN kernel (configs/kcsan.config; KCSAN excludes KASAN), objects in
#            build/obj-kcsan; a data race report fails the run like any splat
#   --npt0   the test kernel booted with kvm_amd.npt=0 (shadow paging)
#   --show   print the tests' own output (the guest console) before the verdict
#   --shell  boot the VM with a shell on this terminal instead of running the list
# Environment:
#   T='name [args]'  run only this test (time limit from the list, else 600 s)
#   SRC=build/linux  build the kernel and tests from that work tree as it is
#                    (uncommitted edits included) instead of applying patches/
#   RACE_WINDOWS=F   --debug applies patch F instead of vm/race-windows.patch (one
#                    that fits an older series given as PATCHES_DIR=); empty: none
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
show="" shell="" list=""
kobj=$KOBJ fragments=() cmdline="" flavour="" windows=""
while [ $# -gt 0 ]; do
	case $1 in
	--debug)
		kobj=$BUILD/obj-debug flavour=-debug
		fragments=("$ROOT/configs/debug.config")
		cmdline="panic_on_warn=1"
		windows=${RACE_WINDOWS-$ROOT/vm/race-windows.patch}
		# KASAN and lockdep slow everything down several times under TCG.
		export VM_TIMEOUT=${VM_TIMEOUT:-3600}
		;;
	--kcsan)
		kobj=$BUILD/obj-kcsan flavour=-kcsan
		fragments=("$ROOT/configs/kcsan.config")
		export VM_TIMEOUT=${VM_TIMEOUT:-3600}
		;;
	--npt0)
		# Shadow paging of the nested KVM: needs the emulated AMD CPU of TCG.
		cmdline="kvm_amd.npt=0"
		export ACCEL=tcg
		;;
	--show) show=1 ;;
	--shell) shell=1 ;;
	-*) die "unknown option $1 (known: --debug, --kcsan, --npt0, --show, --shell)" ;;
	*)
		[ -z "$list" ] || die "two test lists given: $list and $1"
		list=$1
		;;
	esac
	shift
done
list=$(realpath -m "${list:-$ROOT/vm/tests.list}")
list_tests "$list" >/dev/null

if [ -n "${T:-}" ]; then
	# One test: its time limit from the list (or 600 s), its arguments from T.
	read -r tname targs <<<"$T"
	limit=$(list_tests "$list" | awk -v n="$tname" '$1 == n { print $2; exit }')
	mkdir -p "$BUILD"
	echo "$tname ${limit:-600} $targs" >"$BUILD/one.list"
	# Its expected skip, if the list has one (e.g. the SNP test here).
	list_expected_skips "$list" | awk -v n="$tname" '$1 == n { print "#expect-skip " $0 }' \
		>>"$BUILD/one.list"
	list=$BUILD/one.list
fi

ensure_host_packages
if [ -n "${SRC:-}" ]; then
	src=$(realpath "$SRC") || die "SRC=$SRC does not exist"
	[ -f "$src/Makefile" ] && [ -d "$src/virt/kvm" ] || die "SRC=$SRC is not a kernel tree"
	kobj=$BUILD/obj-src$flavour	# its own objects: switching trees in one obj dir rebuilds all
	selftests_out=$BUILD/selftests-src
	say "SRC=$SRC: building the work tree as it is (patches/ is not used)"
	[ -z "$windows" ] || warn "SRC=: ${windows#"$ROOT"/} is not applied to the work tree"
	windows=""
else
	src=$TEST_TREE
	selftests_out=$SELFTESTS_OUT
	say "applying patches/ ($(series_patches | wc -l) patches) to $TEST_TREE"
	apply_series "$TEST_TREE"
	if [ -n "$windows" ]; then
		say "applying ${windows#"$ROOT"/} (test bed only) on top"
		am_or_die "$TEST_TREE" "$windows" \
			"${windows#"$ROOT"/} does not apply on top of the series; refresh it (git am output above)"
	fi
fi
t0=$(date +%s)
"$ROOT/scripts/kernel.sh" "$src" "$kobj" "${fragments[@]}"
t1=$(date +%s)
mapfile -t tests < <(list_selftests "$list")
if [ ${#tests[@]} -gt 0 ]; then
	"$ROOT/scripts/selftests.sh" "$src" "$kobj" "$selftests_out" "${tests[@]}"
fi
KOBJ=$kobj "$ROOT/scripts/demo.sh" "$BUILD/demo"
t2=$(date +%s)

if [ -n "$shell" ]; then
	exec "$ROOT/scripts/vm.sh" --shell "$kobj/arch/x86/boot/bzImage" "$selftests_out" "$list" \
		"$BUILD/shell" "$cmdline"
fi

name=$(basename "$list" .list)
[ -z "$flavour" ] || [ "$name" = "${flavour#-}" ] || name=$name$flavour	# "debug", not "debug-debug"
run=$RESULTS/$(date +%Y%m%d-%H%M%S)-$name
mkdir -p "$run"
rc=0
"$ROOT/scripts/vm.sh" "$kobj/arch/x86/boot/bzImage" "$selftests_out" "$list" "$run" "$cmdline" \
	>"$run/summary.txt" 2>&1 || rc=$?
t3=$(date +%s)
if [ -n "$show" ]; then
	# The tests' own output, as the guest printed it.
	sed -n '/^=== RUN/,$p' "$run/console.log" | tr -d '\r' | grep -av '^\[ *[0-9.]*\] reboot' || true
	echo
fi
cat "$run/summary.txt"
[ -z "${SRC:-}" ] || echo "# tested: the work tree $SRC as it is, not patches/"
[ -z "$windows" ] || echo "# race windows: ${windows#"$ROOT"/} applied on top of the series"
base_note
echo "# times: kernel build $((t1 - t0))s, selftests and demo build $((t2 - t1))s, VM run $((t3 - t2))s; logs in ${run#"$ROOT"/}/"
exit $rc

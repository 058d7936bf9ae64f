#!/usr/bin/env bash
# test.sh [--debug|--kcsan] [--npt0] [--show] [LIST]: apply patches/ to the test tree, build the test
# kernel, the listed KVM selftests and the demo VMM (demo/), boot the kernel under QEMU
# and run the list. Results go to results/<run>/ (console.log, results.tap, summary.txt).
#   --debug  the debug kernel (configs/debug.config: KASAN, lockdep, kmemleak, fault
#            injection) booted with panic_on_warn=1, objects in build/obj-debug
#   --kcsan  a KCSAN kernel (configs/kcsan.config; KCSAN excludes KASAN), objects in
#            build/obj-kcsan; a data race report fails the run like any splat
#   --npt0   the test kernel booted with kvm_amd.npt=0 (shadow paging)
#   --show   print the tests' own output (the guest console) before the verdict
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
show=""
kobj=$KOBJ fragments=() cmdline=""
while [ $# -gt 0 ]; do
	case $1 in
	--debug)
		kobj=$BUILD/obj-debug
		fragments=("$ROOT/configs/debug.config")
		cmdline="panic_on_warn=1"
		# KASAN and lockdep slow everything down several times under TCG.
		export VM_TIMEOUT=${VM_TIMEOUT:-3600}
		;;
	--kcsan)
		kobj=$BUILD/obj-kcsan
		fragments=("$ROOT/configs/kcsan.config")
		export VM_TIMEOUT=${VM_TIMEOUT:-3600}
		;;
	--npt0) cmdline="kvm_amd.npt=0" ;;
	--show) show=1 ;;
	-*) die "unknown option $1 (known: --debug, --kcsan, --npt0, --show)" ;;
	*) break ;;
	esac
	shift
done
list=$(realpath "${1:-$ROOT/vm/tests.list}")
[ -f "$list" ] || die "no test list at $list"

ensure_host_packages
say "applying patches/ ($(series_patches | wc -l) patches) to $TEST_TREE"
apply_series "$TEST_TREE"
t0=$(date +%s)
"$ROOT/scripts/kernel.sh" "$TEST_TREE" "$kobj" "${fragments[@]}"
t1=$(date +%s)
# List entries under demo/ are the reference VMM, built by demo.sh; the rest are selftests.
mapfile -t tests < <(grep -v '^#' "$list" | awk 'NF && $1 !~ /^demo\// { print $1 }')
if [ ${#tests[@]} -gt 0 ]; then
	"$ROOT/scripts/selftests.sh" "$TEST_TREE" "$kobj" "$SELFTESTS_OUT" "${tests[@]}"
fi
KOBJ=$kobj "$ROOT/scripts/demo.sh" "$BUILD/demo"
t2=$(date +%s)

run=$RESULTS/$(date +%Y%m%d-%H%M%S)-$(basename "$list" .list)
mkdir -p "$run"
rc=0
"$ROOT/scripts/vm.sh" "$kobj/arch/x86/boot/bzImage" "$SELFTESTS_OUT" "$list" "$run" "$cmdline" \
	>"$run/summary.txt" 2>&1 || rc=$?
t3=$(date +%s)
if [ -n "$show" ]; then
	# The tests' own output, as the guest printed it.
	sed -n '/^=== RUN/,$p' "$run/console.log" | tr -d '\r' | grep -av '^\[ *[0-9.]*\] reboot' || true
	echo
fi
cat "$run/summary.txt"
echo "# times: kernel build $((t1 - t0))s, selftests and demo build $((t2 - t1))s, VM run $((t3 - t2))s; logs in ${run#"$ROOT"/}/"
exit $rc

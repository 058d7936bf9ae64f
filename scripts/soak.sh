#!/usr/bin/env bash
# soak.sh [--debug] [SEED...]: the long form of the reliability tests (make soak).
# Five seeds by default (drawn from the clock and printed); per seed the stress test
# does SOAK_CONVERSIONS conversions and the fuzzer SOAK_CALLS calls, so the defaults
# add up to 10^6 conversions and 10^7 fuzzer calls. Runs on the test kernel (--debug:
# the debug kernel, several times slower). Prints the verdict and the figures
# (conversions, calls, seeds, splats, kmemleak) like make test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
kernel_opt=()
if [ "${1:-}" = --debug ]; then
	kernel_opt=(--debug)
	shift
fi
conversions=${SOAK_CONVERSIONS:-200000}
calls=${SOAK_CALLS:-2000000}
seeds=("$@")
if [ ${#seeds[@]} -eq 0 ]; then
	base=$(date +%s)
	for i in 0 1 2 3 4; do seeds+=($(((base + i * 7919) % 1000000))); done
fi
for s in "${seeds[@]}"; do
	[[ $s =~ ^[0-9]+$ ]] || die "seed '$s' is not a number: give decimal seeds, e.g. scripts/soak.sh 1 2 3"
done

list=$BUILD/soak.list
mkdir -p "$BUILD"
{
	echo "# make soak: seeds ${seeds[*]}, $conversions conversions and $calls fuzzer calls a seed"
	for s in "${seeds[@]}"; do
		# Limits for 50 conversions/s and 400 calls/s: about 400 and 5000 were seen on the
		# test kernel under TCG; the debug kernel is 3-5 times slower.
		echo "x86/guest_memfd_conversion_stress_test $((conversions / 50 + 600)) -i $conversions -s $s -g"
		echo "testbed/guest_memfd_conversion_fuzz_test $((calls / 400 + 600)) -n $calls -s $s"
	done
} >"$list"
say "soak: seeds ${seeds[*]}; $((conversions * ${#seeds[@]})) conversions, $((calls * ${#seeds[@]})) fuzzer calls in all"
export VM_TIMEOUT=${VM_TIMEOUT:-$(( (conversions / 50 + calls / 400 + 1200) * ${#seeds[@]} ))}
exec "$ROOT/scripts/test.sh" "${kernel_opt[@]}" "$list"

#!/usr/bin/env bash
# demo.sh [OUT]: build the reference VMM (demo/gmem_demo.c) against the test kernel's
# uAPI headers in $KOBJ/usr/include, into OUT (default build/demo). Warnings fail it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=$(realpath -m "${1:-$BUILD/demo}")
hdr=$KOBJ/usr/include

check_headers() {
	[ -f "$hdr/linux/kvm.h" ] ||
		die "no uAPI headers in $hdr: build the test kernel first (scripts/kernel.sh installs them)"
	grep -q KVM_CAP_GMEM_CONVERSION "$hdr/linux/kvm.h" ||
		die "$hdr/linux/kvm.h has no KVM_CAP_GMEM_CONVERSION: not the patched kernel's headers; rebuild the test kernel"
}

build_demo() {
	local log=$out/build.log
	mkdir -p "$out"
	say "building the demo VMM: $out/gmem_demo"
	if ! make -B -C "$ROOT/demo" KHDR="$hdr" O="$out" WERROR=1 >"$log" 2>&1; then
		grep -m 20 -E 'error|warning' "$log" >&2 || tail -n 30 "$log" >&2
		die "demo build failed (first errors above; full log: $log)"
	fi
}

check_headers
build_demo

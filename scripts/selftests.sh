#!/usr/bin/env bash
# selftests.sh SRC OBJ OUT TEST...: build the named KVM selftests from SRC against the
# uAPI headers installed in OBJ/usr/include, out of tree in OUT. A name testbed/NAME is
# a test-bed-only test, tests/kvm/NAME.c, built by tests/kvm/testbed.mk with the
# selftests' own flags and library.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$(realpath "$1") obj=$(realpath -m "$2") out=$(realpath -m "$3"); shift 3
mkdir -p "$out"
targets=()
for t in "$@"; do targets+=("$out/$t"); done
say "building KVM selftests: $*"
log=$out/build.log
if ! make -C "$src/tools/testing/selftests/kvm" -f Makefile -f "$ROOT/tests/kvm/testbed.mk" \
	-j"$(jobs_count)" CC="ccache gcc" OUTPUT="$out" KHDR_INCLUDES="-isystem $obj/usr/include" \
	"${targets[@]}" >"$log" 2>&1; then
	grep -m 20 -E 'error|Error|\*\*\*' "$log" >&2 || tail -n 30 "$log" >&2
	die "selftest build failed (first errors above; full log: $log)"
fi

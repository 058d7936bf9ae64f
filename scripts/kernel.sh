#!/usr/bin/env bash
# kernel.sh SRC OBJ [FRAGMENT...]: build a kernel out of tree with ccache from
# tinyconfig + configs/test.config + FRAGMENTs, and install its uAPI headers into
# OBJ/usr/include for the selftests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$(realpath "$1") obj=$(realpath -m "$2"); shift 2
"$ROOT/scripts/kconfig.sh" "$src" "$obj" "$ROOT/configs/test.config" "$@"
say "building the test kernel in $obj"
log=$obj/build.log
if ! kmake -C "$src" O="$obj" bzImage >"$log" 2>&1; then
	grep -m 20 -E 'error|Error' "$log" >&2 || tail -n 30 "$log" >&2
	die "kernel build failed (first errors above; full log: $log)"
fi
kmake -C "$src" O="$obj" headers_install INSTALL_HDR_PATH="$obj/usr" >>"$log" 2>&1 ||
	{ tail -n 20 "$log" >&2; die "headers_install failed (log: $log)"; }
say "kernel: $obj/arch/x86/boot/bzImage"

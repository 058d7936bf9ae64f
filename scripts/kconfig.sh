#!/usr/bin/env bash
# kconfig.sh SRC OBJ FRAGMENT...: tinyconfig + fragments into OBJ/.config, then check
# that every symbol the fragments ask for has the asked value. Only rewrites .config
# when the result differs, so incremental builds stay incremental.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
src=$(realpath "$1") obj=$(realpath -m "$2"); shift 2
fragments=()
for f in "$@"; do fragments+=("$(realpath "$f")"); done
set -- "${fragments[@]}"
mkdir -p "$obj"
tmp=$obj/.config.merging
rm -rf "$tmp"; mkdir -p "$tmp"
${KMAKE:-make} -s -C "$src" O="$tmp" tinyconfig >/dev/null
(cd "$tmp" && "$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "$@" >"$tmp/merge.log" 2>&1) ||
	{ cat "$tmp/merge.log" >&2; die "merge_config.sh failed for $*"; }
${KMAKE:-make} -s -C "$src" O="$tmp" olddefconfig >/dev/null
bad=0
while IFS= read -r line; do
	sym=${line%%=*} want=${line#*=}
	if [ "$want" = n ]; then
		grep -q "^$sym=" "$tmp/.config" && { warn "$sym: asked n, got $(grep "^$sym=" "$tmp/.config")"; bad=1; }
	else
		grep -qx "$sym=$want" "$tmp/.config" || { warn "$sym=$want asked, .config has: $(grep "^$sym=\|^# $sym is not set" "$tmp/.config" || echo nothing)"; bad=1; }
	fi
done < <(grep -h '^CONFIG_' "$@" | tac | awk -F= '!seen[$1]++' | tac)	# last value of a symbol wins
[ $bad -eq 0 ] || die "kconfig did not accept the fragments $* (dependencies missing?); fix the fragment"
if ! cmp -s "$tmp/.config" "$obj/.config"; then
	cp "$tmp/.config" "$obj/.config"
fi
rm -rf "$tmp"

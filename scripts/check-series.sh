#!/usr/bin/env bash
# make check-series: apply the series patch by patch; after each, build what the patch
# touches with configs/build-check.config, run checkpatch --strict on it and kernel-doc
# on the files it touches. Reports every problem, exits non-zero if there was one.
#
# A checkpatch warning may be kept only if the patch explains it below its "---" line
# with a line "checkpatch: TYPE: why" (TYPE as checkpatch prints it), which
# "make export" writes from the commit's git note.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
CHECK_TREE=$BUILD/check-tree
# Kernel objects are built with each config: name => fragment.
declare -A CHECK_CONFIGS=(
	[obj-check]=build-check.config
	[obj-check-noattr]=build-check-noattr.config
)
CHECK_OBJ=$BUILD/obj-check	# also used for headers_install and the selftests
CHECK_SELFTESTS=$BUILD/selftests-check

mapfile -t patches < <(series_patches)
if [ ${#patches[@]} -eq 0 ]; then
	say "check-series: the series is empty, nothing to check"
	echo "0 passed, 0 failed"
	exit 0
fi

# Start from the base, then apply one patch at a time.
SERIES=/dev/null apply_series "$CHECK_TREE"
for o in "${!CHECK_CONFIGS[@]}"; do
	"$ROOT/scripts/kconfig.sh" "$CHECK_TREE" "$BUILD/$o" "$ROOT/configs/${CHECK_CONFIGS[$o]}"
done

# Build targets for the files a patch touches (one per line).
targets_for() {
	local f
	for f in "$@"; do
		case $f in
		arch/x86/kvm/* | virt/kvm/* | include/linux/kvm* | include/uapi/linux/kvm* | arch/x86/include/*)
			echo arch/x86/kvm/ ;;
		tools/testing/selftests/kvm/*) echo selftests ;;
		Documentation/* | MAINTAINERS | tools/*) ;;
		include/*) echo arch/x86/kvm/; echo mm/ ;;
		*.c) echo "${f%.c}.o" ;;
		*.h) echo "$(dirname "$f")/" ;;
		*/Makefile | */Kconfig) echo "$(dirname "$f")/" ;;
		esac
	done | sort -u
}

kdoc_warnings() {	# file: kernel-doc warnings, line numbers dropped
	[ -f "$CHECK_TREE/$1" ] || return 0
	(cd "$CHECK_TREE" && scripts/kernel-doc -none "$1" 2>&1 | sed -E 's/:[0-9]+([: ])/\1/' | sort) || true
}

failed=0 passed=0 i=0
for p in "${patches[@]}"; do
	i=$((i + 1))
	problems=0
	echo "--- [$i/${#patches[@]}] $p"
	mapfile -t files < <(grep -E '^\+\+\+ b/|^--- a/' "$ROOT/patches/$p" | sed -E 's#^(\+\+\+ b|--- a)/##' | sort -u)
	declare -A before=()
	for f in "${files[@]}"; do
		case $f in *.c | *.h) before[$f]=$(kdoc_warnings "$f") ;; esac
	done
	if ! git -C "$CHECK_TREE" am -q "$ROOT/patches/$p" >"$BUILD/git-am.log" 2>&1; then
		cat "$BUILD/git-am.log"
		git -C "$CHECK_TREE" am --abort >/dev/null 2>&1 || true
		echo "FAIL: $p does not apply; stopping (later patches depend on it)"
		echo "$passed passed, $((failed + 1 + ${#patches[@]} - i)) failed"
		exit 1
	fi

	# Build what the patch touches.
	for t in $(targets_for "${files[@]}"); do
		log=$BUILD/check-build.log
		if [ "$t" = selftests ]; then
			if ! { kmake -C "$CHECK_TREE" O="$CHECK_OBJ" headers_install INSTALL_HDR_PATH="$CHECK_OBJ/usr" &&
				make -C "$CHECK_TREE/tools/testing/selftests/kvm" -j"$(jobs_count)" CC="ccache gcc" \
					OUTPUT="$CHECK_SELFTESTS" KHDR_INCLUDES="-isystem $CHECK_OBJ/usr/include"; } >"$log" 2>&1; then
				echo "build of the KVM selftests failed; first errors:"
				grep -m 10 -E 'error|Error' "$log" || tail -n 20 "$log"
				problems=$((problems + 1))
			else
				echo "built: KVM selftests"
			fi
		else
			for o in "${!CHECK_CONFIGS[@]}"; do
				if ! kmake -C "$CHECK_TREE" O="$BUILD/$o" "$t" >"$log" 2>&1; then
					echo "build of $t with ${CHECK_CONFIGS[$o]} failed; first errors:"
					grep -m 10 -E 'error|Error|warning' "$log" || tail -n 20 "$log"
					problems=$((problems + 1))
				else
					echo "built: $t (${CHECK_CONFIGS[$o]})"
				fi
			done
		fi
	done

	# checkpatch --strict; warnings must be explained below the patch's "---".
	out=$(cd "$CHECK_TREE" && scripts/checkpatch.pl --strict --no-tree --show-types \
		--ignore MISSING_SIGN_OFF "$ROOT/patches/$p" 2>&1) || true
	explained=$(sed -n '/^---$/,/^diff --git/p' "$ROOT/patches/$p" | sed -n 's/^ *checkpatch: \([A-Z_]*\):.*/\1/p')
	while IFS= read -r line; do
		type=$(sed -E 's/^(ERROR|WARNING|CHECK):([A-Z_0-9]+):.*/\2/' <<<"$line")
		if [[ $line == ERROR:* ]] || ! grep -qx "$type" <<<"$explained"; then
			echo "checkpatch: $line"
			grep -A 3 -F "$line" <<<"$out" | tail -n +2 | sed 's/^/    /'
			problems=$((problems + 1))
		else
			echo "checkpatch (explained in the patch): $line"
		fi
	done < <(grep -E '^(ERROR|WARNING|CHECK):' <<<"$out" || true)
	echo "checkpatch --strict: $(grep -E '^total:' <<<"$out" || echo "$out" | tail -n 1)"

	# kernel-doc: no new warnings in the touched files.
	for f in "${files[@]}"; do
		case $f in *.c | *.h) ;; *) continue ;; esac
		new=$(comm -13 <(echo "${before[$f]:-}") <(kdoc_warnings "$f") | grep -v '^$' || true)
		if [ -n "$new" ]; then
			echo "kernel-doc: new warnings in $f:"
			echo "$new" | sed 's/^/    /'
			problems=$((problems + 1))
		fi
	done
	unset before

	if [ $problems -eq 0 ]; then
		echo "ok: $p"
		passed=$((passed + 1))
	else
		echo "FAIL: $p ($problems problems)"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

#!/usr/bin/env bash
# make check-series: apply the series one patch at a time and check each patch the way
# the kernel test robot and the maintainers' trees will:
#   - kernel patches: vmlinux and modules built and linked (modpost) with each config
#     of LINK_CONFIGS; patches touching generic KVM code (virt/kvm, include/linux/kvm*,
#     include/uapi/linux/kvm.h) also build virt/kvm and arch/arm64/kvm for arm64;
#   - sparse (C=2) and W=1 on the touched C files: no warning that was not there before
#     the patch;
#   - patches touching Documentation/: htmldocs of that part, no new warning;
#   - selftest patches: the KVM selftests build;
#   - checkpatch.pl --strict with the tree (spdxcheck included) and kernel-doc on the
#     touched files.
# Every problem names the patch, the config and the first errors; exits non-zero if
# there was one.
#
# CHECK_LEVEL=full (the default, what "make test" and CI run) links all three configs
# for every kernel patch; CHECK_LEVEL=quick, for the edit loop, links (c) only after
# the last kernel patch.
#
# A checkpatch warning may be kept only if the patch explains it below its "---" line
# with a line "checkpatch: TYPE: why" (TYPE as checkpatch prints it), which
# "make export" writes from the commit's git note.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"
CHECK_TREE=$BUILD/check-tree
CHECK_LEVEL=${CHECK_LEVEL:-full}
case $CHECK_LEVEL in quick | full) ;; *) die "CHECK_LEVEL=$CHECK_LEVEL: use full or quick" ;; esac

# Link configs, in order: obj dir, fragments (merged onto tinyconfig), label.
LINK_CONFIGS=(
	"obj-check|build-check.config|(a) KVM=y, kvm-amd/kvm-intel=m, SEV, TDX, SW_PROTECTED_VM"
	"obj-check-mod|build-check.config build-check-modules.config|(b) KVM=m, everything modules"
	"obj-check-noattr|build-check-noattr.config|(c) no memory attributes"
)
ARM64_OBJ=$BUILD/obj-check-arm64
CHECK_OBJ=$BUILD/obj-check	# also used for sparse/W=1, headers_install and the selftests
CHECK_SELFTESTS=$BUILD/selftests-check
DOCS_OBJ=$BUILD/obj-check-docs

select_series
mapfile -t patches < <(series_patches)
if [ ${#patches[@]} -eq 0 ]; then
	say "check-series: the series is empty, nothing to check"
	echo "0 passed, 0 failed"
	exit 0
fi

# Start from the base, then apply one patch at a time.
SERIES=/dev/null apply_series "$CHECK_TREE"
for c in "${LINK_CONFIGS[@]}"; do
	IFS='|' read -r o frags _ <<<"$c"
	frag_paths=()
	for f in $frags; do frag_paths+=("$ROOT/configs/$f"); done
	"$ROOT/scripts/kconfig.sh" "$CHECK_TREE" "$BUILD/$o" "${frag_paths[@]}"
done

# What a patch needs built, from the files it touches (one word per line):
# kernel (vmlinux + modules), arm64 (generic KVM code), selftests, docs:<dir>.
needs_for() {
	local f
	for f in "$@"; do
		case $f in
		tools/testing/selftests/kvm/*) echo selftests ;;
		Documentation/*)
			d=${f#Documentation/}
			# A file at the top of Documentation/ would need the whole book built.
			[ "$d" != "${d#*/}" ] || { echo "docs-top:$d"; continue; }
			d=${d%/*}
			# The deepest directory with an index.rst: a SPHINXDIRS value.
			while [ "$d" != "${d%/*}" ] && [ ! -f "$CHECK_TREE/Documentation/$d/index.rst" ]; do d=${d%/*}; done
			echo "docs:$d" ;;
		MAINTAINERS | tools/*) ;;
		virt/kvm/* | include/linux/kvm* | include/uapi/linux/kvm*) echo kernel; echo arm64 ;;
		*) echo kernel ;;
		esac
	done | sort -u
}

# Files whose sparse and W=1 output is compared: the touched .c files, or kvm_main.c
# for a patch that touches only KVM headers.
sparse_files_for() {
	local f any=""
	for f in "$@"; do
		case $f in
		tools/* | Documentation/* | scripts/*) ;;
		*.c) echo "$f"; any=1 ;;
		esac
	done
	if [ -z "$any" ]; then
		for f in "$@"; do
			case $f in
			include/linux/kvm* | include/uapi/linux/kvm* | virt/kvm/*.h) echo virt/kvm/kvm_main.c ;;
			arch/x86/kvm/*.h | arch/x86/include/asm/kvm*) echo arch/x86/kvm/x86.c ;;
			esac
		done | sort -u
	fi
}

first_errors() {	# log: the lines that say what failed (make's own lines dropped)
	awk 'tolower($0) ~ /error|undefined|warning/ && !/^make(\[[0-9]+\])?: / { print; if (++n == 12) exit }
		END { exit n == 0 }' "$1" || tail -n 20 "$1"
}

# sparse and W=1 diagnostics for one file, in the current state of the tree, with line
# and column numbers dropped so that moved code does not count as new. KVM builds with
# -Werror, so W=1 warnings may come back as errors: normalized to warnings.
# Debian's sparse (0.6.4) predates __typeof_unqual__, without which the kernel refuses
# it (scripts/checker-valid.sh); it reads it as __typeof__, which may add false
# address-space warnings, but the same ones before and after a patch.
SPARSE_CF="-D__typeof_unqual__=__typeof__"
SPARSE_DID_NOT_RUN="sparse did not run"
sparse_w1() {
	local f=$1 obj=${1%.c}.o log=$BUILD/check-sparse.log
	[ -f "$CHECK_TREE/$f" ] || return 0
	{
		kmake -C "$CHECK_TREE" O="$CHECK_OBJ" C=2 CF="$SPARSE_CF" "$obj" >"$log" 2>&1 || true
		# A sparse that does not run must not look like one that found nothing.
		grep -q 'C=2 specified, but' "$log" && echo "$SPARSE_DID_NOT_RUN"
		sed -n 's/^/sparse: /p' "$log"
		kmake -C "$CHECK_TREE" O="$CHECK_OBJ" W=1 "$obj" >"$log" 2>&1 || true
		sed -n 's/^/W=1: /p' "$log"
	} | grep -E ": (warning|error): |^$SPARSE_DID_NOT_RUN\$" |
		sed -E -e "s#$CHECK_TREE/##g" -e 's#(\.\./)+check-tree/##g' -e 's/:[0-9]+(:[0-9]+)?:/:/' \
			-e 's/: error: /: warning: /' -e 's/-Werror=/-W/' | sort -u || true
}

# htmldocs warnings of one SPHINXDIRS value, file line numbers dropped. Built from
# scratch each time: Sphinx only warns about the documents it reads again. A build
# that fails or does not run prints DOCS_DID_NOT_BUILD.
DOCS_DID_NOT_BUILD="htmldocs did not build"
docs_warnings() {
	local d=$1 log=$BUILD/check-docs.log
	rm -rf "$DOCS_OBJ"
	mkdir -p "$DOCS_OBJ"
	if ! ${KMAKE:-make} -C "$CHECK_TREE" O="$DOCS_OBJ" SPHINXDIRS="$d" htmldocs >"$log" 2>&1 ||
		grep -q 'SKIP *Sphinx' "$log" || [ -z "$(ls -A "$DOCS_OBJ/Documentation/output" 2>/dev/null)" ]; then
		echo "$DOCS_DID_NOT_BUILD: $(tail -n 1 "$log")"
		return 0
	fi
	grep -E 'WARNING|ERROR|CRITICAL|[Ww]arning:' "$log" |
		sed -E -e "s#$CHECK_TREE/##g" -e 's/:[0-9]+(:[0-9]+)?:/:/' -e 's/, line [0-9]+/, line N/' | sort -u || true
}

kdoc_warnings() {	# file: kernel-doc warnings, line numbers dropped
	[ -f "$CHECK_TREE/$1" ] || return 0
	(cd "$CHECK_TREE" && scripts/kernel-doc -none "$1" 2>&1 | sed -E 's/:[0-9]+([: ])/\1/' | sort) || true
}

# build_step WHAT DONE COMMAND...: run a build; on failure say what failed and its
# first errors, and return 1; else print DONE.
build_step() {
	local what=$1 done=$2 log=$BUILD/check-build.log
	shift 2
	if ! "$@" >"$log" 2>&1; then
		echo "build of $what failed; first errors:"
		first_errors "$log" | sed 's/^/    /'
		return 1
	fi
	echo "$done"
}

# build_link OBJ LABEL: vmlinux and modules, modpost included.
build_link() {
	build_step "vmlinux and modules with $2" "built and linked: vmlinux and modules, $2" kmake -C "$CHECK_TREE" O="$BUILD/$1" vmlinux modules
}

build_arm64() {
	ARCH=arm64 "$ROOT/scripts/kconfig.sh" "$CHECK_TREE" "$ARM64_OBJ" "$ROOT/configs/build-check-arm64.config"
	build_step "virt/kvm and arch/arm64/kvm for arm64 (build-check-arm64.config)" \
		"built: virt/kvm/ and arch/arm64/kvm/ for arm64" kmake ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC="ccache aarch64-linux-gnu-gcc" \
		-C "$CHECK_TREE" O="$ARM64_OBJ" virt/kvm/ arch/arm64/kvm/
}

install_headers_and_build_selftests() {
	kmake -C "$CHECK_TREE" O="$CHECK_OBJ" headers_install INSTALL_HDR_PATH="$CHECK_OBJ/usr" &&
		make -C "$CHECK_TREE/tools/testing/selftests/kvm" -j"$(jobs_count)" CC="ccache gcc" \
			OUTPUT="$CHECK_SELFTESTS" KHDR_INCLUDES="-isystem $CHECK_OBJ/usr/include"
}

build_selftests() {
	build_step "the KVM selftests" "built: KVM selftests" install_headers_and_build_selftests
}

# new_lines WHAT BEFORE AFTER: print the lines of AFTER not in BEFORE; 1 if any.
new_lines() {
	local new
	new=$(comm -13 <(sort -u <<<"$2") <(sort -u <<<"$3") | grep -v '^$' || true)
	[ -z "$new" ] && return 0
	echo "$1:"
	sed 's/^/    /' <<<"$new"
	return 1
}

declare -A sparse_cache=() docs_cache=()	# results of the tree as the last patch left it
failed=0 passed=0 i=0 last_kernel=0
for ((n = ${#patches[@]}; n > 0; n--)); do
	[ -n "$(needs_for $(patch_files "${patches[n - 1]}") | grep -x kernel)" ] && { last_kernel=$n; break; }
done
for p in "${patches[@]}"; do
	i=$((i + 1))
	problems=0
	echo "--- [$i/${#patches[@]}] $p"
	mapfile -t files < <(patch_files "$p")
	mapfile -t needs < <(needs_for "${files[@]}")
	mapfile -t sfiles < <(sparse_files_for "${files[@]}")
	declare -A before=() sbefore=() dbefore=()
	for f in "${files[@]}"; do
		case $f in *.c | *.h) before[$f]=$(kdoc_warnings "$f") ;; esac
	done
	for f in "${sfiles[@]}"; do
		sbefore[$f]=${sparse_cache[$f]-$(sparse_w1 "$f")}
	done
	for w in "${needs[@]}"; do
		case $w in docs:*) dbefore[$w]=${docs_cache[$w]-$(docs_warnings "${w#docs:}")} ;; esac
	done
	sparse_cache=() docs_cache=()
	if ! git -C "$CHECK_TREE" am -q "$(patch_path "$p")" >"$BUILD/git-am.log" 2>&1; then
		cat "$BUILD/git-am.log"
		git -C "$CHECK_TREE" am --abort >/dev/null 2>&1 || true
		echo "FAIL: $p does not apply; stopping (later patches depend on it)"
		echo "$passed passed, $((failed + 1 + ${#patches[@]} - i)) failed"
		exit 1
	fi

	for w in "${needs[@]}"; do
		case $w in
		kernel)
			for c in "${LINK_CONFIGS[@]}"; do
				IFS='|' read -r o _ label <<<"$c"
				# The quick level links config (c) once, after the last kernel patch.
				if [ "$CHECK_LEVEL" = quick ] && [ "$o" = obj-check-noattr ] && [ $i -ne $last_kernel ]; then
					continue
				fi
				build_link "$o" "$label" || problems=$((problems + 1))
			done
			for f in "${sfiles[@]}"; do
				sparse_cache[$f]=$(sparse_w1 "$f")
				if grep -qx "$SPARSE_DID_NOT_RUN" <<<"${sparse_cache[$f]}"; then
					echo "sparse did not run on $f (C=2 refused it: see $BUILD/check-sparse.log); install Debian's sparse"
					problems=$((problems + 1))
				elif new_lines "sparse/W=1: new warnings in $f" "${sbefore[$f]}" "${sparse_cache[$f]}"; then
					echo "sparse and W=1: no new warnings in $f"
				else
					problems=$((problems + 1))
				fi
			done
			;;
		arm64) build_arm64 || problems=$((problems + 1)) ;;
		selftests) build_selftests || problems=$((problems + 1)) ;;
		docs-top:*)
			echo "not checked: htmldocs for Documentation/${w#docs-top:} (a top-level file needs the whole book; run make htmldocs by hand)"
			;;
		docs:*)
			docs_cache[$w]=$(docs_warnings "${w#docs:}")
			if grep -q "^$DOCS_DID_NOT_BUILD" <<<"${docs_cache[$w]}"; then
				echo "htmldocs SPHINXDIRS=${w#docs:} did not build: see $BUILD/check-docs.log"
				sed -n "s/^$DOCS_DID_NOT_BUILD: /    /p" <<<"${docs_cache[$w]}"
				problems=$((problems + 1))
			elif new_lines "htmldocs SPHINXDIRS=${w#docs:}: new warnings" "${dbefore[$w]}" "${docs_cache[$w]}"; then
				echo "built: htmldocs SPHINXDIRS=${w#docs:}, no new warnings"
			else
				problems=$((problems + 1))
			fi
			;;
		esac
	done

	# checkpatch --strict with the tree (spdxcheck, file existence); warnings must be
	# explained below the patch's "---".
	out=$(cd "$CHECK_TREE" && scripts/checkpatch.pl --strict --show-types \
		--ignore MISSING_SIGN_OFF "$(patch_path "$p")" 2>&1) || true
	explained=$(sed -n '/^---$/,/^diff --git/p' "$(patch_path "$p")" | sed -n 's/^ *checkpatch: \([A-Z_]*\):.*/\1/p')
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
	if grep -qE '^total:' <<<"$out"; then
		echo "checkpatch --strict: $(grep -E '^total:' <<<"$out")"
	else
		echo "checkpatch did not finish; its last lines:"
		tail -n 5 <<<"$out" | sed 's/^/    /'
		problems=$((problems + 1))
	fi

	# kernel-doc: no new warnings in the touched files.
	for f in "${files[@]}"; do
		case $f in *.c | *.h) ;; *) continue ;; esac
		new_lines "kernel-doc: new warnings in $f" "${before[$f]:-}" "$(kdoc_warnings "$f")" ||
			problems=$((problems + 1))
	done
	unset before sbefore dbefore

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

#!/usr/bin/env bash
# mutants.sh [ID...]: the mutation suite ("make mutants"). For each mutant of
# tests/mutants.list (or the IDs given), apply it on top of the series in
# build/mutant-tree, build the test kernel (build/obj-mutant, incremental with ccache),
# boot it and run the plain test list. A mutant is killed when the run fails; the
# tests that failed are named. Not part of make test: about 3 minutes a mutant.
# Environment:
#   MUTANTS_LIST=F  the mutant list (default tests/mutants.list)
#   MUTANTS_RUN=F   the test list each mutant runs (default vm/tests.list)
# Results: results/<date>-mutants/ (one directory per mutant, and summary.txt).
# Last line: "N killed, N survived". Exits non-zero if any survived or a mutant no
# longer applies (the series changed: update the list).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/scripts/series.sh"

mlist=$(realpath -m "${MUTANTS_LIST:-$ROOT/tests/mutants.list}")
tlist=$(realpath -m "${MUTANTS_RUN:-$ROOT/vm/tests.list}")
tree=$BUILD/mutant-tree obj=$BUILD/obj-mutant out=$BUILD/selftests-mutant
[ -f "$mlist" ] || die "no mutant list at $mlist"
list_tests "$tlist" >/dev/null

ensure_host_packages
# "ID name: claim" per mutant, read once.
mapfile -t described < <(python3 "$ROOT/scripts/mutate.py" --ids "$mlist")
mapfile -t all < <(printf '%s\n' "${described[@]}" | cut -d' ' -f1)
mapfile -t runnable < <(python3 "$ROOT/scripts/mutate.py" --runnable "$mlist")
ids=("$@")
[ ${#ids[@]} -gt 0 ] || ids=("${runnable[@]}")
for id in "${ids[@]}"; do
	printf '%s\n' "${all[@]}" | grep -qx -- "$id" || die "no mutant $id in $mlist (known: ${all[*]})"
done

say "applying patches/ ($(series_patches | wc -l) patches) to $tree"
apply_series "$tree"
head=$(git -C "$tree" rev-parse HEAD)
# Every mutant must still land before hours are spent on the first.
python3 "$ROOT/scripts/mutate.py" --check "$mlist" "$tree" >/dev/null

# The selftests and the demo do not change with a mutant: build them once, from the
# series as it is.
"$ROOT/scripts/kernel.sh" "$tree" "$obj"
mapfile -t tests < <(list_selftests "$tlist")
"$ROOT/scripts/selftests.sh" "$tree" "$obj" "$out" "${tests[@]}"
KOBJ=$obj "$ROOT/scripts/demo.sh" "$BUILD/demo"

runs=$RESULTS/$(date +%Y%m%d-%H%M%S)-mutants
mkdir -p "$runs"
killed=0 survived=0 t0=$(date +%s)
# Mutants that only another VM type can observe are listed, not run.
printf '%s\n' "${described[@]}" | grep ' (observable only on ' |
	sed 's/^/not run  /' | tee -a "$runs/summary.txt" || true
for id in "${ids[@]}"; do
	git -C "$tree" reset -q --hard "$head"
	where=$(python3 "$ROOT/scripts/mutate.py" "$mlist" "$tree" "$id")
	what=$(printf '%s\n' "${described[@]}" | grep "^$id ")
	say "mutant $what ($where)"
	git -C "$tree" diff >"$runs/$id.diff"
	"$ROOT/scripts/kernel.sh" "$tree" "$obj" ||
		die "mutant $id does not build (log above): fix it in $mlist"
	rc=0
	mkdir -p "$runs/$id"
	"$ROOT/scripts/vm.sh" "$obj/arch/x86/boot/bzImage" "$out" "$tlist" "$runs/$id" \
		>"$runs/$id/summary.txt" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		killed=$((killed + 1))
		by=$({ grep -E '^not ok ' "$runs/$id/results.tap" 2>/dev/null || true; } |
			sed -E 's/^not ok [0-9]+ //; s/ # .*//' | paste -sd ';' -)
		[ -n "$by" ] || by="the run: $(grep -m 1 -E 'splat|killed|stopped|WARNING|BUG' \
			"$runs/$id/summary.txt" || tail -n 1 "$runs/$id/summary.txt")"
		echo "killed   $what -- by: $by" | tee -a "$runs/summary.txt"
	else
		survived=$((survived + 1))
		echo "SURVIVED $what" | tee -a "$runs/summary.txt"
	fi
done
git -C "$tree" reset -q --hard "$head"
echo "# time: $(( $(date +%s) - t0 ))s for ${#ids[@]} mutants, list ${tlist#"$ROOT"/}; logs in ${runs#"$ROOT"/}/" |
	tee -a "$runs/summary.txt"
echo "$killed killed, $survived survived" | tee -a "$runs/summary.txt"
[ "$survived" -eq 0 ]

# Sourced by vm/init (busybox sh). run_test NAME LIMIT [ARGS...]: run /tests/NAME (or
# $TESTS_DIR/NAME) with ARGS under a time limit. Its output goes to $RUN_TMP/out
# (default /tmp) and, as it is printed, to the console, so that a panic or a hang keeps
# the seed and progress lines. The output is a file, not a pipe: a child that outlives
# the killed test cannot hold the run up. Sets rc (4 also when a kselftest harness run
# skipped a case), why (the first skip's reason, if it printed one) and secs.
run_test() {
	name=$1 limit=$2
	shift 2
	out=${RUN_TMP:-/tmp}/out
	echo "=== RUN $name $* (limit ${limit}s)"
	start=$(cut -d' ' -f1 /proc/uptime)
	: >"$out"
	tail -f "$out" &
	follower=$!
	timeout -s KILL "$limit" "${TESTS_DIR:-/tests}/$name" "$@" </dev/null >"$out" 2>&1
	rc=$?
	# tail -f looks for new output once a second: let it print the last of it.
	sleep 1.2
	kill "$follower"
	wait "$follower" 2>/dev/null
	# A kselftest harness run passes even if some of its cases skipped.
	[ "$rc" -eq 0 ] && grep -q -E '^# Totals: .* skip:[1-9]|^ok [0-9]+ .*# SKIP' "$out" && rc=4
	why=""
	[ "$rc" -ne 4 ] || why=$(sed -n 's/.*# SKIP[ -]*//p' "$out" | head -n 1 | tr -d '\r')
	end=$(cut -d' ' -f1 /proc/uptime)
	secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
	echo "=== END $name rc=$rc ${secs}s"
}

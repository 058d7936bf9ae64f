# Sourced by vm/init (busybox sh). run_test NAME LIMIT [ARGS...]: run /tests/NAME (or
# $TESTS_DIR/NAME) with ARGS under a time limit; its output goes to the console as it
# is printed (so a panic or a hang keeps its seed and progress lines) and to /tmp/out.
# Sets rc (4 also when a kselftest harness run skipped a case) and secs.
run_test() {
	name=$1 limit=$2
	shift 2
	echo "=== RUN $name $* (limit ${limit}s)"
	start=$(cut -d' ' -f1 /proc/uptime)
	{
		timeout -s KILL "$limit" "${TESTS_DIR:-/tests}/$name" "$@" </dev/null 2>&1
		echo $? >/tmp/rc
	} | tee /tmp/out
	rc=$(cat /tmp/rc)
	# A kselftest harness run passes even if some of its cases skipped.
	[ "$rc" -eq 0 ] && grep -q -E '^# Totals: .* skip:[1-9]|^ok [0-9]+ .*# SKIP' /tmp/out && rc=4
	end=$(cut -d' ' -f1 /proc/uptime)
	secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
	echo "=== END $name rc=$rc ${secs}s"
}

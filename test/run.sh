#!/usr/bin/env bash
# Runs every test: cmocka binaries (TAP output) and root integration scripts
# (TAP lines). Ends with "N passed, N failed". Non-zero exit when any failed.
#   test/run.sh [FILTER]   run only tests whose name contains FILTER
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export BUILD
FILTER=${1:-}
# Bounded: no single test may hang the suite.
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

passed=0
failed=0
failed_names=()

count() {
	local name=$1 log=$2 rc=$3 p f
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# died without reporting a failure (crash, timeout): count it
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failed_names+=("$name")
}

run_one() {
	local name=$1 log rc t0
	shift
	[ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]] && return
	log=$(mktemp)
	echo "# === $name"
	t0=$(date +%s)
	timeout --foreground -k 10 "$TEST_TIMEOUT" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count "$name" "$log" "$rc"
	echo "# --- $name: $(($(date +%s) - t0)) s"
	rm -f "$log"
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/test/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in "$ROOT"/test/integration/*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t")" bash "$t"
done

if [ "${#failed_names[@]}" -gt 0 ]; then
	echo "# failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

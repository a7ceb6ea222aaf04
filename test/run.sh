#!/usr/bin/env bash
# Runs every test: cmocka binaries (TAP output) and root integration scripts
# (TAP lines). A check with a SKIP directive ("ok ... # SKIP reason") is
# skipped, never passed: the skipped checks are listed with their reasons,
# then the last line is "N passed, N failed, N skipped". Non-zero exit when
# any failed.
#   test/run.sh [FILTER]   run only tests whose name contains FILTER
# BUILD (build/) holds the cmocka binaries as $BUILD/test/test_*;
# INTEGRATION_DIR (test/integration) the scripts.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export BUILD
INTEGRATION_DIR=${INTEGRATION_DIR:-$ROOT/test/integration}
FILTER=${1:-}
# Bounded: no single test may hang the suite.
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
# TL_SKIP_RE: TAP's SKIP directive, as the tests write it.
source "$ROOT/test/lib.sh"

passed=0
failed=0
skipped=0
failed_names=()
skipped_checks=()

count() {
	local name=$1 log=$2 rc=$3 p f s line desc why
	s=$(grep -c "$TL_SKIP_RE" "$log")
	p=$(($(grep -c '^ok ' "$log") - s))
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# died without reporting a failure (crash, timeout): count it
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	while IFS= read -r line; do
		desc=$(sed -E 's/^ok( [0-9]+)?( -)? *//; s/[ :]*#[[:space:]]*[Ss][Kk][Ii][Pp].*$//' <<<"$line")
		why=$(sed -E 's/^.*#[[:space:]]*[Ss][Kk][Ii][Pp]([Pp]ed)?[[:space:]:]*//' <<<"$line")
		skipped_checks+=("$name: ${desc:+$desc: }${why:-no reason given}")
	done < <(grep "$TL_SKIP_RE" "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
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

# The unit tests pin under /sys/fs/bpf too: a fresh machine may not have it mounted yet.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf || echo "# cannot mount bpffs at /sys/fs/bpf: the tests that pin will fail"
fi

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/test/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in "$INTEGRATION_DIR"/*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t")" bash "$t"
done

if [ "${#skipped_checks[@]}" -gt 0 ]; then
	echo "# skipped:"
	printf '#   %s\n' "${skipped_checks[@]}"
fi
if [ "${#failed_names[@]}" -gt 0 ]; then
	echo "# failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# test/run.sh counts honestly: on a fake test set (a cmocka-like binary and
# scripts printing ok / not ok / SKIP lines), a skipped check is counted apart
# and listed with its reason, never as a pass; "not ok ... # SKIP" and a
# script that dies without a "not ok" are failures; the exit status follows
# the failures only. Needs no root.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FAKE=$(mktemp -d /tmp/socklb-runner-XXXXXX)
trap 'rm -rf "$FAKE"' EXIT
passed=0
failed=0

check() { # check "description" cmd...
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		passed=$((passed + 1))
		echo "ok - $desc"
	else
		failed=$((failed + 1))
		echo "not ok - $desc"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -40
	fi
}

mkdir -p "$FAKE/build/test" "$FAKE/integration" "$FAKE/clean"
# script FILE LINES...: a test that prints these lines and exits 0.
script() {
	local f=$1
	shift
	printf '#!/bin/sh\n' >"$f"
	printf "echo '%s'\n" "$@" >>"$f"
	chmod +x "$f"
}
# cmocka's TAP: numbered lines, a plan, its own "# ok - tests" comment.
script "$FAKE/build/test/test_fake" "1..3" "ok 1 - test_a" "ok 2 - test_b # SKIP no widget" "not ok 3 - test_c" \
	"# not ok - tests"
printf 'exit 1\n' >>"$FAKE/build/test/test_fake"
script "$FAKE/integration/a.sh" "ok - x" "ok - y # SKIP needs z" "ok - # SKIP kernel lacks q" \
	"ok 4 - w # skip lower case" "# ok - a comment, not a check"
script "$FAKE/integration/b.sh" "ok - one"
printf 'exit 3\n' >>"$FAKE/integration/b.sh"
script "$FAKE/integration/c.sh" "not ok - broken # SKIP not a skip: it failed"
script "$FAKE/clean/d.sh" "ok - fine" "ok - asan: t.sh: # SKIP not here"

out=$(BUILD="$FAKE/build" INTEGRATION_DIR="$FAKE/integration" bash "$ROOT/test/run.sh" 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# | /'
check "the last line counts passes, failures and skips apart" \
	test "$(tail -1 <<<"$out")" = "3 passed, 3 failed, 4 skipped"
check "the skipped checks are listed with their reasons, above the totals" \
	test "$(sed -n '/^# skipped:$/,/^# failed:/p' <<<"$out")" = "# skipped:
#   test_fake: test_b: no widget
#   a.sh: y: needs z
#   a.sh: kernel lacks q
#   a.sh: w: lower case
# failed: test_fake b.sh c.sh"
check "failures make the exit status non-zero" test "$rc" -ne 0

out=$(BUILD="$FAKE/none" INTEGRATION_DIR="$FAKE/clean" bash "$ROOT/test/run.sh" 2>&1)
rc=$?
check "skips alone do not fail the run (exit 0), and are not passes" \
	test "$rc:$(tail -3 <<<"$out")" = "0:# skipped:
#   d.sh: asan: t.sh: not here
1 passed, 0 failed, 1 skipped"

out=$(BUILD="$FAKE/build" INTEGRATION_DIR="$FAKE/integration" bash "$ROOT/test/run.sh" a.sh 2>&1)
check "a filter runs only the matching tests" test "$(tail -1 <<<"$out")" = "1 passed, 0 failed, 3 skipped"

echo "# runner_counts.sh: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]

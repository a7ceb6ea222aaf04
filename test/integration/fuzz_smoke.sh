#!/usr/bin/env bash
# Every libFuzzer target (test/fuzz/) for a short bounded time: its seed
# corpus and every regression input replayed, then FUZZ_SMOKE_SECONDS (10) of
# fuzzing. `make fuzz` runs the same targets for ten minutes each.
# Needs no root; builds into build/fuzz/.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
start=$(date +%s)
bash "$ROOT/hack/fuzz.sh" "${FUZZ_SMOKE_SECONDS:-10}"
rc=$?
echo "# fuzz_smoke.sh: $(($(date +%s) - start)) s in all"
exit $rc

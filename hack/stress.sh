#!/usr/bin/env bash
# make stress: the fault tests at length, then the whole suite under the
# sanitizers. Needs root; a round takes about 15 minutes.
#
#   hack/stress.sh [ROUNDS]   every test/integration/fault_*.sh ROUNDS times (1) with
#                             2-minute client loops, 300 pods, the API server down 60 s;
#                             then sanitizers.sh with every integration test (SANITIZE_ALL=1)
#
# The knobs the fault tests read can be set instead: FAULT_LOOP_MS, FAULT_PODS, FAULT_DOWN_S.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-1}
export FAULT_LOOP_MS=${FAULT_LOOP_MS:-120000}
export FAULT_PODS=${FAULT_PODS:-300}
export FAULT_DOWN_S=${FAULT_DOWN_S:-60}
export TEST_TIMEOUT=${TEST_TIMEOUT:-1800}
failed=0

for round in $(seq "$ROUNDS"); do
	echo "# === stress round $round of $ROUNDS: loops ${FAULT_LOOP_MS} ms, ${FAULT_PODS} pods, API server down ${FAULT_DOWN_S} s"
	bash "$ROOT/test/run.sh" fault_ || failed=1
done
echo "# === every integration test under ASan+UBSan"
SANITIZE_ALL=1 SANITIZE_SUITE_TIMEOUT=1200 bash "$ROOT/test/run.sh" sanitizers || failed=1
exit $failed

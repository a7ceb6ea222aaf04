#!/usr/bin/env bash
# Full maps: the daemon says so clearly and keeps what is there. The maps are
# made small first (test/tools/slb-mkmaps: 8 frontends, 16 backend slots; the
# daemon adopts pinned maps and has no size flags of its own), then:
#   - --once with more frontends than fit: non-zero exit, an error naming a
#     frontend and "full";
#   - the daemon with 5 services, then 20 (services map full), then 3 services
#     of 10 endpoints (backends map full): the error is logged, counted in
#     socklb_sync_errors_total and shown in socklb_last_error; every frontend
#     that was in the maps before stays, with its backends;
#   - back to a set that fits: the maps converge and the errors stop.
# All along, a client pod connects in a loop to a live service that was in
# the maps before they filled up: not one connect may fail.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

SYNCD=$TL_BUILD/socklb-syncd
MKMAPS=$TL_TOOLS/slb-mkmaps
GEN=(python3 "$TL_ROOT/test/integration/syncd_gen.py")
P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SRCDIR=$TL_TMP/src # the daemon's source: gen.json (the generated services) and live.json
SRC=$SRCDIR/gen.json
LOG=$TL_TMP/syncd.log
LIVE_VIP=10.111.0.10
mkdir -p "$SRCDIR"

# frontends ROOT: "frontend backends" per line, sorted; the live service left out
frontends() {
	"$SYNCD" dump --json --bpffs-root "$1" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["frontend"] != sys.argv[1]:
        print(s["frontend"], ",".join(sorted(s["backends"])))' "$LIVE_VIP:80" | sort
}
metric() {
	curl -s -m 2 "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
wait_for() {
	local _
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
# holds ROOT FILE: every line of FILE (a frontends listing) is still in the maps
holds() {
	[ -z "$(comm -23 "$2" <(frontends "$1"))" ]
}

tl_check "maps created with 8 frontends and 16 backend slots" "$MKMAPS" "$TL_BPFFS" 8 16

# --once, too many frontends -----------------------------------------------------
ROOT_ONCE=$TL_BPFFS/once
"$MKMAPS" "$ROOT_ONCE" 8 16 >/dev/null
"${GEN[@]}" "$SRC" 20 1
timeout 60 "$SYNCD" --source "file:$SRC" --bpffs-root "$ROOT_ONCE" --node-name node-a --metrics-addr "" \
	--once 2>"$TL_TMP/once.log"
rc=$?
tl_check "--once with 20 frontends for 8 slots exits non-zero (status $rc)" test "$rc" -ne 0
line=$(grep -m1 -i 'full' "$TL_TMP/once.log")
tl_diag "--once says: $line"
tl_check "--once names a frontend and says a map is full" grep -Eq 'frontend [0-9.]+:[0-9]+.*full' <<<"$line"
n=$(frontends "$ROOT_ONCE" | wc -l)
tl_check "--once wrote what fit ($n of 20)" test "$n" -eq 8

# the daemon: fits, then too many services ----------------------------------------
# The live service: one real backend pod; a client pod linked to the programs.
tl_pod client 10.244.0.2/24
tl_pod web 10.244.0.11/24
tl_bg_in_pod web "$P" server tcp 0.0.0.0 8080 web
tl_check "programs load (on the small maps), links attach to the client pod" bash -c \
	"'$CTL' load '$TL_BPFFS' && '$CTL' attach '$TL_BPFFS' '$(tl_pod_cgroup client)' client"
cat >"$SRCDIR/live.json" <<EOF
{"kind": "List", "apiVersion": "v1", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "live", "namespace": "default"},
  "spec": {"clusterIP": "$LIVE_VIP", "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
  "metadata": {"name": "live-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "live"}},
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
  "endpoints": [{"addresses": ["10.244.0.11"], "conditions": {"ready": true}}]}]}
EOF
"${GEN[@]}" "$SRC" 5 2
"$SYNCD" --source "file:$SRCDIR" --bpffs-root "$TL_BPFFS" --node-name node-a --metrics-addr 127.0.0.1:0 \
	2>"$LOG" &
DAEMON=$!
TL_PIDS+=("$DAEMON")
PORT=$(tl_metrics_port "$LOG")
five_synced() { [ "$(frontends "$TL_BPFFS" | wc -l)" -eq 5 ]; }
tl_check "5 services x 2 endpoints fit" wait_for five_synced
tl_check "the live service answers through its ClusterIP" wait_for tl_in_pod client "$P" tcp "$LIVE_VIP" 80
tl_loop_start client "$LIVE_VIP" 80
frontends "$TL_BPFFS" >"$TL_TMP/before"
errors0=$(metric socklb_sync_errors_total)

"${GEN[@]}" "$SRC" 20 2
tl_check "20 services: socklb_sync_errors_total grows" wait_for bash -c "[ \"\$(curl -s -m 2 http://127.0.0.1:$PORT/metrics | awk '\$1 == \"socklb_sync_errors_total\" {print \$2}')\" -gt ${errors0:-0} ]"
tl_check "20 services: the log names a frontend and a full map" wait_for grep -Eq 'frontend .*full' "$LOG"
last=$(curl -s -m 2 "http://127.0.0.1:$PORT/metrics" | grep '^socklb_last_error')
tl_diag "$last"
tl_check "socklb_last_error carries the message" grep -q 'full' <<<"$last"
tl_check "every frontend that was there is still there, with its backends" holds "$TL_BPFFS" "$TL_TMP/before"
tl_check "the services map holds at most 8 frontends" test "$(frontends "$TL_BPFFS" | wc -l)" -le 8
tl_check "the daemon is still running" kill -0 "$DAEMON"

# backends full: 3 services of 10 endpoints for 16 slots
"${GEN[@]}" "$SRC" 5 2
tl_check "back to 5 services: converged" wait_for five_synced
frontends "$TL_BPFFS" >"$TL_TMP/before"
errors1=$(metric socklb_sync_errors_total)
"${GEN[@]}" "$SRC" 5 10
tl_check "5 services x 10 endpoints (backends map full): errors counted" wait_for bash -c "[ \"\$(curl -s -m 2 http://127.0.0.1:$PORT/metrics | awk '\$1 == \"socklb_sync_errors_total\" {print \$2}')\" -gt ${errors1:-0} ]"
sleep 0.5
# A frontend is either at its new backends (it fit) or at its old ones: never half.
check_no_half() {
	local f b
	while read -r f b; do
		grep -qx "$f $b" "$TL_TMP/before" && continue
		[ "$(tr ',' '\n' <<<"$b" | wc -l)" -eq 10 ] || {
			echo "$f has $b"
			return 1
		}
	done < <(frontends "$TL_BPFFS")
}
tl_check "each frontend holds its old or its new backend set, never a mix" check_no_half
tl_check "no frontend was lost" test "$(frontends "$TL_BPFFS" | wc -l)" -eq 5
tl_diag "backends full: $(frontends "$TL_BPFFS" | awk '{print split($2, a, ",")}' | sort | uniq -c | awk '{printf "%s frontends with %s backends; ", $1, $2}')"

# relief: a set that fits converges
"${GEN[@]}" "$SRC" 4 3
four_synced() { [ "$(frontends "$TL_BPFFS" | wc -l)" -eq 4 ] && [ "$(frontends "$TL_BPFFS" | grep -c ',.*,')" -eq 4 ]; }
tl_check "a set that fits again (4 x 3) converges" wait_for four_synced
errors2=$(metric socklb_sync_errors_total)
sleep 1
tl_check "and the errors stop ($errors2 in all)" test "$(metric socklb_sync_errors_total)" = "$errors2"

tl_loop_check "to the live service while the maps filled up"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null
tl_finish

#!/usr/bin/env bash
# kill -9 socklb-syncd in the middle of large syncs while a client pod
# connects to a ClusterIP in a loop (DESIGN.md invariant 2): 10,000 services
# appear and socklb-syncd is killed twice while writing them, then 1,000 of
# them go away and it is killed while deleting. Each time it restarts,
# adopts what is pinned and converges; the client's service is never touched
# and not one of its connections fails.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SYNCD=$TL_BUILD/socklb-syncd
GEN=(python3 "$TL_ROOT/test/integration/syncd_gen.py")
SRC=$TL_TMP/src
LOG=$TL_TMP/syncd.log
# Outside the generated services' range (10.96.0.1 ... 10.96.39.16).
VIP=10.111.0.10
LOOP_MS=${FAULT_LOOP_MS:-30000}
mkdir -p "$SRC"

tl_pod client 10.244.0.2/24
for i in 1 2 3; do
	tl_pod web$i 10.244.0.1$i/24
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
done
tl_check "programs load, links attach to the client pod" bash -c \
	"'$CTL' load '$TL_BPFFS' && '$CTL' attach '$TL_BPFFS' '$(tl_pod_cgroup client)' client"

cat >"$SRC/web.json" <<EOF
{"kind": "List", "apiVersion": "v1", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
  "spec": {"clusterIP": "$VIP", "clusterIPs": ["$VIP"], "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
  "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
  "endpoints": [{"addresses": ["10.244.0.11"], "conditions": {"ready": true}},
                {"addresses": ["10.244.0.12"], "conditions": {"ready": true}},
                {"addresses": ["10.244.0.13"], "conditions": {"ready": true}}]},
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}]}
EOF

start_daemon() {
	"$SYNCD" --source "file:$SRC" --bpffs-root "$TL_BPFFS" --node-name node-a --metrics-addr "" -v 2>"$LOG" &
	DAEMON=$!
	TL_PIDS+=("$DAEMON")
}
count() {
	"$SYNCD" dump --json --bpffs-root "$TL_BPFFS" 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["services"]))'
}
web_intact() {
	"$SYNCD" dump --bpffs-root "$TL_BPFFS" 2>/dev/null | grep -q "^$VIP:80 .*10.244.0.11:8080,10.244.0.12:8080,10.244.0.13:8080"
}
wait_for() {
	local tries=$1 i
	shift
	for i in $(seq "$tries"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
writes() { grep -c 'wrote frontend\|deleted frontend' "$LOG"; }
# Counted from the mark: the daemon's log so far is not this sync's work.
MARK=0
at_least_writes() { [ "$(($(writes) - MARK))" -ge "$1" ]; }
converged_to() { [ "$(count)" = "$1" ] && web_intact; }
# kill_mid_sync WRITES: kill -9 once the daemon logged that many map writes; how far it got.
kill_mid_sync() {
	wait_for 600 at_least_writes "$1"
	kill -9 "$DAEMON"
	wait "$DAEMON" 2>/dev/null
	KILLED_AT=$(count)
	tl_ok "kill -9 after $(($(writes) - MARK)) logged map writes ($KILLED_AT frontends pinned)"
	tl_check "the client's service survived the kill" web_intact
	MARK=0
	start_daemon
}

start_daemon
tl_check "the client's service is synced" wait_for 100 web_intact
tl_wait_tcp client 10.244.0.13 8080 || tl_not_ok "backends did not start"

"${GEN[@]}" "$TL_TMP/big.json" 10000 2
"${GEN[@]}" "$TL_TMP/smaller.json" 9000 2
tl_in_pod client "$P" loop "$VIP" 80 "$LOOP_MS" >"$TL_TMP/loop" 2>"$TL_TMP/loop.err" &
LOOP=$!
TL_PIDS+=("$LOOP")
sleep 1

mv "$TL_TMP/big.json" "$SRC/big.json"
kill_mid_sync 1000
kill_mid_sync 1000
tl_check "10,000 services appear through two kills: the maps converge to 10,001 frontends" wait_for 600 converged_to 10001

MARK=$(writes)
mv "$TL_TMP/smaller.json" "$SRC/big.json"
kill_mid_sync 200
tl_check "1,000 services go away through a kill: the maps converge to 9,001 frontends" wait_for 600 converged_to 9001

wait "$LOOP"
read -r _ attempts _ failures <"$TL_TMP/loop"
rate=$((attempts * 1000 / LOOP_MS))
tl_diag "client: $attempts connections attempted, $failures failed, $rate per second, during 3 kills -9"
head -3 "$TL_TMP/loop.err" | sed 's/^/# /'
tl_check "zero failed connections through every kill and restart ($attempts attempted)" test "$failures" = 0
tl_check "the client connected at least 500 times a second ($rate/s)" test "$rate" -ge 500
tl_finish

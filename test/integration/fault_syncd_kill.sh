#!/usr/bin/env bash
# kill -9 socklb-syncd in the middle of large syncs while a client pod
# connects to a ClusterIP in a loop (README.md invariant 2): 10,000 services
# appear and socklb-syncd is killed twice while writing them, then 1,000 of
# them go away and it is killed while deleting. Each kill is provably in the
# middle of a sync: the daemon is frozen after a given number of map writes
# (its log stops being read) and the maps then hold strictly between what
# they held before the sync and after it. Each time it restarts, adopts what
# is pinned and converges; the client's service is never touched and not one
# of its connections fails.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SYNCD=$TL_BUILD/socklb-syncd
GEN=(python3 "$TL_ROOT/test/integration/syncd_gen.py")
SRC=$TL_TMP/src
LOG=$TL_TMP/syncd.log
FIFO=$TL_TMP/syncd.fifo
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

# start_daemon [STOP_AT PATTERN]: the daemon's log goes through a FIFO to tl_log_pause, which
# freezes the daemon after STOP_AT lines with PATTERN ("wrote frontend", "deleted frontend": one per
# map write at -v, logged after the write): in the middle of its sync, with at least STOP_AT writes
# done and a few hundred more at most.
start_daemon() {
	local stop_at=${1:-0} pattern=${2:-}
	rm -f "$FIFO" "$TL_TMP/paused"
	mkfifo "$FIFO"
	tl_log_pause "$stop_at" "$pattern" "$TL_TMP/paused" <"$FIFO" >"$LOG" &
	READER=$!
	"$SYNCD" --source "file:$SRC" --bpffs-root "$TL_BPFFS" --node-name node-a --metrics-addr "" -v 2>"$FIFO" &
	DAEMON=$!
	TL_PIDS+=("$DAEMON" "$READER")
}
count() {
	"$SYNCD" dump --json --bpffs-root "$TL_BPFFS" 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["services"]))'
}
# progress: frontends plus backends pinned. Every write of a sync that adds (a new frontend, backends
# for one written without them yet) raises it, every delete lowers it: strictly between its values
# before and after a sync means some of the sync's writes were done and some not.
progress() {
	"$SYNCD" dump --json --bpffs-root "$TL_BPFFS" 2>/dev/null |
		python3 -c 'import json, sys; s = json.load(sys.stdin)["services"]; print(len(s) + sum(len(x["backends"]) for x in s))'
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
converged_to() { [ "$(count)" = "$1" ] && [ "$(progress)" = "$2" ] && web_intact; }
strictly_between() { [ "$1" -gt "$2" ] && [ "$1" -lt "$3" ]; }
# kill_mid_sync FROM TO [STOP_AT PATTERN]: once the reader has frozen the daemon, kill -9 it. The
# sync takes the maps' progress from FROM to TO: at the kill it must be strictly between the two (a
# kill before the first write or after the last is a failure). Then a new daemon starts, with the
# next kill point if one is given.
kill_mid_sync() {
	local from=$1 to=$2 lo=$1 hi=$2 frontends
	shift 2
	[ "$from" -gt "$to" ] && lo=$to hi=$from
	tl_check "the daemon reached its kill point" wait_for 600 test -e "$TL_TMP/paused"
	kill -9 "$DAEMON"
	wait "$DAEMON" 2>/dev/null
	kill "$READER"
	wait "$READER" 2>/dev/null
	KILLED_AT=$(progress)
	frontends=$(count)
	tl_check "kill -9 landed mid-sync: $frontends frontends and $((KILLED_AT - frontends)) backends pinned, $KILLED_AT strictly between $from and $to" \
		strictly_between "${KILLED_AT:-0}" "$lo" "$hi"
	tl_check "the client's service survived the kill" web_intact
	start_daemon "$@"
	tl_check "the restart adopted the $frontends pinned frontends" wait_for 100 grep -q "adopted $frontends pinned frontends" "$LOG"
}

# The first daemon writes the client's service, then 1,000 of the 10,000 before its kill point.
start_daemon 1001 "wrote frontend"
tl_check "the client's service is synced" wait_for 100 web_intact
tl_wait_tcp client 10.244.0.13 8080 || tl_not_ok "backends did not start"

"${GEN[@]}" "$TL_TMP/big.json" 10000 2
"${GEN[@]}" "$TL_TMP/smaller.json" 9000 2
tl_loop_start client "$VIP" 80 "$LOOP_MS"
sleep 1

# Progress (frontends + backends) when converged: the client's service has 3 backends, the others 2.
BIG=$((10001 + 3 + 10000 * 2))
SMALLER=$((9001 + 3 + 9000 * 2))
mv "$TL_TMP/big.json" "$SRC/big.json"
kill_mid_sync "$((1 + 3))" "$BIG" 1000 "wrote frontend"
kill_mid_sync "$KILLED_AT" "$BIG" 200 "deleted frontend"
tl_check "10,000 services appear through two kills: the maps converge to 10,001 frontends" wait_for 600 converged_to 10001 "$BIG"

mv "$TL_TMP/smaller.json" "$SRC/big.json"
kill_mid_sync "$BIG" "$SMALLER"
tl_check "1,000 services go away through a kill: the maps converge to 9,001 frontends" wait_for 600 converged_to 9001 "$SMALLER"

tl_loop_check "through 3 kills -9 and restarts"
tl_finish

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# socklb-syncd on bad input, with a file source and real pinned maps under a
# private bpffs root: a restart (and --once) on a file with a malformed
# Service keeps the frontends it may own and says which object and field
# hold them, --once exits 1 naming it, the missing Node is said once and
# shown in /metrics, invalid objects are counted in /metrics, and bad
# --bpffs-root, --node-name, --service-proxy-name and source settings are
# refused before anything is created.
source "$(dirname "$0")/../lib.sh"
tl_init

SYNCD=$TL_BUILD/socklb-syncd
SRC=$TL_TMP/src
mkdir -p "$SRC" "$TL_BPFFS"

# cluster_json WEB_CLUSTER_IP [extra items]: web (two ports, one slice), other, node-a.
cluster_json() {
	cat <<EOF
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"demo"},
  "spec":{"clusterIP":"$1","clusterIPs":["$1"],
   "ports":[{"name":"http","port":80,"protocol":"TCP"},{"name":"alt","port":81,"protocol":"TCP"}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
  "metadata":{"name":"web-1","namespace":"demo","labels":{"kubernetes.io/service-name":"web"}},
  "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.30"]},{"addresses":["10.244.2.31"]}],
  "ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"alt","port":8081,"protocol":"TCP"}]},
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"},
  "status":{"addresses":[{"type":"InternalIP","address":"192.168.10.11"}]}}${2:-}
]}
EOF
}
# Two Services that will go away: one on a port web has, one on a port it has not.
OTHERS=',
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"same-port","namespace":"demo"},
  "spec":{"clusterIP":"10.96.0.30","ports":[{"port":80,"protocol":"TCP"}]}},
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"other-port","namespace":"demo"},
  "spec":{"clusterIP":"10.96.0.31","ports":[{"port":443,"protocol":"TCP"}]}}'
NEW=',
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"new","namespace":"demo"},
  "spec":{"clusterIP":"10.96.0.40","ports":[{"port":80,"protocol":"TCP"}]}}'
# write FILE TEXT: atomically, as tools do
write() {
	printf '%s\n' "$2" >"$1.tmp"
	mv "$1.tmp" "$1"
}

# table ROOT: "frontend backends" per line, sorted
table() {
	"$SYNCD" dump --bpffs-root "$1" --json | python3 -c '
import json, sys
for s in sorted(json.load(sys.stdin)["services"], key=lambda s: s["frontend"]):
    print(s["frontend"], ",".join(s["backends"]) or "-")'
}
WEB20='10.96.0.20:80 10.244.1.30:8080,10.244.2.31:8080
10.96.0.20:81 10.244.1.30:8081,10.244.2.31:8081'
WEB21=${WEB20//0.20:/0.21:}
OTHER_ROWS='10.96.0.30:80 -
10.96.0.31:443 -'
table_is() { [ "$(table "$1")" = "$2" ]; }
# wait_until SECONDS CMD...: poll every 50 ms
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
log_has() { grep -qF -- "$2" "$1"; }
metrics() { curl -s -m 2 "http://127.0.0.1:$PORT/metrics"; }
metric_is() { metrics | grep -qxF -- "$1"; }

start_daemon() { # start_daemon ROOT LOG [flags]: DAEMON, and the PORT of its /metrics
	local root=$1 log=$2
	shift 2
	"$SYNCD" --source "file:$SRC" --bpffs-root "$root" --metrics-addr 127.0.0.1:0 "$@" 2>"$log" &
	DAEMON=$!
	TL_PIDS+=("$DAEMON")
	PORT=$(tl_metrics_port "$log")
}
stop_daemon() {
	kill -TERM "$DAEMON"
	wait "$DAEMON" 2>/dev/null
}

BAD_WHY='invalid Service demo/web: spec.clusterIPs[0] "10.96.0.999" is not an IP address'

# ------------------------------------------------- restart on a bad Service
ROOT=$TL_BPFFS/restart
write "$SRC/cluster.json" "$(cluster_json 10.96.0.20 "$OTHERS")"
start_daemon "$ROOT" "$TL_TMP/first.log" --node-name node-a
tl_check "the good file is synced" wait_until 10 table_is "$ROOT" "$WEB20
$OTHER_ROWS"
stop_daemon

# While it was down: web's clusterIP got a typo and the two others went away.
write "$SRC/cluster.json" "$(cluster_json 10.96.0.999)"
LOG=$TL_TMP/restart.log
start_daemon "$ROOT" "$LOG" --node-name node-a
tl_check "after a restart the first sync completes" wait_until 10 log_has "$LOG" "initial sync done"
# web's ports are known, its address is not: port 80 on any address may be web's, port 443 is not.
tl_check "the bad Service's frontends stay, with their backends, and so does the other on its port" table_is "$ROOT" "$WEB20
10.96.0.30:80 -"
tl_check "the pass says which object and field keep how many frontends" log_has "$LOG" \
	"keeping 3 pinned frontends that no valid Service claims until these objects are fixed or deleted: $BAD_WHY (may own 3)"
tl_check "/metrics counts the invalid Service" wait_until 5 metric_is 'socklb_invalid_objects{kind="Service"} 1'
tl_check "/metrics has no invalid EndpointSlice" metric_is 'socklb_invalid_objects{kind="EndpointSlice"} 0'
tl_check "/metrics counts the rejection as a sync error" bash -c "curl -s http://127.0.0.1:$PORT/metrics | grep -q '^socklb_sync_errors_total 1$'"
tl_check "/metrics shows the rejection as the last error" bash -c \
	"curl -s http://127.0.0.1:$PORT/metrics | grep -qF 'socklb_last_error{message=\"invalid Service demo/web: spec.clusterIPs[0] \\\"10.96.0.999\\\" is not an IP address\"}'"
tl_check "/metrics: the Node is there" metric_is "socklb_node_missing 0"

# A change elsewhere: the kept frontends stay kept, and the line is not repeated.
write "$SRC/cluster.json" "$(cluster_json 10.96.0.999 "$NEW")"
tl_check "another Service is written meanwhile" wait_until 5 table_is "$ROOT" "$WEB20
10.96.0.30:80 -
10.96.0.40:80 -"
tl_check "the kept line is not repeated while nothing about it changes" test "$(grep -c 'keeping 3 pinned' "$LOG")" -eq 1

# A bad EndpointSlice as well: counted by kind.
write "$SRC/cluster.json" "$(cluster_json 10.96.0.999 "$NEW" | sed 's/"10.244.2.31"/"fd00::31"/')"
tl_check "/metrics counts the invalid EndpointSlice" wait_until 5 metric_is 'socklb_invalid_objects{kind="EndpointSlice"} 1'
tl_check "the invalid EndpointSlice is named with its field" log_has "$LOG" \
	'invalid EndpointSlice demo/web-1: endpoints[1].addresses[0] "fd00::31" is not an IPv4 address'

# Fixed (with another address): the normal diff applies.
write "$SRC/cluster.json" "$(cluster_json 10.96.0.21 "$NEW")"
tl_check "once fixed, the old frontends go and the new ones are written" wait_until 5 table_is "$ROOT" "$WEB21
10.96.0.40:80 -"
tl_check "/metrics: no invalid Service any more" wait_until 5 metric_is 'socklb_invalid_objects{kind="Service"} 0'
tl_check "/metrics: no invalid EndpointSlice any more" metric_is 'socklb_invalid_objects{kind="EndpointSlice"} 0'
stop_daemon

# ------------------------------------------------------------------- --once
ROOT=$TL_BPFFS/once
write "$SRC/cluster.json" "$(cluster_json 10.96.0.20 "$OTHERS")"
tl_check "--once on the good file exits 0" "$SYNCD" --source "file:$SRC" --bpffs-root "$ROOT" --node-name node-a --once
write "$SRC/cluster.json" "$(cluster_json 10.96.0.999 "$NEW")"
"$SYNCD" --source "file:$SRC" --bpffs-root "$ROOT" --node-name node-a --once 2>"$TL_TMP/once.log"
tl_check "--once with a bad Service exits 1" test "$?" -eq 1
tl_check "--once names the object and the field" log_has "$TL_TMP/once.log" "error: --once: $BAD_WHY"
tl_check "--once says how many frontends it kept" log_has "$TL_TMP/once.log" \
	"--once: 1 invalid objects; the maps keep the 3 pinned frontends their Services may own"
tl_check "--once did the writes and deletes it could and kept what the bad Service may own" table_is "$ROOT" "$WEB20
10.96.0.30:80 -
10.96.0.40:80 -"

# ------------------------------------------------------------ missing Node
ROOT=$TL_BPFFS/node
write "$SRC/cluster.json" "$(cluster_json 10.96.0.20)"
LOG=$TL_TMP/node.log
start_daemon "$ROOT" "$LOG" --node-name node-b
MISSING="Node node-b (--node-name) is not in the input: node ports are not programmed and zone hints are off"
tl_check "a missing Node is said" wait_until 10 log_has "$LOG" "$MISSING"
tl_check "/metrics shows the missing Node" wait_until 5 metric_is "socklb_node_missing 1"
write "$SRC/cluster.json" "$(cluster_json 10.96.0.20 "$NEW")"
wait_until 5 table_is "$ROOT" "$WEB20
10.96.0.40:80 -"
tl_check "the missing Node is said once, not at every sync" test "$(grep -c 'Node node-b (--node-name) is not in the input' "$LOG")" -eq 1
write "$SRC/cluster.json" "$(cluster_json 10.96.0.20 "$NEW" | sed 's/"name":"node-a"/"name":"node-b"/')"
tl_check "the Node appearing is said" wait_until 5 log_has "$LOG" "Node node-b appeared"
tl_check "/metrics: the Node is there now" wait_until 5 metric_is "socklb_node_missing 0"
stop_daemon

# ------------------------------------------------------------ bad arguments
# refused ARGS...: the command fails; its status and stderr in RC and OUT.
# (no in-cluster settings: the Kubernetes source has no configuration)
refused() {
	OUT=$(env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT "$SYNCD" "$@" 2>&1)
	RC=$?
}
cd "$TL_TMP" || exit 1
refused --source "file:$SRC" --bpffs-root socklb-rel --once
tl_check "a relative --bpffs-root is a usage error (2)" test "$RC" -eq 2
tl_check "a relative --bpffs-root is named" grep -qF -- '--bpffs-root "socklb-rel": must be an absolute path' <<<"$OUT"
tl_check "a relative --bpffs-root creates nothing" test ! -e "$TL_TMP/socklb-rel"
cd - >/dev/null || exit 1
refused --source "file:$SRC" --bpffs-root "$TL_TMP/plain/socklb" --node-name node-a --once
tl_check "a --bpffs-root not on bpffs fails (1)" test "$RC" -eq 1
tl_check "a --bpffs-root not on bpffs is named" grep -qF -- "--bpffs-root $TL_TMP/plain/socklb is not on a bpffs mount" <<<"$OUT"
tl_check "a --bpffs-root not on bpffs creates nothing" test ! -e "$TL_TMP/plain"
refused --source kubernetes --bpffs-root "$TL_BPFFS/kube" --node-name node-a --once
tl_check "--source kubernetes without any cluster configuration fails (1)" test "$RC" -eq 1
tl_check "--source kubernetes without any cluster configuration says why" grep -q "cannot start the Kubernetes source" <<<"$OUT"
tl_check "--source kubernetes without any cluster configuration creates no maps" test ! -e "$TL_BPFFS/kube"
refused --source "file:$TL_TMP/missing.json" --bpffs-root "$TL_BPFFS/missing" --node-name node-a --once
tl_check "--once with a missing file creates no maps" test ! -e "$TL_BPFFS/missing"
refused --source "file:$SRC" --bpffs-root "$TL_BPFFS/name" --node-name Node_A --once
tl_check "--node-name is checked with the file source too (2)" test "$RC" -eq 2
tl_check "--node-name with the file source: the error names it" grep -qF -- '--node-name "Node_A": not a valid Node name' <<<"$OUT"
refused --source "file:$SRC" --bpffs-root "$TL_BPFFS/name" --service-proxy-name "my proxy" --once
tl_check "--service-proxy-name is checked with the file source too (2)" test "$RC" -eq 2
tl_check "--service-proxy-name with the file source: the error names it" \
	grep -qF -- '--service-proxy-name "my proxy": not a valid label value' <<<"$OUT"
tl_check "refused names create nothing" test ! -e "$TL_BPFFS/name"

# ------------------------------------------------------------ each failure said once
# The libraries say what failed in their error context; the command reports it, on one line.
said_once() { # said_once TEXT [FILE]: TEXT is on exactly one line of OUT (or of FILE)
	local n
	n=$(grep -cF -- "$1" "${2:-/dev/stdin}" <<<"$OUT")
	[ "$n" = 1 ] || { echo "\"$1\" on $n lines:"; cat "${2:-/dev/stdin}" <<<"$OUT"; return 1; }
}
bpftool map create "$TL_BPFFS/a-pin" type array key 4 value 4 entries 1 name slb_not_a_dir ||
	tl_not_ok "pinning a map where the bpffs root should be"
refused --source "file:$SRC" --bpffs-root "$TL_BPFFS/a-pin" --node-name node-a --once
tl_check "a --bpffs-root that is a pinned map, not a directory, fails (1)" test "$RC" -eq 1
tl_check "a --bpffs-root that is not a directory is said once" said_once "$TL_BPFFS/a-pin"
printf '{"clusters": [' >"$TL_TMP/broken.kubeconfig"
refused --source kubernetes --kubeconfig "$TL_TMP/broken.kubeconfig" --bpffs-root "$TL_BPFFS/kc" \
	--node-name node-a --once
tl_check "a kubeconfig that does not parse fails (1)" test "$RC" -eq 1
tl_check "a kubeconfig that does not parse is said once" said_once "broken.kubeconfig: invalid JSON"
mkdir -p "$TL_TMP/net.d"
printf '{"cniVersion": "1.0.0", "name": "net", "plugins": [' >"$TL_TMP/net.d/10-net.conflist"
write "$SRC/cluster.json" "$(cluster_json 10.96.0.20)"
start_daemon "$TL_BPFFS/cni" "$TL_TMP/cni.log" --node-name node-a --cni-conf-dir "$TL_TMP/net.d"
tl_check "a conflist that does not parse is said" wait_until 5 log_has "$TL_TMP/cni.log" "10-net.conflist: not valid JSON"
touch "$TL_TMP/net.d/10-net.conflist"
sleep 1
stop_daemon
tl_check "a conflist that does not parse is said once, also when it changes without being fixed" \
	said_once "10-net.conflist" "$TL_TMP/cni.log"

tl_finish

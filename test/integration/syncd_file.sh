#!/usr/bin/env bash
# socklb-syncd with a file source, on real pinned maps under a private bpffs
# root: dump output, reloads (atomic rename, in-place write, bad JSON),
# metrics, namespace opt-in, SIGTERM, --once exit codes, and at scale
# (10,000 services x 10 endpoints): full sync time, one endpoint change ->
# map written latency, RSS, and kill -9 in the middle of a sync. Figures are
# printed as "# ..." lines; timings are never asserted.
source "$(dirname "$0")/../lib.sh"
tl_init

SYNCD=$TL_BUILD/socklb-syncd
GEN=("python3" "$TL_ROOT/test/integration/syncd_gen.py")
mkdir -p "$TL_BPFFS"

now_ms() { date +%s%3N; }

# start_daemon ROOT SOURCE LOG [extra flags]: run the daemon in the background, DAEMON_PID.
start_daemon() {
	local root=$1 source=$2 log=$3
	shift 3
	"$SYNCD" --source "file:$source" --bpffs-root "$root" --node-name node-a "$@" 2>"$log" &
	DAEMON_PID=$!
	TL_PIDS+=("$DAEMON_PID")
}

# wait_until TIMEOUT_MS CMD...: poll CMD every 5 ms; the elapsed ms in WAITED_MS. Fails on timeout.
wait_until() {
	local timeout=$1 start
	shift
	start=$(now_ms)
	while ! "$@" >/dev/null 2>&1; do
		if (($(now_ms) - start > timeout)); then
			WAITED_MS=$(($(now_ms) - start))
			return 1
		fi
		sleep 0.005
	done
	WAITED_MS=$(($(now_ms) - start))
}

frontends() { "$SYNCD" dump --bpffs-root "$1" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["services"]))'; }
dump_is() { [ "$("$SYNCD" dump --bpffs-root "$1" --json)" = "$2" ]; }
log_has() { grep -q -- "$2" "$1" 2>/dev/null; }

# http_get PORT PATH: status line and body from the metrics server on loopback.
http_get() { curl -s -m 2 -w '\nstatus=%{http_code}\n' "http://127.0.0.1:$1$2"; }

# ---------------------------------------------------------------- small file
ROOT1=$TL_BPFFS/small
SRC=$TL_TMP/src
mkdir -p "$SRC"
services_json() { # services_json WEB_BACKENDS_JSON_ARRAY
	cat <<EOF
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"kube-dns","namespace":"kube-system"},
  "spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
   "ports":[{"name":"dns","port":53,"protocol":"UDP","targetPort":53}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
  "metadata":{"name":"kube-dns-1","namespace":"kube-system","labels":{"kubernetes.io/service-name":"kube-dns"}},
  "addressType":"IPv4","endpoints":[{"addresses":["10.244.2.7"]},{"addresses":["10.244.1.5"]}],
  "ports":[{"name":"dns","port":53,"protocol":"UDP"}]},
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"demo"},
  "spec":{"type":"ClusterIP","clusterIP":"10.96.0.20","clusterIPs":["10.96.0.20","fd00:96::20"],
   "sessionAffinity":"ClientIP","ports":[{"port":80,"protocol":"TCP","targetPort":8080}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
  "metadata":{"name":"web-v4","namespace":"demo","labels":{"kubernetes.io/service-name":"web"}},
  "addressType":"IPv4","endpoints":$1,"ports":[{"port":8080,"protocol":"TCP"}]},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
  "metadata":{"name":"web-v6","namespace":"demo","labels":{"kubernetes.io/service-name":"web"}},
  "addressType":"IPv6","endpoints":[{"addresses":["fd00:244::9"]}],"ports":[{"port":8080,"protocol":"TCP"}]},
 {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo","annotations":{"socklb.io/enabled":"true"}}},
 {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}
]}
EOF
}
WEB_A='[{"addresses":["10.244.1.30"]},{"addresses":["10.244.2.31"]}]'
WEB_B='[{"addresses":["10.244.1.30"]},{"addresses":["10.244.2.31"],"conditions":{"ready":false}},{"addresses":["10.244.3.32"]}]'
WEB_C='[{"addresses":["10.244.3.33"]}]'
DNS_JSON='{"frontend":"10.96.0.10:53","protocol":"UDP","backends":["10.244.1.5:53","10.244.2.7:53"],"affinityTimeoutSeconds":0}'
expect_dump() { # expect_dump V4_BACKENDS_JSON
	printf '{"services":[%s,{"frontend":"10.96.0.20:80","protocol":"TCP","backends":%s,"affinityTimeoutSeconds":10800},{"frontend":"[fd00:96::20]:80","protocol":"TCP","backends":["[fd00:244::9]:8080"],"affinityTimeoutSeconds":10800}]}' \
		"$DNS_JSON" "$1"
}

services_json "$WEB_A" >"$SRC/services.json"
LOG1=$TL_TMP/syncd-small.log
start_daemon "$ROOT1" "$SRC/services.json" "$LOG1" --metrics-addr 127.0.0.1:0
PORT=$(tl_metrics_port "$LOG1")

EXPECT_A=$(expect_dump '["10.244.1.30:8080","10.244.2.31:8080"]')
tl_check "dump --json shows the file's frontends (v4, v6, affinity, sorted backends)" wait_until 3000 dump_is "$ROOT1" "$EXPECT_A"
tl_check "dump prints a table too" bash -c "'$SYNCD' dump --bpffs-root '$ROOT1' | grep -q '^10.96.0.10:53 .*UDP .*10.244.1.5:53,10.244.2.7:53'"
tl_check "namespace demo is published as opted in" bash -c "bpftool map dump pinned '$ROOT1/socklb_ns_v1' | grep -q demo"
tl_check "namespace kube-system is not opted in" bash -c "! bpftool map dump pinned '$ROOT1/socklb_ns_v1' | grep -q kube-system"

wait_until 2000 bash -c "curl -s -m 1 http://127.0.0.1:$PORT/healthz | grep -q ok"
tl_check "/healthz answers 200 after the first sync" grep -q status=200 <<<"$(http_get "$PORT" /healthz)"
METRICS=$(http_get "$PORT" /metrics)
for name in socklb_sync_proxy_rules_duration_seconds_bucket socklb_network_programming_duration_seconds_count \
	'socklb_services 3' 'socklb_backends 5' socklb_sync_errors_total socklb_last_error socklb_watch_restarts_total \
	'socklb_service_translated_total{frontend="10.96.0.10:53",protocol="UDP"} 0' \
	'socklb_service_no_backend_total{frontend="\[fd00:96::20\]:80",protocol="TCP"} 0'; do
	tl_check "/metrics has $name" grep -q -- "$name" <<<"$METRICS"
done

# Atomic rename, as kubectl, editors and config management write files.
services_json "$WEB_B" >"$SRC/.services.json.tmp"
mv "$SRC/.services.json.tmp" "$SRC/services.json"
EXPECT_B=$(expect_dump '["10.244.1.30:8080","10.244.3.32:8080"]')
if wait_until 1000 dump_is "$ROOT1" "$EXPECT_B"; then
	tl_ok "maps follow an atomic rename within 1 s"
else
	tl_not_ok "maps follow an atomic rename within 1 s"
fi
tl_diag "atomic rename -> maps: ${WAITED_MS} ms (polled)"

# In-place write.
services_json "$WEB_C" >"$SRC/services.json"
EXPECT_C=$(expect_dump '["10.244.3.33:8080"]')
if wait_until 1000 dump_is "$ROOT1" "$EXPECT_C"; then
	tl_ok "maps follow an in-place write within 1 s"
else
	tl_not_ok "maps follow an in-place write within 1 s"
fi
tl_diag "in-place write -> maps: ${WAITED_MS} ms (polled)"

# Bad JSON: an error naming the file and the position; the maps keep the last good state.
printf '{"apiVersion":"v1","kind":"List",\n"items":[{"kind":"Service",,]}\n' >"$SRC/services.json"
tl_check "bad JSON is reported with file and line" wait_until 1000 log_has "$LOG1" "services.json: invalid JSON at line 2"
sleep 0.2
tl_check "bad JSON keeps the previous state" dump_is "$ROOT1" "$EXPECT_C"
tl_check "the daemon survives bad JSON" kill -0 "$DAEMON_PID"
tl_check "/metrics counts the failed load" bash -c "curl -s http://127.0.0.1:$PORT/metrics | grep -q '^socklb_sync_errors_total [1-9]'"

# A service removed from the file leaves the maps.
services_json "$WEB_C" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["items"] = [i for i in d["items"] if i["metadata"].get("namespace") != "kube-system" or i["kind"] == "Namespace"]
json.dump(d, sys.stdout)' >"$SRC/.services.json.tmp"
mv "$SRC/.services.json.tmp" "$SRC/services.json"
EXPECT_D=$(expect_dump '["10.244.3.33:8080"]')
EXPECT_D=${EXPECT_D/"$DNS_JSON,"/}
tl_check "a removed service is deleted from the maps" wait_until 1000 dump_is "$ROOT1" "$EXPECT_D"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
tl_check "SIGTERM: exit status 0" test "$?" -eq 0
tl_check "SIGTERM leaves the maps in place" dump_is "$ROOT1" "$EXPECT_D"
tl_check "SIGTERM is logged" log_has "$LOG1" "the pinned maps stay as they are"

# ------------------------------------------------------------------- --once
ROOT2=$TL_BPFFS/once
services_json "$WEB_A" >"$TL_TMP/good.json"
tl_check "--once with a good file exits 0" "$SYNCD" --source "file:$TL_TMP/good.json" --bpffs-root "$ROOT2" --node-name n --once
tl_check "--once wrote the maps" dump_is "$ROOT2" "$EXPECT_A"
printf '{"kind":"List","items":[' >"$TL_TMP/bad.json"
"$SYNCD" --source "file:$TL_TMP/bad.json" --bpffs-root "$ROOT2" --node-name n --once 2>"$TL_TMP/once.log"
tl_check "--once with bad JSON exits 1" test "$?" -eq 1
tl_check "--once with bad JSON says where" log_has "$TL_TMP/once.log" "bad.json: invalid JSON at line 1"
tl_check "--once with bad JSON leaves the maps alone" dump_is "$ROOT2" "$EXPECT_A"
"$SYNCD" --source "file:$TL_TMP/missing.json" --bpffs-root "$ROOT2" --once 2>/dev/null
tl_check "--once with a missing file exits 1" test "$?" -eq 1
"$SYNCD" --source "file:$TL_TMP/good.json" --bogus 2>"$TL_TMP/usage.log"
tl_check "an unknown flag exits 2" test "$?" -eq 2
tl_check "an unknown flag prints the error and the usage" bash -c "grep -q 'unknown flag --bogus' '$TL_TMP/usage.log' && grep -q '^usage:' '$TL_TMP/usage.log'"
"$SYNCD" --source 2>/dev/null
tl_check "a flag without its value exits 2" test "$?" -eq 2
"$SYNCD" dump --bpffs-root "$TL_BPFFS/nothing-here" 2>"$TL_TMP/dump.log"
tl_check "dump of an empty root fails clearly" bash -c "test $? -eq 1 && grep -q 'no socklb maps are pinned' '$TL_TMP/dump.log'"

# A full map: the services that fit are written, each failure is logged, --once fails.
ROOT5=$TL_BPFFS/full
"${GEN[@]}" "$TL_TMP/full.json" 104 2
"$SYNCD" --source "file:$TL_TMP/full.json" --bpffs-root "$ROOT5" --node-name n --once --max-services 100 \
	--max-backends 1000 2>"$TL_TMP/full.log"
tl_check "--once with more services than the map holds exits 1" test "$?" -eq 1
tl_check "a full map is named in the error" log_has "$TL_TMP/full.log" "No space left on device (a pinned map is full)"
tl_check "each frontend that did not fit fails once" test "$(grep -c 'No space left' "$TL_TMP/full.log")" -eq 4
tl_check "every frontend that fits is written" test "$(frontends "$ROOT5")" -eq 100
"${GEN[@]}" "$TL_TMP/full.json" 100 2
tl_check "--once succeeds once the services fit" "$SYNCD" --source "file:$TL_TMP/full.json" --bpffs-root "$ROOT5" --node-name n --once
"$SYNCD" --source "file:$TL_TMP/full.json" --bpffs-root "$ROOT5" --node-name n --once --max-services 5 2>"$TL_TMP/full.log"
tl_check "map sizes of existing maps are kept, with a warning" log_has "$TL_TMP/full.log" "hold 100 frontends and 1000 backends"

# -------------------------------------------------------------------- scale
# 10,000 services; 1,000 on an emulated CPU (SOCKLB_EMULATED=1, qemu TCG),
# where each 10,000-service step takes minutes. SYNCD_SCALE_SERVICES sets it.
N=${SYNCD_SCALE_SERVICES:-10000}
if [ "${SOCKLB_EMULATED:-0}" = 1 ] && [ -z "${SYNCD_SCALE_SERVICES:-}" ]; then
	N=1000
	tl_diag "emulated CPU (SOCKLB_EMULATED=1): the scale part runs with $N services"
fi
E=10
BIG=$TL_TMP/big
mkdir -p "$BIG"
"${GEN[@]}" "$BIG/services.json" "$N" "$E" --namespace-optin

# check_scale ROOT [N E]: every frontend has E sorted backends, N frontends.
check_scale() {
	"$SYNCD" dump --bpffs-root "$1" --json | python3 -c '
import json, sys
n, e = int(sys.argv[1]), int(sys.argv[2])
s = json.load(sys.stdin)["services"]
assert len(s) == n, "%d frontends, want %d" % (len(s), n)
for x in s:
    assert len(x["backends"]) == e, x
' "${2:-$N}" "${3:-$E}"
}

ROOT3=$TL_BPFFS/scale
LOG3=$TL_TMP/syncd-scale.log
T0=$(now_ms)
start_daemon "$ROOT3" "$BIG" "$LOG3" --metrics-addr ""
if wait_until 120000 log_has "$LOG3" "initial sync done"; then
	tl_ok "initial sync of $N services x $E endpoints completes"
else
	tl_not_ok "initial sync of $N services x $E endpoints completes"
fi
T1=$(now_ms)
tl_check "all $N frontends with $E backends each are in the maps" check_scale "$ROOT3"
PASS_MS=$(grep -m1 -o 'sync: [0-9]* frontends written.* in [0-9.]* ms' "$LOG3" | grep -o '[0-9.]* ms$')
tl_diag "full sync, $N services x $E endpoints: ${PASS_MS:-?} (sync pass), $((T1 - T0)) ms from daemon start (file parse included)"
tl_diag "daemon RSS at $N x $E: $(awk '/VmRSS/ {print $2, $3}' "/proc/$DAEMON_PID/status") (peak while parsing: $(awk '/VmHWM/ {print $2, $3}' "/proc/$DAEMON_PID/status"))"

# One endpoint change -> map written: a small file beside the big one changes
# a service's endpoints; the daemon logs each sync pass right after its map
# writes, with a millisecond timestamp.
lat_json() { # lat_json ENDPOINT_COUNT
	python3 -c '
import json, sys
n = int(sys.argv[1])
print(json.dumps({"kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lat", "namespace": "bench"},
  "spec": {"clusterIP": "10.111.0.1", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
  "metadata": {"name": "lat-1", "namespace": "bench", "labels": {"kubernetes.io/service-name": "lat"}},
  "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
  "endpoints": [{"addresses": ["10.250.0.%d" % (i + 1)]} for i in range(n)]}]}))' "$1"
}
WROTE_ONE="sync: 1 frontends written, 0 deleted"

# time_changes LOG SAMPLES ROUNDS STAGE TARGET WRITE_CMD...: ROUNDS times, WRITE_CMD ROUND writes
# the next version of the file to STAGE, which is renamed over TARGET (atomic); "rename_ms
# map_written_ms" per change goes to SAMPLES.
time_changes() {
	local log=$1 samples=$2 rounds=$3 stage=$4 target=$5 i before t stamp
	shift 5
	: >"$samples"
	for i in $(seq 1 "$rounds"); do
		"$@" "$i" >"$stage"
		before=$(grep -c "$WROTE_ONE" "$log")
		t=$(now_ms)
		mv "$stage" "$target"
		if ! wait_until 5000 bash -c "[ \$(grep -c '$WROTE_ONE' '$log') -gt $before ]"; then
			break
		fi
		stamp=$(grep "$WROTE_ONE" "$log" | tail -1 | cut -d' ' -f1)
		echo "$t $(date -d "$stamp" +%s%3N)" >>"$samples"
	done
}

# report_changes SAMPLES LOG WHAT: p50/p99 of change -> map written and of the sync passes, as diagnostics.
report_changes() {
	python3 - "$@" "$N" <<'EOF' | while read -r line; do tl_diag "$line"; done
import re, sys
lat = sorted(int(b) - int(a) for a, b in (l.split() for l in open(sys.argv[1])))
passes = sorted(float(m) for m in re.findall(r"sync: 1 frontends written, 0 deleted, 0 failed \(1 services translated\) in ([0-9.]+) ms", open(sys.argv[2]).read()))
def pct(v, p):
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")
print("one endpoint change -> map written (file write to map write, %d samples, beside %s services, %s): p50 %d ms, p99 %d ms"
      % (len(lat), sys.argv[4], sys.argv[3], pct(lat, 50), pct(lat, 99)))
print("  of which the sync pass (store -> maps): p50 %.2f ms, p99 %.2f ms" % (pct(passes, 50), pct(passes, 99)))
EOF
}

lat_json 10 >"$BIG/.lat.tmp"
mv "$BIG/.lat.tmp" "$BIG/lat.json"
wait_until 2000 log_has "$LOG3" "$WROTE_ONE"
SAMPLES=$TL_TMP/latency.txt
lat_version() { lat_json $((9 + ($1 + 1) % 2)); }
time_changes "$LOG3" "$SAMPLES" 60 "$BIG/.lat.tmp" "$BIG/lat.json" lat_version
tl_check "every endpoint change reached the maps" test "$(wc -l <"$SAMPLES")" -eq 60
report_changes "$SAMPLES" "$LOG3" "a small file of the directory changes"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null

# The same with the whole cluster in one file: service 7's last endpoint
# turns not ready and ready again in the 26 MB file, which the daemon reads
# alone.
ONE=$TL_TMP/one
mkdir -p "$ONE" "$TL_TMP/one-stage"
rm -f "$BIG/lat.json"
cp "$BIG/services.json" "$ONE/ready.json"
"${GEN[@]}" "$ONE/changed.json" "$N" "$E" --namespace-optin --change 7
cp "$ONE/ready.json" "$ONE/cluster.json"
LOG6=$TL_TMP/syncd-onefile.log
start_daemon "$ROOT3" "$ONE/cluster.json" "$LOG6" --metrics-addr ""
tl_check "the daemon reads the whole cluster from one file" wait_until 120000 log_has "$LOG6" "initial sync done"
one_version() { if (($1 % 2)); then cat "$ONE/changed.json"; else cat "$ONE/ready.json"; fi; }
time_changes "$LOG6" "$SAMPLES" 60 "$TL_TMP/one-stage/cluster.json" "$ONE/cluster.json" one_version
tl_check "every endpoint change in the one file reached the maps" test "$(wc -l <"$SAMPLES")" -eq 60
tl_check "after the changes the maps hold the file's $N x $E" check_scale "$ROOT3"
report_changes "$SAMPLES" "$LOG6" "the whole cluster in one file, one item changes"
tl_diag "daemon RSS after those changes: $(awk '/VmRSS/ {print $2, $3}' "/proc/$DAEMON_PID/status") (peak: $(awk '/VmHWM/ {print $2, $3}' "/proc/$DAEMON_PID/status"))"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null

# kill -9 in the middle of a full sync, then restart: the maps converge and
# never lose what was already written. The syncer writes frontends in
# batches of 1,024 (core/syncer.c WRITE_BATCH): a sync of fewer has no
# middle to land in, so a smaller scale (an emulated CPU) restarts a
# cluster of its own, 4 batches of services with 2 endpoints each.
ROOT4=$TL_BPFFS/restart
rm -f "$BIG/lat.json"
RN=$N RE=$E RDIR=$BIG
if ((N < 4096)); then
	RN=4096 RE=2 RDIR=$TL_TMP/restart-cluster
	mkdir -p "$RDIR"
	"${GEN[@]}" "$RDIR/services.json" "$RN" "$RE" --namespace-optin
fi
LOG4=$TL_TMP/syncd-restart.log
FIFO=$TL_TMP/syncd-restart.fifo
mkfifo "$FIFO"
# Debug logs name every frontend written: the log reader freezes the daemon once a tenth are in.
tl_log_pause $((RN / 10)) "wrote frontend" "$TL_TMP/paused" <"$FIFO" >"$LOG4" &
READER=$!
TL_PIDS+=("$READER")
start_daemon "$ROOT4" "$RDIR" "$FIFO" --metrics-addr "" -v
tl_check "the daemon wrote $((RN / 10)) frontends" wait_until 60000 test -e "$TL_TMP/paused"
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
kill "$READER"
wait "$READER" 2>/dev/null
PARTIAL=$(frontends "$ROOT4")
tl_check "kill -9 landed in the middle of the sync: $PARTIAL of $RN frontends pinned" \
	bash -c "[ '$PARTIAL' -gt 0 ] && [ '$PARTIAL' -lt '$RN' ]"
T0=$(now_ms)
start_daemon "$ROOT4" "$RDIR" "$LOG4.2" --metrics-addr ""
MIN=$PARTIAL
while ! log_has "$LOG4.2" "initial sync done"; do
	c=$(frontends "$ROOT4" 2>/dev/null)
	[ -n "$c" ] && [ "$c" -lt "$MIN" ] && MIN=$c
	(($(now_ms) - T0 > 120000)) && break
done
tl_check "after the restart the maps converge to $RN x $RE" check_scale "$ROOT4" "$RN" "$RE"
tl_check "the restart never removed a frontend already written (min seen $MIN >= $PARTIAL)" test "$MIN" -ge "$PARTIAL"
tl_check "the restart adopted what was pinned" log_has "$LOG4.2" "adopted $PARTIAL pinned frontends"
tl_diag "restart -> converged: $(($(now_ms) - T0)) ms"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null

tl_finish

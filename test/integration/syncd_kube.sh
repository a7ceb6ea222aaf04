#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# socklb-syncd --source kubernetes against the test API server (test/apiserver/,
# HTTPS with a CA made here): the pinned maps converge through a paginated
# list, an expired continue token, events split across chunks, bookmarks,
# in-stream and HTTP 410, dropped connections and a 401 after token rotation;
# --once with an inline client certificate and --api-server. Root: real maps.
source "$(dirname "$0")/../lib.sh"
tl_init

APISERVER=$TL_ROOT/test/apiserver
FIXTURES=$TL_ROOT/test/fixtures/kube
SYNCD=$TL_BUILD/socklb-syncd
PORTS=$TL_TMP/ports
SYNCD_LOG=$TL_TMP/syncd.log
SYNCD_PID=

ctl() {
	python3 "$APISERVER/apictl.py" "$PORTS" "$@"
}

post() {
	ctl post "$@" >/dev/null
}

dump() {
	"$SYNCD" dump --json --bpffs-root "$TL_BPFFS"
}

# wait_maps EXPECTED: until the dump holds exactly EXPECTED (one "frontend protocol backend,backend…"
# per line, any order; a frontend without backends ends in a space), at most 10 s.
wait_maps() {
	local expected=$1 got i
	expected=$(printf '%s\n' "$expected" | sed '/^$/d' | sort)
	for i in $(seq 100); do
		got=$(dump 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    print("%s %s %s" % (s["frontend"], s["protocol"], ",".join(sorted(s["backends"]))))') || got="(no dump)"
		got=$(printf '%s\n' "$got" | sed '/^$/d' | sort)
		[ "$got" = "$expected" ] && return 0
		sleep 0.1
	done
	echo "expected:"
	printf '%s\n' "$expected"
	echo "pinned:"
	printf '%s\n' "$got"
	echo "daemon log:"
	tail -n 15 "$SYNCD_LOG"
	return 1
}

# count_requests PATH_SUBSTRING WATCH(true|false) STATUS(0 = any)
count_requests() {
	ctl get /requests | python3 -c '
import json, sys
path, watch, status = sys.argv[1], sys.argv[2] == "true", int(sys.argv[3])
print(sum(1 for r in json.load(sys.stdin)
          if path in r["path"] and (r["query"].get("watch") == "true") == watch
          and (not status or r.get("status") == status)))' "$1" "$2" "$3"
}

# last_watch_rv PATH: the resourceVersion the newest watch of PATH started from
last_watch_rv() {
	ctl get /requests | python3 -c '
import json, sys
rvs = [r["query"].get("resourceVersion") for r in json.load(sys.stdin)
       if sys.argv[1] in r["path"] and r["query"].get("watch") == "true"]
print(rvs[-1] if rvs else "")' "$1"
}

server_rv() {
	ctl get /state | python3 -c 'import json, sys; print(json.load(sys.stdin)["resourceVersion"])'
}

# wait_for DESCRIPTION CMD...: until CMD succeeds, at most 10 s
wait_for() {
	local i
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

equals() {
	[ "$("${@:2}")" = "$1" ]
}

at_least() {
	[ "$("${@:2}")" -ge "$1" ]
}

daemon_alive() {
	kill -0 "$SYNCD_PID" 2>/dev/null
}

# Changes the watch never delivers (as if compacted away): only a relist finds them.
silent_delete_db() {
	post "/delete/services?silent=1" '{"namespace":"default","name":"db"}'
	post "/delete/endpointslices?silent=1" '{"namespace":"default","name":"db-m2c8d"}'
}

# kubeconfig OUT USER_JSON [SERVER]: a JSON kubeconfig trusting our CA inline
kubeconfig() {
	python3 - "$1" "$2" "${3:-https://127.0.0.1:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$PORTS")}" "$TL_TMP/pki/ca.pem" <<'EOF'
import base64, json, sys
out, user, server, ca = sys.argv[1:5]
with open(ca, "rb") as f:
    ca_data = base64.b64encode(f.read()).decode()
json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "test", "preferences": {},
           "contexts": [{"name": "test", "context": {"cluster": "test", "user": "socklb-syncd"}}],
           "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
           "users": [{"name": "socklb-syncd", "user": json.loads(user)}]}, open(out, "w"), indent=1)
EOF
}

b64_file() {
	base64 -w0 "$1"
}

BASE="10.96.0.10:80 TCP 10.244.1.5:8080,10.244.2.7:8080
10.96.0.53:53 UDP 10.244.1.3:53
10.96.0.53:53 TCP 10.244.1.3:53
10.96.0.20:5432 TCP 10.244.2.9:5432"
NO_DB=$(printf '%s\n' "$BASE" | grep -v 10.96.0.20)

# --- the test API server -----------------------------------------------------
if ! bash "$APISERVER/gen-certs.sh" "$TL_TMP/pki"; then
	tl_not_ok "make the test CA and certificates"
	tl_finish
fi
echo token-1 >"$TL_TMP/token"
python3 "$APISERVER/apiserver.py" --cert "$TL_TMP/pki/server.pem" --key "$TL_TMP/pki/server.key" \
	--client-ca "$TL_TMP/pki/ca.pem" --token-file "$TL_TMP/token" --ports-file "$PORTS" \
	2>"$TL_TMP/apiserver.log" &
TL_PIDS+=($!)
if ! ctl wait-ports >/dev/null; then
	tl_not_ok "start the test API server"
	tl_finish
fi
for r in services endpointslices namespaces nodes; do
	post "/replace/$r" "@$FIXTURES/$r.json"
done

# --- --once: inline client certificate, --api-server over the kubeconfig's server ---
kubeconfig "$TL_TMP/cert.json" "{\"client-certificate-data\":\"$(b64_file "$TL_TMP/pki/client.pem")\",
	\"client-key-data\":\"$(b64_file "$TL_TMP/pki/client.key")\"}" "https://127.0.0.1:1"
api=https://127.0.0.1:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$PORTS")
tl_check "--once with client-certificate-data and --api-server syncs and exits 0" \
	timeout 60 "$SYNCD" --source kubernetes --kubeconfig "$TL_TMP/cert.json" --api-server "$api" \
	--node-name n1 --bpffs-root "$TL_BPFFS" --metrics-addr "" --once
tl_check "the maps hold the fixture's services (headless and other proxies' skipped)" wait_maps "$BASE"

# the maps start empty for the daemon: prove its own initial list fills them
post /replace/services '[]'
post /replace/endpointslices '[]'
tl_check "--once with no services empties the maps" timeout 60 "$SYNCD" --source kubernetes \
	--kubeconfig "$TL_TMP/cert.json" --api-server "$api" --node-name n1 --bpffs-root "$TL_BPFFS" \
	--metrics-addr "" --once
tl_check "the maps are empty" wait_maps ""
post /replace/services "@$FIXTURES/services.json"
post /replace/endpointslices "@$FIXTURES/endpointslices.json"

# --- the daemon: token file (rotates), inline CA ---------------------------------
kubeconfig "$TL_TMP/token.json" "{\"tokenFile\":\"$TL_TMP/token\"}"
post /page-cap '{"size":1}'
post /fail-continue '{"after":1}'
post /requests/clear
"$SYNCD" --source kubernetes --kubeconfig "$TL_TMP/token.json" --node-name n1 --bpffs-root "$TL_BPFFS" \
	--metrics-addr 127.0.0.1:0 2>"$SYNCD_LOG" &
SYNCD_PID=$!
TL_PIDS+=("$SYNCD_PID")
SYNCD_T0=$(date +%s)

tl_check "paginated initial list (1 item per page) converges" wait_maps "$BASE"
tl_check "the lists were paginated" at_least 3 count_requests /api/v1/services false 200
tl_check "an expired continue token (410) restarted the list" equals 1 count_requests /api false 410
post /page-cap '{"size":0}'
tl_check "the daemon watches every kind" ctl wait-watching

# events cut into 5-byte chunks, across and inside events
post /split '{"size":5}'
post /apply/endpointslices "$(python3 - "$FIXTURES/endpointslices.json" <<'EOF'
import json, sys
web = json.load(open(sys.argv[1]))[0]
web["endpoints"].append({"addresses": ["10.244.1.6"], "conditions": {"ready": True}, "nodeName": "n1"})
print(json.dumps(web))
EOF
)"
post /apply/services '{"metadata":{"name":"api","namespace":"default"},"spec":{"type":"ClusterIP",
	"clusterIP":"10.96.0.40","clusterIPs":["10.96.0.40"],"ports":[{"protocol":"TCP","port":443,"targetPort":6443}]}}'
post /apply/endpointslices '{"metadata":{"name":"api-1","namespace":"default","labels":
	{"kubernetes.io/service-name":"api"}},"addressType":"IPv4","endpoints":[{"addresses":["10.244.2.2"],
	"conditions":{"ready":true}}],"ports":[{"name":"","protocol":"TCP","port":6443}]}'
WITH_API="$(printf '%s\n' "$BASE" | sed 's/10.244.2.7:8080/10.244.1.6:8080,10.244.2.7:8080/')
10.96.0.40:443 TCP 10.244.2.2:6443"
tl_check "events split across 5-byte chunks converge" wait_maps "$WITH_API"
post /split '{"size":0}'

# --- kube-proxy's SLI metrics after changes -------------------------------------
METRICS_PORT=$(tl_metrics_port "$SYNCD_LOG")
metric() { # metric NAME: its value (NAME with its labels, exactly as exposed)
	curl -s -m 2 "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
# A Service with internalTrafficPolicy Local whose only endpoint is on another node, its slice stamped with
# the EndpointSlice controller's trigger time (now, RFC 3339 with nanoseconds).
post /apply/services '{"metadata":{"name":"node-local","namespace":"default"},"spec":{"type":"ClusterIP",
	"clusterIP":"10.96.0.50","clusterIPs":["10.96.0.50"],"internalTrafficPolicy":"Local",
	"ports":[{"protocol":"TCP","port":80,"targetPort":8080}]}}'
post /apply/endpointslices "{\"metadata\":{\"name\":\"node-local-1\",\"namespace\":\"default\",\"labels\":
	{\"kubernetes.io/service-name\":\"node-local\"},\"annotations\":{\"endpoints.kubernetes.io/last-change-trigger-time\":
	\"$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"10.244.2.50\"],
	\"conditions\":{\"ready\":true},\"nodeName\":\"n2\"}],\"ports\":[{\"name\":\"\",\"protocol\":\"TCP\",\"port\":8080}]}"
tl_check "a Local Service with only a remote endpoint gets no backend" wait_maps "$WITH_API
10.96.0.50:80 TCP "
NO_LOCAL='socklb_sync_proxy_rules_no_local_endpoints_total{traffic_policy="internal",ip_family="IPv4"}'
tl_check "the metrics server answers on the port it bound (127.0.0.1:0 -> ${METRICS_PORT:-none})" \
	test -n "$(metric socklb_services)"
tl_check "no_local_endpoints_total{internal,IPv4} counts it" wait_for equals 1 metric "$NO_LOCAL"
programmed() { [ "$(metric socklb_network_programming_duration_seconds_count)" -ge 1 ]; }
tl_check "network programming latency observed for the stamped slice" wait_for programmed
m_sum=$(metric socklb_network_programming_duration_seconds_sum)
m_le1=$(metric 'socklb_network_programming_duration_seconds_bucket{le="1"}')
m_ep=$(metric socklb_sync_proxy_rules_endpoint_changes_total)
m_svc=$(metric socklb_sync_proxy_rules_service_changes_total)
m_ep_pending=$(metric socklb_sync_proxy_rules_endpoint_changes_pending)
m_svc_pending=$(metric socklb_sync_proxy_rules_service_changes_pending)
m_last=$(metric socklb_sync_proxy_rules_last_timestamp_seconds)
m_queued=$(metric socklb_sync_proxy_rules_last_queued_timestamp_seconds)
m_syncs=$(metric socklb_sync_proxy_rules_duration_seconds_count)
tl_diag "programming: count 1 sum ${m_sum}s (le=1: $m_le1); endpoint changes ${m_ep} (pending ${m_ep_pending}); " \
	"service changes ${m_svc} (pending ${m_svc_pending}); syncs ${m_syncs}; last sync ${m_last}, last queued ${m_queued}"
tl_check "the programming latency is sane: within 1 s, in the le=\"1\" bucket ($m_sum s)" \
	bash -c '[ "$1" = 1 ] && awk -v s="$2" "BEGIN { exit !(s >= 0 && s < 1) }"' _ "$m_le1" "$m_sum"
# The fixtures' 3 slices + the updated web slice + api-1 + node-local-1 at least; 4 Services + api + node-local.
tl_check "endpoint changes total counts every slice event ($m_ep >= 6), none pending after the sync" \
	bash -c '[ "$1" -ge 6 ] && [ "$2" = 0 ]' _ "$m_ep" "$m_ep_pending"
tl_check "service changes total counts every Service event ($m_svc >= 5), none pending after the sync" \
	bash -c '[ "$1" -ge 5 ] && [ "$2" = 0 ]' _ "$m_svc" "$m_svc_pending"
tl_check "the last sync is after the daemon started, not before the last queued change" \
	awk -v l="$m_last" -v q="$m_queued" -v t0="$SYNCD_T0" -v now="$(date +%s)" \
	'BEGIN { exit !(l >= t0 && l <= now + 1 && q >= t0 && l >= q) }'
# Every family the Grafana dashboard queries is one the daemon exposes (socket termination's only where it runs).
dashboard_families_exposed() {
	local exposed family missing=""
	exposed=$(curl -s -m 2 "http://127.0.0.1:$METRICS_PORT/metrics" | awk '$1 == "#" && $2 == "TYPE" { print $3 }')
	for family in $(grep -o '"expr": "[^"]*' "$TL_ROOT/conf/grafana-socklb.json" | grep -o 'socklb_[a-z_]*' |
		sed -E 's/_(bucket|sum|count)$//' | sort -u); do
		grep -qx "$family" <<<"$exposed" && continue
		[ "$family" = socklb_service_sockets_destroyed_total ] &&
			[ "$(metric socklb_socket_termination_enabled)" = 0 ] && continue
		missing+=" $family"
	done
	[ -z "$missing" ] || { echo "not exposed:$missing"; return 1; }
}
tl_check "conf/grafana-socklb.json queries only metrics the daemon exposes" dashboard_families_exposed
post /delete/services '{"namespace":"default","name":"node-local"}'
post /delete/endpointslices '{"namespace":"default","name":"node-local-1"}'
tl_check "the Local Service leaves the maps" wait_maps "$WITH_API"
tl_check "no_local_endpoints_total goes back to 0" wait_for equals 0 metric "$NO_LOCAL"

# bookmarks: a change of another kind moves the resourceVersion, the bookmark tells the watcher
post /apply/namespaces '{"metadata":{"name":"team-a"}}'
rv=$(server_rv)
lists=$(count_requests /api/v1/services false 0)
post /bookmark '{"resource":"services"}'
sleep 0.3
post /drop '{"resource":"services"}'
tl_check "the re-watch after a bookmark starts from its resourceVersion ($rv)" \
	wait_for equals "$rv" last_watch_rv /api/v1/services
tl_check "a dropped watch resumes without a relist" equals "$lists" count_requests /api/v1/services false 0
ctl wait-watching >/dev/null

# in-stream ERROR 410: the relist finds what the watch never said (db deleted)
silent_delete_db
post /watch-error '{"resource":"services","code":410,"message":"too old resource version"}'
post /watch-error '{"resource":"endpointslices","code":410,"message":"too old resource version"}'
tl_check "in-stream ERROR 410 relists and deletes what was missed" wait_maps "$(printf '%s\n' "$WITH_API" | grep -v 10.96.0.20)"
ctl wait-watching >/dev/null

# HTTP 410: compacted away while the connection was down
post "/apply/services?silent=1" "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[2]))' "$FIXTURES/services.json")"
post "/apply/endpointslices?silent=1" "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[2]))' "$FIXTURES/endpointslices.json")"
post /compact '{"mode":"http"}'
post /drop '{}'
tl_check "HTTP 410 on re-watch relists and converges" wait_maps "$WITH_API"
tl_check "the server answered a watch with HTTP 410" at_least 1 count_requests /api true 410
ctl wait-watching >/dev/null

# a connection dropped in the middle of an event
post /drop '{"partial":true}'
post /delete/services '{"namespace":"default","name":"api"}'
post /delete/endpointslices '{"namespace":"default","name":"api-1"}'
tl_check "after a connection dropped mid-event the maps converge" \
	wait_maps "$(printf '%s\n' "$WITH_API" | grep -v 10.96.0.40)"
ctl wait-watching >/dev/null

# the projected token rotates: the old one gets 401, the daemon re-reads the file
echo token-2 >"$TL_TMP/token"
post /token '{"token":"token-2"}'
post /drop '{}'
post /replace/endpointslices "@$FIXTURES/endpointslices.json"
tl_check "after token rotation (401) the maps converge" wait_maps "$BASE"
tl_check "the API server refused the old token at least once" at_least 1 count_requests /api true 401
tl_check "the daemon logged the 401 without the token" \
	bash -c "grep -q '401 Unauthorized\|HTTP 401' '$SYNCD_LOG' && ! grep -q 'token-[12]' '$SYNCD_LOG'"
tl_check "the daemon is still running" daemon_alive

kill -TERM "$SYNCD_PID"
tl_check "the daemon stops promptly on SIGTERM" timeout 5 tail --pid="$SYNCD_PID" -f /dev/null
tl_check "the maps stay after SIGTERM" wait_maps "$BASE"
tl_finish

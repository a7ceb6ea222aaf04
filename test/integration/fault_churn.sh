#!/usr/bin/env bash
# Backend churn through the whole control plane (README.md invariant 1): a
# service's EndpointSlice goes 12 → 1 → 12 endpoints over and over (the file
# source, atomic renames, as fast as the daemon follows) while a client pod
# connects to the ClusterIP in a loop. All 12 backend pods stay up, so every
# connect must succeed: a connect may never see a half-written service.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SYNCD=$TL_BUILD/socklb-syncd
SRC=$TL_TMP/src
LOG=$TL_TMP/syncd.log
VIP=10.96.0.10
LOOP_MS=${FAULT_LOOP_MS:-20000}
N=12
mkdir -p "$SRC"

tl_pod client 10.244.0.2/24
for i in $(seq $N); do
	tl_pod web$i 10.244.0.$((10 + i))/24
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
done
tl_check "programs load, links attach to the client pod" bash -c \
	"'$CTL' load '$TL_BPFFS' && '$CTL' attach '$TL_BPFFS' '$(tl_pod_cgroup client)' client"

# write_endpoints N: the service with its first N backends, atomically.
write_endpoints() {
	local n=$1 i eps=""
	for i in $(seq "$n"); do
		eps+="${eps:+,}{\"addresses\": [\"10.244.0.$((10 + i))\"], \"conditions\": {\"ready\": true}}"
	done
	cat >"$SRC/.web.tmp" <<EOF
{"kind": "List", "apiVersion": "v1", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
  "spec": {"clusterIP": "$VIP", "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
  "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": [$eps]},
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}]}
EOF
	mv "$SRC/.web.tmp" "$SRC/web.json"
}
backends() {
	"$SYNCD" dump --bpffs-root "$TL_BPFFS" 2>/dev/null | awk -v v="$VIP:80" '$1 == v' | grep -o '10\.244\.0\.[0-9]*:8080' | wc -l
}
wait_backends() {
	local i
	for i in $(seq 200); do
		[ "$(backends)" = "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

write_endpoints $N
"$SYNCD" --source "file:$SRC" --bpffs-root "$TL_BPFFS" --node-name node-a --metrics-addr "" 2>"$LOG" &
TL_PIDS+=($!)
tl_check "the service has $N backends" wait_backends $N
for i in $(seq $N); do
	tl_wait_tcp client 10.244.0.$((10 + i)) 8080 || tl_not_ok "web$i did not start"
done

tl_loop_start client "$VIP" 80 "$LOOP_MS"
end=$(($(date +%s%3N) + LOOP_MS - 1000))
cycles=0
missed=0
while [ "$(date +%s%3N)" -lt "$end" ]; do
	write_endpoints 1
	wait_backends 1 || missed=$((missed + 1))
	write_endpoints $N
	wait_backends $N || missed=$((missed + 1))
	cycles=$((cycles + 1))
done
tl_diag "churn: $cycles cycles $N → 1 → $N ($((2 * cycles)) backend-set changes through the daemon, $missed not seen within 2 s)"
tl_check "the daemon followed every change" test "$missed" = 0
tl_loop_check "to live backends while the set churned"
tl_check "the service ends with its $N backends" wait_backends $N
tl_finish

#!/usr/bin/env bash
# make demo: one machine plays a Kubernetes node. Pods in network namespaces
# get their network from Debian's bridge plugin and socklb chained after it
# (through cnitool, as a runtime would call them); socklb-syncd reads
# Services and EndpointSlices from a JSON file; a client pod's connections to
# ClusterIPs reach the backend pods. Everything is removed at the end, also
# on Ctrl-C or failure.
set -euo pipefail
START=$(date +%s%N)
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/node.sh
source "$REPO/hack/node.sh"
PROBE=$NODE_BUILD/test/tools/slb-probe
SYNCD=$NODE_BUILD/socklb-syncd

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo needs root (network namespaces, cgroups, BPF)" >&2
	exit 1
fi

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

# show WHAT TEXT REGEXP: print TEXT; the demo fails at the end unless every
# line of TEXT matches REGEXP, i.e. if what it shows is not what it says.
FAILED=()
show() {
	printf '%s\n' "$2" | sed 's/^/   /'
	[ -n "$2" ] && ! grep -Evq -- "$3" <<<"$2" && return 0
	say "!! not as described: $1"
	FAILED+=("$1")
}

cleanup() {
	local rc=$?
	set +e
	[ -n "${TRACE_PID:-}" ] && kill "$TRACE_PID" 2>/dev/null && wait "$TRACE_PID" 2>/dev/null
	[ -n "${SYNCD_PID:-}" ] && kill "$SYNCD_PID" 2>/dev/null && wait "$SYNCD_PID" 2>/dev/null
	node_cleanup
	printf '\nCleaned up. The demo took %d.%01d s.\n' $((($(date +%s%N) - START) / 1000000000)) \
		$((($(date +%s%N) - START) / 100000000 % 10))
	if [ "$rc" -eq 0 ] && [ ${#FAILED[@]} -gt 0 ]; then
		printf 'The demo did not show what it says (%d): %s\n' ${#FAILED[@]} "$(IFS=';'; echo "${FAILED[*]}")" >&2
		exit 1
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ID=demo$$
bold "A private node: bpffs root, kubelet-style cgroups, conflist [bridge + host-local, socklb]"
node_init "$ID" 10.244.$((RANDOM % 200 + 20)) '"namespaces": ["demo"]'
say "bpffs root    $NODE_BPFFS"
say "cgroup root   $NODE_CG"
say "conflist      $NODE_TMP/net.d/10-$NODE_NET.conflist"
say "cnitool       $CNITOOL"

bold "Pods, added through cnitool with CNI_ARGS and CAP_ARGS (cgroupPath, pod annotations)"
for p in web-1 web-2 web-3; do node_pod "$p" demo burstable ""; done
for p in dns-1 dns-2; do node_pod "$p" demo besteffort ""; done
node_pod client demo burstable ""
node_pod outsider demo besteffort false
for p in "${NODE_PODS[@]}"; do
	say "$(printf '%-9s %-15s %s' "$p" "$(node_pod_ip "$p")" "$(node_pod_cgroup "$p" | sed "s|$NODE_CG||")")"
done
say "socklb attachments: $(ls "$NODE_BPFFS/links" | wc -l) pods linked (the 'outsider' pod said socklb.io/enabled=false)"
for p in web-1 web-2 web-3; do node_bg "$p" "$PROBE" server tcp 0.0.0.0 8080 "$p"; done
for p in dns-1 dns-2; do node_bg "$p" "$PROBE" server udp 0.0.0.0 5353 "$p"; done

# Real-format objects, as `kubectl get svc,endpointslices -A -o json` prints them.
endpoints() {
	local first=1 p
	for p in "$@"; do
		[ $first = 1 ] || printf ','
		first=0
		printf '{"addresses":["%s"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"demo-node","targetRef":{"kind":"Pod","namespace":"demo","name":"%s"}}' \
			"$(node_pod_ip "$p")" "$p"
	done
}
service() { # name ip port proto target affinity
	local aff='"sessionAffinity":"None"'
	[ "$6" = yes ] && aff='"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10800}}'
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"demo","uid":"%s"},"spec":{"type":"ClusterIP","clusterIP":"%s","clusterIPs":["%s"],"ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","ports":[{"name":"p","port":%s,"protocol":"%s","targetPort":%s}],%s}}' \
		"$1" "$(cat /proc/sys/kernel/random/uuid)" "$2" "$2" "$3" "$4" "$5" "$aff"
}
slice() { # service proto port endpoints...
	local svc=$1 proto=$2 port=$3
	shift 3
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-x1","namespace":"demo","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[{"name":"p","port":%s,"protocol":"%s"}],"endpoints":[%s]}' \
		"$svc" "$svc" "$port" "$proto" "$(endpoints "$@")"
}
write_cluster() { # web backends...
	{
		printf '{"apiVersion":"v1","kind":"List","items":[\n'
		printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}},\n'
		service web 10.96.0.10 80 TCP 8080 no
		printf ',\n'
		slice web TCP 8080 "$@"
		printf ',\n'
		service web-sticky 10.96.0.20 80 TCP 8080 yes
		printf ',\n'
		slice web-sticky TCP 8080 web-1 web-2 web-3
		printf ',\n'
		service dns 10.96.0.53 53 UDP 5353 no
		printf ',\n'
		slice dns UDP 5353 dns-1 dns-2
		printf ',\n'
		service empty 10.96.0.30 80 TCP 8080 no
		printf '\n]}\n'
	} >"$NODE_TMP/cluster.json.tmp"
	mv "$NODE_TMP/cluster.json.tmp" "$NODE_TMP/cluster.json"
}

bold "socklb-syncd, fed from a JSON file of Services and EndpointSlices"
write_cluster web-1 web-2 web-3
"$SYNCD" --source "file:$NODE_TMP/cluster.json" --bpffs-root "$NODE_BPFFS" --node-name demo-node \
	--metrics-addr "" >"$NODE_TMP/syncd.log" 2>&1 &
SYNCD_PID=$!
for _ in $(seq 50); do
	"$SYNCD" dump --bpffs-root "$NODE_BPFFS" 2>/dev/null | grep -q 10.96.0.30 && break
	sleep 0.1
done
say "services: web 10.96.0.10:80/TCP, web-sticky 10.96.0.20:80/TCP (ClientIP affinity),"
say "          dns 10.96.0.53:53/UDP, empty 10.96.0.30:80/TCP (no endpoints)"
"$SYNCD" dump --bpffs-root "$NODE_BPFFS" | sed 's/^/   /'

spread() { # pod vip port count
	node_run "$1" "$PROBE" spread "$2" "$3" "$4" | sort |
		awk '$1 == "errors" { e = $2; next } { printf "%s=%s  ", $1, $2 } END { printf "errors=%s\n", e }'
}

bold "The client pod connects 300 times to web 10.96.0.10:80: the connections spread over 3 backends"
show "300 connects reach all 3 web backends" "$(spread client 10.96.0.10 80 300)" \
	'^web-1=[0-9]+  web-2=[0-9]+  web-3=[0-9]+  errors=0$'

bold "What the application sees: getpeername() is the ClusterIP, not the pod it reached"
show "getpeername is the ClusterIP" "$(node_run client "$PROBE" tcp 10.96.0.10 80 3)" \
	'^reply web-[123] peer 10\.96\.0\.10:80$'

bold "UDP to dns 10.96.0.53:53: replies arrive from the ClusterIP"
say "unconnected socket (sendto/recvfrom):"
show "unconnected UDP replies come from the ClusterIP" "$(node_run client "$PROBE" udp 10.96.0.53 53 3)" \
	'^reply dns-[12] from 10\.96\.0\.53:53$'
say "connected socket (connect/send/recv):"
show "connected UDP: source and peer are the ClusterIP" "$(node_run client "$PROBE" udpc 10.96.0.53 53 2)" \
	'^reply dns-[12] from 10\.96\.0\.53:53 peer 10\.96\.0\.53:53$'

bold "sessionAffinity: ClientIP on web-sticky 10.96.0.20:80 pins the client pod to one backend"
show "affinity: 50 connects, one backend" "$(spread client 10.96.0.20 80 50)" '^web-[123]=50  errors=0$'

bold "A service without endpoints: connect fails at once with ECONNREFUSED (as kube-proxy's REJECT)"
show "no endpoints: ECONNREFUSED" "$(node_run client "$PROBE" tcp 10.96.0.30 80 || true)" '^error ECONNREFUSED$'

bold "The 'outsider' pod opted out (socklb.io/enabled=false): its connect is not translated"
show "the opted-out pod is not translated" "$(node_run outsider "$PROBE" tcp 10.96.0.10 80 || true)" '^error '
say "(the VIP range is unreachable in the pod)"

follow() { # expected-names-pattern
	local t0=$1 pattern=$2 out
	for _ in $(seq 100); do
		out=$(spread client 10.96.0.10 80 20)
		if [[ "$out" =~ $pattern ]]; then
			say "$out"
			say "traffic had followed when checked $(((($(date +%s%N) - t0) / 1000000))) ms after the file was written"
			say "(one check = 20 connects from the pod, about 40 ms; the daemon's own part is a few ms)"
			return 0
		fi
		sleep 0.01
	done
	show "traffic follows the endpoint change" "$out" "$pattern"
	say "traffic had not followed $(((($(date +%s%N) - t0) / 1000000))) ms after the file was written"
}

bold "Scale web to 1 endpoint: edit the JSON file (atomic rename); the daemon reloads it"
t0=$(date +%s%N)
write_cluster web-1
follow "$t0" '^web-1=20  errors=0$'

bold "And back to 3 endpoints"
t0=$(date +%s%N)
write_cluster web-1 web-2 web-3
follow "$t0" 'web-2=.*web-3=.*errors=0$'
show "300 connects reach all 3 web backends again" "$(spread client 10.96.0.10 80 300)" \
	'^web-1=[0-9]+  web-2=[0-9]+  web-3=[0-9]+  errors=0$'

bold "socklb-syncd trace: which backend each connection gets, and why, as it happens"
say "(tracing is on only while a tracer runs; here it stops after 6 events)"
"$SYNCD" trace --bpffs-root "$NODE_BPFFS" --pod "$(node_pod_uid client)" --count 6 >"$NODE_TMP/trace.out" \
	2>"$NODE_TMP/trace.err" &
TRACE_PID=$!
# Until the tracer has seen its 6 events (it turns tracing on a few ms after it starts).
for _ in $(seq 50); do
	kill -0 "$TRACE_PID" 2>/dev/null || break
	node_run client "$PROBE" tcp 10.96.0.10 80 1 >/dev/null
	node_run client "$PROBE" udp 10.96.0.53 53 1 >/dev/null
	sleep 0.1
done
wait "$TRACE_PID" 2>/dev/null || true
TRACE_PID=
show "trace shows the client's connects and datagrams, each with its backend and verdict" \
	"$(cat "$NODE_TMP/trace.out")" \
	'^TIME +HOOK|^[0-9:.]+ +(connect|getpeername) +TCP +10\.96\.0\.10:80 +10\.244\.[0-9.]+:8080 +(translated|reverse-translated) +([0-9]+/slb-probe|-) +[0-9a-f-]+ |^[0-9:.]+ +(sendmsg|recvmsg) +UDP +10\.96\.0\.53:53 +10\.244\.[0-9.]+:5353 +(translated|reverse-translated|sticky-udp) +([0-9]+/slb-probe|-) +[0-9a-f-]+ '

bold "socklb-syncd dump (reads the pinned maps; the daemon need not run)"
"$SYNCD" dump --bpffs-root "$NODE_BPFFS" | sed 's/^/   /'
say ""
say "and as JSON:"
"$SYNCD" dump --bpffs-root "$NODE_BPFFS" --json | sed 's/^/   /'

#!/usr/bin/env bash
# Two nodes on one machine: two bpffs roots, two cgroup subtrees, two
# socklb-syncd (--node-name node-a in zone-a, node-b in zone-b) reading one
# file, a client pod on each node whose cgroup is linked to its node's
# programs, backend pods "on" four nodes (only the addresses and nodeName say
# where). Each node's pods go to its own endpoints under
# internalTrafficPolicy: Local, PreferSameNode (hints.forNodes) and zone hints
# (hints.forZones), and fall back as kube-proxy does when those go away:
# Local to this node's serving-terminating endpoints, then refused;
# PreferSameNode to the zone, then to every endpoint; the zone to every
# endpoint; with none ready anywhere, to the serving-terminating ones. A pod
# reaches a NodePort on its node's InternalIP, an externalIP and a
# LoadBalancer ingress IP; an ingress with ipMode: Proxy is left alone.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

SYNCD=$TL_BUILD/socklb-syncd
P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SRC=$TL_TMP/cluster.json
declare -A ROOT=([node-a]=$TL_BPFFS/node-a [node-b]=$TL_BPFFS/node-b)
declare -A NODE_OF=([cli-a]=node-a [cli-b]=node-b)
# Backend pods: address, node, zone. node-c and node-d run no daemon here.
declare -A ADDR=([srv-a]=10.244.0.11 [srv-b]=10.244.0.12 [srv-c]=10.244.0.13 [srv-d]=10.244.0.14)
PODS_JSON='{"srv-a": ["10.244.0.11", "node-a", "zone-a"], "srv-b": ["10.244.0.12", "node-b", "zone-b"],
	"srv-c": ["10.244.0.13", "node-c", "zone-a"], "srv-d": ["10.244.0.14", "node-d", "zone-b"]}'

TL_POD_PARENT=node-a tl_pod cli-a 10.244.0.2/24
TL_POD_PARENT=node-b tl_pod cli-b 10.244.0.3/24
for s in srv-a srv-b srv-c srv-d; do
	tl_pod "$s" "${ADDR[$s]}/24"
	tl_bg_in_pod "$s" "$P" server tcp 0.0.0.0 8080 "$s"
done

# ---------------------------------------------------------------- the cluster
# Endpoints of each Service: "srv-x" ready, "srv-x:terminating" (serving,
# terminating: a pod in its graceful shutdown), "srv-x:unready" (neither).
LOCAL="srv-a srv-b srv-c"
SAME_NODE="srv-a srv-b srv-c srv-d"
ZONE="srv-a srv-b srv-c srv-d"
EXT="srv-a srv-b"
PROXY="srv-b"
# write_cluster: Nodes, Services and EndpointSlices as kubectl prints them, renamed into place.
write_cluster() {
	python3 - "$SRC" "$PODS_JSON" "$LOCAL" "$SAME_NODE" "$ZONE" "$EXT" "$PROXY" <<'EOF'
import json, os, sys

out, pods = sys.argv[1], json.loads(sys.argv[2])
specs = dict(zip(["local", "same-node", "zone", "ext", "proxy-lb"], sys.argv[3:]))
STATES = {"ready": (True, True, False), "terminating": (False, True, True), "unready": (False, False, False)}

def node(name, zone, ip):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}

def service(name, ip, spec=None, status=None):
    s = {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
         "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}
    s.update(spec or {})
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "demo"}, "spec": s}
    if status:
        svc["status"] = status
    return svc

def endpoint_slice(svc, hints):
    eps = []
    for spec in specs[svc].split():
        pod, _, state = spec.partition(":")
        ip, node_name, zone = pods[pod]
        ready, serving, terminating = STATES[state or "ready"]
        ep = {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
              "nodeName": node_name, "zone": zone, "targetRef": {"kind": "Pod", "namespace": "demo", "name": pod}}
        # What the EndpointSlice controller publishes for PreferSameNode (node, and zone as its
        # fallback) and for PreferSameZone / PreferClose (zone).
        if hints == "node":
            ep["hints"] = {"forNodes": [{"name": node_name}], "forZones": [{"name": zone}]}
        elif hints == "zone":
            ep["hints"] = {"forZones": [{"name": zone}]}
        eps.append(ep)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": svc + "-1", "namespace": "demo", "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": eps,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}

items = [
    node("node-a", "zone-a", "192.0.2.1"),
    node("node-b", "zone-b", "192.0.2.2"),
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
    service("local", "10.96.0.1", {"internalTrafficPolicy": "Local"}),
    endpoint_slice("local", None),
    service("same-node", "10.96.0.2", {"trafficDistribution": "PreferSameNode"}),
    endpoint_slice("same-node", "node"),
    service("zone", "10.96.0.3", {"trafficDistribution": "PreferClose"}),
    endpoint_slice("zone", "zone"),
    service("ext", "10.96.0.4", {"type": "LoadBalancer", "externalIPs": ["198.51.100.4"],
                                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080,
                                            "nodePort": 30080}]},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.4", "ipMode": "VIP"}]}}),
    endpoint_slice("ext", None),
    service("proxy-lb", "10.96.0.5", {"type": "LoadBalancer",
                                      "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080,
                                                 "nodePort": 30081}]},
            {"loadBalancer": {"ingress": [{"ip": "203.0.113.5", "ipMode": "Proxy"}]}}),
    endpoint_slice("proxy-lb", None),
]
with open(out + ".tmp", "w") as f:
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f, indent=1)
os.rename(out + ".tmp", out)
EOF
}

# -------------------------------------------------------------------- checks
# backends NODE FRONTEND: the backend addresses in NODE's maps, sorted; "-" when the frontend is absent.
backends() {
	"$SYNCD" dump --bpffs-root "${ROOT[$1]}" --json 2>/dev/null | python3 -c '
import json, sys
found = [s for s in json.load(sys.stdin)["services"] if s["frontend"] == sys.argv[1] and s["protocol"] == "TCP"]
print(" ".join(sorted(b.rsplit(":", 1)[0] for b in found[0]["backends"])) if found else "-")' "$2"
}
# addresses NAMES...: their addresses, sorted as backends prints them.
addresses() {
	local n
	for n; do echo "${ADDR[$n]}"; done | sort | tr '\n' ' ' | sed 's/ $//'
}
# settles NODE FRONTEND WANT: NODE's maps show WANT within 3 s.
settles() {
	for _ in $(seq 300); do
		[ "$(backends "$1" "$2")" = "$3" ] && return 0
		sleep 0.01
	done
	echo "$1's maps: $2 -> \"$(backends "$1" "$2")\", want \"$3\""
	return 1
}
# reaches POD ADDR PORT NAMES...: the pod's node maps ADDR:PORT to exactly
# NAMES, and 40 connects from the pod reach every one of them and nothing else.
reaches() {
	local pod=$1 addr=$2 port=$3 got
	shift 3
	settles "${NODE_OF[$pod]}" "$addr:$port" "$(addresses "$@")" || return 1
	got=$(tl_in_pod "$pod" "$P" spread "$addr" "$port" 40)
	if [ "$(awk '$1 != "errors" { print $1 }' <<<"$got" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ] &&
		grep -qx "errors 0" <<<"$got"; then
		return 0
	fi
	echo "$pod -> $addr:$port: $(tr '\n' ' ' <<<"$got"), want $*"
	return 1
}
# refused POD ADDR PORT: the frontend has no backend on the pod's node: connects are refused at once.
refused() {
	local out
	settles "${NODE_OF[$1]}" "$2:$3" "" || return 1
	out=$(tl_in_pod "$1" "$P" tcp "$2" "$3")
	[ "$out" = "error ECONNREFUSED" ] || {
		echo "$1 -> $2:$3: $out"
		return 1
	}
}
# untouched POD ADDR PORT: not a frontend on the pod's node: the connect is not translated
# and finds no route out of the pod.
untouched() {
	local out
	settles "${NODE_OF[$1]}" "$2:$3" - || return 1
	out=$(tl_in_pod "$1" "$P" tcp "$2" "$3")
	[ "$out" = "error ENETUNREACH" ] || {
		echo "$1 -> $2:$3: $out"
		return 1
	}
}

# ------------------------------------------------------------ two nodes up
write_cluster
for n in node-a node-b; do
	"$SYNCD" --source "file:$SRC" --bpffs-root "${ROOT[$n]}" --node-name "$n" --metrics-addr "" \
		2>"$TL_TMP/syncd-$n.log" &
	TL_PIDS+=($!)
done
for n in node-a node-b; do
	tl_check "$n: socklb-syncd writes its maps" settles "$n" 10.96.0.4:80 "$(addresses srv-a srv-b)"
	tl_check "$n: programs load under its root, beside its daemon's maps" "$CTL" load "${ROOT[$n]}"
done
for c in cli-a cli-b; do
	tl_check "$c: links attach to its cgroup in ${NODE_OF[$c]}'s subtree" \
		"$CTL" attach "${ROOT[${NODE_OF[$c]}]}" "$(tl_pod_cgroup "$c")" "$c"
done
for s in srv-a srv-b srv-c srv-d; do
	tl_wait_tcp cli-a "${ADDR[$s]}" 8080 || tl_not_ok "backend $s did not start"
done

tl_check "Local: node-a's pod reaches node-a's endpoint only" reaches cli-a 10.96.0.1 80 srv-a
tl_check "Local: node-b's pod reaches node-b's endpoint only" reaches cli-b 10.96.0.1 80 srv-b
tl_check "PreferSameNode: node-a's pod reaches the endpoint hinted for node-a" reaches cli-a 10.96.0.2 80 srv-a
tl_check "PreferSameNode: node-b's pod reaches the endpoint hinted for node-b" reaches cli-b 10.96.0.2 80 srv-b
tl_check "zone hints: node-a's pod reaches zone-a's endpoints" reaches cli-a 10.96.0.3 80 srv-a srv-c
tl_check "zone hints: node-b's pod reaches zone-b's endpoints" reaches cli-b 10.96.0.3 80 srv-b srv-d

tl_check "NodePort on node-a's InternalIP from node-a's pod" reaches cli-a 192.0.2.1 30080 srv-a srv-b
tl_check "NodePort on node-b's InternalIP from node-b's pod" reaches cli-b 192.0.2.2 30080 srv-a srv-b
tl_check "node-a programs node ports on its own addresses only (not node-b's)" settles node-a 192.0.2.2:30080 -
tl_check "externalIP from node-a's pod" reaches cli-a 198.51.100.4 80 srv-a srv-b
tl_check "LoadBalancer ingress IP (ipMode VIP) from node-b's pod" reaches cli-b 203.0.113.4 80 srv-a srv-b
tl_check "LoadBalancer ingress with ipMode Proxy: left alone (the load balancer must see the traffic)" \
	untouched cli-a 203.0.113.5 80
tl_check "... the same Service's cluster IP is translated" reaches cli-a 10.96.0.5 80 srv-b
tl_check "... and its node port" reaches cli-b 192.0.2.2 30081 srv-b

# --------------------------------------------- node-a's endpoint terminates
LOCAL="srv-a:terminating srv-b srv-c"
SAME_NODE="srv-a:terminating srv-b srv-c srv-d"
ZONE="srv-a:terminating srv-b srv-c srv-d"
write_cluster
tl_check "Local, node-a's endpoint serving-terminating: node-a's pod still goes to it, not to a remote ready one" \
	reaches cli-a 10.96.0.1 80 srv-a
tl_check "Local: node-b's pod unaffected" reaches cli-b 10.96.0.1 80 srv-b
tl_check "PreferSameNode, no ready endpoint hinted for node-a: zone-a's (node-c)" reaches cli-a 10.96.0.2 80 srv-c
tl_check "PreferSameNode: node-b's pod unaffected" reaches cli-b 10.96.0.2 80 srv-b
tl_check "zone hints: zone-a's ready endpoint left (node-c)" reaches cli-a 10.96.0.3 80 srv-c
tl_check "zone hints: node-b's pod unaffected" reaches cli-b 10.96.0.3 80 srv-b srv-d

# --------------------------------------------------- and leaves; zone-a too
LOCAL="srv-b srv-c"
SAME_NODE="srv-b srv-c:terminating srv-d"
ZONE="srv-b srv-c:unready srv-d"
write_cluster
tl_check "Local, no endpoint on node-a: node-a's pod is refused, never sent to a remote one" refused cli-a 10.96.0.1 80
tl_check "Local: node-b's pod still reaches its own" reaches cli-b 10.96.0.1 80 srv-b
tl_check "PreferSameNode, none for node-a nor zone-a: every ready endpoint" reaches cli-a 10.96.0.2 80 srv-b srv-d
tl_check "zone hints, none ready for zone-a: every ready endpoint" reaches cli-a 10.96.0.3 80 srv-b srv-d
tl_check "zone hints: node-b's pod keeps zone-b's" reaches cli-b 10.96.0.3 80 srv-b srv-d

# ------------------------------------------ nothing ready anywhere any more
LOCAL="srv-b:terminating srv-c"
SAME_NODE="srv-b:terminating srv-c:terminating srv-d:terminating"
ZONE="srv-b:terminating srv-c:unready srv-d:terminating"
write_cluster
tl_check "Local: node-b's pod falls back to its own serving-terminating endpoint" reaches cli-b 10.96.0.1 80 srv-b
tl_check "Local: node-a's pod still refused" refused cli-a 10.96.0.1 80
tl_check "PreferSameNode, none ready: every serving-terminating endpoint, hints ignored (node-a)" \
	reaches cli-a 10.96.0.2 80 srv-b srv-c srv-d
tl_check "PreferSameNode, none ready: the same from node-b" reaches cli-b 10.96.0.2 80 srv-b srv-c srv-d
tl_check "zone hints, none ready: every serving-terminating endpoint (node-a)" reaches cli-a 10.96.0.3 80 srv-b srv-d

# ------------------------------------------------------------- and back
LOCAL="srv-a srv-b srv-c"
SAME_NODE="srv-a srv-b srv-c srv-d"
ZONE="srv-a srv-b srv-c srv-d"
write_cluster
tl_check "back: Local sends node-a's pod to node-a's endpoint again" reaches cli-a 10.96.0.1 80 srv-a
tl_check "back: PreferSameNode too" reaches cli-a 10.96.0.2 80 srv-a
tl_check "back: zone hints too" reaches cli-a 10.96.0.3 80 srv-a srv-c
tl_check "neither daemon failed a write nor found an invalid object" \
	bash -c "! grep -hE ', [1-9][0-9]* failed|invalid (Service|EndpointSlice)' '$TL_TMP/syncd-node-a.log' '$TL_TMP/syncd-node-b.log'"
tl_check "... and each wrote some (the check above reads the right logs)" \
	bash -c "grep -q ', 0 failed' '$TL_TMP/syncd-node-a.log' && grep -q ', 0 failed' '$TL_TMP/syncd-node-b.log'"

tl_finish

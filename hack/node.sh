#!/usr/bin/env bash
# A private, single-machine "node" for the demo, the CNI tests and the
# benchmark: its own bpffs root, kubelet-style cgroup subtree, CNI conflist
# (Debian's bridge + host-local, then socklb) and pods made the way a runtime
# makes them (netns, pod cgroup, cnitool add with CNI_ARGS and CAP_ARGS).
# Everything is named after NODE_ID and removed by node_cleanup.
#
#   source hack/node.sh
#   node_init ID SUBNET_PREFIX [EXTRA_SOCKLB_JSON]   e.g. node_init demo1 10.244.7 '"namespaces":["demo"]'
#   node_pod NAME NAMESPACE QOS OPT_IN               QOS: besteffort|burstable|guaranteed; OPT_IN: true|false|""
#   node_run POD cmd...    run in the pod (joins its cgroup, then its netns)
#   node_bg POD cmd...     same, in the background; killed by node_cleanup
#   node_pod_ip POD
#   node_cleanup           cnitool del for every pod, then remove everything

NODE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_BUILD=${BUILD:-$NODE_REPO/build}
case "$NODE_BUILD" in /*) ;; *) NODE_BUILD=$NODE_REPO/$NODE_BUILD ;; esac
NODE_VIP_RANGE=10.96.0.0/12
NODE_PODS=()
NODE_PIDS=()
declare -gA NODE_POD_CG=() NODE_POD_ARGS=() NODE_POD_CAPS=()

node_cgroup2_mount() {
	awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

node_init() {
	NODE_ID=$1
	NODE_SUBNET=$2
	local extra=${3:-}
	[ -n "$extra" ] && extra=",$extra"
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf || return 1
	fi
	NODE_TMP=$(mktemp -d "/tmp/socklb-node-$NODE_ID.XXXX")
	NODE_BPFFS=/sys/fs/bpf/socklb-$NODE_ID
	NODE_CGROOT=$(node_cgroup2_mount)
	[ -n "$NODE_CGROOT" ] || { echo "node: cgroup v2 is not mounted" >&2; return 1; }
	NODE_CG=$NODE_CGROOT/socklb-$NODE_ID
	NODE_BRIDGE=slb${NODE_ID:0:10}
	NODE_NET=socklb-$NODE_ID
	mkdir -p "$NODE_CG" "$NODE_TMP/net.d" "$NODE_TMP/bin"
	CNITOOL=$(bash "$NODE_REPO/hack/build-cnitool.sh") || return 1
	# The standard plugins and ours, side by side, as a node's CNI bin dir.
	ln -s /usr/lib/cni/bridge /usr/lib/cni/host-local "$NODE_TMP/bin/"
	ln -s "$NODE_BUILD/socklb" "$NODE_TMP/bin/socklb"
	cat >"$NODE_TMP/net.d/10-$NODE_NET.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$NODE_NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_TMP/ipam",
        "ranges": [[{ "subnet": "$NODE_SUBNET.0/24" }]]
      }
    },
    {
      "type": "socklb",
      "bpffsRoot": "$NODE_BPFFS",
      "cgroupRoot": "$NODE_CG",
      "logFile": "$NODE_TMP/socklb-cni.log",
      "attachFailuresFile": "$NODE_TMP/attach-failures",
      "capabilities": { "cgroupPath": true, "io.kubernetes.cri.pod-annotations": true }$extra
    }
  ]
}
JSON
}

# kubelet's systemd-driver names: kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice
node_pod_cgroup_path() {
	local qos=$1 uid=$2 u=${2//-/_}
	if [ "$qos" = guaranteed ]; then
		echo "/kubepods.slice/kubepods-pod$u.slice"
	else
		echo "/kubepods.slice/kubepods-$qos.slice/kubepods-$qos-pod$u.slice"
	fi
}

node_pod() {
	local name=$1 ns=$2 qos=$3 optin=$4 uid cgpath annotations netns=socklb-$NODE_ID-$1
	uid=$(cat /proc/sys/kernel/random/uuid)
	cgpath=$(node_pod_cgroup_path "$qos" "$uid")
	mkdir -p "$NODE_CG$cgpath"
	ip netns add "$netns"
	NODE_PODS+=("$name")
	NODE_POD_CG[$name]=$NODE_CG$cgpath
	NODE_POD_ARGS[$name]="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=$uid"
	annotations='{}'
	[ -n "$optin" ] && annotations="{\"socklb.io/enabled\":\"$optin\"}"
	NODE_POD_CAPS[$name]="{\"cgroupPath\":\"$cgpath\",\"io.kubernetes.cri.pod-annotations\":$annotations}"
	node_cni add "$name" >"$NODE_TMP/$name.result" || return 1
	ip -n "$netns" link set lo up
	# An untranslated connect to a VIP must fail here, never leave the machine.
	ip -n "$netns" route add unreachable "$NODE_VIP_RANGE"
}

# node_cni add|check|del POD
node_cni() {
	local verb=$1 name=$2
	CNI_PATH=$NODE_TMP/bin NETCONFPATH=$NODE_TMP/net.d CNI_ARGS=${NODE_POD_ARGS[$name]} CAP_ARGS=${NODE_POD_CAPS[$name]} \
		"$CNITOOL" "$verb" "$NODE_NET" "/var/run/netns/socklb-$NODE_ID-$name"
}

node_pod_ip() {
	ip -n "socklb-$NODE_ID-$1" -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }'
}

node_pod_cgroup() {
	echo "${NODE_POD_CG[$1]}"
}

node_pod_uid() {
	sed -n 's/.*K8S_POD_UID=\([^;]*\).*/\1/p' <<<"${NODE_POD_ARGS[$1]}"
}

node_run() {
	local name=$1
	shift
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ \
		"$(node_pod_cgroup "$name")" "socklb-$NODE_ID-$name" "$@"
}

node_bg() {
	node_run "$@" &
	NODE_PIDS+=($!)
}

node_cleanup() {
	local pid name
	set +e
	for pid in "${NODE_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${NODE_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for name in "${NODE_PODS[@]}"; do
		ip netns pids "socklb-$NODE_ID-$name" 2>/dev/null | xargs -r kill -9 2>/dev/null
		node_cni del "$name" >/dev/null 2>&1
		ip netns del "socklb-$NODE_ID-$name" 2>/dev/null
	done
	[ -n "${NODE_BRIDGE:-}" ] && ip link del "$NODE_BRIDGE" 2>/dev/null
	[ -n "${NODE_CG:-}" ] && [ -d "$NODE_CG" ] && find "$NODE_CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	[ -n "${NODE_BPFFS:-}" ] && rm -rf "$NODE_BPFFS"
	[ -n "${NODE_TMP:-}" ] && rm -rf "$NODE_TMP"
	NODE_PODS=()
	NODE_PIDS=()
}

#!/usr/bin/env bash
# Try the socklb CNI plugin by hand, the way a runtime drives it, without a
# cluster: a kubelet-style pod cgroup and a network namespace, a private
# bridge + host-local + socklb chain, and cnitool add / check / del with
# CNI_ARGS and CAP_ARGS. A backend "pod" serves a ClusterIP (10.96.0.10:80)
# so you can see a connect from the pod being translated. Every command is
# printed before it runs. Everything is private to this run and removed on
# exit: netns, bridge, cgroups, bpffs root, cnitool's cached results.
#
# Usage (root): hack/try-plugin.sh [options]
#   --driver systemd|cgroupfs     kubelet cgroup driver naming     (systemd)
#   --qos burstable|besteffort|guaranteed                          (burstable)
#   --annotation true|false|none  pod annotation socklb.io/enabled (true)
#   --namespace NAME              K8S_POD_NAMESPACE                (default)
#   --no-cgroup-path              leave out CAP_ARGS cgroupPath: the plugin finds
#                                 the cgroup from K8S_POD_UID
#   --shell                       open a shell in the pod (its cgroup and netns)
#                                 after ADD; DEL runs when you leave it
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
DRIVER=systemd QOS=burstable ANNOTATION=true NAMESPACE=default CGROUP_PATH=yes SHELL_IN_POD=no

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-0}"
}
while [ $# -gt 0 ]; do
	case $1 in
	--driver) DRIVER=$2 && shift ;;
	--qos) QOS=$2 && shift ;;
	--annotation) ANNOTATION=$2 && shift ;;
	--namespace) NAMESPACE=$2 && shift ;;
	--no-cgroup-path) CGROUP_PATH=no ;;
	--shell) SHELL_IN_POD=yes ;;
	-h | --help) usage ;;
	*) echo "try-plugin: unknown option $1" >&2 && usage 1 ;;
	esac
	shift
done
bad() {
	echo "try-plugin: $1" >&2
	exit 1
}
case $DRIVER in systemd | cgroupfs) ;; *) bad "--driver must be systemd or cgroupfs, not '$DRIVER'" ;; esac
case $QOS in burstable | besteffort | guaranteed) ;; *) bad "--qos must be burstable, besteffort or guaranteed, not '$QOS'" ;; esac
case $ANNOTATION in true | false | none) ;; *) bad "--annotation must be true, false or none, not '$ANNOTATION'" ;; esac
[ "$(id -u)" -eq 0 ] || {
	echo "try-plugin: run as root (it creates a netns, cgroups and bpffs pins)" >&2
	exit 1
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	printf '+ %s\n' "$*"
	"$@"
}

say "building the plugin and the test tools"
make -s -C "$ROOT" BUILD="$BUILD" "$BUILD/socklb" "$BUILD/test/tools/slb-testctl" "$BUILD/test/tools/slb-probe"
CNITOOL=$(bash "$ROOT/hack/build-cnitool.sh")
PROBE=$BUILD/test/tools/slb-probe

ID=$(printf '%x' $$)
CG2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$CG2" ] || {
	echo "try-plugin: cgroup v2 is not mounted" >&2
	exit 1
}
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
TMP=$(mktemp -d /tmp/socklb-try.XXXXXX)
BPFFS=/sys/fs/bpf/socklb-try-$ID
CGROOT=$CG2/socklb-try-$ID
BR=slbtry$ID
NET=socklb-try-$ID
POD_NS=socklb-try-$ID-pod
BACKEND_NS=socklb-try-$ID-backend
SERVER_PID=

cleanup() {
	set +e
	say "cleaning up"
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	for ns in "$POD_NS" "$BACKEND_NS"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9
		ip netns del "$ns" 2>/dev/null
	done
	ip link del "$BR" 2>/dev/null
	[ -d "$CGROOT" ] && find "$CGROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
	rm -rf "$BPFFS" "$TMP"
	rm -f /var/lib/cni/results/"$NET"-*
	echo "removed netns, bridge $BR, cgroups under $CGROOT, pins under $BPFFS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "a private network: bridge $BR, conflist $TMP/net.d/$NET.conflist"
mkdir -p "$TMP/bin" "$TMP/net.d" "$TMP/ipam" "$CGROOT"
ln -s /usr/lib/cni/bridge /usr/lib/cni/host-local "$TMP/bin/"
ln -s "$BUILD/socklb" "$TMP/bin/socklb"
# A fixed MAC keeps the bridge plugin's CHECK happy as ports come and go.
ip link add "$BR" type bridge
ip link set "$BR" address 02:00:00:00:7e:01 up
cat >"$TMP/net.d/$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    { "type": "bridge", "bridge": "$BR", "isGateway": false, "ipMasq": false,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.250.0/24" }]], "dataDir": "$TMP/ipam" } },
    { "type": "socklb", "bpffsRoot": "$BPFFS", "cgroupRoot": "$CGROOT", "namespaces": [],
      "logFile": "$TMP/socklb.log", "logLevel": "info", "attachFailuresFile": "$TMP/attach-failures",
      "capabilities": { "cgroupPath": true, "io.kubernetes.cri.pod-annotations": true } }
  ]
}
EOF
cat "$TMP/net.d/$NET.conflist"
export CNI_PATH=$TMP/bin NETCONFPATH=$TMP/net.d

uid() { printf '%08x-%04x-4000-8000-%012x' "$((0x$ID))" "$1" "$RANDOM"; }
pod_ip() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ips"][0]["address"].split("/")[0])' "$1"; }

say "a backend pod serving 10.96.0.10:80 (not opted in)"
run ip netns add "$BACKEND_NS"
out=$(CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=backend;K8S_POD_UID=$(uid 1)" \
	"$CNITOOL" add "$NET" "/var/run/netns/$BACKEND_NS")
BACKEND_IP=$(pod_ip "$out")
ip netns exec "$BACKEND_NS" "$PROBE" server tcp 0.0.0.0 8080 backend &
SERVER_PID=$!

say "the pod: a $QOS pod cgroup with the $DRIVER driver's naming, and a netns"
POD_UID=$(uid 2)
u=${POD_UID//-/_}
case $DRIVER/$QOS in
systemd/guaranteed) REL=/kubepods.slice/kubepods-pod$u.slice ;;
systemd/*) REL=/kubepods.slice/kubepods-$QOS.slice/kubepods-$QOS-pod$u.slice ;;
cgroupfs/guaranteed) REL=/kubepods/pod$POD_UID ;;
cgroupfs/*) REL=/kubepods/$QOS/pod$POD_UID ;;
esac
POD_CG=$CGROOT$REL
run mkdir -p "$POD_CG"
run ip netns add "$POD_NS"

CAPS=()
[ "$CGROUP_PATH" = yes ] && CAPS+=("\"cgroupPath\": \"$REL\"")
[ "$ANNOTATION" != none ] &&
	CAPS+=("\"io.kubernetes.cri.pod-annotations\": {\"socklb.io/enabled\": \"$ANNOTATION\"}")
CAP_ARGS="{$(IFS=,; echo "${CAPS[*]:-}")}"
CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$NAMESPACE;K8S_POD_NAME=try;K8S_POD_UID=$POD_UID"
export CAP_ARGS CNI_ARGS

in_pod() {
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ "$POD_CG" "$POD_NS" "$@"
}
show() {
	echo "pins under $BPFFS/links:"
	find "$BPFFS/links" -mindepth 1 2>/dev/null | sed 's/^/  /'
	run bpftool cgroup show "$POD_CG"
	echo "connect from the pod to 10.96.0.10:80 (the VIP range is unreachable in the pod):"
	printf '  %s\n' "$(in_pod "$PROBE" tcp 10.96.0.10 80 2>&1)"
}

say "cnitool add"
echo "CNI_ARGS=$CNI_ARGS"
echo "CAP_ARGS=$CAP_ARGS"
run "$CNITOOL" add "$NET" "/var/run/netns/$POD_NS"
echo
run ip -n "$POD_NS" route add unreachable 10.96.0.0/12

say "the service 10.96.0.10:80 -> backend $BACKEND_IP:8080, written into the pinned maps"
run "$BUILD/test/tools/slb-testctl" svc "$BPFFS" 10.96.0.10 80 tcp 0 "$BACKEND_IP:8080"
show

say "cnitool check"
run "$CNITOOL" check "$NET" "/var/run/netns/$POD_NS" && echo "check passed"

if [ "$SHELL_IN_POD" = yes ]; then
	say "a shell in the pod (cgroup $POD_CG, netns $POD_NS); exit it to run DEL"
	echo "try: $PROBE tcp 10.96.0.10 80"
	in_pod bash -i || true
fi

say "cnitool del"
run "$CNITOOL" del "$NET" "/var/run/netns/$POD_NS"
show

say "the plugin's log ($TMP/socklb.log)"
cat "$TMP/socklb.log"

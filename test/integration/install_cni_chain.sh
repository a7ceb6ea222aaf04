#!/usr/bin/env bash
# The installer's output drives a real runtime: a node whose primary CNI is a
# single-plugin bridge .conf; `socklb-syncd install-cni` copies build/socklb into the
# CNI bin dir and wraps the .conf into a conflist ending with socklb; cnitool (libcni,
# as containerd uses it) then runs bridge + socklb for pods:
#   - an opted-in pod gets the 8 programs on its cgroup and its connect to the VIP
#     reaches a backend pod; a pod that did not opt in gets nothing;
#   - the primary CNI rewrites its .conf: install-cni again (what the init container and
#     the daemon's watcher do) and the next pod is load-balanced again;
#   - DEL detaches; uninstall-cni leaves the bridge conflist without socklb, removes the binary.
source "$(dirname "$0")/../lib.sh"
tl_init

SYNCD=$TL_BUILD/socklb-syncd
P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
NET=slbinst-$TL_ID
TL_BR=slbi$TL_ID
SUBNET=10.244.9.0/24
VIP=10.96.0.20
BIN=$TL_TMP/bin
CONF=$TL_TMP/net.d

if ! CNITOOL=$(bash "$TL_ROOT/hack/build-cnitool.sh"); then
	tl_not_ok "hack/build-cnitool.sh could not provide cnitool"
	tl_finish
fi
for f in "$SYNCD" "$TL_BUILD/socklb" "$P" "$CTL"; do
	[ -x "$f" ] || { tl_not_ok "$f is not built (make tests-build)"; tl_finish; }
done

tl_extra_cleanup() {
	# cnitool caches each ADD's result; DEL removes it, a failed run may not have.
	rm -f /var/lib/cni/results/"$NET"-*
}

mkdir -p "$BIN" "$CONF" "$TL_TMP/ipam"
ln -s /usr/lib/cni/bridge /usr/lib/cni/host-local "$BIN/"
# What a primary CNI writes: one plugin, in a .conf.
write_bridge_conf() {
	cat >"$CONF/10-$NET.conf" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "type": "bridge",
  "bridge": "$TL_BR",
  "isGateway": false,
  "ipMasq": false,
  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET" }]], "dataDir": "$TL_TMP/ipam" }
}
EOF
}
write_bridge_conf
ENTRY_CONFIG="{\"bpffsRoot\": \"$TL_BPFFS\", \"cgroupRoot\": \"$TL_CG\", \"namespaces\": [\"team-lb\"],
  \"logFile\": \"$TL_TMP/socklb.log\"}"
install_cni() {
	"$SYNCD" install-cni --cni-bin-dir "$BIN" --cni-conf-dir "$CONF" --plugin-binary "$TL_BUILD/socklb" \
		--config "$ENTRY_CONFIG"
}

tl_check "install-cni on a bridge .conf" install_cni
tl_check "the .conf became 10-$NET.conflist" test -f "$CONF/10-$NET.conflist" -a ! -e "$CONF/10-$NET.conf"
tl_check "the conflist runs bridge then socklb" python3 -c '
import json, sys
plugins = json.load(open(sys.argv[1]))["plugins"]
assert [p["type"] for p in plugins] == ["bridge", "socklb"], plugins
assert plugins[1]["capabilities"] == {"cgroupPath": True, "io.kubernetes.cri.pod-annotations": True}
' "$CONF/10-$NET.conflist"
tl_check "the plugin binary is in the CNI bin dir" cmp "$TL_BUILD/socklb" "$BIN/socklb"

export CNI_PATH=$BIN NETCONFPATH=$CONF
ip link add "$TL_BR" type bridge
ip link set "$TL_BR" address 02:00:00:00:7b:02 up

declare -A POD_CG POD_IP POD_ARGS POD_CAPS
# pod NAME NAMESPACE: a netns, a kubelet-style (cgroupfs) pod cgroup, and cnitool's arguments.
pod() {
	local name=$1 ns=$2 uid
	uid=$(printf '%08x-0000-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
	POD_CG[$name]=$TL_CG/kubepods/burstable/pod$uid
	mkdir -p "${POD_CG[$name]}"
	ip netns add "slb-$TL_ID-$name"
	TL_NETNS+=("slb-$TL_ID-$name")
	POD_ARGS[$name]="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=$uid"
	POD_CAPS[$name]="{\"cgroupPath\": \"/kubepods/burstable/pod$uid\", \"io.kubernetes.cri.pod-annotations\": {}}"
}
pod_cni() {
	CNI_ARGS=${POD_ARGS[$2]} CAP_ARGS=${POD_CAPS[$2]} "$CNITOOL" "$1" "$NET" "/var/run/netns/slb-$TL_ID-$2"
}
# pod_add NAME DESCRIPTION: cnitool add (not in a subshell: it records the pod's IP).
pod_add() {
	local name=$1 desc=$2
	if ! pod_cni add "$name" >"$TL_TMP/result.$name" 2>"$TL_TMP/error.$name"; then
		tl_not_ok "$desc"
		tl_diag "$(cat "$TL_TMP/error.$name")"
		return 1
	fi
	tl_ok "$desc"
	POD_IP[$name]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ips"][0]["address"].split("/")[0])' \
		"$TL_TMP/result.$name")
	ip -n "slb-$TL_ID-$name" route replace unreachable "$TL_VIP_RANGE4"
}
in_pod() {
	local name=$1
	shift
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ "${POD_CG[$name]}" "slb-$TL_ID-$name" "$@"
}
progs_on() {
	bpftool cgroup show "$1" 2>/dev/null | grep -c socklb_
}
progs_settle() {
	local i
	for i in $(seq 40); do
		[ "$(progs_on "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

pod web default
pod_add web "cnitool add of a backend pod through the installed conflist"
ip netns exec "slb-$TL_ID-web" "$P" server tcp 0.0.0.0 8080 web &
TL_PIDS+=($!)
"$CTL" svc "$TL_BPFFS" "$VIP" 80 tcp 0 "${POD_IP[web]:-10.244.9.254}:8080" >/dev/null ||
	tl_not_ok "filling the service map"

pod client team-lb
pod outsider default
pod_add client "cnitool add of an opted-in pod (namespace team-lb)"
pod_add outsider "cnitool add of a pod that did not opt in"
tl_check "the opted-in pod has the 8 programs on its cgroup" test "$(progs_on "${POD_CG[client]}")" = 8
tl_check "the other pod has none" test "$(progs_on "${POD_CG[outsider]}")" = 0
reach_vip() {
	local out i
	for i in $(seq 50); do
		out=$(in_pod "$1" "$P" tcp "$VIP" 80 2>&1)
		grep -Eq "^reply web peer $VIP:80$" <<<"$out" && return 0
		sleep 0.1
	done
	echo "$out"
	return 1
}
tl_check "the opted-in pod's connect to the VIP reaches the backend" reach_vip client
out=$(in_pod outsider "$P" tcp "$VIP" 80 2>&1)
tl_check "the other pod's connect to the VIP is not translated ($out)" grep -q "^error" <<<"$out"

# The primary CNI restarts and writes its .conf again: it sorts before our conflist.
write_bridge_conf
tl_check "install-cni after the primary CNI rewrote its .conf" install_cni
tl_check "the .conf is wrapped again" test -f "$CONF/10-$NET.conflist" -a ! -e "$CONF/10-$NET.conf"
pod client2 team-lb
pod_add client2 "cnitool add of a new opted-in pod after the rewrite"
tl_check "the new pod has the 8 programs" test "$(progs_on "${POD_CG[client2]}")" = 8
tl_check "the new pod's connect to the VIP reaches the backend" reach_vip client2

for name in client client2 outsider web; do
	pod_cni del "$name" || tl_not_ok "cnitool del $name"
done
tl_check "cnitool del detached the opted-in pods" bash -c "$(declare -f progs_on progs_settle); \
	progs_settle '${POD_CG[client]}' 0 && progs_settle '${POD_CG[client2]}' 0"

tl_check "uninstall-cni" "$SYNCD" uninstall-cni --cni-bin-dir "$BIN" --cni-conf-dir "$CONF"
tl_check "the conflist holds only bridge again" python3 -c '
import json, sys
plugins = json.load(open(sys.argv[1]))["plugins"]
assert [p["type"] for p in plugins] == ["bridge"], plugins
' "$CONF/10-$NET.conflist"
tl_check "the plugin binary is gone" test ! -e "$BIN/socklb"

tl_finish

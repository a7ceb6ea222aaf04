#!/usr/bin/env bash
# The DaemonSet's image, built and run as conf/socklb.yaml runs it, on a node
# whose runtime is a private containerd (test/cri/containerd.sh):
#   - hack/image.sh (`make image`) writes an OCI archive of socklb:dev (the root
#     filesystem comes from its cache after the first build);
#   - containerd imports it; the test plays kubelet (test/cri/kubelet.py turns
#     the manifest's pod template into CRI requests: hostNetwork, hostPID, the
#     hostPath mounts with their propagation, capabilities, read-only root,
#     seccomp), with the node's paths moved into the test's own: /sys/fs/bpf to
#     $TL_BPFFS, /sys/fs/cgroup to the cgroup v2 root, the CNI dirs to the
#     runtime's; the daemon gets a file source mounted in instead of the API;
#   - the init container chains socklb into the conflist the test wrote, with
#     the ConfigMap's cni-config keys, and installs the plugin binary;
#   - socklb-syncd fills the maps from the file (socklb-syncd dump on the host),
#     answers its readiness probe, puts the entry back when the conflist is
#     rewritten without it, and exits 0 on StopContainer;
#   - a pod that opted in, created by containerd through the installed chain,
#     reaches the backends through the ClusterIP.
source "$(dirname "$0")/../lib.sh"
tl_init
source "$TL_ROOT/test/cri/containerd.sh"

SYNCD=$TL_BUILD/socklb-syncd
P=$TL_TOOLS/slb-probe
NET=socklb-img-$TL_ID
SUBNET_PREFIX=10.247.$((0x${TL_ID:4:2}))
TL_BR=slbi$TL_ID
VIP=10.96.0.10
# The manifest's image, and the full name the runtime looks up for it.
IMAGE=socklb:dev
IMAGE_FULL=docker.io/library/socklb:dev
MANIFEST=$TL_ROOT/conf/socklb.yaml
# The node's bpffs root as the DaemonSet's pod sees it (/sys/fs/bpf there is $TL_BPFFS).
ROOT_ON_NODE=$TL_BPFFS/socklb

tl_extra_cleanup() {
	cri_stop
	rm -f /var/lib/cni/results/"$NET"-*
}

cri_require || tl_finish
for t in mmdebstrap buildah; do
	command -v "$t" >/dev/null || { tl_not_ok "$t is not installed (hack/install-deps.sh installs it)"; tl_finish; }
done
for f in "$SYNCD" "$TL_BUILD/socklb" "$P" "$TL_BUILD/test/static/slb-probe" "$TL_BUILD/test/static/slb-pause"; do
	[ -x "$f" ] || { tl_not_ok "$f is not built (make tests-build)"; tl_finish; }
done

# 1. make image (into this test's directory, from this build).
t0=$(date +%s%N)
if IMAGE_OUT=$TL_TMP/socklb-image.tar bash "$TL_ROOT/hack/image.sh" >"$TL_TMP/image.log" 2>&1; then
	tl_ok "hack/image.sh built the image in $((($(date +%s%N) - t0) / 1000000)) ms"
	sed 's/^/# /' "$TL_TMP/image.log" | tail -5
else
	tl_not_ok "hack/image.sh built the image"
	sed 's/^/#   /' "$TL_TMP/image.log" | tail -20
	tl_finish
fi
tl_check "the image is an OCI archive of $IMAGE_FULL" python3 -c '
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
assert json.load(t.extractfile("oci-layout"))["imageLayoutVersion"] == "1.0.0"
names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(t.extractfile("index.json"))["manifests"]]
assert names == [sys.argv[2]], names
' "$TL_TMP/socklb-image.tar" "$IMAGE_FULL"

# 2. The node: backends on a bridge, and the primary CNI's conflist (no socklb yet).
tl_bridge
for i in 1 2; do
	tl_pod web$i "$SUBNET_PREFIX.1$i/24"
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
done
tl_wait_tcp web1 "$SUBNET_PREFIX.12" 8080 && tl_wait_tcp web2 "$SUBNET_PREFIX.11" 8080 ||
	tl_not_ok "backend servers did not start"
cat >"$TL_TMP/10-$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge", "bridge": "$TL_BR", "isGateway": false, "isDefaultGateway": false, "ipMasq": false,
      "ipam": {"type": "host-local", "dataDir": "$TL_TMP/ipam",
               "ranges": [[{"subnet": "$SUBNET_PREFIX.0/24", "rangeStart": "$SUBNET_PREFIX.100", "rangeEnd": "$SUBNET_PREFIX.199"}]]}
    }
  ]
}
EOF
CONFLIST=$CRI_CNI_CONF/10-$NET.conflist
mkdir -p "$TL_BPFFS" "$TL_TMP/source"
cat >"$TL_TMP/source/cluster.json" <<EOF
{"kind": "List", "apiVersion": "v1", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
  "spec": {"clusterIP": "$VIP", "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
  "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
  "endpoints": [{"addresses": ["$SUBNET_PREFIX.11"]}, {"addresses": ["$SUBNET_PREFIX.12"]}]},
 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}}]}
EOF

cri_start "$TL_TMP/10-$NET.conflist" || tl_finish
t0=$(date +%s%N)
tl_check "containerd imports the image archive" cri_import "$TL_TMP/socklb-image.tar"
tl_diag "import: $((($(date +%s%N) - t0) / 1000000)) ms"
tl_check "the CRI finds $IMAGE, the manifest's image" cri image "$IMAGE"
tl_check "the test image (static pause and slb-probe) imported" cri_test_image

# 3. The DaemonSet's pod, as kubelet would run it on this node.
uid=$(printf '%08x-0000-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
# requests, no limits: Burstable.
cri_pod_cgroup burstable "$uid"
mkdir -p "$TL_TMP/logs/ds"
CNI_CONFIG="{\"bpffsRoot\": \"$ROOT_ON_NODE\", \"cgroupRoot\": \"$TL_CG\", \"logFile\": \"$TL_TMP/socklb-cni.log\"}"
if ! /usr/bin/python3 "$TL_ROOT/test/cri/kubelet.py" "$MANIFEST" "$TL_TMP/ds" --uid "$uid" --node-name node-a \
	--cgroup-parent "$CRI_CGROUP_PARENT" --log-dir "$TL_TMP/logs/ds" \
	--host-path "/sys/fs/bpf=$TL_BPFFS" --host-path "/sys/fs/cgroup=$TL_CGROOT" \
	--host-path "/opt/cni/bin=$CRI_CNI_BIN" --host-path "/etc/cni/net.d=$CRI_CNI_CONF" \
	--config "metrics-addr=127.0.0.1:0" --config "cni-config=$CNI_CONFIG" \
	--replace "--source kubernetes=--source file:/etc/socklb-test/cluster.json" \
	--mount "$TL_TMP/source:/etc/socklb-test" >"$TL_TMP/containers"; then
	tl_not_ok "test/cri/kubelet.py read the DaemonSet in conf/socklb.yaml"
	tl_finish
fi
tl_diag "the DaemonSet's containers: $(awk '$1 == "init" || $1 == "main"' "$TL_TMP/containers" | tr '\n' ' ')"
while read -r _ name cap; do
	why=
	[ "$cap" = SYS_RESOURCE ] && why=" (the manifest needs it only before kernel 5.11)"
	tl_diag "capability $cap of $name left out: this machine's bounding set lacks it$why"
done < <(awk '$1 == "left-out"' "$TL_TMP/containers")
if ! cri_runp "$TL_TMP/ds/pod.json"; then
	tl_not_ok "RunPodSandbox of the DaemonSet's pod (hostNetwork, hostPID)"
	tl_finish
fi
DS=$CRI_ID
tl_ok "RunPodSandbox of the DaemonSet's pod (hostNetwork, hostPID)"

# container NAME: create and start it in the DaemonSet's pod; sets CID.
container() {
	CID=$(cri create "$DS" "$TL_TMP/ds/$1.json" "$TL_TMP/ds/pod.json") && cri start "$CID"
}
log_of() {
	cut -d' ' -f4- "$TL_TMP/logs/ds/$1/0.log" 2>/dev/null
}

while read -r kind name; do
	[ "$kind" = init ] || continue
	if container "$name" && rc=$(cri wait "$CID" 60) && [ "$rc" = 0 ]; then
		tl_ok "init container $name ran to completion (exit 0)"
	else
		tl_not_ok "init container $name ran to completion (exit ${rc:-?})"
	fi
	log_of "$name" | sed 's/^/#   /'
done <"$TL_TMP/containers"

tl_check "install-cni put the plugin in the node's CNI bin dir (the image's copy of this build)" \
	cmp "$TL_BUILD/socklb" "$CRI_CNI_BIN/socklb"
chained() {
	python3 - "$CONFLIST" "$ROOT_ON_NODE" <<'EOF'
import json, sys
plugins = json.load(open(sys.argv[1]))["plugins"]
assert [p["type"] for p in plugins] == ["bridge", "socklb"], plugins
entry = plugins[1]
assert entry["capabilities"] == {"cgroupPath": True, "io.kubernetes.cri.pod-annotations": True}, entry
assert entry["bpffsRoot"] == sys.argv[2], entry
EOF
}
tl_check "install-cni chained socklb after bridge in the test's conflist, with the ConfigMap's cni-config and both capabilities" chained

DAEMON=$(awk '$1 == "main" { print $2; exit }' "$TL_TMP/containers")
container "$DAEMON" || tl_not_ok "start $DAEMON"
served() {
	local i
	for i in $(seq 100); do
		"$SYNCD" dump --bpffs-root "$ROOT_ON_NODE" 2>/dev/null |
			grep -q "^$VIP:80 .*$SUBNET_PREFIX.11:8080.*$SUBNET_PREFIX.12:8080" && return 0
		sleep 0.1
	done
	return 1
}
tl_check "$DAEMON (in the image, with the DaemonSet's privileges) filled the node's maps from the file source" served
running() {
	cri inspect "$CID" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["status"].get("state") == "CONTAINER_RUNNING" else 1)'
}
tl_check "$DAEMON keeps running" running
# What the runtime made of the manifest's securityContext: the OCI spec it ran the daemon with.
confined() {
	cri inspect "$CID" | python3 -c '
import json, sys
spec = json.loads(json.load(sys.stdin)["info"]["info"])["runtimeSpec"]
caps = sorted(c[4:] for c in spec["process"]["capabilities"]["bounding"])
want = sorted(sys.argv[1].split())
assert caps == want, f"capabilities {caps}, want {want}"
assert spec["root"]["readonly"], "root filesystem not read-only"
assert spec["linux"].get("seccomp"), "no seccomp profile"
print("capabilities", " ".join(caps), "; read-only root; seccomp", spec["linux"]["seccomp"]["defaultAction"])
' "$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["linux"]["security_context"]["capabilities"]["add_capabilities"]))' "$TL_TMP/ds/$DAEMON.json")"
}
tl_check "$DAEMON runs with only the manifest's capabilities, a read-only root and the runtime's seccomp profile" confined
# The readiness probe's request, on the port the daemon bound (port 0 here: the node's network is the host's).
ready() {
	local pid port
	pid=$(cri_ctr task ls | awk -v id="$CID" '$1 == id { print $2 }')
	port=$(ss -Hltnp "src 127.0.0.1" | grep "pid=$pid," | awk '{ print $4 }' | sed 's/.*://' | head -1)
	[ -n "$port" ] && curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz"
}
tl_check "$DAEMON answers its readiness probe (/healthz)" ready
# The primary CNI rewrites its conflist without socklb: the daemon puts it back.
rewritten() {
	local i
	cp "$TL_TMP/10-$NET.conflist" "$CRI_CNI_CONF/.rewrite" && mv "$CRI_CNI_CONF/.rewrite" "$CONFLIST"
	for i in $(seq 40); do
		chained 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
tl_check "the conflist rewritten without socklb: $DAEMON puts the entry back (within 2 s)" rewritten

# 4. A pod through the chain the DaemonSet installed.
puid=$(printf '%08x-0001-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
cri_pod_cgroup besteffort "$puid"
mkdir -p "$TL_TMP/logs/app"
cat >"$TL_TMP/app.json" <<EOF
{"metadata": {"name": "app", "uid": "$puid", "namespace": "default"}, "hostname": "app",
 "log_directory": "$TL_TMP/logs/app", "annotations": {"socklb.io/enabled": "true"},
 "linux": {"cgroup_parent": "$CRI_CGROUP_PARENT"}}
EOF
cat >"$TL_TMP/app-client.json" <<EOF
{"metadata": {"name": "client"}, "image": {"image": "$CRI_PAUSE_IMAGE"},
 "command": ["/slb-probe", "tcp", "$VIP", "80", "4"], "log_path": "client/0.log"}
EOF
app_reaches_vip() {
	local pid cid rc out
	cri_runp "$TL_TMP/app.json" || return 1
	pid=$(cri inspectp "$CRI_ID" | python3 -c 'import json,sys; print(json.loads(json.load(sys.stdin)["info"]["info"])["pid"])') &&
		nsenter -t "$pid" -n ip route add unreachable "$TL_VIP_RANGE4" || return 1
	cid=$(cri create "$CRI_ID" "$TL_TMP/app-client.json" "$TL_TMP/app.json") && cri start "$cid" &&
		rc=$(cri wait "$cid" 20) || return 1
	out=$(cut -d' ' -f4- "$TL_TMP/logs/app/client/0.log")
	echo "$out"
	[ "$rc" = 0 ] && [ "$(grep -cEx "reply web[12] peer $VIP:80" <<<"$out")" = 4 ]
}
# In this shell: cri_runp remembers the pod for the cleanup.
desc="a pod opted in, created through the installed chain: 4 connects to $VIP:80 reach web1/web2, getpeername() = the VIP"
if app_reaches_vip >"$TL_TMP/app.out" 2>&1; then
	tl_ok "$desc"
else
	tl_not_ok "$desc"
	sed 's/^/#   /' "$TL_TMP/app.out"
	tail -5 "$TL_TMP/socklb-cni.log" 2>/dev/null | sed 's/^/#   /'
fi
APP=${CRI_ID:-}

# 5. Shut down as kubelet does.
cri stopp "$APP" && cri rmp "$APP"
tl_check "the pod's DEL through the installed plugin left no link" test -z "$(ls -A "$ROOT_ON_NODE/links" 2>/dev/null)"
stopped_cleanly() {
	local rc
	cri stop "$CID" 10 && rc=$(cri wait "$CID" 1) && [ "$rc" = 0 ]
}
tl_check "$DAEMON exits 0 on StopContainer (SIGTERM)" stopped_cleanly
log_of "$DAEMON" | tail -5 | sed 's/^/#   /'

tl_finish

#!/usr/bin/env bash
# The plugin driven by a real container runtime: Debian's containerd (CRI
# plugin, runc), private to this test (test/cri/containerd.sh), with the chain
# [bridge + host-local, socklb] in its CNI conf dir. The test plays kubelet
# through the CRI API (test/cri/cri.py): it creates each pod's cgroup as
# kubelet's cgroupfs driver does, in every hierarchy, then RunPodSandbox with
# the pod's namespace, uid, annotations and cgroup_parent; then a container
# from a locally built image connects to a ClusterIP that socklb-syncd (file
# source) serves.
#   - a pod opted in by its annotation, and one by its namespace (the daemon's
#     namespace map), reach the backends with getpeername() = the VIP; a pod of
#     that namespace annotated "false" stays untranslated;
#   - what the runtime passed to the plugin (CNI_ARGS, runtimeConfig) is
#     printed as "# ..." lines, and the parts socklb relies on are checked;
#   - StopPodSandbox + RemovePodSandbox leave no pin and no program on the pod
#     cgroups, no network namespace; every plugin call exited 0.
source "$(dirname "$0")/../lib.sh"
tl_init
source "$TL_ROOT/test/cri/containerd.sh"

SYNCD=$TL_BUILD/socklb-syncd
P=$TL_TOOLS/slb-probe
NET=socklb-cri-$TL_ID
# A subnet of this run only, on a bridge of this run only (lib.sh deletes it).
SUBNET_PREFIX=10.246.$((0x${TL_ID:4:2}))
TL_BR=slbk$TL_ID
VIP=10.96.0.10

tl_extra_cleanup() {
	cri_stop
	# libcni caches each ADD's result under /var/lib/cni; DEL removes it, an
	# interrupted run may not have.
	rm -f /var/lib/cni/results/"$NET"-*
}

cri_require || tl_finish
for f in "$SYNCD" "$TL_BUILD/socklb" "$P" "$TL_BUILD/test/static/slb-probe" "$TL_BUILD/test/static/slb-pause"; do
	[ -x "$f" ] || { tl_not_ok "$f is not built (make tests-build)"; tl_finish; }
done

# Backends on the bridge the CNI bridge plugin then attaches the pods to.
tl_bridge
for i in 1 2; do
	tl_pod web$i "$SUBNET_PREFIX.1$i/24"
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
done
tl_wait_tcp web1 "$SUBNET_PREFIX.12" 8080 && tl_wait_tcp web2 "$SUBNET_PREFIX.11" 8080 ||
	tl_not_ok "backend servers did not start"

# The daemon first, as on a node: the plugin's programs use the maps it pinned.
cat >"$TL_TMP/cluster.json" <<EOF
{"kind": "List", "apiVersion": "v1", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
  "spec": {"clusterIP": "$VIP", "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
  "metadata": {"name": "web-1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
  "endpoints": [{"addresses": ["$SUBNET_PREFIX.11"]}, {"addresses": ["$SUBNET_PREFIX.12"]}]},
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "annotations": {"socklb.io/enabled": "true"}}},
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}]}
EOF
"$SYNCD" --source "file:$TL_TMP/cluster.json" --bpffs-root "$TL_BPFFS" --node-name node-a --metrics-addr "" \
	2>"$TL_TMP/syncd.log" &
TL_PIDS+=($!)
served() {
	local i
	for i in $(seq 200); do
		"$SYNCD" dump --bpffs-root "$TL_BPFFS" 2>/dev/null |
			grep -q "^$VIP:80 .*$SUBNET_PREFIX.11:8080.*$SUBNET_PREFIX.12:8080" && return 0
		sleep 0.05
	done
	return 1
}
tl_check "socklb-syncd serves $VIP:80 from the file source" served

# containerd, with the chain in its conf dir and the plugin wrapped so that each call is recorded.
cat >"$TL_TMP/10-$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge", "bridge": "$TL_BR", "isGateway": false, "isDefaultGateway": false, "ipMasq": false,
      "ipam": {"type": "host-local", "dataDir": "$TL_TMP/ipam",
               "ranges": [[{"subnet": "$SUBNET_PREFIX.0/24", "rangeStart": "$SUBNET_PREFIX.100", "rangeEnd": "$SUBNET_PREFIX.199"}]]}
    },
    {
      "type": "socklb", "bpffsRoot": "$TL_BPFFS", "cgroupRoot": "$TL_CG",
      "logFile": "$TL_TMP/socklb.log", "logLevel": "info",
      "capabilities": {"cgroupPath": true, "io.kubernetes.cri.pod-annotations": true}
    }
  ]
}
EOF
t0=$(date +%s%N)
if ! cri_start "$TL_TMP/10-$NET.conflist"; then
	tl_finish
fi
tl_diag "containerd up in $((($(date +%s%N) - t0) / 1000000)) ms: $(cri version | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["runtime_name"], d["runtime_version"], "CRI", d["runtime_api_version"])')"
cri_cni_wrap socklb "$TL_BUILD/socklb"
tl_check "the test image (static pause and slb-probe) imported into containerd" cri_test_image

# pod NAME NAMESPACE ANNOTATION_OR_EMPTY: kubelet's steps for a pod up to its
# first container: the pod cgroup (BestEffort), RunPodSandbox, then the VIP
# range made unreachable in the pod's network (the pod has no default route
# either: nothing it sends untranslated leaves the bridge). Sets POD_ID[NAME],
# POD_CG[NAME] (the v2 pod cgroup) and POD_CONF[NAME] (its sandbox config).
declare -A POD_ID POD_CG POD_CONF
NPODS=0
pod() {
	local name=$1 ns=$2 annotation=$3 uid conf t0 pid
	NPODS=$((NPODS + 1))
	uid=$(printf '%08x-%04x-4000-8000-%012x' "$((0x$TL_ID))" "$NPODS" "$RANDOM")
	cri_pod_cgroup besteffort "$uid" || return 1
	POD_CG[$name]=$TL_CGROOT$CRI_CGROUP_PARENT
	conf=$TL_TMP/pod-$name.json
	mkdir -p "$TL_TMP/logs/$name"
	cat >"$conf" <<EOF
{"metadata": {"name": "$name", "uid": "$uid", "namespace": "$ns", "attempt": 0},
 "hostname": "$name", "log_directory": "$TL_TMP/logs/$name",
 "labels": {"app": "$name"},
 "annotations": {"kubernetes.io/config.source": "api"${annotation:+, \"socklb.io/enabled\": \"$annotation\"}},
 "linux": {"cgroup_parent": "$CRI_CGROUP_PARENT", "security_context": {"namespace_options": {}}}}
EOF
	POD_CONF[$name]=$conf
	t0=$(date +%s%N)
	cri_runp "$conf" || return 1
	tl_diag "RunPodSandbox $ns/$name: $((($(date +%s%N) - t0) / 1000000)) ms"
	POD_ID[$name]=$CRI_ID
	pid=$(cri inspectp "$CRI_ID" | python3 -c 'import json,sys; print(json.loads(json.load(sys.stdin)["info"]["info"])["pid"])') &&
		nsenter -t "$pid" -n ip route add unreachable "$TL_VIP_RANGE4"
}

# client NAME ARGS...: a container in pod NAME runs /slb-probe ARGS; prints its
# output (the CRI log's lines without their prefix) and exits as it did.
client() {
	local name=$1 cid conf=$TL_TMP/client-$1.json rc
	shift
	python3 - "$CRI_PAUSE_IMAGE" "$@" >"$conf" <<'EOF'
import json, sys
print(json.dumps({"metadata": {"name": "client"}, "image": {"image": sys.argv[1]},
                  "command": ["/slb-probe"] + sys.argv[2:], "log_path": "client/0.log"}))
EOF
	cid=$(cri create "${POD_ID[$name]:-}" "$conf" "${POD_CONF[$name]}") && cri start "$cid" &&
		rc=$(cri wait "$cid" 20) || return 1
	# CRI log lines: "TIME STREAM F|P TEXT"
	cut -d' ' -f4- "$TL_TMP/logs/$name/client/0.log"
	return "$rc"
}

# reaches_vip NAME: four connects to the VIP from a container in pod NAME, each
# reaching a backend, the application seeing the VIP as its peer.
reaches_vip() {
	local out
	out=$(client "$1" tcp "$VIP" 80 4) || { echo "$out"; return 1; }
	echo "$out"
	[ "$(grep -cEx "reply web[12] peer $VIP:80" <<<"$out")" = 4 ]
}
# untranslated NAME: the connect to the VIP is not translated: the route says unreachable.
untranslated() {
	local out
	out=$(client "$1" tcp "$VIP" 80 1)
	echo "$out"
	[ "$out" = "error EHOSTUNREACH" ]
}
links_of() {
	echo "$TL_BPFFS/links/${POD_ID[$1]:-none}_-eth0"
}
pins_in() {
	find "$1" -mindepth 1 2>/dev/null | wc -l
}
progs_on() {
	bpftool cgroup show "$1" 2>/dev/null | grep -c socklb_
}
# The kernel releases an unpinned link from a work queue, a moment after the
# unpin: wait (up to 2 s) until no program of ours is on the cgroups given.
progs_gone() {
	local i cg left
	for i in $(seq 40); do
		left=0
		for cg; do
			left=$((left + $(progs_on "$cg")))
		done
		[ "$left" = 0 ] && return 0
		sleep 0.05
	done
	echo "$left programs still attached"
	return 1
}

# run_pod DESCRIPTION NAME NAMESPACE ANNOTATION: pod, in this shell (it keeps state), as a TAP line.
run_pod() {
	local desc=$1
	shift
	if pod "$@" >"$TL_TMP/pod.out" 2>&1; then
		tl_ok "$desc"
	else
		tl_not_ok "$desc"
		sed 's/^/#   /' "$TL_TMP/pod.out" | head -20
	fi
	grep '^# ' "$TL_TMP/pod.out"
}
run_pod "RunPodSandbox team-a/annotated (socklb.io/enabled: \"true\")" annotated team-a true
run_pod "RunPodSandbox shop/by-namespace (namespace opted in through the daemon)" by-namespace shop ""
run_pod "RunPodSandbox shop/opted-out (socklb.io/enabled: \"false\")" opted-out shop false

tl_check "annotated: 8 links pinned for its sandbox" test "$(pins_in "$(links_of annotated)")" = 8
tl_check "annotated: the programs are on its pod cgroup" test "$(progs_on "${POD_CG[annotated]}")" = 8
tl_check "by-namespace: 8 links pinned" test "$(pins_in "$(links_of by-namespace)")" = 8
tl_check "opted-out: nothing pinned, nothing on its pod cgroup" \
	test "$(pins_in "$(links_of opted-out)"):$(progs_on "${POD_CG[opted-out]}")" = 0:0
tl_check "annotated: a container's 4 connects to $VIP:80 reach web1/web2, getpeername() = the VIP" reaches_vip annotated
tl_check "by-namespace: likewise" reaches_vip by-namespace
tl_check "opted-out: a container's connect to $VIP:80 is not translated (EHOSTUNREACH)" untranslated opted-out

# What containerd passed: CNI_ARGS and runtimeConfig of each ADD, as "# ..." lines.
calls_report() {
	python3 - "$CRI_CALLS" "$@" <<'EOF'
import json, os, sys
calls_dir, want = sys.argv[1], sys.argv[2]
calls = []
for d in sorted(os.listdir(calls_dir)):
    p = os.path.join(calls_dir, d)
    env = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(p, "env")) if "=" in l)
    try:
        stdin = json.load(open(os.path.join(p, "stdin")))
    except ValueError:
        stdin = {}
    rc = open(os.path.join(p, "rc")).read().strip() if os.path.exists(os.path.join(p, "rc")) else "none"
    calls.append((env, stdin, rc))
if want == "report":
    for env, stdin, rc in calls:
        keys = sorted(kv.split("=", 1)[0] for kv in env.get("CNI_ARGS", "").split(";") if kv)
        print(f"{env.get('CNI_COMMAND')} exit {rc}: CNI_NETNS {'set' if env.get('CNI_NETNS') else 'empty'}; "
              f"CNI_ARGS keys {', '.join(keys)}; runtimeConfig {json.dumps(stdin.get('runtimeConfig'), sort_keys=True)}")
elif want == "verbs":
    print(" ".join(env.get("CNI_COMMAND", "?") for env, _, _ in calls))
elif want == "failed":
    print(" ".join(f"{env.get('CNI_COMMAND')}={rc}" for env, _, rc in calls if rc != "0"))
elif want == "add":
    # The ADD of pod (namespace, name, uid): what socklb needs from the runtime.
    ns, name, uid = sys.argv[3:6]
    for env, stdin, _ in calls:
        args = dict(kv.split("=", 1) for kv in env.get("CNI_ARGS", "").split(";") if "=" in kv)
        if env.get("CNI_COMMAND") == "ADD" and args.get("K8S_POD_NAME") == name:
            ok = (args.get("K8S_POD_NAMESPACE") == ns and args.get("K8S_POD_UID") == uid and
                  args.get("K8S_POD_INFRA_CONTAINER_ID") == env.get("CNI_CONTAINERID"))
            ann = stdin.get("runtimeConfig", {}).get("io.kubernetes.cri.pod-annotations", {})
            sys.exit(0 if ok and ann.get("socklb.io/enabled") == "true" else 1)
    sys.exit(1)
EOF
}
ADD_EXAMPLE=$(ls "$CRI_CALLS" | head -1)
tl_diag "what containerd passed to the plugin on ADD (annotated pod):"
tl_diag "  CNI_ARGS=$(sed -n 's/^CNI_ARGS=//p' "$CRI_CALLS/$ADD_EXAMPLE/env")"
tl_diag "  runtimeConfig=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get("runtimeConfig"), sort_keys=True))' "$CRI_CALLS/$ADD_EXAMPLE/stdin")"
uid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["uid"])' "${POD_CONF[annotated]}")
tl_check "ADD carried K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, K8S_POD_INFRA_CONTAINER_ID and the pod annotations" \
	calls_report add team-a annotated "$uid"

for name in annotated by-namespace opted-out; do
	t0=$(date +%s%N)
	cri stopp "${POD_ID[$name]:-}" && cri rmp "${POD_ID[$name]:-}" ||
		tl_not_ok "StopPodSandbox + RemovePodSandbox $name"
	tl_diag "StopPodSandbox + RemovePodSandbox $name: $((($(date +%s%N) - t0) / 1000000)) ms"
done
calls_report report | sed 's/^/# /'
tl_diag "plugin calls in order: $(calls_report verbs)"
tl_check "every plugin call exited 0" test -z "$(calls_report failed)"
tl_check "after StopPodSandbox + RemovePodSandbox: no link pinned" test "$(pins_in "$TL_BPFFS/links")" = 0
tl_check "... no program left on any pod cgroup" progs_gone "${POD_CG[annotated]}" "${POD_CG[by-namespace]}"
tl_check "... no pod network namespace left" test -z "$(cri_in_ns ls -A /run/netns 2>/dev/null)"
tl_check "... no pod container cgroup left under the pod cgroups" \
	test -z "$(find "${POD_CG[annotated]}" "${POD_CG[by-namespace]}" "${POD_CG[opted-out]}" -mindepth 1 -type d)"

tl_finish

#!/usr/bin/env bash
# 100 pods through the real plugin binary at once (README.md invariant 3), as
# a busy runtime calls it: ADDs 32 at a time with some pods ADDed twice
# concurrently, CHECK of all, 10 pod cgroups removed (their links defunct:
# CHECK must say so, GC must remove exactly those), then DELs 32 at a time,
# every DEL issued twice at once, 20 of them after their cgroup is gone, and
# every DEL once more at the end. Every call must succeed (except the CHECKs
# of the defunct ones), and nothing may be left: no pins, no bpf_link in the
# kernel running our programs, no program on any pod cgroup.
# All along, a real client pod attached through the same plugin and bpffs root
# connects to a ClusterIP in a loop: the other pods' calls (and GC) must never
# disturb it (zero failed connects).
# shellcheck disable=SC2046 # lists of pod indexes and program ids are meant to split
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

PLUGIN=$TL_BUILD/socklb
N=${FAULT_PODS:-100}
PAR=32
NETNS=slb-$TL_ID-cni
ip netns add "$NETNS"
TL_NETNS+=("$NETNS")
RESULTS=$TL_TMP/results
mkdir -p "$RESULTS"
QOS=(burstable besteffort)

pod_uid() { printf '%08x-%04x-4000-8000-%012x' "$((0x$TL_ID))" "$1" "$1"; }
# Alternate kubelet's two drivers and the QoS classes.
pod_cgroup() {
	local i=$1 uid
	uid=$(pod_uid "$i")
	if ((i % 2)); then
		echo "$TL_CG/kubepods/${QOS[$((i / 2 % 2))]}/pod$uid"
	else
		local q=${QOS[$((i / 2 % 2))]}
		echo "$TL_CG/kubepods.slice/kubepods-$q.slice/kubepods-$q-pod${uid//-/_}.slice"
	fi
}
cid() { echo "pod-$TL_ID-$1"; }
links_of() { echo "$TL_BPFFS/links/$(cid "$1")_-eth0"; }

# One plugin call, as a runtime makes it; "VERB INDEX TAG" appends "rc code" to RESULTS/VERB-INDEX-TAG.
cat >"$TL_TMP/cni" <<'EOF'
#!/usr/bin/env bash
verb=$1 i=$2 tag=$3
uid=$(printf '%08x-%04x-4000-8000-%012x' "$((0x$TL_ID))" "$i" "$i")
prev='"prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.244.1.5/24"}]},'
[ "$verb" = DEL ] && prev=
conf=$(printf '{"cniVersion": "1.1.0", "name": "socklb-fault", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s", %s
 "failurePolicy": "Fail", "attachFailuresFile": "%s/attach-failures",
 "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}}' "$TL_BPFFS" "$TL_CG" "$prev" "$TL_TMP")
out=$(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND="$verb" CNI_CONTAINERID="pod-$TL_ID-$i" \
	CNI_NETNS="/var/run/netns/$NETNS" CNI_IFNAME=eth0 \
	CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=fault;K8S_POD_NAME=pod-$i;K8S_POD_UID=$uid" \
	"$PLUGIN" 2>>"$RESULTS/stderr")
rc=$?
code=$(grep -o '"code":[[:space:]]*[0-9]*' <<<"$out" | grep -o '[0-9]*$')
echo "$rc ${code:-0}" >>"$RESULTS/$verb-$i-$tag"
EOF
chmod +x "$TL_TMP/cni"
export TL_ID TL_BPFFS TL_CG NETNS PLUGIN RESULTS

# calls VERB TAG INDEX...: every call at once, PAR at a time.
calls() {
	local verb=$1 tag=$2 t0
	shift 2
	t0=$(date +%s%3N)
	printf '%s\n' "$@" | xargs -P "$PAR" -I{} "$TL_TMP/cni" "$verb" {} "$tag"
	tl_diag "$verb: $# calls, $PAR at a time, $(($(date +%s%3N) - t0)) ms"
}
# failed VERB TAG: the calls that did not exit 0.
failed() {
	cat "$RESULTS/$1-"*"-$2" 2>/dev/null | grep -vc '^0 '
}
seq_all() { seq 0 $((N - 1)); }

# Our programs' ids, and the kernel's links that run one of them.
prog_ids() {
	local p
	for p in "$TL_BPFFS"/prog/*/*; do
		bpftool prog show pinned "$p" -j 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
	done
}
kernel_links() {
	bpftool link show -j | python3 -c '
import json, sys
ours = set(int(x) for x in sys.argv[1:])
print(sum(1 for l in json.load(sys.stdin) if l.get("prog_id") in ours))' $(prog_ids)
}
progs_on_cgroups() {
	bpftool cgroup tree "$TL_CG" 2>/dev/null | grep -c ' socklb_'
}
pins() { find "$TL_BPFFS/links" -mindepth 1 2>/dev/null | wc -l; }

for i in $(seq_all); do
	mkdir -p "$(pod_cgroup "$i")"
done

# The live client pod: ADDed through the plugin (its cgroup by runtimeConfig.cgroupPath),
# a backend pod behind 10.96.0.10:80, and a connect loop until the end.
P=$TL_TOOLS/slb-probe
VIP=10.96.0.10
tl_pod client 10.244.0.2/24
tl_pod web 10.244.0.11/24
tl_bg_in_pod web "$P" server tcp 0.0.0.0 8080 web
client_cni() {
	local prev='"prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.244.0.2/24"}]},'
	[ "$1" = ADD ] || prev=
	printf '{"cniVersion": "1.1.0", "name": "socklb-fault", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s", %s
 "failurePolicy": "Fail", "attachFailuresFile": "%s/attach-failures",
 "runtimeConfig": {"cgroupPath": "/client", "io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}}' \
		"$TL_BPFFS" "$TL_CG" "$prev" "$TL_TMP" |
		env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="client-$TL_ID" CNI_IFNAME=eth0 \
			CNI_NETNS="/var/run/netns/$(tl_pod_ns client)" \
			CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=fault;K8S_POD_NAME=client" "$PLUGIN" >/dev/null
}
tl_check "the client pod is ADDed through the plugin" client_cni ADD
tl_check "a ClusterIP with the backend pod" "$TL_TOOLS/slb-testctl" svc "$TL_BPFFS" "$VIP" 80 tcp 0 10.244.0.11:8080
reaches_vip() {
	local _
	for _ in $(seq 50); do
		tl_in_pod client "$P" tcp "$VIP" 80 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
tl_check "the client reaches it through the ClusterIP" reaches_vip
tl_loop_start client "$VIP" 80
CLIENT_PINS=9 CLIENT_LINKS=8

# ADD: every pod, and the first 20 a second time in the same burst.
calls ADD a $(seq_all) $(seq 0 19)
tl_check "every ADD succeeded, also the 20 repeated at once ($(failed ADD a) failed)" test "$(failed ADD a)" = 0
tl_check "$N attachments of 8 links each, and the client's ($(pins) pins)" test "$(pins)" = $((N * 9 + CLIENT_PINS))
tl_check "8 programs on each pod cgroup, never 16 ($(progs_on_cgroups) in all)" \
	test "$(progs_on_cgroups)" = $((N * 8 + CLIENT_LINKS))
PROG_IDS=$(prog_ids | tr '\n' ' ')
tl_check "the kernel has one link per hook and pod ($(kernel_links))" test "$(kernel_links)" = $((N * 8 + CLIENT_LINKS))

calls CHECK a $(seq_all)
tl_check "CHECK of every pod succeeds" test "$(failed CHECK a)" = 0

# Pods 0-9: kubelet removed their cgroup, the runtime never said DEL.
for i in $(seq 0 9); do
	rmdir "$(pod_cgroup "$i")"
done
calls CHECK b $(seq_all)
tl_check "CHECK fails for exactly the 10 pods whose cgroup is gone" test "$(failed CHECK b)" = 10
tl_check "... and it is those 10" bash -c "for i in \$(seq 0 9); do grep -qv '^0 ' '$RESULTS'/CHECK-\$i-b || exit 1; done"
codes=$(cat "$RESULTS"/CHECK-[0-9]-b | sort | uniq -c | tr -s ' \n' ' ')
tl_diag "CHECK of a pod whose cgroup is gone: exit status and CNI code: $codes"

keep=$(for i in $(seq 10 $((N - 1))); do printf '{"containerID": "%s", "ifname": "eth0"},' "$(cid "$i")"; done
	printf '{"containerID": "client-%s", "ifname": "eth0"},' "$TL_ID")
printf '{"cniVersion": "1.1.0", "name": "socklb-fault", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s",
 "cni.dev/valid-attachments": [%s]}' "$TL_BPFFS" "$TL_CG" "${keep%,}" |
	env -i PATH="$PATH" CNI_COMMAND=GC "$PLUGIN" >"$TL_TMP/gc.out" 2>>"$RESULTS/stderr"
tl_check "GC with the $((N - 10)) live attachments succeeds" test "$?" = 0
gone=0
for i in $(seq 0 9); do [ -e "$(links_of "$i")" ] || gone=$((gone + 1)); done
tl_check "GC removed the 10 defunct attachments ($gone)" test "$gone" = 10
tl_check "GC kept the $((N - 10)) live ones and the client's whole ($(pins) pins)" \
	test "$(pins)" = $(((N - 10) * 9 + CLIENT_PINS))
calls CHECK c $(seq 10 $((N - 1)))
tl_check "CHECK agrees with GC: every kept pod still checks out" test "$(failed CHECK c)" = 0
tl_check "the kernel freed the defunct pods' links ($(kernel_links) left)" \
	test "$(kernel_links)" = $(((N - 10) * 8 + CLIENT_LINKS))

# Pods 10-29: kubelet removes the cgroup before the runtime's DEL.
for i in $(seq 10 29); do
	rmdir "$(pod_cgroup "$i")" 2>/dev/null
done
calls DEL a $(seq_all) $(seq_all)
tl_check "every DEL succeeded: twice at once, after GC, after the cgroup was removed ($(failed DEL a) failed)" \
	test "$(failed DEL a)" = 0
calls DEL b $(seq_all)
tl_check "DEL once more for every pod succeeds" test "$(failed DEL b)" = 0

tl_loop_check "from the live pod during concurrent ADD/CHECK/GC/DEL"
tl_check "the client pod's DEL succeeds" client_cni DEL
tl_check "no pin left under links/" test "$(pins)" = 0
left=$(bpftool link show -j | python3 -c '
import json, sys
ours = set(int(x) for x in sys.argv[1:])
print(sum(1 for l in json.load(sys.stdin) if l.get("prog_id") in ours))' $PROG_IDS)
tl_check "no bpf_link left in the kernel running our programs ($left)" test "$left" = 0
tl_check "no program left on any pod cgroup" test "$(progs_on_cgroups)" = 0
if [ -s "$RESULTS/stderr" ]; then
	tl_diag "plugin stderr lines: $(wc -l <"$RESULTS/stderr") (errors: $(grep -c ' error: ' "$RESULTS/stderr"))"
	grep ' error: ' "$RESULTS/stderr" | grep -v 'cgroup' | head -3 | sed 's/^/# /'
fi
tl_finish

#!/usr/bin/env bash
# The plugin in a real chain under cnitool: bridge + host-local, then socklb,
# from a conflist in a private NETCONFPATH. Pods are network namespaces with
# kubelet-style cgroups (systemd and cgroupfs naming, every QoS class), with
# CNI_ARGS (namespace, name, UID) and CAP_ARGS (cgroupPath, annotations).
#   - an opted-in pod's connect to the VIP reaches a backend pod; a pod that
#     did not opt in is not translated (the VIP range is unreachable there);
#   - CHECK and DEL through cnitool;
#   - 50 pods ADDed and DELed concurrently: every opted-in pod attached, no
#     pins and no links of ours left;
#   - same-pod ADD/DEL races leave all or nothing;
#   - ADD latency (programs already pinned), printed as "# ..." lines.
source "$(dirname "$0")/../lib.sh"
tl_init

PLUGIN=$TL_BUILD/socklb
P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
NET=socklb-$TL_ID
# lib.sh's clean-up deletes it.
TL_BR=slbc$TL_ID
SUBNET=10.244.7.0/24
VIP=10.96.0.10

if ! CNITOOL=$(bash "$TL_ROOT/hack/build-cnitool.sh"); then
	tl_not_ok "hack/build-cnitool.sh could not provide cnitool"
	tl_finish
fi

mkdir -p "$TL_TMP/bin" "$TL_TMP/net.d" "$TL_TMP/ipam"
ln -s /usr/lib/cni/bridge /usr/lib/cni/host-local "$TL_TMP/bin/"
ln -s "$PLUGIN" "$TL_TMP/bin/socklb"
cat >"$TL_TMP/net.d/10-$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$TL_BR",
      "isGateway": false,
      "isDefaultGateway": false,
      "ipMasq": false,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET" }]], "dataDir": "$TL_TMP/ipam" }
    },
    {
      "type": "socklb",
      "bpffsRoot": "$TL_BPFFS",
      "cgroupRoot": "$TL_CG",
      "namespaces": ["team-lb"],
      "logFile": "$TL_TMP/socklb.log",
      "logLevel": "info",
      "failurePolicy": "Fail",
      "attachFailuresFile": "$TL_TMP/attach-failures",
      "capabilities": { "cgroupPath": true, "io.kubernetes.cri.pod-annotations": true }
    }
  ]
}
EOF

tl_extra_cleanup() {
	# cnitool caches each ADD's result; DEL removes it, a failed run may not have.
	rm -f /var/lib/cni/results/"$NET"-*
}

export CNI_PATH=$TL_TMP/bin NETCONFPATH=$TL_TMP/net.d

# The bridge plugin records the bridge's MAC in each result and CHECK compares
# it; a bridge takes the lowest port MAC unless one is set, so set one.
ip link add "$TL_BR" type bridge
ip link set "$TL_BR" address 02:00:00:00:7b:01 up

declare -A POD_CG POD_IP
NPOD=0

# kubelet's pod cgroup, relative to the cgroup root: DRIVER (systemd|cgroupfs) QOS UID.
kubelet_cgroup() {
	local driver=$1 qos=$2 uid=$3 u=${3//-/_}
	case $driver/$qos in
	systemd/guaranteed) echo "/kubepods.slice/kubepods-pod$u.slice" ;;
	systemd/*) echo "/kubepods.slice/kubepods-$qos.slice/kubepods-$qos-pod$u.slice" ;;
	cgroupfs/guaranteed) echo "/kubepods/pod$uid" ;;
	cgroupfs/*) echo "/kubepods/$qos/pod$uid" ;;
	esac
}

# pod_prepare NAME DRIVER QOS NAMESPACE ANNOTATION CGROUPPATH_FORM: netns, cgroup, and
# the CNI_ARGS and CAP_ARGS cnitool will pass. ANNOTATION: true|false|none. FORM: full|leaf|none.
declare -A POD_ARGS POD_CAPS
pod_prepare() {
	local name=$1 driver=$2 qos=$3 ns=$4 ann=$5 form=$6 uid rel caps='' path=''
	NPOD=$((NPOD + 1))
	uid=$(printf '%08x-%04x-4000-8000-%012x' "$((0x$TL_ID))" "$NPOD" "$RANDOM")
	rel=$(kubelet_cgroup "$driver" "$qos" "$uid")
	mkdir -p "$TL_CG$rel"
	POD_CG[$name]=$TL_CG$rel
	ip netns add "slb-$TL_ID-$name"
	TL_NETNS+=("slb-$TL_ID-$name")
	case $form in
	full) path=$rel ;;
	leaf) path=${rel##*/} ;;
	esac
	[ -n "$path" ] && caps="\"cgroupPath\": \"$path\""
	if [ "$ann" != none ]; then
		caps="$caps${caps:+, }\"io.kubernetes.cri.pod-annotations\": {\"socklb.io/enabled\": \"$ann\", \"other\": \"x\"}"
	fi
	POD_CAPS[$name]="{$caps}"
	POD_ARGS[$name]="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$name;K8S_POD_UID=$uid"
}

# cnitool VERB NAME [> output]
pod_cni() {
	local verb=$1 name=$2
	CNI_ARGS=${POD_ARGS[$name]} CAP_ARGS=${POD_CAPS[$name]} "$CNITOOL" "$verb" "$NET" "/var/run/netns/slb-$TL_ID-$name"
}

# pod_add NAME: cnitool add, remember the pod IP, make the VIP range unreachable in the pod.
pod_add() {
	local name=$1
	if ! pod_cni add "$name" >"$TL_TMP/result.$name" 2>"$TL_TMP/error.$name"; then
		tl_diag "cnitool add $name: $(cat "$TL_TMP/error.$name")"
		return 1
	fi
	POD_IP[$name]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ips"][0]["address"].split("/")[0])' \
		"$TL_TMP/result.$name")
	ip -n "slb-$TL_ID-$name" route replace unreachable "$TL_VIP_RANGE4"
}

# Join the pod cgroup first: ip netns exec remounts /sys.
in_pod() {
	local name=$1
	shift
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ "${POD_CG[$name]}" "slb-$TL_ID-$name" "$@"
}

socklb_progs_on() {
	bpftool cgroup show "$1" 2>/dev/null | grep -c socklb_
}
# The kernel releases an unpinned link from a work queue, a moment after the
# unpin: wait (up to 2 s) for the count of programs on cgroup $1 to become $2.
progs_settle() {
	local i
	for i in $(seq 40); do
		[ "$(socklb_progs_on "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- backends
for b in web1 web2; do
	pod_prepare "$b" cgroupfs besteffort default none none
	pod_add "$b" || tl_not_ok "cnitool add $b"
	ip netns exec "slb-$TL_ID-$b" "$P" server tcp 0.0.0.0 8080 "$b" &
	TL_PIDS+=($!)
done

# ---------------------------------------------------------------- clients
# name driver qos namespace annotation cgroupPath-form expected
CLIENTS=(
	"sd-burst systemd burstable default true full yes"
	"sd-best systemd besteffort team-lb none leaf yes"
	"sd-guar systemd guaranteed default true none yes"
	"fs-burst cgroupfs burstable team-lb none none yes"
	"fs-guar cgroupfs guaranteed default true full yes"
	"fs-best cgroupfs besteffort default none none no"
	"sd-out systemd burstable team-lb false full no"
)
for c in "${CLIENTS[@]}"; do
	read -r name driver qos ns ann form _ <<<"$c"
	pod_prepare "$name" "$driver" "$qos" "$ns" "$ann" "$form"
	desc="cnitool add $name ($driver, $qos, ns $ns, annotation $ann, cgroupPath $form)"
	if pod_add "$name"; then tl_ok "$desc"; else tl_not_ok "$desc"; fi
done

"$CTL" svc "$TL_BPFFS" "$VIP" 80 tcp 0 "${POD_IP[web1]}:8080" "${POD_IP[web2]}:8080" >/dev/null ||
	tl_not_ok "filling the service map"
tl_wait_tcp_ip() {
	local i
	for i in $(seq 50); do
		ip netns exec "slb-$TL_ID-web1" "$P" tcp "${POD_IP[web2]}" 8080 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
tl_wait_tcp_ip || tl_not_ok "backends did not start"

for c in "${CLIENTS[@]}"; do
	read -r name _ _ _ _ _ expected <<<"$c"
	out=$(in_pod "$name" "$P" tcp "$VIP" 80 2>&1)
	if [ "$expected" = yes ]; then
		tl_check "$name: connect to the VIP reaches a backend pod ($out)" \
			grep -Eq "^reply web[12] peer $VIP:80$" <<<"$out"
		tl_check "$name: 8 programs linked to its kubelet-style cgroup" \
			test "$(socklb_progs_on "${POD_CG[$name]}")" = 8
	else
		tl_check "$name: not opted in, connect to the VIP is not translated ($out)" grep -q "^error" <<<"$out"
		tl_check "$name: nothing linked to its cgroup" test "$(socklb_progs_on "${POD_CG[$name]}")" = 0
	fi
done

tl_check "cnitool check of an opted-in pod succeeds" pod_cni check sd-burst
tl_check "cnitool check of a pod that did not opt in succeeds" pod_cni check fs-best
# cnitool names the container after its netns path: "cnitool-" + 10 bytes of its SHA-512.
attachment_of() {
	python3 -c 'import hashlib,sys; print("cnitool-" + hashlib.sha512(sys.argv[1].encode()).hexdigest()[:20] + "_-eth0")' \
		"/var/run/netns/slb-$TL_ID-$1"
}
rm -f "$TL_BPFFS/links/$(attachment_of sd-burst)/socklb_getpeer4"
check_fails() {
	! pod_cni check "$1" >/dev/null 2>&1
}
tl_check "cnitool check fails once a link of the pod was removed" check_fails sd-burst
if ! pod_cni del sd-burst || ! pod_add sd-burst; then
	tl_not_ok "cnitool del + add of sd-burst"
fi
tl_check "after cnitool del + add the links are whole again: check passes" pod_cni check sd-burst

for c in "${CLIENTS[@]}"; do
	read -r name _ <<<"$c"
	pod_cni del "$name" || tl_not_ok "cnitool del $name"
done
clients_unlinked() {
	local c name
	for c in "${CLIENTS[@]}"; do
		read -r name _ <<<"$c"
		progs_settle "${POD_CG[$name]}" 0 || return 1
	done
}
tl_check "cnitool del removed every client's links" clients_unlinked
tl_check "no attachment directory left after DEL" test -z "$(ls -A "$TL_BPFFS/links")"
out=$(in_pod sd-burst "$P" tcp "$VIP" 80 2>&1)
tl_check "after DEL the pod's connect is no longer translated ($out)" grep -q "^error" <<<"$out"

# ---------------------------------------------------------------- 50 concurrent pods
DRIVERS=(systemd cgroupfs)
QOS=(burstable besteffort guaranteed)
FORMS=(full leaf none)
MANY=()
for i in $(seq 1 50); do
	name=c$i
	driver=${DRIVERS[$((i % 2))]}
	form=${FORMS[$((i % 3))]}
	[ "$driver" = cgroupfs ] && [ "$form" = leaf ] && form=full
	# every other pod opted in: by namespace, by annotation, or not at all
	case $((i % 4)) in
	0) ns=team-lb ann=none ;;
	1) ns=default ann=true ;;
	2) ns=default ann=none ;;
	3) ns=team-lb ann=false ;;
	esac
	pod_prepare "$name" "$driver" "${QOS[$((i % 3))]}" "$ns" "$ann" "$form"
	MANY+=("$name")
done
start=$EPOCHREALTIME
for name in "${MANY[@]}"; do
	(pod_cni add "$name" >"$TL_TMP/add.$name" 2>&1; echo $? >"$TL_TMP/add.$name.rc") &
done
wait_adds() {
	local name
	for name in "${MANY[@]}"; do
		while [ ! -s "$TL_TMP/add.$name.rc" ]; do sleep 0.05; done
	done
}
wait_adds
tl_diag "50 concurrent cnitool add (bridge + host-local + socklb): $(python3 -c "print(round(($EPOCHREALTIME - $start) * 1000))") ms"
failed_adds=$(grep -Lx 0 "$TL_TMP"/add.c*.rc | wc -l)
tl_check "50 concurrent cnitool add: all succeeded" test "$failed_adds" = 0
bad=0
for i in $(seq 1 50); do
	want=0
	case $((i % 4)) in 0 | 1) want=8 ;; esac
	got=$(socklb_progs_on "${POD_CG[c$i]}")
	[ "$got" = "$want" ] || {
		bad=$((bad + 1))
		tl_diag "c$i: $got programs linked, want $want"
	}
done
tl_check "every opted-in pod of 50 is attached (8 links), no other pod is" test "$bad" = 0
tl_check "25 attachment directories for 25 opted-in pods" \
	test "$(find "$TL_BPFFS/links" -mindepth 1 -maxdepth 1 | wc -l)" = 25

for name in "${MANY[@]}"; do
	(pod_cni del "$name" >"$TL_TMP/del.$name" 2>&1; echo $? >"$TL_TMP/del.$name.rc") &
done
for name in "${MANY[@]}"; do
	while [ ! -s "$TL_TMP/del.$name.rc" ]; do sleep 0.05; done
done
tl_check "50 concurrent cnitool del: all succeeded" test "$(grep -Lx 0 "$TL_TMP"/del.c*.rc | wc -l)" = 0
tl_check "no pins left under links/ after 50 DELs" test -z "$(find "$TL_BPFFS/links" -mindepth 1)"

our_prog_ids() {
	local f
	for f in "$TL_BPFFS"/prog/*/*; do
		bpftool prog show pinned "$f" | awk -F: 'NR == 1 { print $1 }'
	done
}
links_of_ours() {
	local ids
	ids=$(our_prog_ids | paste -sd'|')
	[ -n "$ids" ] || return 0
	bpftool link show | grep -Ec "prog ($ids)\b" || true
}
tl_check "no links of ours left in bpftool link" test "$(links_of_ours)" = 0

# ---------------------------------------------------------------- same-pod races
# ADD and DEL of one pod racing each other: each step is whole, so afterwards the
# attachment is either complete (8 links) or absent, never half.
race_conf=$(python3 -c '
import json, sys
net = json.load(open(sys.argv[1]))
conf = net["plugins"][1]
conf.update(cniVersion=net["cniVersion"], name=net["name"])
conf["runtimeConfig"] = {"cgroupPath": sys.argv[2], "io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}
conf["prevResult"] = {"cniVersion": net["cniVersion"], "ips": [{"address": "10.244.7.99/24"}]}
print(json.dumps(conf))' "$TL_TMP/net.d/10-$NET.conflist" "${POD_CG[c1]#"$TL_CG"}")
direct() {
	printf '%s' "$race_conf" | CNI_COMMAND=$1 CNI_CONTAINERID=race-$TL_ID CNI_NETNS=/var/run/netns/slb-$TL_ID-c1 \
		CNI_IFNAME=eth0 CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=c1" "$PLUGIN" >/dev/null 2>>"$TL_TMP/race.log"
}
race_ok=0
for round in $(seq 1 20); do
	pids=()
	for _ in 1 2 3; do
		direct ADD &
		pids+=($!)
		direct DEL &
		pids+=($!)
	done
	wait "${pids[@]}"
	n=$(find "$TL_BPFFS/links/race-${TL_ID}_-eth0" -mindepth 1 2>/dev/null | wc -l)
	progs_settle "${POD_CG[c1]}" "$n"
	progs=$(socklb_progs_on "${POD_CG[c1]}")
	if { [ "$n" = 8 ] || [ "$n" = 0 ]; } && [ "$progs" = "$n" ]; then
		race_ok=$((race_ok + 1))
	else
		tl_diag "round $round: $n pins, $progs programs on the cgroup"
	fi
done
tl_check "20 rounds of 3 ADDs racing 3 DELs of one pod: always all or nothing" test "$race_ok" = 20
direct DEL
fully_removed() {
	[ ! -e "$TL_BPFFS/links/race-${TL_ID}_-eth0" ] && progs_settle "${POD_CG[c1]}" 0
}
tl_check "the raced pod is fully removed by a last DEL" fully_removed

# ---------------------------------------------------------------- ADD latency
# The plugin alone, as the runtime calls it, with programs already pinned:
# each ADD opens the pins and links 8 hooks; DEL (not timed) in between.
samples=$TL_TMP/add-latency
: >"$samples"
lat_fail=0
for i in $(seq 1 200); do
	t0=$EPOCHREALTIME
	printf '%s' "$race_conf" | CNI_COMMAND=ADD CNI_CONTAINERID=lat-$TL_ID-$i CNI_NETNS=/var/run/netns/slb-$TL_ID-c1 \
		CNI_IFNAME=eth0 CNI_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=c1" "$PLUGIN" >/dev/null 2>&1 || lat_fail=$((lat_fail + 1))
	t1=$EPOCHREALTIME
	echo "$t0 $t1" >>"$samples"
	printf '%s' "$race_conf" | CNI_COMMAND=DEL CNI_CONTAINERID=lat-$TL_ID-$i CNI_IFNAME=eth0 "$PLUGIN" >/dev/null 2>&1
done
tl_check "200 timed ADDs succeeded" test "$lat_fail" = 0
python3 - "$samples" <<'EOF'
import sys
ms = sorted((float(b) - float(a)) * 1000 for a, b in (l.split() for l in open(sys.argv[1])))
def pct(p):
    return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]
print("# ADD latency, programs already pinned, %d ADDs (process start to exit): p50 %.2f ms, p99 %.2f ms, max %.2f ms"
      % (len(ms), pct(50), pct(99), ms[-1]))
EOF
tl_check "no pins left after the latency run" test -z "$(find "$TL_BPFFS/links" -mindepth 1)"

tl_finish

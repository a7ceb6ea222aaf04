#!/usr/bin/env bash
# The plugin binary run the way a runtime runs it (CNI_* environment, config
# on stdin, result or error JSON on stdout), for every supported cniVersion:
# VERSION, ADD pass-through, ADD without prevResult, bad JSON, bad config,
# CHECK (intact and with a link removed), DEL twice and without a netns, GC,
# STATUS; prevResult converted up and down between versions; then an upgrade
# simulated beside this build's programs moved aside (CHECK of the older
# build's pod, its programs pruned after its DEL).
# The configuration says failurePolicy Fail, so that an opted-in pod's
# failures are the CNI errors (plugin_failure_policy.sh tests Ignore, and
# the pods that did not opt in under both).
# Private bpffs root and cgroup subtree; nothing else is touched.
source "$(dirname "$0")/../lib.sh"
tl_init

PLUGIN=$TL_BUILD/socklb
VERSIONS=(0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)
NETNS=slb-$TL_ID-cni
ip netns add "$NETNS"
TL_NETNS+=("$NETNS")
NETNS_PATH=/var/run/netns/$NETNS
STDERR_LOG=$TL_TMP/plugin.stderr

# Every JSON question goes through python3 (a declared dependency).
json() {
	python3 -c "$1" "${@:2}"
}
# field NAME: a top-level field of $OUT.
field() {
	json 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2], ""); print(v)' "$OUT" "$1" 2>/dev/null
}
json_equal() {
	json 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$1" "$2"
}

# plugin COMMAND CONTAINERID CONFIG [VAR=VALUE...]: sets OUT (stdout) and RC.
plugin() {
	local cmd=$1 cid=$2 conf=$3
	shift 3
	OUT=$(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" \
		CNI_NETNS="$NETNS_PATH" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni CNI_ARGS="$POD_ARGS" "$@" \
		"$PLUGIN" 2>>"$STDERR_LOG")
	RC=$?
}

# The error names $1 exactly once in "msg: details", the form the log line shows.
names_once() {
	json 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if (d["msg"] + ": " + d.get("details", "")).count(sys.argv[2]) == 1 else 1)' "$OUT" "$1"
}
# An error answer: non-zero exit, and stdout is exactly one error JSON with this code.
is_error() {
	local code=$1 want_msg=${2:-}
	[ "$RC" -ne 0 ] || return 1
	[ "$(field code)" = "$code" ] || return 1
	[ -n "$(field msg)" ] || return 1
	[ -z "$want_msg" ] || [[ "$(field msg) $(field details)" == *"$want_msg"* ]]
}
is_silent_success() {
	[ "$RC" -eq 0 ] && [ -z "$OUT" ]
}
# A successful ADD whose stdout is the given prevResult.
passed_through() {
	[ "$RC" -eq 0 ] && json_equal "$OUT" "$1"
}
succeeded_and_gone() {
	[ "$RC" -eq 0 ] && [ ! -e "$1" ]
}

# prevResult as the primary plugin would give it at version $1: an IPv4 and an IPv6 address
# (0.x results carry ips[].version); a 1.1.0 result carries some of the fields 1.1.0 added.
prev_result() {
	local v=$1 v4='' v6='' if11='' rt11=''
	if [[ $v == 0.* ]]; then
		v4='"version": "4",'
		v6='"version": "6",'
	fi
	if [ "$v" = 1.1.0 ]; then
		if11=', "mtu": 1450'
		rt11=', "mtu": 1400, "table": 254'
	fi
	printf '{"cniVersion": "%s", "interfaces": [{"name": "eth0", "mac": "0a:58:0a:f4:01:05", "sandbox": "%s"%s}],
	 "ips": [{%s "address": "10.244.1.5/24", "gateway": "10.244.1.1", "interface": 0},
	         {%s "address": "fd00:10:244:1::5/64", "gateway": "fd00:10:244:1::1", "interface": 0}],
	 "routes": [{"dst": "10.244.0.0/16"%s}, {"dst": "fd00:10:244::/48"}],
	 "dns": {"nameservers": ["10.96.0.10"]}}' "$v" "$NETNS_PATH" "$if11" "$v4" "$v6" "$rt11"
}

# config VERSION [EXTRA_JSON_MEMBERS] [PREV_RESULT]; BPFFS and CGROOT override the roots.
config() {
	local v=$1 extra=${2:-} prev=${3:-}
	printf '{"cniVersion": "%s", "name": "socklb-test", "type": "socklb", "bpffsRoot": "%s",
	 "cgroupRoot": "%s", "logLevel": "debug", "failurePolicy": "Fail", "attachFailuresFile": "%s",
	 "capabilities": {"cgroupPath": true, "io.kubernetes.cri.pod-annotations": true}%s%s}' \
		"$v" "${BPFFS:-$TL_BPFFS}" "${CGROOT:-$TL_CG}" "$TL_TMP/attach-failures" "${extra:+, $extra}" \
		"${prev:+, \"prevResult\": $prev}"
}

# A Kubernetes-like pod UID, unique to this run and index $1.
pod_uid() {
	printf '%08x-%04x-4000-8000-%012x' "$((0x$TL_ID))" "$1" "$RANDOM"
}
links_of() {
	echo "$TL_BPFFS/links/$1_-eth0"
}
pins_in() {
	find "$1" -mindepth 1 2>/dev/null | wc -l
}
progs_on() {
	bpftool cgroup show "$1" 2>/dev/null | grep -c socklb_
}
# The kernel releases an unpinned link from a work queue, a moment after the
# unpin: wait (up to 2 s) for the count of our programs on cgroup $1 to be $2.
progs_settle() {
	local i
	for i in $(seq 40); do
		[ "$(progs_on "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
OPT_IN='"runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}'

for i in "${!VERSIONS[@]}"; do
	v=${VERSIONS[$i]}
	vid=${v//./}
	cid=cni-$TL_ID-$vid
	uid=$(pod_uid "$i")
	# kubelet's cgroupfs driver, Burstable QoS
	cg=$TL_CG/kubepods/burstable/pod$uid
	mkdir -p "$cg"
	POD_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=team-$vid;K8S_POD_NAME=web-$vid;K8S_POD_UID=$uid"
	prev=$(prev_result "$v")

	plugin VERSION "" "{\"cniVersion\": \"$v\"}"
	tl_check "$v VERSION answers in $v and lists every supported version" \
		json 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["cniVersion"] == sys.argv[2] and d["supportedVersions"] == ["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"] else 1)' "$OUT" "$v"

	plugin ADD "$cid" "$(config "$v" "$OPT_IN" "$prev")"
	tl_check "$v ADD (opted in) exits 0 and stdout equals prevResult" passed_through "$prev"
	tl_check "$v ADD pinned one link per hook (8) for the attachment" test "$(pins_in "$(links_of "$cid")")" = 8
	tl_check "$v ADD linked the programs to the pod cgroup" progs_settle "$cg" 8

	plugin ADD "$cid" "$(config "$v" "$OPT_IN" "$prev")"
	tl_check "$v ADD repeated: still 8 links, still one set on the cgroup" \
		test "$RC:$(pins_in "$(links_of "$cid")")" = 0:8
	progs_settle "$cg" 8 || tl_not_ok "$v ADD repeated: $(progs_on "$cg") programs on the cgroup, want 8"

	plugin ADD "$cid-out" "$(config "$v" "" "$prev")"
	tl_check "$v ADD (not opted in): stdout equals prevResult" passed_through "$prev"
	tl_check "$v ADD (not opted in): nothing attached" test ! -e "$(links_of "$cid-out")"

	plugin ADD "$cid-x" "$(config "$v" "$OPT_IN")"
	tl_check "$v ADD without prevResult: error \"must be called as a chained plugin\"" \
		is_error 7 "must be called as a chained plugin"
	tl_check "$v error JSON carries cniVersion $v" test "$(field cniVersion)" = "$v"

	plugin ADD "$cid-x" "{\"cniVersion\": \"$v\", \"name\": "
	tl_check "$v bad JSON: code 6" is_error 6

	plugin ADD "$cid-x" "$(BPFFS=relative/root config "$v" "$OPT_IN" "$prev")"
	tl_check "$v bad config (relative bpffsRoot), opted-in pod: code 7 naming the key" is_error 7 bpffsRoot
	tl_check "$v bad config (relative bpffsRoot): the error names the key once" names_once bpffsRoot
	plugin ADD "$cid-x" "$(config "$v" "\"namespaces\": \"default\", $OPT_IN" "$prev")"
	tl_check "$v bad config (namespaces not a list), opted-in pod: code 7 naming the key" is_error 7 namespaces
	tl_check "$v bad config (namespaces not a list): the error names the key once" names_once namespaces

	missing=${uid%-*}-ffffffffffff
	plugin ADD "$cid-x" "$(config "$v" "$OPT_IN" "$prev")" CNI_ARGS="K8S_POD_UID=$missing"
	tl_check "$v ADD for a pod without a cgroup: code 100 listing the paths tried" \
		is_error 100 "kubepods-besteffort-pod${missing//-/_}.slice"

	plugin ADD "$cid-x" "$(config "$v" "$OPT_IN" "$prev")" CNI_IFNAME=
	tl_check "$v ADD without CNI_IFNAME: code 4" is_error 4 CNI_IFNAME

	if [[ $v == 0.3.* ]]; then
		plugin CHECK "$cid" "$(config "$v" "$OPT_IN" "$prev")"
		tl_check "$v CHECK: refused, the version predates CHECK (code 1)" is_error 1 CHECK
	else
		plugin CHECK "$cid" "$(config "$v" "$OPT_IN" "$prev")"
		tl_check "$v CHECK after ADD: success, no output" is_silent_success
		plugin CHECK "$cid-out" "$(config "$v" "" "$prev")"
		tl_check "$v CHECK of a pod that did not opt in: success" is_silent_success
		plugin CHECK "$cid" "$(config "$v" "$OPT_IN")"
		tl_check "$v CHECK without prevResult: code 7" is_error 7 "chained plugin"
		rm -f "$(links_of "$cid")/socklb_connect4"
		plugin CHECK "$cid" "$(config "$v" "$OPT_IN" "$prev")"
		tl_check "$v CHECK with a link removed: code 105 naming the link" is_error 105 socklb_connect4
	fi

	plugin DEL "$cid" "$(config "$v" "$OPT_IN")"
	tl_check "$v DEL (no prevResult): success, no output" is_silent_success
	tl_check "$v DEL removed the attachment" test ! -e "$(links_of "$cid")"
	tl_check "$v DEL unlinked the programs from the cgroup" progs_settle "$cg" 0
	plugin DEL "$cid" "$(config "$v" "$OPT_IN")"
	tl_check "$v DEL again: success" is_silent_success
	plugin DEL "$cid-out" "$(config "$v" "" "$prev")" CNI_NETNS=
	tl_check "$v DEL with no netns: success" is_silent_success

	# DEL after the pod cgroup is gone (kubelet removed it first).
	plugin ADD "$cid" "$(config "$v" "$OPT_IN" "$prev")"
	rmdir "$cg"
	plugin DEL "$cid" "$(config "$v" "$OPT_IN")" CNI_NETNS=
	tl_check "$v DEL after the pod cgroup was removed: success, pins gone" succeeded_and_gone "$(links_of "$cid")"

	if [ "$v" != 1.1.0 ]; then
		plugin GC "" "$(config "$v" '"cni.dev/valid-attachments": []')"
		tl_check "$v GC: refused, the version predates GC (code 1)" is_error 1 GC
		plugin STATUS "" "$(config "$v")"
		tl_check "$v STATUS: refused, the version predates STATUS (code 1)" is_error 1 STATUS
		continue
	fi

	# GC: three attachments, one listed under each key name, one stale.
	mkdir -p "$cg"
	for c in keep1 keep2 stale; do
		plugin ADD "$cid-$c" "$(config "$v" "$OPT_IN" "$prev")"
	done
	plugin GC "" "$(config "$v" "\"cni.dev/valid-attachments\": [{\"containerID\": \"$cid-keep1\", \"ifname\": \"eth0\"}, {\"containerID\": \"$cid-keep2\", \"ifname\": \"eth0\"}]")"
	tl_check "$v GC: success, no output" is_silent_success
	tl_check "$v GC removed the unlisted attachment" test ! -e "$(links_of "$cid-stale")"
	tl_check "$v GC kept the listed attachments whole" \
		test "$(pins_in "$(links_of "$cid-keep1")"):$(pins_in "$(links_of "$cid-keep2")")" = 8:8
	plugin GC "" "$(config "$v" "\"cni.dev/attachments\": [{\"containerID\": \"$cid-keep1\", \"ifname\": \"eth0\"}]")"
	tl_check "$v GC with the older key cni.dev/attachments: keeps the one listed" test -e "$(links_of "$cid-keep1")"
	tl_check "$v GC with the older key cni.dev/attachments: removes the other" succeeded_and_gone "$(links_of "$cid-keep2")"
	plugin GC "" "$(config "$v" '"cni.dev/valid-attachments": null')"
	tl_check "$v GC with no valid attachment (null) removes them all" \
		test "$RC:$(ls -A "$TL_BPFFS/links")" = 0:
	tl_check "$v GC unlinked every program from the cgroup" progs_settle "$cg" 0
	plugin GC "" "$(config "$v")"
	tl_check "$v GC without the attachments list: code 7" is_error 7 valid-attachments
	tl_check "$v GC without the attachments list: the error names the key once" names_once valid-attachments

	plugin STATUS "" "$(config "$v")"
	tl_check "$v STATUS: available, no output" is_silent_success
	# A failed STATUS would make the runtime stop every pod of the node: it logs instead.
	mkdir -p "$TL_TMP/not-bpffs"
	plugin STATUS "" "$(BPFFS=$TL_TMP/not-bpffs/socklb config "$v")"
	tl_check "$v STATUS with bpffsRoot outside bpffs: success, the log says so" \
		bash -c '[ "$1" = 0 ] && [ -z "$2" ] && tail -1 "$3" | grep -q "STATUS: socklb cannot attach pods.*not on a bpf filesystem.*failurePolicy Fail"' \
		_ "$RC" "$OUT" "$STDERR_LOG"
	plugin STATUS "" "$(CGROOT=$TL_TMP config "$v")"
	tl_check "$v STATUS with cgroupRoot outside cgroup v2: success, the log says so" \
		bash -c '[ "$1" = 0 ] && [ -z "$2" ] && tail -1 "$3" | grep -q "STATUS: socklb cannot attach pods.*not on cgroup v2"' \
		_ "$RC" "$OUT" "$STDERR_LOG"
done

# prevResult in another version than the configuration's is printed converted: ips[].version
# is removed going up to 1.x and set from the address family going down to 0.x, the 1.1.0
# fields are removed below 1.1.0 (the log says which).
POD_ARGS="K8S_POD_NAMESPACE=team-conv;K8S_POD_NAME=conv"
plugin ADD "conv-$TL_ID" "$(config 1.0.0 "" "$(prev_result 0.4.0)")"
tl_check "config 1.0.0, prevResult 0.4.0: stdout is the 1.0.0 result (no ips[].version)" \
	passed_through "$(prev_result 1.0.0)"
plugin ADD "conv-$TL_ID" "$(config 0.3.1 "" "$(prev_result 1.1.0)")"
tl_check "config 0.3.1, prevResult 1.1.0: stdout is the 0.3.1 result (ips[].version 4 and 6, no 1.1.0 fields)" \
	passed_through "$(prev_result 0.3.1)"
tl_check "config 0.3.1, prevResult 1.1.0: the log names the 1.1.0 fields removed" \
	grep -q "converted from 1.1.0 to 0.3.1 without the 3 field(s) 0.3.1 does not have: interfaces\[0\].mtu, routes\[0\].mtu, routes\[0\].table" "$STDERR_LOG"
plugin ADD "conv-$TL_ID" "$(config 0.4.0 "" '{"cniVersion": "1.0.0", "ips": [{"address": "10.244.1.5"}]}')"
tl_check "config 0.4.0, prevResult 1.0.0 with an address without prefix: code 7 naming the field" \
	is_error 7 "prevResult.ips[0].address"

# Namespace opt-in: the config's list, and the map the daemon publishes from
# Namespace annotations (the real daemon, one sync from a file: daemon -> map
# <- plugin). A namespace annotated "false" wins over the config's "*"; a pod
# with a sidecar proxy is opted in only by its own annotation.
SYNCD=$TL_BUILD/socklb-syncd
# publish NAMESPACE=true|false...: the Namespaces (annotation socklb.io/enabled, none for "-") in the map.
publish() {
	local items='' ns
	for ns in "$@"; do
		items+="${items:+,}{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"${ns%=*}\""
		[ "${ns#*=}" = - ] || items+=",\"annotations\":{\"socklb.io/enabled\":\"${ns#*=}\"}"
		items+="}}"
	done
	printf '{"apiVersion":"v1","kind":"List","items":[%s]}' "$items" >"$TL_TMP/namespaces.json"
	"$SYNCD" --source "file:$TL_TMP/namespaces.json" --bpffs-root "$TL_BPFFS" --node-name node-a --once \
		--metrics-addr "" 2>>"$TL_TMP/syncd.log"
}
# annotated JSON_MEMBERS: runtimeConfig with these pod annotations.
annotated() {
	printf '"runtimeConfig": {"io.kubernetes.cri.pod-annotations": {%s}}' "$1"
}
attached() {
	[ "$RC" -eq 0 ] && [ "$(pins_in "$(links_of "$1")")" = 8 ]
}
not_attached() {
	passed_through "$prev" && [ ! -e "$(links_of "$1")" ]
}
ISTIO='"sidecar.istio.io/status": "{\"containers\":[\"istio-proxy\"]}"'
LINKERD='"linkerd.io/proxy-version": "edge-24.11.8"'
v=1.0.0
prev=$(prev_result "$v")
uid=$(pod_uid 9)
cg=$TL_CG/kubepods/besteffort/pod$uid
mkdir -p "$cg"
POD_ARGS="K8S_POD_NAMESPACE=team-map;K8S_POD_NAME=m;K8S_POD_UID=$uid"
plugin ADD "ns-$TL_ID" "$(BPFFS=$TL_BPFFS/fresh config "$v" "" "$prev")"
tl_check "no namespace map yet (no daemon ran): not opted in, stdout is prevResult" passed_through "$prev"
tl_check "no namespace map yet: the plugin created nothing" test ! -e "$TL_BPFFS/fresh"
plugin ADD "ns-$TL_ID" "$(config "$v" '"namespaces": ["team-x", "team-map"]' "$prev")"
tl_check "namespace in the config's namespaces list: attached" attached "ns-$TL_ID"
plugin DEL "ns-$TL_ID" "$(config "$v")"
tl_check "socklb-syncd published the Namespaces annotated true and false" publish team-map=true team-off=false other=-
plugin ADD "ns-$TL_ID" "$(config "$v" "" "$prev")"
tl_check "namespace annotated \"true\" (namespace map): attached" attached "ns-$TL_ID"
plugin ADD "ns2-$TL_ID" "$(config "$v" "$(annotated '"socklb.io/enabled": "false"')" "$prev")"
tl_check "pod annotation \"false\" overrides the namespace's \"true\": not attached" not_attached "ns2-$TL_ID"
plugin ADD "ns4-$TL_ID" "$(config "$v" "$(annotated "$ISTIO")" "$prev")"
tl_check "Istio sidecar ($(cut -d'"' -f2 <<<"$ISTIO")) in a namespace annotated \"true\": not attached" \
	not_attached "ns4-$TL_ID"
plugin ADD "ns5-$TL_ID" "$(config "$v" "\"namespaces\": [\"*\"], $(annotated "$LINKERD")" "$prev")"
tl_check "Linkerd proxy ($(cut -d'"' -f2 <<<"$LINKERD")) under the config's \"*\": not attached" \
	not_attached "ns5-$TL_ID"
plugin ADD "ns6-$TL_ID" "$(config "$v" "$(annotated "$ISTIO, \"socklb.io/enabled\": \"true\"")" "$prev")"
tl_check "a sidecar pod whose own annotation is \"true\": attached" attached "ns6-$TL_ID"
plugin DEL "ns6-$TL_ID" "$(config "$v")"
plugin ADD "ns7-$TL_ID" "$(config "$v" "\"sidecarAnnotations\": [], $(annotated "$ISTIO")" "$prev")"
tl_check "sidecarAnnotations []: the sidecar pod follows its namespace (attached)" attached "ns7-$TL_ID"
plugin DEL "ns7-$TL_ID" "$(config "$v")"
tl_check "sidecar pods not attached are logged with the annotation that kept them out" \
	grep -q "ns4-$TL_ID.*not attached: pod has a sidecar proxy (annotation sidecar.istio.io/status)" "$STDERR_LOG"

POD_ARGS="K8S_POD_NAMESPACE=team-off;K8S_POD_NAME=o;K8S_POD_UID=$uid"
plugin ADD "off-$TL_ID" "$(config "$v" '"namespaces": ["*"]' "$prev")"
tl_check "namespace annotated \"false\" wins over the config's \"*\": not attached" not_attached "off-$TL_ID"
plugin ADD "off2-$TL_ID" "$(config "$v" '"namespaces": ["team-off"]' "$prev")"
tl_check "namespace annotated \"false\" wins over the config's list naming it: not attached" not_attached "off2-$TL_ID"
tl_check "... and the log says the namespace's annotation decided" \
	grep -q "off2-$TL_ID.*not attached: namespace team-off is annotated \"false\"" "$STDERR_LOG"
plugin ADD "off3-$TL_ID" "$(config "$v" "\"namespaces\": [\"*\"], $(annotated '"socklb.io/enabled": "true"')" "$prev")"
tl_check "a pod annotated \"true\" in a namespace annotated \"false\": attached" attached "off3-$TL_ID"
plugin DEL "off3-$TL_ID" "$(config "$v")"
POD_ARGS="K8S_POD_NAMESPACE=other;K8S_POD_NAME=x;K8S_POD_UID=$uid"
plugin ADD "other-$TL_ID" "$(config "$v" '"namespaces": ["*"]' "$prev")"
tl_check "a namespace without the annotation under \"*\": attached" attached "other-$TL_ID"
plugin DEL "other-$TL_ID" "$(config "$v")"

tl_check "socklb-syncd removed the annotations from the map" publish team-map=- team-off=- other=-
POD_ARGS="K8S_POD_NAMESPACE=team-off;K8S_POD_NAME=o;K8S_POD_UID=$uid"
plugin ADD "off4-$TL_ID" "$(config "$v" '"namespaces": ["*"]' "$prev")"
tl_check "annotation \"false\" removed: the config's \"*\" applies again (attached)" attached "off4-$TL_ID"
plugin DEL "off4-$TL_ID" "$(config "$v")"
POD_ARGS="K8S_POD_NAMESPACE=team-map;K8S_POD_NAME=m;K8S_POD_UID=$uid"
plugin ADD "ns3-$TL_ID" "$(config "$v" "" "$prev")"
tl_check "annotation \"true\" removed: not attached" not_attached "ns3-$TL_ID"
plugin DEL "ns-$TL_ID" "$(config "$v")"

# Upgrade: programs are pinned per datapath id. Moving this build's pins aside
# makes them look like an older build's: the next ADD loads this build's
# programs beside them, the running pod keeps the old ones until its DEL.
prog_of_link() {
	bpftool link show pinned "$1" | sed -n 's/.* prog \([0-9]*\).*/\1/p'
}
uid=$(pod_uid 10)
cg_old=$TL_CG/kubepods/pod$uid
mkdir -p "$cg_old"
POD_ARGS="K8S_POD_NAMESPACE=up;K8S_POD_NAME=old;K8S_POD_UID=$uid"
plugin ADD "old-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
id_dir=$(find "$TL_BPFFS/prog" -mindepth 1 -maxdepth 1 -name 'v*' | head -1)
mv "$id_dir" "$TL_BPFFS/prog/v0-previousbuild"
uid=$(pod_uid 11)
cg_new=$TL_CG/kubepods/pod$uid
mkdir -p "$cg_new"
POD_ARGS="K8S_POD_NAMESPACE=up;K8S_POD_NAME=new;K8S_POD_UID=$uid"
plugin ADD "new-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
tl_check "upgrade: a new build loads its programs beside the old build's" \
	test -d "$id_dir" -a -d "$TL_BPFFS/prog/v0-previousbuild"
old_prog=$(prog_of_link "$(links_of "old-$TL_ID")/socklb_connect4")
new_prog=$(prog_of_link "$(links_of "new-$TL_ID")/socklb_connect4")
tl_check "upgrade: the new pod runs the new programs ($new_prog), the running pod keeps the old ($old_prog)" \
	test -n "$old_prog" -a -n "$new_prog" -a "$old_prog" != "$new_prog"
tl_check "upgrade: the running pod's links stay attached" progs_settle "$cg_old" 8
# The maps existed before this load (as when the daemon started first): the new
# programs must use the ones pinned under bpffsRoot, and pin nothing elsewhere.
map_id() {
	bpftool map show pinned "$1" 2>/dev/null | sed -n '1s/^\([0-9]*\):.*/\1/p'
}
uses_our_maps() {
	local ids
	ids=$(bpftool prog show id "$new_prog" | sed -n 's/.*map_ids \([0-9,]*\).*/\1/p' | tr ',' '\n')
	grep -qx "$(map_id "$TL_BPFFS/socklb_svc_v1")" <<<"$ids" && grep -qx "$(map_id "$TL_BPFFS/socklb_be_v1")" <<<"$ids"
}
tl_check "upgrade: the new programs use the maps pinned under bpffsRoot" uses_our_maps
for m in "$TL_BPFFS"/socklb_*; do
	outside=/sys/fs/bpf/${m##*/}
	if [ -e "$outside" ] && [ "$(map_id "$outside")" = "$(map_id "$m")" ]; then
		tl_not_ok "loading programs beside existing maps pinned ${m##*/} outside bpffsRoot, at $outside"
		rm -f "$outside"
	fi
done
POD_ARGS="K8S_POD_NAMESPACE=up;K8S_POD_NAME=old;K8S_POD_UID=${cg_old##*/pod}"
log_lines=$(wc -l <"$STDERR_LOG")
plugin CHECK "old-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
tl_check "upgrade: CHECK of the running pod (older build's programs) succeeds" is_silent_success
tl_check "upgrade: ... and logs that it runs the older build v0-previousbuild" \
	grep -q "old-$TL_ID.*intact.*runs datapath v0-previousbuild" <(tail -n +$((log_lines + 1)) "$STDERR_LOG")
both_attached="{\"containerID\": \"old-$TL_ID\", \"ifname\": \"eth0\"}, {\"containerID\": \"new-$TL_ID\", \"ifname\": \"eth0\"}"
plugin GC "" "$(config 1.1.0 "\"cni.dev/valid-attachments\": [$both_attached]")"
tl_check "upgrade: GC while the old pod runs the older build keeps its programs" \
	test "$RC:$(pins_in "$TL_BPFFS/prog/v0-previousbuild")" = 0:8
rm "$(links_of "old-$TL_ID")/socklb_recvmsg6"
plugin CHECK "old-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
tl_check "upgrade: CHECK of the running pod with a link removed: 105 naming it" is_error 105 "socklb_recvmsg6 is missing"
plugin DEL "old-$TL_ID" "$(config "$v")"
tl_check "upgrade: DEL of the running pod detaches the old programs" progs_settle "$cg_old" 0
POD_ARGS="K8S_POD_NAMESPACE=up;K8S_POD_NAME=new;K8S_POD_UID=$uid"
plugin CHECK "new-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
tl_check "upgrade: the new pod's CHECK passes" is_silent_success
before=$(ls "$TL_BPFFS/prog" | tr '\n' ' ')
plugin ADD "new-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
tl_check "upgrade: the next ADD removes the older build's programs, no pod runs them any more" \
	test "$before-> $RC:$(ls "$TL_BPFFS/prog")" = "v0-previousbuild ${id_dir##*/} -> 0:${id_dir##*/}"
tl_check "upgrade: ... and keeps this build's" test "$(pins_in "$id_dir")" = 8
plugin CHECK "new-$TL_ID" "$(config "$v" "$OPT_IN" "$prev")"
tl_check "upgrade: the new pod's CHECK still passes" is_silent_success
plugin DEL "new-$TL_ID" "$(config "$v")"

# The example conflists: each socklb entry is a valid configuration for the plugin,
# declares both capabilities and says its failurePolicy (roots and files redirected
# to this test's).
for f in "$TL_ROOT"/conf/*.conflist; do
	conf=$(python3 - "$f" "$TL_BPFFS" "$TL_TMP/example.log" <<'EOF'
import json, sys
net = json.load(open(sys.argv[1]))
entry = [p for p in net["plugins"] if p["type"] == "socklb"][0]
caps = entry.get("capabilities", {})
if not (caps.get("cgroupPath") and caps.get("io.kubernetes.cri.pod-annotations")):
    sys.exit("capabilities cgroupPath and io.kubernetes.cri.pod-annotations not declared")
if entry.get("failurePolicy") not in ("Fail", "Ignore"):
    sys.exit("no failurePolicy")
entry.update(cniVersion=net["cniVersion"], name=net["name"], bpffsRoot=sys.argv[2], logFile=sys.argv[3],
             attachFailuresFile=sys.argv[3] + ".failures")
entry["runtimeConfig"] = {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "false"}}
entry["prevResult"] = {"cniVersion": net["cniVersion"], "ips": [{"address": "10.244.1.5/24"}]}
print(json.dumps(entry))
EOF
	) || {
		tl_not_ok "$(basename "$f"): socklb entry"
		continue
	}
	POD_ARGS="K8S_POD_NAMESPACE=default;K8S_POD_NAME=example"
	plugin ADD "example-$TL_ID" "$conf"
	tl_check "$(basename "$f"): the socklb entry is a valid config declaring both capabilities and its failurePolicy" \
		bash -c '[ "$1" = 0 ] && ! grep -q "invalid network configuration" <<<"$2"' _ "$RC" "$(tail -3 "$TL_TMP/example.log")"
done

POD_ARGS=
plugin NOPE x "$(config 1.1.0)"
tl_check "unknown CNI_COMMAND: code 4" is_error 4 CNI_COMMAND
plugin ADD x "$(config 0.2.0 "" "$(prev_result 0.2.0)")"
tl_check "unsupported cniVersion 0.2.0: code 1" is_error 1 0.2.0
plugin ADD "bad/id" "$(config 1.0.0 "" "$(prev_result 1.0.0)")"
tl_check "CNI_CONTAINERID with '/': code 4" is_error 4 CNI_CONTAINERID
OUT=$(env -i PATH="$PATH" "$PLUGIN" 2>&1 </dev/null)
tl_check "no CNI_COMMAND: prints what it is on stderr and exits 0" grep -q "CNI protocol versions supported" <<<"$OUT"
tl_check "nothing but results and error JSON on stdout; logs went to stderr" test -s "$STDERR_LOG"

tl_finish

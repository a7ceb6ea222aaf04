#!/usr/bin/env bash
# The plugin binary is self-contained (README.md invariant 9): no shared
# library, no ELF interpreter, and it serves a real pod from an empty root.
# The root holds only the binary and empty /tmp and /run; each invocation
# runs in a private mount namespace (gone when it exits) that mounts /proc, a
# fresh /sys, the cgroup2 mount on /sys/fs/cgroup and this test's bpffs
# directory on /sys/fs/bpf, then chroots. VERSION, STATUS, ADD (the pod's
# connect to a ClusterIP is translated), CHECK and DEL (no longer translated).
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

PLUGIN=$TL_BUILD/socklb
P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
ROOT=$TL_TMP/root
VIP=10.96.0.10
# The plugin's default bpffsRoot, /sys/fs/bpf/socklb, is this directory.
HOST_BPFFS_ROOT=$TL_BPFFS/socklb
CG_IN_ROOT=/sys/fs/cgroup/${TL_CG##*/}

tl_check "build/socklb has no NEEDED entry (no shared library)" \
	bash -c '! readelf -d "$1" | grep -q NEEDED' _ "$PLUGIN"
tl_check "build/socklb has no ELF interpreter (no dynamic loader)" \
	bash -c '! readelf -l "$1" | grep -qi "program interpreter"' _ "$PLUGIN"

mkdir -p "$ROOT/proc" "$ROOT/sys" "$ROOT/tmp" "$ROOT/run" "$TL_BPFFS"
cp "$PLUGIN" "$ROOT/socklb"
tl_check "the root holds only the plugin binary" \
	test "$(find "$ROOT" -mindepth 1 -not -type d)" = "$ROOT/socklb"

# in_root PROGRAM [VAR=VALUE...]: PROGRAM (a path inside the root) with only
# these variables, stdin passed on.
in_root() {
	local prog=$1
	shift
	unshare --mount --propagation private bash -c '
		root=$1 cgroot=$2 bpffs=$3
		shift 3
		mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" &&
			mount --bind "$cgroot" "$root/sys/fs/cgroup" && mount --bind "$bpffs" "$root/sys/fs/bpf" &&
			exec env -i "$@"' _ "$ROOT" "$TL_CGROOT" "$TL_BPFFS" "$@" "$(command -v chroot)" "$ROOT" "$prog"
}

cp "$TL_BUILD/socklb-syncd" "$ROOT/dynamic"
out=$(in_root /dynamic 2>&1)
tl_check "control: a dynamically linked binary cannot run in this root ($out)" test $? -ne 0
rm "$ROOT/dynamic"

tl_pod client 10.244.0.2/24
tl_pod web 10.244.0.11/24
tl_bg_in_pod web "$P" server tcp 0.0.0.0 8080 web
tl_wait_tcp client 10.244.0.11 8080 || tl_not_ok "the backend pod did not start"

UID_=$(printf '%08x-0000-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
PREV='{"cniVersion": "1.1.0", "ips": [{"address": "10.244.0.2/24"}]}'
CONF=$(printf '{"cniVersion": "1.1.0", "name": "static", "type": "socklb", "cgroupRoot": "%s",
 "logFile": "/tmp/socklb.log", "logLevel": "debug",
 "runtimeConfig": {"cgroupPath": "/client", "io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}},
 "prevResult": %s}' "$CG_IN_ROOT" "$PREV")

# plugin COMMAND: runs the plugin in the root with CONF on stdin; sets OUT and RC.
plugin() {
	OUT=$(printf '%s' "$CONF" | in_root /socklb CNI_COMMAND="$1" CNI_CONTAINERID="static-$TL_ID" \
		CNI_NETNS="/var/run/netns/$(tl_pod_ns client)" CNI_IFNAME=eth0 \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=static;K8S_POD_NAME=client;K8S_POD_UID=$UID_" 2>>"$TL_TMP/stderr")
	RC=$?
}
json_equal() {
	python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$1" "$2"
}
# An ADD's answer: exit 0 and stdout equal to prevResult (else the plugin's stderr).
passed_through() {
	[ "$RC" = 0 ] && json_equal "$OUT" "$PREV" || { cat "$TL_TMP/stderr"; return 1; }
}
translated() {
	local out
	out=$(tl_in_pod client "$P" tcp "$VIP" 80 2>&1)
	echo "$out"
	grep -Eqx "reply web peer $VIP:80" <<<"$out"
}
not_translated() {
	! translated
}

plugin VERSION
tl_check "VERSION in the empty root lists the supported versions" grep -q '"supportedVersions"' <<<"$OUT"

plugin STATUS
tl_check "STATUS in the empty root: available (exit 0, no output)" test "$RC:$OUT" = 0:

plugin ADD
tl_check "ADD in the empty root: exit 0, stdout is prevResult" passed_through
tl_check "ADD linked 8 programs to the pod's cgroup" \
	test "$(bpftool cgroup show "$(tl_pod_cgroup client)" 2>/dev/null | grep -c socklb_)" = 8
tl_check "ADD wrote its log to /tmp of the root" grep -q "attached datapath" "$ROOT/tmp/socklb.log"

"$CTL" svc "$HOST_BPFFS_ROOT" "$VIP" 80 tcp 0 10.244.0.11:8080 >/dev/null || tl_not_ok "filling the service map"
tl_check "the pod's connect to $VIP:80 is translated to the backend pod" translated

plugin CHECK
tl_check "CHECK in the empty root: exit 0, no output" test "$RC:$OUT" = 0:

plugin DEL
tl_check "DEL in the empty root: exit 0, no output" test "$RC:$OUT" = 0:
settled() {
	local i
	for _ in $(seq 40); do
		[ "$(bpftool cgroup show "$(tl_pod_cgroup client)" 2>/dev/null | grep -c socklb_)" = 0 ] && return 0
		sleep 0.05
	done
	return 1
}
tl_check "DEL unlinked the programs from the pod's cgroup" settled
tl_check "after DEL the pod's connect to the VIP is no longer translated" not_translated

tl_finish

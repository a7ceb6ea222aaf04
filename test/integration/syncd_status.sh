#!/usr/bin/env bash
# `socklb-syncd status` on this machine: what it says about the kernel agrees
# with this host's mountinfo and with direct load attempts (bpftool loading
# programs clang builds here), whatever the kernel; --json parses; on a
# private bpffs root holding pins and links the real plugin made, it counts
# them; it changes nothing; without privileges it says it cannot tell; the
# running daemon logs the same summary at start.
source "$(dirname "$0")/../lib.sh"
tl_init

SYNCD=$TL_BUILD/socklb-syncd
PLUGIN=$TL_BUILD/socklb
DIRECT=/sys/fs/bpf/socklb-test-$TL_ID-direct
tl_extra_cleanup() { rm -rf "$DIRECT"; }

# status [ARGS...]: the JSON status of our root in $STATUS, its exit status in $STATUS_RC.
status() {
	STATUS=$("$SYNCD" status --bpffs-root "$TL_BPFFS" --json "$@" 2>"$TL_TMP/status.err")
	STATUS_RC=$?
}
# field ITEM KEY: a key of an item of $STATUS ("" when absent).
field() {
	python3 -c 'import json,sys
d = json.loads(sys.argv[1])
print(next((i.get(sys.argv[3], "") for i in d["items"] if i["item"] == sys.argv[2]), ""))' "$STATUS" "$1" "$2"
}
top() {
	python3 -c 'import json,sys; v = json.loads(sys.argv[1])[sys.argv[2]]; print(str(v).lower() if isinstance(v, bool) else v)' \
		"$STATUS" "$1"
}

# ------------------------------------------------------------ the kernel
status
tl_check "status --json prints JSON (python3 -m json.tool)" python3 -m json.tool <<<"$STATUS"
if command -v jq >/dev/null; then
	tl_check "status --json prints JSON (jq)" jq -e .items <<<"$STATUS"
fi
tl_diag "$("$SYNCD" status --bpffs-root "$TL_BPFFS" 2>&1)"

# cgroup v2 as this host's mountinfo says, read here with awk.
mode=$(awk '$0 ~ / - cgroup2 / { v2 = 1 } $0 ~ / - cgroup / { v1 = 1 }
	END { print v2 ? (v1 ? "hybrid" : "unified") : (v1 ? "legacy-only" : "none") }' /proc/self/mountinfo)
tl_check "cgroup v2: \"$mode, at $TL_CGROOT\", as /proc/self/mountinfo says" \
	test "$(field "cgroup v2" result)" = "$mode, at $TL_CGROOT"
tl_check "BTF: ok exactly when /sys/kernel/btf/vmlinux is readable" \
	test "$(field BTF status)" = "$([ -r /sys/kernel/btf/vmlinux ] && echo ok || echo limited)"

# direct NAME SECTION BODY: build a one-program object with clang and load it with bpftool;
# DIRECT_ERR is "" when it loaded, else the kernel's error text.
mkdir -p "$DIRECT"
direct() {
	local name=$1 section=$2 body=$3 src=$TL_TMP/$1.bpf.c out
	cat >"$src" <<EOF
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct sock_common { int skc_family; } __attribute__((preserve_access_index));
struct bpf_iter_meta;
struct udp_sock;
struct bpf_iter__udp { struct bpf_iter_meta *meta; struct udp_sock *udp_sk; } __attribute__((preserve_access_index));
extern int bpf_sock_destroy(struct sock_common *sk) __ksym;
SEC("$section") int $name(void *ctx) { $body }
char LICENSE[] SEC("license") = "GPL";
EOF
	DIRECT_ERR="clang cannot build it"
	clang -g -O2 -target bpf -I"/usr/include/$(gcc -print-multiarch)" -c "$src" -o "$TL_TMP/$name.o" || return 0
	if out=$(bpftool prog load "$TL_TMP/$name.o" "$DIRECT/$name" 2>&1); then
		DIRECT_ERR=
		rm -f "$DIRECT/$name"
	else
		# libbpf refuses a program calling a kfunc the kernel's BTF lacks
		# before the kernel sees it: that is status's ENOENT (no such kfunc).
		grep -q 'not found in kernel or module BTFs' <<<"$out" &&
			out="No such file or directory"
		DIRECT_ERR=$(grep -o 'Operation not permitted\|Invalid argument\|Permission denied\|No such file or directory\|Argument list too long\|Bad address\|Operation not supported' <<<"$out" | head -1)
		DIRECT_ERR=${DIRECT_ERR:-$out}
	fi
}
# agrees ITEM: the status item says what the direct attempt saw (loads, or the same error).
agrees() {
	local status errno text
	status=$(field "$1" status)
	errno=$(field "$1" errno)
	if [ -z "$DIRECT_ERR" ]; then
		[ "$status" = ok ] || { echo "direct load succeeded, status says $status ($errno)"; return 1; }
		return 0
	fi
	text=$(python3 -c 'import errno,os,sys; print(os.strerror(getattr(errno, sys.argv[1])) if sys.argv[1] else "")' "$errno")
	[ "$status" != ok ] && [ "$text" = "$DIRECT_ERR" ] || {
		echo "direct load: $DIRECT_ERR; status says $status ($errno = $text)"
		return 1
	}
}
for target in tcp udp bpf_sk_storage_map task; do
	direct "it_${target:0:10}" "iter/$target" "return 0;"
	tl_diag "direct load of an iter/$target program: ${DIRECT_ERR:-loads}"
	tl_check "iter/$target: status says what a direct load says (${DIRECT_ERR:-loads})" agrees "iter/$target"
done
direct sockdestroy iter/udp 'struct udp_sock *u = ((struct bpf_iter__udp *)ctx)->udp_sk; if (u) bpf_sock_destroy((struct sock_common *)u); return 0;'
tl_check "bpf_sock_destroy: status says what a direct load says (${DIRECT_ERR:-loads})" agrees bpf_sock_destroy
direct connect4 cgroup/connect4 "return 1;"
tl_check "cgroup/connect4: status says what a direct load says (${DIRECT_ERR:-loads})" agrees cgroup/connect4
direct getpeer6 cgroup/getpeername6 "return 1;"
tl_check "cgroup/getpeername6: status says what a direct load says (${DIRECT_ERR:-loads})" agrees cgroup/getpeername6
direct retval cgroup/connect4 "bpf_set_retval(0); return 1;"
tl_check "bpf_set_retval: status says what a direct load says (${DIRECT_ERR:-loads})" agrees bpf_set_retval
direct task cgroup/connect4 "char comm[16]; bpf_get_current_comm(comm, sizeof(comm)); return bpf_get_current_pid_tgid() ? 1 : 1;"
tl_check "current task: status says what a direct load says (${DIRECT_ERR:-loads})" agrees "current task"

tl_check "bpffs root: not created yet, and so no map, program or pod rows" \
	bash -c '[[ $1 == *"(not created yet)" ]] && [ -z "$2" ] && [ -z "$3" ]' _ \
	"$(field "bpffs root" result)" "$(field maps result)" "$(field "attached pods" result)"

# ------------------------------------------------------------ the plugin's pins
NETNS=slb-$TL_ID-st
ip netns add "$NETNS"
TL_NETNS+=("$NETNS")
pod_uid() { printf '%08x-%04x-4000-8000-%012x' "$((0x$TL_ID))" "$1" "$1"; }
pod_cg() { echo "$TL_CG/kubepods/burstable/pod$(pod_uid "$1")"; }
add_pod() { # add_pod INDEX: an opted-in pod (cgroupfs driver, Burstable) ADDed by the plugin
	local prev='{"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}], "ips": [{"address": "10.244.1.5/24", "interface": 0}]}'
	mkdir -p "$(pod_cg "$1")"
	printf '{"cniVersion": "1.0.0", "name": "t", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s",
	 "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}, "prevResult": %s}' \
		"$TL_BPFFS" "$TL_CG" "$prev" |
		env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="st-$TL_ID-$1" CNI_NETNS="/var/run/netns/$NETNS" \
			CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
			CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p$1;K8S_POD_UID=$(pod_uid "$1")" \
			"$PLUGIN" >/dev/null 2>>"$TL_TMP/plugin.err"
}
tl_check "the plugin ADDs pod 1 (loads and pins the datapath)" add_pod 1
tl_check "the plugin ADDs pod 2" add_pod 2
tl_check "the plugin ADDs pod 3" add_pod 3
"$SYNCD" --source "file:$TL_ROOT/test/fixtures/k8s/basic.json" --bpffs-root "$TL_BPFFS" --node-name node-a \
	--once 2>"$TL_TMP/once.log"
tl_check "the daemon --once wrote the services of basic.json" test $? = 0

# Everything under the root, and what the maps and the pods' cgroups hold: nothing may change.
snapshot() {
	find "$TL_BPFFS" "$DIRECT" | sort
	"$SYNCD" dump --bpffs-root "$TL_BPFFS" --json
	for i in 1 2 3; do [ -d "$(pod_cg $i)" ] && bpftool cgroup show "$(pod_cg $i)"; done
	ls /sys/fs/bpf | grep '^socklb_'
}
before=$(snapshot)
status
after=$(snapshot)
tl_check "status changes nothing: pins, links, map contents, programs on the pods' cgroups" test "$before" = "$after"
tl_check "status exits 0 (as the plugin could load the datapath here) and says canRun" \
	test "$STATUS_RC:$(top canRun)" = "0:true"

dump=$("$SYNCD" dump --bpffs-root "$TL_BPFFS" --json)
counts=$(python3 -c 'import json,sys; s = json.loads(sys.argv[1])["services"]
print(len(s), sum(len(x["backends"]) for x in s))' "$dump")
read -r nsvc nbe <<<"$counts"
tl_diag "dump: $nsvc frontends, $nbe backends; status: services $(field services result), backends $(field backends result)"
tl_check "services: the frontends dump lists ($nsvc) of the map's size" \
	bash -c '[[ $1 =~ ^$2\ of\ [0-9]+$ ]]' _ "$(field services result)" "$nsvc"
tl_check "backends: the backends dump lists ($nbe)" bash -c '[[ $1 =~ ^$2\ of\ [0-9]+$ ]]' _ "$(field backends result)" "$nbe"
tl_check "maps: pinned" test "$(field maps result)" = "pinned (ABI v1)"
tl_check "programs: one build, this one" test "$(field programs result)" = "1 build: this one"
npods=$(find "$TL_BPFFS/links" -mindepth 1 -maxdepth 1 -type d | wc -l)
tl_check "attached pods: 3, the link directories under links/ ($npods)" \
	test "$(field "attached pods" result):$npods" = "3:3"

# A pod's cgroup goes (its DEL has not come yet): its links stay, defunct.
rmdir "$(pod_cg 3)"
gone() {
	status
	[[ $(field "attached pods" consequence) == "1 with their cgroup gone, 0 with a missing link"* ]]
}
for i in $(seq 40); do gone && break; sleep 0.05; done
tl_check "attached pods: 1 with its cgroup gone ($(field "attached pods" consequence))" gone
tl_check "attached pods: still 3, and socklb can still run" \
	test "$(field "attached pods" result):$(field "attached pods" status):$STATUS_RC" = "3:ok:0"

# ------------------------------------------------------------ without privileges
if command -v capsh >/dev/null; then
	STATUS=$(capsh --drop=cap_sys_admin,cap_net_admin,cap_bpf,cap_perfmon -- -c \
		'exec "$0" status --bpffs-root "$1" --json' "$SYNCD" "$TL_BPFFS" 2>/dev/null)
	STATUS_RC=$?
	tl_check "without CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN: exit 1, cannot tell (not: cannot run)" \
		bash -c '[ "$1" = 1 ] && [ "$2" = false ] && [[ $3 == "cannot tell whether socklb can run here: "* ]]' _ \
		"$STATUS_RC" "$(top canRun)" "$(top verdict)"
	tl_check "without them, a hook is unknown and names what this process lacks" \
		test "$(field cgroup/connect4 status):$(field cgroup/connect4 result)" = "unknown:EPERM, lacks CAP_BPF CAP_NET_ADMIN"
else
	tl_skip "without privileges" "capsh is not installed"
fi

# ------------------------------------------------------------ the daemon's start
status
"$SYNCD" --source "file:$TL_ROOT/test/fixtures/k8s/basic.json" --bpffs-root "$TL_BPFFS" --node-name node-a \
	--metrics-addr "" 2>"$TL_TMP/daemon.log" &
TL_PIDS+=($!)
for i in $(seq 100); do grep -q "kernel: " "$TL_TMP/daemon.log" && break; sleep 0.05; done
tl_diag "$(grep "kernel: " "$TL_TMP/daemon.log")"
tl_check "the daemon logs status's summary at start" grep -qF "info: kernel: $(top summary)" "$TL_TMP/daemon.log"

tl_finish

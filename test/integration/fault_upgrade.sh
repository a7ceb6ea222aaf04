#!/usr/bin/env bash
# A plugin upgrade with pods running. A second plugin is built (into this
# test's temp dir, the source tree untouched) from a BPF object that differs
# only in its debug info, so it has another datapath id and loads its own
# programs beside the old ones. While a pod linked by the old plugin connects
# to a ClusterIP in a loop:
#   - ADD through the new plugin links a new pod to the new programs;
#   - the old pods keep their links to the old programs, and keep working;
#   - both reach the service (the maps are shared);
#   - CHECK through the new plugin passes for an old pod, and still names a
#     link that is missing, defunct or runs another program;
#   - DEL through the new plugin removes an old pod's links;
#   - zero failed connections throughout.
# Then the old build's programs: kept by GC while a pod runs them, removed
# by the GC after the last one's DEL; and an ADD by the old build that opened
# its programs just before a prune removed them opens them again.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
V1=$TL_BUILD/socklb
V2_BUILD=$TL_TMP/build-v2
V2=$V2_BUILD/socklb
VIP=10.96.0.10
LOOP_MS=${FAULT_LOOP_MS:-15000}

t0=$(date +%s)
BPF_CFLAGS=$(make -s -C "$TL_ROOT" -pn 2>/dev/null | sed -n 's/^BPF_CFLAGS := //p' | head -1)
if make -s -C "$TL_ROOT" BUILD="$V2_BUILD" BPF_CFLAGS="$BPF_CFLAGS -grecord-command-line -DSOCKLB_UPGRADE_TEST" \
	"$V2" >"$TL_TMP/build-v2.log" 2>&1; then
	tl_ok "a second plugin with another BPF object builds ($(($(date +%s) - t0)) s)"
else
	tl_not_ok "building the second plugin"
	tail -5 "$TL_TMP/build-v2.log" | sed 's/^/#   /'
	tl_finish
fi

tl_pod old1 10.244.0.2/24
tl_pod old2 10.244.0.3/24
tl_pod new1 10.244.0.4/24
tl_pod old3 10.244.0.5/24
for i in 1 2; do
	tl_pod web$i 10.244.0.1$i/24
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
done

# cni PLUGIN VERB POD: the plugin as a runtime calls it, for a pod made by tl_pod.
cni() {
	local plugin=$1 verb=$2 pod=$3 prev=''
	[ "$verb" != DEL ] && prev=', "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "10.244.0.9/24"}]}'
	printf '{"cniVersion": "1.0.0", "name": "socklb-upgrade", "type": "socklb", "bpffsRoot": "%s",
	 "failurePolicy": "Fail", "attachFailuresFile": "%s/attach-failures",
	 "runtimeConfig": {"cgroupPath": "%s",
	  "io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}%s}' \
		"$TL_BPFFS" "$TL_TMP" "${TL_CG#"$TL_CGROOT"}/$pod" "$prev" |
		env -i PATH="$PATH" CNI_COMMAND="$verb" CNI_CONTAINERID="up-$TL_ID-$pod" \
			CNI_NETNS="/var/run/netns/$(tl_pod_ns "$pod")" CNI_IFNAME=eth0 \
			CNI_ARGS="K8S_POD_NAMESPACE=upgrade;K8S_POD_NAME=$pod" "$plugin" 2>>"$TL_TMP/plugin.log"
}
# gc PLUGIN POD...: CNI GC keeping the attachments of these pods.
gc() {
	local plugin=$1 pod keep=
	shift
	for pod in "$@"; do
		keep+=$(printf '{"containerID": "up-%s-%s", "ifname": "eth0"},' "$TL_ID" "$pod")
	done
	printf '{"cniVersion": "1.1.0", "name": "socklb-upgrade", "type": "socklb", "bpffsRoot": "%s",
	 "cni.dev/valid-attachments": [%s]}' "$TL_BPFFS" "${keep%,}" |
		env -i PATH="$PATH" CNI_COMMAND=GC "$plugin" 2>>"$TL_TMP/plugin.log"
}
# A successful CHECK prints nothing.
check_ok() {
	local out
	if out=$(cni "$1" CHECK "$2") && [ -z "$out" ]; then
		return 0
	fi
	echo "$out"
	return 1
}
# check_fails PLUGIN POD TEXT: error 105 whose details contain TEXT.
check_fails() {
	local out
	if ! out=$(cni "$1" CHECK "$2") && grep -q '"code":[[:space:]]*105' <<<"$out" && grep -qF -- "$3" <<<"$out"; then
		return 0
	fi
	echo "$out"
	return 1
}
# settle CMD...: the kernel frees unpinned links and programs a moment later: retry for up to 2 s.
settle() {
	local i
	for i in $(seq 40); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}
# The plugin names the directory after the container id and interface.
links_of() { ls -d "$TL_BPFFS/links/up-$TL_ID-$1"*eth0 2>/dev/null || echo "$TL_BPFFS/links/up-$TL_ID-$1-none"; }
# The program ids pinned under one datapath's directory.
prog_ids_of() {
	local p
	for p in "$1"/*; do
		[ -e "$p" ] || continue
		bpftool prog show pinned "$p" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
	done | sort -n | tr '\n' ' '
}
# The program ids a pod's pinned links run.
link_prog_ids() {
	local p
	for p in "$(links_of "$1")"/*; do
		bpftool link show pinned "$p" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])'
	done | sort -n | tr '\n' ' '
}

cni "$V1" ADD old1 >/dev/null
cni "$V1" ADD old2 >/dev/null
tl_check "old plugin: ADD old1 and old2" test -d "$(links_of old1)" -a -d "$(links_of old2)"
OLD_DIR=$(ls -d "$TL_BPFFS"/prog/*/ | head -1)
OLD_DIR=${OLD_DIR%/}
OLD_PROGS=$(prog_ids_of "$OLD_DIR")
"$CTL" svc "$TL_BPFFS" "$VIP" 80 tcp 0 10.244.0.11:8080 10.244.0.12:8080
tl_wait_tcp old1 10.244.0.12 8080 || tl_not_ok "backends did not start"
out=$(tl_in_pod old1 "$P" tcp "$VIP" 80)
tl_check "old1 reaches the service through the old programs ($out)" grep -q '^reply web' <<<"$out"

tl_loop_start old1 "$VIP" 80 "$LOOP_MS"
sleep 1

cni "$V2" ADD new1 >/dev/null
tl_check "new plugin: ADD new1 succeeds" test -d "$(links_of new1)"
NEW_DIR=
for d in "$TL_BPFFS"/prog/*; do
	[ "$d" != "$OLD_DIR" ] && NEW_DIR=$d
done
tl_diag "datapaths: old $(basename "$OLD_DIR"), new $(basename "${NEW_DIR:-none}")"
tl_check "the new plugin loaded its own programs beside the old ones" test -n "$NEW_DIR"
NEW_PROGS=$(prog_ids_of "$NEW_DIR")
tl_check "new1's links run the new programs" test "$(link_prog_ids new1)" = "$NEW_PROGS"
# The new programs must use the maps pinned under the root, nothing else.
map_ids_of_root() {
	local m
	for m in "$TL_BPFFS"/socklb_*; do
		bpftool map show pinned "$m" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
	done | sort -n | tr '\n' ' '
}
prog_map_ids() {
	bpftool prog show pinned "$1" -j | python3 -c 'import json,sys; print(" ".join(map(str, sorted(json.load(sys.stdin).get("map_ids", [])))))'
}
maps_of_root_only() {
	local root_maps id
	root_maps=" $(map_ids_of_root)"
	for id in $(prog_map_ids "$NEW_DIR/socklb_connect4"); do
		# internal maps (.rodata, .bss) are the program's own
		bpftool map show id "$id" | grep -q ' name socklb_' || continue
		[[ "$root_maps" == *" $id "* ]] || {
			echo "map id $id of the new programs is not pinned under the root (root: $root_maps)"
			return 1
		}
	done
}
tl_check "the new programs use the maps pinned under the root" maps_of_root_only
# libbpf pins maps declared LIBBPF_PIN_BY_NAME under /sys/fs/bpf unless told otherwise.
stray=$(find /sys/fs/bpf -maxdepth 1 -name 'socklb_*' ! -type d | tr '\n' ' ')
tl_check "nothing pinned outside the bpffs root (${stray:-none at the top of /sys/fs/bpf})" test -z "$stray"
tl_check "old1's links still run the old programs" test "$(link_prog_ids old1)" = "$OLD_PROGS"
out=$(tl_in_pod new1 "$P" tcp "$VIP" 80)
tl_check "new1 reaches the service through the new programs ($out)" grep -q '^reply web' <<<"$out"
out=$(tl_in_pod old2 "$P" tcp "$VIP" 80)
tl_check "old2 still reaches the service ($out)" grep -q '^reply web' <<<"$out"

log_lines=$(wc -l <"$TL_TMP/plugin.log")
tl_check "new plugin: CHECK of old2 (attached by the old plugin) succeeds" check_ok "$V2" old2
tl_check "new plugin: ... and logs that old2 runs the old datapath $(basename "$OLD_DIR")" \
	grep -q "up-$TL_ID-old2.*intact.*runs datapath $(basename "$OLD_DIR")" <(tail -n +$((log_lines + 1)) "$TL_TMP/plugin.log")
tl_check "old plugin: CHECK of old2 succeeds" check_ok "$V1" old2
tl_check "old plugin: CHECK of new1 (attached by the new plugin) succeeds" check_ok "$V1" new1
# Damage old2 hook by hook, from the last one checked to the first: each CHECK names the newest damage.
rm "$(links_of old2)/socklb_getpeer6"
tl_check "new plugin: CHECK of old2 with a link removed: 105 naming it" \
	check_fails "$V2" old2 "socklb_getpeer6 is missing"
bpftool link detach pinned "$(links_of old2)/socklb_recvmsg6"
tl_check "new plugin: CHECK of old2 with a link detached: 105 naming it" \
	check_fails "$V2" old2 "socklb_recvmsg6 is defunct"
# old2's recvmsg4 link (checked after sendmsg6) pinned in sendmsg6's place: live, on old2's cgroup, the wrong program.
mv "$(links_of old2)/socklb_recvmsg4" "$(links_of old2)/socklb_sendmsg6"
tl_check "new plugin: CHECK of old2 with a link running another hook's program: 105 naming it" \
	check_fails "$V2" old2 "socklb_sendmsg6 runs program"

cni "$V2" DEL old2 >/dev/null
tl_check "new plugin: DEL of old2 succeeds and removes its links" test ! -e "$(links_of old2)"
# links_running N IDS...: the kernel has N links running one of these programs.
links_running() {
	bpftool link show -j | python3 -c '
import json, sys
ours = set(int(x) for x in sys.argv[2:])
n = sum(1 for l in json.load(sys.stdin) if l.get("prog_id") in ours)
sys.exit(0 if n == int(sys.argv[1]) else f"{n} links run them")' "$@"
}
# shellcheck disable=SC2086 # the id list is meant to split
tl_check "the kernel runs the old programs for old1 only (8 links)" settle links_running 8 $OLD_PROGS
out=$(tl_in_pod old2 "$P" tcp "$VIP" 80 2>&1)
tl_check "old2 is no longer translated ($out)" grep -q '^error' <<<"$out"

tl_loop_check "from old1 during the upgrade"

# The old programs go with their last pod, never before.
pins_in() { find "$1" -mindepth 1 2>/dev/null | wc -l; }
gc "$V2" old1 new1 >"$TL_TMP/gc.out"
rc=$?
tl_check "new plugin: GC while old1 runs the old programs succeeds and keeps them" \
	test "$rc:$(pins_in "$OLD_DIR"):$(link_prog_ids old1)" = "0:8:$OLD_PROGS"
cni "$V2" DEL old1 >/dev/null
gc "$V2" new1 >"$TL_TMP/gc.out"
rc=$?
tl_check "new plugin: GC after old1's DEL removes the old programs (left: $(ls "$TL_BPFFS/prog" | tr '\n' ' '))" \
	test "$rc:$(ls "$TL_BPFFS/prog")" = "0:$(basename "$NEW_DIR")"
tl_check "... and keeps the new ones, which new1 runs" test "$(link_prog_ids new1)" = "$NEW_PROGS"
# no_prog_left IDS...: none of these programs exists in the kernel any more.
no_prog_left() {
	local id
	for id in "$@"; do
		bpftool prog show id "$id" >/dev/null 2>&1 && return 1
	done
	return 0
}
# shellcheck disable=SC2086 # the id list is meant to split
tl_check "the kernel freed the old programs" settle no_prog_left $OLD_PROGS
tl_check "new plugin: CHECK of new1 succeeds" check_ok "$V2" new1
out=$(tl_in_pod new1 "$P" tcp "$VIP" 80)
tl_check "new1 still reaches the service ($out)" grep -q '^reply web' <<<"$out"

# An old-build ADD opens its programs (loading them again: they were pruned),
# then waits for the attachments lock. Meanwhile a prune by the new build sees
# no link running them and removes them: done here by hand while this test
# holds the lock. The ADD must link programs that are pinned, not the ones it
# opened before the prune.
links_ino=$(stat -c %i "$TL_BPFFS/links")
waits_for_links_lock() { grep -q -- "-> FLOCK .*:$links_ino " /proc/locks; }
exec {lock_fd}<"$TL_BPFFS/links"
flock -x "$lock_fd"
cni "$V1" ADD old3 {lock_fd}<&- >/dev/null &
add_pid=$!
for _ in $(seq 200); do
	waits_for_links_lock && break
	sleep 0.05
done
if waits_for_links_lock; then
	mv "$OLD_DIR" "$TL_BPFFS/prog/pruned-by-test"
	rm "$TL_BPFFS/prog/pruned-by-test"/*
	rmdir "$TL_BPFFS/prog/pruned-by-test"
else
	tl_not_ok "the old plugin's ADD never waited for the attachments lock"
fi
flock -u "$lock_fd"
exec {lock_fd}<&-
wait "$add_pid"
tl_check "old plugin: ADD of old3 racing a prune succeeds" test "$?" = 0
tl_check "old3's links run the old build's programs pinned under $(basename "$OLD_DIR")" \
	test "$(link_prog_ids old3)" = "$(prog_ids_of "$OLD_DIR")"
tl_check "new plugin: CHECK of old3 succeeds" check_ok "$V2" old3

cni "$V2" DEL old3 >/dev/null
cni "$V2" DEL new1 >/dev/null
tl_check "new plugin: DEL of old3 and new1 leaves no attachment" test -z "$(ls -A "$TL_BPFFS/links")"
tl_finish

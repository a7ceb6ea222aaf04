#!/usr/bin/env bash
# make demo's script, hack/demo.sh, as `make demo` runs it: it checks each
# claim it prints (spread over the backends, getpeername and UDP sources show
# the ClusterIP, affinity, ECONNREFUSED, the opted-out pod, traffic following
# endpoint changes) and exits non-zero when one does not hold; afterwards
# nothing it made is left (netns, bridge, bpffs root, cgroups, files).
source "$(dirname "$0")/../lib.sh"
tl_init

out=$TL_TMP/demo.out
BUILD=$TL_BUILD bash "$TL_ROOT/hack/demo.sh" >"$out" 2>&1 &
pid=$!
wait $pid
rc=$?
id=demo$pid # hack/demo.sh names its node after its own PID

tl_check "hack/demo.sh exits 0: every claim it printed held (exit status $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || grep -E '!!|did not|rror' "$out" | head -20 | sed 's/^/#   /'
for section in "spread over 3 backends" "getpeername() is the ClusterIP" "replies arrive from the ClusterIP" \
	"sessionAffinity" "ECONNREFUSED" "opted out" "Scale web to 1 endpoint" "And back to 3 endpoints" \
	"socklb-syncd dump"; do
	tl_check "the demo shows: $section" grep -qF "$section" "$out"
done
tl_check "the demo says it cleaned up" grep -q '^Cleaned up. The demo took' "$out"

leftovers() {
	ip netns list | grep -F "socklb-$id-"
	ip -o link show "slb${id:0:10}" 2>/dev/null
	ls -d "/sys/fs/bpf/socklb-$id" "$TL_CGROOT/socklb-$id" /tmp/socklb-node-"$id".* 2>/dev/null
	return 0
}
left=$(leftovers)
tl_check "nothing of the demo's node is left (netns, bridge, bpffs root, cgroups, files)${left:+: $left}" \
	[ -z "$left" ]
tl_finish

#!/usr/bin/env bash
# Pinned maps, programs and links are root's alone (README.md invariant 5):
# after a real plugin ADD (programs, maps, links) and a daemon sync (maps it
# creates itself), every directory under the bpffs root is mode 0700 and
# every pin and directory is owned by root with no group or other bits; and
# no one but root can open a pin or walk the kernel's object ids
# (test/tools/slb-objget): not nobody, not nobody with CAP_BPF, not a process
# in a pod; a container's root only where the host's bpffs is mounted into
# its pod (see below).
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

PLUGIN=$TL_BUILD/socklb
SYNCD=$TL_BUILD/socklb-syncd
OBJGET=$TL_TOOLS/slb-objget
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# The capabilities a container runtime gives a container's root by default (containerd, Docker).
CONTAINER_CAPS=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service
CONTAINER_CAPS+=,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap
CONTAINER_ROOT=(setpriv --bounding-set="$CONTAINER_CAPS" --inh-caps=-all)

tl_pod pod 10.244.0.2/24
UID_=$(printf '%08x-0000-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
POD_CG=$TL_CG/kubepods/besteffort/pod$UID_
mkdir -p "$POD_CG"
NETNS=$(tl_pod_ns pod)

# One ADD through the plugin binary, as a runtime runs it: programs, maps and links get pinned.
printf '{"cniVersion": "1.0.0", "name": "socklb-sec", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s",
 "failurePolicy": "Fail", "attachFailuresFile": "%s/attach-failures",
 "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}},
 "prevResult": {"cniVersion": "1.0.0", "ips": [{"address": "10.244.0.2/24"}]}}' "$TL_BPFFS" "$TL_CG" "$TL_TMP" |
	env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="sec-$TL_ID" CNI_NETNS="/var/run/netns/$NETNS" \
		CNI_IFNAME=eth0 CNI_ARGS="K8S_POD_NAMESPACE=sec;K8S_POD_NAME=pod;K8S_POD_UID=$UID_" \
		"$PLUGIN" >"$TL_TMP/add.out" 2>"$TL_TMP/add.err"
tl_check "plugin ADD pinned programs, maps and links" test -d "$TL_BPFFS/links/sec-${TL_ID}_-eth0"

# The daemon on a root of its own: it creates the maps itself.
DAEMON_ROOT=$TL_BPFFS-syncd
tl_extra_cleanup() { rm -rf "$DAEMON_ROOT"; }
tl_check "socklb-syncd --once creates and fills its maps" timeout 60 "$SYNCD" --source \
	"file:$TL_ROOT/test/fixtures/k8s/basic.json" --bpffs-root "$DAEMON_ROOT" --node-name node-a \
	--metrics-addr "" --once

mapfile -t PINS < <(find "$TL_BPFFS" "$DAEMON_ROOT" -mindepth 1 ! -type d)
mapfile -t DIRS < <(find "$TL_BPFFS" "$DAEMON_ROOT" -type d)
tl_diag "pinned objects: ${#PINS[@]} ($(find "$TL_BPFFS/links" -mindepth 2 | wc -l) links), directories: ${#DIRS[@]}"
tl_check "there are pins to check" test "${#PINS[@]}" -ge 10

bad_modes() {
	local f
	for f in "${DIRS[@]}"; do
		[ "$(stat -c '%a %u %g' "$f")" = "700 0 0" ] || echo "$(stat -c '%a %U:%G' "$f") $f"
	done
	for f in "${PINS[@]}"; do
		# owner only, never group or other
		[ "$(stat -c '%u %g' "$f")" = "0 0" ] && [ $((0$(stat -c '%a' "$f") & 077)) -eq 0 ] ||
			echo "$(stat -c '%a %U:%G' "$f") $f"
	done
}
out=$(bad_modes)
tl_check "every directory is root's with mode 0700, every pin root's with no group/other bits" test -z "$out"
[ -n "$out" ] && tl_diag "$out"

# objget WHO... : slb-objget pin on every pin as that user; ok when all was denied
denied_all() {
	local out
	out=$("$@" "$OBJGET" pin "${PINS[@]}" 2>&1)
	if grep -q '^opened' <<<"$out"; then
		grep '^opened' <<<"$out" | head -5
		return 1
	fi
	echo "$out" | awk '{print $2}' | sort | uniq -c | tr '\n' ' '
}
errors_of() {
	"$@" "$OBJGET" pin "${PINS[@]}" 2>&1 | awk '$1 == "denied" {print $2}' | sort | uniq -c | tr -s ' \n' ' '
}

out=$("$OBJGET" pin "${PINS[0]}")
tl_check "control: full root opens a pin ($(head -1 <<<"$out"))" grep -q '^opened bpf_obj_get ' <<<"$out"

tl_check "nobody cannot open any pin ($(errors_of "${NOBODY[@]}"))" denied_all "${NOBODY[@]}"
tl_check "nobody with CAP_BPF cannot open any pin ($(errors_of "${NOBODY[@]}" --inh-caps=+bpf --ambient-caps=+bpf))" \
	denied_all "${NOBODY[@]}" --inh-caps=+bpf --ambient-caps=+bpf
# A uid-0 process with CAP_DAC_OVERRIDE (a container's root by default) passes
# the 0700 directories, and the kernel asks no capability for BPF_OBJ_GET or
# map writes through the fd: where such a process sees the host's bpffs it can
# open the pins. Pods see it only through a hostPath mount of /sys/fs/bpf,
# which must never be given to an untrusted pod (PodSecurity baseline forbids
# hostPath). Recorded here as a figure, asserted in a pod's own mount namespace.
tl_diag "a container's root that sees the host bpffs: $(errors_of "${CONTAINER_ROOT[@]}")," \
	"$("${CONTAINER_ROOT[@]}" "$OBJGET" pin "${PINS[@]}" 2>&1 | grep -c '^opened') opens succeeded (file permissions do not bind CAP_DAC_OVERRIDE)"
in_own_mount_ns() {
	unshare --mount --propagation private bash -c 'umount -l /sys/fs/bpf && exec "$@"' _ "$@"
}
tl_check "a container's root in its own mount namespace (no hostPath bpffs) cannot open any pin" \
	denied_all in_own_mount_ns "${CONTAINER_ROOT[@]}"
# In the pod's cgroup and netns, but with the host's mounts (ip netns exec would
# hide /sys/fs/bpf and make this pass for the wrong reason).
in_pod_as_nobody() {
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec nsenter --net="$@"' _ "$(tl_pod_cgroup pod)" \
		"/var/run/netns/$NETNS" "${NOBODY[@]}" "$@"
}
tl_check "a process in the pod (cgroup + netns, nobody) cannot open any pin" denied_all in_pod_as_nobody

ids_denied() {
	"$@" "$OBJGET" ids
}
tl_check "nobody with CAP_BPF cannot walk map, program or link ids" \
	ids_denied "${NOBODY[@]}" --inh-caps=+bpf --ambient-caps=+bpf
tl_check "a container's root cannot walk map, program or link ids" ids_denied "${CONTAINER_ROOT[@]}"

# The pod's own processes can neither detach their links nor write the maps:
# removing a pin needs write access to its directory.
tl_check "nobody cannot unlink a link pin" bash -c "! ${NOBODY[*]} rm -f '$(find "$TL_BPFFS/links" -mindepth 2 | head -1)' 2>/dev/null"
tl_check "the link pin is still there" test -e "$(find "$TL_BPFFS/links" -mindepth 2 | head -1)"

printf '{"cniVersion": "1.0.0", "name": "socklb-sec", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s"}' \
	"$TL_BPFFS" "$TL_CG" | env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID="sec-$TL_ID" CNI_IFNAME=eth0 \
	CNI_ARGS="K8S_POD_NAMESPACE=sec;K8S_POD_NAME=pod;K8S_POD_UID=$UID_" "$PLUGIN" >/dev/null 2>&1
tl_check "plugin DEL removed the pod's links" test ! -e "$TL_BPFFS/links/sec-${TL_ID}_-eth0"
tl_finish

#!/usr/bin/env bash
# A private containerd (Debian's, with its CRI plugin and runc) for the tests
# that play kubelet against a real runtime. Source after test/lib.sh and tl_init:
#
#   source "$TL_ROOT/test/cri/containerd.sh"
#   tl_extra_cleanup() { cri_stop; }   lib.sh runs it first on exit
#   cri_start [CONFLIST]            containerd up, its CNI conf dir holding that file
#   cri_cni_wrap NAME REAL          a CNI plugin that records each call (CRI_CALLS)
#   cri_test_image                  the test pods' image (static pause and slb-probe)
#   cri_import IMAGE.tar            into the k8s.io namespace (CRI's)
#   cri_pod_cgroup QOS UID          kubelet's pod cgroup (cgroupfs driver) in every hierarchy
#   cri_runp POD.json               RunPodSandbox, the id in CRI_ID
#   cri COMMAND ARGS...             test/cri/cri.py against it (cri inspectp ID, ...)
#   cri_in_ns CMD...                a command in containerd's mount namespace
#
# containerd has its own root, state, sockets, runc root and CNI dirs under
# $TL_TMP, and runs in a mount namespace of its own (every mount there rshared,
# as on a systemd host, so kubelet-style HostToContainer mounts work; nothing
# propagates back) with a tmpfs on /run: the pod network namespaces, shim
# sockets and runc state it puts under /run, and the rootfs and shm mounts of
# its containers, go away with that namespace. The one host path it writes is
# libcni's result cache (/var/lib/cni/results/<network>-*), which DEL empties.
# containerd and its shims run in the test's cgroup $TL_CG/containerd, pods
# under $TL_CG: lib.sh's cleanup kills what is left. cri_stop first stops and
# removes every pod the test ran, as kubelet would, so that the CNI DELs run.
# Variables: CRI_DIR, CRI_SOCK, CRI_CNI_BIN, CRI_CNI_CONF, CRI_PID (containerd),
# CRI_SANDBOXES (ids cri_runp ran), CRI_CALLS (the CNI calls log, see cri_cni_wrap).

CRI_DIR=$TL_TMP/containerd
CRI_SOCK=$CRI_DIR/containerd.sock
CRI_CNI_BIN=$CRI_DIR/cni-bin
CRI_CNI_CONF=$CRI_DIR/net.d
CRI_CALLS=$CRI_DIR/cni-calls
CRI_PID=
CRI_SANDBOXES=()
export CRI_PB_DIR=$TL_TMP/cri-pb
# What containerd puts in the k8s.io namespace is what its CRI plugin sees.
CRI_NS=k8s.io
# The test pods' sandbox image (cri_test_image builds and imports it).
CRI_PAUSE_IMAGE=localhost/socklb-test/pod:1

# cri COMMAND ARGS...: test/cri/cri.py on our containerd (Debian's python3 has grpcio).
cri() {
	/usr/bin/python3 "$TL_ROOT/test/cri/cri.py" "$CRI_SOCK" "$@"
}

cri_ctr() {
	ctr --address "$CRI_SOCK" -n "$CRI_NS" "$@"
}

# cri_require: every tool these tests need, or one "not ok" naming what is missing.
cri_require() {
	local missing=() t
	for t in containerd containerd-shim-runc-v2 runc ctr unshare; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] || missing+=(containernetworking-plugins)
	/usr/bin/python3 -c 'import grpc, grpc_tools' 2>/dev/null || missing+=(python3-grpcio python3-grpc-tools)
	if [ "${#missing[@]}" -gt 0 ]; then
		tl_not_ok "missing: ${missing[*]} (hack/install-deps.sh installs them)"
		return 1
	fi
}

# cri_cni_wrap NAME REAL: puts NAME in the CNI bin dir as a wrapper around REAL that
# records each call as the runtime made it (one directory per call under
# $CRI_CALLS: the environment's CNI_* variables, stdin, stdout, exit status) and
# passes stdin, stdout and the exit status through unchanged.
cri_cni_wrap() {
	local name=$1 real=$2
	mkdir -p "$CRI_CALLS"
	cat >"$CRI_CNI_BIN/$name" <<EOF
#!/bin/sh
call=\$(mktemp -d "$CRI_CALLS/\$(date +%s%N).XXXX")
env | grep '^CNI_' >"\$call/env"
cat >"\$call/stdin"
"$real" <"\$call/stdin" >"\$call/stdout"
rc=\$?
echo \$rc >"\$call/rc"
cat "\$call/stdout"
exit \$rc
EOF
	chmod 0755 "$CRI_CNI_BIN/$name"
}

# cri_start [CONFLIST]: writes the config and starts containerd (max 30 s to answer).
# The CNI bin dir holds Debian's standard plugins; add others before pods run.
cri_start() {
	local conflist=${1:-} i
	mkdir -p "$CRI_DIR" "$CRI_CNI_BIN" "$CRI_CNI_CONF" "$TL_CG/containerd"
	ln -s /usr/lib/cni/* "$CRI_CNI_BIN/"
	[ -n "$conflist" ] && cp "$conflist" "$CRI_CNI_CONF/"
	# restrict_oom_score_adj: the test runs without CAP_SYS_RESOURCE, so a
	# container's oom_score_adj may not go below containerd's own.
	cat >"$CRI_DIR/config.toml" <<EOF
version = 2
root = "$CRI_DIR/root"
state = "$CRI_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CRI_SOCK"

[ttrpc]
  address = "$CRI_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CRI_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "$(command -v runc)"
  Root = "$CRI_DIR/runc"
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$CRI_CNI_BIN"
  conf_dir = "$CRI_CNI_CONF"
  max_conf_num = 1
EOF
	(
		echo "$BASHPID" >"$TL_CG/containerd/cgroup.procs" &&
			exec unshare --mount --propagation private /bin/sh -c \
				'mount --make-rshared / && mount -t tmpfs -o mode=0755 socklb-test /run && exec containerd --config "$1"' \
				_ "$CRI_DIR/config.toml"
	) >"$CRI_DIR/containerd.log" 2>&1 &
	CRI_PID=$!
	for i in $(seq 300); do
		[ -S "$CRI_SOCK" ] && cri version >/dev/null 2>&1 && return 0
		kill -0 "$CRI_PID" 2>/dev/null || break
		sleep 0.1
	done
	tl_not_ok "containerd answers on $CRI_SOCK"
	tail -20 "$CRI_DIR/containerd.log" | sed 's/^/#   /'
	return 1
}

# cri_in_ns CMD...: run CMD in containerd's mount namespace (its /run).
cri_in_ns() {
	nsenter -t "$CRI_PID" -m "$@"
}

# cri_import IMAGE.tar [ctr import options]: the image into the CRI's namespace.
cri_import() {
	cri_ctr images import "${@:2}" "$1"
}

# cri_test_image: the test pods' image, from this build's static test tools:
# /pause (the sandbox image's entrypoint) and /slb-probe, imported as $CRI_PAUSE_IMAGE.
cri_test_image() {
	local tools=$TL_BUILD/test/static
	/usr/bin/python3 "$TL_ROOT/test/cri/oci_image.py" "$CRI_DIR/pod-image.tar" "$CRI_PAUSE_IMAGE" \
		"$(dpkg --print-architecture)" /pause "$tools/slb-pause:/pause" "$tools/slb-probe:/slb-probe" &&
		cri_import "$CRI_DIR/pod-image.tar" >/dev/null
}

# Cgroup hierarchies of this host: the cgroup v1 controllers' mount points (hybrid
# hosts) and the v2 one, as kubelet's cgroupfs driver creates a pod in each.
cri_cgroup_mounts() {
	awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo
}

# cri_pod_cgroup QOS UID: kubelet's pod cgroup under the test's parent
# (kubepods/<qos>/pod<uid>, Guaranteed: kubepods/pod<uid>) in every hierarchy,
# made before RunPodSandbox as kubelet does; sets CRI_CGROUP_PARENT, the
# cgroup_parent to give the runtime. The v1 copies go on the cleanup list before $TL_CG, so lib.sh removes
# them after it has killed what runs in ours (v1 has no cgroup.kill).
cri_pod_cgroup() {
	local qos=$1 uid=$2 rel mnt dir top
	if [ "$qos" = guaranteed ]; then
		rel=kubepods/pod$uid
	else
		rel=kubepods/$qos/pod$uid
	fi
	while read -r mnt; do
		top=$mnt/${TL_CG##*/}
		dir=$top/$rel
		mkdir -p "$dir" || return 1
		if [ "$mnt" != "$TL_CGROOT" ] && [[ " ${TL_CGROUPS[*]} " != *" $top "* ]]; then
			TL_CGROUPS=("$top" "${TL_CGROUPS[@]}")
		fi
	done < <(cri_cgroup_mounts)
	CRI_CGROUP_PARENT=/${TL_CG##*/}/$rel
}

# cri_runp POD.json: RunPodSandbox; sets CRI_ID and remembers it for cri_stop.
cri_runp() {
	CRI_ID=$(cri runp "$1") || return 1
	CRI_SANDBOXES+=("$CRI_ID")
}

# cri_stop: every pod the test ran stopped and removed (the CNI DELs run),
# then containerd stopped (its shims end with their pods; lib.sh kills the rest).
cri_stop() {
	local id i
	[ -n "$CRI_PID" ] || return 0
	for id in "${CRI_SANDBOXES[@]}"; do
		CRI_TIMEOUT=10 cri stopp "$id" >/dev/null 2>&1
		CRI_TIMEOUT=10 cri rmp "$id" >/dev/null 2>&1
	done
	kill -TERM "$CRI_PID" 2>/dev/null
	for i in $(seq 50); do
		kill -0 "$CRI_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$CRI_PID" 2>/dev/null
	wait "$CRI_PID" 2>/dev/null
	CRI_PID=
}

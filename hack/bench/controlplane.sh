# shellcheck shell=bash
# The control-plane half of make bench (sourced by hack/bench.sh): time to
# install N services from nothing, time to apply one endpoint change at N
# services, and CNI ADD latency. Rows go to $BENCH_OUT/controlplane.csv as
# metric,path,value_ms.
#
#   install   socklb-syncd --once into an empty bpffs root; nft -f of kube-proxy's
#             whole ruleset (one transaction, as kube-proxy's first sync) and
#             iptables-restore of it, each into an empty netns. kube-proxy adds
#             --noflush, which iptables-nft 1.8.9 makes quadratic in userspace
#             (a strcmp walk of the chain list per chain): the plain restore
#             is iptables' best case
#   epchange  one backend pod leaves the measured service (12 → 11 → 12 ...):
#             socklb: socklb-syncd runs on the cluster's JSON, the file that
#             holds the change is replaced (atomic rename) and
#             slb-bench-mapwait polls the pinned map until the frontend shows
#             the new count; twice: with one file per namespace
#             (--source file:DIR, the daemon re-reads only the changed file;
#             path "socklb") and with the whole cluster in one file (path
#             "socklb-onefile"); nftables/iptables: the transaction
#             kube-proxy's partial sync would run for that change
#   cni_add   cnitool add through the chain: bridge + host-local alone, then
#             with socklb for a pod that did not opt in and one that did; the
#             first opted-in ADD of a node (it loads and pins the programs)
#             is reported apart

CP_DAEMON_PID=""
CP_CNI_NETNS=""

cp_record() { # metric path ms...
	local metric=$1 path=$2 ms
	shift 2
	for ms in "$@"; do
		echo "$metric,$path,$ms" >>"$BENCH_OUT/controlplane.csv"
	done
}

cp_ms_since() { # start (EPOCHREALTIME without the dot)
	awk -v us=$((${EPOCHREALTIME/./} - $1)) 'BEGIN { printf "%.3f\n", us / 1000 }'
}

# Everything the control-plane part may leave behind when interrupted.
cp_cleanup() {
	if [ -n "$CP_DAEMON_PID" ]; then
		kill "$CP_DAEMON_PID" 2>/dev/null
		wait "$CP_DAEMON_PID" 2>/dev/null
		CP_DAEMON_PID=""
	fi
	[ -n "$CP_CNI_NETNS" ] && ip netns del "$CP_CNI_NETNS" 2>/dev/null
	return 0
}

cp_scratch_netns() { # name; sets CP_NS
	CP_NS=socklb-$NODE_ID-$1
	ip netns add "$CP_NS"
	BENCH_NETNS+=("$CP_NS")
	ip -n "$CP_NS" link set lo up
}

cp_generate() { # services dir
	local n=$1 dir=$2 backends
	backends=$(
		IFS=,
		echo "${BENCH_BACKENDS[*]}"
	)
	mkdir -p "$dir"
	# The data-plane run at the same scale generated the same cluster and iptables rules already.
	if [ -f "$BENCH_WORK/cluster-$n.json" ] && [ -f "$BENCH_WORK/iptables-$n.rules" ]; then
		cp "$BENCH_WORK/cluster-$n.json" "$dir/a.json"
		cp "$BENCH_WORK/iptables-$n.rules" "$dir/full.iptables"
	else
		"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$n" --backends "$backends" >"$dir/a.json"
		"$PYTHON" "$REPO/hack/bench/gen_iptables.py" "$dir/a.json" >"$dir/full.iptables"
	fi
	"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$n" --backends "$backends" --drop-last >"$dir/b.json"
	"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$n" --backends "$backends" --split-dir "$dir/split-a"
	"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$n" --backends "$backends" --drop-last \
		--split-dir "$dir/split-b"
	"$PYTHON" "$REPO/hack/bench/gen_nft.py" "$dir/a.json" >"$dir/full.nft"
	"$PYTHON" "$REPO/hack/bench/gen_nft.py" --partial "$dir/a.json" "$dir/b.json" >"$dir/a-to-b.nft"
	"$PYTHON" "$REPO/hack/bench/gen_nft.py" --partial "$dir/b.json" "$dir/a.json" >"$dir/b-to-a.nft"
	"$PYTHON" "$REPO/hack/bench/gen_iptables.py" --partial "$dir/a.json" "$dir/b.json" >"$dir/a-to-b.iptables"
	"$PYTHON" "$REPO/hack/bench/gen_iptables.py" --partial "$dir/b.json" "$dir/a.json" >"$dir/b-to-a.iptables"
}

# Leaves CP_SOCKLB_ROOT holding the services, for the endpoint-change timing.
cp_install_socklb() { # dir
	local dir=$1 r root t0
	for r in $(seq "$BENCH_INSTALL_REPS"); do
		root=/sys/fs/bpf/socklb-$NODE_ID-cp$r
		BENCH_BPFFS_ROOTS+=("$root")
		t0=${EPOCHREALTIME/./}
		"$SYNCD" --once --source "file:$dir/a.json" --bpffs-root "$root" --node-name bench-node --metrics-addr "" \
			>>"$BENCH_WORK/syncd.log" 2>&1 || die "socklb-syncd --once failed: see $BENCH_WORK/syncd.log"
		cp_record install socklb "$(cp_ms_since "$t0")"
		[ -n "${CP_SOCKLB_ROOT:-}" ] && rm -rf "$CP_SOCKLB_ROOT"
		CP_SOCKLB_ROOT=$root
	done
}

# Leaves CP_NETNS[path] holding the rules, for the endpoint-change timing.
cp_install_rules() { # path tool reps file
	local path=$1 tool=$2 reps=$3 file=$4 r ms
	for r in $(seq "$reps"); do
		cp_scratch_netns "cp-$path-$r"
		ms=$(ip netns exec "$CP_NS" bash "$REPO/hack/bench/time_apply.sh" "$tool" 1 "$file") ||
			die "$path: installing $file failed"
		cp_record install "$path" "$ms"
		[ -n "${CP_NETNS[$path]:-}" ] && ip netns del "${CP_NETNS[$path]}"
		CP_NETNS[$path]=$CP_NS
	done
}

# cp_epchange_socklb PATH ROUNDS SOURCE TARGET FILE_A FILE_B: socklb-syncd watches SOURCE (a file
# or a directory); TARGET (in SOURCE) is replaced by FILE_B (11 backends) and FILE_A (12) in turn.
cp_epchange_socklb() {
	local path=$1 rounds=$2 source=$3 target=$4 a=$5 b=$6 log=$BENCH_WORK/syncd-$1.log out i
	"$SYNCD" --source "file:$source" --bpffs-root "$CP_SOCKLB_ROOT" --node-name bench-node \
		--metrics-addr "" >"$log" 2>&1 &
	CP_DAEMON_PID=$!
	for i in $(seq 300); do
		grep -q 'initial sync done' "$log" && break
		[ "$i" -lt 300 ] || die "socklb-syncd did not finish its initial sync: see $log"
		sleep 0.1
	done
	out=$("$BENCH_TOOLS/slb-bench-mapwait" "$CP_SOCKLB_ROOT" "$BENCH_VIP" 80 TCP "$target" \
		"$rounds" "$a" 12 "$b" 11) ||
		echo "bench: $path: some endpoint changes did not reach the map: $(tail -1 <<<"$out")" >&2
	cp_cleanup
	# shellcheck disable=SC2046
	cp_record epchange "$path" $(awk '$1 == "round" { printf "%.3f\n", $4 / 1000 }' <<<"$out")
}

cp_epchange_rules() { # path tool dir ext
	local path=$1 tool=$2 dir=$3 ext=$4 out
	out=$(ip netns exec "${CP_NETNS[$path]}" bash "$REPO/hack/bench/time_apply.sh" "$tool" \
		"$BENCH_EP_ROUNDS_SLOW" "$dir/a-to-b.$ext" "$dir/b-to-a.$ext") || die "$path: an endpoint change failed"
	# shellcheck disable=SC2086
	cp_record epchange "$path" $out
}

# A conflist like the node's, with the plugin list changed (python: json edit).
cp_conflist() { # dir mode(bridge|socklb) bpffs-root
	mkdir -p "$1"
	"$PYTHON" - "$NODE_TMP/net.d/10-$NODE_NET.conflist" "$1/10-$NODE_NET.conflist" "$2" "$3" <<'PY'
import json, sys
src, dst, mode, root = sys.argv[1:]
conf = json.load(open(src))
if mode == "bridge":
    conf["plugins"] = [p for p in conf["plugins"] if p["type"] != "socklb"]
else:
    for p in conf["plugins"]:
        if p["type"] == "socklb":
            p["bpffsRoot"] = root
json.dump(conf, open(dst, "w"), indent=2)
PY
}

# One timed ADD (then an untimed DEL) of a fresh pod, recorded as cni_add PATH.
cp_cni_once() { # path netconf-dir opt-in(true|"") name
	local path=$1 confdir=$2 optin=$3 name=$4 ns=socklb-$NODE_ID-$4 uid cgpath args caps ann='{}' t0 ms rc=0
	uid=$(cat /proc/sys/kernel/random/uuid)
	cgpath=$(node_pod_cgroup_path burstable "$uid")
	mkdir -p "$NODE_CG$cgpath"
	ip netns add "$ns"
	CP_CNI_NETNS=$ns
	[ -n "$optin" ] && ann="{\"socklb.io/enabled\":\"$optin\"}"
	args="IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$name;K8S_POD_UID=$uid"
	caps="{\"cgroupPath\":\"$cgpath\",\"io.kubernetes.cri.pod-annotations\":$ann}"
	t0=${EPOCHREALTIME/./}
	CNI_PATH=$NODE_TMP/bin NETCONFPATH=$confdir CNI_ARGS=$args CAP_ARGS=$caps \
		"$CNITOOL" add "$NODE_NET" "/var/run/netns/$ns" >/dev/null 2>>"$BENCH_WORK/cni.err" || rc=$?
	ms=$(cp_ms_since "$t0")
	CNI_PATH=$NODE_TMP/bin NETCONFPATH=$confdir CNI_ARGS=$args CAP_ARGS=$caps \
		"$CNITOOL" del "$NODE_NET" "/var/run/netns/$ns" >/dev/null 2>>"$BENCH_WORK/cni.err" || true
	ip netns del "$ns"
	CP_CNI_NETNS=""
	rmdir "$NODE_CG$cgpath"
	[ "$rc" -eq 0 ] || die "cnitool add of $name failed: see $BENCH_WORK/cni.err"
	cp_record cni_add "$path" "$ms"
}

cp_cni() {
	local i root=/sys/fs/bpf/socklb-$NODE_ID-cni
	BENCH_BPFFS_ROOTS+=("$root")
	cp_conflist "$BENCH_WORK/net.d-bridge" bridge ""
	cp_conflist "$BENCH_WORK/net.d-socklb" socklb "$root"
	cp_cni_once socklb-first "$BENCH_WORK/net.d-socklb" true cni-first
	for i in $(seq "$BENCH_CNI_ADDS"); do
		cp_cni_once bridge "$BENCH_WORK/net.d-bridge" "" "cni-b$i"
		cp_cni_once socklb-optout "$BENCH_WORK/net.d-socklb" "" "cni-o$i"
		cp_cni_once socklb-optin "$BENCH_WORK/net.d-socklb" true "cni-i$i"
	done
}

cp_run() { # services
	local n=$1 dir=$BENCH_WORK/cp
	declare -gA CP_NETNS=()
	echo "metric,path,value_ms" >"$BENCH_OUT/controlplane.csv"
	say "control plane at $n services: generating the cluster and kube-proxy's full and partial rule sets"
	cp_generate "$n" "$dir"
	say "install $n services: socklb-syncd --once ×$BENCH_INSTALL_REPS," \
		"iptables-restore ×$BENCH_INSTALL_REPS, nft -f ×$BENCH_NFT_INSTALL_REPS"
	cp_install_socklb "$dir"
	cp_install_rules iptables iptables "$BENCH_INSTALL_REPS" "$dir/full.iptables"
	cp_install_rules nftables nft "$BENCH_NFT_INSTALL_REPS" "$dir/full.nft"
	say "one endpoint change at $n services: socklb ×$BENCH_EP_ROUNDS (one file per namespace)," \
		"×$BENCH_EP_ROUNDS_SLOW each: socklb (the whole cluster in one file), nftables, iptables"
	mkdir -p "$BENCH_WORK/ep-dir" "$BENCH_WORK/ep-file"
	cp "$dir"/split-a/*.json "$BENCH_WORK/ep-dir/"
	cp_epchange_socklb socklb "$BENCH_EP_ROUNDS" "$BENCH_WORK/ep-dir" "$BENCH_WORK/ep-dir/bench.json" \
		"$dir/split-a/bench.json" "$dir/split-b/bench.json"
	cp "$dir/a.json" "$BENCH_WORK/ep-file/cluster.json"
	cp_epchange_socklb socklb-onefile "$BENCH_EP_ROUNDS_SLOW" "$BENCH_WORK/ep-file/cluster.json" \
		"$BENCH_WORK/ep-file/cluster.json" "$dir/a.json" "$dir/b.json"
	cp_epchange_rules nftables nft "$dir" nft
	cp_epchange_rules iptables iptables-noflush "$dir" iptables
	say "CNI ADD latency: $BENCH_CNI_ADDS ADDs per chain variant"
	cp_cni
}

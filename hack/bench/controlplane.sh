# shellcheck shell=bash
# The control-plane half of make bench (sourced by hack/bench.sh): time to
# install N services from nothing, time to apply one endpoint change at N
# services, the daemon's memory, and CNI ADD latency. Rows go to
# $BENCH_OUT/controlplane.csv as metric,path,services,value (milliseconds,
# or KiB for rss, hwm and file).
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
#             "socklb-onefile"); with --source kubernetes against the test
#             API server (test/apiserver/), the slice applied there and sent
#             as a watch event (path "socklb-kube"); nftables/iptables: the
#             transaction kube-proxy's partial sync would run for that change
#   rss, hwm  the daemon's VmRSS and VmHWM once its initial sync is done, and
#             after the endpoint changes (rss_after_changes,
#             hwm_after_changes); file: the size of the largest file each
#             path's daemon reads (0 for the API source)
#   large     socklb at BENCH_CP_LARGE services (≈ 7 backends each, maps sized
#             for them with --max-services/--max-backends): --once install,
#             and the daemon's memory after its initial sync
#   growth    installs at BENCH_CP_GROWTH services too, for every path: how
#             kube-proxy's rule sets grow
#   cni_add   cnitool add through the chain: bridge + host-local alone, then
#             with socklb for a pod that did not opt in and one that did; the
#             first opted-in ADD of a node (it loads and pins the programs)
#             is reported apart

CP_DAEMON_PID=""
CP_APISERVER_PID=""
CP_CNI_NETNS=""

cp_record() { # metric path services value...
	local metric=$1 path=$2 services=$3 v
	shift 3
	for v in "$@"; do
		echo "$metric,$path,$services,$v" >>"$BENCH_OUT/controlplane.csv"
	done
}

# The daemon's memory from /proc (KiB): rss and hwm, each with the suffix given.
cp_record_memory() { # pid path services [suffix]
	local pid=$1 path=$2 services=$3 suffix=${4:-}
	cp_record "rss$suffix" "$path" "$services" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")"
	cp_record "hwm$suffix" "$path" "$services" "$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")"
}

# The size of the largest of these files, KiB.
cp_largest() { # file...
	stat -c %s "$@" | sort -n | tail -1 | awk '{ print int($1 / 1024) }'
}

# Wait for the daemon's "initial sync done" in its log; dies after 300 s.
cp_wait_synced() { # log
	local i
	for i in $(seq 3000); do
		grep -qs 'initial sync done' "$1" && return 0
		sleep 0.1
	done
	die "socklb-syncd did not finish its initial sync: see $1"
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
	cp_stop_apiserver
	[ -n "$CP_CNI_NETNS" ] && ip netns del "$CP_CNI_NETNS" 2>/dev/null
	return 0
}

cp_stop_apiserver() {
	if [ -n "$CP_APISERVER_PID" ]; then
		kill "$CP_APISERVER_PID" 2>/dev/null
		wait "$CP_APISERVER_PID" 2>/dev/null
		CP_APISERVER_PID=""
	fi
}

cp_scratch_netns() { # name; sets CP_NS
	CP_NS=socklb-$NODE_ID-$1
	ip netns add "$CP_NS"
	BENCH_NETNS+=("$CP_NS")
	ip -n "$CP_NS" link set lo up
}

cp_backends() {
	local IFS=,
	echo "${BENCH_BACKENDS[*]}"
}

cp_generate() { # services dir
	local n=$1 dir=$2 backends
	backends=$(cp_backends)
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
cp_install_socklb() { # file services [daemon flags...]
	local file=$1 n=$2 r root t0
	shift 2
	for r in $(seq "$BENCH_INSTALL_REPS"); do
		root=/sys/fs/bpf/socklb-$NODE_ID-cp$n-$r
		BENCH_BPFFS_ROOTS+=("$root")
		t0=${EPOCHREALTIME/./}
		"$SYNCD" --once --source "file:$file" --bpffs-root "$root" --node-name bench-node --metrics-addr "" "$@" \
			>>"$BENCH_WORK/syncd.log" 2>&1 || die "socklb-syncd --once failed: see $BENCH_WORK/syncd.log"
		cp_record install socklb "$n" "$(cp_ms_since "$t0")"
		[ -n "${CP_SOCKLB_ROOT:-}" ] && rm -rf "$CP_SOCKLB_ROOT"
		CP_SOCKLB_ROOT=$root
	done
}

# Leaves CP_NETNS[path] holding the rules, for the endpoint-change timing.
cp_install_rules() { # path tool reps file services
	local path=$1 tool=$2 reps=$3 file=$4 n=$5 r ms
	for r in $(seq "$reps"); do
		cp_scratch_netns "cp-$path-$n-$r"
		ms=$(ip netns exec "$CP_NS" bash "$REPO/hack/bench/time_apply.sh" "$tool" 1 "$file") ||
			die "$path: installing $file failed"
		cp_record install "$path" "$n" "$ms"
		[ -n "${CP_NETNS[$path]:-}" ] && ip netns del "${CP_NETNS[$path]}"
		CP_NETNS[$path]=$CP_NS
	done
}

# cp_epchange_socklb PATH ROUNDS SOURCE TARGET FILE_A FILE_B SERVICES [daemon flags]: socklb-syncd reads
# SOURCE (file:PATH or kubernetes); TARGET (a file in SOURCE, or the test API server's URL that applies an
# object) gets FILE_B (11 backends) and FILE_A (12) in turn. The daemon's memory is read after its initial
# sync and after the changes.
cp_epchange_socklb() {
	local path=$1 rounds=$2 source=$3 target=$4 a=$5 b=$6 n=$7 log=$BENCH_WORK/syncd-$1.log out
	shift 7
	"$SYNCD" --source "$source" --bpffs-root "$CP_SOCKLB_ROOT" --node-name bench-node --metrics-addr "" "$@" \
		>"$log" 2>&1 &
	CP_DAEMON_PID=$!
	cp_wait_synced "$log"
	cp_record_memory "$CP_DAEMON_PID" "$path" "$n"
	out=$("$BENCH_TOOLS/slb-bench-mapwait" "$CP_SOCKLB_ROOT" "$BENCH_VIP" 80 TCP "$target" \
		"$rounds" "$a" 12 "$b" 11) ||
		echo "bench: $path: some endpoint changes did not reach the map: $(tail -1 <<<"$out")" >&2
	cp_record_memory "$CP_DAEMON_PID" "$path" "$n" _after_changes
	cp_cleanup
	# shellcheck disable=SC2046
	cp_record epchange "$path" "$n" $(awk '$1 == "round" { printf "%.3f\n", $4 / 1000 }' <<<"$out")
}

cp_epchange_rules() { # path tool dir ext services
	local path=$1 tool=$2 dir=$3 ext=$4 n=$5 out
	out=$(ip netns exec "${CP_NETNS[$path]}" bash "$REPO/hack/bench/time_apply.sh" "$tool" \
		"$BENCH_EP_ROUNDS_SLOW" "$dir/a-to-b.$ext" "$dir/b-to-a.$ext") || die "$path: an endpoint change failed"
	# shellcheck disable=SC2086
	cp_record epchange "$path" "$n" $out
}

# The test API server (test/apiserver/) holding the cluster of dir/a.json, its objects loaded without
# watch events; CP_APISERVER_PID, CP_PORTS, CP_KUBECONFIG; bench-a.json and bench-b.json in dir: the
# measured slice with 12 and 11 backends.
cp_apiserver() { # dir
	local dir=$1 pki=$BENCH_WORK/pki
	bash "$REPO/test/apiserver/gen-certs.sh" "$pki" || die "cannot make the test API server's certificates"
	echo "bench-token" >"$BENCH_WORK/token"
	CP_PORTS=$BENCH_WORK/apiserver-ports
	"$PYTHON" "$REPO/test/apiserver/apiserver.py" --cert "$pki/server.pem" --key "$pki/server.key" \
		--token-file "$BENCH_WORK/token" --ports-file "$CP_PORTS" 2>"$BENCH_WORK/apiserver.log" &
	CP_APISERVER_PID=$!
	"$PYTHON" "$REPO/test/apiserver/apictl.py" "$CP_PORTS" wait-ports >/dev/null || die "the test API server did not start"
	"$PYTHON" - "$dir" "$CP_PORTS" <<'PY' || die "cannot load the cluster into the test API server"
import json, os, sys, urllib.request
d, ports = sys.argv[1:3]
control = "http://127.0.0.1:%d" % json.load(open(ports))["control"]
for name, src in (("a", "a.json"), ("b", "b.json")):
    items = json.load(open(os.path.join(d, src)))["items"]
    by_kind = {}
    for o in items:
        by_kind.setdefault(o["kind"], []).append(o)
    if name == "a":
        # Loaded without watch events: the daemon lists them.
        for kind, resource in (("Service", "services"), ("EndpointSlice", "endpointslices"),
                               ("Namespace", "namespaces")):
            req = urllib.request.Request("%s/replace/%s?silent=1" % (control, resource), method="POST",
                                         data=json.dumps(by_kind.get(kind, [])).encode(),
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=600).read()
    bench = [o for o in by_kind["EndpointSlice"] if o["metadata"]["namespace"] == "bench"]
    json.dump(bench[0], open(os.path.join(d, "bench-%s.json" % name), "w"))
PY
	CP_KUBECONFIG=$BENCH_WORK/kubeconfig.json
	"$PYTHON" - "$CP_KUBECONFIG" "$CP_PORTS" "$pki/ca.pem" "$BENCH_WORK/token" <<'PY'
import base64, json, sys
out, ports, ca, token = sys.argv[1:5]
server = "https://127.0.0.1:%d" % json.load(open(ports))["api"]
ca_data = base64.b64encode(open(ca, "rb").read()).decode()
json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "bench",
           "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
           "clusters": [{"name": "bench", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
           "users": [{"name": "bench", "user": {"tokenFile": token}}]}, open(out, "w"))
PY
}

# socklb at BENCH_CP_LARGE services: --once installs, then the daemon's memory after its initial sync.
cp_large() {
	local n=$BENCH_CP_LARGE dir=$BENCH_WORK/large log=$BENCH_WORK/syncd-large.log
	local sizes=(--max-services 262144 --max-backends 1048576)
	mkdir -p "$dir"
	"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$n" --backends "$(cp_backends)" >"$dir/a.json"
	cp_record file socklb-onefile "$n" "$(cp_largest "$dir/a.json")"
	cp_install_socklb "$dir/a.json" "$n" "${sizes[@]}"
	"$SYNCD" --source "file:$dir/a.json" --bpffs-root "$CP_SOCKLB_ROOT" --node-name bench-node --metrics-addr "" \
		"${sizes[@]}" >"$log" 2>&1 &
	CP_DAEMON_PID=$!
	cp_wait_synced "$log"
	cp_record_memory "$CP_DAEMON_PID" socklb-onefile "$n"
	cp_cleanup
	rm -rf "$dir" "$CP_SOCKLB_ROOT"
	CP_SOCKLB_ROOT=""
}

# Installs at other sizes for every path: how each grows with the number of services.
cp_growth() {
	local n dir backends
	backends=$(cp_backends)
	for n in $BENCH_CP_GROWTH; do
		dir=$BENCH_WORK/grow-$n
		mkdir -p "$dir"
		"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$n" --backends "$backends" >"$dir/a.json"
		"$PYTHON" "$REPO/hack/bench/gen_iptables.py" "$dir/a.json" >"$dir/full.iptables"
		"$PYTHON" "$REPO/hack/bench/gen_nft.py" "$dir/a.json" >"$dir/full.nft"
		cp_install_socklb "$dir/a.json" "$n"
		cp_install_rules iptables iptables "$BENCH_INSTALL_REPS" "$dir/full.iptables" "$n"
		cp_install_rules nftables nft "$BENCH_NFT_INSTALL_REPS" "$dir/full.nft" "$n"
		rm -rf "$dir"
	done
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
	cp_record cni_add "$path" 0 "$ms"
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
	local n=$1 dir=$BENCH_WORK/cp url
	declare -gA CP_NETNS=()
	echo "metric,path,services,value" >"$BENCH_OUT/controlplane.csv"
	say "control plane at $n services: generating the cluster and kube-proxy's full and partial rule sets"
	cp_generate "$n" "$dir"
	cp_record file socklb-onefile "$n" "$(cp_largest "$dir/a.json")"
	cp_record file socklb "$n" "$(cp_largest "$dir"/split-a/*.json)"
	cp_record file socklb-kube "$n" 0
	say "install $n services: socklb-syncd --once ×$BENCH_INSTALL_REPS," \
		"iptables-restore ×$BENCH_INSTALL_REPS, nft -f ×$BENCH_NFT_INSTALL_REPS"
	cp_install_socklb "$dir/a.json" "$n"
	cp_install_rules iptables iptables "$BENCH_INSTALL_REPS" "$dir/full.iptables" "$n"
	cp_install_rules nftables nft "$BENCH_NFT_INSTALL_REPS" "$dir/full.nft" "$n"
	say "one endpoint change at $n services: socklb ×$BENCH_EP_ROUNDS (one file per namespace, and from the" \
		"API server), ×$BENCH_EP_ROUNDS_SLOW each: socklb (the whole cluster in one file), nftables, iptables"
	mkdir -p "$BENCH_WORK/ep-dir" "$BENCH_WORK/ep-file"
	cp "$dir"/split-a/*.json "$BENCH_WORK/ep-dir/"
	cp_epchange_socklb socklb "$BENCH_EP_ROUNDS" "file:$BENCH_WORK/ep-dir" "$BENCH_WORK/ep-dir/bench.json" \
		"$dir/split-a/bench.json" "$dir/split-b/bench.json" "$n"
	cp "$dir/a.json" "$BENCH_WORK/ep-file/cluster.json"
	cp_epchange_socklb socklb-onefile "$BENCH_EP_ROUNDS_SLOW" "file:$BENCH_WORK/ep-file/cluster.json" \
		"$BENCH_WORK/ep-file/cluster.json" "$dir/a.json" "$dir/b.json" "$n"
	cp_apiserver "$dir"
	url=http://127.0.0.1:$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["control"])' \
		"$CP_PORTS")/apply/endpointslices
	cp_epchange_socklb socklb-kube "$BENCH_EP_ROUNDS" kubernetes "$url" "$dir/bench-a.json" "$dir/bench-b.json" \
		"$n" --kubeconfig "$CP_KUBECONFIG"
	cp_stop_apiserver
	cp_epchange_rules nftables nft "$dir" nft "$n"
	cp_epchange_rules iptables iptables-noflush "$dir" iptables "$n"
	if [ "$BENCH_CP_LARGE" -gt 0 ]; then
		say "socklb at $BENCH_CP_LARGE services: generating the cluster, --once ×$BENCH_INSTALL_REPS, the daemon's memory"
		cp_large
	fi
	if [ -n "$BENCH_CP_GROWTH" ]; then
		say "installs at $BENCH_CP_GROWTH services too: socklb-syncd --once and iptables-restore" \
			"×$BENCH_INSTALL_REPS, nft -f ×$BENCH_NFT_INSTALL_REPS"
		cp_growth
	fi
	say "CNI ADD latency: $BENCH_CNI_ADDS ADDs per chain variant"
	cp_cni
}

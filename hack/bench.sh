#!/usr/bin/env bash
# make bench: socklb against the direct pod-to-pod path and kube-proxy-style
# nftables and iptables rules, side by side in one run, on one machine.
#
# A private node (hack/node.sh): 12 backend pods and one client pod per path
# on one bridge, made through the real CNI chain (bridge + host-local, then
# the socklb plugin); the real socklb-syncd installs the services from a
# Services/EndpointSlices JSON file, and the nftables/iptables rules are
# generated from the same file (hack/bench/gen_*.py). Data plane:
# hack/bench/dataplane.sh; control plane: hack/bench/controlplane.sh; table
# and plot: hack/bench/report.py. Everything is removed on every exit path.
#
# Settings (environment variables, defaults in brackets):
#   BENCH_SECONDS [1.2] BENCH_WARMUP [0.2] seconds per measurement and its warm-up
#   BENCH_REPS [5]                        repetitions (paths interleaved in each)
#   BENCH_SCALES ["1 1000 10000"]         services installed in every path ("": control plane only)
#   BENCH_LOADS ["crr1 crr32 udp1 udp32 stream"]  (also: connect, a UDP connect() alone)
#   BENCH_TRACE_LOADS ["crr1 crr32"]       loads also measured with socklb-syncd trace running ("" for none)
#   BENCH_CP_SERVICES [10000]             services for the control-plane timings
#   BENCH_CP_LARGE [100000]               socklb's install and memory at this size too (0: not)
#   BENCH_CP_GROWTH ["1000 3000"]         every path's install at these sizes too ("": not)
#   BENCH_INSTALL_REPS [3] BENCH_NFT_INSTALL_REPS [1]
#   BENCH_EP_ROUNDS [100]                 endpoint changes timed (socklb, one file per namespace)
#   BENCH_EP_ROUNDS_SLOW [20]             the same for the slow ones (socklb on one file, nft, iptables)
#   BENCH_CNI_ADDS [200]                  CNI ADDs timed per variant
#   BENCH_OUT [hack/bench/results/DATE]  results directory
#   BENCH_HOG [""]                        CPUs (e.g. "1" or "0,1") each given a busy loop during the
#                                         data-plane measurements: what other work does to the figures
#   BENCH_NICE [""]                       e.g. -20: the benchmark runs in a session of its own whose
#                                         autogroup gets this nice, so that other jobs' sessions get
#                                         a small share of the CPUs while it measures (a shared machine)
set -euo pipefail
BENCH_T0=${EPOCHREALTIME/./}
REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/node.sh
source "$REPO/hack/node.sh"
# shellcheck source=hack/bench/dataplane.sh
source "$REPO/hack/bench/dataplane.sh"
# shellcheck source=hack/bench/controlplane.sh
source "$REPO/hack/bench/controlplane.sh"

# Many short interleaved runs rather than a few long ones: interference from
# other work on the machine comes in bursts, and a median over more runs
# shrugs more of it off.
BENCH_SECONDS=${BENCH_SECONDS:-1.2}
BENCH_WARMUP=${BENCH_WARMUP:-0.2}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_SCALES=${BENCH_SCALES-"1 1000 10000"}
BENCH_LOADS=${BENCH_LOADS:-"crr1 crr32 udp1 udp32 stream"}
BENCH_TRACE_LOADS=${BENCH_TRACE_LOADS-"crr1 crr32"}
BENCH_CP_SERVICES=${BENCH_CP_SERVICES:-10000}
BENCH_CP_LARGE=${BENCH_CP_LARGE:-100000}
BENCH_CP_GROWTH=${BENCH_CP_GROWTH-"1000 3000"}
BENCH_INSTALL_REPS=${BENCH_INSTALL_REPS:-3}
BENCH_NFT_INSTALL_REPS=${BENCH_NFT_INSTALL_REPS:-1}
BENCH_EP_ROUNDS=${BENCH_EP_ROUNDS:-100}
BENCH_EP_ROUNDS_SLOW=${BENCH_EP_ROUNDS_SLOW:-20}
BENCH_CNI_ADDS=${BENCH_CNI_ADDS:-200}
BENCH_OUT=${BENCH_OUT:-$REPO/hack/bench/results/$(date +%Y-%m-%d-%H%M%S)}
BENCH_HOG=${BENCH_HOG:-}
BENCH_NICE=${BENCH_NICE:-}
BENCH_TOOLS=$NODE_BUILD/test/tools
SYNCD=$NODE_BUILD/socklb-syncd
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3 # the distribution's, not a shim that costs 0.1 s a call
# Scratch network namespaces and bpffs roots, and the busy loops of BENCH_HOG, removed by bench_cleanup.
BENCH_NETNS=()
BENCH_BPFFS_ROOTS=()
BENCH_HOG_PIDS=()
# The load generator gets CPU 0, every server CPU 1: client, servers and the
# kernel work each does (softirq runs where the packet was sent) never fight
# for one CPU at random.
LOADGEN_CPU=0
SERVER_CPU=1

# Elapsed seconds since the start, for progress lines.
bench_elapsed() {
	echo $(((${EPOCHREALTIME/./} - BENCH_T0) / 1000000))
}

say() {
	printf '[%4ss] %s\n' "$(bench_elapsed)" "$*"
}

die() {
	echo "bench: $*" >&2
	exit 1
}

# The host gets a blackhole route for the service range while the bench runs
# (unless it already routes that exact prefix): whatever a rule fails to
# rewrite is dropped here rather than sent to the default route. The pods have
# no route out anyway (node.sh); this covers the host's own lookups.
BENCH_BLACKHOLE=""
bench_blackhole_services() {
	if [ -n "$(ip route show exact "$NODE_VIP_RANGE" 2>/dev/null)" ]; then
		echo "bench: the host already routes $NODE_VIP_RANGE; left as it is" >&2
		return 0
	fi
	ip route add blackhole "$NODE_VIP_RANGE" || die "cannot add a blackhole route for $NODE_VIP_RANGE"
	BENCH_BLACKHOLE=$NODE_VIP_RANGE
}

bench_cleanup() {
	local ns root
	set +e
	bench_hog_stop
	[ -n "$BENCH_BLACKHOLE" ] && ip route del blackhole "$BENCH_BLACKHOLE"
	[ -f "${BENCH_WORK:-}/tracer.pid" ] && kill -INT "$(cat "$BENCH_WORK/tracer.pid")" 2>/dev/null
	cp_cleanup
	for ns in "${BENCH_NETNS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	for root in "${BENCH_BPFFS_ROOTS[@]}"; do
		rm -rf "$root"
	done
	node_cleanup
	[ -n "${BENCH_WORK:-}" ] && rm -rf "$BENCH_WORK"
}

# BENCH_HOG: one busy loop pinned to each listed CPU, as another job would run: in a session
# (so an autogroup) of its own, with the benchmark's weight.
bench_hog_start() {
	local cpu
	for cpu in ${BENCH_HOG//,/ }; do
		setsid bash -c 'echo "$1" >/proc/self/autogroup 2>/dev/null; exec taskset -c "$2" bash -c "while :; do :; done"' \
			_ "${BENCH_NICE:-0}" "$cpu" &
		BENCH_HOG_PIDS+=($!)
	done
}

# BENCH_NICE: the scheduler shares the CPUs between sessions (autogroups) first, so the
# benchmark runs again in a session of its own, whose autogroup gets the nice asked for. The
# first process waits for it and passes an interrupt on (the session's pid is in the file
# BENCH_SESSION names).
bench_own_session() {
	local rc=0
	[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] ||
		die "BENCH_NICE needs autogroup scheduling (kernel.sched_autogroup_enabled is not 1)"
	if [ -n "${BENCH_SESSION:-}" ]; then
		echo "$$" >"$BENCH_SESSION"
		echo "$BENCH_NICE" >/proc/self/autogroup || die "cannot set the benchmark's autogroup to nice $BENCH_NICE"
		return 0
	fi
	BENCH_SESSION=$(mktemp /tmp/socklb-bench-session.XXXX)
	export BENCH_SESSION
	setsid --wait bash "$0" "$@" &
	trap 'kill -TERM "$(cat "$BENCH_SESSION")" 2>/dev/null' INT TERM
	wait $! || rc=$?
	while pgrep -s "$(cat "$BENCH_SESSION")" >/dev/null 2>&1; do # interrupted: it is cleaning up
		sleep 0.2
	done
	rm -f "$BENCH_SESSION"
	exit "$rc"
}

bench_hog_stop() {
	local pid
	for pid in "${BENCH_HOG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true # killed: not a failure
	done
	BENCH_HOG_PIDS=()
}

# Percent of CPU time idle over one second: other work on the machine makes every figure noisy.
bench_idle_percent() {
	local a b i total=0 idle
	read -r -a a < <(head -1 /proc/stat)
	sleep 1
	read -r -a b < <(head -1 /proc/stat)
	idle=$((b[4] + b[5] - a[4] - a[5]))
	for i in 1 2 3 4 5 6 7 8; do
		total=$((total + b[i] - a[i]))
	done
	echo $((total ? 100 * idle / total : 100))
}

bench_describe_machine() {
	local cpu virt idle
	idle=$(bench_idle_percent)
	[ "$idle" -ge 90 ] || echo "bench: the machine is busy (only $idle% idle before the run): expect noisy figures" >&2
	cpu=$(lscpu | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
	virt=$(lscpu | awk -F: '/^Hypervisor vendor/ { gsub(/^ +/, "", $2); print $2; exit }')
	{
		echo "- CPU: $(nproc) × ${cpu:-unknown}${virt:+ (virtual machine, $virt hypervisor)}"
		echo "- memory: $(free -g | awk '/^Mem:/ { print $2 }') GiB; kernel $(uname -r);" \
			"Debian $(cat /etc/debian_version 2>/dev/null || echo '?')"
		echo "- $(nft --version | head -1); $(iptables --version | head -1)"
		echo "- socklb $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" \
			status --porcelain -- . ':!hack/bench/results' 2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
		echo "- load generator pinned to CPU $LOADGEN_CPU, all 12 servers to CPU $SERVER_CPU (taskset)"
		echo "- $BENCH_REPS repetitions × ${BENCH_SECONDS} s per measurement (+${BENCH_WARMUP} s warm-up), paths interleaved (each repetition starts with the next path)"
		echo "- CPU idle in the second before the run: $idle%"
		[ -z "$BENCH_HOG" ] || echo "- a busy loop on CPU $BENCH_HOG during the data-plane measurements (BENCH_HOG)"
		[ -z "$BENCH_NICE" ] || echo "- the benchmark's session (autogroup) at nice $BENCH_NICE, other sessions at their own (BENCH_NICE)"
	} >"$BENCH_OUT/machine.md"
	printf 'cp_services=%s\ncp_large=%s\nseconds=%s\n' "$BENCH_CP_SERVICES" "$BENCH_CP_LARGE" "$BENCH_SECONDS" \
		>"$BENCH_OUT/params.txt"
}

main() {
	[ "$(id -u)" -eq 0 ] || die "make bench needs root (network namespaces, cgroups, BPF)"
	[ -z "$BENCH_NICE" ] || bench_own_session "$@"
	local t
	for t in "$NODE_BUILD/socklb" "$SYNCD" "$BENCH_TOOLS/slb-bench" "$BENCH_TOOLS/slb-bench-server" \
		"$BENCH_TOOLS/slb-bench-mapwait"; do
		[ -x "$t" ] || die "$t is missing: run make bench (it builds everything first)"
	done
	command -v gnuplot >/dev/null || die "gnuplot is missing: run make deps"
	if [ "$(nproc)" -lt 2 ]; then
		echo "bench: only one CPU: the load generator and the servers share it" >&2
		SERVER_CPU=0
	fi
	mkdir -p "$BENCH_OUT"
	BENCH_WORK=$(mktemp -d /tmp/socklb-bench.XXXX)
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	bench_describe_machine

	say "private node: bpffs root, kubelet-style cgroups, conflist [bridge + host-local, socklb]"
	node_init "${BENCH_ID:-bn$$}" "10.244.$((RANDOM % 200 + 20))"
	bench_blackhole_services
	dp_make_pods
	say "pods: 12 backends; clients: direct (not opted in), socklb (opted in)," \
		"nftables and iptables (rules in their netns)"

	local scale
	bench_hog_start
	for scale in $BENCH_SCALES; do
		dp_run_scale "$scale"
	done
	bench_hog_stop
	cp_run "$BENCH_CP_SERVICES"

	"$PYTHON" "$REPO/hack/bench/report.py" "$BENCH_OUT"
	say "results in $BENCH_OUT (results.md, dataplane.csv, controlplane.csv, plot.png)"
}

main "$@"

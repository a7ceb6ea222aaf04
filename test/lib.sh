#!/usr/bin/env bash
# Shared helpers for the root integration tests. Everything a test makes is
# uniquely named after TL_ID and removed by the EXIT trap, also on failure.
#
#   source "$(dirname "$0")/../lib.sh"; tl_init
#   tl_bridge; tl_pod client 10.244.0.2/24 fd00:244::2/64
#   TL_POD_PARENT=node-a tl_pod c 10.244.0.3/24   its cgroup under $TL_CG/node-a
#   tl_in_pod client cmd...      run in the pod's cgroup and netns
#   tl_bg_in_pod server cmd...   same, in the background (killed at exit)
#   tl_check "description" cmd... / tl_ok / tl_not_ok / tl_skip   (TAP lines)
# Variables: TL_ROOT (repo), TL_BUILD, TL_TMP, TL_CGROOT (cgroup2 mount),
# TL_CG (our cgroup subtree), TL_BPFFS (our bpffs root), TL_BR (bridge).
# A test's own tl_extra_cleanup function, if it defines one, runs first.

set -u

TL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TL_BUILD=${BUILD:-$TL_ROOT/build}
case "$TL_BUILD" in /*) ;; *) TL_BUILD=$TL_ROOT/$TL_BUILD ;; esac
TL_TOOLS=$TL_BUILD/test/tools
# Service ranges used by the tests: never routed anywhere, unreachable in every pod.
TL_VIP_RANGE4=10.96.0.0/12
TL_VIP_RANGE6=fd00:96::/108

TL_FAILED=0
TL_PASSED=0
TL_SKIPPED=0
TL_PIDS=()
TL_NETNS=()
TL_CGROUPS=()

# A TAP line with a SKIP directive (any case): a skipped check, never a pass.
TL_SKIP_RE='^ok .*#[[:space:]]*[Ss][Kk][Ii][Pp]'

# A line with a SKIP directive is a skip, never a pass, however it was written.
tl_ok() {
	case "$*" in
	*"# SKIP"*) TL_SKIPPED=$((TL_SKIPPED + 1)) ;;
	*) TL_PASSED=$((TL_PASSED + 1)) ;;
	esac
	echo "ok - $*"
}

# tl_skip "description" "reason": a check that could not run here.
tl_skip() {
	tl_ok "$1 # SKIP $2"
}

tl_not_ok() {
	TL_FAILED=$((TL_FAILED + 1))
	echo "not ok - $*"
}

# tl_check "description" cmd...: ok when cmd exits 0; its output goes to the log on failure.
tl_check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		tl_ok "$desc"
	else
		tl_not_ok "$desc"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -40
	fi
}

tl_diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

tl_cgroup2_mount() {
	awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

tl_require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "not ok - $(basename "$0") must run as root"
		exit 1
	fi
}

tl_cleanup() {
	local pid ns cg i try
	set +e
	# The test's own step first, while everything it made is still there
	# (a runtime stops its pods in order before its processes are killed).
	if declare -F tl_extra_cleanup >/dev/null; then
		tl_extra_cleanup
	fi
	for pid in "${TL_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${TL_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in "${TL_NETNS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${TL_BR:-}" ] && ip link del "$TL_BR" 2>/dev/null
	# Deepest cgroups first. A cgroup with processes left cannot go: whatever
	# still runs in ours is killed (cgroup.kill), and as a killed process
	# leaves its cgroup a moment later, the removal is tried again for 2 s.
	for ((i = ${#TL_CGROUPS[@]} - 1; i >= 0; i--)); do
		cg=${TL_CGROUPS[$i]}
		for try in $(seq 20); do
			[ -d "$cg" ] || break
			[ "$try" -gt 1 ] && [ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
			find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -d "$cg" ] && sleep 0.1
		done
	done
	[ -n "${TL_BPFFS:-}" ] && rm -rf "$TL_BPFFS"
	[ -n "${TL_TMP:-}" ] && rm -rf "$TL_TMP"
}

tl_finish() {
	trap - EXIT
	tl_cleanup
	echo "# $(basename "$0"): $TL_PASSED passed, $TL_FAILED failed, $TL_SKIPPED skipped"
	[ "$TL_FAILED" -eq 0 ]
	exit $?
}

tl_init() {
	tl_require_root
	TL_ID=$(printf '%04x%02x' $(($$ % 65536)) $((RANDOM % 256)))
	TL_TMP=$(mktemp -d "/tmp/socklb-test-$TL_ID.XXXX")
	trap 'tl_cleanup' EXIT
	trap 'exit 130' INT TERM
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf || { tl_not_ok "mount bpffs"; exit 1; }
	fi
	TL_BPFFS=/sys/fs/bpf/socklb-test-$TL_ID
	TL_CGROOT=$(tl_cgroup2_mount)
	if [ -z "$TL_CGROOT" ]; then
		tl_not_ok "cgroup v2 is not mounted"
		exit 1
	fi
	TL_CG=$TL_CGROOT/socklb-test-$TL_ID
	mkdir -p "$TL_CG"
	TL_CGROUPS+=("$TL_CG")
}

# A bridge in the host netns without an address: pods reach each other over it,
# the host never routes for them.
tl_bridge() {
	TL_BR=slb$TL_ID
	ip link add "$TL_BR" type bridge
	ip link set "$TL_BR" up
}

TL_NPODS=0
declare -A TL_POD_CG
# tl_pod NAME ADDR4/PLEN [ADDR6/PLEN]: netns + veth on the bridge + cgroup dir,
# $TL_CG/NAME, or $TL_CG/$TL_POD_PARENT/NAME when TL_POD_PARENT is set (a
# simulated node's own subtree, as kubelet's kubepods on each node).
tl_pod() {
	local name=$1 a4=$2 a6=${3:-} ns=slb-$TL_ID-$1 host
	TL_NPODS=$((TL_NPODS + 1))
	TL_POD_CG[$name]=$TL_CG/${TL_POD_PARENT:+$TL_POD_PARENT/}$name
	host=s$TL_ID$TL_NPODS
	ip netns add "$ns"
	TL_NETNS+=("$ns")
	ip link add "$host" type veth peer name eth0 netns "$ns"
	ip link set "$host" master "$TL_BR" up
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "$a4" dev eth0
	ip -n "$ns" route add unreachable "$TL_VIP_RANGE4"
	if [ -n "$a6" ]; then
		ip -n "$ns" addr add "$a6" dev eth0 nodad
		ip -n "$ns" -6 route add unreachable "$TL_VIP_RANGE6"
	fi
	mkdir -p "${TL_POD_CG[$name]}"
}

tl_pod_ns() {
	echo "slb-$TL_ID-$1"
}

tl_pod_cgroup() {
	echo "${TL_POD_CG[$1]:-$TL_CG/$1}"
}

# Join the pod's cgroup first: ip netns exec remounts /sys.
tl_in_pod() {
	local name=$1
	shift
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ "$(tl_pod_cgroup "$name")" "$(tl_pod_ns "$name")" "$@"
}

tl_bg_in_pod() {
	tl_in_pod "$@" &
	TL_PIDS+=($!)
}

# tl_stop PID: SIGTERM to the program a background `tl_in_pod ... &` runs (the
# job is a subshell whose child it is), then wait for the job to end.
tl_stop() {
	pkill -TERM -P "$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# A client's connect loop through a ClusterIP while a fault happens:
# tl_loop_start POD VIP PORT [MS] starts it (slb-probe loop), for MS or until
# tl_loop_check WHAT, which waits for it (MS given) or stops it, then checks
# zero failed connections and at least 500 connections a second (reported,
# not checked, on an emulated CPU: SOCKLB_EMULATED=1, set by hack/test-kernels.sh in qemu TCG).
tl_loop_start() {
	TL_LOOP_MS=${4:-}
	tl_in_pod "$1" "$TL_TOOLS/slb-probe" loop "$2" "$3" "${4:-3600000}" >"$TL_TMP/loop" 2>"$TL_TMP/loop.err" &
	TL_LOOP=$!
	TL_PIDS+=("$TL_LOOP")
	TL_LOOP_T0=$(date +%s%3N)
}
tl_loop_check() {
	local what=$1 ms attempts failures rate
	if [ -n "$TL_LOOP_MS" ]; then
		wait "$TL_LOOP"
	else
		tl_stop "$TL_LOOP"
	fi
	ms=$(($(date +%s%3N) - TL_LOOP_T0))
	read -r _ attempts _ failures <"$TL_TMP/loop"
	rate=$((${attempts:-0} * 1000 / (ms > 0 ? ms : 1)))
	tl_diag "client: ${attempts:-?} connections attempted in $ms ms ($rate/s), ${failures:-?} failed, $what"
	head -3 "$TL_TMP/loop.err" | sed 's/^/# /'
	tl_check "zero failed connections $what (${attempts:-?} attempted)" test "${failures:-x}" = 0
	if [ "${SOCKLB_EMULATED:-0}" = 1 ]; then
		tl_skip "the client connected at least 500 times a second ($rate/s)" \
			"emulated CPU (SOCKLB_EMULATED=1): the rate is reported, not checked"
	else
		tl_check "the client connected at least 500 times a second ($rate/s)" test "$rate" -ge 500
	fi
}

# Ports: a server binds port 0 and the test reads back the port the kernel chose,
# never a guessed one (a guess may be in use, e.g. by an ephemeral port).
# tl_metrics_port LOG: the port of a socklb-syncd started with --metrics-addr
# 127.0.0.1:0, from its log (its last start there; waits up to 10 s).
tl_metrics_port() {
	local i port
	for i in $(seq 200); do
		port=$(sed -n 's/.* serving \/metrics and \/healthz on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null | tail -1)
		[ -n "$port" ] && echo "$port" && return 0
		sleep 0.05
	done
	return 1
}

# Run in the pod's netns but outside its cgroup (a process the LB must not see).
tl_in_netns_only() {
	local name=$1
	shift
	ip netns exec "$(tl_pod_ns "$name")" "$@"
}

# tl_wait_tcp POD ADDR PORT: wait until a TCP server answers there (max 5 s).
tl_wait_tcp() {
	local pod=$1 addr=$2 port=$3 i
	for i in $(seq 50); do
		tl_in_netns_only "$pod" "$TL_TOOLS/slb-probe" tcp "$addr" "$port" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# slb-term "sockets" clients: a process in POD holds labelled sockets and runs
# the commands it reads from a FIFO (a background job's stdin is /dev/null
# unless the job itself redirects it, hence the FIFO opened here).
declare -A TL_SOCK_FD TL_SOCK_PID
# tl_sockets_start ID POD LABEL KIND ADDR PORT [LABEL KIND ADDR PORT]...
tl_sockets_start() {
	local id=$1 pod=$2 fd
	shift 2
	mkfifo "$TL_TMP/$id.ctl"
	: >"$TL_TMP/$id.out"
	exec {fd}<>"$TL_TMP/$id.ctl"
	TL_SOCK_FD[$id]=$fd
	tl_in_pod "$pod" "$TL_TOOLS/slb-term" sockets "$@" <"$TL_TMP/$id.ctl" >"$TL_TMP/$id.out" 2>&1 &
	TL_PIDS+=($!)
	TL_SOCK_PID[$id]=$!
}

# tl_sockets_stop ID: client ID exits, closing its sockets.
tl_sockets_stop() {
	local fd=${TL_SOCK_FD[$1]}
	echo quit >&"$fd"
	wait "${TL_SOCK_PID[$1]}" 2>/dev/null
	exec {fd}>&-
	unset "TL_SOCK_FD[$1]" "TL_SOCK_PID[$1]"
}

# tl_wait_term_server POD ADDR PORT: until an slb-term server answers a TCP
# exchange there, seen from POD's netns untranslated (max 5 s).
tl_wait_term_server() {
	local i
	for i in $(seq 50); do
		tl_in_netns_only "$1" "$TL_TOOLS/slb-term" sockets w tcp "$2" "$3" </dev/null 2>/dev/null |
			grep -q "^w reply" && return 0
		sleep 0.1
	done
	return 1
}

# tl_dnsloop_destroyed OUT: an slb-term dnsloop (output file OUT) saw its
# socket destroyed. The kernel leaves ECONNABORTED on the socket: the loop's
# next recv reports it, or its next send when the destroy lands while the loop
# sleeps between queries; after that a send finds no destination
# (EDESTADDRREQ).
tl_dnsloop_destroyed() {
	grep -Eq "^error [0-9]+ ((recv|send) ECONNABORTED|send EDESTADDRREQ)$" "$1"
}

# tl_sockets_cmd ID [COMMAND]: run COMMAND in client ID (none: wait for the
# opening) and print the lines it answered (max 20 s).
tl_sockets_cmd() {
	local id=$1 out=$TL_TMP/$1.out i from=1
	shift
	# the opening's answer is the first; a command's, the one after those already there
	if [ $# -gt 0 ]; then
		from=$(($(grep -c '^done$' "$out") + 1))
		echo "$*" >&"${TL_SOCK_FD[$id]}"
	fi
	for i in $(seq 2000); do
		[ "$(grep -c '^done$' "$out")" -ge "$from" ] && break
		sleep 0.01
	done
	awk -v n="$from" '/^done$/ { d++; next } d == n - 1' "$out"
}

# tl_sees TEXT LINE...: TEXT has every LINE, exactly; tl_sees_re TEXT
# REGEXP...: every extended regexp matches a whole line of TEXT.
tl_sees() {
	local text=$1 line
	shift
	for line; do
		grep -Fqx "$line" <<<"$text" || { echo "no line: $line"; return 1; }
	done
}
tl_sees_re() {
	local text=$1 re
	shift
	for re; do
		grep -Eqx "$re" <<<"$text" || { echo "no line matching: $re"; return 1; }
	done
}

# tl_log_pause STOP_AT PATTERN PAUSED_FILE: copy stdin (a daemon's log, through a FIFO) to stdout;
# after STOP_AT lines containing PATTERN, create PAUSED_FILE and stop reading. The daemon then
# blocks on its next log line once the pipe is full (64 KiB later): frozen in the middle of its
# work, a bounded number of lines past the point. STOP_AT 0: never stop.
tl_log_pause() {
	local stop_at=$1 pattern=$2 paused=$3 n=0 line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [ "$stop_at" -gt 0 ] && [[ $line == *"$pattern"* ]] && ((++n >= stop_at)); then
			: >"$paused"
			exec sleep 600
		fi
	done
}

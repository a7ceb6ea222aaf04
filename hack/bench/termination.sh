#!/usr/bin/env bash
# What one socket termination run costs, per method, with N pods attached on
# one node (README "Socket termination": Cost). Pods are made as a runtime
# makes them (hack/node.sh: netns, pod cgroup, Debian's bridge + host-local
# and the real socklb plugin through cnitool), each with a process in it, as
# a pod's pause container is. Runs are the daemon's code path
# (test/tools/slb-term terminate: the library's socklb_term_run, timed without
# loading), ROUNDS each, for:
#   none UDP / none TCP   a removed backend no socket is connected to (the usual case)
#   one UDP / one TCP     one client socket connected through the VIP, destroyed
# Methods this kernel cannot run are listed with the reason.
#
#   bash hack/bench/termination.sh [PODS...]    (root; after make tests-build; default: 10 100 250)
#   ROUNDS=N (default 10)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=hack/node.sh
source "$REPO/hack/node.sh"
PODS=("$@")
[ ${#PODS[@]} -gt 0 ] || PODS=(10 100 250)
ROUNDS=${ROUNDS:-10}
METHODS="records+bpf records+diag tasks+bpf tasks+diag pods+bpf pods+diag"
VIP=10.96.0.53

die() {
	echo "termination bench: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "must run as root"
for p in "${PODS[@]}"; do
	if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -gt 250 ]; then
		die "pods: a count up to 250 (one /24 for all the pods), not \"$p\""
	fi
done
T=$NODE_BUILD/test/tools/slb-term
CTL=$NODE_BUILD/test/tools/slb-testctl
if [ ! -x "$T" ] || [ ! -x "$CTL" ]; then
	die "$T or $CTL missing: run make tests-build"
fi

CLIENTS=()
cleanup() {
	local fd
	for fd in "${CLIENTS[@]}"; do
		{ echo quit >&"$fd"; } 2>/dev/null
	done
	node_cleanup
}
node_init termbench 10.244.60 || die "cannot set up the node"
trap cleanup EXIT
trap 'exit 130' INT TERM
ROOT=$NODE_BPFFS

# A backend pod (not opted in) serving UDP and TCP, and an opted-in client pod.
node_pod be bench burstable "" || die "cannot make the backend pod"
node_bg be "$T" server 0.0.0.0 5353 be
BE=$(node_pod_ip be):5353
node_pod client bench burstable true || die "cannot make the client pod"
node_bg client sleep 86400
"$CTL" svc "$ROOT" "$VIP" 53 udp 0 "$BE" || die "cannot write the UDP service"
"$CTL" svc "$ROOT" "$VIP" 53 tcp 0 "$BE" || die "cannot write the TCP service"

# client KIND: an slb-term sockets client in the client pod with one socket
# (u: connected UDP, t: TCP) through the VIP, driven through a FIFO; its fd in CLIENT_FD.
client() {
	local kind=$1 fifo=$NODE_TMP/client-$1.ctl fd
	mkfifo "$fifo"
	exec {fd}<>"$fifo"
	# not node_bg: a background job's stdin is /dev/null unless the job itself redirects it
	node_run client "$T" sockets s "$([ "$kind" = u ] && echo udpc || echo tcp)" "$VIP" 53 \
		<"$fifo" >"$NODE_TMP/client-$kind.out" 2>&1 &
	NODE_PIDS+=($!)
	CLIENTS+=("$fd")
	CLIENT_FD[$kind]=$fd
}
declare -A CLIENT_FD
# reconnect KIND: a fresh socket through the VIP (the previous one was destroyed).
reconnect() {
	local out=$NODE_TMP/client-$1.out n
	n=$(grep -c '^done$' "$out")
	echo "reconnect s" >&"${CLIENT_FD[$1]}"
	for _ in $(seq 500); do
		[ "$(grep -c '^done$' "$out")" -gt "$n" ] && return 0
		sleep 0.01
	done
	die "the client did not reconnect"
}

# run PROTO BACKEND: one run for BACKEND leaving the VIP's service; prints "DESTROYED MS".
run() {
	local r
	r=$("$T" terminate "$ROOT" "$VIP" 53 "$1" "$2" "$1" 2>/dev/null) || {
		echo "? ?"
		return
	}
	awk '{ printf "%s %.2f\n", $2, ($8 - $6) / 1e6 }' <<<"$r"
}

# median MS...
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# measure METHOD CASE: ROUNDS runs, the median in ms (or "?" when a run did not destroy what it should).
measure() {
	local m=$1 case=$2 proto want backend out t ms=() i
	proto=$([[ $case == *udp ]] && echo udp || echo tcp)
	# none: a backend no socket was ever connected to (TEST-NET-1)
	want=0 backend=192.0.2.1:5353
	[[ $case == one* ]] && want=1 backend=$BE
	export SOCKLB_TERMINATION_METHOD=$m
	for ((i = 0; i < ROUNDS; i++)); do
		[ "$want" = 1 ] && reconnect "${proto:0:1}"
		read -r out t < <(run "$proto" "$backend")
		[ "$out" = "$want" ] || {
			echo "?"
			return
		}
		ms+=("$t")
	done
	median "${ms[@]}"
}

client u
client t
echo "# kernel $(uname -r), $(nproc) CPUs; median of $ROUNDS runs, ms per run"
"$T" probe "$ROOT" | sed 's/^/# /'
echo "| pods | method | none UDP | none TCP | one UDP | one TCP |"
echo "| ---: | --- | ---: | ---: | ---: | ---: |"
made=0
for n in "${PODS[@]}"; do
	while [ "$made" -lt "$n" ]; do
		made=$((made + 1))
		node_pod "p$made" bench burstable true >/dev/null || die "cannot make pod p$made"
		node_bg "p$made" sleep 86400
	done
	for m in $METHODS; do
		if ! why=$("$T" probe "$ROOT" "$m"); then
			echo "| $n | $m | cannot run here: $why | | | |"
			continue
		fi
		echo "| $n | $m | $(measure "$m" none-udp) | $(measure "$m" none-tcp) | $(measure "$m" one-udp) |" \
			"$(measure "$m" one-tcp) |"
	done
done

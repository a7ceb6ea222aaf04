# shellcheck shell=bash
# The data-plane half of make bench (sourced by hack/bench.sh, which sets the
# BENCH_* settings and the node): pods and servers, the services of one scale
# installed in every path, and the interleaved measurements.
#
# Paths, each with its own client pod so that they never share state:
#   direct    connects to the backend pods' IPs itself (round robin): the limit
#   socklb    opted in (pod annotation): the real plugin linked its cgroup
#   nftables  not opted in; kube-proxy's nftables rules in its netns (nat output)
#   iptables  not opted in; kube-proxy's iptables rules in its netns (nat OUTPUT)
#   traced    socklb's client while `socklb-syncd trace --json` runs (pinned to the
#             servers' CPU, output to /dev/null): the cost of tracing, against
#             socklb (tracing off) in the same repetition; loads BENCH_TRACE_LOADS only
# and, for UDP with 32 sockets only (where each socket keeps one backend for
# the whole run, so how the 32 spread over the 12 shapes the tail):
#   direct-random  the direct path, each socket's backend chosen at random as
#                  socklb and kube-proxy's rules choose it

BENCH_PATHS=(direct socklb nftables iptables traced)
declare -gA BENCH_CLIENT=([direct]=cdirect [direct-random]=cdirect [socklb]=csocklb [nftables]=cnft [iptables]=cipt
	[traced]=csocklb)
BENCH_VIP=10.96.0.10
BENCH_BACKENDS=()
# The servers' pids (comma-separated): their CPU time counts with the load generator's.
BENCH_SERVER_PIDS=""

dp_netns() {
	echo "socklb-$NODE_ID-$1"
}

# kube-proxy's rules need the service range to pass the routing lookup at
# connect() (a real pod has a default route); nat OUTPUT then DNATs and
# re-routes to the backend. The range is made on-link on eth0: a packet that
# no rule DNATs asks the private bridge for the VIP's address, gets no
# answer, and is dropped without ever leaving the machine.
dp_route_services_on_link() {
	local ns ip
	ns=$(dp_netns "$1")
	ip=$(node_pod_ip "$1")
	ip -n "$ns" route replace "$NODE_VIP_RANGE" dev eth0 src "$ip"
}

dp_make_pods() {
	local i ip
	for i in $(seq -w 1 12); do
		node_pod "be$i" bench burstable ""
		BENCH_BACKENDS+=("$(node_pod_ip "be$i")")
	done
	node_pod cdirect bench burstable ""
	node_pod csocklb bench burstable true
	node_pod cnft bench burstable ""
	node_pod cipt bench burstable ""
	[ -n "$(ls -A "$NODE_BPFFS/links" 2>/dev/null)" ] ||
		die "the socklb plugin linked no pod: see $NODE_TMP/socklb-cni.log"
	dp_route_services_on_link cnft
	dp_route_services_on_link cipt
	for i in $(seq -w 1 12); do
		node_bg "be$i" taskset -c "$SERVER_CPU" "$BENCH_TOOLS/slb-bench-server" "be$i" --rr 8080 --sink 5201 --udp 5353
	done
	for ip in "${BENCH_BACKENDS[@]}"; do
		for i in $(seq 50); do
			ip netns exec "$(dp_netns cdirect)" "$BENCH_TOOLS/slb-bench" spread --target "$ip:8080" --count 1 \
				>/dev/null 2>&1 && break
			[ "$i" -lt 50 ] || die "backend $ip:8080 does not answer"
			sleep 0.1
		done
	done
	# Each backend pod holds one process, the server (node_run execs it in the pod's cgroup).
	for i in $(seq -w 1 12); do
		BENCH_SERVER_PIDS+="${BENCH_SERVER_PIDS:+,}$(paste -sd, "$(node_pod_cgroup "be$i")/cgroup.procs")"
	done
	[ "$(tr ',' '\n' <<<"$BENCH_SERVER_PIDS" | grep -c .)" -eq 12 ] ||
		die "expected one server process in each of the 12 backend pods, found pids $BENCH_SERVER_PIDS"
}

# The paths a load runs on: traced only for BENCH_TRACE_LOADS, direct-random only for udp32.
dp_paths() {
	local path out=""
	for path in "${BENCH_PATHS[@]}"; do
		[ "$path" = traced ] && [[ " $BENCH_TRACE_LOADS " != *" $1 "* ]] && continue
		out+="${out:+ }$path"
	done
	[ "$1" = udp32 ] && out+=" direct-random"
	echo "$out"
}

# dp_target PATH PORT(service) TARGET_PORT
dp_target() {
	local path=$1 port=$2 target_port=$3 ip out=""
	if [ "$path" = direct ] || [ "$path" = direct-random ]; then
		for ip in "${BENCH_BACKENDS[@]}"; do
			out+="${out:+,}$ip:$target_port"
		done
		echo "$out"
	else
		echo "$BENCH_VIP:$port"
	fi
}

# The load's slb-bench arguments and ports: "MODE CONC PORT TARGET_PORT".
dp_load() {
	case "$1" in
	crr1) echo "crr 1 80 8080" ;;
	crr32) echo "crr 32 80 8080" ;;
	udp1) echo "udp 1 53 5353" ;;
	udp32) echo "udp 32 53 5353" ;;
	stream) echo "stream 1 5201 5201" ;;
	connect) echo "connect 1 53 5353" ;;
	*) die "unknown load $1 (crr1 crr32 udp1 udp32 stream connect)" ;;
	esac
}

dp_install() {
	local scale=$1 json=$BENCH_WORK/cluster-$1.json backends f
	backends=$(
		IFS=,
		echo "${BENCH_BACKENDS[*]}"
	)
	"$PYTHON" "$REPO/hack/bench/gen_cluster.py" --services "$scale" --backends "$backends" >"$json"
	"$SYNCD" --once --source "file:$json" --bpffs-root "$NODE_BPFFS" --node-name bench-node --metrics-addr "" \
		>>"$BENCH_WORK/syncd.log" 2>&1 || die "socklb-syncd --once failed at $scale services: see $BENCH_WORK/syncd.log"
	# Set-up only (the control-plane part times kube-proxy's single transaction): a few transactions
	# avoid the kernel's quadratic commit of thousands of anonymous vmaps in one.
	rm -f "$BENCH_WORK"/nft-setup-*.nft
	"$PYTHON" "$REPO/hack/bench/gen_nft.py" "$json" --split 1000 --out-prefix "$BENCH_WORK/nft-setup"
	for f in "$BENCH_WORK"/nft-setup-*.nft; do
		ip netns exec "$(dp_netns cnft)" nft -f "$f" || die "nft -f $f failed in the nftables client pod"
	done
	"$PYTHON" "$REPO/hack/bench/gen_iptables.py" "$json" >"$BENCH_WORK/iptables-$scale.rules"
	ip netns exec "$(dp_netns cipt)" iptables-restore <"$BENCH_WORK/iptables-$scale.rules" ||
		die "iptables-restore failed in the iptables client pod"
}

# Every path must reach all 12 backends before anything is measured.
dp_check_paths() {
	local path out names
	for path in "${BENCH_PATHS[@]}"; do
		out=$(node_run "${BENCH_CLIENT[$path]}" "$BENCH_TOOLS/slb-bench" spread --count 240 \
			--target "$(dp_target "$path" 80 8080)" 2>&1) || true
		names=$(grep -c '^be' <<<"$out" || true)
		if [ "$names" -ne 12 ] || ! grep -qx 'errors 0' <<<"$out"; then
			die "path $path reaches $names of 12 backends at $1 services: $(tr '\n' ' ' <<<"$out")"
		fi
	done
}

# dp_field KEY "key=value ..."
dp_field() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# dp_trace_start: a tracer for the traced path; returns once the programs emit.
dp_trace_start() {
	local i
	: >"$BENCH_WORK/trace.log"
	taskset -c "$SERVER_CPU" "$SYNCD" trace --bpffs-root "$NODE_BPFFS" --json >/dev/null \
		2>"$BENCH_WORK/trace.log" &
	BENCH_TRACER=$!
	# dp_measure runs in a subshell: bench_cleanup finds the tracer through this file.
	echo "$BENCH_TRACER" >"$BENCH_WORK/tracer.pid"
	for i in $(seq 100); do
		grep -q "tracing the translations" "$BENCH_WORK/trace.log" && return 0
		sleep 0.05
	done
	die "socklb-syncd trace did not start: $(cat "$BENCH_WORK/trace.log")"
}

# dp_trace_stop: Ctrl-C; what it said (events lost) goes to the run's log.
dp_trace_stop() {
	kill -INT "$BENCH_TRACER"
	wait "$BENCH_TRACER" || die "socklb-syncd trace failed: $(cat "$BENCH_WORK/trace.log")"
	rm -f "$BENCH_WORK/tracer.pid"
	grep "lost" "$BENCH_WORK/trace.log" >>"$BENCH_WORK/trace.err" || true
}

BENCH_BACKENDS_CSV_HEADER=services,rep,load,path,backend,ops,sockets,p50_us,p99_us,server_run_us,server_wait_us,server_runs

# slb-bench --per-backend's lines as backends.csv rows: what each backend
# served, with what its server task (the Nth pid of --cpu-pids is beN) spent.
dp_backends_csv() {
	awk -v prefix="$1" '
		function v(kv) { sub(/^[a-z0-9_]+=/, "", kv); return kv }
		$1 == "backend" { names[++n] = $2; row[$2] = v($3) "," v($4) "," v($5) "," v($6) }
		$1 == "pid" { task[sprintf("be%02d", ++t)] = v($3) "," v($4) "," v($5) }
		END { for (i = 1; i <= n; i++) print prefix "," names[i] "," row[names[i]] "," task[names[i]] }'
}

# max_sockets: for UDP, the most sockets that shared one backend in the run. busy_loadgen_us,
# busy_server_us: each pinned CPU's busy time over the window, to see which side was saturated.
BENCH_CSV_HEADER=services,rep,load,path,ops,rate,p50_us,p99_us,errors,conntrack,cpu_client_us,cpu_server_us,busy_us,wait_client_us,wait_server_us,max_sockets,busy_loadgen_us,busy_server_us

# dp_measure SCALE REP LOAD PATH: one measurement, one CSV row.
dp_measure() {
	local scale=$1 rep=$2 load=$3 path=$4 mode conc port tport out ct ops rate p50 p99 errors cpu f max_sockets="" busy
	local pick=turn
	[ "$path" = direct-random ] && pick=random
	read -r mode conc port tport <<<"$(dp_load "$load")"
	[ "$path" = traced ] && dp_trace_start
	out=$(node_run "${BENCH_CLIENT[$path]}" taskset -c "$LOADGEN_CPU" "$BENCH_TOOLS/slb-bench" "$mode" \
		--conc "$conc" --seconds "$BENCH_SECONDS" --warmup "$BENCH_WARMUP" --pick "$pick" --per-backend \
		--target "$(dp_target "$path" "$port" "$tport")" \
		--cpu-pids "$BENCH_SERVER_PIDS" --busy-cpus "$(printf '%s\n' "$LOADGEN_CPU" "$SERVER_CPU" | sort -u | paste -sd,)" \
		2>>"$BENCH_WORK/slb-bench.err") || true
	[ "$path" = traced ] && dp_trace_stop
	if [ "$mode" = udp ]; then
		max_sockets=$(awk '$1 == "backend" { split($4, a, "="); if (a[2] > m) m = a[2] } END { print m + 0 }' <<<"$out")
		dp_backends_csv "$scale,$rep,$load,$path" <<<"$out" >>"$BENCH_OUT/backends.csv"
	fi
	busy=$(awk -v l="$LOADGEN_CPU" -v s="$SERVER_CPU" '$1 == "cpu" { sub(/^busy_us=/, "", $3); b[$2] = $3 }
		END { print b[l] "," b[s] }' <<<"$out")
	out=$(head -1 <<<"$out")
	ct=$(ip netns exec "$(dp_netns "${BENCH_CLIENT[$path]}")" cat /proc/sys/net/netfilter/nf_conntrack_count \
		2>/dev/null || echo 0)
	ops=$(dp_field ops "$out")
	rate=$(dp_field rate "$out")
	p50=$(dp_field p50_us "$out")
	p99=$(dp_field p99_us "$out")
	errors=$(dp_field errors "$out")
	if [ -z "$rate" ]; then
		echo "bench: $path $load at $scale services produced no result (see $BENCH_WORK/slb-bench.err)" >&2
		ops=0 rate=0 p50=0 p99=0 errors=-1
	elif [ "$errors" != 0 ]; then
		echo "bench: $path $load at $scale services: $errors failed operations" >&2
	fi
	cpu=""
	for f in cpu_client_us cpu_server_us busy_us wait_client_us wait_server_us; do
		cpu+=",$(dp_field "$f" "$out")"
	done
	echo "$scale,$rep,$load,$path,$ops,$rate,$p50,$p99,$errors,$ct$cpu,$max_sockets,$busy" >>"$BENCH_OUT/dataplane.csv"
	if [ "$mode" = stream ]; then
		awk -v r="$rate" 'BEGIN { printf "%.2f Gbit/s", r * 8 / 1e9 }'
	else
		printf '%s/s p99 %s µs' "$rate" "$p99"
	fi
}

# Paths are interleaved in every repetition; each repetition starts with the
# next path, so none always runs first (right after the set-up) or last.
dp_run_scale() {
	local scale=$1 rep load path line i n paths
	say "$scale services: generating the cluster, socklb-syncd --once, nft -f, iptables-restore"
	dp_install "$scale"
	dp_check_paths "$scale"
	[ -f "$BENCH_OUT/dataplane.csv" ] || echo "$BENCH_CSV_HEADER" >"$BENCH_OUT/dataplane.csv"
	[ -f "$BENCH_OUT/backends.csv" ] || echo "$BENCH_BACKENDS_CSV_HEADER" >"$BENCH_OUT/backends.csv"
	for rep in $(seq "$BENCH_REPS"); do
		for load in $BENCH_LOADS; do
			read -r -a paths <<<"$(dp_paths "$load")"
			n=${#paths[@]}
			line=""
			for ((i = 0; i < n; i++)); do
				path=${paths[$(((rep - 1 + i) % n))]}
				line+="  $path $(dp_measure "$scale" "$rep" "$load" "$path")"
			done
			say "$scale services, run $rep/$BENCH_REPS, $load:$line"
		done
	done
}

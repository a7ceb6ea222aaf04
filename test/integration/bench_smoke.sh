#!/usr/bin/env bash
# A short run of the benchmark (make bench) with tiny settings: it runs to
# the end through the real plugin and daemon, every path serves the measured
# service, it writes the table and the plot, and it leaves nothing behind.
# No timing is asserted. Also: the rule generators' unit tests, and their
# output loads into the kernel (nft -f, iptables-restore, and kube-proxy's
# partial syncs on top) in a scratch network namespace.
source "$(dirname "$0")/../lib.sh"
tl_init

BENCH_DIR=$TL_ROOT/hack/bench
PYTHON=python3
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

out=$("$PYTHON" "$BENCH_DIR/test_generators.py" 2>&1)
tl_check "rule generators: unit tests ($(grep -o 'Ran [0-9]* tests' <<<"$out"))" grep -qx OK <<<"$(tail -1 <<<"$out")"

# Generated rules load into a kernel, full and incremental.
ns=slb-$TL_ID-rules
ip netns add "$ns"
TL_NETNS+=("$ns")
backends=$(seq -s, -f '10.244.1.%g' 2 13)
"$PYTHON" "$BENCH_DIR/gen_cluster.py" --services 200 --backends "$backends" >"$TL_TMP/a.json"
"$PYTHON" "$BENCH_DIR/gen_cluster.py" --services 200 --backends "$backends" --drop-last >"$TL_TMP/b.json"
for tool in nft iptables; do
	"$PYTHON" "$BENCH_DIR/gen_$tool.py" "$TL_TMP/a.json" >"$TL_TMP/full.$tool"
	"$PYTHON" "$BENCH_DIR/gen_$tool.py" --partial "$TL_TMP/a.json" "$TL_TMP/b.json" >"$TL_TMP/a-b.$tool"
	"$PYTHON" "$BENCH_DIR/gen_$tool.py" --partial "$TL_TMP/b.json" "$TL_TMP/a.json" >"$TL_TMP/b-a.$tool"
done
tl_check "kube-proxy-style nftables ruleset for 200 services loads (nft -f)" \
	ip netns exec "$ns" nft -f "$TL_TMP/full.nft"
tl_check "nftables partial syncs (one endpoint leaves, comes back) apply" \
	ip netns exec "$ns" bash "$BENCH_DIR/time_apply.sh" nft 2 "$TL_TMP/a-b.nft" "$TL_TMP/b-a.nft"
vmap=$(ip netns exec "$ns" nft list table ip kube-proxy | grep -A3 'chain service-[A-Z0-9]*-bench/bench/tcp/http' |
	grep -o 'numgen random mod [0-9]*')
tl_check "after the partial syncs the measured service has 12 endpoints again ($vmap)" \
	test "$vmap" = "numgen random mod 12"
tl_check "kube-proxy-style iptables ruleset for 200 services loads (iptables-restore)" \
	ip netns exec "$ns" bash "$BENCH_DIR/time_apply.sh" iptables 1 "$TL_TMP/full.iptables"
tl_check "iptables partial syncs (--noflush) apply" \
	ip netns exec "$ns" bash "$BENCH_DIR/time_apply.sh" iptables-noflush 2 "$TL_TMP/a-b.iptables" "$TL_TMP/b-a.iptables"
seps=$(ip netns exec "$ns" iptables-save -t nat | grep -c -- '-j KUBE-SEP-.*' || true)
tl_check "iptables: every endpoint of the cluster still has its jump ($seps)" \
	test "$seps" -eq "$(grep -c -- '^-A KUBE-SVC-.* -j KUBE-SEP-' "$TL_TMP/full.iptables")"

# What a bench run must leave as it found it.
# This run's node id: other benchmark runs on the machine do not count.
export BENCH_ID=bns$$
leftovers() {
	ip netns list | awk '{ print $1 }' | grep "^socklb-$BENCH_ID-" | sort
	find /sys/fs/bpf -maxdepth 1 -name "socklb-$BENCH_ID" | sort
	ip -o link show | awk -F': ' '{ print $2 }' | grep "^slb${BENCH_ID:0:10}" | sort
}
before=$(leftovers)
host_rules=$(nft list ruleset | md5sum)

results=$TL_TMP/results
log=$TL_TMP/bench.log
rc=0
BENCH_SECONDS=0.3 BENCH_WARMUP=0.05 BENCH_REPS=1 BENCH_SCALES="1 50" BENCH_CP_SERVICES=50 BENCH_CP_LARGE=80 \
	BENCH_CP_GROWTH=20 BENCH_INSTALL_REPS=1 \
	BENCH_EP_ROUNDS=4 BENCH_EP_ROUNDS_SLOW=2 BENCH_CNI_ADDS=3 BENCH_OUT=$results \
	bash "$TL_ROOT/hack/bench.sh" >"$log" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
	tl_ok "make bench with smoke settings runs to the end"
else
	tl_not_ok "make bench with smoke settings runs to the end (exit $rc)"
	tail -30 "$log" | sed 's/^/#   /'
fi

rows_ok() {
	local scale path
	for scale in 1 50; do
		for path in direct socklb nftables iptables; do
			# 5 loads, each with its rate table and its CPU-time table
			[ "$(grep -c "^| $scale | $path |" "$results/results.md")" -eq 10 ] || return 1
		done
	done
}
tl_check "results.md has a rate row and a CPU-time row per path, load and scale" rows_ok
# The CPU accounting read both edges of every window (slb-bench prints nothing when it could not).
cpu_measured() {
	awk -F, 'NR > 1 && ($11 == "" || $12 == "" || $13 == "") { bad++ } END { exit bad > 0 }' "$results/dataplane.csv"
}
tl_check "every measurement has the CPU time of the load generator, the servers and the CPUs" cpu_measured
random_spread_ok() {
	[ "$(grep -c '^| [0-9]* | direct-random |' "$results/results.md")" -eq 4 ] &&
		[ "$(awk -F, '$3 == "udp32" && $4 == "direct-random"' "$results/backends.csv" | wc -l)" -ge 2 ]
}
tl_check "UDP with 32 sockets also ran on the random-spread direct path, with per-backend figures" random_spread_ok
traced_rows_ok() {
	local scale
	for scale in 1 50; do
		# crr1 and crr32 in the rate and CPU-time tables, and in the tracing table
		[ "$(grep -c "^| $scale | traced |" "$results/results.md")" -eq 4 ] || return 1
		[ "$(grep -Ec "^\| $scale \| (1 at a time|32 concurrent)( \| [0-9.]+( \([0-9.]+–[0-9.]+\))?){3} \|$" \
			"$results/results.md")" -eq 2 ] || return 1
	done
}
tl_check "short connections were also measured with socklb-syncd trace running (the Tracing table)" traced_rows_ok
pooled_ok() {
	local out scale load
	# The same run twice: two repetitions pooled per cell.
	out=$("$PYTHON" "$BENCH_DIR/pooled.py" socklb direct "$results" "$results") || return 1
	for scale in 1 50; do
		for load in crr1 crr32; do
			grep -Eq "^\| $scale \| $load \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| [0-9.]+ \([0-9.]+–[0-9.]+\) \| 2 \|$" \
				<<<"$out" || return 1
		done
	done
}
tl_check "pooled.py pools runs: socklb ÷ direct per scale and load, rate and CPU time" pooled_ok
no_failed_operations() {
	! grep -q "⚠" "$results/results.md"
}
is_png() {
	[ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' ')" = 89504e47 ]
}
tl_check "every path completed every operation (no failed connects or lost requests)" no_failed_operations
tl_check "results.md has the targets and the control-plane tables" \
	grep -q '^| endpoint change → map < 10 ms p99 (one file per namespace) |' "$results/results.md"
tl_check "CNI ADD latency was measured for every chain variant" \
	test "$(grep -c '^cni_add,' "$results/controlplane.csv")" -eq 10
tl_check "plot.png is a PNG image" is_png "$results/plot.png"
tl_check "the run printed the table" grep -q '^### Short TCP connections, 32 concurrent' "$log"
tl_diag "$(sed -n '/^## Targets/,/^## Data plane/p' "$log" | head -14)"
after=$(leftovers)
tl_check "the run left no netns, bpffs root or bridge behind" test "$before" = "$after"
tl_check "the host's nftables ruleset is unchanged" test "$host_rules" = "$(nft list ruleset | md5sum)"

tl_finish

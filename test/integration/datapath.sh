#!/usr/bin/env bash
# The datapath on real sockets: pods in network namespaces on a bridge, the
# programs linked to the client pod's cgroup only, maps written through the
# map library (test/tools/slb-testctl), traffic from test/tools/slb-probe.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl

tl_pod client 10.244.0.2/24 fd00:244::2/64
for i in 1 2 3; do
	tl_pod web$i 10.244.0.1$i/24 fd00:244::1$i/64
	tl_bg_in_pod web$i "$P" server tcp :: 8080 web$i
done
for i in 1 2; do
	tl_pod dns$i 10.244.0.2$i/24 fd00:244::2$i/64
	tl_bg_in_pod dns$i "$P" server udp :: 5353 dns$i
done

client() { tl_in_pod client "$@"; }

tl_check "programs load and pin under a private bpffs root" "$CTL" load "$TL_BPFFS"
tl_check "links attach to the client pod's cgroup" "$CTL" attach "$TL_BPFFS" "$(tl_pod_cgroup client)" client
WEB="10.244.0.11:8080 10.244.0.12:8080 10.244.0.13:8080"
WEB6="[fd00:244::11]:8080 [fd00:244::12]:8080 [fd00:244::13]:8080"
# shellcheck disable=SC2086
"$CTL" svc "$TL_BPFFS" 10.96.0.10 80 tcp 0 $WEB
# shellcheck disable=SC2086
"$CTL" svc "$TL_BPFFS" fd00:96::10 80 tcp 0 $WEB6
"$CTL" svc "$TL_BPFFS" 10.96.0.53 53 udp 0 10.244.0.21:5353 10.244.0.22:5353
"$CTL" svc "$TL_BPFFS" 10.96.0.30 80 tcp 0
"$CTL" svc "$TL_BPFFS" 10.96.0.30 53 udp 0
tl_wait_tcp client 10.244.0.13 8080 || tl_not_ok "backends did not start"

spread=$(client "$P" spread 10.96.0.10 80 300)
tl_diag "spread over 300 connects: $(echo "$spread" | tr '\n' ' ')"
spread_ok() {
	local i n
	for i in 1 2 3; do
		n=$(echo "$spread" | awk -v b="web$i" '$1 == b { print $2 }')
		# uniform would be 100 each; 50 is > 7 standard deviations away
		[ "${n:-0}" -ge 50 ] || return 1
	done
	echo "$spread" | grep -qx "errors 0"
}
tl_check "TCP to the VIP reaches each of 3 backends, plausibly uniformly" spread_ok

out=$(client "$P" tcp 10.96.0.10 80)
tl_check "getpeername() on a TCP socket returns the VIP ($out)" grep -Eq "^reply web[123] peer 10.96.0.10:80$" <<<"$out"

out=$(client "$P" udp 10.96.0.53 53 6)
tl_check "unconnected UDP: replies show the VIP as source" \
	bash -c '[ "$(grep -Ec "^reply dns[12] from 10.96.0.53:53$" <<<"$1")" = 6 ]' _ "$out"
tl_check "unconnected UDP: one socket keeps its backend" \
	bash -c '[ "$(awk "{print \$2}" <<<"$1" | sort -u | wc -l)" = 1 ]' _ "$out"

out=$(client "$P" udpc 10.96.0.53 53 3)
tl_check "connected UDP: source and getpeername show the VIP" \
	bash -c '[ "$(grep -Ec "^reply dns[12] from 10.96.0.53:53 peer 10.96.0.53:53$" <<<"$1")" = 3 ]' _ "$out"

out=$(client "$P" tcp fd00:96::10 80 3)
tl_check "IPv6 service: reached, getpeername shows the VIP" \
	bash -c '[ "$(grep -Ec "^reply web[123] peer \[fd00:96::10\]:80$" <<<"$1")" = 3 ]' _ "$out"

out=$(client "$P" tcp ::ffff:10.96.0.10 80 3)
tl_check "v4-mapped destination on a dual-stack socket is translated as IPv4" \
	bash -c '[ "$(grep -Ec "^reply web[123] peer \[::ffff:10.96.0.10\]:80$" <<<"$1")" = 3 ]' _ "$out"

out=$(client "$P" udp ::ffff:10.96.0.53 53 2)
tl_check "v4-mapped unconnected UDP: replies from the mapped VIP" \
	bash -c '[ "$(grep -Ec "^reply dns[12] from \[::ffff:10.96.0.53\]:53$" <<<"$1")" = 2 ]' _ "$out"

start=$(date +%s%N)
out=$(client "$P" tcp 10.96.0.30 80)
ms=$((($(date +%s%N) - start) / 1000000))
# "At once": no SYN retransmission (the first one waits 1 s). Starting the
# client in the pod alone can take longer on an emulated CPU (SOCKLB_EMULATED=1).
at_once_ms=1000
[ "${SOCKLB_EMULATED:-0}" = 1 ] && at_once_ms=5000
tl_check "no endpoints: connect fails at once with ECONNREFUSED (${ms} ms, bound ${at_once_ms} ms)" \
	bash -c '[ "$1" = "error ECONNREFUSED" ] && [ "$2" -lt "$3" ]' _ "$out" "$ms" "$at_once_ms"
out=$(client "$P" udp 10.96.0.30 53)
tl_check "no endpoints: sendto fails with ECONNREFUSED" test "$out" = "error ECONNREFUSED"

out=$(tl_in_netns_only client "$P" tcp 10.96.0.10 80 2>&1)
tl_check "a process outside the pod cgroup is not translated ($out)" grep -q "^error" <<<"$out"

# Affinity: 1 s timeout; all connects within it stick, an idle gap ends it.
# shellcheck disable=SC2086
"$CTL" svc "$TL_BPFFS" 10.96.0.20 80 tcp 1 $WEB
out=$(client "$P" spread 10.96.0.20 80 40)
tl_check "sessionAffinity: 40 connects stick to one backend" \
	bash -c '[ "$(grep -c "^web" <<<"$1")" = 1 ]' _ "$out"
affinity_expires() {
	local first seen i
	first=$(client "$P" tcp 10.96.0.20 80 | awk '{print $2}')
	for i in $(seq 12); do
		sleep 1.3
		seen=$(client "$P" tcp 10.96.0.20 80 | awk '{print $2}')
		[ "$seen" != "$first" ] && return 0
	done
	return 1
}
tl_check "sessionAffinity: expires after timeoutSeconds of idleness" affinity_expires

"$CTL" svc "$TL_BPFFS" 10.96.0.10 80 tcp 0 10.244.0.13:8080
out=$(client "$P" spread 10.96.0.10 80 30)
tl_check "replacing the backend set: only the new backend is reached" test "$out" = "web3 30
errors 0"
# shellcheck disable=SC2086
"$CTL" svc "$TL_BPFFS" 10.96.0.10 80 tcp 0 $WEB

# Churn: 3 → 1 → 3 backends every 2 ms while the client connects in a loop.
loop_out=$TL_TMP/loop
client "$P" loop 10.96.0.10 80 3000 >"$loop_out" 2>&1 &
loop_pid=$!
# shellcheck disable=SC2086
churn=$("$CTL" churn "$TL_BPFFS" 10.96.0.10 80 tcp 3000 $WEB)
wait $loop_pid
tl_diag "churn: $churn backend-set changes; client: $(head -1 "$loop_out")"
tl_check "changing the backend set under load: zero failed connects" grep -q "failures 0$" "$loop_out"

out=$("$CTL" stats "$TL_BPFFS" 10.96.0.30 80 tcp)
tl_check "per-service counters count refusals ($out)" grep -Eq "no_backend [1-9]" <<<"$out"
out=$("$CTL" stats "$TL_BPFFS" 10.96.0.10 80 tcp)
tl_check "per-service counters count translations ($out)" grep -Eq "translated [1-9][0-9]+" <<<"$out"

tl_check "detach removes the links" "$CTL" detach "$TL_BPFFS" client
out=$(client "$P" tcp 10.96.0.10 80 2>&1)
tl_check "after detach the pod is no longer translated" grep -q "^error" <<<"$out"

tl_finish

#!/usr/bin/env bash
# Only a service's configured backends are reachable through its VIP
# (README.md invariant 5): crafted connects from a linked pod never reach
# anything else. The service 10.96.0.10:80/TCP has backends web1, web2
# (:8080); a bystander pod listens on the same ports, and the backends also
# listen on ports that are not configured. Every probe below must either reach
# web1/web2 on the configured port (when it is the service) or fail at once,
# never reach the bystander, a non-configured port, or loop:
#   other ports, the other protocol, v4-mapped / v4-compatible / NAT64 forms,
#   0.0.0.0, 255.255.255.255, ::, the VIP as its own backend, a VIP whose
#   backend is another VIP, IPv6 forms of a v4-only service.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl

tl_pod client 10.244.0.2/24 fd00:244::2/64
for i in 1 2; do
	tl_pod web$i 10.244.0.1$i/24 fd00:244::1$i/64
	tl_bg_in_pod web$i "$P" server tcp :: 8080 web$i
	# a port of the backend that no service names
	tl_bg_in_pod web$i "$P" server tcp :: 9090 web$i-9090
	tl_bg_in_pod web$i "$P" server udp :: 8080 web$i-udp
done
# a bystander with servers on every port in play
tl_pod other 10.244.0.50/24 fd00:244::50/64
for port in 80 8080 9090; do
	tl_bg_in_pod other "$P" server tcp :: $port other-$port
done
tl_bg_in_pod other "$P" server udp :: 80 other-udp

client() { tl_in_pod client "$@"; }

tl_check "programs load under a private bpffs root" "$CTL" load "$TL_BPFFS"
tl_check "links attach to the client pod's cgroup" "$CTL" attach "$TL_BPFFS" "$(tl_pod_cgroup client)" client
"$CTL" svc "$TL_BPFFS" 10.96.0.10 80 tcp 0 10.244.0.11:8080 10.244.0.12:8080
"$CTL" svc "$TL_BPFFS" 10.96.0.53 53 udp 0 10.244.0.11:8080 10.244.0.12:8080
# the VIP as its own backend, and a VIP whose backend is another VIP
"$CTL" svc "$TL_BPFFS" 10.96.0.20 80 tcp 0 10.96.0.20:80
"$CTL" svc "$TL_BPFFS" 10.96.0.21 80 tcp 0 10.96.0.10:80
"$CTL" svc "$TL_BPFFS" 10.96.0.22 53 udp 0 10.96.0.22:53
"$CTL" svc "$TL_BPFFS" fd00:96::20 80 tcp 0 '[fd00:96::20]:80'
tl_wait_tcp client 10.244.0.12 8080 || tl_not_ok "backends did not start"
tl_wait_tcp client 10.244.0.50 9090 || tl_not_ok "the bystander did not start"

# reaches_only_backends PROTO ADDR PORT: every reply (of 20) comes from web1 or web2 on :8080.
reaches_only_backends() {
	local out
	out=$(client "$P" "$1" "$2" "$3" 20 2>&1)
	[ "$(grep -cE '^reply web[12] ' <<<"$out")" -eq 20 ] || {
		echo "$out" | sort | uniq -c | head
		return 1
	}
}
# check_refused DESC PROTO ADDR PORT: the probe fails within a second and reaches no server at all.
check_refused() {
	local desc=$1 out start ms
	shift
	start=$(date +%s%N)
	out=$(client timeout 5 "$P" "$@" 2>&1 | tr '\n' ' ')
	ms=$((($(date +%s%N) - start) / 1000000))
	if [[ "$out" == error* ]] && [[ "$out" != *reply* ]] && [ "$ms" -lt 1000 ]; then
		tl_ok "$desc: ${out% } ($ms ms)"
	else
		tl_not_ok "$desc: ${out% } ($ms ms)"
	fi
}

tl_check "the service reaches web1 and web2 only" reaches_only_backends tcp 10.96.0.10 80
spread=$(client "$P" spread 10.96.0.10 80 200)
tl_check "200 connects: only web1 and web2, never the bystander ($(echo "$spread" | tr '\n' ' '))" \
	bash -c '! grep -Ev "^(web[12] [0-9]+|errors 0)$" <<<"$1"' _ "$spread"
tl_check "v4-mapped VIP on a dual-stack socket reaches only the backends" reaches_only_backends tcp ::ffff:10.96.0.10 80

out=$(client "$P" udp 10.96.0.53 53 10 2>&1)
tl_check "the UDP service reaches only the backends' UDP servers" \
	test "$(grep -cE '^reply web[12]-udp from 10.96.0.53:53$' <<<"$out")" = 10
check_refused "UDP VIP over TCP (the service is UDP only)" tcp 10.96.0.53 53
check_refused "VIP, a port the service does not have (81)" tcp 10.96.0.10 81
check_refused "VIP, the backends' target port (8080)" tcp 10.96.0.10 8080
check_refused "VIP, a port only the backends listen on (9090)" tcp 10.96.0.10 9090
check_refused "VIP, port 0" tcp 10.96.0.10 0
check_refused "VIP over UDP (the service is TCP only), unconnected" udp 10.96.0.10 80
check_refused "VIP over UDP (the service is TCP only), connected" udpc 10.96.0.10 80
check_refused "v4-mapped VIP, another port" tcp ::ffff:10.96.0.10 81
check_refused "v4-mapped VIP over UDP" udp ::ffff:10.96.0.10 80
check_refused "v4-compatible ::10.96.0.10 (not the IPv4 VIP)" tcp ::10.96.0.10 80
check_refused "NAT64 64:ff9b::10.96.0.10 (not the IPv4 VIP)" tcp 64:ff9b::10.96.0.10 80
check_refused "IPv6 VIP prefix with the v4 VIP's bits, fd00:96::a60:a" tcp fd00:96::a60:a 80
check_refused "255.255.255.255:80" tcp 255.255.255.255 80
check_refused "255.255.255.255:80 over UDP" udp 255.255.255.255 80
check_refused "::ffff:255.255.255.255:80" tcp ::ffff:255.255.255.255 80
check_refused "the VIP as its own backend: no loop, no escape" tcp 10.96.0.20 80
check_refused "a VIP whose backend is another VIP: not translated twice" tcp 10.96.0.21 80
check_refused "UDP VIP as its own backend" udp 10.96.0.22 53
check_refused "IPv6 VIP as its own backend" tcp fd00:96::20 80
check_refused "v4-mapped form of the VIP that is its own backend" tcp ::ffff:10.96.0.20 80

# 0.0.0.0 and :: mean "this host": the pod's own loopback, where nothing listens on 80.
for a in 0.0.0.0 :: ::ffff:0.0.0.0; do
	out=$(client "$P" tcp "$a" 80 2>&1)
	tl_check "$a:80 is the pod itself, not a service ($out)" test "$out" = "error ECONNREFUSED"
done

# The bystander is reachable directly, so the refusals above are the datapath's doing.
out=$(client "$P" tcp 10.244.0.50 8080)
tl_check "control: the bystander answers when asked directly ($out)" grep -q '^reply other-8080' <<<"$out"

stats=$("$CTL" stats "$TL_BPFFS" 10.96.0.20 80 tcp)
tl_diag "VIP-as-own-backend service counters: $stats"
tl_finish

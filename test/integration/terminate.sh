#!/usr/bin/env bash
# Socket termination on real sockets: when a backend leaves a service, exactly
# the client sockets connected to it through that service's VIP are destroyed.
# Pods in network namespaces on a bridge, the datapath linked to the client
# pod's cgroup (test/tools/slb-testctl), the backend removed and the sockets
# terminated the way the daemon does it (test/tools/slb-term remove/terminate).
# Every check runs once per termination method (SOCKLB_TERMINATION_METHOD);
# a method this kernel cannot run is one SKIP line with the reason.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

T=$TL_TOOLS/slb-term
CTL=$TL_TOOLS/slb-testctl
ROOT=$TL_BPFFS
METHODS=${TERMINATION_METHODS:-records+bpf records+diag tasks+bpf tasks+diag pods+bpf pods+diag}

tl_pod client 10.244.0.2/24 fd00:244::2/64
for i in 1 2 3; do
	tl_pod dns$i 10.244.0.2$i/24 fd00:244::2$i/64
	tl_bg_in_pod dns$i "$T" server :: 5353 dns$i
done

for i in 1 2 3; do
	tl_wait_term_server client 10.244.0.2$i 5353 || tl_not_ok "server dns$i did not start"
done

tl_check "programs load and pin under a private bpffs root" "$CTL" load "$ROOT"
tl_check "links attach to the client pod's cgroup" "$CTL" attach "$ROOT" "$(tl_pod_cgroup client)" client
tl_diag "$("$T" probe "$ROOT")"

B1=10.244.0.21:5353
B1_6="[fd00:244::21]:5353"
ALL="10.244.0.21:5353 10.244.0.22:5353 10.244.0.23:5353"
ALL6="[fd00:244::21]:5353 [fd00:244::22]:5353 [fd00:244::23]:5353"

# checks M: every check with method M (its name prefixes theirs).
checks() {
	local m=$1 r s id=main${2} loop_out loop_pid destroyed start end first last_dns3
	export SOCKLB_TERMINATION_METHOD=$m
	# Every service first has dns1 only, so every socket through a VIP lands on it.
	"$CTL" svc "$ROOT" 10.96.0.53 53 udp 0 "$B1"
	"$CTL" svc "$ROOT" 10.96.0.53 53 tcp 0 "$B1"
	"$CTL" svc "$ROOT" fd00:96::53 53 udp 0 "$B1_6"
	"$CTL" svc "$ROOT" 10.96.0.54 53 udp 0 "$B1"

	if ! "$T" terminate "$ROOT" 10.96.0.53 53 udp "$B1" udp >/dev/null 2>"$TL_TMP/open.err"; then
		tl_not_ok "$m: the termination programs load and share the socket records map"
		tl_diag "$(cat "$TL_TMP/open.err")"
		return
	fi
	tl_ok "$m: the termination programs load and share the socket records map"

	# The client pod's sockets, held by one process that runs commands.
	tl_sockets_start "$id" client \
		a udpc 10.96.0.53 53 \
		b udp 10.96.0.53 53 \
		c tcp 10.96.0.53 53 \
		d udpc 10.244.0.21 5353 \
		e udpc ::ffff:10.96.0.53 53 \
		f udpc fd00:96::53 53 \
		g udpc 10.96.0.54 53

	s=$(tl_sockets_cmd "$id")
	tl_diag "$s"
	tl_check "$m: before: every socket reaches dns1 (through the VIPs and directly)" \
		test "$(grep -c "^[a-g] reply dns1 " <<<"$s")" = 7
	tl_check "$m: before: connected UDP through the VIP sees the VIP as peer" \
		tl_sees "$s" "a reply dns1 from 10.96.0.53:53 peer 10.96.0.53:53"

	# Now the services have three backends; the sockets keep theirs.
	# shellcheck disable=SC2086
	{
		"$CTL" svc "$ROOT" 10.96.0.53 53 udp 0 $ALL
		"$CTL" svc "$ROOT" 10.96.0.53 53 tcp 0 $ALL
		"$CTL" svc "$ROOT" fd00:96::53 53 udp 0 $ALL6
		"$CTL" svc "$ROOT" 10.96.0.54 53 udp 0 $ALL
	}

	# dns1 leaves the services 10.96.0.53 (UDP and TCP) and fd00:96::53, not 10.96.0.54;
	# the pod itself stays up (not ready any more), so intact sockets still reach it.
	r=$("$T" remove "$ROOT" 10.96.0.53 53 udp "$B1" udp 2>"$TL_TMP/log")
	tl_diag "$(cat "$TL_TMP/log")"
	tl_check "$m: removing dns1 from the UDP service destroys 2 sockets: IPv4 and v4-mapped ($r)" \
		grep -q "^destroyed 2 failed 0 " <<<"$r"
	r=$("$T" remove "$ROOT" fd00:96::53 53 udp "$B1_6" udp 2>/dev/null)
	tl_check "$m: removing dns1 from the IPv6 UDP service destroys 1 socket ($r)" \
		grep -q "^destroyed 1 failed 0 " <<<"$r"
	r=$("$T" remove "$ROOT" 10.96.0.53 53 tcp "$B1" udp 2>/dev/null)
	tl_check "$m: removing dns1 from the TCP service, TCP termination off: nothing destroyed ($r)" \
		grep -q "^destroyed 0 failed 0 " <<<"$r"

	s=$(tl_sockets_cmd "$id" check)
	tl_diag "$s"
	tl_check "$m: (a) connected UDP through the VIP: next recv fails with ECONNABORTED" \
		tl_sees "$s" "a pending ECONNABORTED"
	tl_check "$m: (a) then send fails with EDESTADDRREQ" tl_sees "$s" "a error send EDESTADDRREQ"
	tl_check "$m: v4-mapped connected UDP on a dual-stack socket: destroyed" tl_sees "$s" "e pending ECONNABORTED"
	tl_check "$m: IPv6 connected UDP through the VIP: destroyed" tl_sees "$s" "f pending ECONNABORTED"
	tl_check "$m: (b) unconnected UDP: no error, its next sendto reaches a live backend, reply from the VIP" \
		tl_sees_re "$s" "b pending none" "b reply dns[23] from 10\.96\.0\.53:53"
	tl_check "$m: (c) TCP through the VIP: intact while TCP termination is off" \
		tl_sees "$s" "c pending none" "c reply dns1 peer 10.96.0.53:53"
	tl_check "$m: (d) connected UDP to dns1's pod IP directly: intact" \
		tl_sees "$s" "d pending none" "d reply dns1 from 10.244.0.21:5353 peer 10.244.0.21:5353"
	tl_check "$m: another service that still has dns1: its socket is intact" \
		tl_sees "$s" "g pending none" "g reply dns1 from 10.96.0.54:53 peer 10.96.0.54:53"

	s=$(tl_sockets_cmd "$id" reconnect a)
	tl_check "$m: (a) reconnecting through the VIP reaches a live backend ($s)" \
		tl_sees_re "$s" "a reply dns[23] from 10\.96\.0\.53:53 peer 10\.96\.0\.53:53"
	s=$(tl_sockets_cmd "$id" reconnect f)
	tl_check "$m: IPv6: reconnecting through the VIP reaches a live backend ($s)" \
		tl_sees_re "$s" "f reply dns[23] from \[fd00:96::53\]:53 peer \[fd00:96::53\]:53"

	# TCP termination on: the TCP socket still on dns1 goes, nothing else.
	r=$("$T" terminate "$ROOT" 10.96.0.53 53 tcp "$B1" tcp 2>/dev/null)
	tl_check "$m: TCP termination for dns1: destroys the 1 TCP socket ($r)" grep -q "^destroyed 1 failed 0 " <<<"$r"
	s=$(tl_sockets_cmd "$id" check)
	tl_diag "$s"
	tl_check "$m: (c) TCP: next recv fails with ECONNABORTED" tl_sees "$s" "c pending ECONNABORTED"
	tl_check "$m: after TCP termination: (a) reconnected, (b), (d) and the other service intact" \
		tl_sees_re "$s" "a pending none" "b pending none" "d pending none" "g pending none" \
		"a reply dns[23] from 10\.96\.0\.53:53 peer 10\.96\.0\.53:53" "b reply dns[23] from 10\.96\.0\.53:53" \
		"d reply dns1 from 10\.244\.0\.21:5353 peer 10\.244\.0\.21:5353" \
		"g reply dns1 from 10\.96\.0\.54:53 peer 10\.96\.0\.54:53"
	s=$(tl_sockets_cmd "$id" reconnect c)
	tl_check "$m: (c) reconnecting through the VIP reaches a live backend ($s)" \
		tl_sees_re "$s" "c reply dns[23] peer 10\.96\.0\.53:53"
	r=$("$T" terminate "$ROOT" 10.96.0.53 53 udp "$B1" udp,tcp 2>/dev/null)
	tl_check "$m: terminating again finds nothing: destroyed sockets no longer point at dns1 ($r)" \
		grep -q "^destroyed 0 failed 0 " <<<"$r"

	# A DNS-style client across a backend deletion: dns3 only, then three backends,
	# then dns3's pod vanishes (link down: no answer, no ICMP), then the removal.
	"$CTL" svc "$ROOT" 10.96.0.55 53 udp 0 10.244.0.23:5353
	loop_out=$TL_TMP/loop-$id.out
	# Long enough for a slow (emulated) machine; stopped once answers flow again.
	tl_bg_in_pod client "$T" dnsloop 10.96.0.55 53 30000 >"$loop_out" 2>&1
	loop_pid=${TL_PIDS[-1]}
	for i in $(seq 100); do
		grep -q "^answer .* dns3$" "$loop_out" && break
		sleep 0.02
	done
	# shellcheck disable=SC2086
	"$CTL" svc "$ROOT" 10.96.0.55 53 udp 0 10.244.0.23:5353 10.244.0.21:5353 10.244.0.22:5353
	sleep 0.3
	ip -n "$(tl_pod_ns dns3)" link set eth0 down
	sleep 0.3
	r=$("$T" remove "$ROOT" 10.96.0.55 53 udp 10.244.0.23:5353 udp 2>/dev/null)
	read -r destroyed start end < <(awk '{ print $2, $6, $8 }' <<<"$r")
	for i in $(seq 300); do
		first=$(awk -v s="${start:-0}" '$1 == "answer" && $2 > s && $3 != "dns3" { print $2; exit }' "$loop_out")
		[ -n "$first" ] && break
		sleep 0.01
	done
	tl_stop "$loop_pid"
	# back up for the next method; the link going down dropped its IPv6 address
	ip -n "$(tl_pod_ns dns3)" link set eth0 up
	ip -n "$(tl_pod_ns dns3)" addr replace fd00:244::23/64 dev eth0 nodad
	last_dns3=$(awk '$1 == "answer" && $3 == "dns3" { t = $2 } END { print t }' "$loop_out")
	if [ -n "$first" ] && [ -n "$end" ]; then
		tl_diag "$m: $(awk -v f="$first" -v s="$start" -v e="$end" -v l="$last_dns3" 'BEGIN {
			printf "gap %.1fms until answers flow again after the removal call returned ", (f > e ? f - e : 0) / 1e6
			printf "(the call took %.1fms; first answer %.1fms after it started; ", (e - s) / 1e6, (f - s) / 1e6
			printf "outage since dns3 stopped answering %.0fms, %.0fms of it before the removal)", (f - l) / 1e6, (s - l) / 1e6
		}')"
	fi
	tl_check "$m: DNS loop: answers from dns3 before its removal" grep -q "^answer .* dns3$" "$loop_out"
	tl_check "$m: DNS loop: the removal destroys the loop's socket ($r)" test "${destroyed:-}" = 1
	tl_check "$m: DNS loop: the client sees ECONNABORTED and reconnects" loop_reconnected "$loop_out"
	tl_check "$m: DNS loop: answers flow again from a live backend within a sane bound (1 s)" \
		answers_again_within_1s "${first:-}" "${end:-}"
}
loop_reconnected() {
	tl_dnsloop_destroyed "$1" && [ "$(grep -c "^connected" "$1")" -ge 2 ]
}
answers_again_within_1s() {
	[ -n "$1" ] && [ -n "$2" ] && [ $(($1 - $2)) -lt 1000000000 ]
}

n=0
for m in $METHODS; do
	n=$((n + 1))
	if why=$("$T" probe "$ROOT" "$m"); then
		checks "$m" "$n"
	else
		tl_skip "$m: socket termination checks" "$why"
	fi
done

tl_finish

#!/usr/bin/env bash
# Socket termination driven by the real socklb-syncd with a file source: edit
# the JSON (Services and EndpointSlices as kubectl prints them) so that a
# backend leaves a Service, and exactly the client sockets connected to it
# through that Service's VIP are destroyed: connected UDP always, TCP with
# --terminate-tcp; unconnected UDP, direct pod-IP sockets and another
# Service's sockets stay. A DNS-style client loop across a backend removal
# prints the gap "file written -> answers flow again" as "# gap N ms" lines;
# --terminate-grace keeps a serving+terminating endpoint's sockets until it
# stops serving or the grace period ends; a deleted Service's sockets go with
# it; a daemon that may not load the iterators syncs without termination.
# The checks of daemons 1 and 2 run once per termination method
# (--termination-method); a method this kernel cannot run is one SKIP line
# with the reason. GAP_ROUNDS (default 5) removals per method are timed.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

SYNCD=$TL_BUILD/socklb-syncd
T=$TL_TOOLS/slb-term
CTL=$TL_TOOLS/slb-testctl
ROOT=$TL_BPFFS
SRC=$TL_TMP/cluster.json
GRACE_MS=2500
METHODS=${TERMINATION_METHODS:-records+bpf records+diag tasks+bpf tasks+diag pods+bpf pods+diag}
GAP_ROUNDS=${GAP_ROUNDS:-5}

tl_pod client 10.244.0.2/24
for i in 1 2 3; do
	tl_pod dns$i 10.244.0.2$i/24
	tl_bg_in_pod dns$i "$T" server 0.0.0.0 5353 dns$i
done

now_ms() { date +%s%3N; }
# written_ms: write_cluster; the realtime ms just before its rename (a late reading would shorten what is timed from it).
written_ms() {
	local rt
	read -r _ rt < <(write_cluster)
	echo $((rt / 1000000))
}

# ---------------------------------------------------------------- the cluster
# Endpoint specs: dnsN (ready), dnsN:terminating (serving, terminating, not
# ready: a pod in its graceful shutdown), dnsN:stopped (terminating, not serving).
endpoints() {
	local first=1 spec name state ready serving terminating
	for spec in "$@"; do
		name=${spec%%:*}
		state=ready
		[ "$spec" != "$name" ] && state=${spec#*:}
		case $state in
		ready) ready=true serving=true terminating=false ;;
		terminating) ready=false serving=true terminating=true ;;
		stopped) ready=false serving=false terminating=true ;;
		esac
		[ $first = 1 ] || printf ','
		first=0
		printf '{"addresses":["10.244.0.2%s"],"conditions":{"ready":%s,"serving":%s,"terminating":%s},"nodeName":"node-a","targetRef":{"kind":"Pod","namespace":"demo","name":"%s"}}' \
			"${name#dns}" "$ready" "$serving" "$terminating" "$name"
	done
}
service() { # name ip udp|udp+tcp
	local ports='{"name":"dns","port":53,"protocol":"UDP","targetPort":5353}'
	[ "$3" = udp+tcp ] && ports="$ports"',{"name":"dns-tcp","port":53,"protocol":"TCP","targetPort":5353}'
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"demo"},"spec":{"type":"ClusterIP","clusterIP":"%s","clusterIPs":["%s"],"ipFamilies":["IPv4"],"ports":[%s]}}' \
		"$1" "$2" "$2" "$ports"
}
slice() { # service udp|udp+tcp endpoint-specs...
	local svc=$1 ports='{"name":"dns","port":5353,"protocol":"UDP"}'
	[ "$2" = udp+tcp ] && ports="$ports"',{"name":"dns-tcp","port":5353,"protocol":"TCP"}'
	shift 2
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s-abcde","namespace":"demo","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"IPv4","ports":[%s],"endpoints":[%s]}' \
		"$svc" "$svc" "$ports" "$(endpoints "$@")"
}
# The endpoints of each Service, as space-separated specs.
DNS="dns1" DNS_B="dns1" LOOP="dns3" GRACE="dns2"
# write_cluster: the file, replaced atomically (as kubectl and config tools write);
# prints CLOCK_MONOTONIC and CLOCK_REALTIME (ns) just before the rename.
write_cluster() {
	# shellcheck disable=SC2086
	{
		printf '{"apiVersion":"v1","kind":"List","items":[\n'
		printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}},\n'
		service dns 10.96.0.53 udp+tcp
		printf ',\n'
		slice dns udp+tcp $DNS
		printf ',\n'
		service dns-b 10.96.0.54 udp
		printf ',\n'
		slice dns-b udp $DNS_B
		printf ',\n'
		service loop 10.96.0.55 udp
		printf ',\n'
		slice loop udp $LOOP
		printf ',\n'
		service grace 10.96.0.56 udp
		printf ',\n'
		slice grace udp $GRACE
		printf '\n]}\n'
	} >"$SRC.tmp"
	python3 -c 'import os, sys, time
m, r = time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.time_ns()
os.rename(sys.argv[1], sys.argv[2])
print(m, r)' "$SRC.tmp" "$SRC"
}

# backends FRONTEND PROTO: the backends in the maps, comma-separated.
backends() {
	"$SYNCD" dump --bpffs-root "$ROOT" --json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["frontend"] == sys.argv[1] and s["protocol"] == sys.argv[2]:
        print(",".join(s["backends"]))' "$1" "$2"
}
# wait_backends FRONTEND PROTO EXPECTED: up to 3 s.
wait_backends() {
	local i
	for i in $(seq 300); do
		[ "$(backends "$1" "$2")" = "$3" ] && return 0
		sleep 0.01
	done
	echo "$1/$2 has backends \"$(backends "$1" "$2")\", want \"$3\""
	return 1
}

# ----------------------------------------------------------------- the daemon
DAEMON_PID=
start_daemon() { # LOG [flags]: DAEMON_PID, and the PORT of its /metrics
	local log=$1
	shift
	"$SYNCD" --source "file:$SRC" --bpffs-root "$ROOT" --node-name node-a --metrics-addr 127.0.0.1:0 "$@" \
		2>"$log" &
	DAEMON_PID=$!
	TL_PIDS+=("$DAEMON_PID")
	PORT=$(tl_metrics_port "$log")
}
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
}
metrics() { curl -s -m 2 "http://127.0.0.1:$PORT/metrics"; }
# destroyed_lines LOG: the library's line per termination batch that destroyed sockets.
destroyed_lines() { grep -c "socket termination: [1-9][0-9]* sockets destroyed" "$1"; }
# wait_destroyed_lines LOG N: up to 3 s.
wait_destroyed_lines() {
	local i
	for i in $(seq 300); do
		[ "$(destroyed_lines "$1")" -ge "$2" ] && return 0
		sleep 0.01
	done
	return 1
}

for i in 1 2 3; do
	tl_wait_term_server client 10.244.0.2$i 5353 || tl_not_ok "server dns$i did not start"
done

# ------------------------------------------------------ DNS-style loop, gaps
# The loop's backend is first the only one (so the loop lands on it), then
# one of three; its pod vanishes (link down: no answer, no ICMP), then the
# file says it stopped (terminating, not serving). Gap: the file written ->
# the first answer from a live backend.
loop_backends() { # EXPECTED: wait_backends for loop, its complaint as a comment
	wait_backends 10.96.0.55:53 UDP "$1" >"$TL_TMP/loop-wait.out" && return 0
	sed 's/^/# /' "$TL_TMP/loop-wait.out"
	return 1
}
gap_round() { # BACKEND (dnsN)
	local b=$1 out=$TL_TMP/loop-$1.out pid written written_rt first last seen i
	LOOP=$b
	write_cluster >/dev/null
	loop_backends "10.244.0.2${b#dns}:5353" || return 1
	# Long enough for a loaded machine; stopped once answers flow again.
	tl_bg_in_pod client "$T" dnsloop 10.96.0.55 53 30000 >"$out" 2>&1
	pid=${TL_PIDS[-1]}
	for i in $(seq 100); do
		grep -q "^answer .* $b$" "$out" && break
		sleep 0.02
	done
	LOOP="dns1 dns2 dns3"
	write_cluster >/dev/null
	loop_backends 10.244.0.21:5353,10.244.0.22:5353,10.244.0.23:5353 || return 1
	sleep 0.3
	ip -n "$(tl_pod_ns "$b")" link set eth0 down
	sleep 0.3
	LOOP="$b:stopped"
	for i in 1 2 3; do
		[ "dns$i" != "$b" ] && LOOP="$LOOP dns$i"
	done
	read -r written written_rt < <(write_cluster)
	for i in $(seq 300); do
		first=$(awk -v w="$written" -v b="$b" '$1 == "answer" && $2 > w && $3 != b { print $2; exit }' "$out")
		[ -n "$first" ] && break
		sleep 0.01
	done
	tl_stop "$pid"
	ip -n "$(tl_pod_ns "$b")" link set eth0 up
	last=$(awk -v b="$b" '$1 == "answer" && $3 == b { t = $2 } END { print t }' "$out")
	tl_dnsloop_destroyed "$out" || {
		echo "# the loop's socket was not destroyed; the file was written at $(((written - $(awk '$1 == "connected" { print $2; exit }' "$out")) / 1000000)) ms of the loop"
		awk '$1 == "answer" { n[$3]++; next } { print "# " $0 } END { for (b in n) printf "# %d answers from %s\n", n[b], b }' "$out"
		sed 's/^/# daemon: /' "$LOG1" | tail -5
		return 1
	}
	[ -n "$first" ] || { echo "# no answer from a live backend after the removal"; return 1; }
	GAPS+=($(((first - written) / 1000000)))
	# The daemon's log stamps (ms, realtime) tell when it had read the file.
	seen=$(python3 -c '
import datetime, sys
written_rt, first, written = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for line in open(sys.argv[1]):
    if " info: loaded " not in line:
        continue
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    ms = int(t.timestamp() * 1000)
    if ms >= written_rt // 1000000:
        print(first // 1000000 - (written + (ms * 1000000 - written_rt)) // 1000000)
        break' "$LOG1" "$written_rt" "$first" "$written")
	SEEN+=("${seen:-?}")
	echo "# gap $(((first - written) / 1000000)) ms: file written -> answers from a live backend" \
		"(${seen:-?} ms after the daemon had read the file; $b silent $(((first - last) / 1000000)) ms in all)"
}
# delete_service NAME: the Service NAME and its EndpointSlice leave the file.
delete_service() {
	python3 - "$SRC" "$1" <<'EOF'
import json, os, sys
path, name = sys.argv[1], sys.argv[2]
d = json.load(open(path))
d["items"] = [i for i in d["items"] if i["metadata"]["name"] not in (name, name + "-abcde")]
json.dump(d, open(path + ".tmp", "w"))
os.rename(path + ".tmp", path)
EOF
}
# stats N...: "N1 N2 ... (n=K, p50 X, p90 Y, max Z)"
stats() {
	[ $# -gt 0 ] || { echo none; return; }
	python3 -c 'import sys
v = sorted(int(x) for x in sys.argv[1:] if x.lstrip("-").isdigit())
q = lambda p: v[min(len(v) - 1, int(p * len(v)))] if v else "?"
print(" ".join(sys.argv[1:]), "(n=%d, p50 %s, p90 %s, max %s)" % (len(v), q(0.5), q(0.9), v[-1] if v else "?"))' "$@"
}

# method_checks M: daemons 1 and 2 with termination method M (its name prefixes the checks').
method_checks() {
	local M=$1 MET s i t0 destroyed_at lines left_ms
	# ============================================ daemon 1: the defaults (UDP only)
	DNS="dns1" DNS_B="dns1" LOOP="dns3" GRACE="dns2"
	write_cluster >/dev/null
	LOG1=$TL_TMP/syncd-$M-1.log
	start_daemon "$LOG1" --termination-method "$M"
	tl_check "$M: the daemon writes the Services" wait_backends 10.96.0.53:53 UDP 10.244.0.21:5353
	tl_check "$M: the daemon uses $M, as told (connected UDP, no grace)" \
		grep -q "socket termination: using $M (--termination-method $M): connected UDP sockets of removed backends, grace period 0 ms" "$LOG1"

	tl_sockets_start "main-$M" client \
		a udpc 10.96.0.53 53 \
		b udp 10.96.0.53 53 \
		c tcp 10.96.0.53 53 \
		d udpc 10.244.0.21 5353 \
		g udpc 10.96.0.54 53
	s=$(tl_sockets_cmd "main-$M")
	tl_diag "$s"
	tl_check "$M: before: every socket reaches dns1 (through the VIPs and directly)" \
		test "$(grep -c "^[abcdg] reply dns1 " <<<"$s")" = 5

	DNS="dns1 dns2 dns3"
	write_cluster >/dev/null
	tl_check "$M: dns gets three backends; the sockets keep theirs" \
		wait_backends 10.96.0.53:53 UDP 10.244.0.21:5353,10.244.0.22:5353,10.244.0.23:5353

	# dns1 is deleted from dns's slice (its pod stays up, and in dns-b).
	DNS="dns2 dns3"
	write_cluster >/dev/null
	tl_check "$M: dns1 leaves dns (UDP and TCP) in the maps" wait_backends 10.96.0.53:53 TCP 10.244.0.22:5353,10.244.0.23:5353
	tl_check "$M: the daemon terminates once" wait_destroyed_lines "$LOG1" 1
	sleep 0.2
	s=$(tl_sockets_cmd "main-$M" check)
	tl_diag "$s"
	tl_check "$M: (a) connected UDP through the VIP: destroyed (ECONNABORTED, then EDESTADDRREQ)" \
		tl_sees_re "$s" "a pending ECONNABORTED" "a error send EDESTADDRREQ"
	tl_check "$M: (b) unconnected UDP: intact, its next sendto reaches a live backend from the VIP" \
		tl_sees_re "$s" "b pending none" "b reply dns[23] from 10\.96\.0\.53:53"
	tl_check "$M: (c) TCP through the VIP: intact without --terminate-tcp" \
		tl_sees_re "$s" "c pending none" "c reply dns1 peer 10\.96\.0\.53:53"
	tl_check "$M: (d) connected UDP to dns1's pod IP directly: intact" \
		tl_sees_re "$s" "d pending none" "d reply dns1 from 10\.244\.0\.21:5353 peer 10\.244\.0\.21:5353"
	tl_check "$M: (g) another Service that still has dns1: intact" \
		tl_sees_re "$s" "g pending none" "g reply dns1 from 10\.96\.0\.54:53 peer 10\.96\.0\.54:53"
	s=$(tl_sockets_cmd "main-$M" reconnect a)
	tl_check "$M: (a) the client's retry through the VIP reaches a live backend ($s)" \
		tl_sees_re "$s" "a reply dns[23] from 10\.96\.0\.53:53 peer 10\.96\.0\.53:53"
	tl_check "$M: one log line for the batch, naming the backend" \
		test "$(grep -c "socket termination: 1 sockets destroyed (0 failed) for 1 removed backends.*(10.244.0.21:5353 1)" "$LOG1")" = 1
	tl_check "$M: no other termination line (no double line per batch)" test "$(destroyed_lines "$LOG1")" = 1
	MET=$(metrics)
	tl_check "$M: /metrics: socklb_service_sockets_destroyed_total counts the UDP socket for its frontend" \
		grep -qx 'socklb_service_sockets_destroyed_total{frontend="10.96.0.53:53",protocol="UDP"} 1' <<<"$MET"
	tl_check "$M: /metrics: nothing counted for the TCP frontend" \
		bash -c '! grep -qF "$1" <<<"$2"' _ 'socklb_service_sockets_destroyed_total{frontend="10.96.0.53:53",protocol="TCP"}' "$MET"
	tl_check "$M: /metrics: socklb_socket_termination_enabled 1" grep -qx 'socklb_socket_termination_enabled 1' <<<"$MET"
	tl_check "$M: /metrics: socklb_termination_method{method=\"$M\"} 1" \
		grep -qx "socklb_termination_method{method=\"$M\"} 1" <<<"$MET"

	GAPS=() SEEN=()
	# Not through tl_check: GAPS must survive (tl_check runs its command in a subshell).
	ROUND_BACKENDS=(dns3 dns1 dns2)
	for ((round = 0; round < GAP_ROUNDS; round++)); do
		b=${ROUND_BACKENDS[$((round % 3))]}
		if gap_round "$b" >"$TL_TMP/gap.diag" 2>&1; then
			tl_ok "$M: DNS loop across the removal of $b: destroyed, reconnected, answers from a live backend"
		else
			tl_not_ok "$M: DNS loop across the removal of $b: destroyed, reconnected, answers from a live backend"
		fi
		cat "$TL_TMP/gap.diag"
	done
	under_1s() {
		local g
		[ ${#GAPS[@]} -gt 0 ] || return 1
		for g in "${GAPS[@]}"; do
			[ "$g" -lt 1000 ] || return 1
		done
	}
	tl_check "$M: DNS loop: every gap under a sane bound of 1 s (goal: 100 ms after the daemon sees the change)" under_1s
	stop_daemon
	tl_diag "$M: gaps (ms), file written -> answers again: $(stats "${GAPS[@]}"); daemon read the file -> answers again: $(stats "${SEEN[@]}")"

	# ============================= daemon 2: --terminate-tcp --terminate-grace
	LOG2=$TL_TMP/syncd-$M-2.log
	start_daemon "$LOG2" -v --termination-method "$M" --terminate-tcp --terminate-grace ${GRACE_MS}ms
	tl_check "$M: daemon 2 logs its settings" bash -c "for i in \$(seq 300); do grep -q 'connected UDP and TCP sockets of removed backends, grace period $GRACE_MS ms' '$LOG2' && exit 0; sleep 0.01; done; exit 1"

	# (c) is still connected to dns1 through the TCP VIP: dns1 comes back, then leaves again.
	DNS="dns1 dns2 dns3"
	write_cluster >/dev/null
	wait_backends 10.96.0.53:53 TCP 10.244.0.21:5353,10.244.0.22:5353,10.244.0.23:5353 >/dev/null
	DNS="dns2 dns3"
	write_cluster >/dev/null
	tl_check "$M: with --terminate-tcp and a grace period: a deleted endpoint is not held, the daemon terminates" \
		wait_destroyed_lines "$LOG2" 1
	s=$(tl_sockets_cmd "main-$M" check)
	tl_diag "$s"
	tl_check "$M: (c) TCP through the VIP: destroyed with --terminate-tcp (ECONNABORTED)" tl_sees_re "$s" "c pending ECONNABORTED"
	tl_check "$M: (a) reconnected, (b), (d), (g): intact" \
		tl_sees_re "$s" "a pending none" "b pending none" "d pending none" "g pending none" \
		"a reply dns[23] from 10\.96\.0\.53:53 peer 10\.96\.0\.53:53" "b reply dns[23] from 10\.96\.0\.53:53" \
		"d reply dns1 from 10\.244\.0\.21:5353 peer 10\.244\.0\.21:5353" "g reply dns1 from 10\.96\.0\.54:53 peer 10\.96\.0\.54:53"
	s=$(tl_sockets_cmd "main-$M" reconnect c)
	tl_check "$M: (c) the retry through the VIP reaches a live backend ($s)" tl_sees_re "$s" "c reply dns[23] peer 10\.96\.0\.53:53"
	tl_check "$M: /metrics: the TCP socket is counted for the TCP frontend" \
		grep -qx 'socklb_service_sockets_destroyed_total{frontend="10.96.0.53:53",protocol="TCP"} 1' <<<"$(metrics)"

	# --------------------------------------------------------------- grace period
	# h connects through grace's VIP while dns2 is its only backend.
	tl_sockets_start "grace-$M" client h udpc 10.96.0.56 53
	s=$(tl_sockets_cmd "grace-$M")
	tl_check "$M: (h) connected UDP through the VIP reaches dns2" tl_sees_re "$s" "h reply dns2 from 10\.96\.0\.56:53 peer 10\.96\.0\.56:53"
	GRACE="dns2 dns3"
	write_cluster >/dev/null
	wait_backends 10.96.0.56:53 UDP 10.244.0.22:5353,10.244.0.23:5353 >/dev/null
	# dns2 turns serving+terminating: it leaves the maps (dns3 is ready), its sockets stay for the grace period.
	# What ended a hold is read from the daemon's debug lines; times are reported, and a check
	# the machine was too slow to make before the grace period ended is a SKIP.
	GRACE="dns2:terminating dns3"
	t0=$(written_ms)
	tl_check "$M: a serving+terminating endpoint leaves the maps when a ready one exists" \
		wait_backends 10.96.0.56:53 UDP 10.244.0.23:5353
	sleep 0.3
	s=$(tl_sockets_cmd "grace-$M" check)
	if [ $(($(now_ms) - t0)) -lt "$GRACE_MS" ]; then
		tl_check "$M: (h) during the grace period: intact, still answered by dns2 ($s)" \
			tl_sees_re "$s" "h pending none" "h reply dns2 from 10\.96\.0\.56:53 peer 10\.96\.0\.56:53"
	else
		tl_skip "$M: (h) during the grace period: intact" "the grace period had ended when the check came"
	fi
	# a check reads the pending error: the one above may have been the first to see it
	destroyed_at=
	grep -q "^h pending ECONNABORTED" <<<"$s" && destroyed_at=$(now_ms)
	for i in $(seq 100); do
		[ -n "$destroyed_at" ] && break
		s=$(tl_sockets_cmd "grace-$M" check)
		if grep -q "^h pending ECONNABORTED" <<<"$s"; then
			destroyed_at=$(now_ms)
			break
		fi
		sleep 0.05
	done
	tl_diag "serving+terminating dns2: its socket destroyed $((${destroyed_at:-0} - t0)) ms after the file was written (grace ${GRACE_MS} ms; polled)"
	tl_check "$M: (h) destroyed when the grace period ends, not before" \
		bash -c "[ -n '$destroyed_at' ] && [ $((${destroyed_at:-0} - t0)) -ge $GRACE_MS ] &&
			grep -q 'backend 10.244.0.22:5353 of frontend 10.96.0.56:53/UDP reached the end of its grace period: terminating' '$LOG2'"
	s=$(tl_sockets_cmd "grace-$M" reconnect h)
	tl_check "$M: (h) the retry through the VIP reaches dns3 ($s)" tl_sees_re "$s" "h reply dns3 from 10\.96\.0\.56:53 peer 10\.96\.0\.56:53"

	# dns3 turns serving+terminating, then stops serving before the grace period ends: destroyed at once.
	GRACE="dns3 dns1"
	write_cluster >/dev/null
	wait_backends 10.96.0.56:53 UDP 10.244.0.21:5353,10.244.0.23:5353 >/dev/null
	GRACE="dns3:terminating dns1"
	t0=$(written_ms)
	wait_backends 10.96.0.56:53 UDP 10.244.0.21:5353 >/dev/null
	sleep 0.3
	s=$(tl_sockets_cmd "grace-$M" check)
	# the stop must reach the daemon well before the grace period ends
	if [ $(($(now_ms) - t0)) -lt $((GRACE_MS - 1000)) ]; then
		tl_check "$M: (h) serving+terminating dns3 keeps its socket ($s)" \
			tl_sees_re "$s" "h pending none" "h reply dns3 from 10\.96\.0\.56:53 peer 10\.96\.0\.56:53"
		GRACE="dns3:stopped dns1"
		lines=$(destroyed_lines "$LOG2")
		write_cluster >/dev/null
		wait_destroyed_lines "$LOG2" $((lines + 1))
		left_ms=$(($(now_ms) - t0))
		s=$(tl_sockets_cmd "grace-$M" check)
		tl_diag "dns3 stopped serving: its socket destroyed at most ${left_ms} ms after it left the maps (polled)"
		tl_check "$M: (h) destroyed as soon as dns3 stops serving, before the grace period ends" \
			bash -c 'grep -q "^h pending ECONNABORTED" <<<"$1" &&
				grep -q "backend 10.244.0.23:5353 of frontend 10.96.0.56:53/UDP stopped serving or left: terminating" "$2"' \
			_ "$s" "$LOG2"
	else
		tl_skip "$M: (h) destroyed as soon as dns3 stops serving, before the grace period ends" \
			"this machine took $(($(now_ms) - t0)) ms to get there, the grace period is $GRACE_MS ms"
		GRACE="dns3:stopped dns1"
		lines=$(destroyed_lines "$LOG2")
		write_cluster >/dev/null
		wait_destroyed_lines "$LOG2" $((lines + 1))
	fi
	tl_check "$M: /metrics: both grace sockets counted for grace's frontend" \
		grep -qx 'socklb_service_sockets_destroyed_total{frontend="10.96.0.56:53",protocol="UDP"} 2' <<<"$(metrics)"

	# A deleted Service: the sockets through its VIP go with it.
	s=$(tl_sockets_cmd "grace-$M" reconnect h)
	tl_check "$M: (h) reconnects to dns1 ($s)" tl_sees_re "$s" "h reply dns1 from 10\.96\.0\.56:53 peer 10\.96\.0\.56:53"
	lines=$(destroyed_lines "$LOG2")
	delete_service grace
	tl_check "$M: a deleted Service: the daemon terminates its sockets" wait_destroyed_lines "$LOG2" $((lines + 1))
	s=$(tl_sockets_cmd "grace-$M" check)
	tl_check "$M: (h) destroyed with its Service ($s)" tl_sees_re "$s" "h pending ECONNABORTED"
	stop_daemon
	tl_sockets_stop "main-$M"
	tl_sockets_stop "grace-$M"
}

tl_check "programs load under the test's root" "$CTL" load "$ROOT"
tl_check "links attach to the client pod's cgroup" "$CTL" attach "$ROOT" "$(tl_pod_cgroup client)" client
PROBE=$("$T" probe "$ROOT")
tl_diag "$PROBE"

# ========================= daemon 0: --termination-method auto (the default)
AUTO=$(awk '$1 == "auto" { print $2 }' <<<"$PROBE")
[ "$AUTO" = off ] && AUTO_LINE="socket termination: off (" || AUTO_LINE="socket termination: using $AUTO ("
write_cluster >/dev/null
LOG0=$TL_TMP/syncd-auto.log
start_daemon "$LOG0"
tl_check "auto: the daemon writes the Services" wait_backends 10.96.0.53:53 UDP 10.244.0.21:5353
tl_check "auto: the daemon says once which method it probed and chose, and why ($AUTO)" \
	test "$(grep -c "$AUTO_LINE" "$LOG0")" = 1
tl_check "auto: /metrics: socklb_termination_method{method=\"$AUTO\"} 1" \
	grep -qx "socklb_termination_method{method=\"$AUTO\"} 1" <<<"$(metrics)"
tl_check "dump's header: the method auto chooses on this node ($AUTO), and why" \
	bash -c "'$SYNCD' dump --bpffs-root '$ROOT' | head -1 | grep -q '^# socket termination: $AUTO ('"
stop_daemon

for m in $METHODS; do
	if why=$("$T" probe "$ROOT" "$m"); then
		method_checks "$m"
	else
		tl_skip "$m: socket termination checks with the daemon" "$why"
	fi
done

# ================== daemon 3: without the privileges to load the iterators
# (CAP_PERFMON and CAP_SYS_ADMIN): it says so, and syncs without termination.
if command -v capsh >/dev/null; then
	LOG3=$TL_TMP/syncd-3.log
	# shellcheck disable=SC2016 # expanded by the inner shell, from its arguments
	capsh --drop=cap_perfmon,cap_sys_admin -- -c 'exec "$0" --source "file:$1" --bpffs-root "$2" --node-name node-a \
		--metrics-addr 127.0.0.1:0' "$SYNCD" "$SRC" "$ROOT" 2>"$LOG3" &
	DAEMON_PID=$!
	TL_PIDS+=("$DAEMON_PID")
	PORT=$(tl_metrics_port "$LOG3")
	DNS="dns1 dns2"
	write_cluster >/dev/null
	tl_check "without CAP_PERFMON and CAP_SYS_ADMIN: the daemon still syncs" \
		wait_backends 10.96.0.53:53 UDP 10.244.0.21:5353,10.244.0.22:5353
	tl_check "... and says once it runs without socket termination, and why" \
		grep -q "socket termination: off (no method works here: netns: setns into a network namespace: Operation not permitted (needs CAP_SYS_ADMIN))" "$LOG3"
	MET=$(metrics)
	tl_check "... and /metrics says socklb_socket_termination_enabled 0" \
		grep -qx 'socklb_socket_termination_enabled 0' <<<"$MET"
	tl_check "... and socklb_termination_method{method=\"off\"} 1" \
		grep -qx 'socklb_termination_method{method="off"} 1' <<<"$MET"
	stop_daemon
else
	tl_skip "without CAP_PERFMON and CAP_SYS_ADMIN: the daemon syncs without socket termination" \
		"capsh is not installed"
fi

tl_finish

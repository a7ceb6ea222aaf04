#!/usr/bin/env bash
# socklb-syncd trace on real sockets: a pod attached the way kubelet lays out
# cgroups (the links on kubepods/besteffort/pod<uid>, the client in a
# container cgroup below it) connects through VIPs; the tracer must show each
# translation with its verdict, VIP, backend, process and pod, honour its filters, and
# leave tracing off when it exits, also when it is killed -9.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SYNCD=$TL_BUILD/socklb-syncd
UID_=5f0c1d2e-3a4b-4c5d-8e9f-0123456789ab
CID=c0ffee0123456789
POD_CG=$TL_CG/kubepods/besteffort/pod$UID_
CTR_CG=$POD_CG/ctr1

tl_pod client 10.244.0.2/24
for i in 1 2; do
	tl_pod web$i 10.244.0.1$i/24
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
	tl_pod dns$i 10.244.0.2$i/24
	tl_bg_in_pod dns$i "$P" server udp 0.0.0.0 5353 dns$i
done
mkdir -p "$CTR_CG"

# The client runs in the container cgroup, in the client pod's netns.
client() {
	bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"' _ "$CTR_CG" "$(tl_pod_ns client)" "$@"
}

# The process in text lines, unless this kernel's hooks cannot ask for the current task (status says).
PROCESS="-"
"$SYNCD" status 2>/dev/null | grep -q "^current task .*pid and comm" && PROCESS="[0-9]+/slb-probe"

tl_check "programs load" "$CTL" load "$TL_BPFFS"
tl_check "links attach to the pod cgroup kubepods/besteffort/pod<uid>" "$CTL" attach "$TL_BPFFS" "$POD_CG" "$CID"
"$CTL" svc "$TL_BPFFS" 10.96.0.10 80 tcp 0 10.244.0.11:8080 10.244.0.12:8080
"$CTL" svc "$TL_BPFFS" 10.96.0.53 53 udp 0 10.244.0.21:5353 10.244.0.22:5353
"$CTL" svc "$TL_BPFFS" 10.96.0.30 80 tcp 0
"$CTL" svc "$TL_BPFFS" 10.96.0.20 80 tcp 60 10.244.0.11:8080 10.244.0.12:8080
tl_wait_tcp client 10.244.0.12 8080 || tl_not_ok "backends did not start"

out=$("$CTL" trace-state "$TL_BPFFS")
tl_check "before any tracer, tracing is off ($out)" test "$out" = off

# trace_start NAME ARGS...: a tracer in the background, output in $TL_TMP/NAME.out; waits until it traces.
trace_start() {
	local name=$1 i
	shift
	: >"$TL_TMP/$name.err"
	"$SYNCD" trace --bpffs-root "$TL_BPFFS" "$@" >"$TL_TMP/$name.out" 2>"$TL_TMP/$name.err" &
	TRACER=$!
	TL_PIDS+=("$TRACER")
	for i in $(seq 100); do
		grep -q "tracing the translations" "$TL_TMP/$name.err" && return 0
		kill -0 "$TRACER" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/# /' "$TL_TMP/$name.err"
	return 1
}

# trace_stop: SIGINT, as Ctrl-C; its exit status (not in a subshell: the tracer is this shell's child).
trace_stop() {
	kill -INT "$TRACER"
	wait "$TRACER"
}

# --- every verdict, in JSON --------------------------------------------------
trace_start all --json || tl_not_ok "the tracer did not start"
# (this one writes its pid: the pid slb-probe runs as, once ip netns exec has forked)
client bash -c 'echo $$ >"$0" && exec "$@"' "$TL_TMP/web.pid" "$P" tcp 10.96.0.10 80 >/dev/null
WEB_CLIENT=$(cat "$TL_TMP/web.pid")
client "$P" udpc 10.96.0.53 53 1 >/dev/null
client "$P" udp 10.96.0.53 53 3 >/dev/null
client "$P" tcp 10.96.0.30 80 >/dev/null
client "$P" tcp 10.96.0.20 80 3 >/dev/null
sleep 0.5
trace_stop
rc=$?
tl_check "the tracer exits 0 on SIGINT (exit $rc)" test "$rc" = 0
tl_diag "$(wc -l <"$TL_TMP/all.out") events, e.g.: $(head -1 "$TL_TMP/all.out")"

# expect HOOK VERDICT SERVICE BACKENDS COUNT: exactly COUNT such events, each from our pod.
expect() {
	python3 - "$TL_TMP/all.out" "$@" "$UID_" "$CID/eth0" <<'EOF'
import json, sys
path, hook, verdict, service, backends, count, uid, attachment = sys.argv[1:]
events = [json.loads(l) for l in open(path)]
backends = None if backends == "null" else backends.split(",")
got = [e for e in events if e["hook"] == hook and e["verdict"] == verdict and e["service"] == service]
bad = [e for e in got if (backends is None and e["backend"] is not None)
       or (backends is not None and e["backend"] not in backends)
       or not e["pod"] or e["pod"].get("uid") != uid or e["pod"]["attachment"] != attachment
       or not e["pod"]["cgroup"].endswith("/kubepods/besteffort/pod" + uid)]
if len(got) != int(count) or bad:
    print(f"{len(got)} events (want {count}), wrong: {bad[:2]}")
    sys.exit(1)
EOF
}
WEB=10.244.0.11:8080,10.244.0.12:8080
DNS=10.244.0.21:5353,10.244.0.22:5353
# processes: every event names slb-probe (the clients: client() execs it in place), the first
# connect the pid of its client, as the node sees it.
processes() {
	python3 - "$TL_TMP/all.out" "$WEB_CLIENT" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
bad = [e for e in events if not e["process"] or e["process"]["comm"] != "slb-probe" or e["process"]["pid"] <= 0]
web = [e["process"]["pid"] for e in events if e["hook"] == "connect" and e["service"] == "10.96.0.10:80" and e["process"]]
if bad or web != [int(sys.argv[2])]:
    print(f"{len(bad)} events without slb-probe, e.g. {bad[:1]}; the 10.96.0.10:80 connect's pid {web}, want [{sys.argv[2]}]")
    sys.exit(1)
EOF
}
if [ "$PROCESS" != - ]; then
	tl_check "each event names its process (pid and comm; the first connect's pid is its client's)" processes
else
	tl_ok "each event names its process # SKIP the kernel's cgroup/connect programs cannot ask for the current task"
fi
tl_check "TCP: the connect is translated to a backend, with the pod's UID and attachment" \
	expect connect translated 10.96.0.10:80 "$WEB" 1
tl_check "TCP: getpeername is reverse-translated" expect getpeername reverse-translated 10.96.0.10:80 "$WEB" 1
tl_check "connected UDP: the connect is translated" expect connect translated 10.96.0.53:53 "$DNS" 1
tl_check "unconnected UDP: the first datagram is translated" expect sendmsg translated 10.96.0.53:53 "$DNS" 1
tl_check "unconnected UDP: the next two keep the socket's backend (sticky-udp)" \
	expect sendmsg sticky-udp 10.96.0.53:53 "$DNS" 2
tl_check "UDP replies are reverse-translated (1 connected + 3 unconnected)" \
	expect recvmsg reverse-translated 10.96.0.53:53 "$DNS" 4
tl_check "a service without endpoints: refused-no-endpoints, no backend" \
	expect connect refused-no-endpoints 10.96.0.30:80 null 1
tl_check "affinity: the first connect chooses" expect connect translated 10.96.0.20:80 "$WEB" 1
tl_check "affinity: the next two follow the client's affinity entry (affinity-hit)" \
	expect connect affinity-hit 10.96.0.20:80 "$WEB" 2
out=$("$CTL" trace-state "$TL_BPFFS")
tl_check "after the tracer exits, tracing is off ($out)" test "$out" = off

# --- filters, and text output -------------------------------------------------
trace_start svc --service 10.96.0.30:80 --count 1 || tl_not_ok "the filtered tracer did not start"
client "$P" tcp 10.96.0.10 80 >/dev/null
client "$P" tcp 10.96.0.30 80 >/dev/null
wait "$TRACER"
tl_diag "$(cat "$TL_TMP/svc.out")"
tl_check "--service and --count: one line, the refused connect, with a header" \
	bash -c '[ "$(wc -l <"$1")" = 2 ] && grep -Eq "^TIME +HOOK" "$1" &&
		grep -Eq "connect +TCP +10.96.0.30:80 +- +refused-no-endpoints +$4 +$2 \($3\)$" "$1"' \
	_ "$TL_TMP/svc.out" "$UID_" "$CID/eth0" "$PROCESS"

trace_start verdict --json --verdict affinity-hit,refused-no-endpoints --pod "${CID:0:6}" ||
	tl_not_ok "the verdict-filtered tracer did not start"
client "$P" tcp 10.96.0.10 80 >/dev/null
client "$P" tcp 10.96.0.20 80 2 >/dev/null
client "$P" tcp 10.96.0.30 80 >/dev/null
sleep 0.5
trace_stop
tl_check "--verdict and --pod (a container id prefix): only affinity-hit and refused events" \
	bash -c '[ "$(grep -c "\"verdict\":\"affinity-hit\"" "$1")" = 2 ] &&
		[ "$(grep -c "\"verdict\":\"refused-no-endpoints\"" "$1")" = 1 ] && [ "$(wc -l <"$1")" = 3 ]' \
	_ "$TL_TMP/verdict.out"

trace_start other --json --pod 00000000-0000-0000-0000-000000000000 || tl_not_ok "the pod-filtered tracer did not start"
client "$P" tcp 10.96.0.10 80 >/dev/null
sleep 0.5
trace_stop
tl_check "--pod with another pod's UID: nothing" test ! -s "$TL_TMP/other.out"

tl_check "a bad --verdict is refused with the list of verdicts" \
	bash -c '"$1" trace --bpffs-root "$2" --verdict fast 2>&1 | grep -q "expected translated, refused-no-endpoints"' \
	_ "$SYNCD" "$TL_BPFFS"
"$SYNCD" trace --bpffs-root "$TL_BPFFS" --verdict fast >/dev/null 2>&1
tl_check "a bad --verdict exits 2" test $? = 2

# --- one tracer at a time ---------------------------------------------------
trace_start first --json || tl_not_ok "the first tracer did not start"
out=$("$SYNCD" trace --bpffs-root "$TL_BPFFS" 2>&1)
rc=$?
tl_check "a second tracer is refused while one runs (exit $rc)" \
	bash -c '[ "$1" = 1 ] && grep -q "another socklb-syncd trace is running" <<<"$2"' _ "$rc" "$out"
out=$("$CTL" trace-state "$TL_BPFFS")
tl_check "the first tracer's tracing stays on ($out)" grep -q "^on " <<<"$out"

# --- killed -9: tracing lapses by itself ---------------------------------------
kill -9 "$TRACER"
wait "$TRACER" 2>/dev/null
out=$("$CTL" trace-state "$TL_BPFFS")
tl_diag "right after kill -9: $out"
lapsed() {
	local i
	for i in $(seq 70); do
		grep -q "^expired" <<<"$("$CTL" trace-state "$TL_BPFFS")" && return 0
		sleep 0.1
	done
	return 1
}
t0=$(date +%s%N)
tl_check "after kill -9, the deadline lapses within 6 s (the tracer's TTL is 5 s)" lapsed
tl_diag "lapsed $((($(date +%s%N) - t0) / 1000000)) ms after the kill"
"$CTL" trace-drain "$TL_BPFFS" >/dev/null
client "$P" tcp 10.96.0.10 80 3 >/dev/null
client "$P" udp 10.96.0.53 53 2 >/dev/null
out=$("$CTL" trace-drain "$TL_BPFFS")
tl_check "after the lapse, translations emit no event ($out)" test "$out" = "events 0"

# A tracer that exited: same, at once.
trace_start last || tl_not_ok "the last tracer did not start"
trace_stop
client "$P" tcp 10.96.0.10 80 3 >/dev/null
out=$("$CTL" trace-drain "$TL_BPFFS")
tl_check "after a tracer exits, translations emit no event ($out)" test "$out" = "events 0"

tl_finish

#!/usr/bin/env bash
# The API source misbehaves while a client pod connects to a ClusterIP in a
# loop (README.md invariant 2). socklb-syncd watches the test API server
# (test/apiserver/) through a TCP relay this test can take down (on a port
# the kernel picked, which the relay keeps while it is down). In turn:
# watches dropped, in-stream ERROR 410, HTTP 410 after a compaction, a
# connection cut in the middle of an event, a watch stalled without
# bookmarks, the token rotated (401), and the server unreachable for 30 s.
# During each the maps keep the last good state (not one failed connection)
# and after each a change made meanwhile reaches the maps.
source "$(dirname "$0")/../lib.sh"
tl_init
tl_bridge

APISERVER=$TL_ROOT/test/apiserver
P=$TL_TOOLS/slb-probe
CTL=$TL_TOOLS/slb-testctl
SYNCD=$TL_BUILD/socklb-syncd
PORTS=$TL_TMP/ports
PKI=$TL_TMP/pki
LOG=$TL_TMP/syncd.log
DOWN_S=${FAULT_DOWN_S:-30}
VIP=10.96.0.10
# A second service whose backends each step changes: the maps show when the daemon caught up.
MARK_VIP=10.96.0.99

ctl() { python3 "$APISERVER/apictl.py" "$PORTS" "$@"; }
post() { ctl post "$@" >/dev/null; }

tl_pod client 10.244.0.2/24
for i in 1 2; do
	tl_pod web$i 10.244.0.1$i/24
	tl_bg_in_pod web$i "$P" server tcp 0.0.0.0 8080 web$i
done
tl_check "programs load, links attach to the client pod" bash -c \
	"'$CTL' load '$TL_BPFFS' && '$CTL' attach '$TL_BPFFS' '$(tl_pod_cgroup client)' client"

# --- the API server, behind a relay that can go down -------------------------------
bash "$APISERVER/gen-certs.sh" "$PKI" || {
	tl_not_ok "make the test CA and certificates"
	tl_finish
}
echo token-1 >"$TL_TMP/token"
python3 "$APISERVER/apiserver.py" --cert "$PKI/server.pem" --key "$PKI/server.key" --token-file "$TL_TMP/token" \
	--ports-file "$PORTS" 2>"$TL_TMP/apiserver.log" &
TL_PIDS+=($!)
ctl wait-ports >/dev/null || {
	tl_not_ok "start the test API server"
	tl_finish
}
API_PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$PORTS")
cat >"$TL_TMP/relay.py" <<'EOF'
# relay.py PORT_FILE TARGET_PORT: TCP on 127.0.0.1, both ways, on a port the kernel picks
# (written to PORT_FILE once listening). SIGUSR1: down (every connection cut, nothing
# listens: connects are refused); SIGUSR2: up again, on the same port.
import os, signal, socket, sys, threading, time

conns, lock = set(), threading.Lock()

def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    with lock:
        conns.discard(a)

def down(*_):
    listener.shutdown(socket.SHUT_RDWR)
    with lock:
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def up(*_):
    listener.listen(64)

# Port 0 lets the kernel pick a free port; binding that number again on the listener keeps
# it ours while nothing listens (a socket bound to port 0 gives its port back when it stops).
picker = socket.socket()
picker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
picker.bind(("127.0.0.1", 0))
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(picker.getsockname())
picker.close()
listener.listen(64)
signal.signal(signal.SIGUSR1, down)
signal.signal(signal.SIGUSR2, up)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    try:
        client, _ = listener.accept()
    except OSError:
        time.sleep(0.05)  # down: nothing listens
        continue
    try:
        upstream = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    except OSError:
        client.close()
        continue
    with lock:
        conns.update((client, upstream))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
EOF
python3 "$TL_TMP/relay.py" "$TL_TMP/relay.port" "$API_PORT" 2>>"$TL_TMP/relay.log" &
RELAY=$!
TL_PIDS+=("$RELAY")
for _ in $(seq 100); do [ -s "$TL_TMP/relay.port" ] && break; sleep 0.05; done
RELAY_PORT=$(cat "$TL_TMP/relay.port" 2>/dev/null)
[ -n "$RELAY_PORT" ] || {
	tl_not_ok "start the relay in front of the test API server"
	tl_finish
}
relay_listens() { (exec 3<>"/dev/tcp/127.0.0.1/$RELAY_PORT") 2>/dev/null; }
# relay_down / relay_up: each returns once connects are refused / accepted again (max 5 s).
relay_down() {
	kill -USR1 "$RELAY"
	for _ in $(seq 100); do relay_listens || return 0; sleep 0.05; done
	return 1
}
relay_up() {
	kill -USR2 "$RELAY"
	for _ in $(seq 100); do relay_listens && return 0; sleep 0.05; done
	return 1
}

# --- objects ---------------------------------------------------------------------------
# slice NAME SERVICE ADDR...
slice() {
	local name=$1 svc=$2 eps="" a
	shift 2
	for a in "$@"; do eps+="${eps:+,}{\"addresses\":[\"$a\"],\"conditions\":{\"ready\":true}}"; done
	printf '{"metadata":{"name":"%s","namespace":"default","labels":{"kubernetes.io/service-name":"%s"}},
	 "addressType":"IPv4","ports":[{"name":"","protocol":"TCP","port":8080}],"endpoints":[%s]}' "$name" "$svc" "$eps"
}
service() {
	printf '{"metadata":{"name":"%s","namespace":"default"},"spec":{"type":"ClusterIP","clusterIP":"%s",
	 "ports":[{"protocol":"TCP","port":80,"targetPort":8080}]}}' "$1" "$2"
}
post /replace/services "[$(service web $VIP),$(service mark $MARK_VIP)]"
post /replace/endpointslices "[$(slice web-1 web 10.244.0.11 10.244.0.12),$(slice mark-1 mark 192.0.2.0)]"
post /replace/namespaces '[{"metadata":{"name":"default"}}]'
post /replace/nodes '[{"metadata":{"name":"n1"}}]'

cat >"$TL_TMP/kubeconfig.json" <<EOF
{"apiVersion": "v1", "kind": "Config", "current-context": "t",
 "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u"}}],
 "clusters": [{"name": "t", "cluster": {"server": "https://127.0.0.1:$RELAY_PORT",
   "certificate-authority-data": "$(base64 -w0 "$PKI/ca.pem")"}}],
 "users": [{"name": "u", "user": {"tokenFile": "$TL_TMP/token"}}]}
EOF
"$SYNCD" --source kubernetes --kubeconfig "$TL_TMP/kubeconfig.json" --node-name n1 --bpffs-root "$TL_BPFFS" \
	--metrics-addr "" 2>"$LOG" &
DAEMON=$!
TL_PIDS+=("$DAEMON")

# mark_is N: the mark service's backend is 192.0.2.N (the last change reached the maps)
mark_is() { "$SYNCD" dump --bpffs-root "$TL_BPFFS" 2>/dev/null | grep -q "^$MARK_VIP:80 .*192\.0\.2\.$1:8080"; }
web_is() { "$SYNCD" dump --bpffs-root "$TL_BPFFS" 2>/dev/null | grep -q "^$VIP:80 .*$1"; }
wait_for() {
	local tenths=$1 i
	shift
	for i in $(seq "$tenths"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
MARK=0
# next_mark [silent]: change the mark service's backend, through a watch event or silently (only a relist sees it)
next_mark() {
	MARK=$((MARK + 1))
	post "/apply/endpointslices${1:+?silent=1}" "$(slice mark-1 mark 192.0.2.$MARK)"
}
converged() {
	local desc=$1 t0
	t0=$(date +%s%3N)
	if wait_for "${2:-150}" mark_is "$MARK"; then
		tl_ok "$desc: the maps converge ($(($(date +%s%3N) - t0)) ms)"
	else
		tl_not_ok "$desc: the maps converge"
		tail -5 "$LOG" | sed 's/^/#   /'
	fi
}

tl_check "initial list: the maps hold both services" wait_for 100 mark_is 0
tl_check "the daemon watches every kind" ctl wait-watching
tl_wait_tcp client 10.244.0.12 8080 || tl_not_ok "backends did not start"
tl_loop_start client "$VIP" 80

post /drop '{}'
next_mark
converged "watches dropped"
ctl wait-watching >/dev/null

next_mark silent
post /watch-error '{"resource":"endpointslices","code":410,"message":"too old resource version"}'
converged "in-stream ERROR 410 (relist)"
ctl wait-watching >/dev/null

next_mark silent
post /compact '{"mode":"http"}'
post /drop '{}'
converged "HTTP 410 after a compaction (relist)"
ctl wait-watching >/dev/null

post /drop '{"partial":true}'
next_mark
converged "a connection cut in the middle of an event"
ctl wait-watching >/dev/null

# web goes down to one backend and back, through the events: both stay live
post /apply/endpointslices "$(slice web-1 web 10.244.0.11)"
tl_check "web scaled to one backend" wait_for 100 web_is '10.244.0.11:8080$' 
post /apply/endpointslices "$(slice web-1 web 10.244.0.11 10.244.0.12)"
tl_check "web back to two backends" wait_for 100 web_is '10.244.0.11:8080,10.244.0.12:8080' 

# A stalled watch: the connection stays, nothing comes. The daemon's dead-watch
# timer (watch timeout + 30 s, i.e. minutes, with no flag to shorten it) is
# not waited for here; the maps must keep their state while it lasts and
# converge once the connection goes. A stalled watch of the test server
# ignores /drop: the relay cuts it.
post /stall '{}'
next_mark
sleep 5
tl_check "stalled watches: the maps keep the last good state" mark_is $((MARK - 1))
tl_check "stalled watches: the daemon is alive" kill -0 "$DAEMON"
tl_check "the relay cuts every connection" relay_down
tl_check "the relay is back on its port" relay_up
converged "after the stalled connections were cut"
ctl wait-watching >/dev/null

echo token-2 >"$TL_TMP/token"
post /token '{"token":"token-2"}'
post /drop '{}'
next_mark
converged "token rotated (401, the file re-read)"
ctl wait-watching >/dev/null

# The API server unreachable: the relay goes, every connection with it.
tl_check "the relay cuts every connection and refuses new ones" relay_down
next_mark
post /apply/endpointslices "$(slice web-1 web 10.244.0.12)"
sleep "$DOWN_S"
tl_check "server down ${DOWN_S} s: the maps kept the last good state" mark_is $((MARK - 1))
tl_check "server down ${DOWN_S} s: web kept both backends" web_is '10.244.0.11:8080,10.244.0.12:8080'
tl_check "server down ${DOWN_S} s: the daemon is alive" kill -0 "$DAEMON"
tl_check "the relay is back on its port" relay_up
converged "server back after ${DOWN_S} s" 250
tl_check "server back: web follows the change made while it was down" wait_for 100 web_is '10.244.0.12:8080$'

tl_loop_check "through 7 API faults"
tl_diag "daemon: $(grep -c ' warn: ' "$LOG") warnings, $(grep -c ' error: ' "$LOG") errors logged"
tl_finish

#!/usr/bin/env bash
# The daemon trusts only the API server its configuration names, and keeps
# its secrets out of its logs. Against the test API server (test/apiserver/,
# a CA made here):
#   - a kubeconfig trusting another CA and one trusting no CA (the
#     system's): the daemon refuses the server's certificate, says so, and
#     writes nothing to the maps; insecure-skip-tls-verify is honoured only
#     with a warning, and refused beside a CA;
#   - an http:// server is refused before any connection;
#   - with -v, through a 401 and a token rotation, neither token (inline or
#     from a file) nor the client key appears in its logs or on /metrics.
source "$(dirname "$0")/../lib.sh"
tl_init

APISERVER=$TL_ROOT/test/apiserver
FIXTURES=$TL_ROOT/test/fixtures/kube
SYNCD=$TL_BUILD/socklb-syncd
PORTS=$TL_TMP/ports
PKI=$TL_TMP/pki
# Recognisable secrets: a match anywhere in a log is a leak.
TOKEN1=sEcReT1-$TL_ID-$RANDOM$RANDOM
TOKEN2=sEcReT2-$TL_ID-$RANDOM$RANDOM

ctl() { python3 "$APISERVER/apictl.py" "$PORTS" "$@"; }
b64() { base64 -w0 "$1"; }
count() {
	"$SYNCD" dump --json --bpffs-root "$1" 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["services"]))' 2>/dev/null || echo 0
}
# kubeconfig OUT CLUSTER_JSON USER_JSON
kubeconfig() {
	cat >"$1" <<EOF
{"apiVersion": "v1", "kind": "Config", "current-context": "t",
 "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u"}}],
 "clusters": [{"name": "t", "cluster": $2}],
 "users": [{"name": "u", "user": $3}]}
EOF
}

if ! bash "$APISERVER/gen-certs.sh" "$PKI"; then
	tl_not_ok "make the test CA and certificates"
	tl_finish
fi
echo "$TOKEN1" >"$TL_TMP/token"
python3 "$APISERVER/apiserver.py" --cert "$PKI/server.pem" --key "$PKI/server.key" --client-ca "$PKI/ca.pem" \
	--token-file "$TL_TMP/token" --ports-file "$PORTS" 2>"$TL_TMP/apiserver.log" &
TL_PIDS+=($!)
if ! ctl wait-ports >/dev/null; then
	tl_not_ok "start the test API server"
	tl_finish
fi
for r in services endpointslices namespaces nodes; do
	ctl post "/replace/$r" "@$FIXTURES/$r.json" >/dev/null
done
API=https://127.0.0.1:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$PORTS")
TOKEN_USER="{\"token\": \"$TOKEN1\"}"

# once ROOT KUBECONFIG [SECONDS]: one --once run with -v; its log in $TL_TMP/once.log, exit status in RC.
once() {
	timeout "${3:-60}" "$SYNCD" --source kubernetes --kubeconfig "$2" --node-name n1 --bpffs-root "$1" \
		--metrics-addr "" --once -v >"$TL_TMP/once.out" 2>"$TL_TMP/once.log"
	RC=$?
}
# refused DESC NAME [SECONDS]: --once with $TL_TMP/NAME.json fails on the certificate, says so, writes nothing.
refused() {
	local desc=$1 root=$TL_BPFFS/$2 why
	once "$root" "$TL_TMP/$2.json" "${3:-8}"
	why=$(grep -m1 -iE 'SSL certificate problem|certificate verify' "$TL_TMP/once.log" |
		sed 's/.*: \(list\|watch\)/\1/' | cut -c1-120)
	tl_check "$desc: --once does not sync (status $RC)" test "$RC" -ne 0
	tl_check "$desc: the log says the certificate was refused ($why)" test -n "$why"
	tl_check "$desc: nothing written to the maps" test "$(count "$root")" = 0
}

kubeconfig "$TL_TMP/other-ca.json" "{\"server\": \"$API\", \"certificate-authority-data\": \"$(b64 "$PKI/other-ca.pem")\"}" "$TOKEN_USER"
# --once gives the initial lists 60 s (ONCE_LIST_TIMEOUT_MS), then fails by itself.
t0=$(date +%s)
refused "a CA that did not sign the server" other-ca 75
tl_check "--once gives up by itself on a refused certificate (status $RC after $(($(date +%s) - t0)) s; 124 = still retrying)" \
	test "$RC" -ne 124
kubeconfig "$TL_TMP/system-ca.json" "{\"server\": \"$API\"}" "$TOKEN_USER"
refused "no CA configured (the system's CAs)" system-ca
# insecure-skip-tls-verify is honoured, as kubectl does, but never quietly
kubeconfig "$TL_TMP/insecure.json" "{\"server\": \"$API\", \"insecure-skip-tls-verify\": true}" "$TOKEN_USER"
once "$TL_BPFFS/insecure" "$TL_TMP/insecure.json"
tl_check "insecure-skip-tls-verify: true: --once syncs without verifying (status $RC)" test "$RC" = 0
tl_check "insecure-skip-tls-verify: the log warns that the certificate is NOT verified" \
	grep -q 'warn: .*insecure-skip-tls-verify is true: the API server.s certificate is NOT verified' "$TL_TMP/once.log"
kubeconfig "$TL_TMP/insecure-ca.json" "{\"server\": \"$API\", \"insecure-skip-tls-verify\": true,
	\"certificate-authority-data\": \"$(b64 "$PKI/ca.pem")\"}" "$TOKEN_USER"
once "$TL_BPFFS/insecure-ca" "$TL_TMP/insecure-ca.json"
tl_check "insecure-skip-tls-verify with a CA is refused, naming both (status $RC)" \
	grep -q 'has both insecure-skip-tls-verify and certificate-authority-data' "$TL_TMP/once.log"

kubeconfig "$TL_TMP/http.json" "{\"server\": \"${API/https/http}\", \"certificate-authority-data\": \"$(b64 "$PKI/ca.pem")\"}" "$TOKEN_USER"
once "$TL_BPFFS/http" "$TL_TMP/http.json"
tl_check "an http:// server is refused (status $RC: $(grep -m1 -o 'must be an https.*' "$TL_TMP/once.log"))" \
	grep -q 'https://' "$TL_TMP/once.log"
tl_check "... and nothing is written to the maps" test "$(count "$TL_BPFFS/http")" = 0

# control: the right CA works
kubeconfig "$TL_TMP/good.json" "{\"server\": \"$API\", \"certificate-authority-data\": \"$(b64 "$PKI/ca.pem")\"}" "$TOKEN_USER"
once "$TL_BPFFS/good" "$TL_TMP/good.json"
tl_check "control: with the cluster's CA --once syncs (status $RC, $(count "$TL_BPFFS/good") frontends)" \
	test "$RC" = 0 -a "$(count "$TL_BPFFS/good")" -gt 0
cat "$TL_TMP/once.log" >"$TL_TMP/all.log"

# Secrets at -v: an inline client key, a token file that rotates, a 401 on the way.
kubeconfig "$TL_TMP/cert.json" "{\"server\": \"$API\", \"certificate-authority-data\": \"$(b64 "$PKI/ca.pem")\"}" \
	"{\"client-certificate-data\": \"$(b64 "$PKI/client.pem")\", \"client-key-data\": \"$(b64 "$PKI/client.key")\"}"
once "$TL_BPFFS/cert" "$TL_TMP/cert.json"
tl_check "client certificate: --once syncs (status $RC)" test "$RC" = 0
cat "$TL_TMP/once.log" >>"$TL_TMP/all.log"

kubeconfig "$TL_TMP/tokenfile.json" "{\"server\": \"$API\", \"certificate-authority-data\": \"$(b64 "$PKI/ca.pem")\"}" \
	"{\"tokenFile\": \"$TL_TMP/token\"}"
"$SYNCD" --source kubernetes --kubeconfig "$TL_TMP/tokenfile.json" --node-name n1 --bpffs-root "$TL_BPFFS/daemon" \
	--metrics-addr 127.0.0.1:0 -v 2>"$TL_TMP/daemon.log" &
DAEMON=$!
TL_PIDS+=("$DAEMON")
ctl wait-watching >/dev/null
echo "$TOKEN2" >"$TL_TMP/token"
ctl post /token "{\"token\": \"$TOKEN2\"}" >/dev/null
ctl post /drop '{}' >/dev/null
ctl post /apply/services '{"metadata":{"name":"late","namespace":"default"},"spec":{"clusterIP":"10.96.0.77","ports":[{"port":80}]}}' >/dev/null
synced_late() { "$SYNCD" dump --bpffs-root "$TL_BPFFS/daemon" | grep -q '^10.96.0.77:80'; }
for _ in $(seq 100); do synced_late && break; sleep 0.1; done
tl_check "token rotation with a 401: the daemon re-reads the file and syncs" synced_late
curl -s -m 2 "http://127.0.0.1:$(tl_metrics_port "$TL_TMP/daemon.log")/metrics" >"$TL_TMP/metrics"
kill "$DAEMON"
wait "$DAEMON" 2>/dev/null
cat "$TL_TMP/daemon.log" >>"$TL_TMP/all.log"

tl_diag "logs checked: $(wc -l <"$TL_TMP/all.log") lines at -v ($(grep -c ' debug: ' "$TL_TMP/all.log") debug)"
tl_check "the daemon logged the 401" grep -q '401' "$TL_TMP/daemon.log"
KEY_LINE=$(sed -n 2p "$PKI/client.key")
for secret in "$TOKEN1" "$TOKEN2" "$KEY_LINE" "$(b64 "$PKI/client.key" | cut -c1-40)"; do
	tl_check "no secret (${secret:0:8}…) in the logs" bash -c "! grep -qF -- '$secret' '$TL_TMP/all.log'"
done
tl_check "no secret on /metrics" bash -c "! grep -qF -e '$TOKEN1' -e '$TOKEN2' '$TL_TMP/metrics'"
tl_check "no Authorization header in the logs" bash -c "! grep -qi 'authorization' '$TL_TMP/all.log'"
tl_finish

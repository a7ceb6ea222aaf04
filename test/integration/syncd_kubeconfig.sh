#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# socklb-syncd --source kubernetes --kubeconfig F, F in YAML as `kubectl config`
# writes it, against the test API server (test/apiserver/): a token, client
# certificate files, a proxy-url (an HTTP CONNECT proxy made here), a
# tls-server-name (alone and through the proxy), and exec
# credential plugins (test/apiserver/exec-credential-helper stands in for a
# cloud's helper and records each run): v1beta1 returning a client
# certificate; v1 returning expiring tokens, re-run before they expire and
# after a 401. Errors name the missing plugin's installHint and an unsupported
# auth-provider. When kubectl is installed, it must write the same files.
# Root: real maps.
source "$(dirname "$0")/../lib.sh"
tl_init

APISERVER=$TL_ROOT/test/apiserver
HELPER=$APISERVER/exec-credential-helper
FIXTURES=$TL_ROOT/test/fixtures/kube
SYNCD=$TL_BUILD/socklb-syncd
PKI=$TL_TMP/pki
HELPER_DIR=$TL_TMP/helper
PORTS=$HELPER_DIR/ports
SYNCD_LOG=$TL_TMP/syncd.log
SYNCD_PID=

ctl() {
	python3 "$APISERVER/apictl.py" "$PORTS" "$@"
}

post() {
	ctl post "$@" >/dev/null
}

dump() {
	"$SYNCD" dump --json --bpffs-root "$TL_BPFFS"
}

# wait_maps EXPECTED: until the dump holds exactly EXPECTED ("frontend protocol backend,…" lines), at most 10 s.
wait_maps() {
	local expected got i
	expected=$(printf '%s\n' "$1" | sed '/^$/d' | sort)
	for i in $(seq 100); do
		got=$(dump 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    print("%s %s %s" % (s["frontend"], s["protocol"], ",".join(sorted(s["backends"]))))' | sort) || got="(no dump)"
		[ "$got" = "$expected" ] && return 0
		sleep 0.1
	done
	printf 'expected:\n%s\npinned:\n%s\ndaemon log:\n' "$expected" "$got"
	tail -n 15 "$SYNCD_LOG"
	return 1
}

# requests_by AUTH: API requests the server authenticated as AUTH (token, certificate, refused) so far.
requests_by() {
	ctl get /requests | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r.get("auth") == sys.argv[1]))' "$1"
}

# only_auth AUTH: every API request so far was authenticated as AUTH (and there was one).
only_auth() {
	ctl get /requests | python3 -c '
import json, sys
auths = [r.get("auth") for r in json.load(sys.stdin)]
sys.exit(0 if auths and set(auths) == {sys.argv[1]} else "requests authenticated as %s" % sorted(set(auths)))' "$1"
}

helper_calls() {
	wc -l <"$HELPER_DIR/calls" 2>/dev/null || echo 0
}

wait_for() {
	local i
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

at_least() {
	[ "$("${@:2}")" -ge "$1" ]
}

equals() {
	[ "$("${@:2}")" = "$1" ]
}

daemon_alive() {
	kill -0 "$SYNCD_PID" 2>/dev/null
}

once() {
	timeout 60 "$SYNCD" --source kubernetes --kubeconfig "$1" --node-name n1 --bpffs-root "$TL_BPFFS" \
		--metrics-addr "" --once
}

# write_kubeconfig FILE USER [PROXY [TLS_NAME]]: the kubeconfig `kubectl config set-cluster test
# --server=$SERVER --certificate-authority=ca.pem [--proxy-url=PROXY] [--tls-server-name=TLS_NAME];
# set-credentials socklb-syncd ...; set-context test --cluster=test --user=socklb-syncd; use-context test`
# writes (kubectl v1.32: keys sorted, lists at the key's indentation), with USER the lines under `user:`.
# Checked against kubectl itself below when it is installed.
write_kubeconfig() {
	cat >"$PKI/$1" <<EOF
apiVersion: v1
clusters:
- cluster:
    certificate-authority: ca.pem${3:+
    proxy-url: $3}
    server: $SERVER${4:+
    tls-server-name: $4}
  name: test
contexts:
- context:
    cluster: test
    user: socklb-syncd
  name: test
current-context: test
kind: Config
preferences: {}
users:
- name: socklb-syncd
  user:
$2
EOF
}

# kubectl_kubeconfig FILE [--proxy-url=URL] [--tls-server-name=NAME] CREDENTIAL-FLAGS...: the same file
# written by kubectl
kubectl_kubeconfig() {
	local f=$1 cluster=()
	shift
	while case "${1:-}" in --proxy-url=* | --tls-server-name=*) true ;; *) false ;; esac do
		cluster+=("$1")
		shift
	done
	(
		cd "$PKI/kubectl" &&
			KUBECONFIG=/dev/null kubectl config set-cluster test --server="$SERVER" \
				--certificate-authority=ca.pem "${cluster[@]}" --kubeconfig "$f" &&
			KUBECONFIG=/dev/null kubectl config set-credentials socklb-syncd "$@" --kubeconfig "$f" &&
			KUBECONFIG=/dev/null kubectl config set-context test --cluster=test --user=socklb-syncd \
				--kubeconfig "$f" &&
			KUBECONFIG=/dev/null kubectl config use-context test --kubeconfig "$f"
	) >/dev/null
}

EXEC_V1="    exec:
      apiVersion: client.authentication.k8s.io/v1
      args:
      - token
      command: $HELPER
      env:
      - name: HELPER_DIR
        value: $HELPER_DIR
      interactiveMode: Never
      provideClusterInfo: true"
EXEC_V1BETA1_CERT="    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - cert
      command: $HELPER
      env:
      - name: HELPER_DIR
        value: $HELPER_DIR
      interactiveMode: IfAvailable
      provideClusterInfo: false"

BASE="10.96.0.10:80 TCP 10.244.1.5:8080,10.244.2.7:8080
10.96.0.53:53 UDP 10.244.1.3:53
10.96.0.53:53 TCP 10.244.1.3:53
10.96.0.20:5432 TCP 10.244.2.9:5432"
NO_DB=$(printf '%s\n' "$BASE" | grep -v 10.96.0.20)

# --- the test API server -----------------------------------------------------
mkdir -p "$HELPER_DIR"
if ! bash "$APISERVER/gen-certs.sh" "$PKI"; then
	tl_not_ok "make the test CA and certificates"
	tl_finish
fi
cp "$PKI/client.pem" "$PKI/client.key" "$HELPER_DIR/"
echo token-1 >"$TL_TMP/token"
python3 "$APISERVER/apiserver.py" --cert "$PKI/server.pem" --key "$PKI/server.key" --client-ca "$PKI/ca.pem" \
	--token-file "$TL_TMP/token" --ports-file "$PORTS" 2>"$TL_TMP/apiserver.log" &
TL_PIDS+=($!)
if ! ctl wait-ports >/dev/null; then
	tl_not_ok "start the test API server"
	tl_finish
fi
for r in services endpointslices namespaces nodes; do
	post "/replace/$r" "@$FIXTURES/$r.json"
done
SERVER=https://127.0.0.1:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$PORTS")

write_kubeconfig token.yaml "    token: token-1"
write_kubeconfig certs.yaml "    client-certificate: client.pem
    client-key: client.key"
write_kubeconfig exec.yaml "$EXEC_V1"
write_kubeconfig exec-cert.yaml "$EXEC_V1BETA1_CERT"

# An HTTP CONNECT proxy that logs where it was asked to go.
python3 - "$TL_TMP/proxy.port" "$TL_TMP/proxy.log" <<'PROXY' &
import os, socket, sys, threading
port_file, log = sys.argv[1:3]
srv = socket.create_server(("127.0.0.1", 0))
open(port_file + ".tmp", "w").write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
def pipe(a, b):
    while data := a.recv(65536):
        b.sendall(data)
    b.shutdown(socket.SHUT_WR)
def serve(c):
    head = b""
    while b"\r\n\r\n" not in head:
        head += c.recv(4096) or b"\r\n\r\n"
    method, target = head.split()[:2]
    open(log, "a").write("%s %s\n" % (method.decode(), target.decode()))
    host, port = target.decode().rsplit(":", 1)
    up = socket.create_connection((host, int(port)))
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pipe, args=(up, c), daemon=True).start()
    pipe(c, up)
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
PROXY
TL_PIDS+=($!)
tl_check "start an HTTP CONNECT proxy" wait_for test -s "$TL_TMP/proxy.port"
PROXY=http://127.0.0.1:$(cat "$TL_TMP/proxy.port")
write_kubeconfig proxy.yaml "    token: token-1" "$PROXY"
# tls-server-name: a name only the server's certificate knows (it resolves nowhere), or one it lacks
TLS_NAME=apiserver.socklb.test
write_kubeconfig tls-name.yaml "    token: token-1" "" "$TLS_NAME"
write_kubeconfig tls-proxy.yaml "    token: token-1" "$PROXY" "$TLS_NAME"
write_kubeconfig tls-wrong.yaml "    token: token-1" "" wrong.socklb.test

# --- what kubectl writes ---------------------------------------------------------
if command -v kubectl >/dev/null; then
	mkdir -p "$PKI/kubectl"
	kubectl_kubeconfig token.yaml --token=token-1
	kubectl_kubeconfig certs.yaml --client-certificate=client.pem --client-key=client.key
	kubectl_kubeconfig exec.yaml --exec-api-version=client.authentication.k8s.io/v1 --exec-command="$HELPER" \
		--exec-arg=token --exec-env=HELPER_DIR="$HELPER_DIR" --exec-interactive-mode=Never \
		--exec-provide-cluster-info=true
	kubectl_kubeconfig exec-cert.yaml --exec-api-version=client.authentication.k8s.io/v1beta1 \
		--exec-command="$HELPER" --exec-arg=cert --exec-env=HELPER_DIR="$HELPER_DIR"
	kubectl_kubeconfig proxy.yaml --proxy-url="$PROXY" --token=token-1
	kubectl_kubeconfig tls-proxy.yaml --proxy-url="$PROXY" --tls-server-name="$TLS_NAME" --token=token-1
	for f in token.yaml certs.yaml exec.yaml exec-cert.yaml proxy.yaml tls-proxy.yaml; do
		tl_check "the test's $f is what kubectl $(kubectl version --client 2>/dev/null | sed -n 's/Client Version: //p') writes" \
			diff -u "$PKI/kubectl/$f" "$PKI/$f"
	done
else
	tl_ok "the test's kubeconfigs are what kubectl writes # SKIP kubectl is not installed"
fi

# --- --once with each credential ---------------------------------------------------
post /requests/clear
tl_check "--once with a token from a YAML kubeconfig syncs and exits 0" once "$PKI/token.yaml"
tl_check "the maps hold the fixture's services" wait_maps "$BASE"
tl_check "every request carried the token" only_auth token

post /replace/services '[]'
post /requests/clear
tl_check "--once with client certificate files (relative to the kubeconfig) syncs and exits 0" \
	once "$PKI/certs.yaml"
tl_check "the maps follow (no services)" wait_maps ""
tl_check "every request presented the client certificate" only_auth certificate

post /requests/clear
tl_check "--once through the kubeconfig's proxy-url syncs and exits 0" once "$PKI/proxy.yaml"
tl_check "the proxy carried the connection to the API server" grep -qx "CONNECT ${SERVER#https://}" "$TL_TMP/proxy.log"
tl_check "every request through the proxy carried the token" only_auth token

# --- tls-server-name: the name checked in the certificate and sent as SNI -------------------
# tls_named: every API request so far (and there was one) sent TLS_NAME as SNI and the server's
# host:port as Host, as client-go does.
tls_named() {
	ctl get /requests | python3 -c '
import json, sys
seen = sorted({(r.get("sni"), r.get("host")) for r in json.load(sys.stdin)})
sys.exit(0 if seen == [(sys.argv[1], sys.argv[2])] else "(SNI, Host) seen: %s" % seen)' "$TLS_NAME" "${SERVER#https://}"
}
post /replace/services "@$FIXTURES/services.json"
post /requests/clear
tl_check "--once with tls-server-name, a name only the certificate holds, syncs and exits 0" \
	once "$PKI/tls-name.yaml"
tl_check "the maps hold the fixture's services" wait_maps "$BASE"
tl_check "every request sent tls-server-name as SNI and the server's host:port as Host" tls_named

post /replace/services '[]'
post /requests/clear
: >"$TL_TMP/proxy.log"
tl_check "--once with tls-server-name through the proxy-url syncs and exits 0" once "$PKI/tls-proxy.yaml"
tl_check "the maps follow (no services)" wait_maps ""
tl_check "the proxy was asked for the server's host:port, not the TLS name" \
	grep -qx "CONNECT ${SERVER#https://}" "$TL_TMP/proxy.log"
tl_check "every request through the proxy sent tls-server-name as SNI" tls_named

# (--once would retry for 60 s: 8 s show it)
tl_check "a tls-server-name the certificate lacks: --once does not sync, the log names the name" bash -c "
	! timeout 8 '$SYNCD' --source kubernetes --kubeconfig '$PKI/tls-wrong.yaml' --node-name n1 \
		--bpffs-root '$TL_BPFFS' --metrics-addr '' --once 2>'$TL_TMP/tls-wrong.log' &&
	grep -q 'warn: list .*certificate.*wrong.socklb.test' '$TL_TMP/tls-wrong.log'"
tl_diag "$(grep -m1 'warn: list ' "$TL_TMP/tls-wrong.log" | sed 's/.*warn: //')"

post /replace/services "@$FIXTURES/services.json"
post /requests/clear
tl_check "--once with a v1beta1 exec plugin returning a client certificate syncs and exits 0" \
	once "$PKI/exec-cert.yaml"
tl_check "the maps hold the fixture's services again" wait_maps "$BASE"
tl_check "every request presented the plugin's certificate" only_auth certificate
tl_check "the plugin ran once, stdin not a terminal, with KUBERNETES_EXEC_INFO v1beta1 and no cluster" \
	grep -qx '[0-9]* cert file {"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}' \
	"$HELPER_DIR/calls"
rm -f "$HELPER_DIR/calls"

# --- the daemon with an expiring exec token -----------------------------------------------
echo 15 >"$HELPER_DIR/lifetime"
post /requests/clear
"$SYNCD" --source kubernetes --kubeconfig "$PKI/exec.yaml" --node-name n1 --bpffs-root "$TL_BPFFS" \
	--metrics-addr "" 2>"$SYNCD_LOG" &
SYNCD_PID=$!
TL_PIDS+=("$SYNCD_PID")
tl_check "the daemon with a v1 exec plugin converges" wait_maps "$BASE"
tl_check "the daemon watches every kind" ctl wait-watching
first=$(awk 'NR == 1 { print $1 }' "$HELPER_DIR/calls")
tl_check "the plugin ran once for the initial lists and watches" equals 1 helper_calls
tl_check "KUBERNETES_EXEC_INFO is v1 with spec.cluster (provideClusterInfo): the server and the CA" \
	grep -q "token file {\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\",\"spec\":{\"interactive\":false,\"cluster\":{\"server\":\"$SERVER\",\"certificate-authority-data\":\"$(base64 -w0 "$PKI/ca.pem")\"}}}" \
	"$HELPER_DIR/calls"
tl_check "the plugin's stderr is in the daemon's log, its token is not" \
	bash -c "grep -q 'stderr: exec-credential-helper: issued credential 1 (token)' '$SYNCD_LOG' && ! grep -q 'exec-1-' '$SYNCD_LOG'"

# within KUBE_EXEC_RENEW_S (10 s) of the token's expiry, the next request renews it first
while [ "$(date +%s)" -lt $((first + 6)) ]; do
	sleep 0.2
done
: >"$HELPER_DIR/lifetime"
post /drop '{}'
tl_check "a re-watch 6 s into a 15 s token ran the plugin again" wait_for at_least 2 helper_calls
renewed=$(awk 'NR == 2 { print $1 }' "$HELPER_DIR/calls")
tl_diag "renewed $((first + 15 - ${renewed:-0})) s before the first token expired"
tl_check "the re-watches resume" ctl wait-watching
tl_check "no request was refused: the token was renewed before it expired" equals 0 requests_by refused
post /delete/services '{"namespace":"default","name":"db"}'
tl_check "the renewed token watches: a deleted service leaves the maps" wait_maps "$NO_DB"

# the API server stops accepting the plugin's tokens: a 401 runs it again
calls=$(helper_calls)
post /token '{"token":"revoked-everything"}'
post /drop '{}'
tl_check "after a 401 the plugin ran again" wait_for at_least $((calls + 1)) helper_calls
tl_check "the API server refused the revoked token" at_least 1 requests_by refused
tl_check "the re-watches resume with the new token" ctl wait-watching
post /apply/services "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[2]))' "$FIXTURES/services.json")"
tl_check "after the 401 the maps follow the API again" wait_maps "$BASE"
tl_check "the daemon logged the 401 and the re-run" grep -q 'the API server refused the credential (401); running it again' "$SYNCD_LOG"
tl_check "the daemon is still running" daemon_alive
kill -TERM "$SYNCD_PID"
tl_check "the daemon stops promptly on SIGTERM" timeout 5 tail --pid="$SYNCD_PID" -f /dev/null

# --- what is refused, and how -------------------------------------------------------
write_kubeconfig missing.yaml "    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: socklb-test-no-such-helper
      installHint: install it from your cloud's SDK
      interactiveMode: Never"
tl_check "a missing plugin fails --once, naming it and its installHint" bash -c "
	! '$SYNCD' --source kubernetes --kubeconfig '$PKI/missing.yaml' --bpffs-root '$TL_BPFFS' --metrics-addr '' \
		--once 2>'$TL_TMP/missing.log' &&
	grep -q 'executable socklb-test-no-such-helper not found; its install hint: install it from your cloud.s SDK' \
		'$TL_TMP/missing.log'"
write_kubeconfig gcp.yaml "    auth-provider:
      config: {}
      name: gcp"
tl_check "an auth-provider user fails, naming the file, the user and the field" bash -c "
	! '$SYNCD' --source kubernetes --kubeconfig '$PKI/gcp.yaml' --bpffs-root '$TL_BPFFS' --metrics-addr '' \
		--once 2>'$TL_TMP/gcp.log' &&
	grep -q 'kubeconfig $PKI/gcp.yaml: users\[\"socklb-syncd\"\].user.auth-provider is not supported' '$TL_TMP/gcp.log'"
tl_finish

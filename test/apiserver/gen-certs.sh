#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gen-certs.sh DIR: the TLS material of a test API server, made fresh per test:
#   ca.pem/ca.key          the cluster CA
#   server.pem/server.key  the API server (CN 127.0.0.1, SAN 127.0.0.1 and apiserver.socklb.test,
#                          a name that resolves nowhere: for tls-server-name), signed by the CA
#   client.pem/client.key  a client certificate (CN socklb-syncd), signed by the CA
#   other-ca.pem           an unrelated CA: a client trusting only it must refuse the server
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$2" -keyout "$1.key" -out "$1.pem" 2>/dev/null
}

# leaf NAME CN EXTENSIONS...
leaf() {
	local name=$1 cn=$2 ext
	shift 2
	ext=$(mktemp)
	printf '%s\n' "$@" >"$ext"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
		-keyout "$name.key" -out "$name.csr" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile "$ext" -out "$name.pem" 2>/dev/null
	rm -f "$name.csr" "$ext"
}

ca ca socklb-test-ca
ca other-ca socklb-test-other-ca
rm -f other-ca.key
leaf server 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:apiserver.socklb.test" "extendedKeyUsage=serverAuth"
leaf client socklb-syncd "extendedKeyUsage=clientAuth"

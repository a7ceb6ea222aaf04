#!/usr/bin/env bash
# Install every Debian package that the build, the tests, the demo and the
# benchmark need. Idempotent: when everything is present it does nothing.
set -euo pipefail

PACKAGES=(
	make gcc clang llvm bpftool pkg-config
	libbpf-dev libelf-dev zlib1g-dev libcjson-dev libcurl4-openssl-dev libyaml-dev libcmocka-dev
	libclang-rt-14-dev
	iproute2 nftables iptables containernetworking-plugins
	golang-go dpkg-dev golang-github-appc-cni-dev python3-yaml
	clang-format clang-tidy cppcheck valgrind
	openssl python3 gnuplot-nox curl util-linux
	containerd runc python3-grpcio python3-grpc-tools
	buildah mmdebstrap
	qemu-system-x86 kmod cpio xz-utils zstd
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Build the `cnitool` binary and cache it; print the binary's path on stdout.
#
# Debian ships no cnitool binary, only its source, in the source package
# golang-github-appc-cni (directory cnitool/). This script fetches that source
# package through a temporary deb-src entry derived from the machine's own apt
# sources, and builds cnitool with Debian's golang-go in GOPATH mode against
# the Go libraries that Debian's -dev packages install under /usr/share/gocode
# (no Go module download).
#
# The temporary deb-src entry, its package lists and the unpacked source live
# in a private temp dir that is removed on every exit path: the machine's apt
# configuration and /var/lib/apt/lists are never touched.
#
# Usage: hack/build-cnitool.sh        -> prints e.g. /var/cache/socklb/cnitool
# Env:   SOCKLB_CACHE  cache dir (default /var/cache/socklb)
#
# Only the binary's path goes to stdout; all progress goes to stderr.
set -euo pipefail

SRC_PKG=golang-github-appc-cni
# The Go toolchain, dpkg-source (for `apt-get source`), and the -dev packages
# that provide cnitool's Go imports under /usr/share/gocode:
#   github.com/containernetworking/cni/... <- golang-github-appc-cni-dev
#   (virtual name: golang-github-containernetworking-cni-dev)
# cnitool imports nothing else outside the standard library.
BUILD_PKGS=(golang-go dpkg-dev golang-github-appc-cni-dev)
GOPATH_DIR=/usr/share/gocode

log() { printf 'build-cnitool: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

cache=${SOCKLB_CACHE:-/var/cache/socklb}
bin=$cache/cnitool

# A working cnitool prints its usage (and exits non-zero) when run without
# arguments.
cnitool_works() {
	local out
	[ -f "$1" ] && [ -x "$1" ] || return 1
	out=$("$1" </dev/null 2>&1) || true
	[[ $out == *"cnitool add"* ]]
}

# Fast path: cached binary present and working. No apt, no network.
if cnitool_works "$bin"; then
	printf '%s\n' "$bin"
	exit 0
fi

mkdir -p "$cache" 2>/dev/null || die "cannot create cache dir $cache (set SOCKLB_CACHE to a writable dir)"
[ -w "$cache" ] || die "cache dir $cache is not writable (set SOCKLB_CACHE to a writable dir)"

# Serialise concurrent builds into the same cache, then re-check: another run
# may have finished the build while we waited.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/.cnitool.lock"
	flock 9 || die "cannot lock $cache/.cnitool.lock"
	if cnitool_works "$bin"; then
		printf '%s\n' "$bin"
		exit 0
	fi
fi

if [ -e "$bin" ]; then
	log "cached $bin does not run; rebuilding it"
fi

# ---------------------------------------------------------------- packages
pkg_installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for p in "${BUILD_PKGS[@]}"; do
	pkg_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]}; run as root or install them first"
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
		log "apt-get install failed; refreshing package lists and retrying"
		apt-get update -qq >&2 || die "apt-get update failed"
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
	fi
fi
command -v go >/dev/null 2>&1 || die "go not found in PATH after installing golang-go"
command -v dpkg-source >/dev/null 2>&1 || die "dpkg-source not found after installing dpkg-dev"
[ -d "$GOPATH_DIR/src/github.com/containernetworking/cni/libcni" ] ||
	die "$GOPATH_DIR/src/github.com/containernetworking/cni/libcni missing (golang-github-appc-cni-dev broken?)"

# ---------------------------------------------------------------- temp dir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-cnitool.XXXXXX") || die "mktemp failed"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# apt downloads as the unprivileged _apt user: it must reach the temp dirs.
chmod 0755 "$tmp"
mkdir -p "$tmp/apt/sources.list.d" "$tmp/apt/lists/partial" "$tmp/src" "$tmp/gocache"
if [ "$(id -u)" -eq 0 ] && id -u _apt >/dev/null 2>&1; then
	chown _apt "$tmp/src" "$tmp/apt/lists/partial"
fi

# ------------------------------------------------- derive the deb-src entry
# shellcheck disable=SC1091
suite=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")
[ -n "$suite" ] || die "cannot read VERSION_CODENAME from /etc/os-release"

# shellcheck source=hack/apt-entry.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-entry.sh"
entry=$(apt_entry deb-src "$suite") ||
	die "no enabled 'deb' entry for suite '$suite' found in the machine's apt sources"
origin=$(sed -n 's/^# from //p' <<<"$entry")
printf '%s\n' "$entry" >"$tmp/apt/deb-src.sources"
log "temporary deb-src entry (from $origin): $(sed -n 's/^URIs: //p' "$tmp/apt/deb-src.sources") $suite main"

# apt restricted to the temporary entry, with its own lists dir and no binary
# caches, so nothing of the machine's apt state changes.
APT_OPTS=(
	-o "Dir::Etc::sourcelist=$tmp/apt/deb-src.sources"
	-o "Dir::Etc::sourceparts=$tmp/apt/sources.list.d"
	-o "Dir::State::Lists=$tmp/apt/lists"
	-o "Dir::Cache::pkgcache="
	-o "Dir::Cache::srcpkgcache="
	-o APT::Get::List-Cleanup=0
)

log "fetching the $suite source index"
apt-get "${APT_OPTS[@]}" -qq update >&2 ||
	die "apt-get update of the temporary deb-src entry failed"

log "downloading and unpacking source package $SRC_PKG"
(cd "$tmp/src" && apt-get "${APT_OPTS[@]}" -qq source "$SRC_PKG") >&2 ||
	die "apt-get source $SRC_PKG failed"

srcdir=
for d in "$tmp/src/$SRC_PKG"-*/; do
	[ -d "$d/cnitool" ] && srcdir=${d%/} && break
done
[ -n "$srcdir" ] || die "no cnitool/ directory in the unpacked $SRC_PKG source"

dev_ver=$(dpkg-query -W -f='${Version}' golang-github-appc-cni-dev 2>/dev/null || true)
src_ver=$(sed -n 's/^Version: //p' "$tmp/src/${SRC_PKG}"_*.dsc 2>/dev/null | head -n1)
log "source $SRC_PKG ${src_ver:-?}, library golang-github-appc-cni-dev ${dev_ver:-?}"
if [ -n "$dev_ver" ] && [ -n "$src_ver" ] && [ "$dev_ver" != "$src_ver" ]; then
	log "warning: source and -dev versions differ; building anyway"
fi

# ---------------------------------------------------------------- build
log "building cnitool (GOPATH mode against $GOPATH_DIR)"
(
	cd "$srcdir/cnitool"
	export GO111MODULE=off GOPATH="$GOPATH_DIR" GOPROXY=off GOFLAGS="" GOWORK=off \
		GOCACHE="$tmp/gocache" CGO_ENABLED=0
	go build -trimpath -o "$tmp/cnitool" .
) >&2 || die "go build of cnitool failed (a missing import above means a golang-*-dev package is missing)"

cnitool_works "$tmp/cnitool" || die "the freshly built cnitool does not print its usage"

install -m 0755 "$tmp/cnitool" "$bin.new.$$" || die "cannot write $bin.new.$$"
mv -f "$bin.new.$$" "$bin" || die "cannot move the binary to $bin"
log "cached $bin"
printf '%s\n' "$bin"

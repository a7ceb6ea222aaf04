#!/usr/bin/env bash
# Fetch and unpack a Debian source package; print the unpacked directory.
#
# Usage: hack/apt-source.sh PACKAGE[=VERSION] DESTDIR
#
# The machine's apt sources usually have no deb-src entry. This script derives
# temporary ones from them: for each enabled `deb` entry (one-line *.list or
# deb822 *.sources), a deb-src entry with the same URI, suites, Signed-By and
# Trusted, component main. So VERSION may be one from any suite the machine
# installs from (bookworm-security's, for instance).
#
# The temporary entries, their package lists and the download live in a
# private temp dir that is removed on every exit path: the machine's apt
# configuration and /var/lib/apt/lists are never touched. The unpacked
# directory is moved into DESTDIR (created if missing); only its path goes
# to stdout, progress goes to stderr. Needs dpkg-source (dpkg-dev).
set -euo pipefail

log() { printf 'apt-source: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[ $# -eq 2 ] || die "usage: $0 PACKAGE[=VERSION] DESTDIR"
want=$1 dest=$2
pkg=${want%%=*}
command -v dpkg-source >/dev/null 2>&1 || die "dpkg-source not found: install dpkg-dev"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apt-source.XXXXXX") || die "mktemp failed"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# apt downloads as the unprivileged _apt user: it must reach the temp dirs.
chmod 0755 "$tmp"
mkdir -p "$tmp/apt/sources.list.d" "$tmp/apt/lists/partial" "$tmp/src"
if [ "$(id -u)" -eq 0 ] && id -u _apt >/dev/null 2>&1; then
	chown _apt "$tmp/src" "$tmp/apt/lists/partial"
fi

# shellcheck source=hack/apt-entry.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-entry.sh"
apt_entries deb-src >"$tmp/apt/deb-src.sources" || true
[ -s "$tmp/apt/deb-src.sources" ] || die "no enabled 'deb' entry in the machine's apt sources"
log "temporary deb-src entries: $(sed -n 's/^URIs: //p' "$tmp/apt/deb-src.sources" | sort -u | tr '\n' ' ')"

# apt restricted to the temporary entries, with its own lists dir and no
# binary caches, so nothing of the machine's apt state changes.
APT_OPTS=(
	-o "Dir::Etc::sourcelist=$tmp/apt/deb-src.sources"
	-o "Dir::Etc::sourceparts=$tmp/apt/sources.list.d"
	-o "Dir::State::Lists=$tmp/apt/lists"
	-o "Dir::Cache::pkgcache="
	-o "Dir::Cache::srcpkgcache="
	-o APT::Get::List-Cleanup=0
)

log "fetching the source indexes"
apt-get "${APT_OPTS[@]}" -qq update >&2 || die "apt-get update of the temporary deb-src entries failed"

log "downloading and unpacking source package $want"
(cd "$tmp/src" && apt-get "${APT_OPTS[@]}" -qq source "$want") >&2 || die "apt-get source $want failed"

srcdir=
for d in "$tmp/src/$pkg"-*/; do
	[ -d "$d" ] && srcdir=${d%/} && break
done
[ -n "$srcdir" ] || die "apt-get source $want unpacked no $pkg-* directory"
mkdir -p "$dest" || die "cannot create $dest"
rm -rf "${dest:?}/${srcdir##*/}"
mv "$srcdir" "$dest/" || die "cannot move the source into $dest"
printf '%s\n' "$dest/${srcdir##*/}"

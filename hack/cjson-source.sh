#!/usr/bin/env bash
# Print the directory holding the cJSON source (cJSON.c, cJSON.h) of the
# installed libcjson-dev version, fetching it the first time.
#
# The plugin is linked statically (it must run on any node), and Debian ships
# cJSON only as a shared library. So the build compiles cJSON.c itself, from
# Debian's source package `cjson` at exactly the version of libcjson-dev (its
# security patches applied, the same code as the shared library), fetched
# with hack/apt-source.sh. The source is cached outside the repository, one
# directory per version; nothing of cJSON is ever copied into the repository.
#
# Usage: hack/cjson-source.sh   -> prints e.g. /var/cache/socklb/cjson-1.7.15-1+deb12u4
# Env:   SOCKLB_CACHE  cache dir (default /var/cache/socklb)
set -euo pipefail

log() { printf 'cjson-source: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

pkg=$(dpkg-query -W -f='${source:Package}' libcjson-dev 2>/dev/null || true)
version=$(dpkg-query -W -f='${source:Version}' libcjson-dev 2>/dev/null || true)
if [ -z "$pkg" ] || [ -z "$version" ]; then
	die "libcjson-dev is not installed (make deps)"
fi

cache=${SOCKLB_CACHE:-/var/cache/socklb}
dir=$cache/cjson-$version
if [ -f "$dir/cJSON.c" ] && [ -f "$dir/cJSON.h" ]; then
	printf '%s\n' "$dir"
	exit 0
fi

mkdir -p "$cache" 2>/dev/null || die "cannot create cache dir $cache (set SOCKLB_CACHE to a writable dir)"
[ -w "$cache" ] || die "cache dir $cache is not writable (set SOCKLB_CACHE to a writable dir)"
# Serialise concurrent builds into the same cache, then look again: another
# build may have fetched it while we waited.
exec 9>"$cache/.cjson.lock"
flock 9 || die "cannot lock $cache/.cjson.lock"
if [ -f "$dir/cJSON.c" ] && [ -f "$dir/cJSON.h" ]; then
	printf '%s\n' "$dir"
	exit 0
fi

tmp=$(mktemp -d "$cache/.cjson.XXXXXX") || die "mktemp in $cache failed"
trap 'rm -rf "$tmp"' EXIT
src=$(bash "$(dirname "$0")/apt-source.sh" "$pkg=$version" "$tmp") || die "cannot fetch source package $pkg $version"
mkdir "$tmp/out"
cp "$src/cJSON.c" "$src/cJSON.h" "$src/LICENSE" "$tmp/out/" || die "no cJSON.c, cJSON.h or LICENSE in $src"
rm -rf "$dir"
mv "$tmp/out" "$dir" || die "cannot move the source to $dir"
log "cached $pkg $version in $dir"
printf '%s\n' "$dir"

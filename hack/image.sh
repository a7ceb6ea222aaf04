#!/usr/bin/env bash
# make image: the DaemonSet's image, conf/Dockerfile, built without a registry
# or a daemon and written as an OCI archive (default build/socklb-image.tar)
# of docker.io/library/socklb:dev, the full name of the image conf/socklb.yaml
# names (socklb:dev): `ctr -n k8s.io images import` of the archive on a node
# is all kubelet needs. Root, Debian 12.
#
#   1. The root filesystem: Debian 12's essential set plus conf/image-packages,
#      made by mmdebstrap from the host's apt sources, as a tar cached in
#      $SOCKLB_IMAGE_CACHE (default ~/.cache/socklb-image) under a key of its
#      package list and options: later builds reuse it. Remove the cache to
#      take Debian's updates.
#   2. The build context: that tar and the binaries `make` built here (the
#      same Debian release, so the same libraries).
#   3. buildah (vfs storage in a temporary directory, removed afterwards)
#      builds conf/Dockerfile and writes the archive.
#
# Environment: BUILD (build), IMAGE_OUT (the archive), IMAGE_REF (its name),
# SOCKLB_IMAGE_CACHE. Prints the time each step took.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=${IMAGE_OUT:-$BUILD/socklb-image.tar}
REF=${IMAGE_REF:-docker.io/library/socklb:dev}
CACHE=${SOCKLB_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/socklb-image}
SUITE=bookworm
VARIANT=essential
# Like Debian's -slim images: no manuals, translations or documentation but the licences.
DPKG_OPTS=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright')

die() {
	echo "image: $*" >&2
	exit 1
}
ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap and buildah need it)"
for tool in mmdebstrap buildah; do
	command -v "$tool" >/dev/null || die "$tool is not installed (hack/install-deps.sh installs it)"
done
# shellcheck source=/dev/null
. /etc/os-release
[ "${VERSION_CODENAME:-}" = "$SUITE" ] ||
	die "the image's binaries are built on this host: it must be Debian 12 ($SUITE), like the image, not ${PRETTY_NAME:-unknown}"
for b in socklb socklb-syncd; do
	[ -x "$BUILD/$b" ] || die "$BUILD/$b is not built (make)"
done

mapfile -t PACKAGES < <(sed 's/#.*//' "$ROOT/conf/image-packages" | xargs -n1)
ARCH=$(dpkg --print-architecture)
KEY=$(printf '%s\n' "$SUITE" "$VARIANT" "$ARCH" "${PACKAGES[@]}" "${DPKG_OPTS[@]}" | sha256sum | cut -c1-16)
ROOTFS=$CACHE/rootfs-$KEY.tar
# What an interrupted build leaves: the root filesystem being made, the work directory.
PARTIAL=$ROOTFS.$$.tmp
WORK=
trap 'rm -rf "$PARTIAL" ${WORK:+"$WORK"}' EXIT
trap 'exit 130' INT TERM

# 1. The root filesystem, from the sources the host's apt uses.
t0=$(date +%s%N)
if [ -s "$ROOTFS" ]; then
	echo "image: root filesystem from the cache: $ROOTFS" >&2
else
	mkdir -p "$CACHE"
	sources=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -s "$f" ] && sources+=("$f")
	done
	[ "${#sources[@]}" -gt 0 ] || die "no apt sources in /etc/apt to build the root filesystem from"
	echo "image: building the root filesystem ($VARIANT + ${PACKAGES[*]}) into $ROOTFS" >&2
	mmdebstrap --quiet --format=tar --variant="$VARIANT" --architectures="$ARCH" --include="$(
		IFS=,
		echo "${PACKAGES[*]}"
	)" "${DPKG_OPTS[@]}" "$SUITE" "$PARTIAL" "${sources[@]}" >&2 ||
		die "mmdebstrap failed"
	mv "$PARTIAL" "$ROOTFS"
	# One base at a time: an older package list's tar is of no more use.
	find "$CACHE" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$KEY.tar" -delete
	echo "image: root filesystem built in $(ms_since "$t0") ms" >&2
fi

# 2. The build context, in a temporary directory with buildah's storage.
WORK=$(mktemp -d /tmp/socklb-image.XXXXXX)
CTX=$WORK/context
mkdir "$CTX"
ln "$ROOTFS" "$CTX/rootfs.tar" 2>/dev/null || cp "$ROOTFS" "$CTX/rootfs.tar"
cp "$BUILD/socklb" "$BUILD/socklb-syncd" "$CTX/"

# 3. buildah, with vfs storage of its own (no overlay mounts to leave behind).
STORE=$WORK/storage
B=(buildah --root "$STORE/root" --runroot "$STORE/run" --storage-driver vfs)
t0=$(date +%s%N)
"${B[@]}" bud --quiet --layers=false --squash -f "$ROOT/conf/Dockerfile" -t "$REF" "$CTX" >/dev/null
rm -f "$OUT.tmp"
"${B[@]}" push --quiet "$REF" "oci-archive:$OUT.tmp:$REF"
mv "$OUT.tmp" "$OUT"
echo "image: $OUT ($REF, $(($(stat -c %s "$OUT") / 1048576)) MiB) built in $(ms_since "$t0") ms" >&2

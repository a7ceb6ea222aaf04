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

# Where this machine's apt reads its sources from.
sl=/etc/apt/sources.list
sp=/etc/apt/sources.list.d
eval "$(apt-config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d 2>/dev/null)" || true
sp=${sp%/}

# deb822 (*.sources): a deb-src stanza for each enabled stanza of type deb,
# with its first URI, its suites and its Signed-By (which may be a multi-line
# embedded key).
deb822_entries() {
	awk '
	function reset() { delete val; sb = ""; cur = ""; n = 0 }
	function has(field, word,   a, k, i) {
		k = split(val[field], a, /[ \t]+/)
		for (i = 1; i <= k; i++) if (a[i] == word) return 1
		return 0
	}
	function flush(   u) {
		if (n > 0 && tolower(val["enabled"]) !~ /^[ \t]*no/ && has("types", "deb") && val["suites"] != "") {
			split(val["uris"], u, /[ \t]+/)
			if (u[1] != "" && u[1] !~ /^cdrom:/) {
				print "Types: deb-src"
				print "URIs: " u[1]
				print "Suites: " val["suites"]
				print "Components: main"
				if (sb != "") print "Signed-By:" sb
				if (val["trusted"] != "") print "Trusted: " val["trusted"]
				print ""
			}
		}
		reset()
	}
	BEGIN { reset() }
	/^#/ { next }
	/^[ \t]*$/ { flush(); next }
	/^[ \t]/ {
		if (cur == "signed-by") sb = sb "\n" $0
		else if (cur != "") val[cur] = val[cur] " " $0
		next
	}
	{
		i = index($0, ":"); if (i == 0) next
		cur = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1)
		if (cur == "signed-by") { sb = v; sub(/[ \t]+$/, "", sb); if (sb !~ /^[ \t]/) sb = " " sb }
		gsub(/^[ \t]+|[ \t]+$/, "", v); val[cur] = v; n++
	}
	END { flush() }
	' "$1"
}

# One-line format (*.list): deb [opts] URI SUITE COMPONENTS...
oneline_entries() {
	awk '
	{ sub(/^[ \t]+/, ""); if ($0 ~ /^#/) next; sub(/[ \t]#.*$/, "") }
	$1 == "deb" {
		i = 2; opts = ""
		if ($2 ~ /^\[/) {
			for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
			gsub(/[\[\]]/, " ", opts)
		}
		uri = $i; s = $(i + 1)
		if (s == "" || uri == "" || uri ~ /^cdrom:/) next
		print "Types: deb-src"
		print "URIs: " uri
		print "Suites: " s
		print "Components: main"
		k = split(opts, o, /[ \t]+/)
		for (j = 1; j <= k; j++) {
			if (o[j] ~ /^signed-by=/) { sub(/^signed-by=/, "", o[j]); gsub(/,/, " ", o[j]); print "Signed-By: " o[j] }
			if (o[j] ~ /^trusted=/) { sub(/^trusted=/, "", o[j]); print "Trusted: " o[j] }
		}
		print ""
	}
	' "$1"
}

shopt -s nullglob
for f in "$sl" "$sp"/*.list "$sp"/*.sources; do
	[ -f "$f" ] || continue
	case $f in
	*.sources) deb822_entries "$f" ;;
	*) oneline_entries "$f" ;;
	esac
done >"$tmp/apt/deb-src.sources"
shopt -u nullglob
[ -s "$tmp/apt/deb-src.sources" ] || die "no enabled 'deb' entry in $sl or $sp/*.{list,sources}"
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

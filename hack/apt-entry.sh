#!/usr/bin/env bash
# Sourced by hack/ scripts that fetch Debian packages through a temporary apt
# source (never touching the machine's apt configuration or lists):
#
#   apt_entry TYPE SUITE [AS_SUITE]
#     prints a deb822 stanza of type TYPE (deb or deb-src) for the first
#     enabled `deb` entry of this machine's apt sources that serves SUITE, with
#     that entry's URI and Signed-By and suite AS_SUITE (default SUITE),
#     component main, after a comment line "# from FILE" naming where it
#     came from. Returns 1 when no entry serves SUITE.
#   apt_entries TYPE
#     the same for every enabled `deb` entry, with its own suites (so a
#     package version from any suite the machine installs from, such as
#     bookworm-security's, can be fetched). Returns 1 when there is none.
#
# Why derived: the mirror and the keyring the machine already trusts are the
# only ones a script may assume (no other host, no new key).

# deb822 (*.sources): the first enabled stanza of type deb that serves $suite,
# keeping its first URI and its Signed-By (which may be a multi-line embedded key).
apt_entry_deb822() {
	awk -v type="$1" -v suite="$2" -v as="$3" '
	function reset() { delete val; sb = ""; cur = ""; n = 0 }
	function has(field, word,   a, k, i) {
		k = split(val[field], a, /[ \t]+/)
		for (i = 1; i <= k; i++) if (a[i] == word) return 1
		return 0
	}
	function flush(   u) {
		if (!done && n > 0 && tolower(val["enabled"]) !~ /^[ \t]*no/ && has("types", "deb") && val["suites"] != "" &&
		    (suite == "" || has("suites", suite))) {
			split(val["uris"], u, /[ \t]+/)
			if (u[1] != "" && u[1] !~ /^cdrom:/) {
				print "Types: " type
				print "URIs: " u[1]
				print "Suites: " (suite == "" ? val["suites"] : as)
				print "Components: main"
				if (sb != "") print "Signed-By:" sb
				if (val["trusted"] != "") print "Trusted: " val["trusted"]
				if (suite == "") print ""
				else done = 1
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
	' "$4"
}

# One-line format (*.list): deb [opts] URI SUITE COMPONENTS...
apt_entry_oneline() {
	awk -v type="$1" -v suite="$2" -v as="$3" '
	{ sub(/^[ \t]+/, ""); if ($0 ~ /^#/) next; sub(/[ \t]#.*$/, "") }
	$1 == "deb" {
		i = 2; opts = ""
		if ($2 ~ /^\[/) {
			for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
			gsub(/[\[\]]/, " ", opts)
		}
		uri = $i; s = $(i + 1)
		if ((suite != "" && s != suite) || s == "" || uri == "" || uri ~ /^cdrom:/) next
		print "Types: " type
		print "URIs: " uri
		print "Suites: " (suite == "" ? s : as)
		print "Components: main"
		k = split(opts, o, /[ \t]+/)
		for (j = 1; j <= k; j++) {
			if (o[j] ~ /^signed-by=/) { sub(/^signed-by=/, "", o[j]); gsub(/,/, " ", o[j]); print "Signed-By: " o[j] }
			if (o[j] ~ /^trusted=/) { sub(/^trusted=/, "", o[j]); print "Trusted: " o[j] }
		}
		if (suite == "") print ""
		else exit
	}
	' "$4"
}

apt_entry() {
	local type=$1 suite=$2 as=${3:-$2} sl=/etc/apt/sources.list sp=/etc/apt/sources.list.d f e
	# Where this machine's apt reads its sources from.
	eval "$(apt-config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d 2>/dev/null)" || true
	sp=${sp%/}
	shopt -s nullglob
	for f in "$sl" "$sp"/*.list "$sp"/*.sources; do
		[ -f "$f" ] || continue
		case $f in
		*.sources) e=$(apt_entry_deb822 "$type" "$suite" "$as" "$f") ;;
		*) e=$(apt_entry_oneline "$type" "$suite" "$as" "$f") ;;
		esac
		if [ -n "$e" ]; then
			shopt -u nullglob
			printf '# from %s\n%s\n' "$f" "$e"
			return 0
		fi
	done
	shopt -u nullglob
	return 1
}

apt_entries() {
	local type=$1 sl=/etc/apt/sources.list sp=/etc/apt/sources.list.d f e found=1
	eval "$(apt-config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d 2>/dev/null)" || true
	sp=${sp%/}
	shopt -s nullglob
	for f in "$sl" "$sp"/*.list "$sp"/*.sources; do
		[ -f "$f" ] || continue
		case $f in
		*.sources) e=$(apt_entry_deb822 "$type" "" "" "$f") ;;
		*) e=$(apt_entry_oneline "$type" "" "" "$f") ;;
		esac
		[ -n "$e" ] && printf '# from %s\n%s\n\n' "$f" "$e" && found=0
	done
	shopt -u nullglob
	return $found
}

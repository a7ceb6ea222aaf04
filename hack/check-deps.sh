#!/usr/bin/env bash
# The build's first step: are the tools, headers and static libraries it uses
# here? One line per missing thing, with the Debian package that has it, then
# how to install them all. Exit 1 when anything is missing.
#
# Usage: hack/check-deps.sh [tests]   (tests: also what the test binaries use)
# Env:   CC, CLANG, BPFTOOL as the Makefile sets them
set -u

CC=${CC:-gcc}
CLANG=${CLANG:-clang}
BPFTOOL=${BPFTOOL:-bpftool}
missing=0

lack() {
	echo "missing: $1 (Debian package $2)" >&2
	missing=$((missing + 1))
}

tool() {
	command -v "$1" >/dev/null 2>&1 || lack "$1" "$2"
}

# As the compiler finds it (its own include path), not at a guessed place.
header() {
	# shellcheck disable=SC2086 # CC may carry flags
	printf '#include <%s>\n' "$1" | $CC -E -x c - >/dev/null 2>&1 || lack "$1" "$2"
}

# For the static plugin: $CC -print-file-name echoes the bare name when it finds nothing.
static_lib() {
	# shellcheck disable=SC2086
	[ "$($CC -print-file-name="$1" 2>/dev/null)" != "$1" ] || lack "$1" "$2"
}

tool "${CC%% *}" gcc
tool "${CLANG%% *}" clang
tool "${BPFTOOL%% *}" bpftool
tool dpkg-source dpkg-dev # fetches cJSON's source for the static plugin
if command -v "${CC%% *}" >/dev/null 2>&1; then
	header bpf/bpf_helpers.h libbpf-dev
	header bpf/libbpf.h libbpf-dev
	header libelf.h libelf-dev
	header zlib.h zlib1g-dev
	header cjson/cJSON.h libcjson-dev
	header curl/curl.h libcurl4-openssl-dev
	static_lib libc.a libc6-dev
	static_lib libbpf.a libbpf-dev
	static_lib libelf.a libelf-dev
	static_lib libz.a zlib1g-dev
	[ "${1:-}" = tests ] && header cmocka.h libcmocka-dev
fi
if [ "$missing" -gt 0 ]; then
	echo "install them with: make deps (or, as root, bash hack/install-deps.sh)" >&2
	exit 1
fi

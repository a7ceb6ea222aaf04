#!/usr/bin/env bash
# Time rule installs inside a network namespace (run it with `ip netns exec`,
# so that entering the namespace is not part of the time). Prints one line
# per round: the milliseconds the tool took.
#
#   time_apply.sh nft|iptables|iptables-noflush ROUNDS FILE...
#
# Round r applies FILE number (r-1) modulo the number of files, so two files
# alternate a change and its reverse.
#   nft               nft -f FILE
#   iptables          iptables-restore < FILE   (replaces the tables FILE names)
#   iptables-noflush  iptables-restore --noflush --counters < FILE   (kube-proxy's sync)
set -euo pipefail

tool=$1
rounds=$2
shift 2
files=("$@")
[ "${#files[@]}" -gt 0 ] || {
	echo "time_apply: no files" >&2
	exit 2
}

apply() {
	case "$tool" in
	nft) nft -f "$1" ;;
	iptables) iptables-restore <"$1" ;;
	iptables-noflush) iptables-restore --noflush --counters <"$1" ;;
	*)
		echo "time_apply: unknown tool $tool" >&2
		return 2
		;;
	esac
}

for ((r = 0; r < rounds; r++)); do
	f=${files[$((r % ${#files[@]}))]}
	t0=${EPOCHREALTIME/./}
	if ! apply "$f"; then
		echo "time_apply: $tool failed on $f (round $((r + 1)))" >&2
		exit 1
	fi
	t1=${EPOCHREALTIME/./}
	awk -v us=$((t1 - t0)) 'BEGIN { printf "%.3f\n", us / 1000 }'
done

#!/usr/bin/env bash
# The suite again under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# plugin under valgrind:
#   1. `make SANITIZE=1 tests-build` (build-asan/);
#   2. every unit test and the integration tests with BUILD=build-asan (the
#      fault tests with 5 s client loops, 30 pods and a 5 s API outage), but
#      not those that measure or wait out timeouts (bench_*,
#      security_apiserver.sh), nor this one, nor
#      the fuzz smoke test (sanitized already), nor install_manifests.sh
#      (it checks the release binaries' shared libraries, which the
#      sanitizer runtimes change), nor image_daemonset.sh (its image has
#      no sanitizer runtimes) and plugin_static.sh (ASan does not link
#      statically: the sanitizer build's plugin is dynamic); each suite is one line here, plus
#      its skipped checks (so they count as skipped, not passed), and
#      its own lines are kept as "# ..." comments when it fails; the
#      tests left out are reported as skipped;
#   3. every ASan/LSan report any process wrote (log_path), also from
#      processes whose exit status no test looks at (daemons, servers).
#      gcc's UBSan runtime ignores log_path: its reports reach only the
#      process's stderr, and the process stops (halt_on_error), which the
#      suites see;
#   4. the plugin (the normal build, linked dynamically: valgrind cannot
#      follow the static release binary's malloc) under valgrind
#      --leak-check=full for VERSION, ADD, CHECK, DEL, DEL again, GC and
#      STATUS: zero errors, zero bytes lost.
# SANITIZE_ALL=1 runs every integration test. A suite gets
# SANITIZE_SUITE_TIMEOUT (240) seconds.
source "$(dirname "$0")/../lib.sh"
tl_init

# SANITIZE_BUILD: another directory than build-asan/ (make SANITIZE=1 BUILD=...).
ASAN_BUILD=${SANITIZE_BUILD:-$TL_ROOT/build-asan}
REPORTS=$TL_TMP/sanitizer-reports
mkdir -p "$REPORTS"
START=$(date +%s)

# 1. Build ------------------------------------------------------------------
t0=$(date +%s)
if make -s --no-print-directory -C "$TL_ROOT" SANITIZE=1 BUILD="$ASAN_BUILD" tests-build >"$TL_TMP/build.log" 2>&1; then
	tl_ok "make SANITIZE=1 tests-build ($(($(date +%s) - t0)) s)"
else
	tl_not_ok "make SANITIZE=1 tests-build"
	grep -E 'error|Error' "$TL_TMP/build.log" | head -20 | sed 's/^/#   /'
	tl_finish
fi

# Reports go to files as well as to the tests' own stderr: nothing is lost
# when a test discards a process's output.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$REPORTS/asan:log_exe_name=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan:log_exe_name=1"
export LSAN_OPTIONS="log_path=$REPORTS/lsan"

# suite NAME cmd...: one TAP line for a whole suite from the TAP lines it printed,
# and its skipped checks again, so that they are counted and listed as skipped.
suite() {
	local name=$1 log=$TL_TMP/suite.log rc p f s t1 line
	shift
	t1=$(date +%s)
	timeout --foreground -k 10 "${SANITIZE_SUITE_TIMEOUT:-240}" "$@" >"$log" 2>&1
	rc=$?
	s=$(grep -c "$TL_SKIP_RE" "$log")
	p=$(($(grep -c '^ok ' "$log") - s))
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ]; then
		tl_ok "asan: $name: $p passed, $s skipped ($(($(date +%s) - t1)) s)"
	else
		tl_not_ok "asan: $name: $p passed, $f failed, $s skipped, exit status $rc ($(($(date +%s) - t1)) s)"
		grep -E '^not ok|ERROR|runtime error|SUMMARY|#[0-9]+ 0x' "$log" | head -30 | sed 's/^/#   /'
	fi
	while IFS= read -r line; do
		tl_ok "asan: $name: $(sed -E 's/^ok( [0-9]+)?( -)? *//' <<<"$line")"
	done < <(grep "$TL_SKIP_RE" "$log")
	UNITS=$((UNITS + p))
	UNITS_FAILED=$((UNITS_FAILED + f))
	UNITS_SKIPPED=$((UNITS_SKIPPED + s))
}
UNITS=0
UNITS_FAILED=0
UNITS_SKIPPED=0

# 2. Unit tests, then integration tests ---------------------------------------
for t in "$ASAN_BUILD"/test/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	suite "$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
done
for t in "$TL_ROOT"/test/integration/*.sh; do
	name=$(basename "$t")
	case "$name" in
	sanitizers.sh | fuzz_smoke.sh | install_manifests.sh | image_daemonset.sh | plugin_static.sh) continue ;;
	bench_* | security_apiserver.sh)
		if [ "${SANITIZE_ALL:-0}" != 1 ]; then
			tl_skip "asan: $name" "it measures or waits out timeouts (SANITIZE_ALL=1 runs it)"
			continue
		fi
		;;
	esac
	# The fault tests with shorter loops, fewer pods and a shorter outage than in their
	# own run (SANITIZE_ALL=1: their defaults).
	if [ "${SANITIZE_ALL:-0}" = 1 ]; then
		suite "$name" env BUILD="$ASAN_BUILD" bash "$t"
	else
		suite "$name" env BUILD="$ASAN_BUILD" FAULT_LOOP_MS=5000 FAULT_PODS=30 FAULT_DOWN_S=5 bash "$t"
	fi
done
tl_diag "under ASan+UBSan: $UNITS checks passed, $UNITS_FAILED failed, $UNITS_SKIPPED skipped"

# 3. Reports of processes nobody waited for ----------------------------------
n_reports=0
for r in "$REPORTS"/*; do
	[ -s "$r" ] || continue
	n_reports=$((n_reports + 1))
	tl_not_ok "sanitizer report $(basename "$r"): $(grep -m1 -E 'ERROR|runtime error' "$r" | cut -c1-160)"
	grep -E 'ERROR|runtime error|SUMMARY|#[0-9]+ 0x' "$r" | head -25 | sed 's/^/#   /'
done
[ "$n_reports" -eq 0 ] && tl_ok "no sanitizer report from any process"
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

# 4. The plugin under valgrind: one pod's whole life ---------------------------
PLUGIN=$TL_BUILD/test/socklb-dynamic
NETNS=slb-$TL_ID-vg
ip netns add "$NETNS"
TL_NETNS+=("$NETNS")
UID_=$(printf '%08x-0000-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
mkdir -p "$TL_CG/kubepods/burstable/pod$UID_"
CID=vg-$TL_ID
PREV='{"cniVersion": "1.1.0", "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/'$NETNS'"}],
 "ips": [{"address": "10.244.1.5/24", "interface": 0}]}'
conf() {
	printf '{"cniVersion": "1.1.0", "name": "socklb-vg", "type": "socklb", "bpffsRoot": "%s", "cgroupRoot": "%s",
	 "logLevel": "debug", "failurePolicy": "Fail", "attachFailuresFile": "%s/attach-failures",
	 "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}%s}' \
		"$TL_BPFFS" "$TL_CG" "$TL_TMP" "$1"
}

# What valgrind cannot know about libbpf's bpf() calls: the kernel fills the
# log buffer of the feature probes, and libbpf zeroes a bpf_attr only up to
# the size it passes (valgrind checks every field a command could read).
cat >"$TL_TMP/valgrind.supp" <<'EOF'
{
   libbpf-probe-log-buffer-written-by-the-kernel
   Memcheck:Cond
   fun:strstr
   fun:libbpf_probe_bpf_helper
}
{
   libbpf-bpf-attr-zeroed-to-the-size-it-passes
   Memcheck:Param
   bpf(attr->expected_attach_type)
   fun:syscall
   obj:*/libbpf.so*
}
{
   libbpf-bpf-attr-zeroed-to-the-size-it-passes
   Memcheck:Param
   bpf(attr->prog_ifindex)
   fun:syscall
   obj:*/libbpf.so*
}
EOF

# vg VERB CONFIG: the plugin under valgrind; ok when it answered and valgrind found nothing.
vg() {
	local verb=$1 config=$2 log=$TL_TMP/valgrind-$1.log out rc lost
	out=$(printf '%s' "$config" | env -i PATH="$PATH" CNI_COMMAND="$verb" CNI_CONTAINERID="$CID" \
		CNI_NETNS="/var/run/netns/$NETNS" CNI_IFNAME=eth0 \
		CNI_ARGS="K8S_POD_NAMESPACE=vg;K8S_POD_NAME=pod;K8S_POD_UID=$UID_" \
		valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --log-file="$log" \
		--suppressions="$TL_TMP/valgrind.supp" \
		"$PLUGIN" 2>"$TL_TMP/plugin-$verb.stderr")
	rc=$?
	lost=$(grep -Eo '(definitely|indirectly|possibly) lost: [0-9,]+ bytes' "$log" | tr '\n' ' ')
	# With --quiet only errors print as "==PID== ..."; "--PID-- WARNING: unhandled eBPF command" is valgrind's own gap.
	if [ "$rc" -eq 0 ] && ! grep -q '^==[0-9]*== ' "$log"; then
		tl_ok "valgrind: plugin $verb: no error, nothing lost"
	else
		tl_not_ok "valgrind: plugin $verb: exit status $rc ${lost}"
		grep '^==' "$log" | head -40 | sed 's/^/#   /'
		printf '%s\n' "$out" | head -5 | sed 's/^/#   stdout: /'
		tail -5 "$TL_TMP/plugin-$verb.stderr" | sed 's/^/#   stderr: /'
	fi
}

if command -v valgrind >/dev/null; then
	vg VERSION '{"cniVersion": "1.1.0"}'
	vg ADD "$(conf ", \"prevResult\": $PREV")"
	tl_check "valgrind: ADD linked the pod" bash -c "ls -d '$TL_BPFFS/links/$CID'*eth0"
	vg CHECK "$(conf ", \"prevResult\": $PREV")"
	vg DEL "$(conf "")"
	vg DEL "$(conf "")"
	vg GC "$(conf ', "cni.dev/valid-attachments": []')"
	vg STATUS "$(conf "")"
	tl_check "valgrind: nothing of the pod left pinned" bash -c "[ -z \"\$(ls -A '$TL_BPFFS/links' 2>/dev/null)\" ]"
else
	tl_not_ok "valgrind is not installed (make deps)"
fi

tl_diag "sanitizers.sh: $(($(date +%s) - START)) s in all"
tl_finish

#!/usr/bin/env bash
# failurePolicy, and README.md invariant 10 (a pod that did not opt in never
# fails because of socklb), with the plugin binary run as a runtime runs it:
#   - a pod that did not opt in: ADD prints prevResult, CHECK and DEL exit 0,
#     under both policies, whatever is wrong: no bpffs (bpffsRoot missing, a
#     plain directory, a file), a logFile that cannot be opened, a bad value
#     of any key of ours;
#   - an opted-in pod whose attachment cannot be made (no pod cgroup, no
#     bpffs, programs that do not load beside an incompatible pinned map, a
#     bad key of ours): Fail: ADD and CHECK return the CNI error; Ignore: ADD
#     prints prevResult with nothing attached, CHECK passes, the log says the
#     pod starts without socklb; DEL passes either way;
#   - each failed ADD is counted in the attach-failure record, and
#     socklb-syncd reports it as socklb_pod_attach_failures_total{policy};
#   - STATUS exits 0 under both policies and logs what is missing.
source "$(dirname "$0")/../lib.sh"
tl_init

PLUGIN=$TL_BUILD/socklb
SYNCD=$TL_BUILD/socklb-syncd
STDERR_LOG=$TL_TMP/plugin.stderr
PREV='{"cniVersion": "1.0.0", "ips": [{"address": "10.244.1.5/24", "gateway": "10.244.1.1"}]}'
OPT_IN='"runtimeConfig": {"io.kubernetes.cri.pod-annotations": {"socklb.io/enabled": "true"}}'
UID_=$(printf '%08x-0000-4000-8000-%012x' "$((0x$TL_ID))" "$RANDOM")
mkdir -p "$TL_CG/kubepods/burstable/pod$UID_"
POD_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=team;K8S_POD_NAME=web;K8S_POD_UID=$UID_"
# Where each part counts its failures (a directory the plugin creates).
RECORD=$TL_TMP/run/attach-failures

# config POLICY [JSON_MEMBERS]: the members replace the base configuration's
# (policy "-": no failurePolicy key, the default).
config() {
	python3 - "$1" "{${2:-}}" "$TL_BPFFS" "$TL_CG" "$RECORD" "$PREV" <<'EOF'
import json, sys
policy, extra, bpffs, cg, record, prev = sys.argv[1:]
c = {"cniVersion": "1.0.0", "name": "policy-test", "type": "socklb", "bpffsRoot": bpffs, "cgroupRoot": cg,
     "logLevel": "debug", "attachFailuresFile": record, "prevResult": json.loads(prev)}
if policy != "-":
    c["failurePolicy"] = policy
c.update(json.loads(extra))
print(json.dumps(c))
EOF
}

# plugin COMMAND CONFIG [VAR=VALUE...]: sets OUT (stdout) and RC; stderr is appended to STDERR_LOG.
plugin() {
	local cmd=$1 conf=$2
	shift 2
	OUT=$(printf '%s' "$conf" | env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="policy-$TL_ID" \
		CNI_NETNS=/var/run/netns/none CNI_IFNAME=eth0 CNI_ARGS="$POD_ARGS" "$@" "$PLUGIN" 2>>"$STDERR_LOG")
	RC=$?
}
json_equal() {
	python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$1" "$2"
}
field() {
	python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$OUT" "$1" 2>/dev/null
}
LINKS=$TL_BPFFS/links/policy-${TL_ID}_-eth0

# all_pass CONFIG [VAR=VALUE...]: ADD prints prevResult and attaches nothing, CHECK and DEL exit 0
# with nothing on stdout; otherwise says which did not.
all_pass() {
	local conf=$1
	shift
	plugin ADD "$conf" "$@"
	[ "$RC" = 0 ] && json_equal "$OUT" "$PREV" || { echo "ADD: exit $RC: $OUT"; return 1; }
	[ ! -e "$LINKS" ] || { echo "ADD attached $LINKS"; return 1; }
	plugin CHECK "$conf" "$@"
	[ "$RC:$OUT" = 0: ] || { echo "CHECK: exit $RC: $OUT"; return 1; }
	plugin DEL "$conf" "$@"
	[ "$RC:$OUT" = 0: ] || { echo "DEL: exit $RC: $OUT"; return 1; }
}
is_error() {
	[ "$RC" -ne 0 ] && [ "$(field code)" = "$1" ] && [[ "$(field msg): $(field details)" == *"$2"* ]] ||
		{ echo "exit $RC: $OUT"; return 1; }
}
# record_is IGNORED FAILED [LAST_POD]
record_is() {
	local got
	got=$(sed -n 's/^ignored //p; s/^failed //p' "$RECORD" 2>/dev/null | tr '\n' ' ')
	[ "$got" = "$1 $2 " ] || { echo "record: ${got:-none}, want $1 $2"; cat "$RECORD" 2>/dev/null; return 1; }
	[ -z "${3:-}" ] || grep -q "^last [0-9.]* $3 " "$RECORD"
}
log_since() { # log_since LINE: what the plugin logged after line LINE of STDERR_LOG
	tail -n +$(($1 + 1)) "$STDERR_LOG"
}

# ------------------------------------------- pods that did not opt in
mkdir -p "$TL_TMP/plain/socklb/links"
: >"$TL_TMP/a-file"
PROBLEMS=(
	"bpffsRoot does not exist (no bpffs)|\"bpffsRoot\": \"$TL_TMP/no-bpffs/socklb\""
	"bpffsRoot is a plain directory (no bpffs)|\"bpffsRoot\": \"$TL_TMP/plain/socklb\""
	"bpffsRoot is a file|\"bpffsRoot\": \"$TL_TMP/a-file\""
	"logFile cannot be opened|\"logFile\": \"$TL_TMP/no-such-dir/socklb.log\""
	"bad logLevel|\"logLevel\": \"verbose\""
	"bad logFile|\"logFile\": 5"
	"namespaces not a list|\"namespaces\": \"default\""
	"bad namespace name|\"namespaces\": [\"Bad_Name\"]"
	"bad optInAnnotation|\"optInAnnotation\": \"a/b/c\""
	"relative bpffsRoot|\"bpffsRoot\": \"socklb\""
	"relative cgroupRoot|\"cgroupRoot\": \"kubepods\""
	"relative attachFailuresFile|\"attachFailuresFile\": \"failures\""
	"bad failurePolicy|\"failurePolicy\": \"fail\""
)
for policy in Fail Ignore -; do
	for p in "${PROBLEMS[@]}"; do
		what=${p%%|*}
		tl_check "not opted in, $what, failurePolicy ${policy/-/default}: ADD prints prevResult, CHECK and DEL pass" \
			all_pass "$(config "$policy" "${p#*|}")"
	done
done
tl_check "the logFile that cannot be opened is named on stderr" \
	grep -q "cannot open logFile $TL_TMP/no-such-dir/socklb.log: No such file or directory; logging to stderr" "$STDERR_LOG"
tl_check "a bad key is logged, naming it: socklb attaches no pod until it is fixed" \
	grep -q "ADD: invalid network configuration: logLevel: must be one of.*socklb attaches no pod until it is fixed" "$STDERR_LOG"
# A file where the namespace map should be: whether the namespace opted in is unknown, so the pod
# starts (under Fail too) and is counted as started without socklb, once per ADD under each policy.
tl_check "only the pods whose opt-in could not be decided (bpffsRoot a file) are counted, as ignored" \
	record_is 3 0 team/web

# ------------------------------------------- opted-in pods socklb cannot attach
rm -f "$RECORD"
# Programs that do not load: a map of ours pinned with another layout (a foreign or corrupt node).
mkdir -p "$TL_BPFFS/bad"
bpftool map create "$TL_BPFFS/bad/socklb_svc_v1" type hash key 4 value 4 entries 1 name socklb_svc_v1 ||
	tl_not_ok "pinning an incompatible socklb_svc_v1"
CAUSES=(
	"no pod cgroup|100|cannot find the pod cgroup|\"cgroupRoot\": \"$TL_CG/elsewhere\""
	"no bpffs|101|not on a bpf filesystem|\"bpffsRoot\": \"$TL_TMP/no-bpffs/socklb\""
	"programs that do not load|102|cannot load the datapath programs|\"bpffsRoot\": \"$TL_BPFFS/bad\""
	"a bad key of ours|7|invalid network configuration: logLevel|\"logLevel\": \"verbose\""
)
mkdir -p "$TL_CG/elsewhere"
FAILED=0
IGNORED=0
for c in "${CAUSES[@]}"; do
	IFS='|' read -r what code text extra <<<"$c"
	conf=$(config Fail "$OPT_IN, $extra")
	plugin ADD "$conf"
	FAILED=$((FAILED + 1))
	tl_check "opted in, $what, failurePolicy Fail: ADD returns error $code" is_error "$code" "$text"
	tl_check "opted in, $what, failurePolicy Fail: the ADD is counted as failed" record_is "$IGNORED" "$FAILED" team/web
	plugin CHECK "$conf"
	tl_check "opted in, $what, failurePolicy Fail: CHECK returns error $code" is_error "$code" "$text"
	plugin DEL "$conf"
	tl_check "opted in, $what, failurePolicy Fail: DEL passes" test "$RC:$OUT" = 0:

	for policy in Ignore -; do
		conf=$(config "$policy" "$OPT_IN, $extra")
		lines=$(wc -l <"$STDERR_LOG")
		tl_check "opted in, $what, failurePolicy ${policy/-/default (Ignore)}: ADD prints prevResult, CHECK and DEL pass" \
			all_pass "$conf"
		IGNORED=$((IGNORED + 1))
		tl_check "opted in, $what, failurePolicy ${policy/-/default (Ignore)}: the log says why the pod starts without socklb" \
			grep -q "ADD policy-$TL_ID (team/web): .*$text.*; failurePolicy Ignore: the pod starts without socklb" \
			<(log_since "$lines")
	done
	tl_check "opted in, $what: the ignored ADDs are counted as ignored" record_is "$IGNORED" "$FAILED"
done

# The control: with nothing wrong, an opted-in pod is attached under Ignore too; a link
# removed behind its back is CHECK's error under Fail, a logged success under Ignore.
plugin ADD "$(config - "$OPT_IN")"
tl_check "control: nothing wrong, failurePolicy default: ADD attaches the pod (8 links)" \
	test "$RC:$(find "$LINKS" -mindepth 1 2>/dev/null | wc -l)" = 0:8
rm -f "$LINKS/socklb_connect4"
plugin CHECK "$(config Fail "$OPT_IN")"
tl_check "a link removed, failurePolicy Fail: CHECK returns error 105" is_error 105 socklb_connect4
lines=$(wc -l <"$STDERR_LOG")
plugin CHECK "$(config Ignore "$OPT_IN")"
tl_check "a link removed, failurePolicy Ignore: CHECK passes and logs it" \
	bash -c '[ "$1:$2" = 0: ] && grep -q "CHECK .*socklb_connect4.*failurePolicy Ignore: the pod runs without socklb" <<<"$3"' \
	_ "$RC" "$OUT" "$(log_since "$lines")"
plugin DEL "$(config Ignore "$OPT_IN")"
tl_check "DEL removes the attachment" test "$RC:$OUT:$(ls -A "$TL_BPFFS/links")" = "0::"
tl_check "CHECK is never counted, nor a pod attached" record_is "$IGNORED" "$FAILED"

# ------------------------------------------- STATUS
for policy in Fail Ignore; do
	lines=$(wc -l <"$STDERR_LOG")
	plugin STATUS "$(config "$policy" "\"cniVersion\": \"1.1.0\", \"bpffsRoot\": \"$TL_TMP/no-bpffs/socklb\"")"
	tl_check "STATUS without bpffs, failurePolicy $policy: exit 0, the log names what is missing" \
		bash -c '[ "$1:$2" = 0: ] && grep -q "STATUS: socklb cannot attach pods on this node: no bpffs.*failurePolicy $3" <<<"$4"' \
		_ "$RC" "$OUT" "$policy" "$(log_since "$lines")"
done
plugin STATUS "$(config Fail "\"cniVersion\": \"1.1.0\", \"failurePolicy\": \"Never\"")"
tl_check "STATUS with a bad key: exit 0" test "$RC:$OUT" = 0:

# ------------------------------------------- the daemon reports the record
echo '{"apiVersion": "v1", "kind": "List", "items": []}' >"$TL_TMP/empty.json"
# metrics_port PID: the port the daemon's metrics server listens on (it was given port 0).
metrics_port() {
	ss -Hltnp 2>/dev/null | awk -v pid="pid=$1," 'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }'
}
start_syncd() { # start_syncd RECORD_FILE: sets SYNCD_PID and PORT
	"$SYNCD" --source "file:$TL_TMP/empty.json" --bpffs-root "$TL_BPFFS/daemon" --node-name node-a \
		--metrics-addr 127.0.0.1:0 --attach-failures-file "$1" 2>>"$TL_TMP/syncd.log" &
	SYNCD_PID=$!
	TL_PIDS+=("$SYNCD_PID")
	PORT=
	for _ in $(seq 50); do
		PORT=$(metrics_port "$SYNCD_PID")
		[ -n "$PORT" ] && return 0
		sleep 0.1
	done
	return 1
}
scrape() {
	curl -s -m 2 "http://127.0.0.1:$PORT/metrics"
}
start_syncd "$TL_TMP/never-written" || tl_not_ok "socklb-syncd did not serve /metrics"
tl_check "socklb-syncd, no record yet: socklb_pod_attach_failures_total 0 for each policy" \
	bash -c 'm=$(curl -s -m 2 "$1"); grep -qx "socklb_pod_attach_failures_total{policy=\"Ignore\"} 0" <<<"$m" &&
		grep -qx "socklb_pod_attach_failures_total{policy=\"Fail\"} 0" <<<"$m"' _ "http://127.0.0.1:$PORT/metrics"
tl_stop "$SYNCD_PID"

start_syncd "$RECORD" || tl_not_ok "socklb-syncd did not serve /metrics"
METRICS=$(scrape)
tl_check "socklb-syncd reports the plugin's record: $IGNORED ignored, $FAILED failed" \
	bash -c 'grep -qx "socklb_pod_attach_failures_total{policy=\"Ignore\"} $2" <<<"$1" &&
		grep -qx "socklb_pod_attach_failures_total{policy=\"Fail\"} $3" <<<"$1"' _ "$METRICS" "$IGNORED" "$FAILED"
tl_check "socklb-syncd reports the last failure's pod and message" \
	grep -Eq '^socklb_pod_attach_last_failure\{pod="team/web",message="invalid network configuration: logLevel: .+"\} [0-9]{10}' \
	<<<"$METRICS"
plugin ADD "$(config Fail "$OPT_IN, \"cgroupRoot\": \"$TL_CG/elsewhere\"")"
tl_check "a new failure is in the next scrape" \
	grep -qx "socklb_pod_attach_failures_total{policy=\"Fail\"} $((FAILED + 1))" <(scrape)
tl_stop "$SYNCD_PID"

tl_finish

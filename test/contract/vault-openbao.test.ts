// Contract tests against real OpenBao 2.7.2 dev servers: logins, KV v2 rotation, token renewal,
// leases renewed and revoked (close, kill switch), re-login after revocation, Vault stopped mid-run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { resolveVaultConnection, vaultSchema, type VaultConfig } from '../../extproc/config/vault-schema.ts';
import { createCredentialBroker, type LeaseEventKind } from '../../extproc/credentials/broker.ts';
import type { Credential, CredentialScope, CredentialSource } from '../../extproc/credentials/credential-source.ts';
import { createVaultRuntime, type VaultRuntime } from '../../extproc/credentials/vault/build.ts';
import { VaultError } from '../../extproc/credentials/vault/errors.ts';
import { tollgateRejection } from '../helpers/assertions.ts';
import { servedAtOnce } from '../helpers/credentials.ts';
import { ROOT_TOKEN, setupAppRole, setupJwt, startOpenBao, type OpenBao } from '../helpers/openbao.ts';

const reveal = (c: Credential | undefined): string | undefined => (c === undefined || c.kind === 'none' || c.kind === 'aws' ? undefined : c.secret.reveal());
const meta = (c: Credential | undefined) => (c === undefined || c.kind === 'none' ? undefined : c.meta);
const scope = (identity: string, provider = 'openai', tenant = 'team-a'): CredentialScope => ({ tenant, identity, provider });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const POLICY = `
path "secret/data/tollgate/*" { capabilities = ["read"] }
`;

let dir: string;
let kv: OpenBao;
let leased: OpenBao;
let approle: { roleId: string; secretId: string };
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
const runtimes: VaultRuntime[] = [];
const servers: OpenBao[] = [];

function runtime(bao: OpenBao, auth: unknown, extra: Record<string, unknown> = {}, env: Record<string, string> = {}): { rt: VaultRuntime; calls: string[]; auth: string[] } {
  const cfg: VaultConfig = vaultSchema.parse({ address: bao.address, auth, retries: 0, timeoutMs: 2_000, ...extra });
  const calls: string[] = [];
  const authEvents: string[] = [];
  const rt = createVaultRuntime(cfg, resolveVaultConnection(cfg, env), { observer: { vaultCall: (op, outcome) => calls.push(`${op}:${outcome}`), authEvent: (k) => authEvents.push(k) } });
  runtimes.push(rt);
  return { rt, calls, auth: authEvents };
}

async function leaseKeys(bao: OpenBao, prefix: string): Promise<string[]> {
  const r = await bao.raw('LIST', `sys/leases/lookup/${prefix}/`);
  if (r.status === 404) return [];
  return (r.body as { data: { keys: string[] } }).data.keys;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-contract-'));
  [kv, leased] = await Promise.all([startOpenBao({ env: process.env }), startOpenBao({ env: process.env, leasedKv: true })]);
  servers.push(kv, leased);
  await kv.api('POST', 'secret/data/tollgate/openai', { data: { api_key: 'sk-openbao-v1' } });
  approle = await setupAppRole(kv, POLICY);
  writeFileSync(join(dir, 'secret-id'), `${approle.secretId}\n`);
  const keys = await generateKeyPair('RS256', { extractable: true });
  privateKey = keys.privateKey;
  await setupJwt(kv, await exportSPKI(keys.publicKey), 'tollgate-vault');
});

after(async () => {
  await Promise.allSettled(runtimes.map((r) => r.close()));
  await Promise.allSettled(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('OpenBao: Tollgate logins', { timeout: 30_000 }, () => {
  it('AppRole login (secret_id from a file), then a KV v2 read of a provider key with its version', async () => {
    const { rt, calls, auth } = runtime(kv, { method: 'approle', roleId: approle.roleId, secretIdFile: join(dir, 'secret-id') });
    await rt.start();
    assert.deepEqual(auth, ['login']);
    const src = rt.source({ source: 'vault-kv2', mount: 'secret', path: 'tollgate/{provider}', field: 'api_key', as: 'api-key' });
    const c = await src.fetch(scope('agent-1'));
    assert.equal(reveal(c), 'sk-openbao-v1');
    assert.equal(meta(c)?.source, 'vault-kv2:secret/tollgate/openai');
    assert.ok((meta(c)?.version ?? 0) >= 1);
    assert.deepEqual(calls, ['login_approle:ok', 'kv2_read:ok']);
    assert.ok(rt.auth.expiresAt !== undefined && rt.auth.expiresAt > Date.now() + 3_000_000, 'the 1 h token TTL is tracked');
  });

  it('a path outside the policy gets 403: one fresh login, then credential_unavailable', async () => {
    await kv.api('POST', 'secret/data/other/openai', { data: { api_key: 'sk-not-yours' } });
    const { rt, calls } = runtime(kv, { method: 'approle', roleId: approle.roleId, secretIdFile: join(dir, 'secret-id') });
    const b = createCredentialBroker(new Map([['openai', rt.source({ source: 'vault-kv2', mount: 'secret', path: 'other/{provider}', field: 'api_key', as: 'api-key' })]]), { refreshMs: 60_000, expiryMarginMs: 1_000 });
    const err = await tollgateRejection(b.get(scope('agent-1')));
    assert.equal(err.code, 'credential_unavailable');
    assert.match(err.message, /kv2_read: HTTP 403/);
    assert.deepEqual(calls, ['login_approle:ok', 'kv2_read:denied', 'login_approle:ok', 'kv2_read:denied']);
    await b.close();
  });

  it('JWT login with an RS256 token minted now; a wrong audience is refused', async () => {
    const mint = (aud: string): Promise<string> => new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer('https://tollgate.test').setSubject('tollgate').setAudience(aud).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    writeFileSync(join(dir, 'jwt-good'), await mint('tollgate-vault'));
    writeFileSync(join(dir, 'jwt-bad'), await mint('someone-else'));
    const good = runtime(kv, { method: 'jwt', role: 'tollgate', jwtFile: join(dir, 'jwt-good') });
    await good.rt.start();
    const c = await good.rt.source({ source: 'vault-kv2', mount: 'secret', path: 'tollgate/openai', field: 'api_key', as: 'api-key' }).fetch(scope('a'));
    assert.equal(reveal(c), 'sk-openbao-v1');
    const bad = runtime(kv, { method: 'jwt', role: 'tollgate', jwtFile: join(dir, 'jwt-bad') });
    const err = await bad.rt.start().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof VaultError, String(err));
    assert.equal(err.status, 400);
    assert.match(err.message, /audience/);
    assert.deepEqual(bad.auth, ['login_failed']);
  });

  it('token renew-self at about 2/3 of a 3 s TTL keeps the token alive past its first TTL', async () => {
    await kv.api('POST', 'auth/approle/role/short', { token_policies: ['tollgate'], token_ttl: '3s', token_max_ttl: '1h' });
    const roleId = ((await kv.api('GET', 'auth/approle/role/short/role-id')) as { data: { role_id: string } }).data.role_id;
    const secretId = ((await kv.api('POST', 'auth/approle/role/short/secret-id', {})) as { data: { secret_id: string } }).data.secret_id;
    writeFileSync(join(dir, 'short-secret-id'), secretId);
    const { rt, calls, auth } = runtime(kv, { method: 'approle', roleId, secretIdFile: join(dir, 'short-secret-id') });
    await rt.start();
    const first = rt.auth.expiresAt ?? 0;
    await sleep(3_500);
    assert.ok(auth.includes('renewed'), auth.join(','));
    assert.ok((rt.auth.expiresAt ?? 0) > first, 'the expiry moved forward');
    assert.ok(calls.includes('token_renew_self:ok'));
    const c = await rt.source({ source: 'vault-kv2', mount: 'secret', path: 'tollgate/openai', field: 'api_key', as: 'api-key' }).fetch(scope('a'));
    assert.equal(reveal(c), 'sk-openbao-v1');
    assert.equal(calls.filter((x) => x.startsWith('login')).length, 1, 'renewed, not re-logged-in');
    const lookup = (await kv.api('POST', 'auth/token/lookup', { token: (await rt.auth.token()).reveal() })) as { data: { ttl: number; renewable: boolean } };
    assert.ok(lookup.data.ttl > 0 && lookup.data.ttl <= 3 && lookup.data.renewable);
  });

  it('logs in afresh when its token is revoked behind its back', async () => {
    const { rt, calls } = runtime(kv, { method: 'approle', roleId: approle.roleId, secretIdFile: join(dir, 'secret-id') });
    await rt.start();
    const token = await rt.auth.token();
    await kv.api('POST', 'auth/token/revoke', { token: token.reveal() });
    const c = await rt.source({ source: 'vault-kv2', mount: 'secret', path: 'tollgate/openai', field: 'api_key', as: 'api-key' }).fetch(scope('a'));
    assert.equal(reveal(c), 'sk-openbao-v1');
    assert.deepEqual(calls, ['login_approle:ok', 'kv2_read:denied', 'login_approle:ok', 'kv2_read:ok']);
    assert.notEqual((await rt.auth.token()).reveal(), token.reveal());
  });
});

describe('OpenBao: KV v2 rotation through the broker', { timeout: 30_000 }, () => {
  it('a new version in Vault is served without restart: on the refresh schedule and at once on invalidate', async () => {
    await kv.api('POST', 'secret/data/tollgate/rotating', { data: { api_key: 'sk-rot-1' } });
    const { rt, calls } = runtime(kv, { method: 'token' }, {}, { VAULT_TOKEN: ROOT_TOKEN });
    const src = rt.source({ source: 'vault-kv2', mount: 'secret', path: 'tollgate/rotating', field: 'api_key', as: 'api-key' });
    const b = createCredentialBroker(new Map([['openai', src]]), { refreshMs: 300, expiryMarginMs: 1_000, invalidateMinIntervalMs: 0 });
    const v1 = await b.get(scope('a'));
    assert.equal(reveal(v1), 'sk-rot-1');
    await kv.api('POST', 'secret/data/tollgate/rotating', { data: { api_key: 'sk-rot-2' } });
    await sleep(600);
    const v2 = servedAtOnce(b, scope('a'));
    assert.equal(reveal(v2), 'sk-rot-2', 'the background re-read picked up the new version');
    assert.equal(meta(v2)?.version, (meta(v1)?.version ?? 0) + 1);
    await kv.api('POST', 'secret/data/tollgate/rotating', { data: { api_key: 'sk-rot-3' } });
    await b.invalidate(scope('a'));
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-rot-3', 'invalidate (a provider 401) re-reads now');
    const before = calls.length;
    for (let i = 0; i < 1000; i++) assert.ok(servedAtOnce(b, scope('a')) !== undefined);
    assert.equal(calls.length, before, '1000 warm lookups, zero Vault calls');
    await b.close();
  });
});

describe('OpenBao: leased secrets', { timeout: 30_000 }, () => {
  const leasedSrc = (rt: VaultRuntime, path: string): CredentialSource => rt.source({ source: 'vault-leased', path, field: 'api_key', as: 'api-key' });

  it('renews a lease at about 2/3 of its TTL through the broker, then revokes it on close', async () => {
    await leased.api('POST', 'secret/tollgate/renewing', { api_key: 'sk-leased', ttl: '3s' });
    const { rt, calls } = runtime(leased, { method: 'token' }, {}, { VAULT_TOKEN: ROOT_TOKEN });
    const events: LeaseEventKind[] = [];
    const b = createCredentialBroker(new Map([['openai', leasedSrc(rt, 'secret/tollgate/renewing')]]), { refreshMs: 60_000, expiryMarginMs: 500, observer: { leaseEvent: (k) => events.push(k) } });
    const c = await b.get(scope('a'));
    assert.equal(reveal(c), 'sk-leased');
    assert.equal(meta(c)?.renewable, true);
    assert.match(meta(c)?.leaseIdHash ?? '', /^[0-9a-f]{16}$/);
    const [leaseId] = await leaseKeys(leased, 'secret/tollgate/renewing');
    assert.ok(leaseId !== undefined);
    assert.ok(!JSON.stringify(meta(c)).includes(leaseId), 'the lease id itself is not in the metadata');
    await sleep(3_200);
    assert.ok(events.includes('renewed'), events.join(','));
    assert.ok(calls.includes('lease_renew:ok'));
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-leased', 'still served past the first TTL');
    assert.ok((meta(servedAtOnce(b, scope('a')))?.expiresAt ?? 0) > Date.now());
    await b.close();
    assert.deepEqual(await leaseKeys(leased, 'secret/tollgate/renewing'), [], 'revoked on close');
    const lookup = await leased.raw('PUT', 'sys/leases/lookup', { lease_id: `secret/tollgate/renewing/${leaseId}` });
    assert.equal(lookup.status, 400);
  });

  it('the kill switch revokes every lease of one identity, denies it, and leaves another identity alone', async () => {
    await leased.api('POST', 'secret/tollgate/agent-1', { api_key: 'sk-agent-1', ttl: '1h' });
    await leased.api('POST', 'secret/tollgate/agent-2', { api_key: 'sk-agent-2', ttl: '1h' });
    const { rt } = runtime(leased, { method: 'token' }, {}, { VAULT_TOKEN: ROOT_TOKEN });
    const b = createCredentialBroker(new Map([['openai', leasedSrc(rt, 'secret/tollgate/{identity}')]]), { refreshMs: 60_000, expiryMarginMs: 1_000 });
    assert.equal(reveal(await b.get(scope('agent-1'))), 'sk-agent-1');
    assert.equal(reveal(await b.get(scope('agent-2'))), 'sk-agent-2');
    assert.equal((await leaseKeys(leased, 'secret/tollgate/agent-1')).length, 1);
    assert.deepEqual(await b.revokeIdentity('team-a', 'agent-1'), { revoked: 1 });
    assert.deepEqual(await leaseKeys(leased, 'secret/tollgate/agent-1'), []);
    assert.equal((await leaseKeys(leased, 'secret/tollgate/agent-2')).length, 1);
    assert.equal(servedAtOnce(b, scope('agent-1')), undefined);
    // A disabled identity is refused as such (403), not as a retryable credential outage (503).
    assert.equal((await tollgateRejection(b.get(scope('agent-1')))).code, 'identity_disabled');
    assert.equal(reveal(servedAtOnce(b, scope('agent-2'))), 'sk-agent-2');
    await b.close();
  });

  it('Vault stopped mid-run: the cached lease serves until expiry minus margin, then credential_unavailable', async () => {
    const doomed = await startOpenBao({ env: process.env, leasedKv: true });
    servers.push(doomed);
    await doomed.api('POST', 'secret/tollgate/doomed', { api_key: 'sk-doomed', ttl: '3s' });
    const { rt, calls } = runtime(doomed, { method: 'token' }, {}, { VAULT_TOKEN: ROOT_TOKEN });
    const b = createCredentialBroker(new Map([['openai', leasedSrc(rt, 'secret/tollgate/doomed')]]), { refreshMs: 60_000, expiryMarginMs: 1_000, backoff: { minMs: 200, maxMs: 400 } });
    const c = await b.get(scope('a'));
    const expiresAt = meta(c)?.expiresAt ?? 0;
    await doomed.stop();
    await sleep(Math.max(0, expiresAt - 1_000 - Date.now() - 300));
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-doomed', 'served while unexpired, Vault down');
    await sleep(expiresAt - 1_000 - Date.now() + 50);
    assert.equal(servedAtOnce(b, scope('a')), undefined, 'never served past expiry minus margin');
    const err = await tollgateRejection(b.get(scope('a')));
    assert.equal(err.code, 'credential_unavailable');
    assert.equal(err.entry.httpStatus, 503);
    assert.ok(calls.some((x) => x.endsWith(':transport')), calls.join(','));
    await b.close();
  });
});

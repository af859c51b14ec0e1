// The Vault client against a fault-injecting fake on loopback: retries, breaker, 403 re-login,
// timeouts, resets, TLS and mTLS, path validation, engine shapes, and no secret in any output.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { resolveVaultConnection, vaultSchema } from '../../extproc/config/vault-schema.ts';
import { Secret } from '../../extproc/core/secret.ts';
import { createCredentialBroker } from '../../extproc/credentials/broker.ts';
import type { Credential } from '../../extproc/credentials/credential-source.ts';
import { createVaultAuth } from '../../extproc/credentials/vault/auth.ts';
import { CircuitBreaker } from '../../extproc/credentials/vault/breaker.ts';
import { createVaultRuntime } from '../../extproc/credentials/vault/build.ts';
import { createVaultClient, type VaultClient } from '../../extproc/credentials/vault/client.ts';
import { VaultError } from '../../extproc/credentials/vault/errors.ts';
import { checkSegment, compilePathTemplate, vaultPath, VaultPathError } from '../../extproc/credentials/vault/paths.ts';
import { vaultAwsSource, vaultAzureKv2Source, vaultGcpSource, vaultKv2Source } from '../../extproc/credentials/vault/sources.ts';
import { createVaultTransport, type VaultTransportOptions } from '../../extproc/credentials/vault/transport.ts';
import { createLogger } from '../../extproc/telemetry/logger.ts';
import { makeCa, makeLeaf, pem } from '../helpers/certs.ts';
import { servedAtOnce } from '../helpers/credentials.ts';
import { startFakeVault, type FakeVault } from '../helpers/fake-vault.ts';

const ROOT = 'hvs.PLANTED-root-token-0123456789';
const SECRET_ID = 'PLANTED-secret-id-abcdef';
const API_KEY = 'sk-PLANTED-provider-key-zyxw';
const SCOPE = { tenant: 'team-a', identity: 'agent-1', provider: 'openai' };

let fake: FakeVault;
let dir: string;

function client(extra: Partial<VaultTransportOptions> = {}, token = ROOT): { c: VaultClient; calls: string[] } {
  const calls: string[] = [];
  const transport = createVaultTransport({ address: fake.address, retries: 2, retryWaitMinMs: 1, retryWaitMaxMs: 2, timeoutMs: 500, observer: { vaultCall: (op, outcome) => calls.push(`${op}:${outcome}`), breakerRejected: (op) => calls.push(`${op}:rejected_by_breaker`) }, ...extra });
  const auth = createVaultAuth({ login: { method: 'token', token: new Secret(token) }, transport });
  return { c: createVaultClient(transport, auth), calls };
}

const failure = async (p: Promise<unknown>): Promise<VaultError> => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof VaultError, `expected a VaultError, got ${String(e)}`);
  return e;
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-unit-'));
  fake = await startFakeVault({ rootToken: ROOT, approle: { roleId: 'role-1', secretId: SECRET_ID } });
  fake.kvPut('secret/tollgate/openai', { api_key: API_KEY });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Vault paths', () => {
  const bad = ['', '.', '..', '../x', 'a/b', 'a%2fb', 'a b', '{tenant}', 'a?b', 'a#b', 'é', '-lead', '_lead', 'x'.repeat(129), 'a\\b', 'a\nb'];
  for (const s of bad) {
    it(`refuses the segment ${JSON.stringify(s.slice(0, 20))}`, () => {
      assert.throws(() => checkSegment(s), VaultPathError);
    });
  }
  it('accepts ordinary names and percent-encodes each segment', () => {
    assert.equal(vaultPath('secret', 'data', 'team-a', 'open.ai_v2', 'x@y+z'), '/secret/data/team-a/open.ai_v2/x%40y%2Bz');
  });
  it('templates only whole segments and refuses a scope value outside the charset, before any call', async () => {
    assert.throws(() => compilePathTemplate('tollgate/x{tenant}'), VaultPathError);
    assert.throws(() => compilePathTemplate('tollgate/../{tenant}'), VaultPathError);
    const render = compilePathTemplate('tollgate/{tenant}/{provider}');
    assert.deepEqual(render({ tenant: 'team-a', identity: 'i', provider: 'openai' }), ['tollgate', 'team-a', 'openai']);
    const { c } = client();
    const before = fake.calls.length;
    const src = vaultKv2Source({ client: c, mount: 'secret', path: 'tollgate/{identity}' });
    for (const identity of ['../../sys/seal', '..', 'a/b', 'a%2F..']) {
      await assert.rejects(src.fetch({ ...SCOPE, identity }), VaultPathError);
    }
    assert.equal(fake.calls.length, before, 'no request reached Vault');
  });
});

describe('Vault faults', () => {
  const retryable: readonly [string, Parameters<FakeVault['fault']>[0], string][] = [
    ['sealed (503)', { status: 503 }, 'sealed_or_unavailable'],
    ['rate-limited (429)', { status: 429 }, 'rate_limited'],
    ['not yet replicated (412)', { status: 412 }, 'not_replicated'],
    ['internal error (500)', { status: 500 }, 'server_error'],
    ['connection reset', { reset: true }, 'transport'],
    ['slower than the timeout', { delayMs: 700 }, 'timeout'],
  ];
  for (const [label, f, outcome] of retryable) {
    it(`${label}: retried, and served when Vault recovers within the retries`, async () => {
      fake.clearFaults();
      fake.fault({ ...f, path: '/v1/secret/', times: 2 });
      const { c, calls } = client();
      const r = await c.kvRead('secret', ['tollgate', 'openai']);
      assert.equal(r.data.api_key, API_KEY);
      assert.deepEqual(calls, [`kv2_read:${outcome}`, `kv2_read:${outcome}`, 'kv2_read:ok']);
    });
    it(`${label}: persistent, it fails after 3 calls with a retryable VaultError`, async () => {
      fake.clearFaults();
      fake.fault({ ...f, path: '/v1/secret/' });
      const { c, calls } = client();
      const e = await failure(c.kvRead('secret', ['tollgate', 'openai']));
      assert.ok(e.retryable);
      assert.equal(calls.length, 3);
      fake.clearFaults();
    });
  }
  const final: readonly [number, string][] = [[400, 'client_error'], [404, 'not_found'], [501, 'server_error']];
  for (const [status, outcome] of final) {
    it(`HTTP ${status} is not retried`, async () => {
      fake.clearFaults();
      fake.fault({ status, path: '/v1/secret/' });
      const { c, calls } = client();
      const e = await failure(c.kvRead('secret', ['tollgate', 'openai']));
      assert.equal(e.status, status);
      assert.ok(!e.retryable);
      assert.deepEqual(calls, [`kv2_read:${outcome}`]);
      fake.clearFaults();
    });
  }

  it('403: one fresh AppRole login, then the call succeeds', async () => {
    fake.clearFaults();
    writeFileSync(join(dir, 'sid'), SECRET_ID);
    const calls: string[] = [];
    const transport = createVaultTransport({ address: fake.address, retries: 0, observer: { vaultCall: (op, o) => calls.push(`${op}:${o}`) } });
    const auth = createVaultAuth({ login: { method: 'approle', mount: 'approle', roleId: 'role-1', secretIdFile: join(dir, 'sid') }, transport });
    const c = createVaultClient(transport, auth);
    await auth.start();
    fake.fault({ status: 403, path: '/v1/secret/', times: 1 });
    assert.equal((await c.kvRead('secret', ['tollgate', 'openai'])).data.api_key, API_KEY);
    assert.deepEqual(calls, ['login_approle:ok', 'kv2_read:denied', 'login_approle:ok', 'kv2_read:ok']);
    await auth.close();
    assert.equal(calls.at(-1), 'token_revoke_self:ok', 'its own login token is revoked on close');
  });

  it('the circuit breaker opens after repeated failures, fails fast without HTTP calls, then probes and closes', async () => {
    fake.clearFaults();
    fake.fault({ status: 503, path: '/v1/secret/' });
    let t = 0;
    const states: string[] = [];
    const causes: string[] = [];
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000, now: () => t, onStateChange: (s, cause) => { states.push(s); causes.push(cause); } });
    const { c, calls } = client({ breaker, retries: 0 });
    for (let i = 0; i < 3; i++) await failure(c.kvRead('secret', ['tollgate', 'openai']));
    const httpBefore = fake.calls.length;
    const open = await failure(c.kvRead('secret', ['tollgate', 'openai']));
    assert.equal(open.kind, 'breaker_open');
    assert.equal(fake.calls.length, httpBefore, 'no HTTP call while open');
    // A refused call is counted apart from the HTTP calls to Vault.
    assert.equal(calls.at(-1), 'kv2_read:rejected_by_breaker');
    assert.equal(calls.filter((x) => x.includes('breaker_open')).length, 0);
    assert.match(causes[0] ?? '', /3 consecutive failures, last: sealed_or_unavailable/);
    fake.clearFaults();
    t += 1_000;
    assert.equal((await c.kvRead('secret', ['tollgate', 'openai'])).data.api_key, API_KEY);
    assert.deepEqual(states, ['open', 'half_open', 'closed']);
    assert.deepEqual(causes.slice(1), ['cool_down_over', 'probe_succeeded']);
  });

  it('through the broker: a cached KV key keeps serving while Vault is sealed, and a cold scope fails closed', async () => {
    fake.clearFaults();
    const { c } = client({ retries: 0 });
    const src = vaultKv2Source({ client: c, mount: 'secret', path: 'tollgate/{provider}' });
    const b = createCredentialBroker(new Map([['openai', src]]), { refreshMs: 50, expiryMarginMs: 1_000, backoff: { minMs: 10, maxMs: 20 } });
    await b.get(SCOPE);
    fake.fault({ status: 503, path: '/v1/secret/' });
    await new Promise((r) => setTimeout(r, 200));
    const c1 = servedAtOnce(b, SCOPE);
    assert.equal(c1?.kind === 'api-key' ? c1.secret.reveal() : undefined, API_KEY);
    const err = await b.get({ ...SCOPE, identity: 'cold' }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error && /credential_unavailable/.test(err.message));
    fake.clearFaults();
    await b.close();
  });
});

describe('Vault engine shapes', () => {
  const tokenShapes: readonly (readonly ('security_token' | 'session_token')[])[] = [['security_token'], ['session_token'], ['security_token', 'session_token']];
  for (const fields of tokenShapes) {
    for (const endpoint of ['creds', 'sts'] as const) {
      it(`aws/${endpoint} with ${fields.join(' + ')} → an aws credential with a session token`, async () => {
        fake.awsTokenFields = fields;
        const { c } = client();
        const src = vaultAwsSource({ client: c, mount: 'aws', endpoint, role: '{tenant}', ttl: '15m' });
        const cred = await src.fetch(SCOPE);
        assert.equal(cred.kind, 'aws');
        assert.match(cred.accessKeyId, /^AKIAFAKE/);
        assert.match(cred.sessionToken?.reveal() ?? '', /^FwoGZXIvYXdzEJr-session-/);
        assert.ok((cred.meta.expiresAt ?? 0) > Date.now());
        assert.equal(cred.meta.renewable, endpoint === 'creds');
        const last = fake.calls.at(-1);
        assert.equal(last?.method, endpoint === 'creds' ? 'GET' : 'POST');
        assert.ok(last.path.startsWith(`/v1/aws/${endpoint}/team-a`));
        assert.equal(await src.revoke!(cred), true);
      });
    }
  }

  it('gcp token → bearer with expires_at_seconds as its hard expiry, no lease', async () => {
    const { c } = client();
    const cred = await vaultGcpSource({ client: c, mount: 'gcp', kind: 'roleset', name: 'vertex' }).fetch(SCOPE);
    assert.equal(cred.kind, 'bearer');
    assert.match(cred.secret.reveal(), /^ya29\./);
    assert.ok(Math.abs((cred.meta.expiresAt ?? 0) - (Date.now() + 3_600_000)) < 2_000);
    assert.equal(cred.meta.leaseIdHash, undefined);
  });

  it('Azure OpenAI api-key from KV v2, labelled as such', async () => {
    fake.kvPut('secret/azure/eastus', { api_key: 'azure-key-1' });
    const { c } = client();
    const cred = await vaultAzureKv2Source({ client: c, mount: 'secret', path: 'azure/eastus' }).fetch(SCOPE);
    assert.equal(cred.kind === 'api-key' ? cred.secret.reveal() : '', 'azure-key-1');
    assert.equal(cred.kind === 'api-key' ? cred.meta.source : '', 'vault-azure-kv2:secret/azure/eastus');
  });

  it('a response of the wrong shape is an invalid_response error, not a crash or a bad credential', async () => {
    fake.clearFaults();
    fake.fault({ path: '/v1/gcp/', status: 200, body: { data: { token: 'x' } }, times: 1 });
    const { c } = client();
    const e = await failure(vaultGcpSource({ client: c, mount: 'gcp', kind: 'roleset', name: 'vertex' }).fetch(SCOPE));
    assert.equal(e.kind, 'invalid_response');
    assert.match(e.message, /expires_at_seconds/);
  });

  it('sends X-Vault-Namespace and X-Vault-Request, and a KV version as a query parameter', async () => {
    const { c } = client({ namespace: 'team-ns' });
    fake.kvPut('secret/tollgate/versioned', { api_key: 'v1' });
    fake.kvPut('secret/tollgate/versioned', { api_key: 'v2' });
    const r = await c.kvRead('secret', ['tollgate', 'versioned'], 1);
    assert.equal(r.data.api_key, 'v1');
    assert.equal(r.version, 1);
    assert.equal(fake.calls.at(-1)?.namespace, 'team-ns');
    assert.equal(fake.calls.at(-1)?.path, '/v1/secret/data/tollgate/versioned?version=1');
  });
});

describe('Vault TLS', () => {
  let tls: FakeVault;
  let mtls: FakeVault;
  let ca: { certFile: string; keyFile: string };
  let clientCert: { certFile: string; keyFile: string };
  before(async () => {
    ca = makeCa(dir, 'vault-ca');
    const server = makeLeaf(dir, 'vault-server', ca, 'IP:127.0.0.1', 'serverAuth');
    clientCert = makeLeaf(dir, 'tollgate-client', ca, 'DNS:tollgate', 'clientAuth');
    tls = await startFakeVault({ rootToken: ROOT, tls: { cert: pem(server.certFile), key: pem(server.keyFile) } });
    mtls = await startFakeVault({ rootToken: ROOT, tls: { cert: pem(server.certFile), key: pem(server.keyFile), ca: pem(ca.certFile), requestCert: true } });
    tls.kvPut('secret/k', { api_key: 'tls-key' });
    mtls.kvPut('secret/k', { api_key: 'mtls-key' });
  });
  after(async () => {
    await tls.close();
    await mtls.close();
  });

  const read = (address: string, tlsCfg: Record<string, unknown>, env: Record<string, string> = {}) => {
    const cfg = vaultSchema.parse({ address, auth: { method: 'token' }, retries: 0, timeoutMs: 2_000, tls: tlsCfg });
    const rt = createVaultRuntime(cfg, resolveVaultConnection(cfg, { VAULT_TOKEN: ROOT, ...env }));
    return rt.client.kvRead('secret', ['k']);
  };

  it('verifies the server against vault.tls.caFile', async () => {
    assert.equal((await read(tls.address, { caFile: ca.certFile })).data.api_key, 'tls-key');
  });
  it('takes the CA from VAULT_CACERT when the config names none', async () => {
    assert.equal((await read(tls.address, {}, { VAULT_CACERT: ca.certFile })).data.api_key, 'tls-key');
  });
  it('refuses an unknown CA', async () => {
    const e = await failure(read(tls.address, {}));
    assert.equal(e.kind, 'transport');
  });
  it('VAULT_SKIP_VERIFY=false in the process environment does not switch verification off (node-vault would)', async () => {
    const saved = process.env.VAULT_SKIP_VERIFY;
    process.env.VAULT_SKIP_VERIFY = 'false';
    try {
      const e = await failure(read(tls.address, {}, { VAULT_SKIP_VERIFY: 'false' }));
      assert.equal(e.kind, 'transport');
    } finally {
      if (saved === undefined) delete process.env.VAULT_SKIP_VERIFY;
      else process.env.VAULT_SKIP_VERIFY = saved;
    }
  });
  it('VAULT_SKIP_VERIFY=true (explicitly) skips verification', async () => {
    assert.equal((await read(tls.address, {}, { VAULT_SKIP_VERIFY: 'true' })).data.api_key, 'tls-key');
  });
  it('presents the client certificate for mTLS, and fails without it', async () => {
    assert.equal((await read(mtls.address, { caFile: ca.certFile, certFile: clientCert.certFile, keyFile: clientCert.keyFile })).data.api_key, 'mtls-key');
    const e = await failure(read(mtls.address, { caFile: ca.certFile }));
    assert.ok(e.kind === 'transport' || e.kind === 'timeout', e.message);
  });
});

describe('no secret reaches a log line, an error or an observer', () => {
  it('plants the token, secret_id, provider key, lease ids and AWS secrets; greps everything produced', async () => {
    fake.clearFaults();
    writeFileSync(join(dir, 'sid2'), SECRET_ID);
    const lines: string[] = [];
    const logger = createLogger('debug', new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } }));
    const observed: string[] = [];
    const observer = { vaultCall: (...a: unknown[]) => observed.push(JSON.stringify(a)), authEvent: (k: string) => observed.push(k), breakerState: (s: string) => observed.push(s) };
    const transport = createVaultTransport({ address: fake.address, retries: 1, retryWaitMinMs: 1, retryWaitMaxMs: 2, timeoutMs: 300, observer });
    const auth = createVaultAuth({ login: { method: 'approle', mount: 'approle', roleId: 'role-1', secretIdFile: join(dir, 'sid2') }, transport, observer });
    const c = createVaultClient(transport, auth);
    await auth.start();
    const token = (await auth.token()).reveal();
    const issued: Credential[] = [];
    const errors: unknown[] = [];
    const attempt = async (p: Promise<Credential>): Promise<void> => {
      try { issued.push(await p); } catch (e) { errors.push(e); }
    };
    const kvSrc = vaultKv2Source({ client: c, mount: 'secret', path: 'tollgate/openai' });
    const awsSrc = vaultAwsSource({ client: c, mount: 'aws', endpoint: 'creds', role: 'r' });
    const b = createCredentialBroker(new Map([['openai', kvSrc], ['bedrock', awsSrc]]), { refreshMs: 60_000, expiryMarginMs: 1_000, observer: { refreshFailed: (...a) => observed.push(inspect(a)), leaseEvent: (...a) => observed.push(JSON.stringify(a)) } });
    await attempt(b.get(SCOPE));
    await attempt(b.get({ ...SCOPE, provider: 'bedrock' }));
    // Faults that echo the token and the key back in Vault's error text, then resets and timeouts.
    for (const f of [{ status: 500, body: { errors: [`boom ${token} ${API_KEY}`] } }, { status: 403, body: { errors: [`permission denied for ${token}`] } }, { reset: true }, { delayMs: 400 }]) {
      fake.clearFaults();
      fake.fault({ ...f, path: '/v1/secret/' });
      await attempt(kvSrc.fetch(SCOPE));
      await attempt(b.get({ ...SCOPE, identity: `cold-${String(errors.length)}` }));
    }
    fake.clearFaults();
    fake.fault({ status: 400, body: { errors: [`lease ${token}`] }, path: '/v1/sys/leases/' });
    const aws = issued.find((x) => x.kind === 'aws');
    assert.ok(aws !== undefined);
    await attempt(awsSrc.renew?.(aws, SCOPE) ?? Promise.reject(new Error('no renew')));
    fake.clearFaults();
    for (const e of errors) logger.error({ err: e }, 'credential failure');
    for (const x of issued) logger.info({ credential: x }, 'credential issued');
    await b.close();
    await auth.close();

    assert.ok(errors.length >= 9, `faults produced errors: ${String(errors.length)}`);
    const awsSecret = aws.secretAccessKey.reveal();
    const awsSession = aws.sessionToken?.reveal() ?? '';
    const leaseIds = [...fake.liveLeases, ...fake.calls.flatMap((x) => (typeof x.body === 'object' && x.body !== null && 'lease_id' in x.body ? [String(x.body.lease_id)] : []))];
    const planted = [ROOT, token, SECRET_ID, API_KEY, awsSecret, awsSession, ...leaseIds].filter((s) => s.length > 6);
    assert.ok(planted.length >= 6);
    const outputs = [
      ...lines,
      ...observed,
      ...errors.flatMap((e) => [String(e), e instanceof Error ? (e.stack ?? '') : '', inspect(e, { depth: null }), JSON.stringify(e)]),
      ...issued.flatMap((x) => [inspect(x, { depth: null }), JSON.stringify(x), x.kind]),
      inspect(c, { depth: null }), inspect(transport, { depth: null }), inspect(auth, { depth: null }), inspect(b, { depth: null }),
    ];
    for (const text of outputs) for (const s of planted) assert.ok(!text.includes(s), `a planted secret leaked into: ${text.slice(0, 300)}`);
  });
});

describe("Tollgate's own token: changes, token file, start", () => {
  it('a login that replaces a token is announced (once per new token), the first login is not; start() after a login makes no call', async () => {
    fake.clearFaults();
    writeFileSync(join(dir, 'sid3'), SECRET_ID);
    const calls: string[] = [];
    const transport = createVaultTransport({ address: fake.address, retries: 0, observer: { vaultCall: (op, o) => calls.push(`${op}:${o}`) } });
    const auth = createVaultAuth({ login: { method: 'approle', mount: 'approle', roleId: 'role-1', secretIdFile: join(dir, 'sid3') }, transport });
    const changes: string[] = [];
    auth.onTokenChange((cause) => changes.push(cause));
    await auth.start();
    await auth.start();
    assert.deepEqual(calls, ['login_approle:ok']);
    assert.deepEqual(changes, []);
    await auth.reauthenticate();
    assert.deepEqual(changes, ['relogin']);
    await auth.close();
  });

  it('method token with tokenFile: a 403 re-reads the file and adopts a new token Vault accepts; a refused one is not adopted', async () => {
    fake.clearFaults();
    const file = join(dir, 'agent-token');
    writeFileSync(file, ROOT);
    const transport = createVaultTransport({ address: fake.address, retries: 0 });
    const events: string[] = [];
    const auth = createVaultAuth({ login: { method: 'token', token: new Secret(ROOT), tokenFile: file }, transport, watchTokenFile: false, observer: { authEvent: (k) => events.push(k) } });
    const changes: string[] = [];
    auth.onTokenChange((cause) => changes.push(cause));
    const c = createVaultClient(transport, auth);
    await auth.start();
    assert.equal(await auth.rereadTokenFile(), false, 'unchanged file');
    // The agent logged in again: a new token in the file, the old one revoked.
    const fresh = 'hvs.PLANTED-agent-token-2-abcdefgh';
    fake.tokens.add(fresh);
    writeFileSync(file, `${fresh}\n`);
    fake.tokens.delete(ROOT);
    assert.equal((await c.kvRead('secret', ['tollgate', 'openai'])).data.api_key, API_KEY);
    assert.equal((await auth.token()).reveal(), fresh);
    assert.deepEqual(changes, ['token_file']);
    assert.ok(events.includes('token_file_changed'));
    // A token Vault refuses stays out; the working one is kept.
    writeFileSync(file, 'hvs.PLANTED-not-a-valid-token-xyz');
    await assert.rejects(auth.rereadTokenFile(), (e: unknown) => e instanceof VaultError && e.permissionDenied);
    assert.equal((await auth.token()).reveal(), fresh);
    assert.deepEqual(changes, ['token_file']);
    fake.tokens.add(ROOT);
    await auth.close();
  });

  it('names the condition of a failure: refused, sealed, missing; only 4xx answers are permanent', () => {
    const refused = new VaultError('kv2_read', 'transport', undefined, 'ECONNREFUSED', 'ECONNREFUSED');
    const sealed = new VaultError('kv2_read', 'http', 503, 'Vault is sealed');
    const missing = new VaultError('kv2_read', 'http', 404, '');
    assert.deepEqual([refused.condition, sealed.condition, missing.condition], ['connection_refused', 'sealed_or_unavailable', 'not_found']);
    assert.deepEqual([refused.permanent, sealed.permanent, missing.permanent, new VaultError('x', 'http', 429, '').permanent, new VaultError('x', 'breaker_open', undefined, '').permanent], [false, false, true, false, false]);
  });
});

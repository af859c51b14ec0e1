// Vault lifecycle end to end against a real OpenBao (leased KV), Tollgate as a child process and a real
// Envoy: leases follow Tollgate's own token across re-logins (a non-periodic AppRole token revokes its
// leases at its max TTL), and a forced refresh (SIGHUP, admin call) re-reads credentials.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startOpenBao, type OpenBao } from '../helpers/openbao.ts';
import { chat, eventually, logEvents, metricSum } from '../helpers/stack.ts';
import { KV_CREDENTIAL, LEASED_CREDENTIAL, LEASED_POLICY, liveLeaseIds, startVaultStack, type VaultStack } from '../helpers/vault-stack.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const hash16 = (leaseId: string): string => createHash('sha256').update(leaseId).digest('hex').slice(0, 16);
const newToken = async (bao: OpenBao): Promise<string> => ((await bao.api('POST', 'auth/token/create', { policies: ['tollgate'], ttl: '1h' })) as { auth: { client_token: string } }).auth.client_token;

describe('a non-periodic AppRole token: leases are fetched anew under each new login', () => {
  const key = `sk-leased-${randomBytes(12).toString('hex')}`;
  const PREFIX = 'secret/tollgate/team-a/openai';
  let bao: OpenBao;
  let stack: VaultStack;

  before(async () => {
    bao = await startOpenBao({ env: process.env, leasedKv: true });
    // The lease lives far longer than the token: without a re-fetch it dies with the token, not on its own.
    await bao.api('POST', PREFIX, { api_key: key, ttl: '120s' });
    await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
    await bao.api('PUT', 'sys/policies/acl/tollgate', { policy: LEASED_POLICY });
    await bao.api('POST', 'auth/approle/role/tollgate', { token_policies: ['tollgate'], token_ttl: '3s', token_max_ttl: '5s' });
    const roleId = ((await bao.api('GET', 'auth/approle/role/tollgate/role-id')) as { data: { role_id: string } }).data.role_id;
    const secretId = ((await bao.api('POST', 'auth/approle/role/tollgate/secret-id', {})) as { data: { secret_id: string } }).data.secret_id;
    stack = await startVaultStack({
      key,
      files: { 'secret-id': secretId },
      vault: (file) => ({ address: bao.address, auth: { method: 'approle', roleId, secretIdFile: file('secret-id') }, expiryMarginMs: 1_000 }),
      credential: LEASED_CREDENTIAL,
    });
  });
  after(async () => {
    await stack.stop();
    await bao.stop();
  });

  it('after the first token reaches its max TTL, every request is still served with a lease Vault holds live', async () => {
    assert.equal((await chat(stack)).status, 200);
    const first = await liveLeaseIds(bao, PREFIX);
    assert.equal(first.length, 1);
    // Past two max TTLs of the token: Vault has revoked the first token, and with it its leases.
    const end = Date.now() + 12_000;
    const statuses: number[] = [];
    while (Date.now() < end) {
      statuses.push((await chat(stack)).status);
      await sleep(250);
    }
    assert.deepEqual(statuses.filter((s) => s !== 200), []);
    assert.ok(await metricSum(stack, 'tollgate_vault_auth_events_total', 'kind="login"') >= 2, 'Tollgate logged in again');
    const live = await liveLeaseIds(bao, PREFIX);
    assert.ok(!live.includes(first[0]!), 'the first lease died with the first token');
    assert.equal((await chat(stack)).status, 200);
    const served = stack.audit().filter((a) => a.http_status === 200).at(-1)?.credential?.lease_id_hash;
    assert.ok(served !== undefined);
    const liveNow = new Set((await liveLeaseIds(bao, PREFIX)).map(hash16));
    assert.ok(liveNow.has(served), `the last request used lease ${served}, which Vault no longer holds (live: ${[...liveNow].join(', ')})`);
    assert.ok(await metricSum(stack, 'tollgate_credential_lease_events_total', 'kind="replaced"') >= 1);
    // One line per lifecycle change, with its cause.
    assert.ok(logEvents(stack, 'vault_max_ttl').length >= 1);
    assert.ok(logEvents(stack, 'vault_login').some((l) => l.cause === 'relogin'));
    const replaced = logEvents(stack, 'credential_replaced').filter((l) => l.cause === 'relogin');
    assert.ok(replaced.length >= 1);
    assert.deepEqual([replaced[0]?.tenant, replaced[0]?.identity, replaced[0]?.provider], ['team-a', 'agent-1', 'openai']);
    assert.ok(!stack.tollgate.output().includes(key));
  });
});

describe('KV v2 with a token file (Vault Agent next to Tollgate): missing paths, forced refresh, a new token', () => {
  const keyA = (v: number): string => `sk-team-a-v${v}-${randomBytes(8).toString('hex')}`;
  const keys = [keyA(1), keyA(2), keyA(3)];
  const keyB = `sk-team-b-${randomBytes(8).toString('hex')}`;
  const adminToken = randomBytes(24).toString('hex');
  let bao: OpenBao;
  let stack: VaultStack;
  let firstToken: string;

  const putKey = (tenant: string, value: string): Promise<unknown> => bao.api('POST', `secret/data/tollgate/${tenant}/openai`, { data: { api_key: value } });
  const adminRefresh = (): Promise<Response> => fetch(`http://127.0.0.1:${stack.tollgate.adminPort}/admin/credentials/refresh`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });

  before(async () => {
    bao = await startOpenBao({ env: process.env });
    await bao.api('PUT', 'sys/policies/acl/tollgate', { policy: 'path "secret/data/tollgate/*" { capabilities = ["read"] }' });
    await putKey('team-a', keys[0]!);
    firstToken = await newToken(bao);
    stack = await startVaultStack({
      files: { 'vault-token': firstToken, 'admin-token': adminToken },
      vault: (file) => ({ address: bao.address, auth: { method: 'token', tokenFile: file('vault-token') } }),
      credential: KV_CREDENTIAL,
      tweak: (c, file) => ({ ...c, server: { ...c.server, admin: { host: '127.0.0.1', port: 0, killSwitchToken: { source: 'file', path: file('admin-token') } } } }),
    });
  });
  after(async () => {
    await stack.stop();
    await bao.stop();
  });

  const lastKey = (): string | undefined => stack.upstream.requests.at(-1)?.headers.authorization;

  it('a missing KV path: one Vault read for 20 requests, each a 503 with nothing upstream, each failure logged once with tenant, identity, provider, path and no stack', async () => {
    const readsBefore = await metricSum(stack, 'tollgate_vault_calls_total', 'op="kv2_read"');
    const upstreamBefore = stack.upstream.requests.length;
    for (let i = 0; i < 20; i++) {
      const r = await chat(stack, stack.keys.restricted);
      assert.equal(r.status, 503);
      assert.equal(r.code, 'credential_unavailable');
    }
    assert.equal(stack.upstream.requests.length, upstreamBefore, 'nothing reached the provider');
    assert.equal(await metricSum(stack, 'tollgate_vault_calls_total', 'op="kv2_read"') - readsBefore, 1, 'one Vault read, then the negative cache answers');
    // ext_authz's prefetch may already have remembered the 404 when the first request's own lookup runs.
    const negatives = await metricSum(stack, 'tollgate_credential_lookups_total', 'result="negative"');
    assert.ok(negatives === 19 || negatives === 20, `${negatives} answers from the negative cache`);
    // A request without a body gets its credential in ext_authz: the same single line.
    const get = await fetch(`${stack.url}/openai/models`, { headers: { authorization: `Bearer ${stack.keys.restricted}` } });
    assert.equal(get.status, 503);
    assert.equal(stack.upstream.requests.length, upstreamBefore);
    const lines = stack.tollgate.output().split('\n').filter((l) => l.includes('"code":"credential_unavailable"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 21, 'one line per failed request');
    for (const l of lines) {
      assert.equal(l.level, 'warn');
      assert.deepEqual([l.tenant, l.identity, l.provider, l.cause], ['team-b', 'restricted-1', 'openai', 'not_found']);
      assert.match(String(l.decision_id), /^[0-9a-f-]{36}$/);
      assert.match(String(l.error), /vault-kv2:secret\/tollgate\/\{tenant\}\/openai#api_key: vault kv2_read: HTTP 404/);
      assert.equal(l.err, undefined, 'no error object, no stack');
    }
  });

  it('the admin call forgets the missing path and re-reads: once the key is written, the next request gets it', async () => {
    await putKey('team-b', keyB);
    assert.equal((await chat(stack, stack.keys.restricted)).status, 503, 'still remembered as missing');
    const denied = await fetch(`http://127.0.0.1:${stack.tollgate.adminPort}/admin/credentials/refresh`, { method: 'POST', headers: { authorization: 'Bearer wrong' } });
    assert.equal(denied.status, 401);
    const r = await adminRefresh();
    assert.equal(r.status, 200);
    const body = (await r.json()) as { refreshed: number; failed: number; forgotten: number };
    assert.equal(body.forgotten, 1);
    assert.equal(body.failed, 0);
    assert.equal((await chat(stack, stack.keys.restricted)).status, 200);
    assert.equal(lastKey(), `Bearer ${keyB}`);
  });

  it('SIGHUP re-reads the cached credentials (a rotation lands before kvRefreshMs) and still reloads the policy', async () => {
    assert.equal((await chat(stack, stack.keys.agent)).status, 200);
    assert.equal(lastKey(), `Bearer ${keys[0]}`);
    await putKey('team-a', keys[1]!);
    const reloadsBefore = await metricSum(stack, 'tollgate_policy_reloads_total', 'result="applied"');
    process.kill(stack.tollgate.child.pid!, 'SIGHUP');
    await eventually(() => logEvents(stack, 'credential_refresh_forced').some((l) => l.trigger === 'SIGHUP'), 10_000);
    assert.equal((await chat(stack, stack.keys.agent)).status, 200);
    assert.equal(lastKey(), `Bearer ${keys[1]}`);
    assert.equal(await metricSum(stack, 'tollgate_policy_reloads_total', 'result="applied"'), reloadsBefore + 1, 'the policy reload ran as before');
  });

  it('a new token written to tokenFile (the agent logged in again) is adopted; the old one can be revoked', async () => {
    const second = await newToken(bao);
    const tokenFile = stack.file('vault-token');
    writeFileSync(`${tokenFile}.tmp`, second, { mode: 0o600 });
    renameSync(`${tokenFile}.tmp`, tokenFile);
    await eventually(() => logEvents(stack, 'vault_token_file_changed').length === 1, 10_000);
    await bao.api('POST', 'auth/token/revoke', { token: firstToken });
    await putKey('team-a', keys[2]!);
    const r = (await (await adminRefresh()).json()) as { refreshed: number; failed: number };
    assert.deepEqual([r.refreshed, r.failed], [2, 0]);
    assert.equal((await chat(stack, stack.keys.agent)).status, 200);
    assert.equal(lastKey(), `Bearer ${keys[2]}`);
    assert.ok(await metricSum(stack, 'tollgate_credential_age_seconds', 'source="vault-kv2:secret/tollgate/{tenant}/openai#api_key"') >= 0);
    const out = stack.tollgate.output();
    for (const s of [firstToken, second, ...keys, keyB, adminToken]) assert.ok(!out.includes(s), 'a token or key was printed');
  });
});

describe('a lease that lives no longer than the expiry margin', () => {
  const key = `sk-short-${randomBytes(12).toString('hex')}`;
  let bao: OpenBao;
  let stack: VaultStack;

  before(async () => {
    bao = await startOpenBao({ env: process.env, leasedKv: true });
    await bao.api('POST', 'secret/tollgate/team-a/openai', { api_key: key, ttl: '3s' });
    await bao.api('PUT', 'sys/policies/acl/tollgate', { policy: LEASED_POLICY });
    stack = await startVaultStack({
      key,
      files: { 'vault-token': await newToken(bao) },
      vault: (file) => ({ address: bao.address, auth: { method: 'token', tokenFile: file('vault-token') }, expiryMarginMs: 10_000 }),
      credential: LEASED_CREDENTIAL,
    });
  });
  after(async () => {
    await stack.stop();
    await bao.stop();
  });

  it('is refused once with a warning naming its TTL and the margin, counted, revoked, and not read again per request', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await chat(stack, stack.keys.agent);
      assert.equal(r.status, 503);
      assert.equal(r.code, 'credential_unavailable');
    }
    assert.equal(stack.upstream.requests.length, 0);
    assert.equal(await metricSum(stack, 'tollgate_vault_calls_total', 'op="leased_read"'), 1);
    assert.equal(await metricSum(stack, 'tollgate_credential_lease_events_total', 'kind="ttl_below_margin"'), 1);
    const [warn] = logEvents(stack, 'credential_ttl_below_margin');
    assert.equal(warn?.expiry_margin_ms, 10_000);
    assert.ok(typeof warn.ttl_ms === 'number' && warn.ttl_ms <= 3_000);
    assert.deepEqual([warn.tenant, warn.identity, warn.provider], ['team-a', 'agent-1', 'openai']);
    assert.deepEqual(await liveLeaseIds(bao, 'secret/tollgate/team-a/openai'), [], 'the unusable lease was revoked');
  });
});

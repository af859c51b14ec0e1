// Vault lifecycle end to end against a real OpenBao (leased KV), Tollgate as a child process and a real
// Envoy: leases follow Tollgate's own token across re-logins (a non-periodic AppRole token revokes its
// leases at its max TTL), and a forced refresh (SIGHUP, admin call) re-reads credentials.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import { startOpenBao, type OpenBao } from '../helpers/openbao.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const hash16 = (leaseId: string): string => createHash('sha256').update(leaseId).digest('hex').slice(0, 16);
const POLICY = `
path "secret/tollgate/*" { capabilities = ["read"] }
path "sys/leases/revoke/secret/tollgate/*" { capabilities = ["update"] }
`;

async function liveLeaseIds(bao: OpenBao, prefix: string): Promise<string[]> {
  const r = await bao.raw('LIST', `sys/leases/lookup/${prefix}/`);
  if (r.status === 404) return [];
  return (r.body as { data: { keys: string[] } }).data.keys.map((k) => `${prefix}/${k}`);
}

const chat = async (stack: Stack): Promise<{ status: number; body: string }> => {
  const r = await fetch(`${stack.url}/openai/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: r.status, body: await r.text() };
};

const metric = async (stack: Stack, name: string, labels: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${stack.tollgate.adminPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labels)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
};

describe('a non-periodic AppRole token: leases are fetched anew under each new login', () => {
  const key = `sk-leased-${randomBytes(12).toString('hex')}`;
  const PREFIX = 'secret/tollgate/team-a/openai';
  let bao: OpenBao;
  let stack: Stack;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-life-'));
    bao = await startOpenBao({ env: process.env, leasedKv: true });
    // The lease lives far longer than the token: without a re-fetch it dies with the token, not on its own.
    await bao.api('POST', PREFIX, { api_key: key, ttl: '120s' });
    await bao.api('POST', 'sys/auth/approle', { type: 'approle' });
    await bao.api('PUT', 'sys/policies/acl/tollgate', { policy: POLICY });
    await bao.api('POST', 'auth/approle/role/tollgate', { token_policies: ['tollgate'], token_ttl: '3s', token_max_ttl: '5s' });
    const roleId = ((await bao.api('GET', 'auth/approle/role/tollgate/role-id')) as { data: { role_id: string } }).data.role_id;
    const secretId = ((await bao.api('POST', 'auth/approle/role/tollgate/secret-id', {})) as { data: { secret_id: string } }).data.secret_id;
    const secretIdFile = join(dir, 'secret-id');
    writeFileSync(secretIdFile, secretId, { mode: 0o600 });
    stack = await startStack({
      respond: () => openAiResponder(key),
      tweak: (c): ConfigInput => ({
        ...c,
        vault: { address: bao.address, auth: { method: 'approle', roleId, secretIdFile }, expiryMarginMs: 1_000 },
        providers: c.providers.map((p) => ({ ...p, credential: { source: 'vault-leased', path: 'secret/tollgate/{tenant}/openai', field: 'api_key' } })),
      }),
    });
  });
  after(async () => {
    await stack.stop();
    await bao.stop();
    rmSync(dir, { recursive: true, force: true });
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
    assert.ok(await metric(stack, 'tollgate_vault_auth_events_total', 'kind="login"') >= 2, 'Tollgate logged in again');
    const live = await liveLeaseIds(bao, PREFIX);
    assert.ok(!live.includes(first[0]!), 'the first lease died with the first token');
    assert.equal((await chat(stack)).status, 200);
    const served = stack.audit().filter((a) => a.http_status === 200).at(-1)?.credential?.lease_id_hash;
    assert.ok(served !== undefined);
    const liveNow = new Set((await liveLeaseIds(bao, PREFIX)).map(hash16));
    assert.ok(liveNow.has(served), `the last request used lease ${served}, which Vault no longer holds (live: ${[...liveNow].join(', ')})`);
    assert.ok(await metric(stack, 'tollgate_credential_lease_events_total', 'kind="replaced"') >= 1);
    assert.ok(!stack.tollgate.output().includes(key));
  });
});

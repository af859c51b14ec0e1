// Vault-issued credentials end to end: a real OpenBao (KV v2, AppRole), Tollgate as a child process,
// a real Envoy, and a recording upstream. The provider receives the key Vault holds, a rotation in Vault
// reaches the provider without a restart, and the kill switch denies an identity at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import { setupAppRole, startOpenBao, type OpenBao } from '../helpers/openbao.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

describe('Vault-issued provider credentials through Envoy (real OpenBao)', () => {
  let bao: OpenBao;
  let stack: Stack;
  let currentKey = `sk-vault-v1-${randomBytes(12).toString('hex')}`;
  const teamBKey = `sk-vault-b-${randomBytes(12).toString('hex')}`;
  const killToken = randomBytes(32).toString('hex');
  /** The keys the provider accepts: what Vault holds now for each tenant. */
  const accepted = (): Set<string> => new Set([currentKey, teamBKey]);

  const chat = async (key: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    return { status: r.status, body: await r.text() };
  };
  const admin = (action: string, token = killToken): Promise<Response> =>
    fetch(`http://127.0.0.1:${stack.tollgate.adminPort}/admin/kill-switch/${action}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ tenant: 'team-a', identity: 'agent-1' }) });

  before(async () => {
    bao = await startOpenBao({ env: process.env });
    await bao.api('POST', 'secret/data/tollgate/team-a/openai', { data: { api_key: currentKey } });
    await bao.api('POST', 'secret/data/tollgate/team-b/openai', { data: { api_key: teamBKey } });
    const role = await setupAppRole(bao, 'path "secret/data/tollgate/*" { capabilities = ["read"] }');
    stack = await startStack({
      // The provider accepts only the key Vault currently holds, as a real one would after a rotation.
      respond: () => (req) => {
        const presented = (req.headers.authorization ?? '').replace(/^Bearer /, '');
        return openAiResponder(accepted().has(presented) ? presented : currentKey)(req);
      },
      tweak: (c) => {
        const sink = c.audit?.sink;
        const secretIdFile = join(sink !== undefined && 'path' in sink ? sink.path : '/tmp', '..', 'secret-id');
        writeFileSync(secretIdFile, role.secretId, { mode: 0o600 });
        const killFile = join(secretIdFile, '..', 'kill-token');
        writeFileSync(killFile, killToken, { mode: 0o600 });
        return {
          ...c,
          server: { ...c.server, admin: { host: '127.0.0.1', port: 0, killSwitchToken: { source: 'file', path: killFile } } },
          vault: { address: bao.address, auth: { method: 'approle', roleId: role.roleId, secretIdFile }, kvRefreshMs: 600_000 },
          providers: c.providers.map((p) => ({ ...p, credential: { source: 'vault-kv2', mount: 'secret', path: 'tollgate/{tenant}/openai', field: 'api_key' } })),
        };
      },
    });
  });
  after(async () => {
    await stack.stop();
    await bao.stop();
  });

  it('the provider receives the key Vault holds for the caller\'s tenant, never the caller\'s key', async () => {
    const r = await chat(stack.keys.agent);
    assert.equal(r.status, 200, r.body);
    const got = stack.upstream.requests.at(-1)!;
    assert.equal(got.headers.authorization, `Bearer ${currentKey}`);
    assert.ok(!JSON.stringify(got.headers).includes(stack.keys.agent));
  });

  it('another tenant gets its own Vault key (scoped per tenant)', async () => {
    const r = await chat(stack.keys.restricted); // tenant team-b
    assert.equal(r.status, 200, r.body);
    assert.equal(stack.upstream.requests.at(-1)!.headers.authorization, `Bearer ${teamBKey}`);
  });

  it('a rotation in Vault reaches the provider without a restart (the provider\'s 401 triggers a re-read)', async () => {
    const old = currentKey;
    currentKey = `sk-vault-v2-${randomBytes(12).toString('hex')}`;
    await bao.api('POST', 'secret/data/tollgate/team-a/openai', { data: { api_key: currentKey } });
    const first = await chat(stack.keys.agent);
    assert.equal(first.status, 401, 'the old key is refused by the provider once');
    assert.equal(stack.upstream.requests.at(-1)!.headers.authorization, `Bearer ${old}`);
    let r = await chat(stack.keys.agent);
    for (let i = 0; i < 20 && r.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await chat(stack.keys.agent);
    }
    assert.equal(r.status, 200, r.body);
    assert.equal(stack.upstream.requests.at(-1)!.headers.authorization, `Bearer ${currentKey}`);
    const rec = stack.audit().filter((a) => a.identity === 'agent-1' && a.http_status === 200).at(-1);
    assert.equal(rec?.credential?.version, 2, 'the audit record names the KV version, never the value');
    assert.match(rec.credential.source, /vault/);
  });

  it('the kill switch denies the identity on its next request and re-enables it', async () => {
    const unauth = await admin('revoke', 'wrong');
    assert.equal(unauth.status, 401);
    assert.equal((await chat(stack.keys.agent)).status, 200, 'a wrong token changes nothing');
    const revoked = await admin('revoke');
    assert.equal(revoked.status, 200);
    const before = stack.upstream.requests.length;
    const denied = await chat(stack.keys.agent);
    assert.equal(denied.status, 403);
    assert.equal((JSON.parse(denied.body) as { error: { code: string } }).error.code, 'identity_disabled');
    assert.equal(stack.upstream.requests.length, before, 'nothing reached the provider');
    assert.equal((await chat(stack.keys.restricted)).status, 200, 'other identities are unaffected');
    assert.equal((await admin('enable')).status, 200);
    assert.equal((await chat(stack.keys.agent)).status, 200);
  });

  it('no Vault token, secret id or provider key appears in Tollgate\'s output or the audit log', () => {
    const out = stack.tollgate.output() + JSON.stringify(stack.audit());
    for (const secret of [currentKey, teamBKey, killToken, stack.keys.agent]) assert.ok(!out.includes(secret), 'a planted secret leaked');
  });
});

// A sealed or slow Vault, seen through a real Envoy: a request whose credential is not cached gets a
// clear 503 credential_unavailable (the broker stops waiting after 800 ms, inside Envoy's 1 s ext_proc
// message timeout) rather than Envoy's own 504,
// and nothing reaches the provider; the fetch it started goes on and serves the next request.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import { startFakeVault, type FakeVault } from '../helpers/fake-vault.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

describe('Vault sealed or slow on a cache miss (fake Vault through Envoy)', () => {
  const key = `sk-kv-${randomBytes(12).toString('hex')}`;
  let dir: string;
  let vault: FakeVault;
  let stack: Stack;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-vault-faults-'));
    vault = await startFakeVault({ rootToken: `hvs.fake-root-${randomBytes(12).toString('hex')}` });
    vault.kvPut('secret/tollgate/team-a/openai', { api_key: key });
    vault.kvPut('secret/tollgate/team-b/openai', { api_key: key });
    const tokenFile = join(dir, 'vault-token');
    writeFileSync(tokenFile, [...vault.tokens][0] ?? '', { mode: 0o600 });
    stack = await startStack({
      respond: () => openAiResponder(key),
      tweak: (c) => ({
        ...c,
        vault: { address: vault.address, auth: { method: 'token', tokenFile } },
        providers: c.providers.map((p) => ({ ...p, credential: { source: 'vault-kv2', mount: 'secret', path: 'tollgate/{tenant}/openai' } })),
      }),
    });
  });
  after(async () => {
    await stack.stop();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const chat = async (callerKey: string): Promise<{ status: number; code: string | undefined; ms: number }> => {
    const t0 = Date.now();
    const r = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${callerKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await r.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return { status: r.status, code, ms: Date.now() - t0 };
  };

  const cases: readonly { name: string; fault: Parameters<FakeVault['fault']>[0] }[] = [
    { name: 'sealed (503 on every read)', fault: { path: '/v1/secret/', status: 503 } },
    { name: 'slow (3 s per read)', fault: { path: '/v1/secret/', delayMs: 3_000, times: 1 } },
  ];
  const callers = (): string[] => [stack.keys.agent, stack.keys.restricted];
  cases.forEach(({ name, fault }, i) => {
    it(`${name}: the first request gets 503 credential_unavailable (not Envoy's 504), nothing reaches the provider; the fetch goes on`, async () => {
      const caller = callers()[i]!;
      vault.fault({ ...fault });
      const before = stack.upstream.requests.length;
      let r: Awaited<ReturnType<typeof chat>>;
      try {
        r = await chat(caller);
      } finally {
        vault.clearFaults();
      }
      // Envoy's own answer to an ext_proc message timeout would be a 504 with no Tollgate error code.
      assert.equal(r.status, 503);
      assert.equal(r.code, 'credential_unavailable');
      assert.ok(r.ms < 2_000, `answered after ${r.ms} ms`);
      assert.equal(stack.upstream.requests.length, before);
      // The fetch that request started (or its background retry) fills the cache; no request fails for long.
      let ok = await chat(caller);
      for (let n = 0; n < 40 && ok.status !== 200; n++) {
        await new Promise((res) => setTimeout(res, 250));
        ok = await chat(caller);
      }
      assert.equal(ok.status, 200);
      assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${key}`);
    });
  });

  it('once cached, a request makes no Vault call', async () => {
    const calls = vault.calls.length;
    for (let n = 0; n < 20; n++) assert.equal((await chat(stack.keys.agent)).status, 200);
    assert.equal(vault.calls.length, calls);
  });
});

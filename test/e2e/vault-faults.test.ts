// A sealed or slow Vault, seen through a real Envoy: a request whose credential is not cached gets a
// clear 503 credential_unavailable (the broker stops waiting after 800 ms, inside Envoy's 1 s ext_proc
// message timeout) rather than Envoy's own 504,
// and nothing reaches the provider; the fetch it started goes on and serves the next request.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startFakeVault, type FakeVault } from '../helpers/fake-vault.ts';
import { chat, type ChatReply } from '../helpers/stack.ts';
import { KV_CREDENTIAL, startVaultStack, type VaultStack } from '../helpers/vault-stack.ts';

describe('Vault sealed or slow on a cache miss (fake Vault through Envoy)', () => {
  const key = `sk-kv-${randomBytes(12).toString('hex')}`;
  let vault: FakeVault;
  let stack: VaultStack;

  before(async () => {
    vault = await startFakeVault({ rootToken: `hvs.fake-root-${randomBytes(12).toString('hex')}` });
    vault.kvPut('secret/tollgate/team-a/openai', { api_key: key });
    vault.kvPut('secret/tollgate/team-b/openai', { api_key: key });
    stack = await startVaultStack({
      key,
      files: { 'vault-token': [...vault.tokens][0] ?? '' },
      vault: (file) => ({ address: vault.address, auth: { method: 'token', tokenFile: file('vault-token') } }),
      credential: KV_CREDENTIAL,
    });
  });
  after(async () => {
    await stack.stop();
    await vault.close();
  });

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
      let r: ChatReply;
      const t0 = Date.now();
      try {
        r = await chat(stack, caller);
      } finally {
        vault.clearFaults();
      }
      const ms = Date.now() - t0;
      // Envoy's own answer to an ext_proc message timeout would be a 504 with no Tollgate error code.
      assert.equal(r.status, 503);
      assert.equal(r.code, 'credential_unavailable');
      assert.ok(ms < 2_000, `answered after ${ms} ms`);
      assert.equal(stack.upstream.requests.length, before);
      // The fetch that request started (or its background retry) fills the cache; no request fails for long.
      let ok = await chat(stack, caller);
      for (let n = 0; n < 40 && ok.status !== 200; n++) {
        await new Promise((res) => setTimeout(res, 250));
        ok = await chat(stack, caller);
      }
      assert.equal(ok.status, 200);
      assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${key}`);
    });
  });

  it('once cached, a request makes no Vault call', async () => {
    const calls = vault.calls.length;
    for (let n = 0; n < 20; n++) assert.equal((await chat(stack)).status, 200);
    assert.equal(vault.calls.length, calls);
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Secret } from '../../extproc/core/secret.ts';
import { ReplayGuard } from '../../extproc/identity/replay.ts';
import { EMPTY_BODY_SHA256, RequestProofVerifier, signRequestProof, type ProofFailure, type ProofInput } from '../../extproc/identity/request-proof.ts';
import { MemoryStateStore } from '../../extproc/state/state-store.ts';

const NOW = 1_800_000_000;
const KEY = new Secret('proof-key-PLANTED-SECRET-0123456789abcdef');
const body = '{"model":"gpt-4o-mini","messages":[]}';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const req: ProofInput = { identity: 'spiffe://prod.example/ns/a', method: 'POST', path: '/openai/v1/chat/completions?x=1', bodySha256Hex: sha(body) };
const nonce = (i: number) => `nonce-${i}-abcdefghijklmnop`;

function verifier(now = NOW * 1000, store = new MemoryStateStore({ now: () => now })) {
  return new RequestProofVerifier({ keys: new Map([[req.identity, KEY]]), windowSeconds: 300, replay: new ReplayGuard(store), now: () => now });
}

describe('request proof (HMAC-SHA256)', () => {
  const cases: Array<{ name: string; header: () => string | undefined; input?: Partial<ProofInput>; want: ProofFailure | 'ok' }> = [
    { name: 'valid', header: () => signRequestProof(KEY, req, NOW, nonce(1)), want: 'ok' },
    { name: 'valid at the edge of the window', header: () => signRequestProof(KEY, req, NOW - 300, nonce(1)), want: 'ok' },
    { name: 'stale', header: () => signRequestProof(KEY, req, NOW - 301, nonce(1)), want: 'proof_stale' },
    { name: 'from the future', header: () => signRequestProof(KEY, req, NOW + 301, nonce(1)), want: 'proof_stale' },
    { name: 'wrong body hash', header: () => signRequestProof(KEY, req, NOW, nonce(1)), input: { bodySha256Hex: sha(`${body} `) }, want: 'proof_invalid' },
    { name: 'empty body signed, body sent', header: () => signRequestProof(KEY, { ...req, bodySha256Hex: EMPTY_BODY_SHA256 }, NOW, nonce(1)), want: 'proof_invalid' },
    { name: 'other path', header: () => signRequestProof(KEY, req, NOW, nonce(1)), input: { path: '/openai/v1/files' }, want: 'proof_invalid' },
    { name: 'other method', header: () => signRequestProof(KEY, req, NOW, nonce(1)), input: { method: 'PUT' }, want: 'proof_invalid' },
    { name: 'other key', header: () => signRequestProof(new Secret('another-key'), req, NOW, nonce(1)), want: 'proof_invalid' },
    { name: 'another identity presenting it', header: () => signRequestProof(KEY, req, NOW, nonce(1)), input: { identity: 'spiffe://prod.example/ns/b' }, want: 'proof_no_key' },
    { name: 'missing', header: () => undefined, want: 'proof_missing' },
    { name: 'malformed', header: () => 'v1;t=1;n=short;s=x', want: 'proof_malformed' },
    { name: 'timestamp tampered', header: () => signRequestProof(KEY, req, NOW, nonce(1)).replace(`t=${NOW}`, `t=${NOW + 1}`), want: 'proof_invalid' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await verifier().verify({ ...req, ...c.input }, c.header());
      assert.equal(r.ok ? 'ok' : r.reason, c.want);
      assert.ok(!JSON.stringify(r).includes('PLANTED'));
    });
  }

  it('a nonce is accepted once, while its timestamp is acceptable', async () => {
    let now = NOW * 1000;
    const store = new MemoryStateStore({ now: () => now });
    const v = verifier(now, store);
    const v2 = new RequestProofVerifier({ keys: new Map([[req.identity, KEY]]), windowSeconds: 300, replay: new ReplayGuard(store), now: () => now });
    const h = signRequestProof(KEY, req, NOW, nonce(7));
    assert.equal((await v.verify(req, h)).ok, true);
    const again = await v2.verify(req, h);
    assert.ok(!again.ok && again.reason === 'proof_replayed');
    now += 299_000;
    const later = await v2.verify(req, h);
    assert.ok(!later.ok && later.reason === 'proof_replayed');
    // A fresh nonce with the same timestamp is fine.
    assert.equal((await v2.verify(req, signRequestProof(KEY, req, NOW, nonce(8)))).ok, true);
    await store.close();
  });

  it('a forged proof does not burn the nonce', async () => {
    const v = verifier();
    await v.verify(req, signRequestProof(new Secret('forger'), req, NOW, nonce(9)));
    assert.equal((await v.verify(req, signRequestProof(KEY, req, NOW, nonce(9)))).ok, true);
  });

  it('a failing replay store fails closed', async () => {
    const v = new RequestProofVerifier({ keys: new Map([[req.identity, KEY]]), windowSeconds: 300, replay: new ReplayGuard({ claimOnce: () => Promise.reject(new Error('down')) }), now: () => NOW * 1000 });
    const r = await v.verify(req, signRequestProof(KEY, req, NOW, nonce(10)));
    assert.ok(!r.ok && r.reason === 'replay_store_unavailable');
  });

  it('measures µs per verification', async (t) => {
    const v = verifier();
    const n = 5_000;
    const headers = Array.from({ length: n }, (_, i) => signRequestProof(KEY, req, NOW, nonce(100 + i)));
    const t0 = performance.now();
    for (const h of headers) assert.equal((await v.verify(req, h)).ok, true);
    t.diagnostic(`request proof verify: ${(((performance.now() - t0) * 1000) / n).toFixed(1)} µs/op`);
  });
});

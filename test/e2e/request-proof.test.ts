// Signed request proofs (identity.requestProof, mode required) through the real Envoy: a proof over the
// exact body passes; a missing proof, a proof over another body, a stale one and a replayed nonce are
// refused with 401 request_proof_invalid, and the upstream receives nothing.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secret } from '../../extproc/core/secret.ts';
import { signRequestProof } from '../../extproc/identity/request-proof.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

describe('signed request proofs (real Envoy)', () => {
  let stack: Stack;
  const key = randomBytes(32).toString('hex');
  const path = '/openai/chat/completions';
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const sha = (b: string): string => createHash('sha256').update(b).digest('hex');
  const proof = (over: string, opts: { t?: number; nonce?: string } = {}): string =>
    signRequestProof(new Secret(key), { identity: 'agent-1', method: 'POST', path, bodySha256Hex: sha(over) }, opts.t ?? Math.floor(Date.now() / 1000), opts.nonce ?? randomBytes(16).toString('base64url'));
  const send = async (proofHeader: string | undefined, sent = body): Promise<{ status: number; code: string | undefined }> => {
    const r = await fetch(`${stack.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json', ...(proofHeader === undefined ? {} : { 'x-tollgate-proof': proofHeader }) },
      body: sent,
    });
    const text = await r.text();
    return { status: r.status, code: r.status === 200 ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code };
  };

  before(async () => {
    stack = await startStack({
      tweak: (c) => {
        const sink = c.audit?.sink;
        const keyFile = join(sink !== undefined && 'path' in sink ? sink.path : '/tmp', '..', 'proof-key');
        writeFileSync(keyFile, key, { mode: 0o600 });
        return { ...c, identity: { requestProof: { mode: 'required', keys: [{ identity: 'agent-1', key: { source: 'file', path: keyFile } }] } } };
      },
    });
  });
  after(async () => { await stack.stop(); });

  it('accepts a proof over the exact body, and the proof header does not travel upstream', async () => {
    assert.deepEqual(await send(proof(body)), { status: 200, code: undefined });
    assert.equal(stack.upstream.requests.at(-1)?.headers['x-tollgate-proof'], undefined);
  });

  const refused: { name: string; header: () => string | undefined; sent?: string }[] = [
    { name: 'no proof', header: () => undefined },
    { name: 'a proof over another body', header: () => proof(body.replace('hi', 'bye')) },
    { name: 'a stale proof (outside the window)', header: () => proof(body, { t: Math.floor(Date.now() / 1000) - 3600 }) },
    { name: 'a malformed proof', header: () => 'v1;t=1;n=x;s=y' },
  ];
  for (const r of refused) {
    it(`refuses ${r.name} with 401 request_proof_invalid; nothing reaches the upstream`, async () => {
      const before = stack.upstream.requests.length;
      assert.deepEqual(await send(r.header(), r.sent), { status: 401, code: 'request_proof_invalid' });
      assert.equal(stack.upstream.requests.length, before);
    });
  }

  it('refuses a replayed nonce', async () => {
    const once = proof(body, { nonce: randomBytes(16).toString('base64url') });
    assert.equal((await send(once)).status, 200);
    const before = stack.upstream.requests.length;
    assert.deepEqual(await send(once), { status: 401, code: 'request_proof_invalid' });
    assert.equal(stack.upstream.requests.length, before);
  });
});

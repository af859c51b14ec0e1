// Recorded provider responses replayed through the real Envoy + Tollgate: OpenAI and Anthropic bodies
// pass through unchanged, each provider gets its own credential header, and usage reaches the audit log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { eventually, startStack, type Stack } from '../helpers/stack.ts';
import { recorded, replayResponder } from '../helpers/replay.ts';

describe('recorded provider responses through a real Envoy', () => {
  let stack: Stack;

  const addAnthropic = (c: ConfigInput): ConfigInput => {
    const [openai] = c.providers;
    if (openai === undefined) throw new Error('the base config has an openai provider');
    return {
      ...c,
      providers: [...c.providers, { name: 'anthropic', kind: 'anthropic', upstream: new URL(openai.upstream).origin, models: ['claude-*'], credential: openai.credential }],
      identities: c.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [...i.allow, { provider: 'anthropic' }] } : i)),
    };
  };

  before(async () => {
    stack = await startStack({ respond: (providerKey) => replayResponder({ bearer: providerKey, anthropicKey: providerKey }), tweak: addAnthropic });
  });
  after(async () => {
    await stack.stop();
  });

  const post = async (path: string, headers: Record<string, string>, body: object): Promise<{ status: number; body: Buffer; headers: Headers }> => {
    const res = await fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  };
  const auditFor = async (requestId: string | null) => {
    assert.ok(requestId !== null);
    await eventually(() => stack.audit().some((a) => a.request_id === requestId));
    return stack.audit().filter((a) => a.request_id === requestId);
  };

  it('Anthropic: x-api-key carries the provider key, the recorded body passes unchanged, usage is audited', async () => {
    const r = await post('/anthropic/v1/messages', { 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01' }, { model: 'claude-sonnet-4-20250514', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.body, recorded('anthropic/messages.json'));
    const got = stack.upstream.requests.at(-1)!;
    assert.equal(got.path, '/v1/messages');
    assert.equal(got.headers['x-api-key'], stack.providerKey);
    assert.equal(got.headers.authorization, undefined);
    assert.equal(got.headers['anthropic-version'], '2023-06-01', 'provider headers the caller sets are kept');
    const [rec] = await auditFor(r.headers.get('x-request-id'));
    assert.equal(rec?.provider, 'anthropic');
    assert.deepEqual(rec.usage, { input_tokens: 2095, output_tokens: 503, total_tokens: 2598 });
  });

  it('OpenAI: the recorded chat completion passes byte for byte and its usage is audited', async () => {
    const r = await post('/openai/chat/completions', { authorization: `Bearer ${stack.keys.agent}` }, { model: 'gpt-4o-mini', messages: [] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, recorded('openai/chat-completion.json'));
    const [rec] = await auditFor(r.headers.get('x-request-id'));
    assert.deepEqual(rec?.usage, { input_tokens: 19, output_tokens: 10, total_tokens: 29 });
  });

  it('OpenAI: a recorded SSE stream passes byte for byte', async () => {
    const r = await post('/openai/chat/completions', { authorization: `Bearer ${stack.keys.agent}` }, { model: 'gpt-4o-mini', stream: true, messages: [] });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    assert.deepEqual(r.body, recorded('openai/chat-completion-stream.txt'));
    const [rec] = await auditFor(r.headers.get('x-request-id'));
    assert.equal(rec?.response?.streamed, true);
    assert.equal(rec.response.body_bytes, recorded('openai/chat-completion-stream.txt').length);
  });

  it('OpenAI: a recorded provider error passes through and is audited with its status', async () => {
    const r = await post('/openai/chat/completions', { authorization: `Bearer ${stack.keys.agent}` }, { model: 'gpt-4o-revoked', messages: [] });
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, recorded('openai/error-invalid-api-key.json'));
    const [rec] = await auditFor(r.headers.get('x-request-id'));
    assert.equal(rec?.decision, 'allow');
    assert.equal(rec.outcome, 'completed');
    assert.equal(rec.http_status, 401);
    assert.equal(rec.usage, null);
  });

  it('OpenAI embeddings: usage without completion tokens', async () => {
    const r = await post('/openai/embeddings', { authorization: `Bearer ${stack.keys.agent}` }, { model: 'gpt-4o-mini', input: 'hello' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, recorded('openai/embeddings.json'));
    const [rec] = await auditFor(r.headers.get('x-request-id'));
    assert.deepEqual(rec?.usage, { input_tokens: 8, output_tokens: 0, total_tokens: 8 });
  });
});

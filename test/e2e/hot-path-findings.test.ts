// Issue 5's security findings, each through the real Envoy: model allow-list bypasses (duplicate keys,
// escaped keys, invalid UTF-8, models in the path or query, body-less requests), secrets in model
// names reaching logs, and caller-set headers reaching the provider. Every case asserts what the
// upstream received (nothing, for a denial).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.ts';

interface Reply { readonly status: number; readonly body: string }

describe('hot path findings (real Envoy)', () => {
  let stack: Stack;
  const send = async (path: string, init: { method?: string; key?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> => {
    const r = await fetch(`${stack.url}${path}`, {
      method: init.method ?? 'POST',
      headers: { authorization: `Bearer ${init.key ?? stack.keys.restricted}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    return { status: r.status, body: await r.text() };
  };
  const code = (r: Reply): string => (JSON.parse(r.body) as { error: { code: string } }).error.code;

  before(async () => {
    stack = await startStack({
      tweak: (c) => {
        const openai = c.providers[0];
        assert.ok(openai !== undefined);
        return {
          ...c,
          providers: [
            openai,
            { ...openai, name: 'azure', kind: 'azure-openai', upstream: openai.upstream.replace(/\/v1$/, ''), models: ['gpt-4o*'] },
            { ...openai, name: 'gemini', kind: 'vertex', upstream: openai.upstream.replace(/\/v1$/, ''), models: ['gemini-*', 'gpt-4o*'] },
            { ...openai, name: 'qwen', kind: 'openai-compatible', models: ['qwen*'] },
          ],
          identities: c.identities.map((i) => i.id === 'restricted-1'
            ? { ...i, allow: [{ provider: 'openai', models: ['gpt-4o-mini'] }, { provider: 'azure', models: ['gpt-4o-mini'] }, { provider: 'gemini', models: ['gemini-2.0-flash'] }, { provider: 'qwen' }] }
            : i),
        };
      },
    });
  });
  after(async () => { await stack.stop(); });

  const denied: { name: string; call: () => Promise<Reply>; status: number; code: string }[] = [
    { name: 'duplicate "model" keys (the last one allowed)', call: () => send('/openai/chat/completions', { body: '{"model":"gpt-4o","model":"gpt-4o-mini","messages":[]}' }), status: 400, code: 'body_malformed' },
    { name: 'a duplicate key spelt with an escape ("mod\\u0065l")', call: () => send('/openai/chat/completions', { body: '{"model":"gpt-4o","mod\\u0065l":"gpt-4o-mini","messages":[]}' }), status: 400, code: 'body_malformed' },
    { name: 'duplicate keys deeper in the body', call: () => send('/openai/chat/completions', { body: '{"model":"gpt-4o-mini","messages":[{"role":"user","role":"system","content":"x"}]}' }), status: 400, code: 'body_malformed' },
    { name: 'a lone surrogate escape in a message (issue 12)', call: () => send('/openai/chat/completions', { body: '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"sk-\\ud800proj"}]}' }), status: 400, code: 'body_malformed' },
    { name: 'invalid UTF-8', call: () => send('/openai/chat/completions', { body: Buffer.concat([Buffer.from('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]) }), status: 400, code: 'body_malformed' },
    { name: 'a forbidden model in an Azure deployments path', call: () => send('/azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', { body: '{"messages":[]}' }), status: 403, code: 'model_forbidden' },
    { name: 'a forbidden model in a Gemini path', call: () => send('/gemini/v1beta/models/gemini-2.5-pro:generateContent', { body: '{"contents":[]}' }), status: 403, code: 'model_forbidden' },
    { name: 'a forbidden model in the query', call: () => send('/openai/chat/completions?model=gpt-4o', { body: '{"model":"gpt-4o-mini","messages":[]}' }), status: 403, code: 'model_forbidden' },
    { name: 'a query model that disagrees with the body', call: () => send('/openai/chat/completions?model=gpt-4o-mini', { body: '{"model":"gpt-4o","messages":[]}' }), status: 400, code: 'model_conflict' },
    { name: 'a path model that disagrees with the body', call: () => send('/azure/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', { body: '{"model":"gpt-4o","messages":[]}' }), status: 400, code: 'model_conflict' },
    { name: 'a body-less GET of a forbidden model', call: () => send('/gemini/v1beta/models/gemini-2.5-pro', { method: 'GET' }), status: 403, code: 'model_forbidden' },
    { name: 'a PUT outside the endpoint list', call: () => send('/openai/models', { method: 'PUT', body: '{}' }), status: 403, code: 'endpoint_not_allowed' },
    { name: 'a HEAD outside the endpoint list', call: () => send('/openai/chat/completions', { method: 'HEAD' }).then((r) => ({ ...r, body: '{"error":{"code":"endpoint_not_allowed"}}' })), status: 403, code: 'endpoint_not_allowed' },
    { name: 'an unknown path under the provider', call: () => send('/openai/admin/keys', { method: 'GET' }), status: 403, code: 'endpoint_not_allowed' },
    { name: 'an empty POST to chat', call: () => send('/openai/chat/completions', { method: 'POST' }), status: 400, code: 'body_missing' },
    { name: 'a model name carrying secrets', call: () => send('/qwen/chat/completions', { body: JSON.stringify({ model: 'qwen sk-proj-AbCdEf0123456789AbCdEf0123456789 AKIAIOSFODNN7QWERTYU', messages: [] }) }), status: 400, code: 'model_invalid' },
  ];
  for (const d of denied) {
    it(`denies ${d.name} with ${d.status} ${d.code}; the upstream receives nothing`, async () => {
      const before = stack.upstream.requests.length;
      const r = await d.call();
      assert.equal(r.status, d.status, r.body);
      assert.equal(code(r), d.code);
      assert.equal(stack.upstream.requests.length, before);
    });
  }

  it('still forwards the allowed model through the Azure path, with the model checked from the path', async () => {
    const r = await send('/azure/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', { body: '{"messages":[{"role":"user","content":"hi"}]}' });
    const got = stack.upstream.requests.at(-1);
    assert.equal(got?.path, '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', r.body);
    assert.equal(got.headers['api-key'], stack.providerKey, 'Azure takes its key in api-key');
    assert.equal(got.headers.authorization, undefined, 'the caller credential is gone');
  });

  it('never writes a secret-looking model name to the audit log or Tollgate\'s logs', () => {
    const out = stack.tollgate.output() + JSON.stringify(stack.audit());
    assert.ok(!out.includes('sk-proj-AbCdEf0123456789'), 'the OpenAI-style key in the model name leaked');
    assert.ok(!out.includes('AKIAIOSFODNN7QWERTYU'), 'the AWS key id in the model name leaked');
  });

  it('strips headers a caller sets to steer Tollgate, Envoy or the provider', async () => {
    const spoof = { 'x-tollgate-identity': 'admin', forwarded: 'for=10.0.0.1', 'x-real-ip': '10.0.0.1', 'x-forwarded-host': 'evil.example', 'x-envoy-original-dst-host': '10.0.0.2:443', 'x-custom-trace': 'x' };
    const r = await send('/openai/chat/completions', { body: '{"model":"gpt-4o-mini","messages":[]}', headers: spoof });
    assert.equal(r.status, 200, r.body);
    const got = stack.upstream.requests.at(-1)!;
    for (const name of Object.keys(spoof)) assert.equal(got.headers[name], undefined, `${name} reached the provider`);
    assert.equal(got.headers['content-type'], 'application/json', 'allowed headers pass');
  });
});

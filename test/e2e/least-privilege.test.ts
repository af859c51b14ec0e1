// Least privilege through a real Envoy: a grant that names only models allows the inference operations
// of its kind, never the organisation's stored data (files, stored responses, batches, fine-tuning)
// with the injected provider key. Listing those operations allows them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { openAiResponder, type Responder } from '../../extproc/dev/fake-upstream.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const listedKey = mintApiKey();

/** Chat as the demo upstream answers it; any other path answers 200 with the provider key checked. */
const responder = (providerKey: string): Responder => {
  const chat = openAiResponder(providerKey);
  return (req) => (req.path.endsWith('/chat/completions') || req.headers.authorization !== `Bearer ${providerKey}`
    ? chat(req)
    : { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ object: 'upstream', path: req.path }) });
};

const noBody = { body: 'none', model: 'optional', format: 'opaque', stream: 'never' } as const;

function tweak(c: ConfigInput): ConfigInput {
  const [openai, ...rest] = c.providers;
  return {
    ...c,
    providers: [
      {
        ...openai!,
        // Batches and fine-tuning are not built-in endpoints; an operator adds them with their operation.
        extraEndpoints: [
          { method: 'GET', path: '/v1/batches', operation: 'batches', ...noBody },
          { method: 'GET', path: '/v1/fine_tuning/jobs', operation: 'fine_tuning', ...noBody },
        ],
      },
      ...rest,
    ],
    identities: [
      ...c.identities,
      {
        id: 'listed-1', tenant: 'team-l', apiKeyHashes: [hashApiKey(listedKey)],
        allow: [{ provider: 'openai', models: ['gpt-4o-mini'], operations: ['chat', 'files', 'responses.get', 'batches', 'fine_tuning'] }],
      },
    ],
  };
}

const STORED_DATA: readonly { readonly name: string; readonly method: string; readonly path: string; readonly upstreamPath: string }[] = [
  { name: 'list files', method: 'GET', path: '/openai/files', upstreamPath: '/v1/files' },
  { name: 'download a file', method: 'GET', path: '/openai/files/file-abc123/content', upstreamPath: '/v1/files/file-abc123/content' },
  { name: 'delete a file', method: 'DELETE', path: '/openai/files/file-abc123', upstreamPath: '/v1/files/file-abc123' },
  { name: 'list batches', method: 'GET', path: '/openai/batches', upstreamPath: '/v1/batches' },
  { name: 'list fine-tuning jobs', method: 'GET', path: '/openai/fine_tuning/jobs', upstreamPath: '/v1/fine_tuning/jobs' },
  { name: 'read a stored response', method: 'GET', path: '/openai/responses/resp_abc123', upstreamPath: '/v1/responses/resp_abc123' },
];

describe('a grant without operations: inference only', () => {
  let stack: Stack;
  before(async () => { stack = await startStack({ respond: responder, tweak }); });
  after(async () => { await stack.stop(); });

  const send = (key: string, method: string, path: string, body?: string): Promise<Response> =>
    fetch(`${stack.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body ?? null });

  it('a grant naming only models: chat is allowed, with the provider key upstream', async () => {
    const r = await send(stack.keys.restricted, 'POST', '/openai/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(r.status, 200, await r.text());
    assert.equal(stack.upstream.requests.at(-1)?.headers.authorization, `Bearer ${stack.providerKey}`);
  });

  it('a grant naming only models: listing models is allowed', async () => {
    const r = await send(stack.keys.restricted, 'GET', '/openai/models');
    assert.equal(r.status, 200, await r.text());
  });

  for (const c of STORED_DATA) {
    it(`a grant naming only models: ${c.name} is 403 operation_forbidden, nothing upstream`, async () => {
      const before = stack.upstream.requests.length;
      const r = await send(stack.keys.restricted, c.method, c.path);
      const text = await r.text();
      assert.equal(r.status, 403, text);
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'operation_forbidden');
      assert.ok(r.headers.get('x-tollgate-decision-id'));
      assert.equal(stack.upstream.requests.length, before, 'the upstream received nothing');
      assert.ok(stack.audit().some((a) => a.identity === 'restricted-1' && a.reason === 'operation_forbidden' && a.path === c.path));
    });

    it(`a grant listing the operation: ${c.name} reaches the upstream with the provider key`, async () => {
      const r = await send(listedKey, c.method, c.path);
      const text = await r.text();
      assert.equal(r.status, 200, text);
      assert.deepEqual(JSON.parse(text), { object: 'upstream', path: c.upstreamPath });
      const got = stack.upstream.requests.at(-1);
      assert.ok(got !== undefined);
      assert.equal(got.method, c.method);
      assert.equal(got.path, c.upstreamPath);
      assert.equal(got.headers.authorization, `Bearer ${stack.providerKey}`);
    });
  }

  it('a grant listing operations allows only those: embeddings is 403 for it', async () => {
    const before = stack.upstream.requests.length;
    const r = await send(listedKey, 'POST', '/openai/embeddings', JSON.stringify({ model: 'gpt-4o-mini', input: 'x' }));
    assert.equal(r.status, 403, await r.text());
    assert.equal(stack.upstream.requests.length, before);
  });
});

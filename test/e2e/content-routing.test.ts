// Classification routing through a real Envoy with two upstreams: a prompt with PII that policy routes to the
// "onprem" class reaches the on-prem upstream (its path, host and credential; the route header stripped), a
// clean prompt reaches the cloud upstream, a declared classification header routes too, a route header sent by
// the caller is removed before Envoy routes, and a class with no target for the request's format fails closed.
// Routing reads the same findings as masking: PII in a tool description, a name, metadata or an unknown field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonResponse, openAiSse, startContentStack, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { leaked, plantEmail, plantSsn } from '../helpers/content-values.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const SSN = plantSsn();
const EMAIL = plantEmail();

const answer = (who: string) => (req: SeenRequest) => {
  const stream = (JSON.parse(req.body.toString('utf8')) as { stream?: boolean }).stream === true;
  if (req.path.endsWith('/messages')) return jsonResponse({ id: 'm1', type: 'message', role: 'assistant', content: [{ type: 'text', text: `from ${who}` }], usage: { input_tokens: 1, output_tokens: 2 } });
  return stream ? openAiSse(['from ', who, ' stream'], 2) : jsonResponse({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `from ${who}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
};

describe('classification routing through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      cloud: answer('cloud'),
      onprem: answer('onprem'),
      tweak: (c) => ({
        ...c,
        routing: { classes: [{ name: 'onprem', providers: ['onprem'] }], declared: { header: 'x-data-classification', map: { confidential: 'onprem' } } },
        dlp: { actions: [{ detectors: ['pii.us_ssn'], action: 'route', route: 'onprem' }, { detectors: ['EMAIL'], action: 'mask', restore: true }] },
      }),
    });
  });
  after(async () => {
    await stack.stop();
  });

  const post = async (path: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; text: string; requestId: string | null }> => {
    const auth = path.startsWith('/anthropic/') ? { 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${stack.keys.agent}` };
    const res = await fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text(), requestId: res.headers.get('x-request-id') };
  };
  const chat = (content: string, extra: object = {}): object => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
  const counts = (): [number, number] => [stack.cloud.requests.length, stack.onprem.requests.length];
  const onpremHost = (): string => new URL(stack.onprem.url).host;

  it('a prompt with PII reaches the on-prem upstream with its credential, path and host; other PII is still masked', async () => {
    const [c0, o0] = counts();
    const r = await post('/openai/chat/completions', chat(`SSN ${SSN}, mail ${EMAIL}`));
    assert.equal(r.status, 200, r.text);
    assert.ok(r.text.includes('from onprem'), r.text);
    assert.deepEqual(counts(), [c0, o0 + 1], 'only the on-prem upstream was called');
    const got = stack.onprem.requests.at(-1);
    assert.ok(got !== undefined);
    assert.equal(got.path, '/v1/chat/completions', "the target's prefix rewrite");
    assert.equal(got.headers.host, onpremHost(), "the target's host rewrite");
    assert.equal(got.headers.authorization, `Bearer ${stack.onpremKey}`, "the target's credential");
    assert.equal(got.headers['x-tollgate-route-class'], undefined, 'the route header never reaches a provider');
    assert.equal(got.headers['x-forwarded-proto'], undefined, 'nor x-forwarded-proto (set back only for the re-match)');
    const text = got.body.toString('utf8');
    assert.ok(text.includes(SSN), 'routed, not masked: the on-prem model sees the value');
    assert.ok(text.includes('<EMAIL_1>') && !text.includes(EMAIL));
    assert.equal(got.headers['content-length'], String(got.body.length));
    const rec = await awaitRecord(stack, r.requestId);
    assert.equal(rec.provider, 'onprem');
    assert.equal(rec.content?.action, 'route');
    assert.equal(rec.content.request.US_SSN, 1);
    assert.deepEqual(rec.route, { class: 'onprem', from: 'openai' });
  });

  it('a clean prompt reaches the cloud upstream with the cloud credential', async () => {
    const [c0, o0] = counts();
    const r = await post('/openai/chat/completions', chat('What is the capital of France?'));
    assert.equal(r.status, 200, r.text);
    assert.ok(r.text.includes('from cloud'));
    assert.deepEqual(counts(), [c0 + 1, o0]);
    const got = stack.cloud.requests.at(-1);
    assert.equal(got?.path, '/v1/chat/completions');
    assert.equal(got.headers.authorization, `Bearer ${stack.cloudKey}`);
  });

  it('a streamed response from the routed upstream passes through', async () => {
    const r = await post('/openai/chat/completions', chat(`SSN ${SSN}`, { stream: true }));
    assert.equal(r.status, 200, r.text);
    assert.ok(r.text.includes('"content":"onprem"') && r.text.includes('[DONE]'), r.text);
  });

  for (const value of ['confidential', 'Confidential']) {
    it(`a declared classification header (${value}) routes a clean prompt on-prem`, async () => {
      const [c0, o0] = counts();
      const r = await post('/openai/chat/completions', chat('Summarise the quarterly plan.'), { 'x-data-classification': value });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(counts(), [c0, o0 + 1]);
      assert.equal(stack.onprem.requests.at(-1)?.headers.authorization, `Bearer ${stack.onpremKey}`);
    });
  }

  it('an unmapped declared value routes nowhere', async () => {
    const [c0, o0] = counts();
    const r = await post('/openai/chat/completions', chat('Hello.'), { 'x-data-classification': 'public' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(counts(), [c0 + 1, o0]);
  });

  it("a caller's own route header is removed before Envoy routes: the request stays on its provider", async () => {
    const [c0, o0] = counts();
    const r = await post('/openai/chat/completions', chat('Hello there.'), { 'x-tollgate-route-class': 'onprem' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(counts(), [c0 + 1, o0], 'the caller cannot pick the on-prem route (with the cloud credential)');
    assert.equal(stack.cloud.requests.at(-1)?.headers['x-tollgate-route-class'], undefined);
  });

  it('a class with no target for the request format fails closed (Anthropic has no on-prem provider)', async () => {
    const [c0, o0] = counts();
    const r = await post('/anthropic/v1/messages', { model: 'claude-sonnet-4', max_tokens: 16, messages: [{ role: 'user', content: `SSN ${SSN}` }] });
    assert.equal(r.status, 403, r.text);
    const err = (JSON.parse(r.text) as { error: { code: string; blocked_types?: string[] } }).error;
    assert.equal(err.code, 'route_unavailable');
    assert.deepEqual(err.blocked_types, ['US_SSN']);
    assert.deepEqual(counts(), [c0, o0]);
    const rec = stack.audit().filter((a) => a.reason === 'route_unavailable').at(-1);
    assert.equal(rec?.rule, 'routing.classes');
  });

  it("the target provider's model rules apply: a model the on-prem provider does not serve is refused", async () => {
    const [c0, o0] = counts();
    const r = await post('/openai/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: `SSN ${SSN}` }] });
    assert.equal(r.status, 403, r.text);
    assert.equal((JSON.parse(r.text) as { error: { code: string } }).error.code, 'model_forbidden');
    assert.deepEqual(counts(), [c0, o0]);
  });

  // Issue 12: routing reads the same findings as masking, in every field of the body.
  const elsewhere: { name: string; body: (v: string) => object }[] = [
    { name: 'a tool description', body: (v) => chat('Look this up.', { tools: [{ type: 'function', function: { name: 'lookup', description: `Records of SSN ${v}` } }] }) },
    { name: 'messages[].name', body: (v) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', name: `ssn ${v}`, content: 'hello' }] }) },
    { name: 'metadata', body: (v) => chat('hello', { metadata: { ssn: `SSN ${v}` } }) },
    { name: 'an unknown field', body: (v) => chat('hello', { x_future: { ssn: `SSN ${v}` } }) },
  ];
  for (const e of elsewhere) {
    it(`PII in ${e.name} routes the request on-prem`, async () => {
      const [c0, o0] = counts();
      const r = await post('/openai/chat/completions', e.body(SSN));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(counts(), [c0, o0 + 1], 'only the on-prem upstream was called');
      assert.ok(stack.onprem.requests.at(-1)?.body.includes(SSN), 'routed, not masked');
    });
  }

  it('PII in an Anthropic tool description picks the class too: no on-prem target, so it fails closed', async () => {
    const [c0, o0] = counts();
    const r = await post('/anthropic/v1/messages', { model: 'claude-sonnet-4', max_tokens: 16, tools: [{ name: 'lookup', description: `SSN ${SSN}`, input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(r.status, 403, r.text);
    assert.equal((JSON.parse(r.text) as { error: { code: string } }).error.code, 'route_unavailable');
    assert.deepEqual(counts(), [c0, o0]);
  });

  it('no output of any process contains a planted value', async () => {
    await stack.tollgate.stop();
    await stack.envoy.stop();
    assert.deepEqual(leaked(stack.allOutput(), [SSN, EMAIL]), []);
  });
});

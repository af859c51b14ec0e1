// Content controls on requests, end to end through a real Envoy: the upstream receives a masked body with a
// correct content-length; a blocked prompt never reaches the upstream and the 403 names the types, never the
// values; secrets in tool results (OpenAI role "tool", Anthropic tool_result) are caught; restore gives the
// caller the original values in buffered and SSE responses; no output of any process contains a planted value.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { anthropicSse, jsonResponse, openAiSse, startContentStack, type ChunkedResponse, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { leaked, plantAwsKeyId, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import { eventually } from '../helpers/stack.ts';

const EMAIL = plantEmail();
const STRIPE = plantStripeKey();
const AKIA = plantAwsKeyId();
const PLANTED = [EMAIL, STRIPE, AKIA];

/** The text of the last message of a chat or messages body (string content or text parts). */
function lastText(body: Buffer): string {
  const doc = JSON.parse(body.toString('utf8')) as { messages?: { content?: unknown }[] };
  const c = doc.messages?.at(-1)?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p: { text?: unknown }) => (typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/** Echoes the last message back: buffered or SSE (3-character deltas, 5 ms apart), OpenAI or Anthropic shaped. */
function echo(req: SeenRequest): ChunkedResponse {
  const text = `Echo: ${lastText(req.body)}`;
  const stream = (JSON.parse(req.body.toString('utf8')) as { stream?: boolean }).stream === true;
  const pieces = text.match(/.{1,3}/gs) ?? [];
  if (req.path.endsWith('/messages')) {
    return stream ? anthropicSse(pieces, 5) : jsonResponse({ id: 'm1', type: 'message', role: 'assistant', content: [{ type: 'text', text }], usage: { input_tokens: 5, output_tokens: 7 } });
  }
  return stream ? openAiSse(pieces, 5) : jsonResponse({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
}

/** SSE delta text joined (OpenAI delta.content and Anthropic text_delta). */
function sseText(raw: string): string {
  let out = '';
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const d = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[]; delta?: { text?: string } };
    out += d.choices?.[0]?.delta?.content ?? d.delta?.text ?? '';
  }
  return out;
}

describe('content controls on requests through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      cloud: echo,
      tweak: (c) => ({ ...c, dlp: { actions: [{ detectors: ['EMAIL'], action: 'mask', restore: true }] } }),
    });
  });
  after(async () => {
    await stack.stop();
  });

  const post = async (path: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> => {
    const auth = path.startsWith('/anthropic/') ? { 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${stack.keys.agent}` };
    const res = await fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  const chat = (content: unknown, extra: object = {}): object => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
  const messages = (content: unknown, extra: object = {}): object => ({ model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content }], ...extra });

  const cases = [
    { name: 'OpenAI chat', path: '/openai/chat/completions', body: chat, upstreamPath: '/v1/chat/completions' },
    { name: 'Anthropic messages', path: '/anthropic/v1/messages', body: messages, upstreamPath: '/v1/messages' },
  ];

  for (const c of cases) {
    it(`${c.name}: the upstream receives the masked body with a correct content-length; the caller gets the value back (buffered)`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await post(c.path, c.body(`Please write to ${EMAIL} today.`));
      assert.equal(r.status, 200, r.text);
      const got = stack.cloud.requests.at(-1);
      assert.ok(got !== undefined && stack.cloud.requests.length === seen + 1);
      assert.equal(got.path, c.upstreamPath);
      assert.equal(lastText(got.body), 'Please write to <EMAIL_1> today.');
      assert.ok(!got.body.includes(EMAIL));
      assert.equal(got.headers['content-length'], String(got.body.length), 'content-length matches the masked body');
      assert.ok(r.text.includes(`Echo: Please write to ${EMAIL} today.`), r.text);
      assert.ok(!r.text.includes('<EMAIL_1>'));
    });

    it(`${c.name}: restore in an SSE response, with the placeholder split across chunks`, async () => {
      const r = await post(c.path, c.body(`Mail ${EMAIL} and ${EMAIL} again, please.`, { stream: true }));
      assert.equal(r.status, 200, r.text);
      assert.equal(lastText(stack.cloud.requests.at(-1)?.body ?? Buffer.alloc(0)), 'Mail <EMAIL_1> and <EMAIL_1> again, please.');
      assert.equal(sseText(r.text), `Echo: Mail ${EMAIL} and ${EMAIL} again, please.`);
      const events = r.text.split('\n\n').filter((e) => e !== '');
      assert.equal(events.filter((e) => e.includes('"role":"assistant"')).length, 1, 'no event duplicated');
    });

    it(`${c.name}: a secret in the prompt is blocked: never reaches the upstream, the 403 names the type only`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await post(c.path, c.body(`my key is ${STRIPE} and ${AKIA}`));
      assert.equal(r.status, 403);
      const err = (JSON.parse(r.text) as { error: { code: string; blocked_types: string[] } }).error;
      assert.equal(err.code, 'content_blocked');
      assert.deepEqual(err.blocked_types, ['AWS_ACCESS_KEY', 'STRIPE_KEY']);
      assert.deepEqual(leaked(r.text, PLANTED), []);
      assert.equal(stack.cloud.requests.length, seen, 'nothing reached the upstream');
    });
  }

  it('OpenAI: a secret in a tool result (role "tool") is blocked', async () => {
    const seen = stack.cloud.requests.length;
    const r = await post('/openai/chat/completions', {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'read the config' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"app.env"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: `STRIPE_SECRET=${STRIPE}` },
      ],
    });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual((JSON.parse(r.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['STRIPE_KEY']);
    assert.equal(stack.cloud.requests.length, seen);
  });

  it('Anthropic: a secret in a tool_result block is blocked; an email in one is masked', async () => {
    const toolTurn = (content: string): object => ({
      model: 'claude-sonnet-4',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'read the config' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'read_file', input: { path: 'app.env' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content }] },
      ],
    });
    const seen = stack.cloud.requests.length;
    const blocked = await post('/anthropic/v1/messages', toolTurn(`AWS_ACCESS_KEY_ID=${AKIA}`));
    assert.equal(blocked.status, 403, blocked.text);
    assert.deepEqual((JSON.parse(blocked.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['AWS_ACCESS_KEY']);
    assert.equal(stack.cloud.requests.length, seen);
    const masked = await post('/anthropic/v1/messages', toolTurn(`owner: ${EMAIL}`));
    assert.equal(masked.status, 200, masked.text);
    const got = stack.cloud.requests.at(-1)?.body.toString('utf8') ?? '';
    assert.ok(got.includes('owner: <EMAIL_1>') && !got.includes(EMAIL), got);
  });

  it('audit records count findings by type and action; no output of any process contains a planted value', async () => {
    await eventually(() => stack.audit().filter((a) => a.content !== null).length >= 9);
    const records = stack.audit();
    const blocked = records.filter((a) => a.reason === 'content_blocked');
    assert.ok(blocked.length >= 4);
    for (const b of blocked) assert.equal(b.content?.action, 'block');
    const masked = records.filter((a) => a.content?.action === 'mask');
    assert.ok(masked.length >= 4);
    for (const m of masked) assert.ok((m.content?.request.EMAIL ?? 0) >= 1);
    await stack.tollgate.stop();
    await stack.envoy.stop();
    const all = stack.allOutput();
    assert.ok(all.length > 1000, 'there is output to search');
    assert.deepEqual(leaked(all, PLANTED), []);
  });
});

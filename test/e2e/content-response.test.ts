// Response content coverage through a real Envoy, with a recording upstream that writes its answers in pieces:
// every text-bearing field of a response is scanned, not only the deltas. A secret the model writes reaches the
// caller masked in the Responses API's final events (output_text.done, content_part.done, output_item.done,
// completed), in logprobs tokens (buffered and streamed), in reasoning_content, refusal and audio-transcript
// deltas, in Gemini's streamed functionCall.args, in a provider error body that echoes it, in a stored response
// fetched with GET, in file content, and in a Bedrock converse-stream (AWS event-stream), where the request's
// placeholder is also restored. Restore touches model text only: not ids, not error bodies. No output of any
// process contains a planted value.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Operation } from '../../extproc/providers/shared/endpoints.ts';
import { EventStreamReader, encodeEventStreamMessage } from '../../extproc/providers/shared/eventstream.ts';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';
import { startContentStack, type ChunkedResponse, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { leaked, plantEmail, plantStripeKey } from '../helpers/content-values.ts';

const STRIPE = plantStripeKey();
const EMAIL = plantEmail();
const PIECES = ['key ', STRIPE.slice(0, 10), STRIPE.slice(10, 21), `${STRIPE.slice(21)} ok`];
const MASKED = `key ${leakMark('STRIPE_KEY')} ok`;
const FRAGMENTS = [STRIPE, STRIPE.slice(10, 21), STRIPE.slice(21)];

const SSE = { 'content-type': 'text/event-stream' };
const ev = (name: string | undefined, doc: unknown): string => `${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(doc)}\n\n`;
const sse = (events: readonly string[]): ChunkedResponse => ({ status: 200, headers: SSE, parts: events.flatMap((e) => [5, e]) });
const json = (status: number, body: unknown): ChunkedResponse => ({ status, headers: { 'content-type': 'application/json' }, parts: [JSON.stringify(body)] });
const chatChunk = (delta: object, extra: object = {}, finish: string | null = null): string => ev(undefined, { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, ...extra }] });
const tok = (token: string): object => ({ token, logprob: -0.1, bytes: [...Buffer.from(token)], top_logprobs: [{ token, logprob: -0.1, bytes: [...Buffer.from(token)] }] });
const frame = (eventType: string, payload: unknown): Buffer => encodeEventStreamMessage({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }, Buffer.from(JSON.stringify(payload)));

function responsesStream(): ChunkedResponse {
  const text = PIECES.join('');
  const content = [{ type: 'output_text', text, annotations: [] }];
  return sse([
    ev('response.created', { type: 'response.created', response: { id: 'resp_1', status: 'in_progress', output: [] } }),
    ...PIECES.map((d) => ev('response.output_text.delta', { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: d })),
    ev('response.output_text.done', { type: 'response.output_text.done', item_id: 'msg_1', output_index: 0, content_index: 0, text }),
    ev('response.content_part.done', { type: 'response.content_part.done', item_id: 'msg_1', output_index: 0, content_index: 0, part: content[0] }),
    ev('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: { id: 'msg_1', type: 'message', role: 'assistant', content } }),
    ev('response.completed', { type: 'response.completed', response: { id: 'resp_1', status: 'completed', output: [{ id: 'msg_1', type: 'message', role: 'assistant', content }], usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } } }),
  ]);
}

function respond(req: SeenRequest): ChunkedResponse {
  const body = req.body.toString('utf8');
  if (req.method === 'GET' && req.path.endsWith('/responses/resp_1')) return json(200, { id: 'resp_1', object: 'response', output: [{ id: 'msg_1', type: 'message', content: [{ type: 'output_text', text: PIECES.join('') }] }] });
  if (req.method === 'GET' && req.path.endsWith('/content')) return { status: 200, headers: { 'content-type': 'application/octet-stream' }, parts: [`{"prompt": "a", "completion": "b"}\n{"prompt": "x", "completion": "${PIECES.join('')}"}\n`] };
  if (req.path.endsWith('/converse-stream')) {
    const placeholder = /<EMAIL_\d+>/.exec(body)?.[0] ?? 'none';
    return {
      status: 200,
      headers: { 'content-type': 'application/vnd.amazon.eventstream' },
      parts: [
        frame('messageStart', { role: 'assistant', p: 'abcd' }),
        ...[...PIECES, ` mail ${placeholder.slice(0, 4)}`, `${placeholder.slice(4)}.`].flatMap((t) => [5, frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: t }, p: 'abcdef' })]),
        frame('contentBlockStop', { contentBlockIndex: 0, p: 'ab' }),
        frame('messageStop', { stopReason: 'end_turn', p: 'abc' }),
        frame('metadata', { usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 }, metrics: { latencyMs: 10 }, p: 'ab' }),
      ],
    };
  }
  if (req.path.includes(':streamGenerateContent')) {
    return sse([
      ev(undefined, { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'calling' }] } }] }),
      ev(undefined, { candidates: [{ index: 0, content: { role: 'model', parts: [{ functionCall: { name: 'send', args: { note: PIECES.join(''), n: 1 } } }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4 } }),
    ]);
  }
  if (req.path.endsWith('/responses')) return responsesStream();
  if (body.includes('thinking please')) {
    const placeholder = /<EMAIL_\d+>/.exec(body)?.[0] ?? 'none';
    return json(200, {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'thinking', thinking: `mail ${placeholder}, ${PIECES.join('')}`, signature: 'c2lnbmF0dXJl' }, { type: 'text', text: `sent to ${placeholder}` }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, output_tokens: 4 },
    });
  }
  if (body.includes('echo error')) return json(400, { error: { message: `Invalid value in prompt: ${PIECES.join('')} (see <EMAIL_1>)`, type: 'invalid_request_error' } });
  if (body.includes('logprobs buffered')) {
    return json(200, { id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: PIECES.join('') }, logprobs: { content: PIECES.map(tok) }, finish_reason: 'stop' }] });
  }
  if (body.includes('logprobs stream')) return sse([...PIECES.map((p) => chatChunk({ content: p }, { logprobs: { content: [tok(p)] } })), chatChunk({}, {}, 'stop'), 'data: [DONE]\n\n']);
  if (body.includes('reasoning')) return sse([...PIECES.map((p) => chatChunk({ reasoning_content: p })), chatChunk({ content: 'done' }), chatChunk({}, {}, 'stop'), 'data: [DONE]\n\n']);
  if (body.includes('refusal and audio')) {
    return sse([...PIECES.map((p) => chatChunk({ refusal: p })), ...PIECES.map((p) => chatChunk({ audio: { id: 'audio_1', transcript: p } })), chatChunk({}, {}, 'stop'), 'data: [DONE]\n\n']);
  }
  if (body.includes('echo placeholder')) {
    const placeholder = /<EMAIL_\d+>/.exec(body)?.[0] ?? 'none';
    return json(200, { id: placeholder, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `mail ${placeholder}` }, finish_reason: 'stop' }] });
  }
  return json(500, { error: 'unexpected test request' });
}

interface Doc {
  [k: string]: unknown;
}
const events = (raw: string): Doc[] => raw.split('\n\n').filter((e) => e.includes('data: {')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as Doc);

/** Inference plus stored responses and file content, which a grant must list (least privilege). */
const OPENAI_OPERATIONS: Operation[] = ['chat', 'completions', 'responses', 'responses.get', 'files', 'models.list'];

describe('every text-bearing response field through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      cloud: respond,
      tweak: (c) => {
        const cred = c.providers[0]?.credential ?? { source: 'none' as const };
        return {
          ...c,
          providers: [
            ...c.providers,
            { name: 'gemini', kind: 'vertex', upstream: c.providers[0]?.upstream.replace(/\/v1$/, '') ?? '', models: ['gemini-*'], credential: cred },
            { name: 'bedrock', kind: 'bedrock', upstream: c.providers[0]?.upstream.replace(/\/v1$/, '') ?? '', region: 'us-east-1', models: ['amazon.nova-*'], credential: { source: 'none' } },
          ],
          // Stored responses and file content are not inference: a grant must list them (least privilege).
          identities: c.identities.map((i) => (i.id === 'agent-1'
            ? { ...i, allow: [...i.allow.map((g) => (g.provider === 'openai' ? { ...g, operations: OPENAI_OPERATIONS } : g)), { provider: 'gemini' }, { provider: 'bedrock' }] }
            : i)),
          dlp: { response: { scan: true, holdBack: 16, maxHoldBack: 256 }, actions: [{ detectors: ['EMAIL'], action: 'mask', restore: true }] },
        };
      },
    });
  });
  after(async () => {
    await stack.stop();
  });

  const auth = (): Record<string, string> => ({ authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json' });
  const chat = (content: string, stream: boolean, extra: object = {}): Promise<Response> =>
    fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: auth(), body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content }], ...extra }) });
  const clean = (raw: string): void => {
    assert.deepEqual(leaked(raw, FRAGMENTS), [], 'no secret or fragment of it reaches the caller');
  };

  it('H1 Responses stream: the deltas and the four final events all carry the masked text', async () => {
    const res = await fetch(`${stack.url}/openai/responses`, { method: 'POST', headers: auth(), body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, input: 'hello' }) });
    assert.equal(res.status, 200);
    const raw = await res.text();
    clean(raw);
    const d = events(raw);
    const byType = (t: string): Doc | undefined => d.find((x) => x['type'] === t);
    assert.equal(d.filter((x) => x['type'] === 'response.output_text.delta').map((x) => x['delta']).join(''), MASKED);
    assert.equal(byType('response.output_text.done')?.['text'], MASKED);
    assert.equal((byType('response.content_part.done')?.['part'] as Doc)['text'], MASKED);
    assert.equal(((byType('response.output_item.done')?.['item'] as { content: Doc[] }).content[0])?.['text'], MASKED);
    const completed = byType('response.completed')?.['response'] as { id: string; output: { content: Doc[] }[] };
    assert.equal(completed.output[0]?.content[0]?.['text'], MASKED);
    assert.equal(completed.id, 'resp_1', 'ids are left alone');
    assert.equal(d.length, 9, 'one event out per event in');
  });

  it('logprobs (buffered): tokens cannot rebuild the secret; the affected tokens lose bytes and alternatives', async () => {
    const res = await chat('logprobs buffered', false, { logprobs: true });
    assert.equal(res.status, 200);
    const raw = await res.text();
    clean(raw);
    const doc = JSON.parse(raw) as { choices: { message: { content: string }; logprobs: { content: Doc[] } }[] };
    const entries = doc.choices[0]?.logprobs.content ?? [];
    assert.equal(doc.choices[0]?.message.content, MASKED);
    assert.equal(entries.map((e) => e['token']).join(''), MASKED);
    assert.deepEqual(entries.map((e) => e['bytes'] === null), [false, true, true, true]);
  });

  it('logprobs (SSE): tokens cannot rebuild the secret across events', async () => {
    const res = await chat('logprobs stream', true, { logprobs: true });
    const raw = await res.text();
    clean(raw);
    const entries = events(raw).flatMap((x) => ((x['choices'] as { logprobs?: { content: Doc[] } }[])[0]?.logprobs?.content ?? []));
    assert.equal(entries.map((e) => e['token']).join(''), MASKED);
    assert.ok(!Buffer.from(entries.flatMap((e) => (Array.isArray(e['bytes']) ? (e['bytes'] as number[]) : []))).toString().includes(STRIPE.slice(10, 21)));
  });

  it('reasoning_content deltas (vLLM, DeepSeek) are masked across events', async () => {
    const raw = await (await chat('show reasoning', true)).text();
    clean(raw);
    assert.equal(events(raw).map((x) => ((x['choices'] as { delta: Doc }[])[0]?.delta['reasoning_content'] as string | undefined) ?? '').join(''), MASKED);
  });

  it('refusal and audio transcript deltas are masked across events', async () => {
    const raw = await (await chat('refusal and audio', true)).text();
    clean(raw);
    const deltas = events(raw).map((x) => (x['choices'] as { delta: Doc }[])[0]?.delta ?? {});
    assert.equal(deltas.map((dl) => (dl['refusal'] as string | undefined) ?? '').join(''), MASKED);
    assert.equal(deltas.map((dl) => (dl['audio'] as { transcript?: string } | undefined)?.transcript ?? '').join(''), MASKED);
  });

  it('Gemini SSE: functionCall.args is masked', async () => {
    const res = await fetch(`${stack.url}/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse`, { method: 'POST', headers: auth(), body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'call a tool' }] }] }) });
    assert.equal(res.status, 200);
    const raw = await res.text();
    clean(raw);
    const call = events(raw).flatMap((x) => (x['candidates'] as { content: { parts: Doc[] } }[])[0]?.content.parts ?? []).find((p) => p['functionCall'] !== undefined);
    assert.deepEqual(call?.['functionCall'], { name: 'send', args: { note: MASKED, n: 1 } });
  });

  it('an error body that echoes the prompt is masked, and no placeholder is restored into it', async () => {
    const res = await chat(`echo error for ${EMAIL}`, false);
    assert.equal(res.status, 400);
    const raw = await res.text();
    clean(raw);
    const doc = JSON.parse(raw) as { error: { message: string } };
    assert.equal(doc.error.message, `Invalid value in prompt: ${MASKED} (see <EMAIL_1>)`);
    assert.ok(!raw.includes(EMAIL));
  });

  it('a 2xx answer: the placeholder is restored in the model text, not in the id', async () => {
    const res = await chat(`echo placeholder ${EMAIL}`, false);
    const doc = (await res.json()) as { id: string; choices: { message: { content: string } }[] };
    assert.ok(!stack.cloud.requests.some((r) => r.body.includes(EMAIL)), 'the upstream never saw the address');
    assert.equal(doc.choices[0]?.message.content, `mail ${EMAIL}`);
    assert.match(doc.id, /^<EMAIL_\d+>$/);
  });

  it('Anthropic thinking: a leak is masked; the placeholder is restored in the text, not in the signed thinking', async () => {
    const res = await fetch(`${stack.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content: `thinking please, mail ${EMAIL}` }] }),
    });
    assert.equal(res.status, 200);
    const raw = await res.text();
    clean(raw);
    const doc = JSON.parse(raw) as { content: Doc[] };
    assert.match(doc.content[0]?.['thinking'] as string, new RegExp(`^mail <EMAIL_\\d+>, ${MASKED.replace(/[[\]]/g, '\\$&')}$`));
    assert.equal(doc.content[0]?.['signature'], 'c2lnbmF0dXJl');
    assert.equal(doc.content[1]?.['text'], `sent to ${EMAIL}`);
  });

  it('GET a stored response: the leaked secret is masked', async () => {
    const res = await fetch(`${stack.url}/openai/responses/resp_1`, { headers: { authorization: `Bearer ${stack.keys.agent}` } });
    assert.equal(res.status, 200);
    const raw = await res.text();
    clean(raw);
    assert.equal((JSON.parse(raw) as { output: { content: Doc[] }[] }).output[0]?.content[0]?.['text'], MASKED);
    assert.ok(stack.cloud.requests.some((r) => r.method === 'GET' && r.path === '/v1/responses/resp_1'));
  });

  it('GET file content (text, not JSON): the leaked secret is masked', async () => {
    const res = await fetch(`${stack.url}/openai/files/file-1/content`, { headers: { authorization: `Bearer ${stack.keys.agent}` } });
    assert.equal(res.status, 200);
    const raw = await res.text();
    clean(raw);
    assert.equal(raw, `{"prompt": "a", "completion": "b"}\n{"prompt": "x", "completion": "${MASKED}"}\n`);
  });

  it('Bedrock converse-stream (AWS event-stream): the secret is masked, the placeholder restored, frames stay valid', async () => {
    const res = await fetch(`${stack.url}/bedrock/model/amazon.nova-pro-v1:0/converse-stream`, {
      method: 'POST',
      headers: auth(),
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: `write to ${EMAIL}` }] }] }),
    });
    assert.equal(res.status, 200);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.deepEqual(leaked(bytes.toString('latin1'), FRAGMENTS), []);
    assert.ok(!stack.cloud.requests.some((r) => r.body.includes(EMAIL)), 'the upstream never saw the address');
    const reader = new EventStreamReader();
    const frames = reader.push(bytes);
    assert.equal(reader.broken, false, 're-encoded frames carry valid CRCs');
    assert.equal(frames.length, 10, 'one frame out per frame in');
    const text = frames.map((m) => (JSON.parse(m.payload.toString()) as { delta?: { text?: string } }).delta?.text ?? '').join('');
    assert.equal(text, `${MASKED} mail ${EMAIL}.`);
  });

  it('audit counts the masked leaks; no output of any process contains a planted value', async () => {
    assert.ok(stack.audit().filter((a) => (a.content?.response.STRIPE_KEY ?? 0) > 0).length >= 9);
    await stack.tollgate.stop();
    await stack.envoy.stop();
    assert.deepEqual(leaked(stack.allOutput(), [...FRAGMENTS, EMAIL]), []);
  });
});

// Leak scanning of responses through a real Envoy: a secret the model writes, split across SSE chunks (sent with
// pauses) and across JSON deltas, reaches the caller masked, in OpenAI chat and Anthropic messages streams, with
// every event in its original order; a leak in a buffered response is masked; a secret too long to hold back
// fails the stream closed (the caller never gets it whole, the audit says response_leak); no output of any
// process contains a planted value.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';
import { anthropicSse, jsonResponse, openAiSse, startContentStack, type ChunkedResponse, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { leaked, plantAwsKeyId, plantStripeKey } from '../helpers/content-values.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const STRIPE = plantStripeKey();
const AKIA = plantAwsKeyId();
const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A JWT of about 600 characters: longer than the 256-character hold-back bound configured below. */
const JWT = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'svc', scope: randomBytes(200).toString('hex') })}.${randomBytes(32).toString('base64url')}`;
const PLANTED = [STRIPE, AKIA, JWT];

/** The pieces a model "writes": the Stripe key split across three deltas, the AWS key id across two. */
const LEAK_PIECES = ['Sure, the key is ', STRIPE.slice(0, 10), STRIPE.slice(10, 21), `${STRIPE.slice(21)} and the id `, AKIA.slice(0, 9), `${AKIA.slice(9)}. Done.`];
const EXPECTED = `Sure, the key is ${leakMark('STRIPE_KEY')} and the id ${leakMark('AWS_ACCESS_KEY')}. Done.`;

function respond(req: SeenRequest): ChunkedResponse {
  const body = req.body.toString('utf8');
  const anthropic = req.path.endsWith('/messages');
  if (body.includes('long token')) return openAiSse(['token: ', ...(JWT.match(/.{1,40}/g) ?? []), ' end'], 3);
  if (body.includes('buffered')) return jsonResponse({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: LEAK_PIECES.join('') }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
  return anthropic ? anthropicSse(LEAK_PIECES, 15) : openAiSse(LEAK_PIECES, 15);
}

function deltaTexts(raw: string): string[] {
  const out: string[] = [];
  for (const block of raw.split('\n\n')) {
    const line = block.split('\n').find((l) => l.startsWith('data: '));
    if (line === undefined || line === 'data: [DONE]') continue;
    const d = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[]; delta?: { text?: string } };
    const t = d.choices?.[0]?.delta?.content ?? d.delta?.text;
    if (t !== undefined) out.push(t);
  }
  return out;
}

describe('leak scanning of responses through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({ cloud: respond, tweak: (c) => ({ ...c, dlp: { response: { scan: true, holdBack: 16, maxHoldBack: 256 } } }) });
  });
  after(async () => {
    await stack.stop();
  });

  const post = (path: string, content: string, stream: boolean): Promise<Response> => {
    const anthropic = path.startsWith('/anthropic/');
    const auth = anthropic ? { 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${stack.keys.agent}` };
    const body = anthropic ? { model: 'claude-sonnet-4', max_tokens: 64, stream, messages: [{ role: 'user', content }] } : { model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content }] };
    return fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
  };

  for (const [name, path, events, first] of [['OpenAI chat', '/openai/chat/completions', 10, 1], ['Anthropic messages', '/anthropic/v1/messages', 11, 0]] as const) {
    it(`${name}: secrets split across chunks and deltas are masked before they reach the caller; events keep their order`, async () => {
      const res = await post(path, 'tell me the key', true);
      assert.equal(res.status, 200);
      const raw = await res.text();
      assert.deepEqual(leaked(raw, [STRIPE, AKIA, STRIPE.slice(10, 21), AKIA.slice(0, 9)]), []);
      const texts = deltaTexts(raw);
      assert.equal(texts.length, first + LEAK_PIECES.length, 'one delta out per delta in');
      assert.equal(texts.join(''), EXPECTED);
      assert.equal(texts[first], 'Sure, the key is ', 'text goes out in the delta it arrived in');
      assert.equal(texts[first + 1], leakMark('STRIPE_KEY'), 'the mask lands in the earliest delta of the secret');
      assert.equal(raw.split('\n\n').filter((e) => e !== '').length, events, 'one event out per event in');
      if (name === 'OpenAI chat') assert.ok(raw.trimEnd().endsWith('data: [DONE]') && raw.indexOf('"usage"') > raw.indexOf('"finish_reason":"stop"'));
      else assert.ok(raw.indexOf('content_block_stop') > raw.lastIndexOf('content_block_delta') && raw.trimEnd().endsWith('{"type":"message_stop"}'));
    });
  }

  it('a leak in a buffered response is masked', async () => {
    const res = await post('/openai/chat/completions', 'buffered please', false);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(doc.choices[0]?.message.content, EXPECTED);
  });

  it('a secret longer than the hold-back bound fails the stream closed', async () => {
    const res = await post('/openai/chat/completions', 'long token please', true);
    let raw = '';
    let failed = false;
    try {
      raw = await res.text();
    } catch {
      failed = true;
    }
    assert.ok(!raw.includes(JWT), 'the token never reaches the caller whole');
    assert.ok(failed || !raw.includes('[DONE]'), 'the stream did not end cleanly');
    const rid = res.headers.get('x-request-id');
    const rec = await awaitRecord(stack, rid);
    assert.equal(rec.reason, 'response_leak');
    assert.equal(rec.content?.response.JWT, 1);
  });

  it('audit counts response findings by type; no output of any process contains a planted value', async () => {
    const masked = stack.audit().filter((a) => (a.content?.response.STRIPE_KEY ?? 0) > 0);
    assert.equal(masked.length, 3);
    for (const m of masked) assert.equal(m.content?.response.AWS_ACCESS_KEY, 1);
    await stack.tollgate.stop();
    await stack.envoy.stop();
    assert.deepEqual(leaked(stack.allOutput(), PLANTED), []);
  });
});

// Compressed responses through a real Envoy (issue 12, H4). Tollgate asks every upstream for `identity`,
// whatever the caller accepts. An upstream that compresses a buffered response anyway has it decoded before
// usage, leak scanning and restore, and the caller gets the decoded body without content-encoding; a coding
// Tollgate does not decode, a compressed stream, a corrupt body or one that decodes past the response limit
// is refused with 502, and nothing of it reaches the caller.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { startContentStack, type ChunkedResponse, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { leaked, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const STRIPE = plantStripeKey();
const EMAIL = plantEmail();

const completion = (content: string): string => JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 11, completion_tokens: 13, total_tokens: 24 } });
const encoded = (coding: string, body: Buffer): ChunkedResponse => ({ status: 200, headers: { 'content-type': 'application/json', 'content-encoding': coding }, parts: [body] });

/** The prompt's last user message, as the upstream received it. */
const promptOf = (req: SeenRequest): string => ((JSON.parse(req.body.toString('utf8')) as { messages: { content: string }[] }).messages.at(-1)?.content ?? '');

function respond(req: SeenRequest): ChunkedResponse {
  if (req.method === 'GET') return encoded('gzip', gzipSync(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', owned_by: 'openai' }] })));
  const prompt = promptOf(req);
  const text = `Here it is: ${STRIPE}. Echo: ${prompt}`;
  if (prompt.startsWith('gzip')) return encoded('gzip', gzipSync(completion(text)));
  if (prompt.startsWith('br')) return encoded('br', brotliCompressSync(completion(text)));
  if (prompt.startsWith('deflate')) return encoded('deflate', deflateSync(completion(text)));
  if (prompt.startsWith('unknown')) return encoded('compress', Buffer.from(completion(text)));
  if (prompt.startsWith('corrupt')) return encoded('gzip', gzipSync(completion(text)).subarray(0, 40));
  // About 1 MiB of text compresses to a few KiB: over the 256 KiB response limit only once decoded.
  if (prompt.startsWith('bomb')) return encoded('gzip', gzipSync(completion(`${STRIPE} ${'a'.repeat(1024 * 1024)}`)));
  if (prompt.startsWith('stream')) return { status: 200, headers: { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' }, parts: [gzipSync(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: STRIPE } }] })}\n\ndata: [DONE]\n\n`)] };
  return { status: 200, headers: { 'content-type': 'application/json' }, parts: [completion(text)] };
}

describe('compressed responses through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      cloud: respond,
      tweak: (c) => ({ ...c, dlp: { actions: [{ detectors: ['EMAIL'], action: 'mask', restore: true }], response: { scan: true } } }),
    });
  });
  after(async () => {
    await stack.stop();
  });

  const chat = async (content: string): Promise<{ status: number; text: string; headers: Headers }> => {
    const res = await fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.keys.agent}`, 'accept-encoding': 'gzip, br' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  const auditFor = (requestId: string | null): Promise<AuditRecord> => awaitRecord(stack, requestId);

  it('the upstream is asked for identity, not for what the caller accepts', async () => {
    const r = await chat('plain, please');
    assert.equal(r.status, 200, r.text);
    assert.equal(stack.cloud.requests.at(-1)?.headers['accept-encoding'], 'identity');
  });

  it('a body-less request too: the upstream is asked for identity, and its gzip answer reaches the caller decoded', async () => {
    const res = await fetch(`${stack.url}/openai/models`, { headers: { authorization: `Bearer ${stack.keys.agent}`, 'accept-encoding': 'gzip' } });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(stack.cloud.requests.at(-1)?.method, 'GET');
    assert.equal(stack.cloud.requests.at(-1)?.headers['accept-encoding'], 'identity');
    assert.equal(res.headers.get('content-encoding'), null);
    assert.equal((JSON.parse(text) as { data: { id: string }[] }).data[0]?.id, 'gpt-4o-mini');
  });

  for (const coding of ['gzip', 'br', 'deflate']) {
    it(`a ${coding} response the caller never asked for is decoded: the leak is masked, usage is counted, content-encoding is gone`, async () => {
      const r = await chat(`${coding} please`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('content-encoding'), null);
      assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.text)), 'content-length matches the decoded body');
      const doc = JSON.parse(r.text) as { choices: { message: { content: string } }[] };
      assert.equal(doc.choices[0]?.message.content, `Here it is: ${leakMark('STRIPE_KEY')}. Echo: ${coding} please`);
      assert.deepEqual(leaked(r.text, [STRIPE]), []);
      const a = await auditFor(r.headers.get('x-request-id'));
      assert.equal(a.outcome, 'completed');
      assert.deepEqual(a.usage, { input_tokens: 11, output_tokens: 13, total_tokens: 24 });
      assert.deepEqual(a.content?.response, { STRIPE_KEY: 1 });
    });
  }

  it('a gzip response with placeholders pending is restored (no 500)', async () => {
    const r = await chat(`gzip: write to ${EMAIL}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(promptOf(stack.cloud.requests.at(-1) ?? { method: '', path: '', headers: {}, body: Buffer.from('{"messages":[]}') }), 'gzip: write to <EMAIL_1>');
    const doc = JSON.parse(r.text) as { choices: { message: { content: string } }[] };
    assert.equal(doc.choices[0]?.message.content, `Here it is: ${leakMark('STRIPE_KEY')}. Echo: gzip: write to ${EMAIL}`);
  });

  const refused = [
    ['an unknown content-encoding', 'unknown coding', 'response_encoding_unsupported'],
    ['a compressed SSE stream', 'stream it', 'response_encoding_unsupported'],
    ['a corrupt gzip body', 'corrupt body', 'response_decode_failed'],
    ['a gzip body that decodes past the response limit', 'bomb', 'response_decode_failed'],
  ] as const;
  for (const [what, prompt, code] of refused) {
    it(`${what} is refused with 502 ${code}; nothing of it reaches the caller`, async () => {
      const res = await fetch(`${stack.url}/openai/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.keys.agent}` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], ...(prompt === 'stream it' ? { stream: true } : {}) }),
      });
      const raw = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 502, raw.toString('latin1'));
      assert.equal(res.headers.get('content-encoding'), null);
      assert.equal((JSON.parse(raw.toString('utf8')) as { error: { code: string } }).error.code, code);
      assert.deepEqual(leaked(raw.toString('latin1'), [STRIPE]), []);
      const a = await auditFor(res.headers.get('x-request-id'));
      assert.equal(a.outcome, 'denied');
      assert.equal(a.reason, code);
      assert.equal(a.rule, 'response.encoding');
      assert.equal(a.http_status, 502);
    });
  }

  it('no output of any process holds a planted value', () => {
    assert.deepEqual(leaked(stack.allOutput(), [STRIPE, EMAIL]), []);
  });
});

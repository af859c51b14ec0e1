// A stream whose chunks arrive more than 10 s apart (issue 12, H3): reasoning models and tool-heavy agents
// pause that long. With Envoy 1.40's graceful ext_proc close (`ext_proc_graceful_grpc_close: true`) Envoy
// crashed at the end of such streams (ADR 0006); the template now keeps that flag off. Through the real
// Envoy: the client gets the whole stream, still scanned, Envoy is still alive afterwards and serves the next
// request, and the audit record is complete. One test, slow on purpose: a 10.5 s pause.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';
import { openAiSse, startContentStack, type ContentStack } from '../helpers/content-stack.ts';
import { leaked, plantStripeKey } from '../helpers/content-values.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const PAUSE_MS = 10_500;
const STRIPE = plantStripeKey();

/** The content deltas of an OpenAI chat SSE body, joined. */
function streamedText(raw: string): string {
  let out = '';
  for (const block of raw.split('\n\n')) {
    const line = block.split('\n').find((l) => l.startsWith('data: '));
    if (line === undefined || line === 'data: [DONE]') continue;
    out += (JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '';
  }
  return out;
}

describe('a stream with a pause over 10 s between chunks (real Envoy)', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      // One pause of PAUSE_MS in the middle of the stream; the other gaps are short.
      cloud: (req) => {
        const sse = openAiSse(['Thinking... ', `done: ${STRIPE}`, ' bye'], 5);
        const parts = [...sse.parts];
        parts[3] = PAUSE_MS;
        return req.body.toString('utf8').includes('"stream":true') ? { ...sse, parts } : { status: 200, headers: { 'content-type': 'application/json' }, parts: ['{"id":"c2","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'] };
      },
      tweak: (c) => ({ ...c, dlp: { response: { scan: true } } }),
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('the client gets the whole stream, scanned; Envoy stays up and serves the next request; the audit record is complete', async () => {
    const post = (stream: boolean): Promise<Response> => fetch(`${stack.url}/openai/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.keys.agent}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'think hard' }] }),
    });
    const res = await post(true);
    assert.equal(res.status, 200);
    const requestId = res.headers.get('x-request-id');
    const raw = await res.text();
    assert.equal(streamedText(raw), `Thinking... done: ${leakMark('STRIPE_KEY')} bye`, 'every delta arrived, the leak masked');
    assert.ok(raw.trimEnd().endsWith('data: [DONE]'), 'the stream ran to its end');
    assert.deepEqual(leaked(raw, [STRIPE]), []);

    // The running Envoy has the graceful close, the path that crashed, switched off.
    const runtime = (await (await fetch(`${stack.envoy.adminUrl}/runtime`)).json()) as { entries: Record<string, { final_value?: string }> };
    assert.equal(runtime.entries['envoy.reloadable_features.ext_proc_graceful_grpc_close']?.final_value, 'false');

    // Envoy did not crash at the end of the stream: still ready, and the next request goes through it.
    const next = await post(false);
    assert.equal(next.status, 200, await next.text());
    assert.equal((await fetch(`${stack.envoy.adminUrl}/ready`)).status, 200);
    assert.equal(await Promise.race([stack.envoy.exited.then(() => 'exited'), Promise.resolve('running')]), 'running');

    const rec = await awaitRecord(stack, requestId);
    assert.equal(rec.outcome, 'completed');
    assert.equal(rec.http_status, 200);
    assert.equal(rec.response?.streamed, true);
    assert.equal(rec.response.body_bytes, Buffer.byteLength(raw) - Buffer.byteLength(leakMark('STRIPE_KEY')) + STRIPE.length, 'the upstream bytes, all of them');
    assert.deepEqual(rec.usage, { input_tokens: 5, output_tokens: 7, total_tokens: 12 });
    assert.deepEqual(rec.content?.response, { STRIPE_KEY: 1 });
  });
});

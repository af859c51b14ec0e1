// Direct unit tests of the response phase (extproc/processing/phases/response.ts, with content.ts under it)
// over real services: streamed or buffered, usage from buffered and streamed bodies, leak masking and
// placeholder restore, a streamed leak that cannot be masked, and a provider 401.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { onRequestBody } from '../../extproc/processing/phases/request-body.ts';
import { onResponseBody, onResponseHeaders } from '../../extproc/processing/phases/response.ts';
import type { RequestState } from '../../extproc/processing/request-state.ts';
import type { ProcessingResponse } from '../../extproc/wire/ext-proc.ts';
import { leaked, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import {
  asResponse,
  chatBody,
  phaseFixture,
  replacedBody,
  requestBodyMsg,
  responseBodyMsg,
  responseHeadersMsg,
  setHeader,
  startRequest,
  thrownCode,
  type Pairs,
  type PhaseFixture,
  type SealOptions,
} from '../helpers/phase-fixtures.ts';

const CHAT_RESPONSE = readFileSync(new URL('../fixtures/ext_proc/chat-response.json', import.meta.url)); // usage 23 + 2

/** A request that passed both request phases: the state the response phase starts from. */
async function upstream(f: PhaseFixture, body: Buffer = chatBody(), seal?: SealOptions): Promise<{ state: RequestState; sent: Buffer }> {
  const state = await startRequest(f, body, seal === undefined ? {} : { seal });
  const m = requestBodyMsg(body);
  const res = asResponse(await onRequestBody(state, m, m.request_body ?? {}));
  assert.equal(state.stage, 'upstream');
  return { state, sent: replacedBody(res, 'request_body') ?? body };
}

const headers = (state: RequestState, pairs: Pairs, endOfStream = false): ReturnType<typeof onResponseHeaders> => {
  const m = responseHeadersMsg(pairs, { endOfStream });
  return onResponseHeaders(state, m, m.response_headers ?? {});
};
/** A response-body answer: synchronous for everything but an MCP list answer (which these tests do not send). */
const chunk = (state: RequestState, body: Buffer | string, end = true): ProcessingResponse => {
  const r = onResponseBody(state, responseBodyMsg(body, end).response_body ?? {});
  if (r instanceof Promise) throw new Error('unexpected asynchronous answer');
  return r;
};

const sse = (docs: readonly unknown[]): string[] => [...docs.map((d) => `data: ${JSON.stringify(d)}\n\n`), 'data: [DONE]\n\n'];
const delta = (content: string): unknown => ({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }] });

/** The content of an SSE stream's text deltas, joined. */
function deltaText(out: string): string {
  let text = '';
  for (const line of out.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const doc = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[] };
    text += doc.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

describe('phase response: streamed or buffered, usage', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture(); });
  after(async () => { await f.close(); });

  const modes: readonly { status: string; contentType: string; streamed: boolean }[] = [
    { status: '200', contentType: 'text/event-stream', streamed: true },
    { status: '200', contentType: 'text/event-stream; charset=utf-8', streamed: true },
    { status: '200', contentType: 'application/json', streamed: false },
    { status: '429', contentType: 'text/event-stream', streamed: false },
    { status: '500', contentType: 'text/event-stream', streamed: false },
    { status: '401', contentType: 'application/json', streamed: false },
    { status: '201', contentType: 'text/event-stream', streamed: false },
  ];
  for (const m of modes) {
    it(`${m.status} ${m.contentType} → ${m.streamed ? 'STREAMED (mode_override)' : 'stays BUFFERED'}`, async () => {
      const { state } = await upstream(f);
      const res = asResponse(await headers(state, { ':status': m.status, 'content-type': m.contentType }));
      assert.ok(res.response_headers !== undefined);
      assert.deepEqual(res.mode_override, m.streamed ? { response_body_mode: 'STREAMED' } : undefined);
      assert.equal(state.responseStreamed, m.streamed);
      assert.equal(state.status, Number(m.status));
      assert.equal(state.stage, 'response_body');
    });
  }

  it('a buffered body (in two chunks): usage read from the whole body, body passed unchanged', async () => {
    const { state } = await upstream(f);
    asResponse(await headers(state, { ':status': '200', 'content-type': 'application/json' }));
    const half = Math.floor(CHAT_RESPONSE.length / 2);
    const r1 = chunk(state, CHAT_RESPONSE.subarray(0, half), false);
    assert.equal(r1.response_body?.response.body_mutation, undefined);
    assert.equal(state.usage, undefined, 'not before the end');
    const r2 = chunk(state, CHAT_RESPONSE.subarray(half), true);
    assert.equal(r2.response_body?.response.body_mutation, undefined, 'unchanged');
    assert.deepEqual(state.usage, { inputTokens: 23, outputTokens: 2, totalTokens: 25 });
    assert.equal(state.responseBytes, CHAT_RESPONSE.length);
    assert.equal(state.stage, 'done');
  });

  it('a streamed body: usage from the SSE usage chunk, chunks answered without mutation when DLP is off', async () => {
    const { state } = await upstream(f, chatBody('gpt-4o', 'hi', { stream: true, stream_options: { include_usage: true } }));
    asResponse(await headers(state, { ':status': '200', 'content-type': 'text/event-stream' }));
    assert.equal(state.sse, undefined, 'no transform with DLP off');
    const events = sse([delta('Par'), delta('is.'), { id: 'c1', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } }]);
    for (const e of events) {
      const r = chunk(state, e, false);
      assert.equal(r.response_body?.response.body_mutation, undefined);
    }
    assert.equal(state.usage, undefined);
    chunk(state, '', true);
    assert.deepEqual(state.usage, { inputTokens: 11, outputTokens: 3, totalTokens: 14 });
    assert.equal(state.responseBytes, events.join('').length);
  });

  it('a response body before the response headers is a protocol violation', async () => {
    const { state } = await upstream(f);
    assert.equal(await thrownCode(() => chunk(state, '{}')), 'protocol_violation');
  });

  it('a provider 401 asks the broker to re-read the credential; the 401 still goes to the caller', async () => {
    const source = f.sources.get('openai');
    assert.ok(source !== undefined);
    const { state } = await upstream(f, chatBody(), { identity: 'restricted-1' });
    const before = source.fetches.length;
    const res = asResponse(await headers(state, { ':status': '401', 'content-type': 'application/json' }));
    assert.equal(res.immediate_response, undefined);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(source.fetches.slice(before), [{ tenant: 'team-b', identity: 'restricted-1', provider: 'openai' }], 're-read for that scope only');
  });

  it('a 403 from the provider does not touch the credential', async () => {
    const source = f.sources.get('openai');
    assert.ok(source !== undefined);
    const { state } = await upstream(f);
    const before = source.fetches.length;
    asResponse(await headers(state, { ':status': '403', 'content-type': 'application/json' }));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(source.fetches.length, before);
  });
});

describe('phase response: leak masking and restore', () => {
  let f: PhaseFixture;
  before(() => {
    f = phaseFixture({
      tweak: (c) => ({ ...c, dlp: { enabled: true, actions: [{ detectors: ['pii.*'], action: 'mask', restore: true }], response: { scan: true, holdBack: 16, maxHoldBack: 256 } } }),
    });
  });
  after(async () => { await f.close(); });

  it('a buffered JSON body is parsed once: scanning and usage read the same document (no second JSON.parse)', async () => {
    const { state } = await upstream(f);
    asResponse(await headers(state, { ':status': '200', 'content-type': 'application/json' }));
    assert.equal(state.policy.dlp?.response.scan, true, 'responses are scanned');
    const original = JSON.parse;
    let parses = 0;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => { parses++; return original(...args) as unknown; }) as typeof JSON.parse;
    let res;
    try {
      res = chunk(state, CHAT_RESPONSE, true);
    } finally {
      JSON.parse = original;
    }
    assert.equal(parses, 0, 'the strict parse that scanning needs is the only parse');
    assert.equal(res.response_body?.response.body_mutation, undefined, 'unchanged');
    assert.deepEqual(state.usage, { inputTokens: 23, outputTokens: 2, totalTokens: 25 });
  });

  it('a buffered body refused as unscannable (duplicate keys) still records the usage the provider reported', async () => {
    const { state } = await upstream(f);
    asResponse(await headers(state, { ':status': '200', 'content-type': 'application/json' }));
    const body = Buffer.from('{"id":"x","id":"y","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}');
    assert.equal(await thrownCode(() => chunk(state, body, true)), 'response_leak');
    assert.deepEqual(state.usage, { inputTokens: 5, outputTokens: 7, totalTokens: 12 });
  });

  it('buffered: a leaked secret is masked, the content-length set to the new body', async () => {
    const secret = plantStripeKey();
    const { state } = await upstream(f);
    asResponse(await headers(state, { ':status': '200', 'content-type': 'application/json' }));
    const body = Buffer.from(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `the key is ${secret}` } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    const res = chunk(state, body, true);
    const out = replacedBody(res, 'response_body');
    assert.ok(out !== undefined, 'replaced');
    assert.ok(!out.toString('utf8').includes(secret));
    assert.match(out.toString('utf8'), /the key is \[REDACTED:[A-Z_]+\]/);
    assert.equal(setHeader(res, 'response_body', 'content-length'), String(out.length));
    assert.ok(Object.values(state.content.response).reduce((a, b) => a + b, 0) >= 1, 'counted');
    assert.deepEqual(leaked(f.everything([state.content]), [secret]), []);
  });

  it('buffered: the request\'s placeholders are restored for the caller', async () => {
    const email = plantEmail();
    const { state, sent } = await upstream(f, chatBody('gpt-4o-mini', `reply to ${email}`));
    const p = /<EMAIL_\d+>/.exec(sent.toString('utf8'))?.[0];
    assert.ok(p !== undefined, 'the request was masked');
    asResponse(await headers(state, { ':status': '200', 'content-type': 'application/json' }));
    const body = Buffer.from(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: `Sure, I will write to ${p}.` } }] }));
    const res = chunk(state, body, true);
    const out = replacedBody(res, 'response_body');
    assert.ok(out !== undefined);
    const content = (JSON.parse(out.toString('utf8')) as { choices: { message: { content: string } }[] }).choices[0]?.message.content;
    assert.equal(content, `Sure, I will write to ${email}.`);
    assert.equal(setHeader(res, 'response_body', 'content-length'), String(out.length));
  });

  it('buffered: nothing to mask or restore → the body passes unchanged', async () => {
    const { state } = await upstream(f);
    asResponse(await headers(state, { ':status': '200', 'content-type': 'application/json' }));
    const res = chunk(state, CHAT_RESPONSE, true);
    assert.equal(res.response_body?.response.body_mutation, undefined);
  });

  it('streamed: placeholders restored and a short leak masked across chunks', async () => {
    const email = plantEmail();
    const secret = plantStripeKey();
    const { state, sent } = await upstream(f, chatBody('gpt-4o-mini', `reply to ${email}`, { stream: true }));
    const p = /<EMAIL_\d+>/.exec(sent.toString('utf8'))?.[0];
    assert.ok(p !== undefined);
    const rh = asResponse(await headers(state, { ':status': '200', 'content-type': 'text/event-stream' }));
    assert.deepEqual(rh.mode_override, { response_body_mode: 'STREAMED' });
    assert.ok(state.sse !== undefined, 'an SSE transform');
    const words = [`Writing to ${p.slice(0, 4)}`, `${p.slice(4)} now, `, `key ${secret.slice(0, 10)}`, `${secret.slice(10)} done`];
    let out = '';
    for (const e of sse(words.map(delta))) out += chunk(state, e, false).response_body?.response.body_mutation?.body?.toString('utf8') ?? '';
    out += chunk(state, '', true).response_body?.response.body_mutation?.body?.toString('utf8') ?? '';
    const text = deltaText(out);
    assert.ok(text.includes(`Writing to ${email} now`), `restored: ${text}`);
    assert.ok(!text.includes(secret), 'the leak is masked');
    assert.match(text, /key \[REDACTED:[A-Z_]+\] done/);
    assert.ok(out.endsWith('data: [DONE]\n\n'));
  });

  it('buffered: a body that cannot be scanned (not UTF-8, duplicate JSON keys) or a leak in a protected field is refused', async () => {
    const secret = plantStripeKey();
    for (const body of [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe]), Buffer.from('{"id":"x","text":"a","text":"b"}'), Buffer.from(JSON.stringify({ id: secret, object: 'chat.completion', choices: [] }))]) {
      const { state } = await upstream(f);
      asResponse(await headers(state, { ':status': '200', 'content-type': 'application/octet-stream' }));
      assert.equal(await thrownCode(() => chunk(state, body, true)), 'response_leak');
    }
  });

  it('buffered: an error body is scanned but gets no placeholders restored', async () => {
    const email = plantEmail();
    const secret = plantStripeKey();
    const { state, sent } = await upstream(f, chatBody('gpt-4o-mini', `reply to ${email}`));
    const p = /<EMAIL_\d+>/.exec(sent.toString('utf8'))?.[0] ?? '';
    asResponse(await headers(state, { ':status': '400', 'content-type': 'application/json' }));
    const out = replacedBody(chunk(state, JSON.stringify({ error: { message: `bad prompt: reply to ${p} with ${secret}` } }), true), 'response_body')?.toString('utf8') ?? '';
    assert.equal((JSON.parse(out) as { error: { message: string } }).error.message, `bad prompt: reply to ${p} with [REDACTED:STRIPE_KEY]`);
  });

  it('streamed: a leak that cannot be masked in time ends the stream with response_leak', async () => {
    // A JWT longer than maxHoldBack (256): its start is forced out before the token is complete.
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'x'.repeat(400) })}.${'S'.repeat(43)}`;
    const pieces = ['token: ', ...(jwt.match(/.{1,8}/g) ?? []), ' end'];
    const { state } = await upstream(f, chatBody('gpt-4o-mini', 'hi', { stream: true }));
    asResponse(await headers(state, { ':status': '200', 'content-type': 'text/event-stream' }));
    let released = '';
    const code = await thrownCode(() => {
      for (const e of sse(pieces.map(delta))) released += chunk(state, e, false).response_body?.response.body_mutation?.body?.toString('utf8') ?? '';
    });
    assert.equal(code, 'response_leak');
    assert.ok(!deltaText(released).includes(jwt), 'the whole token was never released');
    assert.ok(Object.keys(state.content.response).length > 0, 'the finding is counted');
  });
});

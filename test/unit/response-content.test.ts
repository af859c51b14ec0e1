// Response content coverage: every string leaf of a buffered body and of every stream event is scanned
// (Responses' done/completed events, logprobs tokens, reasoning, refusals, audio transcripts, thinking, Gemini
// function-call arguments, unknown fields); protected fields (ids, signatures, encrypted content) block instead of
// masking; restore touches only fields that are not protected; AWS event-stream frames are scanned, restored and
// re-encoded with valid CRCs, and a frame that cannot be decoded fails the stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { EventStreamReader, encodeEventStreamMessage } from '../../extproc/providers/shared/eventstream.ts';
import { protectedFieldsFor } from '../../extproc/redactors/protected-fields.ts';
import { processLeaves } from '../../extproc/redactors/response-leaves.ts';
import { RestoreMap } from '../../extproc/redactors/restore-map.ts';
import { SseStream, type SseStreamOptions } from '../../extproc/redactors/sse-stream.ts';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';

const scanner = buildScanner();
const STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
const MASKED = `key ${leakMark('STRIPE_KEY')} ok`;
const PIECES = ['key sk_li', 've_4eC39HqLyjWD', 'arjtT1zdp7dc ok'];
const openai = protectedFieldsFor('openai');
const anthropic = protectedFieldsFor('anthropic');

const ev = (name: string | undefined, doc: unknown): string => `${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(doc)}\n\n`;
const docs = (out: Buffer | string): Record<string, unknown>[] =>
  out.toString().split('\n\n').filter((e) => e.includes('data: {')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as Record<string, unknown>);

function run(opts: SseStreamOptions, input: string, size = 7): { out: string; failed: boolean } {
  const s = new SseStream(opts);
  const buf = Buffer.from(input);
  const outs: Buffer[] = [];
  let failed = false;
  for (let at = 0; at < buf.length; at += size) {
    const r = s.push(buf.subarray(at, at + size), at + size >= buf.length);
    outs.push(r.output);
    failed ||= r.failed;
  }
  return { out: Buffer.concat(outs).toString(), failed };
}

describe('buffered response leaves', () => {
  it('an unknown field, reasoning, refusal and audio transcript are masked; ids and the rest stay', () => {
    const doc = { id: 'chatcmpl-1', choices: [{ message: { content: 'hi', reasoning_content: `key ${STRIPE} ok`, refusal: STRIPE, audio: { id: 'a1', data: 'AAAA', transcript: STRIPE } } }], x_unknown: { deep: [`key ${STRIPE} ok`] } };
    const r = processLeaves(doc, { scanner, isProtected: openai, tokenLists: true });
    assert.equal(r.blocked, undefined);
    assert.equal(r.changed, true);
    assert.equal(r.masked.length, 4);
    assert.ok(!JSON.stringify(doc).includes(STRIPE));
    assert.equal(doc.choices[0]?.message.reasoning_content, MASKED);
    assert.equal(doc.x_unknown.deep[0], MASKED);
    assert.equal(doc.id, 'chatcmpl-1');
  });

  it('a finding in a protected field blocks and changes nothing', () => {
    for (const [doc, test] of [
      [{ content: [{ type: 'thinking', thinking: 'x', signature: STRIPE }] }, anthropic],
      [{ output: [{ type: 'reasoning', encrypted_content: STRIPE }] }, openai],
      [{ id: STRIPE, text: 'fine' }, protectedFieldsFor(undefined)],
      [{ content: [{ type: 'redacted_thinking', data: STRIPE }] }, anthropic],
    ] as const) {
      const before = JSON.stringify(doc);
      const r = processLeaves(doc, { scanner, isProtected: test, tokenLists: true });
      assert.equal(r.blocked?.type, 'STRIPE_KEY', before);
      assert.equal(JSON.stringify(doc), before);
    }
  });

  it('logprobs: a secret split across tokens is masked in the first, the others emptied, bytes and alternatives dropped', () => {
    const tok = (token: string): Record<string, unknown> => ({ token, logprob: -0.1, bytes: [...Buffer.from(token)], top_logprobs: [{ token, logprob: -0.1, bytes: [...Buffer.from(token)] }] });
    const content = ['key ', 'sk_li', 've_4eC39HqLyjWD', 'arjtT1zdp7dc', ' ok'].map(tok);
    const doc = { choices: [{ message: { content: MASKED }, logprobs: { content } }] };
    const r = processLeaves(doc, { scanner, isProtected: openai, tokenLists: true });
    assert.equal(r.changed, true);
    assert.deepEqual(content.map((e) => e['token']), ['key ', leakMark('STRIPE_KEY'), '', '', ' ok']);
    assert.deepEqual(content.map((e) => e['bytes'] === null), [false, true, true, true, false]);
    assert.deepEqual(content[1]?.['top_logprobs'], []);
    assert.ok(!JSON.stringify(doc).includes('ve_4eC39HqLyjWD'));
  });

  it('legacy completions logprobs: the tokens array is one sequence; affected alternatives are dropped', () => {
    const pieces = ['key ', 'sk_li', 've_4eC39HqLyjWD', 'arjtT1zdp7dc', ' ok'];
    const logprobs: { tokens: string[]; top_logprobs: (Record<string, number> | null)[]; [k: string]: unknown } = { tokens: [...pieces], token_logprobs: pieces.map(() => -0.1), top_logprobs: pieces.map((p) => ({ [p]: -0.1 })), text_offset: [0, 4, 9, 24, 36] };
    const doc = { choices: [{ text: MASKED, logprobs }] };
    const r = processLeaves(doc, { scanner, isProtected: openai, tokenLists: true });
    assert.equal(r.changed, true);
    assert.deepEqual(logprobs.tokens, ['key ', leakMark('STRIPE_KEY'), '', '', ' ok']);
    assert.deepEqual(logprobs.top_logprobs.map((t) => t === null), [false, true, true, true, false]);
    assert.ok(!JSON.stringify(doc).includes('4eC39'));
  });

  it('restore: placeholders go back in model text, never in protected fields nor in signed thinking', () => {
    const map = new RestoreMap();
    const p = map.placeholderFor('EMAIL', 'a@b.example');
    const doc = { id: p, content: [{ type: 'text', text: `mail ${p}` }, { type: 'tool_use', id: 't1', input: { to: p } }, { type: 'thinking', thinking: p, signature: p }] };
    const r = processLeaves(doc, { restore: map, isProtected: anthropic, tokenLists: true });
    assert.equal(r.restored, 2);
    assert.deepEqual(doc, { id: p, content: [{ type: 'text', text: 'mail a@b.example' }, { type: 'tool_use', id: 't1', input: { to: 'a@b.example' } }, { type: 'thinking', thinking: p, signature: p }] });
    const bedrock = { output: { message: { content: [{ reasoningContent: { reasoningText: { text: p, signature: 'sig' } } }, { text: p }] } } };
    processLeaves(bedrock, { restore: map, isProtected: protectedFieldsFor('bedrock'), tokenLists: true });
    assert.deepEqual(bedrock.output.message.content.map((c) => JSON.stringify(c)), [JSON.stringify({ reasoningContent: { reasoningText: { text: p, signature: 'sig' } } }), JSON.stringify({ text: 'a@b.example' })]);
  });
});

describe('streamed events: every text-bearing field', () => {
  it('Responses: deltas and all four final events are masked', () => {
    const input = [
      ...PIECES.map((d) => ev('response.output_text.delta', { type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: d })),
      ev('response.output_text.done', { type: 'response.output_text.done', item_id: 'msg_1', output_index: 0, content_index: 0, text: PIECES.join('') }),
      ev('response.content_part.done', { type: 'response.content_part.done', output_index: 0, content_index: 0, part: { type: 'output_text', text: PIECES.join('') } }),
      ev('response.output_item.done', { type: 'response.output_item.done', output_index: 0, item: { id: 'msg_1', type: 'message', content: [{ type: 'output_text', text: PIECES.join('') }] } }),
      ev('response.completed', { type: 'response.completed', response: { id: 'resp_1', output: [{ id: 'msg_1', type: 'message', content: [{ type: 'output_text', text: PIECES.join('') }] }] } }),
    ].join('');
    const { out, failed } = run({ scanner, isProtected: openai }, input);
    assert.equal(failed, false);
    assert.ok(!out.includes(STRIPE), out);
    const d = docs(out);
    assert.equal(d.slice(0, 3).map((x) => x['delta']).join(''), MASKED);
    assert.equal(d[3]?.['text'], MASKED);
    assert.equal((d[4]?.['part'] as { text: string }).text, MASKED);
    assert.match(JSON.stringify(d[5]), new RegExp(MASKED.replace(/[[\]]/g, '\\$&')));
    assert.ok(JSON.stringify(d[6]).includes(leakMark('STRIPE_KEY')) && JSON.stringify(d[6]).includes('"resp_1"'));
  });

  it('Responses: logprobs repeated whole in response.completed cannot rebuild the secret either', () => {
    const tok = (token: string): unknown => ({ token, logprob: -0.5, bytes: [...Buffer.from(token)], top_logprobs: [] });
    const input = ev('response.completed', { type: 'response.completed', response: { id: 'resp_1', output: [{ type: 'message', content: [{ type: 'output_text', text: MASKED, logprobs: PIECES.map(tok) }] }] } });
    const { out, failed } = run({ scanner, isProtected: openai }, input);
    assert.equal(failed, false);
    assert.ok(!out.includes('ve_4eC39HqLyjWD') && !out.includes(STRIPE), out);
    const lp = (docs(out)[0] as { response: { output: { content: { logprobs: Record<string, unknown>[] }[] }[] } }).response.output[0]?.content[0]?.logprobs ?? [];
    assert.equal(lp.map((e) => e['token']).join(''), MASKED);
  });

  for (const key of ['reasoning_content', 'reasoning', 'refusal', 'audio'] as const) {
    it(`OpenAI chat: delta.${key === 'audio' ? 'audio.transcript' : key} split across events is masked`, () => {
      const input = [...PIECES.map((p) => ev(undefined, { choices: [{ index: 0, delta: key === 'audio' ? { audio: { id: 'au_1', transcript: p } } : { [key]: p }, finish_reason: null }] })), ev(undefined, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }), 'data: [DONE]\n\n'].join('');
      const { out, failed } = run({ scanner, isProtected: openai }, input);
      assert.equal(failed, false);
      assert.ok(!out.includes(STRIPE) && !out.includes('ve_4eC39HqLyjWD'), out);
      const text = docs(out).map((x) => { const dl = (x['choices'] as { delta: Record<string, unknown> }[])[0]?.delta ?? {}; return key === 'audio' ? ((dl['audio'] as { transcript?: string } | undefined)?.transcript ?? '') : ((dl[key] as string | undefined) ?? ''); }).join('');
      assert.equal(text, MASKED);
    });
  }

  it('OpenAI completions: choices[].text split across events is masked', () => {
    const input = [...PIECES.map((p) => ev(undefined, { id: 'cmpl-1', object: 'text_completion', choices: [{ index: 0, text: p, finish_reason: null }] })), ev(undefined, { id: 'cmpl-1', choices: [{ index: 0, text: '', finish_reason: 'stop' }] }), 'data: [DONE]\n\n'].join('');
    const { out, failed } = run({ scanner, isProtected: openai }, input);
    assert.equal(failed, false);
    assert.equal(docs(out).map((x) => (x['choices'] as { text: string }[])[0]?.text ?? '').join(''), MASKED);
  });

  it('OpenAI completions legacy logprobs: tokens split across events are masked, their alternatives dropped', () => {
    const input = [
      ...PIECES.map((p) => ev(undefined, { id: 'cmpl-1', choices: [{ index: 0, text: p, logprobs: { tokens: [p], token_logprobs: [-0.1], top_logprobs: [{ [p]: -0.1 }], text_offset: [0] }, finish_reason: null }] })),
      ev(undefined, { id: 'cmpl-1', choices: [{ index: 0, text: '', finish_reason: 'stop' }] }),
    ].join('');
    const { out, failed } = run({ scanner, isProtected: openai }, input);
    assert.equal(failed, false);
    assert.ok(!out.includes('ve_4eC39HqLyjWD') && !out.includes(STRIPE), out);
    const lps = docs(out).map((x) => (x['choices'] as { logprobs?: { tokens: string[]; top_logprobs: unknown[] } }[])[0]?.logprobs).filter((l) => l !== undefined);
    assert.equal(lps.map((l) => l.tokens.join('')).join(''), MASKED);
    assert.deepEqual(lps.map((l) => l.top_logprobs[0] === null), [true, true, true], 'every piece holds part of the secret');
  });

  it('OpenAI chat logprobs: the token sequence cannot rebuild a masked value (tokens, bytes, alternatives)', () => {
    const tok = (token: string): unknown => ({ token, logprob: -0.5, bytes: [...Buffer.from(token)], top_logprobs: [{ token, logprob: -0.5, bytes: [...Buffer.from(token)] }] });
    const input = [...PIECES.map((p) => ev(undefined, { choices: [{ index: 0, delta: { content: p }, logprobs: { content: [tok(p)] }, finish_reason: null }] })), ev(undefined, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })].join('');
    const { out, failed } = run({ scanner, isProtected: openai }, input);
    assert.equal(failed, false);
    for (const piece of PIECES.slice(1, 2)) assert.ok(!out.includes(piece.slice(0, 8)), out);
    const entries = docs(out).flatMap((x) => ((x['choices'] as { logprobs?: { content: Record<string, unknown>[] } }[])[0]?.logprobs?.content ?? []));
    assert.equal(entries.map((e) => e['token']).join(''), MASKED);
    const bytes = entries.flatMap((e) => (Array.isArray(e['bytes']) ? (e['bytes'] as number[]) : []));
    assert.ok(!Buffer.from(bytes).toString().includes('4eC39'), 'bytes of the affected tokens are dropped');
    assert.ok(!JSON.stringify(entries.map((e) => e['top_logprobs'])).includes('4eC39'));
  });

  it('Anthropic: thinking deltas are masked; a finding in a signature fails the stream', () => {
    const start = [ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } })];
    const think = PIECES.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: p } }));
    const stop = [ev('content_block_stop', { type: 'content_block_stop', index: 0 }), ev('message_stop', { type: 'message_stop' })];
    const clean = run({ scanner, isProtected: anthropic }, [...start, ...think, ...stop].join(''));
    assert.equal(clean.failed, false);
    assert.equal(docs(clean.out).map((x) => (x['delta'] as { thinking?: string } | undefined)?.thinking ?? '').join(''), MASKED);
    const sig = ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: STRIPE } });
    const bad = run({ scanner, isProtected: anthropic }, [...start, sig, ...stop].join(''));
    assert.equal(bad.failed, true);
    assert.ok(!bad.out.includes(STRIPE));
  });

  it('Anthropic: placeholders are restored in text deltas, not in signed thinking deltas', () => {
    const map = new RestoreMap();
    const p = map.placeholderFor('EMAIL', 'a@b.example');
    const block = (index: number, type: string, key: string, pieces: string[]): string[] => [
      ev('content_block_start', { type: 'content_block_start', index, content_block: { type: type === 'thinking_delta' ? 'thinking' : 'text', [key]: '' } }),
      ...pieces.map((t) => ev('content_block_delta', { type: 'content_block_delta', index, delta: { type, [key]: t } })),
      ev('content_block_stop', { type: 'content_block_stop', index }),
    ];
    const input = [...block(0, 'thinking_delta', 'thinking', ['about <EM', `${p.slice(3)} now`]), ...block(1, 'text_delta', 'text', ['to <EM', `${p.slice(3)}.`]), ev('message_stop', { type: 'message_stop' })].join('');
    const { out, failed } = run({ scanner, restore: map, isProtected: anthropic }, input, 5);
    assert.equal(failed, false);
    const text = (key: string): string => docs(out).map((x) => ((x['delta'] as Record<string, string> | undefined)?.[key]) ?? '').join('');
    assert.equal(text('thinking'), `about ${p} now`);
    assert.equal(text('text'), 'to a@b.example.');
  });

  it('Gemini: functionCall.args and thought parts are masked', () => {
    const input = [
      ev(undefined, { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: PIECES[0], thought: true }] } }] }),
      ev(undefined, { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: PIECES.slice(1).join(''), thought: true }] } }] }),
      ev(undefined, { candidates: [{ index: 0, content: { role: 'model', parts: [{ functionCall: { name: 'send', args: { body: `key ${STRIPE} ok`, n: 1 } } }] }, finishReason: 'STOP' }] }),
    ].join('');
    const { out, failed } = run({ scanner, isProtected: protectedFieldsFor('vertex') }, input);
    assert.equal(failed, false);
    assert.ok(!out.includes(STRIPE) && !out.includes('ve_4eC39'), out);
    assert.ok(out.includes(`"args":{"body":"${MASKED}","n":1}`), out);
  });

  it('restore: placeholders in the completed event are restored; a protected id keeps its text', () => {
    const map = new RestoreMap();
    const p = map.placeholderFor('EMAIL', 'a@b.example');
    const input = ev('response.completed', { type: 'response.completed', response: { id: p, output: [{ type: 'message', content: [{ type: 'output_text', text: `to ${p}` }] }] } });
    const { out } = run({ restore: map, isProtected: openai }, input);
    const d = docs(out)[0] as { response: { id: string; output: { content: { text: string }[] }[] } };
    assert.equal(d.response.output[0]?.content[0]?.text, 'to a@b.example');
    assert.equal(d.response.id, p);
  });

  it('an event that is not JSON with a finding fails the stream; a clean one passes byte for byte', () => {
    assert.equal(run({ scanner }, `data: not json ${STRIPE}\n\n`).failed, true);
    const clean = `: keepalive\n\ndata: not json at all\n\n${ev(undefined, { choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: 'stop' }] })}`;
    assert.deepEqual(run({ scanner, isProtected: openai }, clean), { out: clean, failed: false });
  });
});

describe('AWS event-stream responses', () => {
  const frame = (eventType: string, payload: unknown): Buffer => encodeEventStreamMessage({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }, Buffer.from(JSON.stringify(payload)));
  const decode = (out: Buffer): { type: string | undefined; payload: Record<string, unknown> }[] => {
    const reader = new EventStreamReader();
    const msgs = reader.push(out);
    assert.equal(reader.broken, false, 'every frame re-encoded with valid CRCs');
    return msgs.map((m) => ({ type: m.headers.get(':event-type'), payload: JSON.parse(m.payload.toString()) as Record<string, unknown> }));
  };
  const push = (opts: SseStreamOptions, input: Buffer, size = 13): { out: Buffer; failed: boolean } => {
    const s = new SseStream({ ...opts, framing: 'aws-event-stream' });
    const outs: Buffer[] = [];
    let failed = false;
    for (let at = 0; at < input.length; at += size) {
      const r = s.push(input.subarray(at, at + size), at + size >= input.length);
      outs.push(r.output);
      failed ||= r.failed;
    }
    return { out: Buffer.concat(outs), failed };
  };
  const bedrock = protectedFieldsFor('bedrock');

  it('converse-stream: a secret split across deltas is masked, a placeholder restored, frames stay valid', () => {
    const map = new RestoreMap();
    const p = map.placeholderFor('EMAIL', 'a@b.example');
    const input = Buffer.concat([
      frame('messageStart', { role: 'assistant', p: 'abcdefgh' }),
      ...PIECES.map((t) => frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: t }, p: 'abcd' })),
      frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ` mail <EMA` }, p: 'ab' }),
      frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: `${p.slice(4)}.` }, p: 'ab' }),
      frame('contentBlockStop', { contentBlockIndex: 0 }),
      frame('messageStop', { stopReason: 'end_turn' }),
    ]);
    const { out, failed } = push({ scanner, restore: map, isProtected: bedrock }, input);
    assert.equal(failed, false);
    const msgs = decode(out);
    assert.equal(msgs.length, 8, 'one frame out per frame in');
    const text = msgs.map((m) => (m.payload['delta'] as { text?: string } | undefined)?.text ?? '').join('');
    assert.equal(text, `${MASKED} mail a@b.example.`);
    assert.ok(!out.includes(STRIPE));
  });

  it('invoke-with-response-stream: the base64 model events are scanned and re-encoded', () => {
    const chunk = (doc: unknown): Buffer => frame('chunk', { bytes: Buffer.from(JSON.stringify(doc)).toString('base64'), p: 'abc' });
    const input = Buffer.concat([
      ...PIECES.map((t) => chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } })),
      chunk({ type: 'content_block_stop', index: 0 }),
      chunk({ type: 'message_stop' }),
    ]);
    const { out, failed } = push({ scanner, isProtected: bedrock }, input);
    assert.equal(failed, false);
    const inner = decode(out).map((m) => JSON.parse(Buffer.from(m.payload['bytes'] as string, 'base64').toString()) as { delta?: { text?: string } });
    assert.equal(inner.map((d) => d.delta?.text ?? '').join(''), MASKED);
  });

  it('invoke-with-response-stream, a model other than Claude Messages (Titan outputText): split text is masked', () => {
    const chunk = (doc: unknown): Buffer => frame('chunk', { bytes: Buffer.from(JSON.stringify(doc)).toString('base64') });
    const { out, failed } = push({ scanner, isProtected: bedrock }, Buffer.concat(PIECES.map((t) => chunk({ outputText: t, index: 0 }))));
    assert.equal(failed, false);
    const inner = decode(out).map((m) => JSON.parse(Buffer.from(m.payload['bytes'] as string, 'base64').toString()) as { outputText: string });
    assert.equal(inner.map((d) => d.outputText).join(''), MASKED);
  });

  it('a clean stream passes byte for byte; a broken frame or a stream ending inside a frame fails', () => {
    const clean = Buffer.concat([frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'hello there' }, p: 'ab' }), frame('messageStop', { stopReason: 'end_turn' })]);
    const r = push({ scanner, isProtected: bedrock }, clean, 5);
    assert.equal(r.failed, false);
    assert.ok(r.out.equals(clean));
    const bad = Buffer.from(clean);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    assert.equal(push({ scanner, isProtected: bedrock }, bad).failed, true);
    assert.equal(push({ scanner, isProtected: bedrock }, clean.subarray(0, clean.length - 3)).failed, true);
  });

  it('a finding in a reasoning signature fails the stream', () => {
    const input = frame('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: STRIPE } }, p: 'ab' });
    assert.equal(push({ scanner, isProtected: bedrock }, input).failed, true);
  });
});

// Streamed responses: placeholder restore and leak masking over SSE, per provider stream format, with values
// split across chunks and across the JSON deltas of consecutive events; bounded hold-back; fail-closed when a
// finding can no longer be masked; non-delta events byte-identical; the invariant that the released delta text
// equals the buffered result for any chunking.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { RestoreMap } from '../../extproc/redactors/restore-map.ts';
import { restoreText } from '../../extproc/redactors/restore.ts';
import { eventDeltas, parseEvent, splitEvents } from '../../extproc/redactors/sse-events.ts';
import { SseStream, type SseStreamOptions } from '../../extproc/redactors/sse-stream.ts';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';

const scanner = buildScanner();
const STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
const AKIA = 'AKIA4Q3EGRIVYW6TQSPW';

type Format = 'openai' | 'anthropic' | 'gemini' | 'responses';

/** An SSE stream in a provider format that carries `pieces` as consecutive text deltas. */
function stream(format: Format, pieces: readonly string[]): string {
  const ev = (name: string | undefined, doc: unknown): string => `${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(doc)}\n\n`;
  switch (format) {
    case 'openai':
      return [
        ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
        ...pieces.map((p) => ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
        ev(undefined, { id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { completion_tokens: 9 } }),
        'data: [DONE]\n\n',
      ].join('');
    case 'anthropic':
      return [
        ev('message_start', { type: 'message_start', message: { id: 'm1', usage: { input_tokens: 5 } } }),
        ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
        ...pieces.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } })),
        ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
        ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } }),
        ev('message_stop', { type: 'message_stop' }),
      ].join('');
    case 'gemini':
      return pieces
        .map((p, k) => ev(undefined, { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: p }] }, ...(k === pieces.length - 1 ? { finishReason: 'STOP' } : {}) }] }))
        .join('');
    case 'responses':
      return [
        ...pieces.map((p) => ev('response.output_text.delta', { type: 'response.output_text.delta', output_index: 0, content_index: 0, delta: p })),
        ev('response.output_text.done', { type: 'response.output_text.done', output_index: 0, content_index: 0, text: '' }),
        ev('response.completed', { type: 'response.completed', response: { usage: { output_tokens: 9 } } }),
      ].join('');
  }
}

/** The text deltas of an SSE byte stream, joined per channel. */
function deltaText(sse: string): string {
  let out = '';
  for (const e of splitEvents(Buffer.from(sse)).events) {
    const p = parseEvent(e.toString());
    if (p === undefined || p.data === '[DONE]') continue;
    for (const f of eventDeltas(JSON.parse(p.data)).fields) out += f.holder[f.key] as string;
  }
  return out;
}

/** Feeds `input` in chunks of the given sizes (cycled); returns output and the last result. */
function run(opts: SseStreamOptions, input: string, sizes: readonly number[]): { out: string; failed: boolean; findings: number } {
  const s = new SseStream(opts);
  const bytes = Buffer.from(input);
  let out = '';
  let findings = 0;
  let failed = false;
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length] ?? 1;
    const r = s.push(bytes.subarray(at, at + n), at + n >= bytes.length);
    out += r.output.toString();
    findings += r.findings.length;
    failed ||= r.failed;
    at += n;
  }
  return { out, failed, findings };
}

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

const FORMATS: readonly Format[] = ['openai', 'anthropic', 'gemini', 'responses'];

describe('SSE restore', () => {
  const map = new RestoreMap();
  const e1 = map.placeholderFor('EMAIL', 'ana@example.com');
  const e12 = (() => {
    for (let k = 2; k < 12; k++) map.placeholderFor('EMAIL', `u${k}@example.com`);
    return map.placeholderFor('EMAIL', 'twelve@example.com');
  })();

  for (const format of FORMATS) {
    it(`${format}: a placeholder split across events and chunks is restored whole`, () => {
      const pieces = ['Hello <EM', 'AIL', `_1> and ${e12.slice(0, 3)}`, `${e12.slice(3)}! Bye <`, 'b>.'];
      const full = pieces.join('');
      for (const sizes of [[1], [3, 7], [4096]]) {
        const { out, failed } = run({ restore: map }, stream(format, pieces), sizes);
        assert.equal(failed, false);
        assert.equal(deltaText(out), restoreText(full, map).text, `sizes ${sizes.join(',')}`);
        assert.ok(deltaText(out).includes('ana@example.com') && deltaText(out).includes('twelve@example.com'));
      }
    });
  }

  it('non-delta events pass byte-identical; held text is released before the block ends', () => {
    const input = stream('anthropic', [`see ${e1.slice(0, 4)}`, e1.slice(4)]);
    const { out } = run({ restore: map }, input, [5]);
    const evIn = splitEvents(Buffer.from(input)).events.map(String);
    const evOut = splitEvents(Buffer.from(out)).events.map(String);
    for (const e of evIn) if (!e.includes('content_block_delta')) assert.ok(evOut.includes(e), e);
    assert.ok(evOut.findIndex((e) => e.includes('ana@example.com')) < evOut.findIndex((e) => e.includes('content_block_stop')));
  });

  it('hold-back is bounded by the longest placeholder', () => {
    const s = new SseStream({ restore: map });
    const r = s.push(Buffer.from(stream('openai', [`abc <${'A'.repeat(40)}`]).split('data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}')[0] ?? ''));
    assert.ok(deltaText(r.output.toString()).includes('AAAA'));
  });
});

describe('SSE leak scanning', () => {
  for (const format of FORMATS) {
    it(`${format}: secrets split across deltas and chunks never reach the caller`, () => {
      const pieces = ['Your key is sk_li', 've_4eC39HqLyjWD', 'arjtT1zdp7dc and the id AK', 'IA4Q3EGRIV', `YW6TQSPW. Done.`];
      for (const sizes of [[1], [2, 9], [10000]]) {
        const { out, failed, findings } = run({ scanner }, stream(format, pieces), sizes);
        assert.equal(failed, false);
        const text = deltaText(out);
        assert.ok(!out.includes(STRIPE) && !out.includes(AKIA), out);
        assert.equal(text, `Your key is ${leakMark('STRIPE_KEY')} and the id ${leakMark('AWS_ACCESS_KEY')}. Done.`);
        assert.equal(findings, 2);
      }
    });
  }

  it('text is released while the stream runs (bounded hold-back), not only at the end', () => {
    const s = new SseStream({ scanner, holdBack: 64 });
    const words = Array.from({ length: 200 }, (_, k) => `word${k} `);
    const input = stream('openai', words);
    const firstHalf = input.slice(0, input.length / 2);
    const r = s.push(Buffer.from(firstHalf));
    assert.ok(deltaText(r.output.toString()).length > 500);
  });

  const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
  const jwtPieces = ['token: ', ...(JWT.match(/.{1,8}/g) ?? []), ' end'];

  it('a long value held whole is masked (default hold-back)', () => {
    const { out, failed } = run({ scanner }, stream('openai', jwtPieces), [64]);
    assert.equal(failed, false);
    assert.equal(deltaText(out), `token: ${leakMark('JWT')} end`);
  });

  it('a finding that reaches back into text already forced out fails the stream closed', () => {
    // maxHoldBack 64 forces the start of the 129-character token out before it is complete.
    const { out, failed } = run({ scanner, holdBack: 16, maxHoldBack: 64 }, stream('openai', jwtPieces), [64]);
    assert.equal(failed, true);
    assert.ok(!deltaText(out).includes(JWT));
  });

  it('after failing, nothing more is released', () => {
    const s = new SseStream({ scanner, holdBack: 16, maxHoldBack: 64 });
    const r1 = s.push(Buffer.from(stream('openai', jwtPieces)));
    assert.equal(r1.failed, true);
    assert.equal(r1.output.length, 0);
    assert.equal(s.failed, true);
    assert.equal(s.push(Buffer.from(stream('openai', ['more text'])), true).output.length, 0);
  });

  it('a detected token longer than maxHoldBack is still held whole and masked', () => {
    const chars = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const token = Array.from({ length: 300 }, (_, k) => chars.charAt((k * 37 + 11) % 62)).join('');
    const { out, failed } = run({ scanner, holdBack: 16, maxHoldBack: 256 }, stream('openai', ['x ', `Bearer ${token}`, ' end']), [4096]);
    assert.equal(failed, false);
    assert.equal(deltaText(out), `x Bearer ${leakMark('BEARER_TOKEN')} end`);
  });

  it('leak scan then restore: the request\'s own values come back, leaked secrets stay masked', () => {
    const map = new RestoreMap();
    const p = map.placeholderFor('EMAIL', 'ana@example.com');
    const { out } = run({ scanner, restore: map }, stream('openai', [`Mail ${p.slice(0, 3)}`, `${p.slice(3)} key ${STRIPE.slice(0, 10)}`, `${STRIPE.slice(10)} ok`]), [7]);
    assert.equal(deltaText(out), `Mail ana@example.com key ${leakMark('STRIPE_KEY')} ok`);
  });

  it('invariant: for random chunkings, released text equals the buffered masking of the whole text', () => {
    const rand = rng(42);
    const vocab = ['hello ', 'world. ', 'mail a@example.org ', STRIPE, ' ', 'card 4242 4242 4242 4242 ', 'ok\n', AKIA, ', ', 'AKIA', 'sk_', 'x@'];
    for (let trial = 0; trial < 40; trial++) {
      let full = '';
      while (full.length < 400) full += vocab[Math.floor(rand() * vocab.length)] ?? '';
      const pieces: string[] = [];
      for (let k = 0; k < full.length; ) {
        const n = 1 + Math.floor(rand() * 12);
        pieces.push(full.slice(k, k + n));
        k += n;
      }
      const expected = (() => {
        let o = '';
        let k = 0;
        for (const f of scanner.scan(full)) {
          o += full.slice(k, f.start) + leakMark(f.type);
          k = f.end;
        }
        return o + full.slice(k);
      })();
      const format = FORMATS[trial % FORMATS.length] ?? 'openai';
      const { out, failed } = run({ scanner }, stream(format, pieces), [1 + Math.floor(rand() * 50)]);
      assert.equal(failed, false);
      assert.equal(deltaText(out), expected, `trial ${trial} (${format})`);
    }
  });
});

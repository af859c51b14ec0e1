// SSE event order through the stream transform: events leave in the order they arrived, released text goes
// back into the event it arrived in, a mask spanning several deltas lands in the earliest of them, recorded
// clean streams pass byte for byte under any chunking, and the queue behind held text stays bounded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildScanner } from '../../extproc/detectors/registry.ts';
import { RestoreMap } from '../../extproc/redactors/restore-map.ts';
import { eventDeltas, parseEvent, splitEvents } from '../../extproc/redactors/sse-events.ts';
import { SseStream, type SseStreamOptions } from '../../extproc/redactors/sse-stream.ts';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';
import { TaggedText } from '../../extproc/redactors/tagged-text.ts';

const scanner = buildScanner({});
const STRIPE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
const fixture = (p: string): Buffer => readFileSync(new URL(`../fixtures/providers/${p}`, import.meta.url));

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/** Feeds `input` in random chunk sizes; returns everything released and whether the stream failed. */
function run(opts: SseStreamOptions, input: Buffer, rand: () => number, maxChunk: number): { out: Buffer; failed: boolean; outputs: Buffer[] } {
  const s = new SseStream(opts);
  const outputs: Buffer[] = [];
  let failed = false;
  for (let at = 0; at < input.length; ) {
    const n = 1 + Math.floor(rand() * maxChunk);
    const r = s.push(input.subarray(at, at + n), at + n >= input.length);
    outputs.push(r.output);
    failed ||= r.failed;
    at += n;
  }
  return { out: Buffer.concat(outputs), failed, outputs };
}

interface Ev {
  readonly name: string | undefined;
  /** The event with every text delta blanked: what must not change. */
  readonly skeleton: string;
  readonly texts: string[];
}

function events(sse: Buffer | string): Ev[] {
  return splitEvents(Buffer.from(sse)).events.map((e) => {
    const p = parseEvent(e.toString());
    if (p === undefined || p.data.trim() === '[DONE]') return { name: undefined, skeleton: e.toString(), texts: [] };
    const doc: unknown = JSON.parse(p.data);
    const texts: string[] = [];
    for (const f of eventDeltas(doc).fields) {
      texts.push(f.holder[f.key] as string);
      f.holder[f.key] = '';
    }
    return { name: p.name, skeleton: JSON.stringify(doc), texts };
  });
}

const ev = (name: string | undefined, doc: unknown): string => `${name === undefined ? '' : `event: ${name}\n`}data: ${JSON.stringify(doc)}\n\n`;
const openaiStream = (pieces: readonly string[], extra: readonly string[] = []): string =>
  [
    ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
    ...pieces.map((p) => ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
    ...extra,
    ev(undefined, { id: 'c1', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
    ev(undefined, { id: 'c1', choices: [], usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } }),
    'data: [DONE]\n\n',
  ].join('');

describe('SSE event order', () => {
  const recordedStreams = ['openai/chat-completion-stream.txt', 'openai/responses-stream.txt', 'anthropic/messages-stream.txt', 'azure-openai/chat-stream.txt', 'vertex/stream-sse.txt'];
  for (const path of recordedStreams) {
    it(`${path}: a clean recorded stream passes byte for byte under any chunking (scan and restore)`, () => {
      const input = fixture(path);
      const map = new RestoreMap();
      map.placeholderFor('EMAIL', 'ana@example.com');
      const rand = rng(7);
      for (let trial = 0; trial < 25; trial++) {
        const opts: SseStreamOptions = trial % 2 === 0 ? { scanner } : { scanner, restore: map };
        const { out, failed } = run(opts, input, rand, trial === 0 ? input.length : 1 + trial * 3);
        assert.equal(failed, false);
        assert.deepEqual(out, input, `trial ${trial}`);
      }
    });
  }

  it('the final usage chunk and [DONE] never overtake held text', () => {
    const input = fixture('openai/chat-completion-stream.txt');
    const s = new SseStream({ scanner });
    const outs = splitEvents(Buffer.concat([...splitEvents(input).events.map((e) => s.push(e).output), s.push(Buffer.alloc(0), true).output])).events.map(String);
    const ins = splitEvents(input).events.map(String);
    assert.deepEqual(outs, ins);
    assert.equal(outs.filter((e) => e.includes('"role":"assistant"')).length, 1, 'no synthetic event copies the first one');
  });

  it('a secret split across three deltas is masked in the earliest, later deltas shrink, every other field and event stays', () => {
    const pieces = ['Key: ', STRIPE.slice(0, 9), STRIPE.slice(9, 20), `${STRIPE.slice(20)} and more words here. `];
    const input = Buffer.from(openaiStream(pieces));
    const rand = rng(3);
    for (let trial = 0; trial < 30; trial++) {
      const { out, failed } = run({ scanner }, input, rand, 1 + trial * 7);
      assert.equal(failed, false);
      assert.ok(!out.includes(STRIPE.slice(9, 20)));
      const before = events(input);
      const after = events(out);
      assert.equal(after.length, before.length, 'one event out per event in');
      assert.deepEqual(after.map((e) => e.skeleton), before.map((e) => e.skeleton), 'order and non-text fields unchanged');
      assert.deepEqual(after.map((e) => e.texts), [[''], ['Key: '], [leakMark('STRIPE_KEY')], [''], [' and more words here. '], [], [], []]);
    }
  });

  it('restored values go into the event their placeholder started in; events with no change are byte-identical', () => {
    const map = new RestoreMap();
    const p = map.placeholderFor('EMAIL', 'ana@example.com');
    const pieces = ['Write to ', p.slice(0, 4), `${p.slice(4)} today. `, 'Thanks.'];
    const input = Buffer.from(openaiStream(pieces));
    const { out } = run({ scanner, restore: map }, input, rng(5), 11);
    const after = events(out);
    assert.deepEqual(after.map((e) => e.texts), [[''], ['Write to '], ['ana@example.com'], [' today. '], ['Thanks.'], [], [], []]);
    const rawIn = splitEvents(input).events.map(String);
    const rawOut = splitEvents(out).events.map(String);
    for (const k of [0, 1, 4, 5, 6, 7]) assert.equal(rawOut[k], rawIn[k], `event ${k} byte-identical`);
  });

  it('anthropic: held text goes back into its own delta before content_block_stop; ping and message events keep their place', () => {
    const input = Buffer.from([
      ev('message_start', { type: 'message_start', message: { id: 'm1', usage: { input_tokens: 5 } } }),
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `see ${STRIPE.slice(0, 12)}` } }),
      ev('ping', { type: 'ping' }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: STRIPE.slice(12) } }),
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
      ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } }),
      ev('message_stop', { type: 'message_stop' }),
    ].join(''));
    const { out, failed } = run({ scanner }, input, rng(9), 13);
    assert.equal(failed, false);
    const before = events(input);
    const after = events(out);
    assert.deepEqual(after.map((e) => [e.name, e.skeleton]), before.map((e) => [e.name, e.skeleton]));
    assert.deepEqual(after.map((e) => e.texts), [[], [], [`see ${leakMark('STRIPE_KEY')}`], [], [''], [], [], []]);
  });

  it('tool-call deltas on another channel wait behind held content, and the queue is bounded', () => {
    const tool = (args: string): string => ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, finish_reason: null }] });
    const extra = Array.from({ length: 400 }, (_, k) => tool(`{"n":${k}} `));
    const input = Buffer.from(openaiStream(['Let me check'], extra));
    // Unbounded (default 1 MiB): tool events wait until the choice ends, in order.
    const whole = run({ scanner }, input, rng(1), 200);
    assert.deepEqual(events(whole.out).map((e) => e.skeleton), events(input).map((e) => e.skeleton));
    assert.ok(whole.outputs.slice(0, -1).every((o) => !o.includes('tool_calls')), 'no tool event overtakes the held "check"');
    // Bounded: past maxQueueBytes held text is forced out, so events flow before the stream ends.
    const s = new SseStream({ scanner, maxQueueBytes: 4096 });
    const half = s.push(input.subarray(0, input.length / 2));
    const got = events(half.output);
    assert.ok(got.length > 100, `events released early: ${got.length}`);
    assert.deepEqual(got.map((e) => e.skeleton), events(input).slice(0, got.length).map((e) => e.skeleton));
    assert.equal(got[1]?.texts[0], 'Let me check');
  });

  it('a secret that straddles a forced release fails the stream closed', () => {
    const tool = (args: string): string => ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, finish_reason: null }] });
    const input = Buffer.from(openaiStream([`Key ${STRIPE.slice(0, 14)}`], [...Array.from({ length: 60 }, () => tool('{"a":1} ')), ev(undefined, { id: 'c1', choices: [{ index: 0, delta: { content: STRIPE.slice(14) }, finish_reason: null }] })]));
    const { out, failed } = run({ scanner, maxQueueBytes: 2048 }, input, rng(2), 64);
    assert.equal(failed, true);
    assert.ok(!out.includes(STRIPE.slice(14)));
  });

  it('tagged text: unchanged text keeps its origin, a replacement takes the origin of its first character', () => {
    const t = new TaggedText();
    t.append([{ tag: 1, text: 'ab' }, { tag: 2, text: 'cdef' }, { tag: 3, text: 'gh' }]);
    assert.equal(t.firstTag, 1);
    assert.deepEqual(t.take(7, [{ start: 1, end: 5, text: 'X' }]), [{ tag: 1, text: 'aX' }, { tag: 2, text: 'f' }, { tag: 3, text: 'g' }]);
    assert.equal(t.text, 'h');
    assert.equal(t.firstTag, 3);
  });
});

// Stream readers under the usage meter: SSE and AWS event-stream framing, split at any byte, bounded memory,
// and no throw on garbage.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamReader, encodeEventStreamMessage } from '../../extproc/providers/shared/eventstream.ts';
import { SseReader } from '../../extproc/providers/shared/sse.ts';
import { createProviderKind } from '../../extproc/providers/index.ts';

const feedAll = (r: SseReader, chunks: Buffer[]) => chunks.flatMap((c) => r.push(c));
const bytesOf = (s: string): Buffer[] => [...Buffer.from(s, 'utf8')].map((b) => Buffer.from([b]));

describe('SseReader', () => {
  const transcript = ': comment\r\nevent: a\r\ndata: {"x":1}\r\n\r\ndata: line1\ndata: line2\n\nevent: b\ndata\n\nid: 7\nretry: 10\n\ndata:no-space\n\n';
  const expected = [{ event: 'a', data: '{"x":1}' }, { event: undefined, data: 'line1\nline2' }, { event: 'b', data: '' }, { event: undefined, data: 'no-space' }];
  it('parses events with LF and CRLF, comments, multi-line data and fields without values', () => {
    assert.deepEqual(new SseReader().push(Buffer.from(transcript)), expected);
  });
  it('gives the same events fed one byte at a time (multi-byte UTF-8 split too)', () => {
    const t = 'data: {"t":"é漢😀"}\n\n';
    assert.deepEqual(feedAll(new SseReader(), bytesOf(transcript + t)), [...expected, { event: undefined, data: '{"t":"é漢😀"}' }]);
  });
  it('drops an event larger than the cap, counts it, and reads the next one', () => {
    const r = new SseReader(1024);
    const big = `data: ${'x'.repeat(5000)}\n\n`;
    const events = feedAll(r, [Buffer.from(big.slice(0, 2000)), Buffer.from(big.slice(2000)), Buffer.from('data: ok\n\n')]);
    assert.deepEqual(events, [{ event: undefined, data: 'ok' }]);
    assert.equal(r.dropped, 1);
  });
  it('drops an event whose data lines add up past the cap', () => {
    const r = new SseReader(100);
    const events = r.push(Buffer.from(`${'data: 0123456789012345678901234567890123456789\n'.repeat(5)}\ndata: after\n\n`));
    assert.deepEqual(events, [{ event: undefined, data: 'after' }]);
    assert.equal(r.dropped, 1);
  });
  it('a line that never ends keeps memory bounded (10 MB without a newline)', () => {
    const r = new SseReader(1 << 16);
    const before = process.memoryUsage().arrayBuffers;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 160; i++) r.push(chunk);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 4 * 1024 * 1024, `grew ${grown} bytes`);
    // The long line belongs to an event that is dropped whole; the next event is read.
    assert.deepEqual(r.push(Buffer.from('\ndata: same event\n\ndata: later\n\n')), [{ event: undefined, data: 'later' }]);
    assert.equal(r.dropped, 1);
  });
});

describe('EventStreamReader', () => {
  const frames = [
    encodeEventStreamMessage({ ':message-type': 'event', ':event-type': 'messageStart' }, Buffer.from('{"role":"assistant"}')),
    encodeEventStreamMessage({ ':message-type': 'event', ':event-type': 'metadata', ':content-type': 'application/json' }, Buffer.from('{"usage":{"inputTokens":3}}')),
  ];
  const all = Buffer.concat(frames);
  it('decodes headers and payloads, whole or one byte at a time', () => {
    for (const chunks of [[all], [...all].map((b) => Buffer.from([b]))]) {
      const r = new EventStreamReader();
      const msgs = chunks.flatMap((c) => r.push(c));
      assert.deepEqual(msgs.map((m) => [m.headers.get(':event-type'), m.payload.toString()]), [['messageStart', '{"role":"assistant"}'], ['metadata', '{"usage":{"inputTokens":3}}']]);
      assert.equal(r.broken, false);
    }
  });
  const corrupt: readonly [string, (b: Buffer) => Buffer][] = [
    ['a bad prelude CRC', (b) => { const c = Buffer.from(b); c[9] = (c[9] ?? 0) ^ 0xff; return c; }],
    ['a bad message CRC', (b) => { const c = Buffer.from(b); c[c.length - 1] = (c[c.length - 1] ?? 0) ^ 0xff; return c; }],
    ['a flipped payload byte', (b) => { const c = Buffer.from(b); c[c.length - 6] = (c[c.length - 6] ?? 0) ^ 0x01; return c; }],
  ];
  for (const [label, mangle] of corrupt) {
    it(`${label} stops the reader`, () => {
      const r = new EventStreamReader();
      const msgs = r.push(Buffer.concat([mangle(frames[0] ?? Buffer.alloc(0)), frames[1] ?? Buffer.alloc(0)]));
      assert.equal(r.broken, true);
      assert.deepEqual(msgs, []);
      assert.deepEqual(r.push(all), [], 'nothing after a break');
    });
  }
  it('a frame that declares more than the cap is refused after its 12-byte prelude, before buffering it', () => {
    const r = new EventStreamReader(1024);
    const big = encodeEventStreamMessage({ ':message-type': 'event' }, Buffer.alloc(4096));
    r.push(big.subarray(0, 12));
    assert.equal(r.broken, true);
  });
});

describe('usage meters never throw', () => {
  const garbage = [Buffer.from([0, 1, 2, 255, 254, 10, 10]), Buffer.from('data: {"usage":\n\n'), Buffer.from('data: {"usage":{"prompt_tokens":-1,"completion_tokens":"x"}}\n\n'), Buffer.alloc(100_000, 0xff)];
  for (const [kind, path] of [['openai', '/v1/chat/completions'], ['bedrock', '/model/m/converse-stream'], ['bedrock', '/model/m/invoke-with-response-stream'], ['anthropic', '/v1/messages']] as const) {
    it(`${kind} ${path}`, () => {
      const t = createProviderKind(kind, { upstream: new URL('https://example.com'), region: 'us-east-1' }).newRequest({ method: 'POST', path, query: '', headers: new Map() });
      const meter = t.usageMeter();
      for (const g of garbage) {
        meter.onSseChunk(g);
        meter.onBody(g);
      }
      assert.equal(meter.usage(), undefined);
    });
  }
  it('event-stream exceptions are not usage', () => {
    const t = createProviderKind('bedrock', { upstream: new URL('https://example.com'), region: 'us-east-1' }).newRequest({ method: 'POST', path: '/model/m/converse-stream', query: '', headers: new Map() });
    const meter = t.usageMeter();
    meter.onSseChunk(encodeEventStreamMessage({ ':message-type': 'exception', ':exception-type': 'throttlingException' }, Buffer.from('{"usage":{"inputTokens":9}}')));
    assert.equal(meter.usage(), undefined);
    meter.onSseChunk(encodeEventStreamMessage({ ':message-type': 'event', ':event-type': 'metadata' }, Buffer.from('{"usage":{"inputTokens":9,"outputTokens":1}}')));
    assert.deepEqual(meter.usage(), { inputTokens: 9, outputTokens: 1, totalTokens: 10 });
  });
});

// The rendered Envoy's downstream connection limit (overload manager), through a real Envoy: with the
// limit reached, a new connection is closed at accept without a response and nothing reaches Tollgate
// or the upstream; the connections already open keep working, and a freed slot is usable again.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.ts';

const LIMIT = 2;

/** An HTTP/1.1 keep-alive connection to Envoy that can send requests one after another. */
interface Conn {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the peer closed the connection. */
  readonly closed: Promise<void>;
}

async function open(url: string): Promise<Conn> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let data = '';
  socket.on('data', (b: Buffer) => { data += b.toString('latin1'); });
  socket.on('error', () => { /* a refused connection shows as closed */ });
  const closed = new Promise<void>((resolve) => { socket.on('close', () => { resolve(); }); });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return { socket, received: () => data, closed };
}

function chatRequest(key: string, marker: string): string {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: marker }] });
  return `POST /openai/chat/completions HTTP/1.1\r\nhost: envoy\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Sends a request on `c` and waits for a complete response (a status line and the body's length). */
async function exchange(c: Conn, raw: string): Promise<number> {
  const start = c.received().length;
  c.socket.write(raw);
  for (;;) {
    const text = c.received().slice(start);
    const head = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
    const length = Number(/content-length: (\d+)/i.exec(head?.[2] ?? '')?.[1] ?? NaN);
    const chunked = /transfer-encoding: chunked/i.test(head?.[2] ?? '');
    if (head?.[1] !== undefined && (chunked ? text.endsWith('\r\n0\r\n\r\n') : text.length >= head[0].length + length)) return Number(head[1]);
    const closed = await Promise.race([c.closed.then(() => true), new Promise<false>((r) => setTimeout(() => { r(false); }, 20))]);
    if (closed && c.received().length === start + text.length) throw new Error('connection closed before a response');
  }
}

describe('Envoy downstream connection limit', () => {
  let stack: Stack;
  before(async () => { stack = await startStack({ maxDownstreamConnections: LIMIT }); });
  after(async () => { await stack.stop(); });

  it('closes a connection over the limit without a response; open ones keep working; a freed slot is reused', { timeout: 60_000 }, async () => {
    const held = [await open(stack.url), await open(stack.url)];
    assert.equal(await exchange(held[0]!, chatRequest(stack.keys.agent, 'first')), 200);
    const upstreamBefore = stack.upstream.requests.length;

    const extra = await open(stack.url);
    const outcome = await Promise.race([
      extra.closed.then(() => 'closed'),
      exchange(extra, chatRequest(stack.keys.agent, 'over-the-limit')).then((status) => `answered ${status}`, () => 'closed'),
    ]);
    assert.equal(outcome, 'closed');
    assert.equal(extra.received(), '', 'no response at all: the connection was refused at accept');
    assert.equal(stack.upstream.requests.length, upstreamBefore, 'nothing reached the upstream');
    assert.ok(!stack.upstream.requests.some((r) => r.body.toString('utf8').includes('over-the-limit')));

    // Both held connections still serve requests.
    assert.equal(await exchange(held[1]!, chatRequest(stack.keys.agent, 'second')), 200);
    assert.equal(await exchange(held[0]!, chatRequest(stack.keys.agent, 'third')), 200);
    assert.equal(stack.upstream.requests.length, upstreamBefore + 2);

    // Free a slot: a new connection is served again.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    let status = 0;
    for (let attempt = 0; attempt < 50 && status === 0; attempt++) {
      // Envoy sees the close asynchronously; until it has, a new connection may still be refused.
      const next = await open(stack.url);
      try { status = await exchange(next, chatRequest(stack.keys.agent, 'after-free')); } catch { status = 0; }
      next.socket.destroy();
      if (status === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200);
    held[1]!.socket.destroy();
  });
});

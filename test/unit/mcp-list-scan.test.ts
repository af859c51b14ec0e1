// An MCP list answer is read once: the list filter's parse (mcp/lists.ts) is handed to the response leak scan
// (steps/content.ts), which scans the filtered list, the answer the client receives. Through Session and the MCP
// pipeline; the parses are counted as the strict UTF-8 decodes every strict JSON parse of bytes starts with.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { TextDecoder } from 'node:util';
import { mcpFixture, replacedBody, responseBodyMsg, responseHeadersMsg, sendMcpRequest, type PhaseFixture } from '../helpers/phase-fixtures.ts';
import { plantStripeKey } from '../helpers/content-values.ts';

const LIST = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }));

/** A tools/list answer: echo (granted) with a secret in its description, and a tool the grant does not name. */
function answer(secret: string, hidden = true): unknown {
  const tools = [{ name: 'echo', description: `say it back; key ${secret}`, inputSchema: { type: 'object' } }];
  if (hidden) tools.push({ name: 'delete_everything', description: 'no', inputSchema: { type: 'object' } });
  return { jsonrpc: '2.0', id: 7, result: { tools } };
}

/** Sends tools/list, then answers it with `body`; the client's body, and how many strict decodes the answer cost. */
async function listThrough(f: PhaseFixture, contentType: string, body: string): Promise<{ out: string; strictDecodes: number }> {
  const session = await sendMcpRequest(f, LIST);
  await session.handle(responseHeadersMsg({ ':status': '200', 'content-type': contentType }));
  const decode = mock.method(TextDecoder.prototype, 'decode');
  let r;
  try {
    r = await session.handle(responseBodyMsg(body));
  } finally {
    decode.mock.restore();
  }
  session.close('ended');
  const strictDecodes = decode.mock.calls.filter((c) => { const d = c.this as TextDecoder; return d.fatal && d.ignoreBOM; }).length;
  return { out: (replacedBody(r, 'response_body') ?? Buffer.from(body)).toString('utf8'), strictDecodes };
}

describe('an MCP list answer: filtered, then scanned, from one read', () => {
  for (const hidden of [true, false]) {
    it(`JSON${hidden ? ', an item hidden' : ', nothing hidden'}: parsed once; the scan masks the leak in the list the client receives`, async () => {
      const f = mcpFixture({ dlp: {} });
      const secret = plantStripeKey();
      const { out, strictDecodes } = await listThrough(f, 'application/json', JSON.stringify(answer(secret, hidden)));
      const doc = JSON.parse(out) as { result: { tools: { name: string; description: string }[] } };
      assert.deepEqual(doc.result.tools.map((t) => t.name), ['echo']);
      assert.ok(!out.includes(secret), 'the leak is masked');
      assert.match(doc.result.tools[0]?.description ?? '', /^say it back; key \[REDACTED:STRIPE_KEY\]$/);
      assert.equal(strictDecodes, 1, 'one parse for the filter and the scan');
      await f.close();
    });
  }

  it('SSE: the filter parses the events; the scan reads the filtered stream through the SSE transform, decoding it once', async () => {
    const f = mcpFixture({ dlp: {} });
    const secret = plantStripeKey();
    const body = `event: message\ndata: ${JSON.stringify(answer(secret))}\n\n`;
    const { out, strictDecodes } = await listThrough(f, 'text/event-stream', body);
    assert.ok(out.startsWith('event: message\ndata: '), out);
    assert.ok(!out.includes(secret), 'the leak is masked');
    assert.ok(!out.includes('delete_everything'), 'the hidden tool is gone');
    assert.equal(strictDecodes, 1);
    await f.close();
  });

  // "\u0073k_live_...": the text Tollgate receives holds no "sk_live_", the client's JSON parse of it does. Nothing
  // is hidden, so the filter forwards the answer as the server wrote it.
  const escapedCases: { name: string; frame: (data: string) => string; unframe: (out: string) => string }[] = [
    { name: 'SSE: a JSON escape inside an event does not hide the leak (each event is read as the client will read it)', frame: (d) => `event: message\ndata: ${d}\n\n`, unframe: (o) => o.slice('event: message\ndata: '.length) },
    { name: 'a JSON answer labelled as SSE is still scanned as JSON (a JSON escape does not hide the leak)', frame: (d) => d, unframe: (o) => o },
  ];
  for (const c of escapedCases) {
    it(c.name, async () => {
      const f = mcpFixture({ dlp: {} });
      const secret = plantStripeKey();
      const data = JSON.stringify(answer(secret, false)).replace(secret, `\\u0073${secret.slice(1)}`);
      assert.ok(!data.includes(secret));
      const { out } = await listThrough(f, 'text/event-stream', c.frame(data));
      const doc = JSON.parse(c.unframe(out)) as { result: { tools: { name: string; description: string }[] } };
      assert.deepEqual(doc.result.tools.map((t) => t.name), ['echo']);
      assert.match(doc.result.tools[0]?.description ?? '', /^say it back; key \[REDACTED:STRIPE_KEY\]$/);
      await f.close();
    });
  }
});

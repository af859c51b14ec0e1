// A finding of this session: an MCP server's `tools/list` answer sent as SSE is buffered whole (to filter it) and was
// leak-scanned as raw event text, so a secret written with a JSON escape (`\u0073k_live_…`) passed to the client,
// whose JSON parser decodes it. Through a real Envoy and Tollgate, against a fake MCP server that writes such an event.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { openAiResponder, type Responder } from '../../extproc/dev/fake-upstream.ts';
import { plantStripeKey } from '../helpers/content-values.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

describe('an MCP list answer as SSE: a JSON-escaped secret does not pass (real Envoy)', () => {
  const secret = plantStripeKey();
  // What the client's JSON parser reads as the secret; the bytes on the wire never hold it.
  const escaped = `\\u0073${secret.slice(1)}`;
  let stack: Stack;

  /** The fake MCP server at /mcp: a tools/list answer as one SSE event, the secret escaped; anything else is the OpenAI fake's. */
  const respond = (providerKey: string): Responder => {
    const openai = openAiResponder(providerKey);
    return (req) => {
      if (!req.path.endsWith('/mcp')) return openai(req);
      const id = (JSON.parse(req.body.toString('utf8')) as { id?: unknown }).id ?? null;
      const tools = [{ name: 'echo', description: 'DESCRIPTION', inputSchema: { type: 'object' } }];
      const data = JSON.stringify({ jsonrpc: '2.0', id, result: { tools } }).replace('DESCRIPTION', `say it back; key ${escaped}`);
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: `event: message\ndata: ${data}\n\n` };
    };
  };

  before(async () => {
    stack = await startStack({
      respond,
      tweak: (c): ConfigInput => {
        const upstream = c.providers[0]?.upstream ?? '';
        const dir = c.audit?.sink?.type === 'file' ? join(c.audit.sink.path, '..') : '/tmp';
        const tokenFile = join(dir, 'mcp-escape-token');
        writeFileSync(tokenFile, 'mcp-server-token-0123456789', { mode: 0o600 });
        return {
          ...c,
          providers: [...c.providers, { name: 'tools-raw', kind: 'mcp' as const, upstream: new URL(upstream).origin, credential: { source: 'file' as const, path: tokenFile } }],
          identities: c.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [...i.allow, { provider: 'tools-raw', mcp: { tools: ['echo'] } }] } : i)),
        };
      },
    });
  });
  after(async () => { await stack.stop(); });

  it('the list reaches the client with the secret masked, and the server did answer with it', async () => {
    const res = await fetch(`${stack.url}/tools-raw/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.ok(stack.upstream.requests.some((r) => r.path.endsWith('/mcp')), 'the fake MCP server was asked');
    const data = /^data: (.*)$/m.exec(text)?.[1];
    assert.ok(data !== undefined, text);
    const event = JSON.parse(data) as { result: { tools: { name: string; description: string }[] } };
    const description = event.result.tools[0]?.description ?? '';
    assert.ok(!description.includes(secret), `the client would read the secret: ${description}`);
    assert.match(description, /^say it back; key \[REDACTED:STRIPE_KEY\]$/);
  });
});

// Content controls on requests, end to end through a real Envoy: the upstream receives a masked body with a
// correct content-length; a blocked prompt never reaches the upstream and the 403 names the types, never the
// values; secrets in tool results (OpenAI role "tool", Anthropic tool_result) are caught; restore gives the
// caller the original values in buffered and SSE responses; no output of any process contains a planted value.
// Scan by default (issue 12): values in fields outside the old hand-made list (tool descriptions, names,
// metadata, mcp_call output, search_result, Gemini proto names, an unknown field) are masked or blocked;
// protected fields block; provider-side URL fetches and server tools are refused unless the policy allows them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { anthropicSse, jsonResponse, openAiSse, startContentStack, type ChunkedResponse, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { leaked, plantAwsKeyId, plantCardNumber, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import { eventually } from '../helpers/stack.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const EMAIL = plantEmail();
const STRIPE = plantStripeKey();
const AKIA = plantAwsKeyId();
const CARD = plantCardNumber();
const PLANTED = [EMAIL, STRIPE, AKIA, String(CARD)];

/** The text of the last message of a chat or messages body (string content or text parts). */
function lastText(body: Buffer): string {
  const doc = JSON.parse(body.toString('utf8')) as { messages?: { content?: unknown }[] };
  const c = doc.messages?.at(-1)?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p: { text?: unknown }) => (typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/** Echoes the last message back: buffered or SSE (3-character deltas, 5 ms apart), OpenAI or Anthropic shaped. */
function echo(req: SeenRequest): ChunkedResponse {
  const text = `Echo: ${lastText(req.body)}`;
  const stream = (JSON.parse(req.body.toString('utf8')) as { stream?: boolean }).stream === true;
  const pieces = text.match(/.{1,3}/gs) ?? [];
  if (req.path.endsWith('/messages')) {
    return stream ? anthropicSse(pieces, 5) : jsonResponse({ id: 'm1', type: 'message', role: 'assistant', content: [{ type: 'text', text }], usage: { input_tokens: 5, output_tokens: 7 } });
  }
  return stream ? openAiSse(pieces, 5) : jsonResponse({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
}

/** SSE delta text joined (OpenAI delta.content and Anthropic text_delta). */
function sseText(raw: string): string {
  let out = '';
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const d = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[]; delta?: { text?: string } };
    out += d.choices?.[0]?.delta?.content ?? d.delta?.text ?? '';
  }
  return out;
}

describe('content controls on requests through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({
      cloud: echo,
      tweak: (c) => {
        // A Gemini provider at the same recording upstream (the Gemini API paths under /gemini/).
        const anthropic = c.providers.find((p) => p.name === 'anthropic');
        assert.ok(anthropic !== undefined);
        return {
          ...c,
          providers: [...c.providers, { ...anthropic, name: 'gemini', kind: 'vertex', models: ['gemini-*'] }],
          identities: c.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [...i.allow, { provider: 'gemini' }] } : i)),
          dlp: { actions: [{ detectors: ['EMAIL'], action: 'mask', restore: true }] },
        };
      },
    });
  });
  after(async () => {
    await stack.stop();
  });

  const post = async (path: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> => {
    const auth = path.startsWith('/anthropic/') ? { 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${stack.keys.agent}` };
    const res = await fetch(stack.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  const chat = (content: unknown, extra: object = {}): object => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
  const messages = (content: unknown, extra: object = {}): object => ({ model: 'claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content }], ...extra });

  const cases = [
    { name: 'OpenAI chat', path: '/openai/chat/completions', body: chat, upstreamPath: '/v1/chat/completions' },
    { name: 'Anthropic messages', path: '/anthropic/v1/messages', body: messages, upstreamPath: '/v1/messages' },
  ];

  for (const c of cases) {
    it(`${c.name}: the upstream receives the masked body with a correct content-length; the caller gets the value back (buffered)`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await post(c.path, c.body(`Please write to ${EMAIL} today.`));
      assert.equal(r.status, 200, r.text);
      const got = stack.cloud.requests.at(-1);
      assert.ok(got !== undefined && stack.cloud.requests.length === seen + 1);
      assert.equal(got.path, c.upstreamPath);
      assert.equal(lastText(got.body), 'Please write to <EMAIL_1> today.');
      assert.ok(!got.body.includes(EMAIL));
      assert.equal(got.headers['content-length'], String(got.body.length), 'content-length matches the masked body');
      assert.ok(r.text.includes(`Echo: Please write to ${EMAIL} today.`), r.text);
      assert.ok(!r.text.includes('<EMAIL_1>'));
    });

    it(`${c.name}: restore in an SSE response, with the placeholder split across chunks`, async () => {
      const r = await post(c.path, c.body(`Mail ${EMAIL} and ${EMAIL} again, please.`, { stream: true }));
      assert.equal(r.status, 200, r.text);
      assert.equal(lastText(stack.cloud.requests.at(-1)?.body ?? Buffer.alloc(0)), 'Mail <EMAIL_1> and <EMAIL_1> again, please.');
      assert.equal(sseText(r.text), `Echo: Mail ${EMAIL} and ${EMAIL} again, please.`);
      const events = r.text.split('\n\n').filter((e) => e !== '');
      assert.equal(events.filter((e) => e.includes('"role":"assistant"')).length, 1, 'no event duplicated');
    });

    it(`${c.name}: a secret in the prompt is blocked: never reaches the upstream, the 403 names the type only`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await post(c.path, c.body(`my key is ${STRIPE} and ${AKIA}`));
      assert.equal(r.status, 403);
      const err = (JSON.parse(r.text) as { error: { code: string; blocked_types: string[] } }).error;
      assert.equal(err.code, 'content_blocked');
      assert.deepEqual(err.blocked_types, ['AWS_ACCESS_KEY', 'STRIPE_KEY']);
      assert.deepEqual(leaked(r.text, PLANTED), []);
      assert.equal(stack.cloud.requests.length, seen, 'nothing reached the upstream');
    });
  }

  it('OpenAI: a secret in a tool result (role "tool") is blocked', async () => {
    const seen = stack.cloud.requests.length;
    const r = await post('/openai/chat/completions', {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'read the config' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"app.env"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: `STRIPE_SECRET=${STRIPE}` },
      ],
    });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual((JSON.parse(r.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['STRIPE_KEY']);
    assert.equal(stack.cloud.requests.length, seen);
  });

  it('Anthropic: a secret in a tool_result block is blocked; an email in one is masked', async () => {
    const toolTurn = (content: string): object => ({
      model: 'claude-sonnet-4',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'read the config' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'read_file', input: { path: 'app.env' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content }] },
      ],
    });
    const seen = stack.cloud.requests.length;
    const blocked = await post('/anthropic/v1/messages', toolTurn(`AWS_ACCESS_KEY_ID=${AKIA}`));
    assert.equal(blocked.status, 403, blocked.text);
    assert.deepEqual((JSON.parse(blocked.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['AWS_ACCESS_KEY']);
    assert.equal(stack.cloud.requests.length, seen);
    const masked = await post('/anthropic/v1/messages', toolTurn(`owner: ${EMAIL}`));
    assert.equal(masked.status, 200, masked.text);
    const got = stack.cloud.requests.at(-1)?.body.toString('utf8') ?? '';
    assert.ok(got.includes('owner: <EMAIL_1>') && !got.includes(EMAIL), got);
  });

  it('Anthropic: a card number written as a JSON number in tool_use input blocks; a large top-level number does not', async () => {
    const seen = stack.cloud.requests.length;
    const turn = (input: object, extra: object = {}): object => ({
      model: 'claude-sonnet-4',
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'pay the invoice' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_2', name: 'charge', input }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_2', content: 'declined' }] },
      ],
      ...extra,
    });
    const blocked = await post('/anthropic/v1/messages', turn({ card_number: CARD, amount_cents: 129900 }));
    assert.equal(blocked.status, 403, blocked.text);
    assert.deepEqual((JSON.parse(blocked.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['CARD_NUMBER']);
    assert.equal(stack.cloud.requests.length, seen, 'nothing reached the upstream');
    const passed = await post('/anthropic/v1/messages', turn({ invoice: 'INV-1' }, { metadata: { user_id: 'u-1' }, max_tokens: 100_000_000 }));
    assert.notEqual(passed.status, 403, passed.text);
  });

  it('a key hidden in the body\'s model name blocks, though the model pattern (claude-*) matches; refused earlier, it is withheld from the audit record', async () => {
    const seen = stack.cloud.requests.length + stack.onprem.requests.length;
    const r = await post('/anthropic/v1/messages', messages('hi', { model: `claude-sonnet-4:${AKIA}` }));
    assert.equal(r.status, 403, r.text);
    assert.deepEqual((JSON.parse(r.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['AWS_ACCESS_KEY']);
    // A model the provider does not serve is refused before the body is scanned: the record must not hold it.
    const refused = await post('/openai/chat/completions', chat('hi', { model: `llama-3:${AKIA}` }));
    assert.equal((JSON.parse(refused.text) as { error: { code: string } }).error.code, 'model_forbidden');
    assert.equal(stack.cloud.requests.length + stack.onprem.requests.length, seen, 'nothing reached an upstream');
    const record = await awaitRecord(stack, (x) => x.reason === 'model_forbidden');
    assert.equal(record.model, '[withheld]');
  });

  // Issue 12 (M1, M2): text the model sees outside the old hand-made field list, and an unknown field.
  const GEMINI = '/gemini/v1beta/models/gemini-2.0-flash:generateContent';
  const fields: { name: string; path: string; body: (v: string) => object; at: (string | number)[] }[] = [
    { name: 'OpenAI tools[].function.description', path: '/openai/chat/completions', body: (v) => chat('hi', { tools: [{ type: 'function', function: { name: 'send', description: `Send mail as ${v}` } }] }), at: ['tools', 0, 'function', 'description'] },
    { name: 'OpenAI messages[].name', path: '/openai/chat/completions', body: (v) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', name: v, content: 'hi' }] }), at: ['messages', 0, 'name'] },
    { name: 'OpenAI metadata', path: '/openai/chat/completions', body: (v) => chat('hi', { metadata: { owner: v } }), at: ['metadata', 'owner'] },
    { name: 'Responses mcp_call.output', path: '/openai/responses', body: (v) => ({ model: 'gpt-4o-mini', input: [{ type: 'mcp_call', id: 'mcp_1', server_label: 'crm', name: 'lookup', arguments: '{}', output: `contact: ${v}` }, { role: 'user', content: 'summarise' }] }), at: ['input', 0, 'output'] },
    { name: 'Anthropic tools[].description', path: '/anthropic/v1/messages', body: (v) => messages('hi', { tools: [{ name: 'send', description: `Send mail as ${v}`, input_schema: { type: 'object' } }] }), at: ['tools', 0, 'description'] },
    { name: 'Anthropic search_result block', path: '/anthropic/v1/messages', body: (v) => messages([{ type: 'search_result', source: 'https://kb.example/1', title: 'Contacts', content: [{ type: 'text', text: `reach ${v}` }] }, { type: 'text', text: 'who?' }]), at: ['messages', 0, 'content', 0, 'content', 0, 'text'] },
    { name: 'Gemini system_instruction (proto name)', path: GEMINI, body: (v) => ({ system_instruction: { parts: [{ text: `You act for ${v}` }] }, contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }), at: ['system_instruction', 'parts', 0, 'text'] },
    { name: 'Gemini function_response (proto name)', path: GEMINI, body: (v) => ({ contents: [{ role: 'user', parts: [{ text: 'look up' }] }, { role: 'model', parts: [{ function_call: { name: 'lookup', args: {} } }] }, { role: 'user', parts: [{ function_response: { name: 'lookup', response: { owner: v } } }] }] }), at: ['contents', 2, 'parts', 0, 'function_response', 'response', 'owner'] },
    { name: 'an unknown future field', path: '/openai/chat/completions', body: (v) => chat('hi', { x_future: { notes: [`cc ${v}`] } }), at: ['x_future', 'notes', 0] },
  ];
  const valueAt = (doc: unknown, path: (string | number)[]): unknown => path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], doc);

  for (const f of fields) {
    it(`${f.name}: an email is masked at its path before the upstream; a secret there blocks and nothing is sent`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await post(f.path, f.body(EMAIL));
      assert.equal(r.status, 200, r.text);
      assert.equal(stack.cloud.requests.length, seen + 1);
      const got = stack.cloud.requests.at(-1);
      assert.ok(got !== undefined && !got.body.includes(EMAIL), 'the value never reaches the upstream');
      assert.equal(valueAt(JSON.parse(got.body.toString('utf8')), f.at), String(valueAt(f.body(EMAIL), f.at)).replace(EMAIL, '<EMAIL_1>'));
      assert.equal(got.headers['content-length'], String(got.body.length));
      const blocked = await post(f.path, f.body(STRIPE));
      assert.equal(blocked.status, 403, blocked.text);
      assert.deepEqual((JSON.parse(blocked.text) as { error: { blocked_types: string[] } }).error.blocked_types, ['STRIPE_KEY']);
      assert.equal(stack.cloud.requests.length, seen + 1, 'the blocked request never reached the upstream');
    });
  }

  it('a protected field (an OpenAI tool_call_id) is never rewritten: an email there blocks', async () => {
    const seen = stack.cloud.requests.length;
    const r = await post('/openai/chat/completions', { model: 'gpt-4o-mini', messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [{ id: EMAIL, type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: EMAIL, content: 'done' },
    ] });
    assert.equal(r.status, 403, r.text);
    const err = (JSON.parse(r.text) as { error: { code: string; blocked_types: string[] } }).error;
    assert.equal(err.code, 'content_blocked');
    assert.deepEqual(err.blocked_types, ['EMAIL']);
    assert.equal(stack.cloud.requests.length, seen);
  });

  // Issue 12 (L2): provider-side URL fetches and server tools are refused by default.
  const denied: { name: string; path: string; body: object; code: string; types?: string[] }[] = [
    { name: 'an Anthropic document with source.url', path: '/anthropic/v1/messages', body: messages([{ type: 'document', source: { type: 'url', url: 'https://files.example/report.pdf' } }, { type: 'text', text: 'summarise' }]), code: 'provider_fetch_denied' },
    { name: 'an OpenAI image_url with an https URL', path: '/openai/chat/completions', body: chat([{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'https://files.example/cat.png' } }]), code: 'provider_fetch_denied' },
    { name: 'Anthropic mcp_servers', path: '/anthropic/v1/messages', body: messages('hi', { mcp_servers: [{ type: 'url', url: 'https://mcp.example/sse', name: 'crm' }] }), code: 'server_tool_denied', types: ['mcp'] },
    { name: 'the Responses mcp tool', path: '/openai/responses', body: { model: 'gpt-4o-mini', input: 'hi', tools: [{ type: 'mcp', server_label: 'crm', server_url: 'https://mcp.example' }] }, code: 'server_tool_denied', types: ['mcp'] },
    { name: 'a Gemini google_search tool (proto name)', path: GEMINI, body: { contents: [{ role: 'user', parts: [{ text: 'news' }] }], tools: [{ google_search: {} }] }, code: 'server_tool_denied', types: ['web_search'] },
  ];
  for (const d of denied) {
    it(`${d.name}: 403 ${d.code}, nothing reaches the upstream`, async () => {
      const seen = stack.cloud.requests.length;
      const r = await post(d.path, d.body);
      assert.equal(r.status, 403, r.text);
      const err = (JSON.parse(r.text) as { error: { code: string; blocked_types?: string[] } }).error;
      assert.equal(err.code, d.code);
      assert.deepEqual(err.blocked_types, d.types);
      assert.equal(stack.cloud.requests.length, seen);
      const id = r.headers.get('x-request-id');
      assert.ok(id !== null, 'the denial carries the request id');
      const rec = await awaitRecord(stack, id);
      assert.equal(rec.reason, d.code);
      assert.equal(rec.rule, d.code === 'provider_fetch_denied' ? 'dlp.allowProviderFetch' : 'dlp.allowServerTools');
    });
  }

  it('audit records count findings by type and action; no output of any process contains a planted value', async () => {
    await eventually(() => stack.audit().filter((a) => a.content !== null).length >= 9);
    const records = stack.audit();
    const blocked = records.filter((a) => a.reason === 'content_blocked');
    assert.ok(blocked.length >= 4);
    for (const b of blocked) assert.equal(b.content?.action, 'block');
    const masked = records.filter((a) => a.content?.action === 'mask');
    assert.ok(masked.length >= 4);
    for (const m of masked) assert.ok((m.content?.request.EMAIL ?? 0) >= 1);
    await stack.tollgate.stop();
    await stack.envoy.stop();
    const all = stack.allOutput();
    assert.ok(all.length > 1000, 'there is output to search');
    assert.deepEqual(leaked(all, PLANTED), []);
  });
});

describe('provider-side fetches and server tools allowed by the policy file, through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => {
    stack = await startContentStack({ cloud: echo, tweak: (c) => ({ ...c, dlp: { allowProviderFetch: true, allowServerTools: ['web_search'] } }) });
  });
  after(async () => {
    await stack.stop();
  });

  const post = async (body: object): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${stack.url}/anthropic/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': stack.keys.agent, 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };

  it('an allowed URL fetch and an allowed tool reach the upstream unchanged; a tool not listed is still refused', async () => {
    const seen = stack.cloud.requests.length;
    const body = { model: 'claude-sonnet-4', max_tokens: 64, tools: [{ type: 'web_search_20250305', name: 'web_search' }], messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://files.example/report.pdf' } }, { type: 'text', text: 'summarise' }] }] };
    const ok = await post(body);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(stack.cloud.requests.length, seen + 1);
    assert.deepEqual(JSON.parse(stack.cloud.requests.at(-1)?.body.toString('utf8') ?? '{}'), body);
    const refused = await post({ ...body, mcp_servers: [{ type: 'url', url: 'https://mcp.example/sse', name: 'crm' }] });
    assert.equal(refused.status, 403, refused.text);
    const err = (JSON.parse(refused.text) as { error: { code: string; blocked_types: string[] } }).error;
    assert.equal(err.code, 'server_tool_denied');
    assert.deepEqual(err.blocked_types, ['mcp']);
    assert.equal(stack.cloud.requests.length, seen + 1);
  });
});

// Scan by default (issue 12, M1/M2/L2), through the request-body phase over real services: every field the
// attacker probe used (and an unknown one) is scanned; a finding is masked at its exact JSON path, or blocks
// when the field must not change (ids, signatures, signed reasoning, object keys); Gemini's proto
// (snake_case) names are read like the camelCase ones; provider-side URL fetches and server tools are
// refused unless the dlp section allows them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonPath } from '../../extproc/core/content.ts';
import { createProviderKind } from '../../extproc/providers/index.ts';
import { CONVERSE_RULES } from '../../extproc/providers/formats/bedrock.ts';
import { isInlineMedia, walkRequest } from '../../extproc/providers/shared/request-walk.ts';
import { maskBody } from '../../extproc/redactors/mask.ts';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import { dispatch } from '../../extproc/processing/session.ts';
import { leaked, plantAwsKeyId, plantCardNumber, plantEmail, plantStripeKey } from '../helpers/content-values.ts';
import { asDenial, asResponse, isDenial, phaseFixture, replacedBody, requestBodyMsg, startRequest, type PhaseFixture } from '../helpers/phase-fixtures.ts';

const EMAIL = plantEmail();
const STRIPE = plantStripeKey();

const withProviders = (dlp: ConfigInput['dlp']) => (c: ConfigInput): ConfigInput => {
  const openai = c.providers[0];
  assert.ok(openai !== undefined);
  return {
    ...c,
    limits: { ...c.limits, maxRequestBodyBytes: 64 * 1024 },
    providers: [
      openai,
      { ...openai, name: 'anthropic', kind: 'anthropic', models: ['claude-*'] },
      { ...openai, name: 'gemini', kind: 'vertex', models: ['gemini-*'] },
    ],
    identities: c.identities.map((i) => (i.id === 'agent-1' ? { ...i, allow: [{ provider: 'openai' }, { provider: 'anthropic' }, { provider: 'gemini' }] } : i)),
    dlp,
  };
};

type Provider = 'openai' | 'anthropic' | 'gemini';
const PATHS: Readonly<Record<string, { provider: Provider; path: string }>> = {
  chat: { provider: 'openai', path: '/openai/v1/chat/completions' },
  responses: { provider: 'openai', path: '/openai/v1/responses' },
  messages: { provider: 'anthropic', path: '/anthropic/v1/messages' },
  generate: { provider: 'gemini', path: '/gemini/v1beta/models/gemini-2.0-flash:generateContent' },
  count: { provider: 'gemini', path: '/gemini/v1beta/models/gemini-2.0-flash:countTokens' },
};

async function run(f: PhaseFixture, endpoint: keyof typeof PATHS, doc: object) {
  const { provider, path } = PATHS[endpoint] ?? PATHS.chat!;
  const body = Buffer.from(JSON.stringify(doc), 'utf8');
  const state = await startRequest(f, body, { seal: { provider, path }, headers: { ':path': path } });
  const msg = requestBodyMsg(body);
  const out = await dispatch(state, msg);
  return { state, out };
}

function at(doc: unknown, path: JsonPath): unknown {
  let v = doc;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

const chat = (extra: object, messages: object[] = [{ role: 'user', content: 'hi' }]): object => ({ model: 'gpt-4o-mini', messages, ...extra });
const responses = (extra: object): object => ({ model: 'gpt-4o-mini', input: 'hi', ...extra });
const claude = (extra: object, messages: object[] = [{ role: 'user', content: 'hi' }]): object => ({ model: 'claude-sonnet-4', max_tokens: 64, messages, ...extra });
const gemini = (extra: object): object => ({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], ...extra });
const part = (p: object): object => ({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }, { role: 'model', parts: [p] }] });

interface MaskCase {
  readonly name: string;
  readonly endpoint: keyof typeof PATHS;
  readonly doc: (v: string) => object;
  /** Where the value sits: after masking this string holds a placeholder instead. */
  readonly path: JsonPath;
}

// M1 and M2: each field the probe used gets a finding masked at its exact path.
const MASKED: readonly MaskCase[] = [
  // OpenAI chat
  { name: 'OpenAI tools[].function.description', endpoint: 'chat', doc: (v) => chat({ tools: [{ type: 'function', function: { name: 'f', description: `mail ${v}` } }] }), path: ['tools', 0, 'function', 'description'] },
  { name: 'OpenAI tools[].function.parameters (schema text)', endpoint: 'chat', doc: (v) => chat({ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { to: { type: 'string', description: `default ${v}` } } } } }] }), path: ['tools', 0, 'function', 'parameters', 'properties', 'to', 'description'] },
  { name: 'OpenAI messages[].name', endpoint: 'chat', doc: (v) => chat({}, [{ role: 'user', name: v, content: 'hi' }]), path: ['messages', 0, 'name'] },
  { name: 'OpenAI prediction.content', endpoint: 'chat', doc: (v) => chat({ prediction: { type: 'content', content: `x ${v}` } }), path: ['prediction', 'content'] },
  { name: 'OpenAI response_format.json_schema', endpoint: 'chat', doc: (v) => chat({ response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object', description: `for ${v}` } } } }), path: ['response_format', 'json_schema', 'schema', 'description'] },
  { name: 'OpenAI refusal content part', endpoint: 'chat', doc: (v) => chat({}, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'refusal', refusal: `no ${v}` }] }]), path: ['messages', 1, 'content', 0, 'refusal'] },
  { name: 'OpenAI metadata', endpoint: 'chat', doc: (v) => chat({ metadata: { owner: v } }), path: ['metadata', 'owner'] },
  { name: 'OpenAI user', endpoint: 'chat', doc: (v) => chat({ user: v }), path: ['user'] },
  { name: 'an unknown future field', endpoint: 'chat', doc: (v) => chat({ future_field: { nested: [`x ${v}`] } }), path: ['future_field', 'nested', 0] },
  // OpenAI Responses
  { name: 'Responses local_shell_call_output.output', endpoint: 'responses', doc: (v) => responses({ input: [{ type: 'local_shell_call_output', id: 'ls_1', output: `cat: ${v}` }] }), path: ['input', 0, 'output'] },
  { name: 'Responses mcp_call.output', endpoint: 'responses', doc: (v) => responses({ input: [{ type: 'mcp_call', id: 'mcp_1', server_label: 's', name: 'n', arguments: '{}', output: `row ${v}` }] }), path: ['input', 0, 'output'] },
  { name: 'Responses prompt.variables', endpoint: 'responses', doc: (v) => responses({ prompt: { id: 'pmpt_1', variables: { customer: v } } }), path: ['prompt', 'variables', 'customer'] },
  { name: 'Responses function tool description', endpoint: 'responses', doc: (v) => responses({ tools: [{ type: 'function', name: 'f', description: `ask ${v}`, parameters: {} }] }), path: ['tools', 0, 'description'] },
  // Anthropic
  { name: 'Anthropic tools[].description', endpoint: 'messages', doc: (v) => claude({ tools: [{ name: 'f', description: `mail ${v}`, input_schema: { type: 'object' } }] }), path: ['tools', 0, 'description'] },
  { name: 'Anthropic search_result block', endpoint: 'messages', doc: (v) => claude({}, [{ role: 'user', content: [{ type: 'search_result', source: 'https://example.com/a', title: 't', content: [{ type: 'text', text: `found ${v}` }] }] }]), path: ['messages', 0, 'content', 0, 'content', 0, 'text'] },
  // Gemini, camelCase and proto names
  { name: 'Gemini system_instruction (proto name)', endpoint: 'generate', doc: (v) => gemini({ system_instruction: { parts: [{ text: `owner ${v}` }] } }), path: ['system_instruction', 'parts', 0, 'text'] },
  { name: 'Gemini function_call (proto name)', endpoint: 'generate', doc: (v) => part({ function_call: { name: 'send', args: { to: v } } }), path: ['contents', 1, 'parts', 0, 'function_call', 'args', 'to'] },
  { name: 'Gemini function_response (proto name)', endpoint: 'generate', doc: (v) => part({ function_response: { name: 'send', response: { owner: v } } }), path: ['contents', 1, 'parts', 0, 'function_response', 'response', 'owner'] },
  { name: 'Gemini executableCode.code', endpoint: 'generate', doc: (v) => part({ executableCode: { language: 'PYTHON', code: `print("${v}")` } }), path: ['contents', 1, 'parts', 0, 'executableCode', 'code'] },
  { name: 'Gemini executable_code (proto name)', endpoint: 'generate', doc: (v) => part({ executable_code: { language: 'PYTHON', code: `print("${v}")` } }), path: ['contents', 1, 'parts', 0, 'executable_code', 'code'] },
  { name: 'Gemini codeExecutionResult.output', endpoint: 'generate', doc: (v) => part({ codeExecutionResult: { outcome: 'OUTCOME_OK', output: v } }), path: ['contents', 1, 'parts', 0, 'codeExecutionResult', 'output'] },
  { name: 'Gemini code_execution_result (proto name)', endpoint: 'generate', doc: (v) => part({ code_execution_result: { outcome: 'OUTCOME_OK', output: v } }), path: ['contents', 1, 'parts', 0, 'code_execution_result', 'output'] },
  { name: 'Gemini function declarations', endpoint: 'generate', doc: (v) => gemini({ tools: [{ function_declarations: [{ name: 'f', description: `mail ${v}` }] }] }), path: ['tools', 0, 'function_declarations', 0, 'description'] },
  { name: 'Gemini generation_config (proto name)', endpoint: 'generate', doc: (v) => gemini({ generation_config: { stop_sequences: [v] } }), path: ['generation_config', 'stop_sequences', 0] },
  { name: 'Gemini tool_config (proto name)', endpoint: 'generate', doc: (v) => gemini({ tool_config: { function_calling_config: { mode: 'ANY', allowed_function_names: [v] } } }), path: ['tool_config', 'function_calling_config', 'allowed_function_names', 0] },
  { name: "Gemini countTokens' nested request", endpoint: 'count', doc: (v) => ({ generateContentRequest: { model: 'models/gemini-2.0-flash', contents: [{ role: 'user', parts: [{ text: `to ${v}` }] }] } }), path: ['generateContentRequest', 'contents', 0, 'parts', 0, 'text'] },
];

interface BlockCase {
  readonly name: string;
  readonly endpoint: keyof typeof PATHS;
  readonly doc: (v: string) => object;
}

// Fields that must not change: an email there (which would be masked elsewhere) blocks the request.
const BLOCKED: readonly BlockCase[] = [
  { name: 'OpenAI tool_call_id', endpoint: 'chat', doc: (v) => chat({}, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [{ id: v, type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: v, content: 'ok' }]) },
  { name: 'an object key in tool arguments (keys are scanned, never rewritten)', endpoint: 'messages', doc: (v) => claude({}, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'f', input: { [v]: 1 } }] }]) },
  { name: 'Responses reasoning item (encrypted, signed)', endpoint: 'responses', doc: (v) => responses({ input: [{ type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: `about ${v}` }], encrypted_content: 'gAAAA' }] }) },
  { name: 'Anthropic thinking block (signed)', endpoint: 'messages', doc: (v) => claude({}, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'thinking', thinking: `user is ${v}`, signature: 'sig' }, { type: 'text', text: 'ok' }] }]) },
  { name: 'Gemini thought_signature (proto name)', endpoint: 'generate', doc: (v) => part({ text: 'ok', thought_signature: v }) },
  { name: 'Gemini cached_content (proto name)', endpoint: 'generate', doc: (v) => gemini({ cached_content: v }) },
  { name: 'Gemini inline_data that is not base64 (proto name)', endpoint: 'generate', doc: (v) => part({ inline_data: { mime_type: 'image/png', data: v } }) },
];

describe('scan by default: request fields are masked at their exact path', () => {
  let f: PhaseFixture;
  before(() => { f = phaseFixture({ tweak: withProviders({ enabled: true }) }); });
  after(async () => { await f.close(); });

  for (const c of MASKED) {
    it(`${c.name}: an email is masked at ${JSON.stringify(c.path)}`, async () => {
      const doc = c.doc(EMAIL);
      assert.ok(String(at(doc, c.path)).includes(EMAIL), 'the case plants the value where it says');
      const { state, out } = await run(f, c.endpoint, doc);
      const body = replacedBody(asResponse(out), 'request_body');
      assert.ok(body !== undefined, 'the body is replaced');
      const got = JSON.parse(body.toString('utf8')) as unknown;
      assert.equal(at(got, c.path), String(at(doc, c.path)).replace(EMAIL, '<EMAIL_1>'));
      assert.ok(!body.toString('utf8').includes(EMAIL));
      assert.deepEqual(state.content.request, { EMAIL: 1 });
    });
  }

  for (const c of BLOCKED) {
    it(`${c.name}: an email there blocks instead of being masked`, async () => {
      const { state, out } = await run(f, c.endpoint, c.doc(EMAIL));
      const d = asDenial(out);
      assert.equal(d.code, 'content_blocked');
      assert.deepEqual(d.types, ['EMAIL']);
      assert.equal(state.content.action, 'block');
      assert.deepEqual(leaked(f.everything([d, state.content]), [EMAIL]), []);
    });
  }

  it('the same text in several fields is scanned once and masked in every one of them', async () => {
    const { state, out } = await run(f, 'chat', chat({ metadata: { a: EMAIL, b: `cc ${EMAIL}` }, user: EMAIL }, [{ role: 'user', content: EMAIL }, { role: 'user', content: EMAIL }]));
    const body = replacedBody(asResponse(out), 'request_body')?.toString('utf8') ?? '';
    assert.deepEqual(JSON.parse(body), chat({ metadata: { a: '<EMAIL_1>', b: 'cc <EMAIL_1>' }, user: '<EMAIL_1>' }, [{ role: 'user', content: '<EMAIL_1>' }, { role: 'user', content: '<EMAIL_1>' }]));
    assert.deepEqual(state.content.request, { EMAIL: 5 });
  });

  it('media-shaped objects outside the places media goes are text: a base64-shaped key there is found', async () => {
    const akia = plantAwsKeyId();
    assert.ok(isInlineMedia(akia), 'the key is valid base64, so it would pass as media bytes');
    const d = asDenial((await run(f, 'messages', claude({ x_future: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: akia } }] }))).out);
    assert.deepEqual(d.types, ['AWS_ACCESS_KEY']);
    const o = asDenial((await run(f, 'chat', chat({ x_future: [{ type: 'input_image', image_url: akia }] }))).out);
    assert.deepEqual(o.types, ['AWS_ACCESS_KEY']);
  });

  it('a secret in an unknown field blocks (default action for secrets)', async () => {
    const d = asDenial((await run(f, 'chat', chat({ x_vendor: { blob: `k=${STRIPE}` } }))).out);
    assert.equal(d.code, 'content_blocked');
    assert.deepEqual(d.types, ['STRIPE_KEY']);
  });

  it('inline media that is exactly base64 is not read as text; the model field stays as it is', async () => {
    const png = Buffer.from(`\x89PNG AKIAABCDEFGHIJKLMNOP ${EMAIL}`).toString('base64');
    const r = await run(f, 'generate', part({ inlineData: { mimeType: 'image/png', data: png } }));
    assert.ok(!isDenial(r.out), 'media bytes pass');
    assert.deepEqual(r.state.content.request, {});
    const img = await run(f, 'chat', chat({}, [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }]));
    assert.ok(!isDenial(img.out));
  });
});

describe('provider-side fetches and server tools', () => {
  let denyAll: PhaseFixture;
  let allow: PhaseFixture;
  before(() => {
    denyAll = phaseFixture({ tweak: withProviders({ enabled: true }) });
    allow = phaseFixture({ tweak: withProviders({ enabled: true, allowProviderFetch: true, allowServerTools: ['web_search', 'mcp'] }) });
  });
  after(async () => {
    await denyAll.close();
    await allow.close();
  });

  const FETCHES: readonly { name: string; endpoint: keyof typeof PATHS; doc: object }[] = [
    { name: 'Anthropic document source.url', endpoint: 'messages', doc: claude({}, [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://files.example/a.pdf' } }, { type: 'text', text: 'sum' }] }]) },
    { name: 'Anthropic image source.url', endpoint: 'messages', doc: claude({}, [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://files.example/a.png' } }] }]) },
    { name: 'OpenAI image_url with an https URL', endpoint: 'chat', doc: chat({}, [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://files.example/a.png' } }] }]) },
    { name: 'Responses input_file.file_url', endpoint: 'responses', doc: responses({ input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://files.example/a.pdf' }] }] }) },
    { name: 'Gemini file_data.file_uri (proto name)', endpoint: 'generate', doc: part({ file_data: { mime_type: 'application/pdf', file_uri: 'https://files.example/a.pdf' } }) },
  ];
  for (const c of FETCHES) {
    it(`${c.name}: 403 provider_fetch_denied by default; allowed with dlp.allowProviderFetch`, async () => {
      const d = asDenial((await run(denyAll, c.endpoint, c.doc)).out);
      assert.equal(d.code, 'provider_fetch_denied');
      assert.equal(d.rule, 'dlp.allowProviderFetch');
      assert.ok(!isDenial((await run(allow, c.endpoint, c.doc)).out));
    });
  }

  const TOOLS: readonly { name: string; endpoint: keyof typeof PATHS; doc: object; types: string[]; allowed: boolean }[] = [
    { name: 'Anthropic mcp_servers', endpoint: 'messages', doc: claude({ mcp_servers: [{ type: 'url', url: 'https://mcp.example/sse', name: 'x' }] }), types: ['mcp'], allowed: true },
    { name: 'Anthropic web_search tool', endpoint: 'messages', doc: claude({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }), types: ['web_search'], allowed: true },
    { name: 'Anthropic code execution tool', endpoint: 'messages', doc: claude({ tools: [{ type: 'code_execution_20250522', name: 'code_execution' }] }), types: ['code_execution'], allowed: false },
    { name: 'Responses mcp tool', endpoint: 'responses', doc: responses({ tools: [{ type: 'mcp', server_label: 'x', server_url: 'https://mcp.example' }] }), types: ['mcp'], allowed: true },
    { name: 'Responses code_interpreter and file_search', endpoint: 'responses', doc: responses({ tools: [{ type: 'code_interpreter', container: { type: 'auto' } }, { type: 'file_search', vector_store_ids: ['vs_1'] }] }), types: ['code_execution', 'file_search'], allowed: false },
    { name: 'Responses computer use', endpoint: 'responses', doc: responses({ tools: [{ type: 'computer_use_preview', display_width: 1, display_height: 1, environment: 'browser' }] }), types: ['computer_use'], allowed: false },
    { name: 'Responses unknown tool type', endpoint: 'responses', doc: responses({ tools: [{ type: 'future_tool' }] }), types: ['other'], allowed: false },
    { name: 'OpenAI chat web_search_options', endpoint: 'chat', doc: chat({ web_search_options: {} }), types: ['web_search'], allowed: true },
    { name: 'Gemini google_search and url_context (proto names)', endpoint: 'generate', doc: gemini({ tools: [{ google_search: {} }, { url_context: {} }] }), types: ['web_fetch', 'web_search'], allowed: false },
  ];
  for (const c of TOOLS) {
    it(`${c.name}: 403 server_tool_denied naming ${c.types.join(', ')}; ${c.allowed ? 'allowed' : 'still denied'} when dlp.allowServerTools lists web_search and mcp`, async () => {
      const d = asDenial((await run(denyAll, c.endpoint, c.doc)).out);
      assert.equal(d.code, 'server_tool_denied');
      assert.equal(d.rule, 'dlp.allowServerTools');
      assert.deepEqual(d.types, c.types);
      assert.equal(isDenial((await run(allow, c.endpoint, c.doc)).out), !c.allowed);
    });
  }

  it('client-side tools (functions, Anthropic bash/text_editor, Gemini function declarations) are not server tools', async () => {
    assert.ok(!isDenial((await run(denyAll, 'chat', chat({ tools: [{ type: 'function', function: { name: 'f' } }] }))).out));
    assert.ok(!isDenial((await run(denyAll, 'messages', claude({ tools: [{ name: 'f', input_schema: { type: 'object' } }, { type: 'bash_20250124', name: 'bash' }] }))).out));
    assert.ok(!isDenial((await run(denyAll, 'generate', gemini({ tools: [{ functionDeclarations: [{ name: 'f' }] }] }))).out));
  });

  it('a URL inside tool arguments is not a provider fetch', async () => {
    const r = await run(denyAll, 'messages', claude({}, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'f', input: { source: { type: 'url', url: 'https://x.example' } } }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'ok' }] }]));
    assert.ok(!isDenial(r.out));
  });
});

describe('the walk', () => {
  it('isInlineMedia: strict base64 or a base64 data: URL, nothing else', () => {
    assert.equal(isInlineMedia('aGVsbG8='), true);
    assert.equal(isInlineMedia('data:image/png;base64,aGVsbG8='), true);
    assert.equal(isInlineMedia('data:text/plain,hello'), false);
    assert.equal(isInlineMedia(`a ${EMAIL}`), false);
    assert.equal(isInlineMedia('aGVsbG8'), false, 'not a multiple of 4');
    assert.equal(isInlineMedia(''), false);
  });

  it('one segment per string leaf, keys once each, the body model protected (never rewritten, a finding blocks)', () => {
    const kind = createProviderKind('openai', { upstream: new URL('https://api.openai.com'), region: 'us-east-1' });
    const t = kind.newRequest({ method: 'POST', path: '/v1/chat/completions', query: '', headers: new Map() });
    t.parseBody(Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] })));
    const segs = t.segments();
    assert.deepEqual(segs.filter((s) => s.key === true).map((s) => s.text), ['model', 'messages', 'role', 'content']);
    assert.deepEqual(segs.filter((s) => s.key !== true && s.protected === true).map((s) => s.path), [['model']]);
    assert.deepEqual(segs.filter((s) => s.key !== true).map((s) => [s.path, s.role, s.text]), [
      [['model'], 'other', 'gpt-4o'],
      [['messages', 0, 'role'], 'user', 'user'], [['messages', 0, 'content'], 'user', 'a'],
      [['messages', 1, 'role'], 'user', 'user'], [['messages', 1, 'content'], 'user', 'b'],
    ]);
  });
});

// Issue 15, item 3: a text file sent as inline base64 is decoded and scanned; a masked finding is masked in the
// decoded text and the payload re-encoded in the same form; a blocked one blocks; binary payloads pass as media.
describe('text inside inline media', () => {
  let f: PhaseFixture;
  let small: PhaseFixture;
  before(() => {
    f = phaseFixture({ tweak: withProviders({ enabled: true }) });
    small = phaseFixture({ tweak: withProviders({ enabled: true, limits: { maxInputBytes: 1024 } }) });
  });
  after(async () => {
    await f.close();
    await small.close();
  });

  const FILE = (v: string): string => `# deploy notes\nowner: ${v}\nregion: eu-west-1\n`;
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
  /** A text whose base64 has both `-` and `_` in the URL-safe alphabet (and `+`, `/` in the standard one). */
  const URLSAFE = (v: string): string => `${FILE(v)}~~~???>>>`;
  const b64url = (s: string): string => {
    const u = Buffer.from(s).toString('base64url');
    return u.padEnd(Math.ceil(u.length / 4) * 4, '=');
  };

  interface MediaCase {
    readonly name: string;
    readonly endpoint: keyof typeof PATHS;
    readonly doc: (payload: string) => object;
    readonly path: JsonPath;
    /** The string the case puts in the media field for a file text. */
    readonly encode: (text: string) => string;
    /** Decodes that string back to its text. */
    readonly decode?: (s: string) => string;
  }
  const dataUrl = (type: string) => (text: string): string => `data:${type};base64,${b64(text)}`;
  const fromDataUrl = (type: string) => (s: string): string => {
    assert.ok(s.startsWith(`data:${type};base64,`), `the data: header stays: ${s.slice(0, 40)}`);
    return Buffer.from(s.slice(s.indexOf(',') + 1), 'base64').toString('utf8');
  };
  const CASES: readonly MediaCase[] = [
    { name: 'OpenAI chat file_data (text/plain)', endpoint: 'chat', doc: (p) => chat({}, [{ role: 'user', content: [{ type: 'text', text: 'why?' }, { type: 'file', file: { filename: 'notes.txt', file_data: p } }] }]), path: ['messages', 0, 'content', 1, 'file', 'file_data'], encode: dataUrl('text/plain'), decode: fromDataUrl('text/plain') },
    { name: 'OpenAI chat image_url (image/svg+xml)', endpoint: 'chat', doc: (p) => chat({}, [{ role: 'user', content: [{ type: 'image_url', image_url: { url: p } }] }]), path: ['messages', 0, 'content', 0, 'image_url', 'url'], encode: dataUrl('image/svg+xml'), decode: fromDataUrl('image/svg+xml') },
    { name: 'Responses input_file (application/json with charset)', endpoint: 'responses', doc: (p) => responses({ input: [{ role: 'user', content: [{ type: 'input_file', filename: 'a.json', file_data: p }] }] }), path: ['input', 0, 'content', 0, 'file_data'], encode: dataUrl('application/json;charset=utf-8'), decode: fromDataUrl('application/json;charset=utf-8') },
    { name: 'Anthropic document block (text/plain)', endpoint: 'messages', doc: (p) => claude({}, [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'text/plain', data: p } }, { type: 'text', text: 'sum' }] }]), path: ['messages', 0, 'content', 0, 'source', 'data'], encode: b64 },
    { name: 'Gemini inlineData (application/json)', endpoint: 'generate', doc: (p) => part({ inlineData: { mimeType: 'application/json', data: p } }), path: ['contents', 1, 'parts', 0, 'inlineData', 'data'], encode: b64 },
    { name: 'Gemini inline_data (proto names, text/csv, URL-safe alphabet kept)', endpoint: 'generate', doc: (p) => part({ inline_data: { mime_type: 'text/csv', data: p } }), path: ['contents', 1, 'parts', 0, 'inline_data', 'data'], encode: (t) => b64url(URLSAFE(t)), decode: (s) => {
      assert.match(s, /^[A-Za-z0-9_-]+=*$/, 'the URL-safe alphabet stays');
      return Buffer.from(s, 'base64url').toString('utf8');
    } },
  ];
  const plain = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

  for (const c of CASES) {
    it(`${c.name}: an email in the file is masked in its text and the payload re-encoded`, async () => {
      const payload = c.encode(FILE(EMAIL));
      const { state, out } = await run(f, c.endpoint, c.doc(payload));
      const body = replacedBody(asResponse(out), 'request_body');
      assert.ok(body !== undefined, 'the body is replaced');
      const got = at(JSON.parse(body.toString('utf8')), c.path);
      assert.equal(typeof got, 'string');
      const want = c.encode(FILE('<EMAIL_1>'));
      assert.equal((c.decode ?? plain)(String(got)), (c.decode ?? plain)(want), 'the decoded text has the placeholder');
      assert.ok(isInlineMedia(String(got)), 'still strict base64 (or a data: URL of it)');
      assert.ok(!body.toString('utf8').includes(EMAIL));
      assert.deepEqual(state.content.request, { EMAIL: 1 });
    });
  }

  it('a secret the policy blocks, in a text file, blocks the request', async () => {
    const akia = plantAwsKeyId();
    for (const c of CASES) {
      const d = asDenial((await run(f, c.endpoint, c.doc(c.encode(`[default]\naws_access_key_id = ${akia}\n`)))).out);
      assert.equal(d.code, 'content_blocked', c.name);
      assert.deepEqual(d.types, ['AWS_ACCESS_KEY'], c.name);
    }
  });

  it('binary payloads pass as media: a non-text type, or no declared type', async () => {
    const text = FILE(EMAIL);
    const docs: [keyof typeof PATHS, object][] = [
      ['chat', CASES[0]!.doc(`data:application/pdf;base64,${b64(text)}`)],
      ['chat', CASES[0]!.doc(b64(text))],
      ['generate', part({ inlineData: { mimeType: 'application/octet-stream', data: b64(text) } })],
    ];
    for (const [endpoint, doc] of docs) {
      const r = await run(f, endpoint, doc);
      assert.ok(!isDenial(r.out), JSON.stringify(doc).slice(0, 120));
      assert.equal(replacedBody(asResponse(r.out), 'request_body'), undefined, 'the body is not changed');
      assert.deepEqual(r.state.content.request, {});
    }
  });

  it('a card number written as a JSON number in tool input blocks (a number cannot be masked)', async () => {
    const docs: [keyof typeof PATHS, object][] = [
      ['messages', claude({}, [{ role: 'user', content: 'pay it' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'charge', input: { card_number: plantCardNumber(), amount: 1200 } }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok' }] }])],
      ['generate', part({ functionCall: { name: 'charge', args: { card: { number: plantCardNumber() } } } })],
    ];
    for (const [endpoint, doc] of docs) {
      const d = asDenial((await run(f, endpoint, doc)).out);
      assert.equal(d.code, 'content_blocked', endpoint);
      assert.deepEqual(d.types, ['CARD_NUMBER'], endpoint);
    }
  });

  it('generation parameters are not content: a large seed passes', async () => {
    const docs: [keyof typeof PATHS, object][] = [
      ['chat', chat({ seed: plantCardNumber(), max_tokens: 100_000_000 })],
      ['generate', { ...part({ text: 'ok' }), generationConfig: { seed: plantCardNumber(), maxOutputTokens: 256 } }],
    ];
    for (const [endpoint, doc] of docs) assert.ok(!isDenial((await run(f, endpoint, doc)).out), endpoint);
  });

  // Types SDKs set from a code file's, key's or e-mail's extension are text too (they were passed as media).
  const codeTypes: readonly [keyof typeof PATHS, string, (payload: string) => object][] = [
    ['generate', 'application/x-python-code', (p) => part({ inlineData: { mimeType: 'application/x-python-code', data: p } })],
    ['generate', 'application/x-typescript', (p) => part({ inline_data: { mime_type: 'application/x-typescript', data: p } })],
    ['chat', 'application/x-pem-file', (p) => CASES[0]!.doc(`data:application/x-pem-file;base64,${p}`)],
    ['messages', 'message/rfc822', (p) => claude({}, [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'message/rfc822', data: p } }] }])],
  ];
  for (const [endpoint, type, doc] of codeTypes) {
    it(`a file of type ${type} is read as text: a key in it blocks`, async () => {
      const akia = plantAwsKeyId();
      const d = asDenial((await run(f, endpoint, doc(b64(`# config\nAWS_ACCESS_KEY_ID = "${akia}"\n`)))).out);
      assert.equal(d.code, 'content_blocked', type);
      assert.deepEqual(d.types, ['AWS_ACCESS_KEY'], type);
    });
  }

  // A text type is read whatever its bytes: a Windows "Unicode" file (UTF-16 with a byte-order mark), UTF-16LE
  // without one, a Latin-1 / Windows-1252 file, or UTF-8 with one stray byte were skipped as binary before.
  const le = (t: string): Buffer => Buffer.from(t, 'utf16le');
  const encodings: readonly [string, (t: string) => Buffer, (b: Buffer) => string][] = [
    ['UTF-16LE with a byte-order mark', (t) => Buffer.concat([Buffer.from([0xff, 0xfe]), le(t)]), (b) => { assert.deepEqual([...b.subarray(0, 2)], [0xff, 0xfe]); return b.subarray(2).toString('utf16le'); }],
    ['UTF-16BE with a byte-order mark', (t) => Buffer.concat([Buffer.from([0xfe, 0xff]), le(t).swap16()]), (b) => { assert.deepEqual([...b.subarray(0, 2)], [0xfe, 0xff]); return Buffer.from(b.subarray(2)).swap16().toString('utf16le'); }],
    ['UTF-16LE without one', le, (b) => b.toString('utf16le')],
    ['Latin-1 (Müller, café)', (t) => Buffer.from(`# Müller's café\n${t}`, 'latin1'), (b) => b.toString('latin1').replace("# Müller's café\n", '')],
    ['UTF-8 with a stray byte', (t) => Buffer.concat([Buffer.from(t), Buffer.from([0xc3])]), (b) => b.subarray(0, b.length - 1).toString('utf8')],
  ];
  for (const [name, encode, decode] of encodings) {
    it(`a text file in ${name} is scanned: a key blocks, an email is masked and the file re-encoded the same way`, async () => {
      const akia = plantAwsKeyId();
      const blocked = asDenial((await run(f, 'messages', CASES[3]!.doc(b64(encode(`[default]\naws_access_key_id = ${akia}\n`))))).out);
      assert.deepEqual(blocked.types, ['AWS_ACCESS_KEY'], name);
      const r = await run(f, 'chat', CASES[0]!.doc(`data:text/plain;base64,${b64(encode(FILE(EMAIL)))}`));
      const body = replacedBody(asResponse(r.out), 'request_body');
      assert.ok(body !== undefined, 'the body is replaced');
      const got = String(at(JSON.parse(body.toString('utf8')), CASES[0]!.path));
      assert.ok(got.startsWith('data:text/plain;base64,'));
      assert.equal(decode(Buffer.from(got.slice(got.indexOf(',') + 1), 'base64')), FILE('<EMAIL_1>'));
      assert.ok(!body.toString('utf8').includes(EMAIL));
      assert.deepEqual(r.state.content.request, { EMAIL: 1 });
    });
  }

  it('a text file inside a protected subtree blocks instead of being re-encoded', async () => {
    const doc = responses({ input: [{ type: 'reasoning', id: 'rs_1', encrypted_content: 'gAAAA', content: [{ type: 'input_file', file_data: dataUrl('text/plain')(FILE(EMAIL)) }] }] });
    const d = asDenial((await run(f, 'responses', doc)).out);
    assert.equal(d.code, 'content_blocked');
    assert.deepEqual(d.types, ['EMAIL']);
  });

  it('decoded text counts toward dlp.limits.maxInputBytes: a text file over it is refused, the same bytes as an image pass', async () => {
    const big = `${'lorem ipsum dolor sit amet '.repeat(60)}\n`;
    const d = asDenial((await run(small, 'generate', part({ inlineData: { mimeType: 'text/plain', data: b64(big) } }))).out);
    assert.equal(d.code, 'scan_limit_exceeded');
    assert.ok(!isDenial((await run(small, 'generate', part({ inlineData: { mimeType: 'image/png', data: b64(big) } }))).out));
  });

  it('Bedrock Converse: a txt document is decoded and re-encoded, a pdf one is left as media', () => {
    const doc = (format: string, text: string) => ({ messages: [{ role: 'user', content: [{ document: { format, name: 'notes', source: { bytes: b64(text) } } }, { text: 'sum' }] }] });
    const txt = doc('txt', FILE(EMAIL));
    const segs = walkRequest(txt, CONVERSE_RULES, false).segments;
    const seg = segs.findIndex((s) => s.inline !== undefined);
    const found = segs[seg];
    assert.ok(found !== undefined);
    assert.equal(found.text, FILE(EMAIL));
    assert.deepEqual(found.path, ['messages', 0, 'content', 0, 'document', 'source', 'bytes']);
    const start = FILE('').length - '\nregion: eu-west-1\n'.length;
    const masked = maskBody(JSON.stringify(txt), segs, [{ detector: 'pii.email', type: 'EMAIL', start, end: start + EMAIL.length, segment: seg }]);
    assert.deepEqual(JSON.parse(masked.body.toString('utf8')), doc('txt', FILE('<EMAIL_1>')));
    assert.ok(!walkRequest(doc('pdf', FILE(EMAIL)), CONVERSE_RULES, false).segments.some((s) => s.text.includes(EMAIL)));
    assert.ok(!walkRequest(doc('constructor', FILE(EMAIL)), CONVERSE_RULES, false).segments.some((s) => s.text.includes(EMAIL)));
  });
});

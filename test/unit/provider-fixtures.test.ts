// Recorded provider bodies (test/fixtures/providers/) through the translators: model, segments with exact
// JSON paths, and usage from buffered bodies and from streams split at any byte. Recorded responses go through
// the response leaf walk production uses (processLeaves): every string leaf is scanned, and the known text of
// each (assistant content, tool calls) is maskable in place at its exact path.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { JsonPath, SegmentRole, TextSegment } from '../../extproc/core/content.ts';
import type { Usage } from '../../extproc/core/request-context.ts';
import type { TextDetector } from '../../extproc/detectors/detector.ts';
import { DEFAULT_SCAN_LIMITS } from '../../extproc/detectors/scan-limits.ts';
import { Scanner } from '../../extproc/detectors/scanner.ts';
import { createProviderKind, encodeEventStreamMessage, type ProviderKind, type RequestTranslator } from '../../extproc/providers/index.ts';
import { DEFAULT_MAX_DEPTH, parseStrictJson } from '../../extproc/providers/shared/strict-json.ts';
import { protectedFieldsFor } from '../../extproc/redactors/protected-fields.ts';
import { processLeaves } from '../../extproc/redactors/response-leaves.ts';
import { leakMark } from '../../extproc/redactors/stream-scanner.ts';

const FIXTURES = new URL('../fixtures/providers/', import.meta.url);
const file = (p: string): Buffer => readFileSync(new URL(p, FIXTURES));

type Seg = readonly [JsonPath, SegmentRole, string];
/** A response text at its exact path, and whether it is in a protected field (a finding there refuses the response). */
type Leaf = readonly [JsonPath, string] | readonly [JsonPath, string, 'protected'];
interface Case {
  readonly name: string;
  readonly kind: ProviderKind;
  readonly path: string;
  readonly query?: string;
  readonly request: string | Buffer;
  readonly model: string;
  readonly stream: boolean;
  readonly segments: readonly Seg[];
  readonly responses?: readonly { readonly file: string; readonly usage: Usage | undefined; readonly leaves?: readonly Leaf[] }[];
  readonly streams?: readonly { readonly file: string; readonly usage: Usage }[];
}

const u = (inputTokens: number, outputTokens: number, totalTokens: number): Usage => ({ inputTokens, outputTokens, totalTokens });

const CASES: readonly Case[] = [
  {
    name: 'OpenAI chat with tools', kind: 'openai', path: '/v1/chat/completions', request: 'openai/chat-tools-request.json', model: 'gpt-4o-mini', stream: true,
    segments: [
      [['messages', 0, 'content'], 'system', 'You are a terse assistant.'],
      [['messages', 1, 'content', 0, 'text'], 'user', 'What is the weather in Paris?'],
      [['messages', 2, 'tool_calls', 0, 'function', 'arguments'], 'tool_call', '{"city":"Paris"}'],
      [['messages', 3, 'content'], 'tool', '18C and sunny'],
    ],
    responses: [
      { file: 'openai/chat-tool-call-completion.json', usage: u(61, 15, 76), leaves: [[['choices', 0, 'message', 'tool_calls', 0, 'function', 'arguments'], '{"city":"Lyon"}']] },
      { file: 'openai/chat-completion.json', usage: u(19, 10, 29), leaves: [[['choices', 0, 'message', 'content'], 'Hello! How can I assist you today?']] },
      { file: 'openai/error-invalid-api-key.json', usage: undefined, leaves: [] },
    ],
    streams: [{ file: 'openai/chat-completion-stream.txt', usage: u(9, 1, 10) }],
  },
  {
    name: 'OpenAI Responses API', kind: 'openai', path: '/v1/responses', request: 'openai/responses-request.json', model: 'gpt-4.1', stream: true,
    segments: [
      [['instructions'], 'system', 'Answer in one sentence.'],
      [['input', 0, 'content', 0, 'text'], 'user', 'Tell me a story about a unicorn.'],
      [['input', 1, 'arguments'], 'tool_call', '{"q":"unicorns"}'],
      [['input', 2, 'output'], 'tool', 'Unicorns are mythical.'],
    ],
    responses: [{ file: 'openai/responses.json', usage: u(36, 87, 123), leaves: [[['output', 0, 'content', 0, 'text'], 'In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.']] }],
    streams: [{ file: 'openai/responses-stream.txt', usage: u(41, 5, 46) }],
  },
  {
    name: 'OpenAI embeddings', kind: 'openai', path: '/v1/embeddings', request: Buffer.from('{"model":"text-embedding-3-small","input":["first","second"]}'), model: 'text-embedding-3-small', stream: false,
    segments: [[['input', 0], 'user', 'first'], [['input', 1], 'user', 'second']],
    responses: [{ file: 'openai/embeddings.json', usage: u(8, 0, 8), leaves: [] }],
  },
  {
    name: 'Anthropic Messages with thinking, tool use and tool result', kind: 'anthropic', path: '/v1/messages', request: 'anthropic/messages-request.json', model: 'claude-sonnet-4-20250514', stream: true,
    segments: [
      [['system', 0, 'text'], 'system', 'You are a careful assistant.'],
      [['messages', 0, 'content'], 'user', 'Look up the order 1234.'],
      [['messages', 1, 'content', 2, 'text'], 'assistant', 'Let me check.'],
      [['messages', 1, 'content', 3, 'input', 'order_id'], 'tool_call', '1234'],
      [['messages', 1, 'content', 3, 'input', 'fields', 0], 'tool_call', 'status'],
      [['messages', 1, 'content', 3, 'input', 'fields', 1], 'tool_call', 'eta'],
      [['messages', 2, 'content', 0, 'content', 0, 'text'], 'tool', 'status=shipped eta=tomorrow'],
      [['messages', 2, 'content', 1, 'text'], 'user', 'Thanks. Summarise it.'],
    ],
    responses: [
      { file: 'anthropic/messages-tool-use.json', usage: u(350, 40, 390), leaves: [[['content', 1, 'text'], 'Checking the order.'], [['content', 2, 'input', 'order_id'], '5678', 'protected']] },
      { file: 'anthropic/messages.json', usage: u(2095, 503, 2598), leaves: [[['content', 0, 'text'], 'Hi! My name is Claude.']] },
      { file: 'anthropic/error-overloaded.json', usage: undefined },
      { file: 'anthropic/gateway-502.html', usage: undefined },
    ],
    streams: [{ file: 'anthropic/messages-stream.txt', usage: u(592, 15, 607) }],
  },
  {
    name: 'Azure OpenAI deployment chat', kind: 'azure-openai', path: '/openai/deployments/prod-gpt4o/chat/completions', query: 'api-version=2024-10-21', request: 'azure-openai/chat-request.json', model: 'prod-gpt4o', stream: false,
    segments: [[['messages', 0, 'content'], 'system', 'You are helpful.'], [['messages', 1, 'content'], 'user', 'Hello from Azure.']],
    responses: [{ file: 'azure-openai/chat-completion.json', usage: u(18, 7, 25), leaves: [[['choices', 0, 'message', 'content'], 'Hello! How can I help?']] }],
    streams: [{ file: 'azure-openai/chat-stream.txt', usage: u(18, 6, 24) }],
  },
  {
    name: 'Bedrock Converse', kind: 'bedrock', path: '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse', request: 'bedrock/converse-request.json', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', stream: false,
    segments: [
      [['system', 0, 'text'], 'system', 'You are an assistant for a shop.'],
      [['messages', 0, 'content', 0, 'text'], 'user', 'Where is order 42?'],
      [['messages', 1, 'content', 1, 'toolUse', 'input', 'id'], 'tool_call', '42'],
      [['messages', 2, 'content', 0, 'toolResult', 'content', 0, 'text'], 'tool', 'in transit'],
      [['messages', 2, 'content', 0, 'toolResult', 'content', 1, 'json', 'carrier'], 'tool', 'DHL'],
      [['messages', 2, 'content', 1, 'guardContent', 'text', 'text'], 'user', 'Check this answer.'],
    ],
    responses: [{
      file: 'bedrock/converse-response.json', usage: u(125, 60, 185),
      leaves: [[['output', 'message', 'content', 0, 'text'], 'Order 42 is in transit with DHL.'], [['output', 'message', 'content', 1, 'toolUse', 'input', 'channel'], 'email']],
    }],
  },
  {
    name: 'Bedrock ConverseStream', kind: 'bedrock', path: '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream', request: 'bedrock/converse-request.json', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0', stream: true,
    segments: [], streams: [{ file: 'bedrock/converse-stream.events.json', usage: u(125, 9, 134) }],
  },
  {
    name: 'Bedrock InvokeModel (Claude body)', kind: 'bedrock', path: '/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke', request: 'bedrock/invoke-request.json', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', stream: false,
    segments: [[['system'], 'system', 'Be brief.'], [['messages', 0, 'content', 0, 'text'], 'user', 'Name a colour.']],
    responses: [{ file: 'bedrock/invoke-response.json', usage: u(14, 4, 18), leaves: [[['content', 0, 'text'], 'Blue.']] }],
  },
  {
    name: 'Bedrock InvokeModelWithResponseStream', kind: 'bedrock', path: '/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke-with-response-stream', request: 'bedrock/invoke-request.json', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', stream: true,
    segments: [], streams: [{ file: 'bedrock/invoke-stream.events.json', usage: u(14, 5, 19) }],
  },
  {
    name: 'Vertex generateContent', kind: 'vertex', path: '/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:generateContent', request: 'vertex/generate-request.json', model: 'gemini-2.0-flash-001', stream: false,
    segments: [
      [['systemInstruction', 'parts', 0, 'text'], 'system', 'Reply in French.'],
      [['contents', 0, 'parts', 0, 'text'], 'user', 'What is the capital of Italy?'],
      [['contents', 1, 'parts', 1, 'functionCall', 'args', 'country'], 'tool_call', 'Italy'],
      [['contents', 2, 'parts', 0, 'functionResponse', 'response', 'capital'], 'tool', 'Rome'],
    ],
    responses: [{ file: 'vertex/generate-response.json', usage: u(24, 12, 36), leaves: [[['candidates', 0, 'content', 'parts', 0, 'text'], "La capitale de l'Italie est Rome."]] }],
  },
  {
    name: 'Vertex streamGenerateContent', kind: 'vertex', path: '/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:streamGenerateContent', query: 'alt=sse', request: 'vertex/generate-request.json', model: 'gemini-2.0-flash-001', stream: true,
    segments: [],
    responses: [{ file: 'vertex/stream-array.json', usage: u(24, 8, 32), leaves: [[[0, 'candidates', 0, 'content', 'parts', 0, 'text'], 'La capitale'], [[1, 'candidates', 0, 'content', 'parts', 0, 'text'], ' est Rome.']] }],
    streams: [{ file: 'vertex/stream-sse.txt', usage: u(24, 8, 32) }],
  },
  {
    name: 'Gemini API generateContent', kind: 'vertex', path: '/v1beta/models/gemini-2.5-flash:generateContent', request: 'vertex/generate-request.json', model: 'gemini-2.5-flash', stream: false, segments: [],
  },
  {
    name: 'Ollama native chat', kind: 'openai-compatible', path: '/api/chat', request: 'openai-compatible/ollama-chat-request.json', model: 'llama3.1:8b', stream: false,
    segments: [[['messages', 0, 'content'], 'system', 'Be kind.'], [['messages', 1, 'content'], 'user', 'Hello, Ollama.']],
  },
  {
    name: 'vLLM chat', kind: 'openai-compatible', path: '/v1/chat/completions', request: Buffer.from('{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"user","content":"hi"}]}'), model: 'meta-llama/Llama-3.1-8B-Instruct', stream: false,
    segments: [[['messages', 0, 'content'], 'user', 'hi']],
    responses: [{ file: 'openai-compatible/vllm-chat-completion.json', usage: u(12, 4, 16), leaves: [[['choices', 0, 'message', 'content'], 'Hi there.']] }],
  },
];

const UPSTREAM: Record<ProviderKind, string> = {
  openai: 'https://api.openai.com', 'openai-compatible': 'http://127.0.0.1:11434', anthropic: 'https://api.anthropic.com',
  'azure-openai': 'https://res.openai.azure.com', bedrock: 'https://bedrock-runtime.us-east-1.amazonaws.com', vertex: 'https://us-central1-aiplatform.googleapis.com',
  mcp: 'http://127.0.0.1:3000',
};

function translator(c: Case): RequestTranslator {
  const kind = createProviderKind(c.kind, { upstream: new URL(UPSTREAM[c.kind]), region: 'us-east-1' });
  return kind.newRequest({ method: 'POST', path: c.path, query: c.query ?? '', headers: new Map([['content-type', 'application/json']]) });
}

function at(doc: unknown, path: JsonPath): unknown {
  let v = doc;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

function stringLeaves(v: unknown, path: JsonPath): { path: JsonPath }[] {
  if (typeof v === 'string') return v === '' ? [] : [{ path }];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringLeaves(x, [...path, i]));
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => stringLeaves(x, [...path, k]));
  return [];
}

function keysOf(v: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(v)) for (const x of v) keysOf(x, into);
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) { into.add(k); keysOf(x, into); }
  return into;
}

const asTriples = (segs: readonly TextSegment[]): Seg[] => segs.map((s) => [s.path, s.role, s.text]);

function leafTexts(v: unknown, into: string[]): string[] {
  if (typeof v === 'string') into.push(v);
  else if (Array.isArray(v)) for (const x of v) leafTexts(x, into);
  else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) leafTexts(x, into);
  return into;
}

/** A real scanner whose one detector flags exactly `texts` (whole) and records every text it is given. */
function flagging(texts: ReadonlySet<string>, seen: string[]): Scanner {
  const detector: TextDetector = {
    kind: 'text', id: 'test.recorded_text', type: 'RECORDED', maxLength: 1 << 20,
    scanText(text, report) {
      seen.push(text);
      if (texts.has(text)) report(0, text.length);
    },
  };
  return new Scanner([detector], { limits: DEFAULT_SCAN_LIMITS });
}

/**
 * A recorded response as production scans it (processLeaves with the kind's protected fields): every string leaf
 * is scanned; a finding in a listed text masks it at its exact path and changes nothing else, or, in a protected
 * field, refuses the response and changes nothing.
 */
function assertLeaves(kind: ProviderKind, body: Buffer, want: readonly Leaf[]): void {
  const parse = (): unknown => parseStrictJson(body, DEFAULT_MAX_DEPTH, 'allow');
  const isProtected = protectedFieldsFor(kind);
  const seen: string[] = [];
  const whole = parse();
  processLeaves(whole, { scanner: flagging(new Set(), seen), isProtected, tokenLists: true });
  assert.deepEqual(seen.toSorted(), leafTexts(whole, []).toSorted(), 'every string leaf is scanned');
  for (const [path, text, prot] of want) {
    const doc = parse();
    assert.equal(at(doc, path), text, `${JSON.stringify(path)} holds ${JSON.stringify(text)}`);
    const expected = structuredClone(doc);
    if (prot === undefined) (at(expected, path.slice(0, -1)) as Record<string | number, unknown>)[path.at(-1) ?? ''] = leakMark('RECORDED');
    const r = processLeaves(doc, { scanner: flagging(new Set([text]), []), isProtected, tokenLists: true });
    assert.equal(r.blocked !== undefined, prot === 'protected', `a finding in ${JSON.stringify(path)} ${prot === undefined ? 'is masked' : 'refuses the response'}`);
    assert.deepEqual(doc, expected);
  }
}

/** Bedrock event lists become AWS event-stream frames; SSE transcripts stay as they are. */
function streamBytes(name: string): Buffer {
  if (!name.endsWith('.events.json')) return file(name);
  const events = JSON.parse(file(name).toString('utf8')) as { event: string; payload?: unknown; inner?: unknown }[];
  return Buffer.concat(events.map((e) => {
    const payload = e.inner === undefined ? e.payload : { bytes: Buffer.from(JSON.stringify(e.inner)).toString('base64') };
    return encodeEventStreamMessage({ ':message-type': 'event', ':event-type': e.event, ':content-type': 'application/json' }, Buffer.from(JSON.stringify(payload)));
  }));
}

function chunked(bytes: Buffer, size: number | 'random'): Buffer[] {
  const out: Buffer[] = [];
  let seed = 7;
  for (let i = 0; i < bytes.length;) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const n = size === 'random' ? 1 + (seed % 97) : size;
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

for (const c of CASES) {
  describe(`fixture: ${c.name}`, () => {
    it(`reports model ${c.model}, stream ${c.stream}`, () => {
      const t = translator(c);
      const doc = t.parseBody(typeof c.request === 'string' ? file(c.request) : c.request);
      assert.equal(t.model, c.model);
      assert.equal(t.stream, c.stream);
      assert.ok(doc !== undefined);
      const values = t.segments().filter((s) => s.key !== true);
      // The format's known text is there with its role, in order...
      const triples = asTriples(values).map((x) => JSON.stringify(x));
      let from = 0;
      for (const want of c.segments) {
        const k = triples.indexOf(JSON.stringify(want), from);
        assert.ok(k >= 0, `segment ${JSON.stringify(want)} is listed in order`);
        from = k + 1;
      }
      for (const s of values) assert.equal(at(doc, s.path), s.text, `segment path ${JSON.stringify(s.path)} locates its text`);
      // ...and so is every other string (scan by default): each value, the body's model too (protected), each
      // key once.
      for (const s of values) if (JSON.stringify(s.path) === '["model"]') assert.equal(s.protected, true, 'the body\'s model is protected');
      assert.deepEqual(values.map((s) => JSON.stringify(s.path)), stringLeaves(doc, []).map((l) => JSON.stringify(l.path)));
      assert.deepEqual(new Set(t.segments().filter((s) => s.key === true).map((s) => s.text)), keysOf(doc, new Set()));
    });
    for (const r of c.responses ?? []) {
      it(`${r.file}: usage ${JSON.stringify(r.usage)}`, () => {
        const t = translator(c);
        t.parseBody(typeof c.request === 'string' ? file(c.request) : c.request);
        const meter = t.usageMeter();
        meter.onBody(file(r.file));
        assert.deepEqual(meter.usage(), r.usage);
        if (r.leaves !== undefined) assertLeaves(c.kind, file(r.file), r.leaves);
      });
    }
    for (const s of c.streams ?? []) {
      for (const size of [1_000_000, 1, 2, 3, 'random'] as const) {
        it(`${s.file} in chunks of ${size}: usage ${JSON.stringify(s.usage)}`, () => {
          const t = translator(c);
          t.parseBody(typeof c.request === 'string' ? file(c.request) : c.request);
          const meter = t.usageMeter();
          for (const chunk of chunked(streamBytes(s.file), size)) meter.onSseChunk(chunk);
          assert.deepEqual(meter.usage(), s.usage);
        });
      }
    }
  });
}

describe('signed content is protected: scanned, never masked', () => {
  it('Anthropic thinking and redacted_thinking, Gemini thought parts, Bedrock reasoningContent and Responses reasoning items', () => {
    const segs = CASES.flatMap((c) => {
      const t = translator(c);
      t.parseBody(typeof c.request === 'string' ? file(c.request) : c.request);
      return t.segments();
    });
    for (const signed of ['The user wants order details.', 'EmwKAhgBEgy-redacted', 'EqQBCgIYAhIM-signed', 'Rome, obviously.', 'Need the order tool.', 'sig-opaque', 'gAAAAB-opaque']) {
      const found = segs.filter((s) => s.text === signed);
      assert.ok(found.length > 0, `signed content is scanned: ${signed}`);
      for (const s of found) assert.equal(s.protected, true, `signed content is protected: ${signed}`);
    }
    assert.ok(segs.some((s) => s.text === 'Let me check.' && s.protected === undefined), 'ordinary text is not protected');
  });
});

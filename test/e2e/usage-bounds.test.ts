// Budgets and token limits as upper bounds, and denials clients behave on, through a real Envoy with a
// recording upstream: a stream without usage keeps its reservation (M5), reservations multiply by the number
// of outputs and read nested caps, a request with no cap reserves the catalog's maximum (or is refused),
// parallel requests never overshoot a budget (M6), a client that closes at [DONE] leaves a completed record
// with the usage seen, and denials carry `request-id` and `x-should-retry` as the OpenAI and Anthropic SDKs read them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { jsonResponse, startContentStack, type ChunkedResponse, type ContentStack, type SeenRequest } from '../helpers/content-stack.ts';
import { eventually } from '../helpers/stack.ts';
import { awaitRecord } from '../helpers/assertions.ts';

const IDS = ['m5-agent', 'n-agent', 'gem-agent', 'par-agent', 'done-agent', 'rl-agent'] as const;
type Id = (typeof IDS)[number];
const KEYS: Record<Id, string> = Object.fromEntries(IDS.map((id) => [id, mintApiKey()])) as Record<Id, string>;

const PAR_LIMIT = 20_000;
const GEMINI_MAX = 1_000;
const MINI_MAX = 500;
const GEMINI_PATH = '/gemini/v1beta/models/gemini-2.5-flash:generateContent';

type Json = Record<string, unknown>;
const sse = (doc: unknown): string => `data: ${JSON.stringify(doc)}\n\n`;

/**
 * The upstream: OpenAI chat (buffered, with usage unless the prompt says "no-usage"; streamed like OpenAI's
 * default, without usage unless stream_options.include_usage; model gpt-4o-linger ends its response 3 s after
 * [DONE]) and Gemini generateContent (generates its full cap for every candidate, and reports it).
 */
function respond(req: SeenRequest): ChunkedResponse {
  const doc = JSON.parse(req.body.toString('utf8')) as Json;
  const noUsage = req.body.toString('utf8').includes('no-usage');
  if (req.path.includes(':generateContent')) {
    const cfg = (doc.generationConfig ?? {}) as Json;
    const count = typeof cfg.candidateCount === 'number' ? cfg.candidateCount : 1;
    const out = count * (typeof cfg.maxOutputTokens === 'number' ? Math.min(cfg.maxOutputTokens, GEMINI_MAX) : GEMINI_MAX);
    const candidates = Array.from({ length: count }, (_, i) => ({ index: i, content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }));
    return jsonResponse({ candidates, ...(noUsage ? {} : { usageMetadata: { promptTokenCount: 10, candidatesTokenCount: out, totalTokenCount: 10 + out } }) });
  }
  const model = String(doc.model);
  if (doc.stream === true) {
    const chunk = (delta: object, finish: string | null): string => sse({ id: 'c1', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }] });
    const withUsage = (doc.stream_options as Json | undefined)?.include_usage === true;
    const parts: (string | number)[] = [chunk({ role: 'assistant', content: 'hello' }, null), chunk({}, 'stop')];
    if (withUsage) parts.push(sse({ id: 'c1', object: 'chat.completion.chunk', model, choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } }));
    parts.push('data: [DONE]\n\n');
    if (model === 'gpt-4o-linger') parts.push(3_000);
    return { status: 200, headers: { 'content-type': 'text/event-stream' }, parts };
  }
  return jsonResponse({
    id: 'c1', object: 'chat.completion', model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    ...(noUsage ? {} : { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }),
  });
}

function tweak(c: ConfigInput): ConfigInput {
  const openai = c.providers[0];
  assert.ok(openai !== undefined);
  const only = (id: Id): string[] => [id];
  return {
    ...c,
    providers: [...c.providers, { ...openai, name: 'gemini', kind: 'vertex', upstream: openai.upstream.replace(/\/v1$/, ''), models: ['gemini-*'] }],
    identities: [...c.identities, ...IDS.map((id) => ({ id, tenant: 'bounds', apiKeyHashes: [hashApiKey(KEYS[id])], allow: [{ provider: 'openai' }, { provider: 'gemini' }] }))],
    prices: [{ provider: 'openai', model: 'gpt-4o-mini', maxOutputTokens: MINI_MAX }, { provider: 'gemini', model: 'gemini-*', maxOutputTokens: GEMINI_MAX }],
    rateLimits: [
      { name: 'm5-tpm', per: 'identity', unit: 'tokens', limit: 300, window: '1h', only: only('m5-agent') },
      { name: 'rl-rpm', per: 'identity', unit: 'requests', limit: 1, window: '10s', only: only('rl-agent') },
    ],
    budgets: [
      { name: 'n-tokens', per: 'identity', metric: 'tokens', limit: 1_000, window: '30d', only: only('n-agent') },
      { name: 'gem-tokens', per: 'identity', metric: 'tokens', limit: 1_000_000, window: '30d', only: only('gem-agent') },
      { name: 'par-tokens', per: 'identity', metric: 'tokens', limit: PAR_LIMIT, window: '30d', only: only('par-agent') },
      { name: 'done-tokens', per: 'identity', metric: 'tokens', limit: 1_000_000, window: '30d', only: only('done-agent') },
    ],
  };
}

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

describe('budgets and token limits as upper bounds, through a real Envoy', () => {
  let stack: ContentStack;
  before(async () => { stack = await startContentStack({ cloud: respond, tweak }); });
  after(async () => { await stack.stop(); });

  const post = async (id: Id | 'nobody', path: string, body: Json): Promise<Reply> => {
    const key = id === 'nobody' ? stack.keys.noProviders : KEYS[id];
    const res = await fetch(stack.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const chat = (content: string, extra: Json = {}): Json => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
  const code = (r: Reply): string | undefined => (JSON.parse(r.text) as { error?: { code?: string } }).error?.code;
  const recordOf = async (r: Reply): Promise<AuditRecord> => {
    const id = r.headers.get('x-request-id');
    const rec = await awaitRecord(stack, id);
    return rec;
  };
  const inputOf = (body: Json): number => Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4);

  it('M5: streams without usage keep their reservation: 12 streams against a 300-token limit admit 2 (each reserves ~130)', async () => {
    const body = chat('count me', { stream: true, max_tokens: 100 });
    const reservation = inputOf(body) + 100;
    const want = Math.floor(300 / reservation);
    assert.equal(want, 2);
    const before = stack.cloud.requests.length;
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await post('m5-agent', '/openai/chat/completions', body)).status);
    assert.deepEqual(statuses, [...Array<number>(want).fill(200), ...Array<number>(12 - want).fill(429)]);
    assert.equal(stack.cloud.requests.length - before, want, 'only the admitted streams reached the upstream');
    await eventually(() => stack.audit().filter((a) => a.identity === 'm5-agent').length === 12);
    const done = stack.audit().filter((a) => a.identity === 'm5-agent' && a.outcome === 'completed');
    assert.equal(done.length, want);
    for (const rec of done) assert.deepEqual(rec.usage, { input_tokens: inputOf(body), output_tokens: 100, total_tokens: reservation, estimated: true }, 'the record says the reservation stood');
  });

  it('M6: n=4 reserves four outputs; without reported usage the reservation stands and the next request is refused', async () => {
    const body = chat('no-usage please', { max_tokens: 200, n: 4 });
    const first = await post('n-agent', '/openai/chat/completions', body);
    assert.equal(first.status, 200, first.text);
    const rec = await recordOf(first);
    assert.deepEqual(rec.usage, { input_tokens: inputOf(body), output_tokens: 800, total_tokens: inputOf(body) + 800, estimated: true });
    const before = stack.cloud.requests.length;
    const second = await post('n-agent', '/openai/chat/completions', body);
    assert.equal(second.status, 429);
    assert.equal(code(second), 'budget_exceeded');
    assert.equal(stack.cloud.requests.length, before, 'the refused request never reached the upstream');
  });

  it('M6: Gemini reads the nested cap and candidateCount; a cap above the catalog maximum is clamped; no cap reserves the maximum', async () => {
    const gem = (generationConfig: Json | undefined): Json => ({ contents: [{ role: 'user', parts: [{ text: 'no-usage' }] }], ...(generationConfig === undefined ? {} : { generationConfig }) });
    const cases: readonly [Json | undefined, number][] = [
      [{ maxOutputTokens: 300, candidateCount: 2 }, 600],
      [{ maxOutputTokens: 100_000 }, GEMINI_MAX],
      [undefined, GEMINI_MAX],
    ];
    for (const [cfg, output] of cases) {
      const body = gem(cfg);
      const r = await post('gem-agent', GEMINI_PATH, body);
      assert.equal(r.status, 200, r.text);
      const rec = await recordOf(r);
      assert.deepEqual(rec.usage, { input_tokens: inputOf(body), output_tokens: output, total_tokens: inputOf(body) + output, estimated: true }, JSON.stringify(cfg));
    }
  });

  it('a request with no cap for a model the catalog has no maximum for is refused (400 output_cap_required), never guessed', async () => {
    const before = stack.cloud.requests.length;
    const r = await post('n-agent', '/openai/chat/completions', { ...chat('hi'), model: 'gpt-4o' });
    assert.equal(r.status, 400);
    assert.equal(code(r), 'output_cap_required');
    assert.equal(r.headers.get('x-should-retry'), 'false');
    assert.equal(stack.cloud.requests.length, before);
  });

  it('M6: 20 parallel Gemini requests with candidateCount 8 never charge more than the budget', async () => {
    const body = { contents: [{ role: 'user', parts: [{ text: 'parallel' }] }], generationConfig: { maxOutputTokens: GEMINI_MAX, candidateCount: 8 } };
    const reservation = inputOf(body) + 8 * GEMINI_MAX;
    const before = stack.cloud.requests.length;
    const replies = await Promise.all(Array.from({ length: 20 }, () => post('par-agent', GEMINI_PATH, body)));
    const admitted = replies.filter((r) => r.status === 200).length;
    assert.equal(admitted + replies.filter((r) => r.status === 429).length, 20, replies.map((r) => r.status).join(','));
    assert.ok(admitted >= 1 && admitted <= Math.floor(PAR_LIMIT / reservation), `admitted ${String(admitted)}`);
    assert.equal(stack.cloud.requests.length - before, admitted);
    await eventually(() => stack.audit().filter((a) => a.identity === 'par-agent').length === 20);
    const charged = stack.audit().filter((a) => a.identity === 'par-agent').reduce((sum, a) => sum + (a.usage?.total_tokens ?? 0), 0);
    assert.ok(charged <= PAR_LIMIT, `charged ${String(charged)} of ${String(PAR_LIMIT)}`);
  });

  it('a client that closes at [DONE] before the upstream ends: the record is completed, with the usage seen', async () => {
    const controller = new AbortController();
    const body = chat('stream then close', { model: 'gpt-4o-linger', stream: true, stream_options: { include_usage: true }, max_tokens: 50 });
    const res = await fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS['done-agent']}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal });
    assert.equal(res.status, 200);
    const requestId = res.headers.get('x-request-id');
    assert.ok(res.body !== null);
    let seen = '';
    for await (const part of res.body as AsyncIterable<Uint8Array>) {
      seen += Buffer.from(part).toString('utf8');
      if (seen.includes('data: [DONE]')) break;
    }
    assert.ok(seen.includes('data: [DONE]'), 'the client saw [DONE]');
    controller.abort(); // what the OpenAI SDKs do at [DONE]
    const rec = await awaitRecord(stack, requestId);
    assert.equal(rec.outcome, 'completed');
    assert.equal(rec.reason, null);
    assert.deepEqual(rec.usage, { input_tokens: 5, output_tokens: 7, total_tokens: 12 }, 'the usage event that passed before [DONE]');
  });

  it('denials carry request-id (as x-request-id) and x-should-retry as the SDKs read them', async () => {
    // ext_authz: a policy denial.
    const authz = await post('nobody', '/openai/chat/completions', chat('hi', { max_tokens: 5 }));
    assert.equal(authz.status, 403);
    assert.equal(code(authz), 'provider_forbidden');
    assert.ok((authz.headers.get('x-request-id') ?? '') !== '');
    assert.equal(authz.headers.get('request-id'), authz.headers.get('x-request-id'));
    assert.equal(authz.headers.get('x-should-retry'), 'false');
    assert.equal(authz.headers.get('retry-after'), null);

    // ext_proc: an exhausted budget whose window ends in days: do not retry, and no retry-after to sleep on.
    const budget = await post('n-agent', '/openai/chat/completions', chat('no-usage', { max_tokens: 200, n: 4 }));
    assert.equal(code(budget), 'budget_exceeded');
    assert.equal(budget.headers.get('request-id'), budget.headers.get('x-request-id'));
    assert.equal(budget.headers.get('x-should-retry'), 'false');
    assert.equal(budget.headers.get('retry-after'), null);
    assert.ok(Number(budget.headers.get('x-tollgate-retry-after')) > 60, 'the wait, where no SDK acts on it');

    // ext_proc: a short rate-limit window: retry, after retry-after.
    assert.equal((await post('rl-agent', '/openai/chat/completions', chat('hi', { max_tokens: 5 }))).status, 200);
    const limited = await post('rl-agent', '/openai/chat/completions', chat('hi', { max_tokens: 5 }));
    assert.equal(code(limited), 'rate_limited');
    assert.equal(limited.headers.get('request-id'), limited.headers.get('x-request-id'));
    assert.equal(limited.headers.get('x-should-retry'), 'true');
    const wait = Number(limited.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 60, `retry-after ${String(wait)}`);
  });

  it('no output of any process contains a caller key or a provider key', () => {
    const out = stack.allOutput();
    for (const s of [...Object.values(KEYS), stack.cloudKey]) assert.ok(!out.includes(s), 'a planted key leaked');
  });
});

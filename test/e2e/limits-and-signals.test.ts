// Issue 14, items 3 and 4, through two Tollgate replicas on one real Redis behind one real Envoy (Check
// and the ext_proc stream of one request often land on different replicas).
// Limits on every request: a request without a body (GET /models) is decided in full by ext_authz,
// which also injects its credential, so its usage controls run there: a request rate limit counts POSTs
// and GETs together and refuses a GET with the body path's 429 and headers, nothing upstream; the
// anomaly baseline counts GETs; the GET's audit record names the credential ext_authz injected.
// Signals an operator can use: a provider's 401 is `upstream_status_class: 4xx` in the record and the
// request counter; tokens carry `model`; Node's process metrics have their standard names; a Check
// latency histogram; Redis lost and back are one line each with the cause; a failed request is one log
// line naming identity, tenant, provider and decision id, without a stack, and no secret.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openAiResponder } from '../../extproc/dev/fake-upstream.ts';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { parseErrorBody } from '../contract/helpers/messages.ts';
import { startReplicas, type ReplicaStack } from '../helpers/replicas.ts';
import { redisAvailable } from '../helpers/redis.ts';
import { oneRecordEach } from '../helpers/assertions.ts';

const RATE_LIMIT = 4;
const WARMUP = 3;
const TAG = randomBytes(6).toString('hex');
const watchKey = mintApiKey();

const chatBody = (marker: string): string => JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content: `hello ${marker}` }] });

describe('requests without a body meet the usage controls, across replicas', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  let stack: ReplicaStack;
  const modelsUpstream = (): number => stack.upstream.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/models')).length;

  const send = async (key: string, method: 'GET' | 'POST', marker: string): Promise<{ status: number; headers: Headers; body: string; requestId: string }> => {
    const res = method === 'GET'
      ? await fetch(`${stack.url}/openai/models`, { headers: { authorization: `Bearer ${key}` } })
      : await fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: chatBody(marker) });
    return { status: res.status, headers: res.headers, body: await res.text(), requestId: res.headers.get('x-request-id') ?? '' };
  };
  /** Each request id's one audit record (written when its response ends, on whichever replica). */
  const records = (ids: readonly string[]): Promise<AuditRecord[]> => oneRecordEach(() => stack.audit(), ids);

  before(async () => {
    stack = await startReplicas({
      // A request whose prompt says so gets the provider's 401 (a rotated or revoked key).
      respond: (providerKey) => {
        const ok = openAiResponder(providerKey);
        return (req) => req.body.toString('utf8').includes('answer-401')
          ? { status: 401, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' } }) }
          : ok(req);
      },
      tweak: (c) => ({
        ...c,
        identities: [...c.identities, { id: 'watch-1', tenant: 'team-w', apiKeyHashes: [hashApiKey(watchKey)], allow: [{ provider: 'openai' }] }],
        rateLimits: [{ name: 'agent-rpm', per: 'identity', unit: 'requests', limit: RATE_LIMIT, window: '1h', only: ['agent-1'] }],
        anomaly: { enabled: true, warmupRequests: WARMUP, promptSpikeFactor: 10, promptSpikeMinBytes: 1024, warmupBuckets: 100_000 },
      }),
    });
  });
  after(async () => { await stack.stop(); });

  it('an identity throttled on POST is throttled on GET /models: the same 429, headers and audit, nothing upstream', async () => {
    const replies = [];
    for (let i = 0; i < RATE_LIMIT; i++) replies.push(await send(stack.keys.agent, i % 2 === 0 ? 'POST' : 'GET', `rl-${TAG}-${i}`));
    assert.deepEqual(replies.map((r) => r.status), Array(RATE_LIMIT).fill(200));
    const listed = modelsUpstream();
    assert.equal(listed, RATE_LIMIT / 2);

    const refused = await send(stack.keys.agent, 'GET', `rl-${TAG}-get`);
    assert.equal(refused.status, 429, refused.body);
    assert.equal(parseErrorBody(refused.body).error.code, 'rate_limited');
    // A 1 h window's wait is longer than a client should sleep: the body path's headers, x-should-retry false.
    const wait = Number(refused.headers.get('x-tollgate-retry-after'));
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 7200, `x-tollgate-retry-after ${String(refused.headers.get('x-tollgate-retry-after'))}`);
    assert.equal(refused.headers.get('x-should-retry'), 'false');
    assert.ok((refused.headers.get('x-tollgate-decision-id') ?? '') !== '');
    assert.equal(modelsUpstream(), listed, 'the refused GET reached the provider');
    // The POST path refuses too: the GETs counted against the same limit.
    const post = await send(stack.keys.agent, 'POST', `rl-${TAG}-post`);
    assert.equal(post.status, 429);
    assert.equal(stack.upstream.requests.filter((r) => r.body.toString('utf8').includes(`rl-${TAG}-post`)).length, 0);

    const rec = (await records([refused.requestId]))[0]!;
    assert.equal(rec.stage, 'authz');
    assert.equal(rec.reason, 'rate_limited');
    assert.equal(rec.rule, 'rateLimits');
    assert.equal(rec.identity, 'agent-1');
    assert.equal(rec.provider, 'openai');
  });

  it('the anomaly baseline counts GETs, and their audit record names the credential ext_authz injected', async () => {
    const warm = [];
    for (let i = 0; i < WARMUP; i++) warm.push(await send(watchKey, 'POST', `an-${TAG}-${i}`));
    assert.deepEqual(warm.map((r) => r.status), Array(WARMUP).fill(200));
    const first = await send(watchKey, 'GET', `an-${TAG}-get`);
    const again = await send(watchKey, 'GET', `an-${TAG}-get2`);
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    const recs = await records([first.requestId, again.requestId]);
    const rFirst = recs[0]!;
    const rAgain = recs[1]!;
    assert.equal(rFirst.stage, 'proc');
    assert.equal(rFirst.outcome, 'completed');
    // ext_authz injected the key: the record (written by ext_proc, maybe on the other replica) names it.
    for (const r of [rFirst, rAgain]) {
      assert.ok(r.credential !== null, 'a GET record names its credential');
      assert.match(r.credential.source, /^file:/);
    }
    // The first list after warm-up is a new endpoint for this identity; the second is not.
    assert.deepEqual(rFirst.anomaly_flags, ['first_endpoint']);
    assert.deepEqual(rAgain.anomaly_flags, []);
    // The metadata only: the key itself is in no record.
    assert.ok(!JSON.stringify(stack.audit()).includes(stack.providerKey));
  });

  const metrics = async (): Promise<string[]> => Promise.all(stack.replicas.map((r) => fetch(`http://127.0.0.1:${r.adminPort}/metrics`).then((x) => x.text())));
  /** The sum over replicas of every sample of `name` whose labels include all of `labels`. */
  const sample = (texts: readonly string[], name: string, labels: Readonly<Record<string, string>>): number => {
    let sum = 0;
    for (const text of texts) {
      for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
        const have = m[1] ?? '';
        if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(m[2]);
      }
    }
    return sum;
  };

  it("a provider's 401 is 4xx in the record and the request counter, not plain success; tokens carry the model; standard process metrics; a Check histogram", async () => {
    const before = sample(await metrics(), 'tollgate_requests_total', { outcome: 'completed', upstream_status_class: '4xx' });
    const refused = await send(stack.keys.restricted, 'POST', `answer-401 ${TAG}`);
    const fine = await send(stack.keys.restricted, 'POST', `fine-${TAG}`);
    assert.equal(refused.status, 401);
    assert.equal(fine.status, 200);
    const recs = await records([refused.requestId, fine.requestId]);
    const r401 = recs[0]!;
    const r200 = recs[1]!;
    assert.equal(r401.schema, 'tollgate.audit.v3');
    // `authenticated` is provenance (the authz context verified); what the provider said is the status class.
    assert.deepEqual([r401.outcome, r401.http_status, r401.upstream_status_class, r401.authenticated], ['completed', 401, '4xx', true]);
    assert.deepEqual([r200.outcome, r200.http_status, r200.upstream_status_class], ['completed', 200, '2xx']);
    const texts = await metrics();
    assert.equal(sample(texts, 'tollgate_requests_total', { outcome: 'completed', upstream_status_class: '4xx' }) - before, 1);
    assert.ok(sample(texts, 'tollgate_requests_total', { outcome: 'completed', upstream_status_class: '2xx' }) >= 1);
    assert.ok(sample(texts, 'tollgate_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', direction: 'input' }) > 0, 'tokens by model');
    assert.ok(sample(texts, 'tollgate_authz_check_seconds_count', { decision: 'allow' }) >= 1, 'Check latency histogram');
    assert.ok(sample(texts, 'tollgate_authz_check_seconds_count', { decision: 'deny' }) >= 1);
    for (const t of texts) {
      assert.match(t, /^process_cpu_seconds_total /m);
      assert.match(t, /^nodejs_heap_size_used_bytes /m);
      assert.doesNotMatch(t, /^tollgate_(process|nodejs)_/m);
    }
  });

  it('Redis lost and back: one line each with the cause; each failed request one line with identity, tenant, provider and decision id, no stack, no secret', async () => {
    const outputBefore = stack.replicas.map((r) => r.output().length);
    await stack.redis.stop();
    let get: Awaited<ReturnType<typeof send>>;
    let post: Awaited<ReturnType<typeof send>>;
    try {
      // Checked in ext_authz (the anomaly baseline of a GET), and in ext_proc (the context's single-use claim).
      get = await send(watchKey, 'GET', '');
      post = await send(stack.keys.restricted, 'POST', `down-${TAG}`);
    } finally {
      await stack.redis.start();
    }
    assert.equal(get.status, 503);
    assert.equal(post.status, 503);
    assert.equal(parseErrorBody(get.body).error.code, 'state_unavailable');
    assert.equal(parseErrorBody(post.body).error.code, 'state_unavailable');
    // Traffic flows again on both replicas (the Checks alternate), then both have said so.
    const end = Date.now() + 10_000;
    const lines = (): Record<string, unknown>[] => stack.replicas.flatMap((r, i) => r.output().slice(outputBefore[i]).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>));
    while (Date.now() < end && lines().filter((l) => l.msg === 'redis connection back').length < 2) {
      await send(watchKey, 'GET', '');
      await new Promise((r) => setTimeout(r, 100));
    }
    const logged = lines();
    const lost = logged.filter((l) => l.msg === 'redis connection lost; shared-state calls fail until it is back');
    const back = logged.filter((l) => l.msg === 'redis connection back');
    assert.equal(lost.length, 2, 'one lost line per replica');
    assert.equal(back.length, 2, 'one back line per replica');
    for (const l of lost) {
      assert.equal(l.level, 'error');
      assert.equal(typeof l.cause, 'string');
      assert.ok((l.cause as string).length > 0);
    }
    for (const l of back) assert.ok(typeof l.down_ms === 'number' && l.down_ms >= 0);

    for (const [reply, identity, tenant] of [[get, 'watch-1', 'team-w'], [post, 'restricted-1', 'team-b']] as const) {
      const decisionId = reply.headers.get('x-tollgate-decision-id');
      assert.ok(decisionId !== null && decisionId !== '');
      // One line at info or above for the failed request (debug's "request finished" aside).
      const mine = logged.filter((l) => l.decision_id === decisionId && l.level !== 'debug');
      assert.equal(mine.length, 1, JSON.stringify(mine));
      const line = mine[0]!;
      assert.equal(line.level, 'error');
      assert.equal(line.code, 'state_unavailable');
      assert.deepEqual([line.identity, line.tenant, line.provider, line.request_id], [identity, tenant, 'openai', reply.requestId]);
      const text = JSON.stringify(line);
      assert.ok(!('stack' in line) && !/"stack"|\\n\s+at /.test(text), `no stack: ${text}`);
    }
    const all = stack.replicas.map((r) => r.output()).join('');
    for (const secret of [stack.providerKey, stack.keys.agent, stack.keys.restricted, watchKey]) assert.ok(!all.includes(secret), 'a secret in the logs');
  });
});

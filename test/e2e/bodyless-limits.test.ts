// Requests without a body (GET /models) are decided in full by ext_authz, which also injects their
// credential: their usage controls run there. Two Tollgate replicas on one real Redis behind one real
// Envoy (Check and the ext_proc stream of one request often land on different replicas): a request
// rate limit counts POSTs and GETs together and refuses a GET with the body path's 429 and headers,
// with nothing upstream; the anomaly baseline counts GETs; the audit record of a GET names the
// credential ext_authz injected.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashApiKey, mintApiKey } from '../../extproc/authz/api-key.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { parseErrorBody } from '../contract/helpers/messages.ts';
import { startReplicas, type ReplicaStack } from '../helpers/replicas.ts';
import { redisAvailable } from '../helpers/redis.ts';

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
  const records = async (ids: readonly string[]): Promise<AuditRecord[]> => {
    const end = Date.now() + 5_000;
    for (;;) {
      const all = stack.audit();
      const found = ids.map((id) => all.filter((r) => r.request_id === id));
      if (found.every((f) => f.length >= 1) || Date.now() > end) {
        found.forEach((f, i) => { assert.equal(f.length, 1, `request ${ids[i] ?? ''} has ${f.length} audit records`); });
        return found.map((f) => f[0] as AuditRecord);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  before(async () => {
    stack = await startReplicas({
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
    // The first list after warm-up is a new endpoint for this identity; the second is not.
    assert.deepEqual(rFirst.anomaly_flags, ['first_endpoint']);
    assert.deepEqual(rAgain.anomaly_flags, []);
    for (const r of [rFirst, rAgain]) {
      assert.ok(r.credential !== null, 'a GET record names its credential');
      assert.match(r.credential.source, /^file:/);
    }
    // The metadata only: the key itself is in no record.
    assert.ok(!JSON.stringify(stack.audit()).includes(stack.providerKey));
  });
});

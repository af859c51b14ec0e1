// Two Tollgate replicas behind one real Envoy, sharing one real Redis: a per-identity rate limit, a
// token budget, the single-use claim on the ext_authz context and the anomaly baseline hold
// cluster-wide; Redis stopped fails closed (503 state_unavailable, nothing upstream, audited), and
// traffic flows again once Redis is back.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, type Client, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { hashApiKey, mintApiKey } from '../../extproc/identity/api-key.ts';
import type { AuditRecord } from '../../extproc/telemetry/audit.ts';
import { envoyServices } from '../../extproc/wire/proto.ts';
import type { Struct } from '../../extproc/wire/struct.ts';
import {
  checkRequest, httpStatus, parseErrorBody, requestHeaders, type DecodedCheckResponse, type DecodedProcessingResponse, type SentCheckRequest, type SentProcessingRequest,
} from '../contract/helpers/messages.ts';
import { ProcStream } from '../contract/helpers/proc-stream.ts';
import { startReplicas, type ReplicaStack } from '../helpers/replicas.ts';
import { redisAvailable } from '../helpers/redis.ts';
import { oneRecordEach } from '../helpers/assertions.ts';

const RATE_LIMIT = 6;
const WARMUP = 4;
const TAG = randomBytes(6).toString('hex');
const steadyKey = mintApiKey();

/** A chat body of exactly `bytes` bytes whose prompt carries `marker`. */
function chatBody(marker: string, bytes: number, model = 'gpt-4o-mini'): string {
  const shell = (text: string): string => JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: `${marker} ${text}` }] });
  const n = bytes - Buffer.byteLength(shell(''));
  assert.ok(n >= 0, 'body too small for its marker');
  return shell('x'.repeat(n));
}
const BUDGET_BODY_BYTES = 400;
/** What one budget request reserves and then uses: ceil(bytes / 4) prompt tokens (the fake upstream's count too) + max_tokens 8. */
const PER_REQUEST_TOKENS = Math.ceil(BUDGET_BODY_BYTES / 4) + 8;
const BUDGET_LIMIT = 3 * PER_REQUEST_TOKENS + Math.floor(PER_REQUEST_TOKENS / 2);

describe('two replicas on one Redis, through one Envoy', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  let stack: ReplicaStack;
  const upstreamWith = (marker: string): number => stack.upstream.requests.filter((r) => r.body.toString('utf8').includes(marker)).length;
  /** Which replica wrote the record for each request id (index into stack.replicas). */
  const replicaOf = (requestId: string): number => stack.auditByReplica().findIndex((rs) => rs.some((r) => r.request_id === requestId));

  const chat = async (key: string, body: string): Promise<{ status: number; headers: Headers; body: string; requestId: string }> => {
    const res = await fetch(`${stack.url}/openai/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    return { status: res.status, headers: res.headers, body: await res.text(), requestId: res.headers.get('x-request-id') ?? '' };
  };
  /** Waits until each request id has its audit record (written when the response ends). */
  const records = (ids: readonly string[]): Promise<AuditRecord[]> => oneRecordEach(() => stack.audit(), ids);

  let polls = 0;
  /**
   * Sends steady requests until `times` answers in a row have status `want` (Envoy alternates the replicas, so 2
   * means both), 10 s at most; returns the last status.
   */
  const waitForStatus = async (want: number, times = 1): Promise<number> => {
    const end = Date.now() + 10_000;
    let last = 0;
    let run = 0;
    while (Date.now() < end) {
      last = (await chat(steadyKey, chatBody(`poll-${TAG}-${polls++}`, 200))).status;
      run = last === want ? run + 1 : 0;
      if (run >= times) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return last;
  };

  before(async () => {
    stack = await startReplicas({
      tweak: (c) => ({
        ...c,
        identities: [...c.identities, { id: 'steady-1', tenant: 'team-s', apiKeyHashes: [hashApiKey(steadyKey)], allow: [{ provider: 'openai' }] }],
        rateLimits: [{ name: 'agent-rpm', per: 'identity', unit: 'requests', limit: RATE_LIMIT, window: '1h', only: ['agent-1'] }],
        budgets: [{ name: 'restricted-tokens', per: 'identity', metric: 'tokens', limit: BUDGET_LIMIT, window: '1d', only: ['restricted-1'] }],
        anomaly: { enabled: true, warmupRequests: WARMUP, promptSpikeFactor: 10, promptSpikeMinBytes: 1024, warmupBuckets: 100_000 },
      }),
    });
  });
  after(async () => { await stack.stop(); });

  it('a per-identity rate limit holds across replicas: the (limit+1)th request is 429 with its wait; the upstream saw exactly limit', async () => {
    const marker = `rl-${TAG}`;
    const replies = [];
    for (let i = 0; i <= RATE_LIMIT; i++) replies.push(await chat(stack.keys.agent, chatBody(`${marker}-${i}`, 300)));
    const allowed = replies.slice(0, RATE_LIMIT);
    const refused = replies[RATE_LIMIT];
    assert.deepEqual(allowed.map((r) => r.status), Array(RATE_LIMIT).fill(200));
    assert.ok(refused !== undefined);
    assert.equal(refused.status, 429);
    assert.equal(parseErrorBody(refused.body).error.code, 'rate_limited');
    // A 1 h window's wait is longer than a client should sleep: x-should-retry false, the wait in x-tollgate-retry-after.
    const retryAfter = Number(refused.headers.get('x-tollgate-retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 7200, `x-tollgate-retry-after ${String(refused.headers.get('x-tollgate-retry-after'))}`);
    assert.equal(refused.headers.get('x-should-retry'), 'false');
    assert.equal(refused.headers.get('retry-after'), null);
    assert.equal(upstreamWith(marker), RATE_LIMIT);
    // The admitted requests were decided on both replicas: one replica alone would have admitted 2 × limit.
    const recs = await records(replies.map((r) => r.requestId));
    const by = allowed.map((r) => replicaOf(r.requestId));
    assert.ok(by.includes(0) && by.includes(1), `admitted on replicas ${by.join(',')}`);
    assert.deepEqual(recs.map((r) => r.reason), [...Array<null>(RATE_LIMIT).fill(null), 'rate_limited']);
  });

  it('a token budget holds across replicas: reserved before, settled after; the refused request is 429 budget_exceeded, not to be retried', async () => {
    const marker = `bud-${TAG}`;
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await chat(stack.keys.restricted, chatBody(`${marker}-${i}`, BUDGET_BODY_BYTES)));
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 429]);
    const refused = replies[3];
    assert.ok(refused !== undefined);
    assert.equal(parseErrorBody(refused.body).error.code, 'budget_exceeded');
    const retryAfter = Number(refused.headers.get('x-tollgate-retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 86_400, `x-tollgate-retry-after ${String(refused.headers.get('x-tollgate-retry-after'))}`);
    assert.equal(refused.headers.get('x-should-retry'), 'false');
    assert.equal(refused.headers.get('retry-after'), null);
    assert.equal(upstreamWith(marker), 3);
    const recs = await records(replies.map((r) => r.requestId));
    assert.deepEqual(recs.map((r) => r.usage?.total_tokens ?? null), [PER_REQUEST_TOKENS, PER_REQUEST_TOKENS, PER_REQUEST_TOKENS, null]);
    const by = replies.slice(0, 3).map((r) => replicaOf(r.requestId));
    assert.ok(by.includes(0) && by.includes(1), `charged on replicas ${by.join(',')}`);
  });

  describe('the single-use claim on the ext_authz context, across replicas (gRPC, as Envoy calls it)', () => {
    const clients: Client[] = [];
    after(() => { for (const c of clients) c.close(); });
    const svc = envoyServices();
    const checkMethod = svc.AuthorizationClient.service.Check as MethodDefinition<SentCheckRequest, DecodedCheckResponse>;
    const processMethod = svc.ExternalProcessorClient.service.Process as MethodDefinition<SentProcessingRequest, DecodedProcessingResponse>;
    const check = (port: number, req: SentCheckRequest): Promise<DecodedCheckResponse> => {
      const c: Client = new svc.AuthorizationClient(`127.0.0.1:${port}`, credentials.createInsecure());
      clients.push(c);
      return new Promise((resolve, reject) => {
        c.makeUnaryRequest(checkMethod.path, checkMethod.requestSerialize, checkMethod.responseDeserialize, req, (err: ServiceError | null, res?: DecodedCheckResponse) => {
          if (err !== null || res === undefined) reject(err ?? new Error('empty CheckResponse'));
          else resolve(res);
        });
      });
    };
    const firstAnswer = async (port: number, authz: Struct): Promise<DecodedProcessingResponse> => {
      const c: Client = new svc.ExternalProcessorClient(`127.0.0.1:${port}`, credentials.createInsecure());
      clients.push(c);
      const s = new ProcStream(c.makeBidiStreamRequest(processMethod.path, processMethod.requestSerialize, processMethod.responseDeserialize));
      const res = await s.send(requestHeaders({
        ':authority': 'tollgate.test', ':method': 'POST', ':path': '/openai/chat/completions', ':scheme': 'http',
        'content-type': 'application/json', 'content-length': '64', 'x-request-id': randomUUID(),
      }, { authz }));
      s.cancel();
      return res;
    };
    const refusedAs = (res: DecodedProcessingResponse): string | undefined =>
      res.immediate_response === undefined ? undefined : `${httpStatus(res.immediate_response.status)} ${parseErrorBody(res.immediate_response.body).error.code}`;

    it('a context issued by one replica is accepted once by the other, then refused by both', async () => {
      const [a, b] = stack.replicas;
      assert.ok(a !== undefined && b !== undefined);
      const allowed = await check(a.grpcPort, checkRequest({ path: '/openai/chat/completions', headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-length': '64' } }));
      assert.equal(allowed.http_response, 'ok_response');
      const ctx = allowed.dynamic_metadata;
      assert.ok(ctx !== undefined);
      const first = await firstAnswer(b.grpcPort, ctx);
      assert.equal(first.response, 'request_headers', `first use on the other replica: ${JSON.stringify(first)}`);
      assert.equal(refusedAs(await firstAnswer(a.grpcPort, ctx)), '500 authz_context_invalid', 'replayed on the issuing replica');
      assert.equal(refusedAs(await firstAnswer(b.grpcPort, ctx)), '500 authz_context_invalid', 'replayed on the same replica');
    });

    it('a context never used is accepted by whichever replica gets it first (control)', async () => {
      const [a, b] = stack.replicas;
      assert.ok(a !== undefined && b !== undefined);
      const allowed = await check(b.grpcPort, checkRequest({ path: '/openai/chat/completions', headers: { authorization: `Bearer ${stack.keys.agent}`, 'content-length': '64' } }));
      assert.ok(allowed.dynamic_metadata !== undefined);
      assert.equal((await firstAnswer(a.grpcPort, allowed.dynamic_metadata)).response, 'request_headers');
    });
  });

  it('an anomaly is flagged against a baseline both replicas built: a steady identity unflagged, then a 50x prompt flagged', async () => {
    const marker = `an-${TAG}`;
    const steady: { status: number; requestId: string }[] = [];
    for (let i = 0; i < WARMUP + 2; i++) steady.push(await chat(steadyKey, chatBody(`${marker}-${i}`, 200)));
    assert.deepEqual(steady.map((r) => r.status), Array(WARMUP + 2).fill(200));
    const steadyRecs = await records(steady.map((r) => r.requestId));
    assert.deepEqual(steadyRecs.map((r) => r.anomaly_flags), Array(WARMUP + 2).fill([]));
    // ext_proc alternates between replicas, so neither saw WARMUP requests by itself: a per-replica
    // baseline would still be warming up and could not flag the spike below.
    const perReplica = [0, 1].map((i) => steady.filter((r) => replicaOf(r.requestId) === i).length);
    assert.ok(perReplica.every((n) => n >= 1 && n < WARMUP + 2), `steady requests per replica: ${perReplica.join(',')}`);
    const spike = await chat(steadyKey, chatBody(`${marker}-spike`, 200 * 50));
    assert.equal(spike.status, 200, 'flagged, not denied (anomaly.deny is empty)');
    const [rec] = await records([spike.requestId]);
    assert.deepEqual(rec?.anomaly_flags, ['prompt_size_spike']);
    assert.equal(rec.state_degraded, false);
    const metrics = await Promise.all(stack.replicas.map((r) => fetch(`http://127.0.0.1:${r.adminPort}/metrics`).then((x) => x.text())));
    const flagged = metrics.map((m) => Number(/^tollgate_anomaly_flags_total\{flag="prompt_size_spike",provider="openai"\} (\d+)/m.exec(m)?.[1] ?? 0));
    assert.equal(flagged.reduce((a, b) => a + b, 0), 1, 'one flag counted, on the replica that saw the spike');
  });

  it('Redis stopped: fail closed with 503 state_unavailable, nothing upstream, the audit record says so; Redis back: traffic flows again', async () => {
    const marker = `down-${TAG}`;
    await stack.redis.stop();
    const down = [];
    for (let i = 0; i < 4; i++) down.push(await chat(steadyKey, chatBody(`${marker}-${i}`, 200)));
    assert.deepEqual(down.map((r) => r.status), [503, 503, 503, 503]);
    assert.deepEqual(down.map((r) => parseErrorBody(r.body).error.code), Array(4).fill('state_unavailable'));
    assert.equal(upstreamWith(marker), 0);
    const recs = await records(down.map((r) => r.requestId));
    for (const r of recs) {
      // The single-use claim on the authz context is the first shared-state call, so the request stops
      // there: the context is not vouched for (it could be a replay), and the record says only that.
      assert.deepEqual([r.outcome, r.decision, r.reason, r.rule, r.http_status, r.authenticated], ['failed', 'error', 'state_unavailable', 'state', 503, false]);
    }
    await stack.redis.start();
    // Slow (SIGSTOP: connected, silent): the bounded timeout (state.timeoutMs 100 ms) fails closed the same way.
    await waitForStatus(200);
    stack.redis.pause();
    try {
      const t0 = Date.now();
      const slow = await chat(steadyKey, chatBody(`${marker}-slow`, 200));
      assert.equal(slow.status, 503);
      assert.equal(parseErrorBody(slow.body).error.code, 'state_unavailable');
      assert.ok(Date.now() - t0 < 900, `answered in ${Date.now() - t0} ms, inside Envoy's 1 s message timeout`);
    } finally {
      stack.redis.resume();
    }
    assert.equal(upstreamWith(marker), 0);
    const up = `up-${TAG}`;
    // Each replica finds Redis again on its own: wait until both answer (one 200 may come from the first alone).
    assert.equal(await waitForStatus(200, 2), 200, 'traffic flows once Redis answers again');
    // Both replicas reconnected: two more requests, one per replica.
    const again = [await chat(steadyKey, chatBody(`${up}-a`, 200)), await chat(steadyKey, chatBody(`${up}-b`, 200))];
    assert.deepEqual(again.map((r) => r.status), [200, 200]);
    await records(again.map((r) => r.requestId));
    assert.deepEqual(new Set(again.map((r) => replicaOf(r.requestId))), new Set([0, 1]));
  });
});

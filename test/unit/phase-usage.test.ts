// Direct unit tests of the usage phase (extproc/processing/phases/usage.ts) through the request-body phase
// that calls it, and of its settlement through Session: rate limits, budgets, anomaly denial, a state store
// that is down, and the budget counters settled with the real usage or released when nothing went out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../extproc/config/schema.ts';
import type { ProcRequest } from '../../extproc/processing/request.ts';
import { dispatch, Session } from '../../extproc/processing/session.ts';
import {
  asDenial,
  asResponse,
  chatBody,
  chatHeaders,
  phaseFixture,
  requestBodyMsg,
  requestHeadersMsg,
  responseBodyMsg,
  responseHeadersMsg,
  startRequest,
  type PhaseFixture,
  type StoreOp,
} from '../helpers/phase-fixtures.ts';

const CHAT_RESPONSE = readFileSync(new URL('../fixtures/ext_proc/chat-response.json', import.meta.url)); // usage 23 + 2 = 25
const sendBody = (state: ProcRequest, body: Buffer): ReturnType<typeof dispatch> => { const m = requestBodyMsg(body); return dispatch(state, m); };
/** Settlement runs off the request path: let its promises finish. */
const settled = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

describe('phase usage: rate limits', () => {
  let f: PhaseFixture;
  // A 10 s window: its wait (at most two windows) stays under the 60 s a denial may advertise in retry-after.
  before(() => { f = phaseFixture({ tweak: (c) => ({ ...c, rateLimits: [{ name: 'rpm', per: 'identity', unit: 'requests', limit: 2, window: '10s' }] }) }); });
  after(async () => { await f.close(); });

  it('the request over the limit → 429 rate_limited with a retry-after; other identities are not affected', async () => {
    const body = chatBody();
    for (let i = 0; i < 2; i++) asResponse(await sendBody(await startRequest(f, body), body));
    const state = await startRequest(f, body);
    const d = asDenial(await sendBody(state, body));
    assert.equal(d.code, 'rate_limited');
    assert.equal(d.rule, 'rateLimits');
    assert.ok(d.retryAfterSeconds !== undefined && d.retryAfterSeconds >= 1 && d.retryAfterSeconds <= 20, `retry-after within two windows, the sliding estimate's horizon (${String(d.retryAfterSeconds)})`);
    assert.equal(state.credential.meta, undefined, 'no credential on a denial');
    asResponse(await sendBody(await startRequest(f, body, { seal: { identity: 'restricted-1' } }), body));
  });

  it('through Session: the ImmediateResponse is a 429 with the retry-after header and one audit record', async () => {
    const session = new Session(f.services);
    const body = chatBody();
    assert.equal((await session.handle(requestHeadersMsg(chatHeaders(body), { context: f.seal() }))).request_headers !== undefined, true);
    const res = await session.handle(requestBodyMsg(body));
    const ir = res.immediate_response;
    assert.ok(ir !== undefined, 'an immediate response');
    assert.equal(ir.status.code, 429);
    const retry = ir.headers?.set_headers?.find((h) => h.header.key === 'retry-after')?.header.raw_value.toString('latin1');
    assert.match(retry ?? '', /^[1-9][0-9]*$/);
    assert.equal(ir.headers?.set_headers?.find((h) => h.header.key === 'x-should-retry')?.header.raw_value.toString('latin1'), 'true', 'a short wait is worth retrying');
    session.close('ended');
    const recs = f.records().filter((r) => r.decision_id === session.request.decisionId);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]?.reason, 'rate_limited');
  });
});

describe('phase usage: budgets, settled and released', () => {
  let f: PhaseFixture;
  const budgetInput = (c: ConfigInput): ConfigInput => ({ ...c, budgets: [{ name: 'daily-tokens', per: 'identity', metric: 'tokens', limit: 2_000, window: '1d' }] });
  before(() => { f = phaseFixture({ tweak: budgetInput }); });
  after(async () => { await f.close(); });

  /** The budget counter the last reservation charged, and its value now. */
  const lastCharge = async (): Promise<{ key: string; windowMs: number; amount: number; value: number }> => {
    const charge = f.store.ops('reserve').at(-1)?.charges?.[0];
    assert.ok(charge !== undefined, 'a reservation was made');
    return { key: charge.key, windowMs: charge.windowMs, amount: charge.amount, value: await f.store.counter(charge.key, charge.windowMs) };
  };

  it('a request whose estimate does not fit → 429 budget_exceeded with a retry-after, nothing charged', async () => {
    const body = chatBody('gpt-4o-mini', 'hi', { max_tokens: 5_000 });
    const state = await startRequest(f, body, { seal: { identity: 'restricted-1' } });
    const d = asDenial(await sendBody(state, body));
    assert.equal(d.code, 'budget_exceeded');
    assert.equal(d.rule, 'budgets');
    assert.ok(d.retryAfterSeconds !== undefined && d.retryAfterSeconds >= 1);
    const { value } = await lastCharge();
    assert.equal(value, 0, 'a refused reservation charges nothing');
  });

  it('a completed request is settled with its real usage: the counter holds 25 tokens, not the estimate', async () => {
    const session = new Session(f.services);
    const body = chatBody('gpt-4o-mini', 'hello', { max_tokens: 100 });
    await session.handle(requestHeadersMsg(chatHeaders(body), { context: f.seal() }));
    const r2 = await session.handle(requestBodyMsg(body));
    assert.ok(r2.request_body !== undefined, 'allowed');
    const reserved = await lastCharge();
    assert.equal(reserved.amount, Math.ceil(body.length / 4) + 100, 'the estimate: ~4 bytes a token plus max_tokens');
    assert.equal(reserved.value, reserved.amount, 'the estimate is reserved');
    await session.handle(responseHeadersMsg({ ':status': '200', 'content-type': 'application/json' }));
    await session.handle(responseBodyMsg(CHAT_RESPONSE));
    await settled();
    assert.equal(await f.store.counter(reserved.key, reserved.windowMs), 25, 'settled to the real usage');
    const rec = f.records().find((r) => r.decision_id === session.request.decisionId);
    assert.deepEqual(rec?.usage, { input_tokens: 23, output_tokens: 2, total_tokens: 25 });
    const adjust = f.store.ops('adjust').at(-1)?.adjustments?.[0];
    assert.equal(adjust?.delta, 25 - reserved.amount);
    session.close('ended');
    assert.equal(f.records().filter((r) => r.decision_id === session.request.decisionId).length, 1);
  });

  it('a reservation for a request that never goes out is released (credential unavailable after the reservation)', async () => {
    const fresh = phaseFixture({ tweak: budgetInput });
    try {
      const source = fresh.sources.get('openai');
      assert.ok(source !== undefined);
      source.failing = true;
      const session = new Session(fresh.services);
      const body = chatBody('gpt-4o-mini', 'hello', { max_tokens: 100 });
      await session.handle(requestHeadersMsg(chatHeaders(body), { context: fresh.seal() }));
      const res = await session.handle(requestBodyMsg(body));
      assert.equal(res.immediate_response?.status.code, 503, 'credential_unavailable');
      const charge = fresh.store.ops('reserve').at(-1)?.charges?.[0];
      assert.ok(charge !== undefined, 'the budget was reserved before the credential');
      await settled();
      assert.equal(await fresh.store.counter(charge.key, charge.windowMs), 0, 'released in full');
      session.close('ended');
      const recs = fresh.records();
      assert.equal(recs.length, 1);
      assert.equal(recs[0]?.reason, 'credential_unavailable');
    } finally {
      await fresh.close();
    }
  });

  it('a request cancelled after it went out, before its response, keeps its reservation (the provider may bill it)', async () => {
    const session = new Session(f.services);
    const body = chatBody('gpt-4o-mini', 'bye', { max_tokens: 50 });
    await session.handle(requestHeadersMsg(chatHeaders(body), { context: f.seal({ identity: 'restricted-1' }) }));
    assert.ok((await session.handle(requestBodyMsg(body))).request_body !== undefined);
    const charge = await lastCharge();
    const before = charge.value;
    assert.ok(before >= charge.amount);
    session.close('cancelled');
    await settled();
    assert.equal(await f.store.counter(charge.key, charge.windowMs), before, 'the reservation stands: the request reached the provider');
    const rec = f.records().find((r) => r.decision_id === session.request.decisionId);
    assert.equal(rec?.outcome, 'cancelled');
    assert.deepEqual(rec.usage, { input_tokens: Math.ceil(body.length / 4), output_tokens: 50, total_tokens: Math.ceil(body.length / 4) + 50, estimated: true }, 'the record shows the estimate that was charged');
  });
});

describe('phase usage: anomaly baselines', () => {
  let f: PhaseFixture;
  before(() => {
    f = phaseFixture({
      tweak: (c) => ({ ...c, limits: { maxRequestBodyBytes: 64 * 1024 }, anomaly: { enabled: true, warmupRequests: 1, promptSpikeFactor: 2, promptSpikeMinBytes: 0, deny: ['prompt_size_spike'] } }),
    });
  });
  after(async () => { await f.close(); });

  it('a flag policy denies on → 403 anomaly_blocked; a flag it only records → allowed with the flag', async () => {
    const small = chatBody('gpt-4o-mini', 'hi');
    const first = await startRequest(f, small);
    asResponse(await sendBody(first, small));
    assert.deepEqual(first.usage.anomalyFlags, [], 'nothing before warm-up');

    const big = chatBody('gpt-4o-mini', 'x'.repeat(4_000));
    const spiking = await startRequest(f, big);
    const d = asDenial(await sendBody(spiking, big));
    assert.equal(d.code, 'anomaly_blocked');
    assert.equal(d.rule, 'anomaly.deny');
    assert.ok(spiking.usage.anomalyFlags.includes('prompt_size_spike'));

    const embed = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', input: 'hi' }));
    const path = '/openai/v1/embeddings';
    const state = f.state();
    const m = requestHeadersMsg(chatHeaders(embed, { ':path': path }), { context: f.seal({ path }) });
    asResponse(await dispatch(state, m));
    asResponse(await sendBody(state, embed));
    assert.deepEqual(state.usage.anomalyFlags, ['first_endpoint'], 'recorded, not denied');
  });
});

describe('phase usage: shared state down', () => {
  const limited = (onError: 'deny' | 'allow') => (c: ConfigInput): ConfigInput => ({
    ...c,
    state: { backend: 'memory', onError },
    rateLimits: [{ name: 'rpm', per: 'identity', unit: 'requests', limit: 100, window: '1m' }],
    budgets: [{ name: 'tok', per: 'identity', metric: 'tokens', limit: 1_000_000, window: '1d' }],
    anomaly: { enabled: true },
  });
  let deny: PhaseFixture;
  let allow: PhaseFixture;
  before(() => { deny = phaseFixture({ tweak: limited('deny') }); allow = phaseFixture({ tweak: limited('allow') }); });
  after(async () => { await deny.close(); await allow.close(); });

  const ops: readonly { op: StoreOp; feature: string }[] = [
    { op: 'slidingTake', feature: 'rate limits' },
    { op: 'observeBaseline', feature: 'anomaly baselines' },
    { op: 'reserve', feature: 'budgets' },
  ];
  // BUG (reported): phases/usage.ts never copies a budget reservation's `degraded` into state.usage.stateDegraded,
  // so a budget that let a request through unmetered leaves the audit record's state_degraded false.
  for (const { op, feature } of ops) {
    it(`${feature}: a store that throws StateUnavailableError → 503 state_unavailable (onError deny)`, async () => {
      const body = chatBody('gpt-4o-mini', 'hello', { max_tokens: 16 });
      const state = await startRequest(deny, body);
      deny.store.failing.add(op);
      try {
        const d = asDenial(await sendBody(state, body));
        assert.equal(d.code, 'state_unavailable');
        assert.equal(d.rule, 'state');
        assert.equal(state.credential.meta, undefined);
        assert.ok(deny.logs.some((l) => l.includes('shared state unavailable')), 'logged');
      } finally {
        deny.store.failing.delete(op);
      }
    });

    it(`${feature}: with onError allow the request goes on, marked state_degraded`, async () => {
      const body = chatBody('gpt-4o-mini', 'hello', { max_tokens: 16 });
      const state = await startRequest(allow, body);
      allow.store.failing.add(op);
      try {
        asResponse(await sendBody(state, body));
        assert.equal(state.usage.stateDegraded, true);
      } finally {
        allow.store.failing.delete(op);
      }
    });
  }
});

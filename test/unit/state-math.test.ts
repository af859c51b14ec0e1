// Pure parts of the state layer: sliding-window retry-after, anomaly flags, prices, subjects; and the
// memory store's expiry (Redis expiry runs on real time, so it is not in the shared table).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { anomalySchema, priceSchema } from '../../extproc/config/state-schema.ts';
import { anomalyFlags } from '../../extproc/state/anomaly.ts';
import { PriceCatalog } from '../../extproc/state/budgets.ts';
import { MemoryStateStore, type BaselineSnapshot } from '../../extproc/state/state-store.ts';
import { MAX_CLAIM_VALUES, subjectValues } from '../../extproc/state/subjects.ts';
import { slidingEstimate, slidingRetryAfterMs } from '../../extproc/state/window-math.ts';
import { windowTotal } from '../helpers/window-counter.ts';

describe('slidingRetryAfterMs', () => {
  /** The first ms from `elapsed` at which a take of `cost` fits, by stepping the clock (no other traffic). */
  function simulate(previous: number, current: number, cost: number, limit: number, w: number, elapsed: number): number {
    for (let t = 0; t <= 2 * w; t++) {
      const e = elapsed + t;
      const estimate = e < w ? slidingEstimate(previous, current, w, e) : e < 2 * w ? slidingEstimate(current, 0, w, e - w) : 0;
      const fits = estimate + cost <= limit;
      if (fits) return t;
    }
    return Number.POSITIVE_INFINITY;
  }
  let seed = 7;
  const rand = (n: number): number => { seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; return seed % n; };
  it('matches a step-by-step simulation on 300 random states', () => {
    for (let k = 0; k < 300; k++) {
      const w = 1 + rand(2_000);
      const limit = 1 + rand(50);
      const [previous, current, cost, elapsed] = [rand(60), rand(60), rand(55), rand(w)];
      const want = simulate(previous, current, cost, limit, w, elapsed);
      const got = slidingRetryAfterMs(previous, current, cost, limit, w, elapsed);
      if (want === 0 || want === Number.POSITIVE_INFINITY) assert.equal(got, want, JSON.stringify({ previous, current, cost, limit, w, elapsed }));
      else assert.ok(Math.abs(got - want) <= 1, `${JSON.stringify({ previous, current, cost, limit, w, elapsed })}: got ${got}, simulated ${want}`);
    }
  });
  it('is Infinity when the cost alone is over the limit', () => { assert.equal(slidingRetryAfterMs(0, 0, 11, 10, 1_000, 0), Number.POSITIVE_INFINITY); });
});

describe('anomalyFlags', () => {
  const c = anomalySchema.parse({ warmupRequests: 10, warmupBuckets: 3, promptSpikeFactor: 10, promptSpikeMinBytes: 1_000, burstFactor: 5, burstMinRequests: 20 });
  const warm: BaselineSnapshot = { requestsBefore: 50, sizedBefore: 50, bytesEwmaMilli: 2_000_000, rateEwmaMilli: 8_000, bucketsSeen: 10, bucketCount: 9, newProvider: false, newEndpoint: false };
  const table: readonly [string, Partial<BaselineSnapshot>, number | undefined, readonly string[]][] = [
    ['steady', {}, 2_500, []],
    ['10× exactly is not a spike', {}, 20_000, []],
    ['just over 10×', {}, 20_001, ['prompt_size_spike']],
    ['a spike during warm-up', { requestsBefore: 9, sizedBefore: 9 }, 900_000, []],
    ['a spike before warmupRequests requests with a body (the rest had none)', { sizedBefore: 9 }, 900_000, []],
    ['a request without a body is no size sample, never a spike; it still counts for the rest', { bytesEwmaMilli: 0, newEndpoint: true }, undefined, ['first_endpoint']],
    ['a spike under the minimum size', { bytesEwmaMilli: 10_000 }, 999, []],
    ['a burst', { bucketCount: 41 }, 2_000, ['burst']],
    ['5× exactly is not a burst', { bucketCount: 40 }, 2_000, []],
    ['a burst under the minimum count', { rateEwmaMilli: 1_000, bucketCount: 19 }, 2_000, []],
    ['a burst before warm-up buckets', { bucketsSeen: 2, bucketCount: 400 }, 2_000, []],
    ['a first provider and endpoint', { newProvider: true, newEndpoint: true }, 2_000, ['first_provider', 'first_endpoint']],
    ['a first endpoint during warm-up', { requestsBefore: 3, newEndpoint: true }, 2_000, []],
    ['everything at once', { bucketCount: 100, newProvider: true, newEndpoint: true }, 1_000_000, ['prompt_size_spike', 'burst', 'first_provider', 'first_endpoint']],
  ];
  for (const [name, patch, bytes, want] of table) it(name, () => { assert.deepEqual(anomalyFlags({ ...warm, ...patch }, bytes, c), want); });
});

describe('PriceCatalog', () => {
  const cat = new PriceCatalog([
    priceSchema.parse({ provider: 'openai', model: 'gpt-4o-mini', inputPerMTok: 0.15, outputPerMTok: 0.6 }),
    priceSchema.parse({ provider: 'openai', model: 'gpt-4o*', inputPerMTok: 2.5, outputPerMTok: 10 }),
    priceSchema.parse({ provider: 'ollama', model: '*', inputPerMTok: 0, outputPerMTok: 0 }),
    priceSchema.parse({ provider: 'vertex', model: 'gemini-2.5-pro', maxOutputTokens: 65_536 }),
    priceSchema.parse({ provider: 'vertex', model: '*', inputPerMTok: 1, outputPerMTok: 2 }),
  ]);
  const table: readonly [string, string, number, number, number | undefined][] = [
    ['openai', 'gpt-4o-mini', 1_000, 1_000, 750],
    ['openai', 'gpt-4o-2024-08-06', 1_000, 1_000, 12_500],
    ['openai', 'gpt-4o-mini', 1, 0, 1], // 0.15 micro rounds up
    ['openai', 'gpt-4o-mini', 20, 0, 3], // 3.0000000000000004 is 3, not 4
    ['vertex', 'gemini-2.5-flash', 1_000, 1_000, 3_000], // the wildcard entry's price
    ['ollama', 'llama3', 1_000_000, 1_000_000, 0],
    ['openai', 'o3', 1, 1, undefined],
    ['anthropic', 'gpt-4o', 1, 1, undefined],
    ['vertex', 'gemini-2.5-pro', 1, 1, 3], // the first entry that has prices: the maximum-only entry is skipped
  ];
  for (const [provider, model, inp, out, want] of table)
    it(`${provider}/${model} ${inp}+${out} tokens → ${String(want)} micro`, () => { assert.equal(cat.costMicro(provider, model, { inputTokens: inp, outputTokens: out }), want); });
  it('the maximum output: the first matching entry that has one', () => {
    assert.equal(cat.maxOutputTokens('vertex', 'gemini-2.5-pro'), 65_536);
    assert.equal(cat.maxOutputTokens('vertex', 'gemini-2.5-flash'), undefined);
    assert.equal(cat.maxOutputTokens('openai', 'gpt-4o'), undefined);
  });
  it('an entry needs prices (both) or a maximum output', () => {
    assert.throws(() => priceSchema.parse({ provider: 'openai', model: 'x' }), /maxOutputTokens/);
    assert.throws(() => priceSchema.parse({ provider: 'openai', model: 'x', inputPerMTok: 1 }), /both/);
    assert.throws(() => priceSchema.parse({ provider: 'openai', model: 'x', maxOutputTokens: 0 }));
  });
});

describe('subjectValues', () => {
  const who = { identity: 'agent-1', tenant: 'team-a', claims: { groups: ['ml', 'ops', 'ml', 7, ''], dept: 'eng', many: Array.from({ length: 40 }, (_, i) => `g${i}`) } };
  const table: readonly [string, Parameters<typeof subjectValues>[0], readonly string[] | undefined, readonly string[] | null][] = [
    ['identity', 'identity', undefined, ['agent-1']],
    ['tenant', 'tenant', undefined, ['team-a']],
    ['an array claim, deduplicated, strings only', { claim: 'groups' }, undefined, ['ml', 'ops']],
    ['a string claim', { claim: 'dept' }, undefined, ['eng']],
    ['a missing claim, no default: null (the request is refused with group_missing)', { claim: 'nope' }, undefined, null],
    ['a missing claim counts in the default group', { claim: 'nope', default: 'unassigned' }, undefined, ['unassigned']],
    ['a default group outside only: the budget does not apply', { claim: 'nope', default: 'unassigned' }, ['ml'], []],
    ['a missing claim is refused even with only', { claim: 'nope' }, ['ml'], null],
    ['a present claim ignores the default', { claim: 'dept', default: 'unassigned' }, undefined, ['eng']],
    ['filtered by only', { claim: 'groups' }, ['ops'], ['ops']],
    ['an identity outside only', 'identity', ['agent-2'], []],
  ];
  for (const [name, per, only, want] of table) it(name, () => { assert.deepEqual(subjectValues(per, who, only), want); });
  it(`caps a claim at ${MAX_CLAIM_VALUES} values`, () => { assert.equal(subjectValues({ claim: 'many' }, who, undefined)?.length, MAX_CLAIM_VALUES); });
  it('an array with no string value is a missing claim', () => { assert.equal(subjectValues({ claim: 'groups' }, { identity: 'a', tenant: 't', claims: { groups: [7, ''] } }, undefined), null); });
});

describe('MemoryStateStore expiry', () => {
  it('adjust leaves an expired window alone; a baseline idle past its ttl starts over', async () => {
    let now = 0;
    const s = new MemoryStateStore({ now: () => now });
    try {
      await s.reserve([{ key: 'k', windowMs: 1_000, amount: 5, limit: 10 }]);
      now = 2_000; // the window [0, 1000) is kept until 2000 for the sliding estimate, then dropped
      await s.adjust([{ key: 'k', windowMs: 1_000, windowStart: 0, delta: 3 }]);
      now = 500;
      assert.equal(await windowTotal(s, 'k', 1_000), 0, 'the expired counter was not recreated');
      const p = { bucketMs: 1_000, alpha: 0.5, maxDistinct: 4, idleTtlMs: 10_000 };
      now = 0;
      await s.observeBaseline('a', { bytes: 10, provider: 'p', endpoint: 'e' }, p);
      now = 9_999;
      assert.equal((await s.observeBaseline('a', { bytes: 10, provider: 'p', endpoint: 'e' }, p)).requestsBefore, 1);
      now = 9_999 + 10_000;
      const fresh = await s.observeBaseline('a', { bytes: 10, provider: 'p', endpoint: 'e' }, p);
      assert.deepEqual([fresh.requestsBefore, fresh.newProvider], [0, true]);
      // A request without a body counts, but leaves the size average alone.
      const bodyless = await s.observeBaseline('a', { bytes: undefined, provider: 'p', endpoint: 'g' }, p);
      const after = await s.observeBaseline('a', { bytes: 10, provider: 'p', endpoint: 'e' }, p);
      assert.deepEqual([bodyless.requestsBefore, bodyless.sizedBefore, after.requestsBefore, after.sizedBefore, after.bytesEwmaMilli], [1, 1, 2, 1, 10_000]);
    } finally {
      await s.close();
    }
  });
});

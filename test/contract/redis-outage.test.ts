// Redis down, Redis stalled (SIGSTOP), and back again: typed failures within the bound, fail closed by
// default, fail open per feature when configured, recovery without a restart. Also measures round trips.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { anomalySchema, budgetSchema, rateLimitSchema } from '../../extproc/config/state-schema.ts';
import { Secret } from '../../extproc/core/secret.ts';
import { ToolPinRegistry } from '../../extproc/mcp/tool-pins.ts';
import { AnomalyDetector } from '../../extproc/state/anomaly.ts';
import { BudgetGuard } from '../../extproc/state/budgets.ts';
import { RateLimiter } from '../../extproc/state/rate-limits.ts';
import { RedisStateStore } from '../../extproc/state/redis-store.ts';
import { StateUnavailableError } from '../../extproc/state/state-errors.ts';
import { MemoryStateStore, type StateStore } from '../../extproc/state/state-store.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { addToWindow } from '../helpers/window-counter.ts';

const TIMEOUT_MS = 100;
let redis: TestRedis;
const stores: RedisStateStore[] = [];
const connectionErrors: string[] = [];

function store(): RedisStateStore {
  const s = new RedisStateStore({
    host: redis.host, port: redis.port, keyPrefix: `o-${randomUUID()}:`, timeoutMs: TIMEOUT_MS,
    onConnectionError: (err) => { connectionErrors.push(err.message); },
  });
  stores.push(s);
  return s;
}

/**
 * Runs `start` and waits for its failure. The clock starts before `start` is called: the store arms its timeout
 * inside the call, so on a loaded machine a clock started after it would read a timeout as early.
 */
async function failure(start: () => Promise<unknown>): Promise<{ err: StateUnavailableError; ms: number }> {
  const t0 = performance.now();
  try {
    await start();
  } catch (err) {
    assert.ok(err instanceof StateUnavailableError, `expected StateUnavailableError, got ${String(err)}`);
    return { err, ms: performance.now() - t0 };
  }
  assert.fail('expected the call to fail');
}

async function eventually(fn: () => Promise<boolean>, ms = 5_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await fn().catch(() => false)) return performance.now() - t0;
    if (performance.now() - t0 > ms) assert.fail('did not recover in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Every operation, so each one's failure path is checked.
const operations: readonly [string, (s: StateStore) => Promise<unknown>][] = [
  ['claimOnce', (s) => s.claimOnce(`c-${randomUUID()}`, 1_000)],
  ['reserve', (s) => s.reserve([{ key: 'b', windowMs: 60_000, amount: 1, limit: 10 }])],
  ['adjust', (s) => s.adjust([{ key: 'b', windowMs: 60_000, windowStart: 0, delta: 1 }])],
  ['slidingTake', (s) => s.slidingTake('r', 1, 10, 1_000)],
  ['observeBaseline', (s) => s.observeBaseline('a', { bytes: 1, provider: 'p', endpoint: 'e' }, { bucketMs: 60_000, alpha: 0.2, maxDistinct: 8, idleTtlMs: 60_000 })],
  ['observeToolHashes', (s) => s.observeToolHashes('docs', [{ name: 'echo', seen: '{}', pinIfAbsent: undefined }], 10)],
  ['toolHashes', (s) => s.toolHashes('docs', 'echo')],
];

describe('Redis outages', () => {
  before(async () => { redis = await startRedis(); });
  after(async () => {
    redis.resume();
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await redis.kill();
  });
  afterEach(() => { redis.resume(); });

  it('paused (SIGSTOP): every operation fails with a timeout near timeoutMs, not a hang; it recovers on SIGCONT', async () => {
    const s = store();
    await s.ready();
    assert.equal(await addToWindow(s, 'k', 1, 60_000), 1);
    const took: string[] = [];
    redis.pause();
    try {
      for (const [name, op] of operations) {
        const { err, ms } = await failure(() => op(s));
        assert.deepEqual([err.reason, err.operation, err.code], ['timeout', name, 'state_unavailable']);
        assert.ok(ms >= TIMEOUT_MS - 5 && ms < TIMEOUT_MS + 150, `${name} failed after ${ms.toFixed(1)} ms`);
        took.push(`${name} ${ms.toFixed(1)} ms`);
      }
      process.stderr.write(`paused redis, timeoutMs ${TIMEOUT_MS}: ${took.join(', ')}\n`);
    } finally {
      redis.resume();
    }
    await eventually(async () => (await addToWindow(s, 'k', 1, 60_000)) >= 2);
  });

  it('down: every operation fails at once as unavailable; after a restart the store reconnects by itself', async () => {
    const s = store();
    await s.ready();
    await redis.stop();
    await eventually(async () => { try { await addToWindow(s, 'x', 1, 1_000); return false; } catch { return true; } });
    const took: string[] = [];
    for (const [name, op] of operations) {
      const { err, ms } = await failure(() => op(s));
      assert.equal(err.operation, name);
      assert.equal(err.reason, 'unavailable');
      assert.ok(ms < TIMEOUT_MS, `${name} failed after ${ms.toFixed(1)} ms`);
      took.push(`${name} ${ms.toFixed(2)} ms`);
    }
    process.stderr.write(`redis down: ${took.join(', ')}\n`);
    await redis.start();
    const recoveredMs = await eventually(async () => (await addToWindow(s, 'after', 1, 60_000)) === 1);
    assert.ok(recoveredMs < 3_000);
    assert.equal(s.connected, true);
  });

  it('features fail closed by default and open where configured', async () => {
    const s = store();
    await s.ready();
    redis.pause();
    try {
      const who = { identity: 'a', tenant: 't' };
      const budget = (onStateError?: 'allow' | 'deny') => budgetSchema.parse({ name: 'b', per: 'identity', metric: 'tokens', limit: 10, window: '1h', ...(onStateError === undefined ? {} : { onStateError }) });
      await failure(() => new BudgetGuard(s, [budget()], [], { onError: 'deny' }).reserve(who, 'p', 'm', { inputTokens: 1, outputTokens: 1 }));
      await failure(() => new BudgetGuard(s, [budget('deny')], [], { onError: 'allow' }).reserve(who, 'p', 'm', { inputTokens: 1, outputTokens: 1 }));
      const open = await new BudgetGuard(s, [budget('allow')], [], { onError: 'deny' }).reserve(who, 'p', 'm', { inputTokens: 1, outputTokens: 1 });
      assert.ok(open.ok && open.reservation.degraded && open.reservation.charges.length === 0);

      const limit = rateLimitSchema.parse({ name: 'r', per: 'identity', unit: 'requests', limit: 1, window: '1s' });
      await failure(() => new RateLimiter(s, [limit], { onError: 'deny' }).check(who, 0));
      const rl = await new RateLimiter(s, [limit], { onError: 'allow' }).check(who, 0);
      assert.ok(rl.ok && rl.ticket.degraded);

      const obs = { identity: 'a', provider: 'p', endpoint: 'e', requestBytes: 1 };
      await failure(() => new AnomalyDetector(s, anomalySchema.parse({ enabled: true }), { onError: 'deny' }).observe(obs));
      const an = await new AnomalyDetector(s, anomalySchema.parse({ enabled: true, onStateError: 'allow' }), { onError: 'deny' }).observe(obs);
      assert.deepEqual([an.degraded, an.flags], [true, []]);

      const pins = new ToolPinRegistry(s, { docs: {} });
      assert.equal((await failure(() => pins.observeList('docs', [{ name: 'echo' }]))).err.code, 'state_unavailable');
      assert.equal((await failure(() => pins.verdictForCall('docs', 'echo'))).err.code, 'state_unavailable');
    } finally {
      redis.resume();
    }
  });

  it('with requirepass: a wrong password fails as unavailable, the right one works, neither appears in errors', async () => {
    const right = `pw-${randomUUID()}`;
    const wrong = `pw-${randomUUID()}`;
    const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await admin.connect();
    await admin.config('SET', 'requirepass', right);
    const seen: string[] = [];
    const make = (pw: string): RedisStateStore => {
      const st = new RedisStateStore({ host: redis.host, port: redis.port, keyPrefix: `p-${randomUUID()}:`, password: new Secret(pw), timeoutMs: TIMEOUT_MS, onConnectionError: (e) => { seen.push(`${e.message} ${e.stack ?? ''}`); } });
      stores.push(st);
      return st;
    };
    try {
      const bad = make(wrong);
      await new Promise((r) => setTimeout(r, 200));
      const { err } = await failure(() => addToWindow(bad, 'k', 1, 1_000));
      assert.equal(err.reason, 'unavailable');
      const good = make(right);
      await good.ready();
      assert.equal(await addToWindow(good, 'k', 1, 1_000), 1);
      const text = [err.message, String(err.stack), String(err.cause), JSON.stringify(err), ...seen, ...connectionErrors].join('\n');
      assert.ok(seen.length > 0, 'the refused AUTH was reported to the callback');
      for (const pw of [right, wrong]) assert.ok(!text.includes(pw), 'a password leaked into an error');
    } finally {
      await admin.auth(right);
      await admin.config('SET', 'requirepass', '');
      admin.disconnect();
    }
  });

  it('measures the round trip per operation: Redis vs memory (p50 over 500 sequential calls)', async () => {
    const r = store();
    await r.ready();
    const m = new MemoryStateStore();
    const rows: string[] = [];
    for (const [name, op] of operations) {
      const p50 = async (s: StateStore): Promise<number> => {
        for (let i = 0; i < 50; i++) await op(s);
        const t: number[] = [];
        for (let i = 0; i < 500; i++) { const t0 = performance.now(); await op(s); t.push(performance.now() - t0); }
        t.sort((a, b) => a - b);
        return t[250] ?? Number.NaN;
      };
      const [pm, pr] = [await p50(m), await p50(r)];
      rows.push(`${name.padEnd(16)} memory ${(pm * 1000).toFixed(1).padStart(7)} µs   redis ${(pr * 1000).toFixed(1).padStart(7)} µs`);
      assert.ok(pr < TIMEOUT_MS, `${name} p50 ${pr} ms is near the timeout`);
    }
    await m.close();
    process.stderr.write(`state-store p50 round trip (loopback redis-server ${redis.port}):\n${rows.join('\n')}\n`);
  });
});

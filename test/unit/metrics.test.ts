// Every metric is declared in telemetry/metrics.ts: the full table of names and labels, no metric
// constructed anywhere else, every metrics field the code uses is declared, and the state-store
// observer feeds the state metrics (against a real redis-server when installed, and a closed port).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { RedisStateStore } from '../../extproc/state/redis-store.ts';
import { StateUnavailableError } from '../../extproc/state/state-errors.ts';
import { statusClass } from '../../extproc/telemetry/audit-record.ts';
import { createMetrics, MAX_MODEL_LABELS, modelLabeller, stateObserver } from '../../extproc/telemetry/metrics.ts';
import { redisAvailable, startRedis } from '../helpers/redis.ts';

const EXTPROC = fileURLToPath(new URL('../../extproc/', import.meta.url));

/** name → label names, for every Tollgate metric (Node's default process metrics excluded). */
const DECLARED: Readonly<Record<string, readonly string[]>> = {
  tollgate_authz_decisions_total: ['decision', 'reason', 'provider'],
  tollgate_requests_total: ['outcome', 'reason', 'provider', 'upstream_status_class'],
  tollgate_authz_check_seconds: ['decision'],
  tollgate_phase_duration_seconds: ['phase'],
  tollgate_extproc_active_streams: [],
  tollgate_extproc_empty_streams_total: [],
  tollgate_audit_records_total: ['stage'],
  tollgate_tokens_total: ['provider', 'model', 'direction'],
  tollgate_dlp_findings_total: ['type', 'direction', 'action'],
  tollgate_anomaly_flags_total: ['flag', 'provider'],
  tollgate_cost_micro_total: ['provider', 'model'],
  tollgate_policy_revision_info: ['revision'],
  tollgate_policy_reloads_total: ['result'],
  tollgate_vault_calls_total: ['op', 'outcome'],
  tollgate_vault_call_seconds: [],
  tollgate_vault_auth_events_total: ['kind'],
  tollgate_vault_breaker_open: [],
  tollgate_vault_breaker_rejections_total: ['op'],
  tollgate_credential_age_seconds: ['source'],
  tollgate_credential_lease_events_total: ['kind', 'source'],
  tollgate_credential_refresh_failures_total: ['source'],
  tollgate_credential_lookups_total: ['result'],
  tollgate_state_call_seconds: ['operation'],
  tollgate_state_errors_total: ['operation', 'reason'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'generated' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('metrics declared in one place', () => {
  const m = createMetrics();
  const defaults = new Set(m.registry.getMetricsAsArray().map((x) => x.name).filter((n) => n.startsWith('process_') || n.startsWith('nodejs_')));

  it('the registry holds exactly the declared metrics, with the declared labels', () => {
    const actual = Object.fromEntries(m.registry.getMetricsAsArray().filter((x) => !defaults.has(x.name)).map((x) => [x.name, [...((x as unknown as { labelNames?: string[] }).labelNames ?? [])]]));
    assert.deepEqual(actual, DECLARED);
    assert.ok(defaults.size > 5, 'Node process metrics under their standard names');
    assert.ok(defaults.has('process_cpu_seconds_total') && defaults.has('process_resident_memory_bytes') && defaults.has('nodejs_heap_size_used_bytes'), [...defaults].join(' '));
    assert.deepEqual(m.registry.getMetricsAsArray().map((x) => x.name).filter((n) => /^tollgate_(process|nodejs)_/.test(n)), []);
  });

  it('no module outside telemetry/metrics.ts constructs a metric', () => {
    const offenders = sources(EXTPROC).filter((f) => !f.endsWith(join('telemetry', 'metrics.ts')) && /new (Counter|Gauge|Histogram|Summary)\s*\(/.test(readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('every metrics field the code uses is declared', () => {
    const fields = new Set(Object.keys(m));
    const used = new Set<string>();
    for (const f of sources(EXTPROC)) for (const x of readFileSync(f, 'utf8').matchAll(/\bmetrics\.([a-zA-Z]+)\.(?:inc|dec|set|observe|reset|labels|startTimer)\(/g)) used.add(x[1] ?? '');
    assert.ok(used.size >= 10, `found ${used.size} uses`);
    assert.deepEqual([...used].filter((u) => !fields.has(u)), []);
  });
});

describe('label values', () => {
  it('the model label keeps the first MAX_MODEL_LABELS distinct models, then counts the rest as other', () => {
    const label = modelLabeller(3);
    assert.deepEqual(['a', 'b', 'a', 'c', 'd', 'b', 'e'].map(label), ['a', 'b', 'a', 'c', 'other', 'b', 'other']);
    assert.deepEqual([undefined, null, ''].map(label), ['none', 'none', 'none']);
    assert.equal(MAX_MODEL_LABELS, 64);
    const dflt = createMetrics().modelLabel;
    for (let i = 0; i < MAX_MODEL_LABELS; i++) assert.equal(dflt(`m-${i}`), `m-${i}`);
    assert.equal(dflt('one-too-many'), 'other');
  });

  it('status classes: what the record and the upstream_status_class label say', () => {
    assert.deepEqual([100, 200, 204, 301, 401, 429, 500, 503, 599].map(statusClass), ['1xx', '2xx', '2xx', '3xx', '4xx', '4xx', '5xx', '5xx', '5xx']);
    assert.deepEqual([undefined, 0, 99, 600, 200.5, Number.NaN].map(statusClass), [undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});

describe('state-store metrics', () => {
  const stores: RedisStateStore[] = [];
  after(async () => { await Promise.all(stores.map((s) => s.close())); });

  const errorCount = async (m: ReturnType<typeof createMetrics>, operation: string, reason: string): Promise<number> =>
    (await m.stateErrors.get()).values.find((v) => v.labels.operation === operation && v.labels.reason === reason)?.value ?? 0;
  const callCount = async (m: ReturnType<typeof createMetrics>, operation: string): Promise<number> =>
    (await m.stateCallSeconds.get()).values.find((v) => v.metricName === 'tollgate_state_call_seconds_count' && v.labels.operation === operation)?.value ?? 0;

  it('a call to a Redis that is not there: counted as unavailable, and timed', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => { const a = srv.address(); srv.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0); }); });
    });
    const m = createMetrics();
    const s = new RedisStateStore({ host: '127.0.0.1', port, observer: stateObserver(m), connectTimeoutMs: 200 });
    stores.push(s);
    await assert.rejects(s.claimOnce('k', 1_000), StateUnavailableError);
    assert.equal(await errorCount(m, 'claimOnce', 'unavailable'), 1);
    assert.equal(await callCount(m, 'claimOnce'), 1);
  });

  it('calls to a real Redis: timed, no errors; a stalled one is a timeout', { skip: redisAvailable() ? false : 'redis-server is not installed' }, async () => {
    const redis = await startRedis();
    try {
      const m = createMetrics();
      const s = new RedisStateStore({ host: '127.0.0.1', port: redis.port, observer: stateObserver(m), timeoutMs: 100 });
      stores.push(s);
      await s.ready();
      assert.equal(await s.claimOnce('k1', 1_000), true);
      assert.equal(await s.claimOnce('k1', 1_000), false);
      assert.equal(await callCount(m, 'claimOnce'), 2);
      assert.equal((await m.stateErrors.get()).values.length, 0);
      redis.pause();
      await assert.rejects(s.slidingTake('r', 1, 10, 1_000), StateUnavailableError);
      redis.resume();
      assert.equal(await errorCount(m, 'slidingTake', 'timeout'), 1);
    } finally {
      redis.resume();
      await redis.kill();
    }
  });
});

// The state, budget, price, rate-limit, anomaly and audit-chain config sections: valid and invalid tables.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { auditChainSchema, durationSchema, stateConfigSchema } from '../../extproc/config/state-schema.ts';
import { redisOptions } from '../../extproc/state/create-store.ts';
import { Secret } from '../../extproc/core/secret.ts';

describe('durations', () => {
  const ok: readonly [string, number][] = [['250ms', 250], ['30s', 30_000], ['1m', 60_000], ['2h', 7_200_000], ['1d', 86_400_000], ['1w', 604_800_000]];
  for (const [text, ms] of ok) it(`${text} is ${ms} ms`, () => { assert.equal(durationSchema.parse(text), ms); });
  it('takes a plain number as milliseconds (a validated config round-trips through JSON)', () => { assert.equal(durationSchema.parse(60_000), 60_000); });
  for (const bad of ['0s', '1', '1.5h', 'm', '-1m', '1 m', '1M', '1y', 0, -5, 1.5]) it(`refuses ${JSON.stringify(bad)}`, () => { assert.equal(durationSchema.safeParse(bad).success, false); });
});

describe('state config: valid', () => {
  it('defaults to memory, fail closed, nothing metered', () => {
    const c = stateConfigSchema.parse({});
    assert.deepEqual(c.state, { backend: 'memory', onError: 'deny' });
    assert.deepEqual([c.budgets, c.rateLimits, c.prices, c.anomaly.enabled, c.anomaly.deny], [[], [], [], false, []]);
  });
  it('a full Redis setup', () => {
    const c = stateConfigSchema.parse({
      state: { backend: 'redis', url: 'rediss://redis.internal:6380/2', password: { source: 'env', name: 'REDIS_PASSWORD' }, tls: { caFile: '/etc/ca.pem' }, timeoutMs: 40, onError: 'deny' },
      budgets: [
        { name: 'daily-tokens', per: 'identity', metric: 'tokens', limit: 2_000_000, window: '1d' },
        { name: 'ml-monthly', per: { claim: 'groups' }, metric: 'cost', limit: 500.5, window: '30d', only: ['ml'], onStateError: 'allow' },
      ],
      prices: [{ provider: 'openai', model: 'gpt-4o*', inputPerMTok: 2.5, outputPerMTok: 10 }],
      rateLimits: [{ name: 'rpm', per: 'identity', unit: 'requests', limit: 600, window: '1m' }, { name: 'tpm', per: 'tenant', unit: 'tokens', limit: 200_000, window: '1m' }],
      anomaly: { enabled: true, deny: ['prompt_size_spike'] },
    });
    assert.equal(c.budgets[1]?.window, 30 * 86_400_000);
    assert.equal(c.anomaly.bucket, 60_000);
    assert.ok(c.state.backend === 'redis');
    const o = redisOptions(c.state, { password: new Secret('pw'), ca: Buffer.from('CA') });
    assert.deepEqual([o.host, o.port, o.db, o.timeoutMs, o.keyPrefix, o.tls?.servername, o.tls?.ca?.toString()], ['redis.internal', 6380, 2, 40, 'tollgate:', 'redis.internal', 'CA']);
  });
  it('host and port instead of a URL, plaintext', () => {
    const c = stateConfigSchema.parse({ state: { backend: 'redis', host: '10.0.0.5', port: 6379 } });
    assert.ok(c.state.backend === 'redis');
    const o = redisOptions(c.state, {});
    assert.deepEqual([o.host, o.port, o.db, o.tls, o.password], ['10.0.0.5', 6379, 0, undefined, undefined]);
  });
});

describe('state config: invalid', () => {
  const table: readonly [string, unknown, RegExp][] = [
    ['an unknown backend', { state: { backend: 'etcd' } }, /backend/],
    ['a password in the URL', { state: { backend: 'redis', url: 'redis://:hunter2@h:6379' } }, /user info/],
    ['both url and host', { state: { backend: 'redis', url: 'redis://h', host: 'h' } }, /exactly one/],
    ['neither url nor host', { state: { backend: 'redis' } }, /exactly one/],
    ['an http URL', { state: { backend: 'redis', url: 'http://h' } }, /redis:\/\//],
    ['a misspelt field', { state: { backend: 'redis', host: 'h', timeoutMS: 5 } }, /timeoutMS/],
    ['a timeout of 0', { state: { backend: 'redis', host: 'h', timeoutMs: 0 } }, /timeoutMs/],
    ['a fractional token budget', { budgets: [{ name: 'b', per: 'identity', metric: 'tokens', limit: 1.5, window: '1d' }] }, /whole number/],
    ['a cost budget without prices', { budgets: [{ name: 'b', per: 'identity', metric: 'cost', limit: 5, window: '1d' }] }, /price catalog/],
    ['a budget and a limit with one name', { budgets: [{ name: 'x', per: 'identity', metric: 'tokens', limit: 5, window: '1d' }], rateLimits: [{ name: 'x', per: 'identity', unit: 'requests', limit: 1, window: '1s' }] }, /duplicate/],
    ['a subject that is not identity, tenant or a claim', { rateLimits: [{ name: 'x', per: 'user', unit: 'requests', limit: 1, window: '1s' }] }, /per/],
    ['a rate-limit window over a day', { rateLimits: [{ name: 'x', per: 'identity', unit: 'requests', limit: 1, window: '2d' }] }, /at most 1d/],
    ['an unknown anomaly flag', { anomaly: { deny: ['weird'] } }, /deny/],
    ['alpha 0', { anomaly: { alpha: 0 } }, /alpha/],
    ['a bad price model pattern', { prices: [{ provider: 'openai', model: 'gpt*4', inputPerMTok: 1, outputPerMTok: 1 }] }, /model/],
  ];
  for (const [name, input, pattern] of table) {
    it(`refuses ${name}`, () => {
      const r = stateConfigSchema.safeParse(input);
      assert.equal(r.success, false);
      assert.match(z.prettifyError(r.error), pattern);
    });
  }
});

describe('audit chain config', () => {
  it('off by default; hmac needs a key; sha256 takes none', () => {
    assert.deepEqual(auditChainSchema.parse(undefined), { enabled: false, algorithm: 'sha256', rotateBytes: 100 * 1024 * 1024 });
    assert.ok(auditChainSchema.safeParse({ enabled: true, algorithm: 'hmac-sha256', key: { source: 'file', path: '/k' }, replica: 'tollgate-0' }).success);
    assert.match(z.prettifyError(auditChainSchema.safeParse({ algorithm: 'hmac-sha256' }).error!), /needs a key/);
    assert.match(z.prettifyError(auditChainSchema.safeParse({ key: { source: 'env', name: 'K' } }).error!), /only used with/);
    assert.equal(auditChainSchema.safeParse({ replica: 'a b' }).success, false);
  });
});

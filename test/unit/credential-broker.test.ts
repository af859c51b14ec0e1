// The credential broker: per-scope cache, single-flight, background refresh, lease renewal timing,
// hard-expiry fail-closed, kill switch, close. Time is driven by a manual scheduler.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Secret } from '../../extproc/core/secret.ts';
import { createCredentialBroker, IdentityDisabledError, type BrokerOptions, type LeaseEventKind } from '../../extproc/credentials/broker.ts';
import { credentialMeta, type Credential, type CredentialScope, type CredentialSource } from '../../extproc/credentials/credential-source.ts';
import { backoffDelay, MAX_TIMER_MS, renewDelay, systemScheduler } from '../../extproc/credentials/timing.ts';
import { VaultError } from '../../extproc/credentials/vault/errors.ts';
import { TollgateError } from '../../extproc/errors.ts';
import { tollgateRejection } from '../helpers/assertions.ts';
import { servedAtOnce } from '../helpers/credentials.ts';
import { manualScheduler, settle, type ManualScheduler } from '../helpers/fake-vault.ts';

const REFRESH_MS = 5_000;
const MARGIN_MS = 30_000;
const HOUR = 3_600_000;

const reveal = (c: Credential | undefined): string | undefined => (c === undefined || c.kind === 'none' || c.kind === 'aws' ? undefined : c.secret.reveal());
const apiKey = (value: string, expiresAt?: number): Credential => ({ kind: 'api-key', secret: new Secret(value), meta: { source: 'fake', ...(expiresAt === undefined ? {} : { expiresAt }) } });
const scope = (identity: string, tenant = 'team-a', provider = 'openai'): CredentialScope => ({ tenant, identity, provider });

interface FakeSource extends CredentialSource {
  calls: CredentialScope[];
  renews: number;
  revoked: string[];
  closed: number;
}

/** A source that records every call and answers through a function the test controls. */
function fakeSource(answer: (scope: CredentialScope, call: number) => Promise<Credential>): FakeSource {
  const src: FakeSource = {
    description: 'fake:test',
    calls: [],
    renews: 0,
    revoked: [],
    closed: 0,
    fetch(s) {
      src.calls.push(s);
      return answer(s, src.calls.length);
    },
    close() {
      src.closed++;
      return Promise.resolve();
    },
  };
  return src;
}

/** A leased source: every fetch issues lease N with ttlMs; renew answers through `renewTtl` (ms, or an Error). */
function leasedSource(sched: ManualScheduler, ttlMs: number, renewTtl: () => number | Error = () => ttlMs): FakeSource & { live: Set<string> } {
  const live = new Set<string>();
  const ids = new WeakMap<Credential, string>();
  const make = (id: string, value: string, expiresAt: number): Credential => {
    const c: Credential = { kind: 'api-key', secret: new Secret(value), meta: { source: 'fake:leased', expiresAt, renewable: true, leaseIdHash: `h-${id}` } };
    ids.set(c, id);
    return c;
  };
  const src = fakeSource((_s, n) => {
    const id = `lease-${n}`;
    live.add(id);
    return Promise.resolve(make(id, `sk-leased-${n}`, sched.now() + ttlMs));
  }) as FakeSource & { live: Set<string> };
  src.live = live;
  src.renew = (c) => {
    src.renews++;
    const r = renewTtl();
    if (r instanceof Error) return Promise.reject(r);
    const id = ids.get(c) ?? '?';
    return Promise.resolve(make(id, reveal(c) ?? '', sched.now() + r));
  };
  src.revoke = (c) => {
    const id = ids.get(c);
    if (id === undefined || !live.has(id)) return Promise.resolve(false);
    live.delete(id);
    src.revoked.push(id);
    return Promise.resolve(true);
  };
  return src;
}

function broker(source: CredentialSource, sched: ManualScheduler, extra: Partial<BrokerOptions> = {}) {
  return createCredentialBroker(new Map([['openai', source]]), { refreshMs: REFRESH_MS, expiryMarginMs: MARGIN_MS, scheduler: sched, random: () => 0.5, idleMs: 1_000 * HOUR, ...extra });
}

describe('credential broker: cache and single-flight', () => {
  it('single-flights concurrent misses: 20 gets, one fetch, one credential', async () => {
    let release: (c: Credential) => void = () => undefined;
    const src = fakeSource(() => new Promise<Credential>((resolve) => { release = resolve; }));
    const b = broker(src, manualScheduler());
    const pending = Array.from({ length: 20 }, () => b.get(scope('agent-1')));
    await Promise.resolve();
    assert.equal(src.calls.length, 1);
    const cred = apiKey('sk-one');
    release(cred);
    const results = await Promise.all(pending);
    assert.equal(src.calls.length, 1);
    for (const r of results) assert.equal(r, cred);
    assert.equal(await b.get(scope('agent-1')), cred, 'then served from cache');
    assert.equal(servedAtOnce(b, scope('agent-1')), cred, 'and a lookup is answered at once');
    assert.equal(src.calls.length, 1);
  });

  it('caches per (tenant, identity, provider) and never shares across identities', async () => {
    const src = fakeSource((s) => Promise.resolve(apiKey(`key-for-${s.tenant}/${s.identity}`)));
    const b = broker(src, manualScheduler());
    const scopes = [scope('agent-1'), scope('agent-2'), scope('agent-1', 'team-b')];
    const [a1, a2, b1] = await Promise.all(scopes.map((s) => b.get(s)));
    assert.equal(src.calls.length, 3, 'concurrent misses for different scopes are not merged');
    assert.deepEqual(src.calls, scopes);
    assert.equal(reveal(a1), 'key-for-team-a/agent-1');
    assert.equal(reveal(a2), 'key-for-team-a/agent-2');
    assert.equal(reveal(b1), 'key-for-team-b/agent-1');
    assert.equal(reveal(servedAtOnce(b, scope('agent-2'))), 'key-for-team-a/agent-2');
    assert.equal(reveal(await b.get(scope('agent-1'))), 'key-for-team-a/agent-1');
    assert.equal(src.calls.length, 3);
  });

  it('does not confuse scopes whose parts concatenate to the same string', async () => {
    const src = fakeSource((s) => Promise.resolve(apiKey(`${s.tenant}|${s.identity}`)));
    const b = broker(src, manualScheduler());
    assert.equal(reveal(await b.get(scope('b-c', 'a'))), 'a|b-c');
    assert.equal(reveal(await b.get(scope('c', 'a-b'))), 'a-b|c');
    assert.equal(src.calls.length, 2);
  });

  it('a lookup on a cold scope waits for the one fetch; once cached it is answered at once, with no source call', async () => {
    const src = fakeSource(() => Promise.resolve(apiKey('x')));
    const b = broker(src, manualScheduler());
    const cold = b.lookup(scope('a'));
    assert.ok(cold instanceof Promise, 'a miss is a Promise');
    assert.equal(reveal(await cold), 'x');
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'x');
    assert.equal(src.calls.length, 1);
  });
});

describe('credential broker: background refresh', () => {
  it('re-reads a credential without expiry in the background every refreshMs (±10 %), so the request path never waits', async () => {
    const sched = manualScheduler();
    const src = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-${n}`)));
    const b = broker(src, sched, { random: () => 0 });
    assert.equal(reveal(await b.get(scope('a'))), 'sk-1');
    assert.deepEqual(sched.pending(), [REFRESH_MS * 0.9], 'one refresh timer at 90 % of refreshMs with random=0');
    await sched.advance(REFRESH_MS * 0.9 - 1);
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-1');
    assert.equal(src.calls.length, 1);
    await sched.advance(1);
    assert.equal(src.calls.length, 2, 'refreshed by the timer, not by a request');
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-2', 'the rotated value is served without any caller waiting');
  });

  const jitter: readonly [number, number][] = [[0, 0.7], [0.5, 0.7 + 0.05 / 3], [0.999_999, 0.7 + 0.1 / 3]];
  for (const [r, fraction] of jitter) {
    it(`renews a lease at ${fraction.toFixed(4)} of its remaining TTL when random()=${r}`, async () => {
      const sched = manualScheduler();
      const src = leasedSource(sched, HOUR);
      const b = broker(src, sched, { random: () => r });
      await b.get(scope('a'));
      const [delay] = sched.pending();
      assert.ok(delay !== undefined && Math.abs(delay - fraction * HOUR) <= 1, `delay ${delay} vs ${fraction * HOUR}`);
      assert.ok(delay >= (2 / 3) * HOUR && delay < 0.74 * HOUR, 'between 2/3 and ~3/4 of the TTL');
      await sched.advance(delay - 1);
      assert.equal(src.renews, 0);
      await sched.advance(1);
      assert.equal(src.renews, 1);
      assert.equal(src.calls.length, 1, 'renewed, not re-fetched');
      const exp = credentialMeta(servedAtOnce(b, scope('a')) ?? apiKey('x'))?.expiresAt;
      assert.equal(exp, sched.now() + HOUR, 'the renewed expiry is served');
    });
  }

  it('renewDelay stays within [2/3 + 1/30, 2/3 + 1/15) of the remaining time over many draws', () => {
    for (let i = 0; i <= 100; i++) {
      const d = renewDelay(90_000, () => i / 101);
      assert.ok(d >= 90_000 * (2 / 3 + 1 / 30) - 1 && d < 90_000 * (2 / 3 + 1 / 15) + 1, String(d));
    }
  });

  const backoffs: readonly [number, number, number][] = [[1, 500, 1_000], [2, 1_000, 2_000], [3, 2_000, 4_000], [9, 128_000, 256_000], [10, 150_000, 300_000], [30, 150_000, 300_000]];
  for (const [attempt, lo, hi] of backoffs) {
    it(`backoff attempt ${attempt} waits within [${lo}, ${hi}] ms`, () => {
      assert.equal(backoffDelay(attempt, () => 0), lo);
      assert.equal(backoffDelay(attempt, () => 1), hi);
      const mid = backoffDelay(attempt, () => 0.37);
      assert.ok(mid > lo && mid < hi);
    });
  }

  it('fetches a new lease when renewal stops extending it, and revokes the old one after the grace', async () => {
    const sched = manualScheduler();
    let renewTtl = HOUR;
    const src = leasedSource(sched, HOUR, () => renewTtl);
    const events: LeaseEventKind[] = [];
    const b = broker(src, sched, { retireGraceMs: 10_000, observer: { leaseEvent: (k) => events.push(k) } });
    await b.get(scope('a'));
    await sched.advance(sched.pending()[0] ?? 0);
    assert.equal(src.renews, 1);
    renewTtl = 60_000; // max TTL: the renewal grants less than is left
    await sched.advance(sched.pending()[0] ?? 0);
    assert.equal(src.renews, 2);
    assert.equal(src.calls.length, 2, 'a fresh lease was fetched');
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-leased-2');
    assert.deepEqual([...src.live].sort(), ['lease-1', 'lease-2'], 'the old lease lives on for in-flight requests');
    await sched.advance(10_000);
    assert.deepEqual(src.revoked, ['lease-1']);
    assert.deepEqual(events, ['issued', 'renewed', 'replaced', 'issued', 'revoked']);
  });

  it('a failed refresh keeps the still-valid credential, retries with backoff, then fails closed at expiry minus margin', async () => {
    const sched = manualScheduler();
    let vaultUp = true;
    const src = leasedSource(sched, 120_000, () => (vaultUp ? 120_000 : new Error('vault down')));
    const failures: number[] = [];
    const b = broker(src, sched, { observer: { refreshFailed: (_s, n) => failures.push(n) } });
    const issuedAt = sched.now();
    await b.get(scope('a'));
    vaultUp = false;
    const realFetch = src.fetch.bind(src);
    src.fetch = (s) => (vaultUp ? realFetch(s) : Promise.reject(new Error('vault down')));
    // Serve until 120 s - 30 s margin = 90 s after issue, no matter how many refreshes fail.
    await sched.advance(89_999 - (sched.now() - issuedAt));
    assert.ok(failures.length >= 2, `refresh retried: ${failures.length}`);
    assert.deepEqual(failures, failures.map((_x, i) => i + 1), 'consecutive failures are counted');
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-leased-1', 'still served 1 ms before expiry minus margin');
    await sched.advance(1);
    assert.equal(servedAtOnce(b, scope('a')), undefined, 'never served at expiry minus margin');
    const err = await tollgateRejection(b.get(scope('a')));
    assert.equal(err.code, 'credential_unavailable');
    vaultUp = true;
    assert.equal(reveal(await b.get(scope('a'))), 'sk-leased-2', 'recovers once Vault answers');
  });

  it('re-checks expiry on every lookup, even with no timer firing', async () => {
    const sched = manualScheduler();
    const src = fakeSource(() => Promise.resolve(apiKey('sk', sched.now() + MARGIN_MS + 1_000)));
    const b = broker(src, sched);
    await b.get(scope('a'));
    sched.set(sched.now() + 999);
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk');
    sched.set(sched.now() + 1);
    assert.equal(servedAtOnce(b, scope('a')), undefined);
  });

  const expired: readonly [string, number][] = [
    ['already expired', -1],
    ['expiring exactly at the margin', MARGIN_MS],
    ['expiring inside the margin', MARGIN_MS - 1],
  ];
  for (const [label, offset] of expired) {
    it(`rejects a credential ${label} with credential_unavailable, does not cache it, and remembers the failure`, async () => {
      const sched = manualScheduler();
      const src = fakeSource(() => Promise.resolve(apiKey('sk-stale', sched.now() + offset)));
      const b = broker(src, sched);
      const err = await tollgateRejection(b.get(scope('a')));
      assert.equal(err.code, 'credential_unavailable');
      assert.match(err.message, /fake:test returned a credential that lives \d+ s, not longer than the expiry margin/);
      // Remembered: the next request fails at once without asking the source again.
      await tollgateRejection(b.get(scope('a')));
      assert.equal(servedAtOnce(b, scope('a')), undefined);
      assert.equal(src.calls.length, 1);
    });
  }

  it('drops an idle scope (revoking its lease) instead of refreshing it', async () => {
    const sched = manualScheduler();
    const src = leasedSource(sched, HOUR);
    const events: LeaseEventKind[] = [];
    const b = broker(src, sched, { idleMs: 10 * 60_000, observer: { leaseEvent: (k) => events.push(k) } });
    await b.get(scope('a'));
    await sched.advance(HOUR * 0.74);
    assert.equal(src.renews, 0);
    assert.deepEqual(src.revoked, ['lease-1']);
    assert.ok(events.includes('idle_dropped'));
    assert.equal(servedAtOnce(b, scope('a')), undefined);
  });

  it('invalidate() re-reads at once, serves the new value, and is rate-limited', async () => {
    const sched = manualScheduler();
    const src = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-${n}`)));
    const b = broker(src, sched, { invalidateMinIntervalMs: 5_000, refreshMs: HOUR });
    await b.get(scope('a'));
    await b.invalidate(scope('a'));
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-2');
    await b.invalidate(scope('a'));
    assert.equal(src.calls.length, 2, 'a second 401 within 5 s does not hammer Vault');
    await sched.advance(5_000);
    await b.invalidate(scope('a'));
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-3');
  });

  it('invalidate() that fails keeps the still-valid credential', async () => {
    const sched = manualScheduler();
    const src = fakeSource((_s, n) => (n === 1 ? Promise.resolve(apiKey('sk-1')) : Promise.reject(new Error('down'))));
    const b = broker(src, sched);
    await b.get(scope('a'));
    await b.invalidate(scope('a'));
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-1');
  });
});

describe('credential broker: errors', () => {
  it('maps a source failure to credential_unavailable without the secret, and does not cache the failure', async () => {
    const SECRET = 'sk-live-do-not-print-me';
    const src = fakeSource((_s, n) => (n === 1 ? Promise.reject(new Error('vault: connection refused')) : Promise.resolve(apiKey(SECRET))));
    const b = broker(src, manualScheduler());
    const err = await tollgateRejection(b.get(scope('a')));
    assert.equal(err.code, 'credential_unavailable');
    assert.equal(err.entry.userFacing, false);
    assert.match(err.message, /^credential_unavailable: fake:test: vault: connection refused$/);
    assert.ok(err.cause instanceof Error);
    assert.equal(reveal(await b.get(scope('a'))), SECRET, 'a failure is not cached');
    for (const text of [err.message, String(err), err.stack ?? '', inspect(err, { depth: null }), JSON.stringify(err), inspect(b, { depth: null })]) assert.ok(!text.includes(SECRET), text);
    assert.equal(src.calls.length, 2);
  });

  it('passes a TollgateError from the source through unchanged', async () => {
    const own = new TollgateError('credential_unavailable', 'file is empty');
    const b = broker(fakeSource(() => Promise.reject(own)), manualScheduler());
    assert.equal(await tollgateRejection(b.get(scope('a'))), own);
  });

  it('rejects an unknown provider with credential_unavailable without calling any source', async () => {
    const src = fakeSource(() => Promise.resolve(apiKey('x')));
    const err = await tollgateRejection(broker(src, manualScheduler()).get(scope('a', 'team-a', 'anthropic')));
    assert.equal(err.code, 'credential_unavailable');
    assert.match(err.message, /anthropic/);
    assert.equal(src.calls.length, 0);
  });

  it('single-flights a failure too, then retries', async () => {
    let fail: (e: Error) => void = () => undefined;
    const src = fakeSource((_s, n) => (n === 1 ? new Promise<Credential>((_r, reject) => { fail = reject; }) : Promise.resolve(apiKey('sk-2'))));
    const b = broker(src, manualScheduler());
    const pending = [b.get(scope('a')), b.get(scope('a')), b.get(scope('a'))];
    fail(new Error('down'));
    const errs = await Promise.all(pending.map((p) => tollgateRejection(p)));
    assert.equal(src.calls.length, 1);
    for (const e of errs) assert.equal(e.code, 'credential_unavailable');
    assert.equal(reveal(await b.get(scope('a'))), 'sk-2');
  });

  it('a source that throws synchronously does not poison the scope', async () => {
    let n = 0;
    const src: CredentialSource = {
      description: 'sync-throw',
      fetch: () => {
        n++;
        if (n === 1) throw new Error('not configured yet');
        return Promise.resolve(apiKey('sk-recovered'));
      },
      close: () => Promise.resolve(),
    };
    const b = broker(src, manualScheduler());
    assert.equal((await tollgateRejection(b.get(scope('a')))).code, 'credential_unavailable');
    assert.equal(reveal(await b.get(scope('a'))), 'sk-recovered');
    assert.equal(n, 2);
  });
});

describe('credential broker: kill switch and close', () => {
  it('revokeIdentity revokes every lease of that identity, denies it until re-enabled, and leaves others alone', async () => {
    const sched = manualScheduler();
    const src = leasedSource(sched, HOUR);
    const other = leasedSource(sched, HOUR);
    const b = createCredentialBroker(new Map([['openai', src], ['bedrock', other]]), { refreshMs: REFRESH_MS, expiryMarginMs: MARGIN_MS, scheduler: sched, idleMs: 1_000 * HOUR });
    await b.get(scope('agent-1'));
    await b.get(scope('agent-1', 'team-a', 'bedrock'));
    await b.get(scope('agent-2'));
    const r = await b.revokeIdentity('team-a', 'agent-1');
    assert.deepEqual(r, { revoked: 2 });
    assert.deepEqual(src.revoked, ['lease-1']);
    assert.deepEqual(other.revoked, ['lease-1']);
    assert.ok(b.isDisabled('team-a', 'agent-1'));
    assert.equal(servedAtOnce(b, scope('agent-1')), undefined);
    const err = await tollgateRejection(b.get(scope('agent-1')));
    assert.ok(err instanceof IdentityDisabledError);
    assert.equal(err.code, 'identity_disabled', '403, never a retryable 503');
    assert.equal(src.calls.length, 2, 'a disabled identity costs no Vault call');
    assert.equal(reveal(servedAtOnce(b, scope('agent-2'))), 'sk-leased-2', 'another identity keeps its credential');
    assert.ok(!b.isDisabled('team-b', 'agent-1'), 'the same identity name in another tenant is not disabled');
    b.enableIdentity('team-a', 'agent-1');
    assert.equal(reveal(await b.get(scope('agent-1'))), 'sk-leased-3', 're-enabled: a fresh lease');
  });

  it('a lease that arrives for an identity disabled while it was being fetched is revoked, not cached', async () => {
    const sched = manualScheduler();
    const src = leasedSource(sched, HOUR);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const inner = src.fetch.bind(src);
    src.fetch = async (s) => { const c = await inner(s); await gate; return c; };
    const b = broker(src, sched);
    const p = b.get(scope('agent-1'));
    await settle();
    assert.deepEqual(await b.revokeIdentity('team-a', 'agent-1'), { revoked: 0 });
    release();
    assert.ok((await tollgateRejection(p)) instanceof IdentityDisabledError);
    assert.deepEqual(src.revoked, ['lease-1']);
    assert.equal(src.live.size, 0);
  });

  it('close() revokes every lease (retired ones too), stops timers and closes each source once', async () => {
    const sched = manualScheduler();
    let renewTtl = HOUR;
    const src = leasedSource(sched, HOUR, () => renewTtl);
    const b = createCredentialBroker(new Map([['openai', src], ['openai-eu', src]]), { refreshMs: REFRESH_MS, expiryMarginMs: MARGIN_MS, scheduler: sched, retireGraceMs: HOUR, idleMs: 1_000 * HOUR });
    await b.get(scope('a'));
    await b.get(scope('b'));
    renewTtl = 1_000;
    await sched.advance(sched.pending()[0] ?? 0); // one lease replaced; the old one waits in "retired"
    assert.equal(src.live.size, 3);
    await b.close();
    assert.equal(src.live.size, 0, `all revoked, got ${[...src.live].join(',')}`);
    assert.equal(src.closed, 1);
    assert.deepEqual(sched.pending(), [], 'no timer left');
    assert.equal((await tollgateRejection(b.get(scope('a')))).code, 'credential_unavailable');
  });
});

describe('timers never overflow', () => {
  it('a 40-day delay does not fire after 1 ms (Node clamps delays above 2^31-1 ms to 1 ms)', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      let fired = 0;
      const s = systemScheduler();
      s.schedule(() => { fired++; }, 40 * 24 * HOUR);
      mock.timers.tick(1);
      assert.equal(fired, 0);
      mock.timers.tick(MAX_TIMER_MS);
      assert.equal(fired, 0, 'not after the first 2^31-1 ms hop');
      mock.timers.tick(40 * 24 * HOUR - MAX_TIMER_MS - 2);
      assert.equal(fired, 0);
      mock.timers.tick(1);
      assert.equal(fired, 1);
    } finally {
      mock.timers.reset();
    }
  });

  it('never hands setTimeout more than 2^31-1 ms', () => {
    const spy = mock.method(globalThis, 'setTimeout');
    try {
      const cancel = systemScheduler().schedule(() => undefined, 768 * HOUR);
      cancel();
      const delays = spy.mock.calls.map((c) => c.arguments[1] as number);
      assert.ok(delays.length > 0);
      for (const d of delays) assert.ok(d <= MAX_TIMER_MS, String(d));
    } finally {
      spy.mock.restore();
    }
  });

  it('hops re-check the clock: with 20 ms hops a 120 ms delay fires after about 120 ms, not 20', async () => {
    const start = Date.now();
    const fired = await new Promise<number>((resolve) => { systemScheduler(Date.now, 20).schedule(() => { resolve(Date.now()); }, 120); });
    assert.ok(fired - start >= 115, `${fired - start} ms`);
  });

  it('a cancelled timer does not fire', async () => {
    let fired = false;
    const cancel = systemScheduler(Date.now, 10).schedule(() => { fired = true; }, 30);
    await new Promise((r) => setTimeout(r, 15));
    cancel();
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(fired, false);
  });
});

describe('credential broker: negative cache and forced refresh', () => {
  it('a missing path (404) is asked once, then fails at once for negativeCacheMs with the same cause', async () => {
    const sched = manualScheduler();
    const src = fakeSource(() => Promise.reject(new VaultError('kv2_read', 'http', 404, '')));
    const results: string[] = [];
    const b = broker(src, sched, { negativeCacheMs: 30_000, observer: { lookup: (r) => results.push(r) } });
    const errors: TollgateError[] = [];
    for (let i = 0; i < 20; i++) errors.push(await tollgateRejection(b.get(scope('a'))));
    await settle();
    assert.equal(src.calls.length, 1);
    assert.ok(errors.every((e) => e.code === 'credential_unavailable' && e.cause instanceof VaultError && e.cause.status === 404));
    assert.equal(results.filter((r) => r === 'negative').length, 19);
    b.prefetch(scope('a'));
    await settle();
    assert.equal(src.calls.length, 1, 'a prefetch does not ask for a remembered failure either');
    await sched.advance(30_000);
    await tollgateRejection(b.get(scope('a')));
    assert.equal(src.calls.length, 2, 'asked again once the negative entry expired');
  });

  it('a retryable failure (Vault down) is not remembered: the next request asks again', async () => {
    const sched = manualScheduler();
    const src = fakeSource(() => Promise.reject(new VaultError('kv2_read', 'transport', undefined, 'ECONNREFUSED', 'ECONNREFUSED')));
    const b = broker(src, sched, { negativeCacheMs: 30_000 });
    await tollgateRejection(b.get(scope('a')));
    await tollgateRejection(b.get(scope('a')));
    assert.equal(src.calls.length, 2);
  });

  it('a lease inside the margin is counted as ttl_below_margin with its TTL, revoked, and remembered', async () => {
    const sched = manualScheduler();
    const src = leasedSource(sched, MARGIN_MS / 2);
    const events: { kind: LeaseEventKind; ttlMs?: number | undefined }[] = [];
    const b = broker(src, sched, { observer: { leaseEvent: (kind, _s, d) => events.push({ kind, ttlMs: d?.ttlMs }) } });
    for (let i = 0; i < 5; i++) await tollgateRejection(b.get(scope('a')));
    await settle();
    assert.equal(src.calls.length, 1);
    assert.deepEqual(src.revoked, ['lease-1']);
    assert.deepEqual(events.map((e) => e.kind), ['ttl_below_margin', 'revoked']);
    assert.equal(events[0]?.ttlMs, MARGIN_MS / 2);
  });

  it('refreshAll re-reads every cached scope, keeps what fails, forgets remembered failures', async () => {
    const sched = manualScheduler();
    let fail = false;
    let missing = true;
    const src = fakeSource((s, n) => {
      if (s.identity === 'gone' && missing) return Promise.reject(new VaultError('kv2_read', 'http', 404, ''));
      if (fail && s.identity === 'b') return Promise.reject(new VaultError('kv2_read', 'http', 503, 'sealed'));
      return Promise.resolve(apiKey(`sk-${s.identity}-${n}`));
    });
    const b = broker(src, sched, { negativeCacheMs: 60_000 });
    await b.get(scope('a'));
    await b.get(scope('b'));
    await tollgateRejection(b.get(scope('gone')));
    fail = true;
    missing = false;
    const r = await b.refreshAll({ cause: 'test' });
    assert.deepEqual(r, { refreshed: 1, failed: 1, forgotten: 1 });
    assert.match(reveal(servedAtOnce(b, scope('a'))) ?? '', /^sk-a-[4-9]$/, 'a re-read');
    assert.equal(reveal(servedAtOnce(b, scope('b'))), 'sk-b-2', 'b keeps serving what it had');
    assert.match(reveal(await b.get(scope('gone'))) ?? '', /^sk-gone-/, 'the forgotten path is asked again');
  });

  it('refreshAll with leasesOnly re-fetches leases (revoking the old after the grace) and leaves KV keys alone', async () => {
    const sched = manualScheduler();
    const src = leasedSource(sched, HOUR);
    const b = broker(src, sched, { retireGraceMs: 1_000 });
    await b.get(scope('a'));
    const r = await b.refreshAll({ leasesOnly: true, cause: 'relogin' });
    assert.equal(r.refreshed, 1);
    assert.equal(reveal(servedAtOnce(b, scope('a'))), 'sk-leased-2');
    await sched.advance(1_000);
    assert.deepEqual(src.revoked, ['lease-1']);
    const kv = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-kv-${n}`)));
    const b2 = broker(kv, sched);
    await b2.get(scope('a'));
    assert.deepEqual(await b2.refreshAll({ leasesOnly: true }), { refreshed: 0, failed: 0, forgotten: 0 });
    assert.equal(kv.calls.length, 1);
  });

  it('ages() reports the oldest confirmation per source', async () => {
    const sched = manualScheduler();
    const src = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-${n}`)));
    const b = broker(src, sched);
    await b.get(scope('a'));
    await sched.advance(1_000);
    await b.get(scope('b'));
    assert.deepEqual([...b.ages()], [['fake:test', 1_000]]);
  });
});

// The credential broker: per-scope cache, single-flight, refresh, expiry, error mapping.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Secret } from '../../extproc/core/secret.ts';
import { createCredentialBroker, type BrokerOptions } from '../../extproc/credentials/broker.ts';
import type { Credential, CredentialScope, CredentialSource } from '../../extproc/credentials/credential-source.ts';
import { TollgateError } from '../../extproc/errors.ts';
import { tollgateRejection } from '../helpers/assertions.ts';

const REFRESH_MS = 5_000;
const MARGIN_MS = 30_000;

/** A source that records every fetch and answers through a function the test controls. */
function fakeSource(answer: (scope: CredentialScope, call: number) => Promise<Credential>): CredentialSource & { calls: CredentialScope[]; closed: number } {
  const src = {
    description: 'fake:test',
    calls: [] as CredentialScope[],
    closed: 0,
    fetch(scope: CredentialScope): Promise<Credential> {
      src.calls.push(scope);
      return answer(scope, src.calls.length);
    },
    close(): Promise<void> {
      src.closed++;
      return Promise.resolve();
    },
  };
  return src;
}

const apiKey = (value: string, expiresAt?: number): Credential => ({ kind: 'api-key', secret: new Secret(value), ...(expiresAt === undefined ? {} : { expiresAt }) });

function clock(start = 1_000_000): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => { t = v; }, advance: (ms) => { t += ms; } };
}

function broker(source: CredentialSource, now: () => number, extra: Partial<BrokerOptions> = {}) {
  return createCredentialBroker(new Map([['openai', source]]), { refreshMs: REFRESH_MS, expiryMarginMs: MARGIN_MS, now, ...extra });
}

const scope = (identity: string, tenant = 'team-a', provider = 'openai'): CredentialScope => ({ tenant, identity, provider });


describe('credential broker', () => {
  it('single-flights concurrent misses: 20 gets, one fetch, one credential', async () => {
    let release: (c: Credential) => void = () => undefined;
    const src = fakeSource(() => new Promise<Credential>((resolve) => { release = resolve; }));
    const c = clock();
    const b = broker(src, c.now);
    const pending = Array.from({ length: 20 }, () => b.get(scope('agent-1')));
    await Promise.resolve();
    assert.equal(src.calls.length, 1);
    const cred = apiKey('sk-one');
    release(cred);
    const results = await Promise.all(pending);
    assert.equal(src.calls.length, 1);
    for (const r of results) assert.equal(r, cred);
    assert.equal(await b.get(scope('agent-1')), cred, 'then served from cache');
    assert.equal(src.calls.length, 1);
  });

  it('caches per (tenant, identity, provider) and never shares across identities', async () => {
    const src = fakeSource((s) => Promise.resolve(apiKey(`key-for-${s.tenant}/${s.identity}`)));
    const b = broker(src, clock().now);
    const scopes = [scope('agent-1'), scope('agent-2'), scope('agent-1', 'team-b')];
    const [a1, a2, b1] = await Promise.all(scopes.map((s) => b.get(s)));
    assert.equal(src.calls.length, 3, 'concurrent misses for different scopes are not merged');
    assert.deepEqual(src.calls, scopes);
    assert.equal(a1?.secret?.reveal(), 'key-for-team-a/agent-1');
    assert.equal(a2?.secret?.reveal(), 'key-for-team-a/agent-2');
    assert.equal(b1?.secret?.reveal(), 'key-for-team-b/agent-1');
    assert.equal((await b.get(scope('agent-2'))).secret?.reveal(), 'key-for-team-a/agent-2');
    assert.equal((await b.get(scope('agent-1'))).secret?.reveal(), 'key-for-team-a/agent-1');
    assert.equal(src.calls.length, 3);
  });

  it('does not confuse scopes whose parts concatenate to the same string', async () => {
    const src = fakeSource((s) => Promise.resolve(apiKey(`${s.tenant}|${s.identity}`)));
    const b = broker(src, clock().now);
    assert.equal((await b.get(scope('b-c', 'a'))).secret?.reveal(), 'a|b-c');
    assert.equal((await b.get(scope('c', 'a-b'))).secret?.reveal(), 'a-b|c');
    assert.equal(src.calls.length, 2);
  });

  it('serves from cache until refreshMs has passed, then asks the source again', async () => {
    const src = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-${n}`)));
    const c = clock();
    const b = broker(src, c.now);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-1');
    c.advance(REFRESH_MS - 1);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-1');
    assert.equal(src.calls.length, 1);
    c.advance(1);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-2');
    assert.equal(src.calls.length, 2);
  });

  it('refreshes a credential before its expiry margin even within refreshMs', async () => {
    const c = clock();
    const src = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-${n}`, c.now() + MARGIN_MS + 1_000)));
    const b = broker(src, c.now);
    await b.get(scope('a'));
    c.advance(999);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-1');
    c.advance(1);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-2');
  });

  const expired: readonly [string, number][] = [
    ['already expired', -1],
    ['expiring exactly at the margin', MARGIN_MS],
    ['expiring inside the margin', MARGIN_MS - 1],
  ];
  for (const [label, offset] of expired) {
    it(`rejects a credential ${label} with credential_unavailable and does not cache it`, async () => {
      const c = clock();
      const src = fakeSource(() => Promise.resolve(apiKey('sk-stale', c.now() + offset)));
      const b = broker(src, c.now);
      const err = await tollgateRejection(b.get(scope('a')));
      assert.equal(err.code, 'credential_unavailable');
      assert.match(err.message, /fake:test returned an expired credential/);
      await tollgateRejection(b.get(scope('a')));
      assert.equal(src.calls.length, 2);
    });
  }

  it('accepts a credential expiring just outside the margin', async () => {
    const c = clock();
    const b = broker(fakeSource(() => Promise.resolve(apiKey('sk-ok', c.now() + MARGIN_MS + 1))), c.now);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-ok');
  });

  it('maps a source failure to credential_unavailable without the secret, and retries next time', async () => {
    const SECRET = 'sk-live-do-not-print-me';
    const c = clock();
    const src = fakeSource((_s, n) => (n === 2 ? Promise.reject(new Error('vault: connection refused')) : Promise.resolve(apiKey(SECRET))));
    const b = broker(src, c.now);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), SECRET);
    c.advance(REFRESH_MS);
    const err = await tollgateRejection(b.get(scope('a')));
    assert.equal(err.code, 'credential_unavailable');
    assert.equal(err.entry.userFacing, false);
    assert.match(err.message, /^credential_unavailable: fake:test: vault: connection refused$/);
    assert.ok(err.cause instanceof Error);
    for (const text of [err.message, String(err), err.stack ?? '', inspect(err, { depth: null }), JSON.stringify(err)]) assert.ok(!text.includes(SECRET), text);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), SECRET, 'a failure is not cached');
    assert.equal(src.calls.length, 3);
  });

  it('passes a TollgateError from the source through unchanged', async () => {
    const own = new TollgateError('credential_unavailable', 'file is empty');
    const b = broker(fakeSource(() => Promise.reject(own)), clock().now);
    assert.equal(await tollgateRejection(b.get(scope('a'))), own);
  });

  it('rejects an unknown provider with credential_unavailable without calling any source', async () => {
    const src = fakeSource(() => Promise.resolve(apiKey('x')));
    const err = await tollgateRejection(broker(src, clock().now).get(scope('a', 'team-a', 'anthropic')));
    assert.equal(err.code, 'credential_unavailable');
    assert.match(err.message, /anthropic/);
    assert.equal(src.calls.length, 0);
  });

  it('single-flights a failure too, then retries', async () => {
    let fail: (e: Error) => void = () => undefined;
    const src = fakeSource((_s, n) => (n === 1 ? new Promise<Credential>((_r, reject) => { fail = reject; }) : Promise.resolve(apiKey('sk-2'))));
    const b = broker(src, clock().now);
    const pending = [b.get(scope('a')), b.get(scope('a')), b.get(scope('a'))];
    fail(new Error('down'));
    const errs = await Promise.all(pending.map((p) => tollgateRejection(p)));
    assert.equal(src.calls.length, 1);
    for (const e of errs) assert.equal(e.code, 'credential_unavailable');
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-2');
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
    const b = broker(src, clock().now);
    assert.equal((await tollgateRejection(b.get(scope('a')))).code, 'credential_unavailable');
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-recovered');
    assert.equal(n, 2);
  });

  it('close() closes every source and drops the cache', async () => {
    const src = fakeSource((_s, n) => Promise.resolve(apiKey(`sk-${n}`)));
    const other = fakeSource(() => Promise.resolve(apiKey('x')));
    const b = createCredentialBroker(new Map([['openai', src], ['anthropic', other]]), { refreshMs: REFRESH_MS, expiryMarginMs: MARGIN_MS, now: clock().now });
    await b.get(scope('a'));
    await b.close();
    assert.equal(src.closed, 1);
    assert.equal(other.closed, 1);
    assert.equal((await b.get(scope('a'))).secret?.reveal(), 'sk-2');
  });
});

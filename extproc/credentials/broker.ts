// The credential broker: a per-scope cache refreshed in the background, so the request path awaits nothing.
import { TollgateError } from '../errors.ts';
import { credentialMeta, type Credential, type CredentialScope, type CredentialSource } from './credential-source.ts';
import { backoffDelay, DEFAULT_BACKOFF, jittered, renewDelay, systemScheduler, type BackoffPolicy, type Cancel, type Scheduler } from './timing.ts';

export interface CredentialBroker {
  /** The credential for a provider, for this caller. Rejects with credential_unavailable. */
  get(scope: CredentialScope): Promise<Credential>;
  /** The same lookup as get(), counted the same, but a cache hit is answered at once rather than in a Promise. */
  lookup(scope: CredentialScope): Credential | Promise<Credential>;
  /**
   * Starts loading a scope that is not cached (ext_authz, so the fetch overlaps Envoy's buffering).
   * Silent: no lookup is counted; the request's own get() counts it and reports its failure.
   */
  prefetch(scope: CredentialScope): void;
  /** The provider rejected the credential (e.g. 401): re-read it now. Resolves when the re-read settles. */
  invalidate(scope: CredentialScope): Promise<void>;
  /**
   * A forced refresh: re-reads every cached credential (only the leases with leasesOnly, after Tollgate's
   * own token changed), and forgets the missing paths remembered by the negative cache. A credential whose
   * re-read fails keeps serving until its own serving window closes.
   */
  refreshAll(options?: { readonly leasesOnly?: boolean; readonly cause?: string }): Promise<RefreshSummary>;
  /** The age (ms since its source last confirmed it) of the oldest cached credential, per source. */
  ages(): ReadonlyMap<string, number>;
  /** Kill switch: deny the identity and revoke every lease held for it. */
  revokeIdentity(tenant: string, identity: string): Promise<{ revoked: number }>;
  isDisabled(tenant: string, identity: string): boolean;
  enableIdentity(tenant: string, identity: string): void;
  /** Stops refreshing, revokes every lease, closes the sources. */
  close(): Promise<void>;
}

export type LeaseEventKind = 'issued' | 'renewed' | 'replaced' | 'revoked' | 'revoke_failed' | 'expired' | 'idle_dropped' | 'ttl_below_margin';

export interface RefreshSummary {
  /** Re-read and replaced (or confirmed). */
  readonly refreshed: number;
  /** The re-read failed; the cached credential keeps serving. */
  readonly failed: number;
  /** Missing paths forgotten by the negative cache. */
  readonly forgotten: number;
}

/** What a lifecycle event is about, for its log line. Never a secret or a lease id. */
export interface BrokerEventDetail {
  readonly scope?: CredentialScope;
  /** Why: renewal, max_ttl, relogin, forced, provider_rejected, ... */
  readonly cause?: string;
  /** For ttl_below_margin: the credential's remaining lifetime and the margin, ms. */
  readonly ttlMs?: number;
  readonly marginMs?: number;
}

/** Plain callbacks, so the composition root can map them to metrics. Arguments never hold secrets. */
export interface BrokerObserver {
  leaseEvent?(kind: LeaseEventKind, source: string, detail?: BrokerEventDetail): void;
  refreshFailed?(source: string, consecutiveFailures: number, error: unknown, scope?: CredentialScope): void;
  /** hit: served from cache; miss: the caller waited for the source; negative: a remembered failure answered. */
  lookup?(result: 'hit' | 'miss' | 'denied' | 'negative'): void;
}

export interface BrokerOptions {
  /** How often a credential without its own expiry (env, file, KV v2) is re-read in the background. */
  readonly refreshMs: number;
  /** A credential is not served within this margin of its hard expiry. */
  readonly expiryMarginMs: number;
  /** A scope unused this long is dropped (its lease revoked) instead of refreshed. Default 1 h. */
  readonly idleMs?: number;
  /** A lease replaced by a new one is revoked after this delay, so in-flight requests finish. Default 60 s. */
  readonly retireGraceMs?: number;
  /** invalidate() re-reads a scope at most this often. Default 5 s. */
  readonly invalidateMinIntervalMs?: number;
  /**
   * How long get() waits for a credential that is not cached (a miss) before it rejects with
   * credential_unavailable. The fetch itself goes on (single-flighted) and fills the cache for the next
   * request. Keep it below Envoy's ext_proc message_timeout (1 s in the rendered config), so a slow or
   * unreachable Vault (a transport retry waits 1-1.5 s) gives the caller a clear 503, not Envoy's 504.
   * Default 800 ms; Infinity waits as long as the source takes.
   */
  readonly missWaitMs?: number;
  /**
   * A scope whose source answered with a permanent failure (a missing path, a refused policy, a
   * credential that lives no longer than the margin) fails at once for this long instead of asking the
   * source on every request. Default 30 s; a forced refresh forgets it sooner.
   */
  readonly negativeCacheMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly scheduler?: Scheduler;
  readonly random?: () => number;
  readonly observer?: BrokerObserver;
}

/** Thrown for an identity the kill switch disabled: 403 identity_disabled, never a retryable 503. */
export class IdentityDisabledError extends TollgateError {
  constructor(tenant: string, identity: string) {
    super('identity_disabled', `identity ${JSON.stringify(identity)} of tenant ${JSON.stringify(tenant)} is disabled by the kill switch`);
    this.name = 'IdentityDisabledError';
  }
}

/** No credential for a scope: the scope travels with the error, so a failure line can name it. */
export class CredentialUnavailableError extends TollgateError {
  readonly scope: CredentialScope;
  constructor(scope: CredentialScope, detail: string, options?: { cause?: unknown }) {
    super('credential_unavailable', detail, options);
    this.name = 'CredentialUnavailableError';
    this.scope = scope;
  }
}

interface Entry {
  readonly key: string;
  readonly scope: CredentialScope;
  readonly source: CredentialSource;
  credential: Credential;
  /** When the source last confirmed the credential (fetch or renewal). */
  confirmedAt: number;
  /** Serve until here (hard expiry minus margin); Infinity when the credential has no expiry. */
  serveUntil: number;
  lastUsed: number;
  failures: number;
  lastInvalidate: number;
  cancel: Cancel | undefined;
  refreshing: Promise<void> | undefined;
}

interface Retired {
  readonly scope: CredentialScope;
  readonly source: CredentialSource;
  readonly credential: Credential;
  cancel: Cancel | undefined;
}

const scopeKey = (s: CredentialScope): string => JSON.stringify([s.tenant, s.identity, s.provider]);
const identityKey = (tenant: string, identity: string): string => JSON.stringify([tenant, identity]);
const expiresAt = (c: Credential): number | undefined => credentialMeta(c)?.expiresAt;

/**
 * Caches credentials per (tenant, identity, provider), never across identities. Misses are
 * single-flighted. Cached credentials are refreshed in the background (leases renewed at about 2/3
 * of their remaining time, others re-read every refreshMs); a failed refresh retries with backoff
 * and never evicts a credential that is still valid; nothing is served past expiry minus margin.
 */
export function createCredentialBroker(sources: ReadonlyMap<string, CredentialSource>, options: BrokerOptions): CredentialBroker {
  const scheduler = options.scheduler ?? systemScheduler();
  const now = (): number => scheduler.now();
  const random = options.random ?? Math.random;
  const idleMs = options.idleMs ?? 60 * 60_000;
  const retireGraceMs = options.retireGraceMs ?? 60_000;
  const invalidateMinMs = options.invalidateMinIntervalMs ?? 5_000;
  const missWaitMs = options.missWaitMs ?? 800;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const obs = options.observer ?? {};
  const negativeMs = options.negativeCacheMs ?? 30_000;

  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Credential>>();
  const retired = new Set<Retired>();
  const disabled = new Set<string>();
  /** Remembered permanent failures, by scope key: answered at once until `until`. */
  const negative = new Map<string, { readonly until: number; readonly error: TollgateError }>();
  /** Bumped when a scope is dropped, so a load or refresh that was in flight does not resurrect it. */
  const generation = new Map<string, number>();
  let closed = false;
  /** A function, not the variable, so flow narrowing does not survive an await. */
  const isClosed = (): boolean => closed;

  const gen = (key: string): number => generation.get(key) ?? 0;
  const bump = (key: string): void => { generation.set(key, gen(key) + 1); };
  const isDisabledScope = (s: CredentialScope): boolean => disabled.has(identityKey(s.tenant, s.identity));
  const serveUntilOf = (c: Credential): number => {
    const e = expiresAt(c);
    return e === undefined ? Infinity : e - options.expiryMarginMs;
  };
  const isLease = (source: CredentialSource, c: Credential): boolean => source.revoke !== undefined && credentialMeta(c)?.leaseIdHash !== undefined;

  const isPermanent = (err: unknown): boolean => typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true;
  const remember = (key: string, error: TollgateError): void => {
    if (negativeMs <= 0) return;
    if (negative.size >= 10_000) for (const [k, v] of negative) if (v.until <= now()) negative.delete(k);
    negative.set(key, { until: now() + negativeMs, error });
  };
  /** A credential that is already inside the margin when it arrives: counted, logged, revoked. */
  const tooShort = async (source: CredentialSource, scope: CredentialScope, c: Credential): Promise<TollgateError> => {
    const ttlMs = Math.max(0, (expiresAt(c) ?? now()) - now());
    obs.leaseEvent?.('ttl_below_margin', source.description, { scope, ttlMs, marginMs: options.expiryMarginMs });
    await revokeOne(source, c);
    return new CredentialUnavailableError(scope, `${source.description} returned a credential that lives ${Math.round(ttlMs / 1000)} s, not longer than the expiry margin (${Math.round(options.expiryMarginMs / 1000)} s)`);
  };

  const revokeOne = async (source: CredentialSource, c: Credential): Promise<boolean> => {
    if (!isLease(source, c) || source.revoke === undefined) return false;
    try {
      const done = await source.revoke(c);
      if (done) obs.leaseEvent?.('revoked', source.description);
      return done;
    } catch {
      obs.leaseEvent?.('revoke_failed', source.description);
      return false;
    }
  };

  const retire = (entry: Entry, old: Credential): void => {
    if (!isLease(entry.source, old)) return;
    const r: Retired = { scope: entry.scope, source: entry.source, credential: old, cancel: undefined };
    retired.add(r);
    r.cancel = scheduler.schedule(() => {
      retired.delete(r);
      void revokeOne(r.source, r.credential);
    }, retireGraceMs);
  };

  const drop = (entry: Entry): void => {
    entry.cancel?.();
    entry.cancel = undefined;
    if (cache.get(entry.key) === entry) cache.delete(entry.key);
    bump(entry.key);
  };

  const nextRefreshDelay = (entry: Entry): number => {
    const e = expiresAt(entry.credential);
    if (e === undefined) return jittered(options.refreshMs, random);
    const remaining = e - now();
    const renewable = credentialMeta(entry.credential)?.renewable === true && entry.source.renew !== undefined;
    // Non-renewable secrets (STS, GCP tokens) are re-fetched at about 2/3, at the latest 85 %.
    const planned = renewable ? renewDelay(remaining, random) : Math.min(renewDelay(remaining, random), remaining * 0.85);
    // Always before the serving window closes, so a healthy Vault never lets a scope lapse.
    const window = entry.serveUntil - now();
    return Math.max(0, Math.min(planned, window * 0.9));
  };

  const schedule = (entry: Entry, delayMs: number): void => {
    entry.cancel?.();
    entry.cancel = scheduler.schedule(() => {
      entry.cancel = undefined;
      void refresh(entry);
    }, delayMs);
  };

  /** Installs a fresh credential into the entry; false if it is already unusable. */
  const install = (entry: Entry, c: Credential): boolean => {
    const until = serveUntilOf(c);
    if (until <= now()) return false;
    entry.credential = c;
    entry.serveUntil = until;
    return true;
  };

  const refreshOnce = async (entry: Entry): Promise<void> => {
    const old = entry.credential;
    const oldExpiry = expiresAt(old);
    const renewable = credentialMeta(old)?.renewable === true && entry.source.renew !== undefined;
    if (renewable && entry.source.renew !== undefined) {
      try {
        const renewed = await entry.source.renew(old, entry.scope);
        const newExpiry = expiresAt(renewed);
        // A renewal that no longer extends the lease (max TTL reached) means: fetch a new one.
        if (newExpiry !== undefined && oldExpiry !== undefined && newExpiry > oldExpiry && install(entry, renewed)) {
          entry.confirmedAt = now();
          obs.leaseEvent?.('renewed', entry.source.description, { scope: entry.scope });
          return;
        }
      } catch {
        // Fall through to a fresh fetch: the lease may be gone (revoked, expired, not renewable).
      }
    }
    const fresh = await entry.source.fetch(entry.scope);
    adopt(entry, old, fresh, renewable ? 'max_ttl' : 'scheduled');
  };

  /** Puts a freshly fetched credential in place of `old`; the old lease is retired. Throws if it is unusable. */
  const adopt = (entry: Entry, old: Credential, fresh: Credential, cause: string): void => {
    if (!install(entry, fresh)) {
      void tooShort(entry.source, entry.scope, fresh);
      throw new TollgateError('credential_unavailable', `${entry.source.description} returned a credential inside the expiry margin`);
    }
    entry.confirmedAt = now();
    if (fresh !== old && isLease(entry.source, old)) {
      obs.leaseEvent?.('replaced', entry.source.description, { scope: entry.scope, cause });
      retire(entry, old);
    }
    if (fresh !== old && isLease(entry.source, fresh)) obs.leaseEvent?.('issued', entry.source.description, { scope: entry.scope, cause });
  };

  /**
   * A re-read failed: keep serving the cached credential until its window closes, retrying with backoff but
   * waking no later than that; past the window it is dropped (expired).
   */
  const retryAfterFailure = (entry: Entry, err: unknown): void => {
    entry.failures += 1;
    obs.refreshFailed?.(entry.source.description, entry.failures, err, entry.scope);
    const window = entry.serveUntil - now();
    if (window <= 0) {
      drop(entry);
      obs.leaseEvent?.('expired', entry.source.description, { scope: entry.scope });
      return;
    }
    schedule(entry, Math.min(backoffDelay(entry.failures, random, backoff), window));
  };

  /**
   * Fetches a cached scope anew now (a forced refresh, a re-login, a provider 401). Waits for a refresh
   * already running; a failure keeps the cached credential and retries with backoff.
   */
  const reread = async (entry: Entry, cause: string): Promise<'refreshed' | 'failed' | 'skipped'> => {
    while (entry.refreshing !== undefined) await entry.refreshing;
    if (closed || cache.get(entry.key) !== entry) return 'skipped';
    let result: 'refreshed' | 'failed' | 'skipped' = 'failed';
    const p = (async () => {
      entry.cancel?.();
      entry.cancel = undefined;
      const old = entry.credential;
      const startGen = gen(entry.key);
      try {
        const fresh = await entry.source.fetch(entry.scope);
        if (gen(entry.key) !== startGen || isClosed()) {
          await revokeOne(entry.source, fresh);
          result = 'skipped';
          return;
        }
        adopt(entry, old, fresh, cause);
        entry.failures = 0;
        schedule(entry, nextRefreshDelay(entry));
        result = 'refreshed';
      } catch (err) {
        if (gen(entry.key) !== startGen || isClosed()) {
          result = 'skipped';
          return;
        }
        retryAfterFailure(entry, err);
      } finally {
        entry.refreshing = undefined;
      }
    })();
    entry.refreshing = p;
    await p;
    return result;
  };

  const refresh = (entry: Entry): Promise<void> => {
    if (entry.refreshing !== undefined) return entry.refreshing;
    if (closed || cache.get(entry.key) !== entry) return Promise.resolve();
    if (now() - entry.lastUsed >= idleMs) {
      drop(entry);
      obs.leaseEvent?.('idle_dropped', entry.source.description, { scope: entry.scope });
      void revokeOne(entry.source, entry.credential);
      return Promise.resolve();
    }
    const startGen = gen(entry.key);
    const p = (async () => {
      try {
        await refreshOnce(entry);
        if (gen(entry.key) !== startGen || isClosed()) {
          // Dropped (kill switch, close) while refreshing: whatever we just got must not live on.
          await revokeOne(entry.source, entry.credential);
          return;
        }
        entry.failures = 0;
        schedule(entry, nextRefreshDelay(entry));
      } catch (err) {
        if (gen(entry.key) !== startGen || isClosed()) return;
        retryAfterFailure(entry, err);
      } finally {
        entry.refreshing = undefined;
      }
    })();
    entry.refreshing = p;
    return p;
  };

  const usable = (key: string): Entry | undefined => {
    const e = cache.get(key);
    if (e === undefined) return undefined;
    if (e.serveUntil <= now()) {
      // Past hard expiry minus margin: never served again. A refresh may still be running.
      drop(e);
      obs.leaseEvent?.('expired', e.source.description, { scope: e.scope });
      return undefined;
    }
    return e;
  };

  /** A miss waits at most missWaitMs; the load it joined carries on without it. */
  const bounded = (p: Promise<Credential>, source: CredentialSource, scope: CredentialScope): Promise<Credential> => {
    if (!Number.isFinite(missWaitMs)) return p;
    return new Promise<Credential>((resolve, reject) => {
      const cancel = scheduler.schedule(() => {
        reject(new CredentialUnavailableError(scope, `${source.description}: no credential within ${missWaitMs} ms (the source is slow or unreachable; the fetch goes on)`));
      }, missWaitMs);
      p.then((c) => { cancel(); resolve(c); }, (err: unknown) => { cancel(); reject(err instanceof Error ? err : new Error(String(err))); });
    });
  };

  const load = async (key: string, source: CredentialSource, scope: CredentialScope): Promise<Credential> => {
    const startGen = gen(key);
    let credential: Credential;
    try {
      credential = await source.fetch(scope);
    } catch (err) {
      const e = err instanceof TollgateError ? err : new CredentialUnavailableError(scope, `${source.description}: ${err instanceof Error ? err.message : 'failed'}`, { cause: err });
      if (isPermanent(err) && gen(key) === startGen) remember(key, e);
      throw e;
    }
    if (isClosed() || gen(key) !== startGen || isDisabledScope(scope)) {
      await revokeOne(source, credential);
      if (isDisabledScope(scope)) throw new IdentityDisabledError(scope.tenant, scope.identity);
      throw new TollgateError('credential_unavailable', 'the credential broker is closed');
    }
    const entry: Entry = {
      key, scope, source, credential, confirmedAt: now(), serveUntil: serveUntilOf(credential), lastUsed: now(),
      failures: 0, lastInvalidate: -Infinity, cancel: undefined, refreshing: undefined,
    };
    if (entry.serveUntil <= now()) {
      const e = await tooShort(source, scope, credential);
      remember(key, e);
      throw e;
    }
    negative.delete(key);
    if (isLease(source, credential)) obs.leaseEvent?.('issued', source.description, { scope });
    cache.set(key, entry);
    schedule(entry, nextRefreshDelay(entry));
    return credential;
  };

  /** The single-flighted load of a scope (joined if one is running). */
  const loading = (key: string, source: CredentialSource, scope: CredentialScope): Promise<Credential> => {
    let p = inflight.get(key);
    if (p === undefined) {
      // Cleared when settled, even if the source threw synchronously (load then settles immediately).
      p = load(key, source, scope).finally(() => inflight.delete(key));
      p.catch(() => undefined); // a caller that stopped waiting must not leave an unhandled rejection
      inflight.set(key, p);
    }
    return p;
  };

  const lookup = (scope: CredentialScope): Credential | Promise<Credential> => {
    if (closed) return Promise.reject(new TollgateError('credential_unavailable', 'the credential broker is closed'));
    if (isDisabledScope(scope)) {
      obs.lookup?.('denied');
      return Promise.reject(new IdentityDisabledError(scope.tenant, scope.identity));
    }
    const source = sources.get(scope.provider);
    if (source === undefined) return Promise.reject(new TollgateError('credential_unavailable', `no credential source for provider ${scope.provider}`));
    const key = scopeKey(scope);
    const hit = usable(key);
    if (hit !== undefined) {
      hit.lastUsed = now();
      obs.lookup?.('hit');
      return hit.credential;
    }
    const known = negative.get(key);
    if (known !== undefined && known.until > now()) {
      obs.lookup?.('negative');
      return Promise.reject(known.error);
    }
    if (known !== undefined) negative.delete(key);
    obs.lookup?.('miss');
    return bounded(loading(key, source, scope), source, scope);
  };

  return {
    get(scope) {
      const c = lookup(scope);
      return c instanceof Promise ? c : Promise.resolve(c);
    },

    lookup,

    prefetch(scope) {
      if (closed || isDisabledScope(scope)) return;
      const source = sources.get(scope.provider);
      if (source === undefined) return;
      const key = scopeKey(scope);
      const known = negative.get(key);
      if (usable(key) !== undefined || (known !== undefined && known.until > now())) return;
      void loading(key, source, scope);
    },

    async invalidate(scope) {
      const entry = cache.get(scopeKey(scope));
      if (entry === undefined || closed) return;
      if (now() - entry.lastInvalidate < invalidateMinMs) {
        await entry.refreshing;
        return;
      }
      entry.lastInvalidate = now();
      entry.lastUsed = now();
      // A renewal keeps a rejected secret, so a rejected credential is always fetched anew.
      await reread(entry, 'provider_rejected');
    },

    async refreshAll(opts) {
      const leasesOnly = opts?.leasesOnly === true;
      const cause = opts?.cause ?? 'forced';
      let forgotten = 0;
      if (!leasesOnly) {
        forgotten = negative.size;
        negative.clear();
      }
      const entries = [...cache.values()].filter((e) => !leasesOnly || isLease(e.source, e.credential));
      let refreshed = 0;
      let failed = 0;
      // A few at a time, so a large cache does not hit Vault with one burst.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < entries.length) {
          const entry = entries[next++];
          if (entry === undefined) return;
          const r = await reread(entry, cause);
          if (r === 'refreshed') refreshed += 1;
          else if (r === 'failed') failed += 1;
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, entries.length) }, worker));
      return { refreshed, failed, forgotten };
    },

    ages() {
      const out = new Map<string, number>();
      const t = now();
      for (const e of cache.values()) out.set(e.source.description, Math.max(out.get(e.source.description) ?? 0, t - e.confirmedAt));
      return out;
    },

    async revokeIdentity(tenant, identity) {
      disabled.add(identityKey(tenant, identity));
      const mine = (s: CredentialScope): boolean => s.tenant === tenant && s.identity === identity;
      const work: Promise<boolean>[] = [];
      for (const entry of [...cache.values()]) {
        if (!mine(entry.scope)) continue;
        drop(entry);
        work.push(revokeOne(entry.source, entry.credential));
      }
      for (const key of inflight.keys()) {
        const [t, i] = JSON.parse(key) as [string, string, string];
        if (t === tenant && i === identity) bump(key);
      }
      for (const r of [...retired]) {
        if (!mine(r.scope)) continue;
        r.cancel?.();
        retired.delete(r);
        work.push(revokeOne(r.source, r.credential));
      }
      const results = await Promise.all(work);
      return { revoked: results.filter(Boolean).length };
    },

    isDisabled: (tenant, identity) => disabled.has(identityKey(tenant, identity)),

    enableIdentity(tenant, identity) {
      disabled.delete(identityKey(tenant, identity));
    },

    async close() {
      if (closed) return;
      closed = true;
      const work: Promise<boolean>[] = [];
      for (const entry of [...cache.values()]) {
        drop(entry);
        work.push(revokeOne(entry.source, entry.credential));
      }
      for (const key of inflight.keys()) bump(key);
      for (const r of [...retired]) {
        r.cancel?.();
        work.push(revokeOne(r.source, r.credential));
      }
      retired.clear();
      await Promise.all(work);
      await Promise.allSettled([...new Set(sources.values())].map((s) => s.close()));
    },
  };
}

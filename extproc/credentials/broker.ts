import { TollgateError } from '../errors.ts';
import type { Credential, CredentialScope, CredentialSource } from './credential-source.ts';

export interface CredentialBroker {
  /** The credential for a provider, for this caller. Rejects with credential_unavailable. */
  get(scope: CredentialScope): Promise<Credential>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  /** How long a credential without its own expiry is served from cache before the source is asked again. */
  readonly refreshMs: number;
  /** A credential is not served within this margin of its expiry. */
  readonly expiryMarginMs: number;
  readonly now?: () => number;
}

interface Entry {
  readonly credential: Credential;
  readonly freshUntil: number;
}

const scopeKey = (s: CredentialScope): string => JSON.stringify([s.tenant, s.identity, s.provider]);

/**
 * Caches credentials per (tenant, identity, provider), never across identities, and single-flights
 * concurrent misses so a burst costs one call to the source.
 */
export function createCredentialBroker(sources: ReadonlyMap<string, CredentialSource>, options: BrokerOptions): CredentialBroker {
  const now = options.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Credential>>();

  const load = async (key: string, source: CredentialSource, scope: CredentialScope): Promise<Credential> => {
    try {
      const credential = await source.fetch(scope);
      const hardLimit = credential.expiresAt === undefined ? Infinity : credential.expiresAt - options.expiryMarginMs;
      if (hardLimit <= now()) throw new TollgateError('credential_unavailable', `${source.description} returned an expired credential`);
      cache.set(key, { credential, freshUntil: Math.min(now() + options.refreshMs, hardLimit) });
      return credential;
    } catch (err) {
      cache.delete(key);
      if (err instanceof TollgateError) throw err;
      throw new TollgateError('credential_unavailable', `${source.description}: ${(err as Error).message}`, { cause: err });
    }
  };

  return {
    get(scope) {
      const source = sources.get(scope.provider);
      if (source === undefined) return Promise.reject(new TollgateError('credential_unavailable', `no credential source for provider ${scope.provider}`));
      const key = scopeKey(scope);
      const hit = cache.get(key);
      if (hit !== undefined && hit.freshUntil > now()) return Promise.resolve(hit.credential);
      const pending = inflight.get(key);
      if (pending !== undefined) return pending;
      // Cleared when settled, even if the source threw synchronously (load then settles immediately).
      const p = load(key, source, scope).finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
    async close() {
      cache.clear();
      await Promise.allSettled([...sources.values()].map((s) => s.close()));
    },
  };
}

import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { lazyModule } from '../core/lazy.ts';

const jose = lazyModule<typeof import('jose')>('jose');
import type { RemoteJwksConfig } from '../config/identity-schema.ts';

/**
 * A JWKS fetched from a URL and cached. Why not jose's createRemoteJWKSet: once its cache is older
 * than cacheMaxAge it awaits the refetch on the request path and fails every request while the
 * issuer is down (no stale-if-error), and it has no size cap. The choices here:
 *
 * - Fresh for `cacheMaxAgeSeconds` (300 s). Past that the set is still served while one background
 *   refresh runs: the request never waits for a routine refresh.
 * - Stale-if-error: while refreshes fail, the last good set is served for at most
 *   `staleIfErrorSeconds` (1 h) past its max age. After that, verification fails closed with
 *   `jwks_unavailable`: a revoked key must not live forever because the IdP is unreachable.
 * - Unknown `kid` (a key rotation): one refetch, and the request waits at most `requestWaitMs`
 *   (300 ms, below Envoy's 500 ms ext_authz timeout); the fetch itself runs up to `timeoutMs` and
 *   fills the cache for the next request.
 * - Rate limit: fetch attempts (successful or not, for any reason) are at least
 *   `minRefreshIntervalSeconds` (10 s) apart, and single-flight. A flood of tokens with random kids
 *   therefore costs at most one fetch per interval, and a failing IdP is not hammered. The price: a
 *   kid published less than 10 s after the last fetch is refused until the interval passes.
 * - The response must be HTTP 200, at most `maxBytes` (256 KiB) and `maxKeys` (100) keys, valid JWKS
 *   JSON; redirects are refused (the configured URL is the trust anchor). A bad response counts as a
 *   failed fetch and the previous set stays.
 * - The server's Cache-Control is ignored: the operator's TTLs are the contract.
 */

export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

export interface JwksEvent {
  readonly url: string;
  readonly ok: boolean;
  readonly reason: 'startup' | 'unknown_kid' | 'max_age' | 'stale';
  /** For failures: a short description (never response content). */
  readonly error?: string;
  readonly keys?: number;
}

export interface RemoteJwksOptions {
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  readonly onEvent?: (e: JwksEvent) => void;
}

interface CachedSet {
  readonly getKey: JWTVerifyGetKey;
  readonly fetchedAt: number;
  readonly generation: number;
}

export class RemoteJwks {
  readonly #cfg: RemoteJwksConfig;
  readonly #now: () => number;
  readonly #fetch: typeof fetch;
  readonly #onEvent: (e: JwksEvent) => void;
  #set: CachedSet | undefined;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;
  #generation = 0;

  constructor(cfg: RemoteJwksConfig, options: RemoteJwksOptions = {}) {
    this.#cfg = cfg;
    this.#now = options.now ?? Date.now;
    this.#fetch = options.fetch ?? fetch;
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  /** Fetches the set once at startup; resolves whether or not that worked (requests retry). */
  async warm(): Promise<void> {
    await this.#start('startup');
  }

  /** The current key lookup; throws JwksUnavailableError if there is no usable set. */
  async current(): Promise<CachedSet> {
    const now = this.#now();
    const set = this.#set;
    const maxAge = this.#cfg.cacheMaxAgeSeconds * 1000;
    if (set !== undefined && now - set.fetchedAt <= maxAge) return set;
    if (set !== undefined && now - set.fetchedAt <= maxAge + this.#cfg.staleIfErrorSeconds * 1000) {
      void this.#start('max_age');
      return set;
    }
    // No set, or one past its stale-if-error bound: a request may wait briefly for a fetch.
    const started = this.#start('stale');
    if (started !== undefined) await this.#bounded(started);
    const after = this.#set;
    if (after !== undefined && this.#now() - after.fetchedAt <= maxAge + this.#cfg.staleIfErrorSeconds * 1000) return after;
    throw new JwksUnavailableError(after === undefined ? 'no key set has been fetched yet' : 'the key set is older than its stale-if-error bound');
  }

  /** A token named a kid the set lacks: refetch if the rate limit allows; true if a newer set is in place. */
  async onUnknownKid(seen: number): Promise<boolean> {
    const started = this.#start('unknown_kid');
    if (started !== undefined) await this.#bounded(started);
    return (this.#set?.generation ?? 0) > seen;
  }

  /** Joins the fetch in flight, or starts one if the rate limit allows; undefined if neither. */
  #start(reason: JwksEvent['reason']): Promise<void> | undefined {
    if (this.#inflight !== undefined) return this.#inflight;
    const now = this.#now();
    if (now - this.#lastAttempt < this.#cfg.minRefreshIntervalSeconds * 1000) return undefined;
    this.#lastAttempt = now;
    this.#inflight = this.#fetchOnce(reason).finally(() => { this.#inflight = undefined; });
    return this.#inflight;
  }

  async #bounded(p: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.#cfg.requestWaitMs); });
    try {
      await Promise.race([p, wait]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #fetchOnce(reason: JwksEvent['reason']): Promise<void> {
    try {
      const jwks = await this.#download();
      const getKey = jose().createLocalJWKSet(jwks);
      this.#generation++;
      this.#set = { getKey, fetchedAt: this.#now(), generation: this.#generation };
      this.#onEvent({ url: this.#cfg.url, ok: true, reason, keys: jwks.keys.length });
    } catch (err) {
      this.#onEvent({ url: this.#cfg.url, ok: false, reason, error: describe(err) });
    }
  }

  async #download(): Promise<JSONWebKeySet> {
    const res = await this.#fetch(this.#cfg.url, {
      signal: AbortSignal.timeout(this.#cfg.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.#cfg.maxBytes) {
      await res.body?.cancel();
      throw new Error(`response larger than ${this.#cfg.maxBytes} bytes`);
    }
    const text = await readCapped(res, this.#cfg.maxBytes);
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys))
      throw new Error('not a JWK set');
    const keys = (parsed as { keys: unknown[] }).keys;
    if (keys.length > this.#cfg.maxKeys) throw new Error(`more than ${this.#cfg.maxKeys} keys`);
    return parsed as JSONWebKeySet;
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (res.body === null) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`response larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    if (err instanceof SyntaxError) return 'invalid JSON';
    return err.message.slice(0, 200);
  }
  return 'unknown error';
}

import { hash } from 'node:crypto';

/**
 * Replay protection for JWT `jti`s and request-proof nonces, through the one method of the
 * project's StateStore it needs (memory for one replica, Redis for several).
 *
 * - Only verified tokens reach the store, so forged tokens cannot fill it or burn a real jti.
 * - A jti is claimed for the rest of the token's validity plus the clock skew (the window in which
 *   the same token would still verify), at least 1 s and at most `maxTtlMs` (24 h), so a token with
 *   a far-future exp cannot pin memory for years (such tokens are refused by maxLifetimeSeconds
 *   where configured).
 * - Keys are `<namespace>:` + SHA-256(issuer, jti): bounded length, no attacker-chosen bytes in
 *   Redis key names, and one issuer cannot burn another issuer's jti.
 * - A store failure is a deny (fail closed), reported as `replay_store_unavailable`.
 */
export interface ReplayStore {
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
}

export type ReplayOutcome = 'fresh' | 'replayed' | 'store_unavailable';

export class ReplayGuard {
  readonly #store: ReplayStore;
  readonly #maxTtlMs: number;

  constructor(store: ReplayStore, options: { maxTtlMs?: number } = {}) {
    this.#store = store;
    this.#maxTtlMs = options.maxTtlMs ?? 24 * 3_600_000;
  }

  /** Claims `(scope, id)` for `ttlMs` (clamped to [1 s, maxTtl]). */
  async claim(namespace: 'jti' | 'nonce', scope: string, id: string, ttlMs: number): Promise<ReplayOutcome> {
    const key = `${namespace}:${hash('sha256', `${scope}\n${id}`, 'base64url')}`;
    const ttl = Math.min(Math.max(Math.ceil(ttlMs), 1_000), this.#maxTtlMs);
    try {
      return (await this.#store.claimOnce(key, ttl)) ? 'fresh' : 'replayed';
    } catch {
      return 'store_unavailable';
    }
  }
}

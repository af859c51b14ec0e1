/**
 * Cluster-wide counters and sets: rate limits, token budgets, the replay cache, anomaly baselines.
 * The memory store serves one replica; a Redis store (same interface) serves several.
 */
export interface StateStore {
  /** Adds `by` to the counter for `key` in the fixed window of `windowMs` containing now; returns the new total. */
  addToWindow(key: string, by: number, windowMs: number): Promise<number>;
  /** True the first time `key` is claimed within `ttlMs`; false while an earlier claim lives (replay). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

interface Slot {
  value: number;
  expiresAt: number;
}

/** In-process state for a single replica. Expired entries are swept lazily and on a timer. */
export class MemoryStateStore implements StateStore {
  readonly #slots = new Map<string, Slot>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: { now?: () => number; sweepMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => { this.#sweep(); }, options.sweepMs ?? 30_000);
    this.#sweeper.unref();
  }

  addToWindow(key: string, by: number, windowMs: number): Promise<number> {
    const now = this.#now();
    const windowStart = now - (now % windowMs);
    const k = `w:${key}:${windowMs}:${windowStart}`;
    const slot = this.#live(k, now) ?? { value: 0, expiresAt: windowStart + windowMs };
    slot.value += by;
    this.#slots.set(k, slot);
    return Promise.resolve(slot.value);
  }

  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const k = `c:${key}`;
    if (this.#live(k, now) !== undefined) return Promise.resolve(false);
    this.#slots.set(k, { value: 1, expiresAt: now + ttlMs });
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#slots.clear();
    return Promise.resolve();
  }

  #live(k: string, now: number): Slot | undefined {
    const slot = this.#slots.get(k);
    if (slot === undefined) return undefined;
    if (slot.expiresAt > now) return slot;
    this.#slots.delete(k);
    return undefined;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, slot] of this.#slots) if (slot.expiresAt <= now) this.#slots.delete(k);
  }
}

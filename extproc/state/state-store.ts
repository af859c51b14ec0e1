import { assertCount, assertWindow, ewmaStep, MAX_DECAY_STEPS, slidingEstimate, windowStart, windowTtlMs } from './window-math.ts';

/** One window counter to charge in an all-or-nothing reservation. */
export interface WindowCharge {
  readonly key: string;
  readonly windowMs: number;
  /** A non-negative integer (tokens, or money in micro-units). */
  readonly amount: number;
  readonly limit: number;
}

export interface WindowState {
  readonly windowStart: number;
  /** The counter after the charge if granted; the unchanged counter if refused. */
  readonly used: number;
}

export interface ReserveResult {
  readonly granted: boolean;
  /** One entry per charge, in order. */
  readonly windows: readonly WindowState[];
  /** The store's clock when it decided. */
  readonly now: number;
}

/** Moves an earlier charge of one window by `delta` (settling an estimate); the counter never goes below 0. */
export interface WindowAdjustment {
  readonly key: string;
  readonly windowMs: number;
  readonly windowStart: number;
  readonly delta: number;
}

export interface SlidingResult {
  readonly allowed: boolean;
  readonly windowStart: number;
  /** The previous fixed window's count. */
  readonly previous: number;
  /** The current fixed window's count, after the take if allowed. */
  readonly current: number;
  readonly now: number;
}

export interface BaselineSample {
  /** The request's body size; undefined for a request without a body (no size sample: the size average is left alone). */
  readonly bytes: number | undefined;
  readonly provider: string;
  readonly endpoint: string;
}

export interface BaselineParams {
  readonly bucketMs: number;
  /** EWMA weight of the newest sample, 0 < alpha <= 1. */
  readonly alpha: number;
  /** Distinct providers and endpoints remembered per identity. */
  readonly maxDistinct: number;
  /** A baseline nobody observes for this long is forgotten. */
  readonly idleTtlMs: number;
}

/** The baseline as it stood before this sample, plus where this sample falls. Fixed-point values are ×1000. */
export interface BaselineSnapshot {
  readonly requestsBefore: number;
  /** Of those, the ones with a size sample (requests with a body): what bytesEwmaMilli averages. */
  readonly sizedBefore: number;
  readonly bytesEwmaMilli: number;
  /** EWMA of requests per closed bucket. */
  readonly rateEwmaMilli: number;
  /** Closed buckets folded into rateEwmaMilli. */
  readonly bucketsSeen: number;
  /** Requests in the current bucket, this one included. */
  readonly bucketCount: number;
  readonly newProvider: boolean;
  readonly newEndpoint: boolean;
}

/** One tool seen in an MCP server's tools/list: its definition's hash, and whether to pin it if it has no pin. */
export interface ToolHashSighting {
  readonly name: string;
  /** What to remember as last seen (the registry stores the hash and the flags). */
  readonly seen: string;
  /** The hash to pin if the tool has no pin yet (trust on first use); undefined: pin nothing. */
  readonly pinIfAbsent: string | undefined;
}

export interface ToolHashRecord {
  /** The tool's trust-on-first-use pin after this step; undefined if it has none. */
  readonly pin: string | undefined;
  /** True when this step set the pin (the first sighting anywhere). */
  readonly pinned: boolean;
  /** False when the server already has `maxTools` names recorded and this one is new: nothing was stored. */
  readonly recorded: boolean;
}

/**
 * Cluster-wide counters and sets: rate limits, token budgets, the replay cache, anomaly baselines, the
 * kill switch's disabled set, MCP tool-definition pins.
 * Every method is atomic with respect to every other caller on the same backend. The memory store
 * serves one replica; the Redis store (same interface, same behaviour, one shared test table) serves
 * several. A backend that cannot answer throws StateUnavailableError.
 */
export interface StateStore {
  /** True the first time `key` is claimed within `ttlMs`; false while an earlier claim lives (replay). */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /**
   * All or nothing: if every charge fits (`used < limit` and `used + amount <= limit`), adds every
   * amount; otherwise adds none.
   */
  reserve(charges: readonly WindowCharge[]): Promise<ReserveResult>;
  /** Settles earlier reservations. Windows that have already expired are left alone. */
  adjust(adjustments: readonly WindowAdjustment[]): Promise<void>;
  /** Takes `cost` if the sliding-window estimate plus `cost` stays within `limit`. */
  slidingTake(key: string, cost: number, limit: number, windowMs: number): Promise<SlidingResult>;
  /** Reads and updates the anomaly baseline for `key` in one step. */
  observeBaseline(key: string, sample: BaselineSample, params: BaselineParams): Promise<BaselineSnapshot>;
  /** The kill switch's disabled set (no expiry): adds `member` with `value`; true if it was not there. */
  addDisabled(member: string, value: string): Promise<boolean>;
  /** Removes `member` from the disabled set; true if it was there. */
  removeDisabled(member: string): Promise<boolean>;
  /** The whole disabled set, member → value. */
  listDisabled(): Promise<ReadonlyMap<string, string>>;
  /**
   * MCP tool-definition pins of one server (no expiry), in one atomic step for a whole tools/list page: for each
   * sighting, stores `seen` as the tool's last-seen value and, when the tool has no pin, pins `pinIfAbsent`
   * (set-if-absent, so two replicas that see different first definitions agree on one). A server holds at most
   * `maxTools` names; a new name beyond that is not stored (`recorded: false`).
   */
  observeToolHashes(server: string, sightings: readonly ToolHashSighting[], maxTools: number): Promise<readonly ToolHashRecord[]>;
  /** A tool's trust-on-first-use pin and last-seen value (undefined when absent). */
  toolHashes(server: string, name: string): Promise<{ readonly pin: string | undefined; readonly seen: string | undefined }>;
  close(): Promise<void>;
}

export function validateCharges(charges: readonly WindowCharge[]): void {
  const keys = new Set<string>();
  for (const c of charges) {
    assertWindow(c.windowMs);
    assertCount('amount', c.amount);
    assertCount('limit', c.limit);
    const k = `${c.key}\u0000${c.windowMs}`;
    if (keys.has(k)) throw new RangeError(`charge for ${c.key} appears twice`);
    keys.add(k);
  }
}

interface Slot {
  value: number;
  expiresAt: number;
}

interface Baseline {
  n: number;
  bucket: number;
  count: number;
  rate: number;
  buckets: number;
  bytes: number;
  sized: number;
  providers: Set<string>;
  endpoints: Set<string>;
  expiresAt: number;
}

/** In-process state for a single replica. Expired entries are swept lazily and on a timer. */
export class MemoryStateStore implements StateStore {
  readonly #slots = new Map<string, Slot>();
  readonly #baselines = new Map<string, Baseline>();
  readonly #disabled = new Map<string, string>();
  /** Per MCP server: tool name → pin and last seen. */
  readonly #tools = new Map<string, Map<string, { pin: string | undefined; seen: string }>>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: { now?: () => number; sweepMs?: number } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => { this.#sweep(); }, options.sweepMs ?? 30_000);
    this.#sweeper.unref();
  }

  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const k = `c:${key}`;
    if (this.#live(k, now) !== undefined) return Promise.resolve(false);
    this.#slots.set(k, { value: 1, expiresAt: now + ttlMs });
    return Promise.resolve(true);
  }

  reserve(charges: readonly WindowCharge[]): Promise<ReserveResult> {
    validateCharges(charges);
    const now = this.#now();
    const slots = charges.map((c) => this.#window(c.key, c.windowMs, windowStart(now, c.windowMs), now, true));
    const granted = charges.every((c, i) => { const u = slots[i]?.value ?? 0; return u < c.limit && u + c.amount <= c.limit; });
    if (granted) charges.forEach((c, i) => { const s = slots[i]; if (s !== undefined) s.value += c.amount; });
    return Promise.resolve({ granted, now, windows: charges.map((c, i) => ({ windowStart: windowStart(now, c.windowMs), used: slots[i]?.value ?? 0 })) });
  }

  adjust(adjustments: readonly WindowAdjustment[]): Promise<void> {
    const now = this.#now();
    for (const a of adjustments) {
      const slot = this.#window(a.key, a.windowMs, a.windowStart, now, false);
      if (slot !== undefined) slot.value = Math.max(0, slot.value + a.delta);
    }
    return Promise.resolve();
  }

  slidingTake(key: string, cost: number, limit: number, windowMs: number): Promise<SlidingResult> {
    assertWindow(windowMs);
    assertCount('cost', cost);
    const now = this.#now();
    const start = windowStart(now, windowMs);
    const cur = this.#window(key, windowMs, start, now, true);
    const previous = this.#window(key, windowMs, start - windowMs, now, false)?.value ?? 0;
    const allowed = slidingEstimate(previous, cur.value, windowMs, now - start) + cost <= limit;
    if (allowed) cur.value += cost;
    return Promise.resolve({ allowed, windowStart: start, previous, current: cur.value, now });
  }

  observeBaseline(key: string, sample: BaselineSample, p: BaselineParams): Promise<BaselineSnapshot> {
    const now = this.#now();
    const bucket = Math.floor(now / p.bucketMs);
    let b = this.#baselines.get(key);
    if (b !== undefined && b.expiresAt <= now) b = undefined;
    if (b === undefined) {
      b = { n: 0, bucket, count: 0, rate: 0, buckets: 0, bytes: 0, sized: 0, providers: new Set(), endpoints: new Set(), expiresAt: 0 };
      this.#baselines.set(key, b);
    } else if (bucket > b.bucket) {
      b.rate = b.buckets === 0 ? b.count * 1000 : ewmaStep(p.alpha, b.count * 1000, b.rate);
      const gap = Math.min(bucket - b.bucket - 1, MAX_DECAY_STEPS);
      for (let i = 0; i < gap; i++) b.rate = Math.floor((1 - p.alpha) * b.rate);
      b.buckets = Math.min(b.buckets + (bucket - b.bucket), 1_000_000_000);
      b.bucket = bucket;
      b.count = 0;
    }
    b.count += 1;
    const requestsBefore = b.n;
    const bytesBefore = b.bytes;
    const sizedBefore = b.sized;
    if (sample.bytes !== undefined) {
      b.bytes = b.sized === 0 ? sample.bytes * 1000 : ewmaStep(p.alpha, sample.bytes * 1000, b.bytes);
      b.sized += 1;
    }
    b.n += 1;
    const newProvider = remember(b.providers, sample.provider, p.maxDistinct);
    const newEndpoint = remember(b.endpoints, sample.endpoint, p.maxDistinct);
    b.expiresAt = now + p.idleTtlMs;
    return Promise.resolve({
      requestsBefore, sizedBefore, bytesEwmaMilli: bytesBefore, rateEwmaMilli: b.rate, bucketsSeen: b.buckets, bucketCount: b.count, newProvider, newEndpoint,
    });
  }

  addDisabled(member: string, value: string): Promise<boolean> {
    if (this.#disabled.has(member)) return Promise.resolve(false);
    this.#disabled.set(member, value);
    return Promise.resolve(true);
  }

  removeDisabled(member: string): Promise<boolean> {
    return Promise.resolve(this.#disabled.delete(member));
  }

  listDisabled(): Promise<ReadonlyMap<string, string>> {
    return Promise.resolve(new Map(this.#disabled));
  }

  observeToolHashes(server: string, sightings: readonly ToolHashSighting[], maxTools: number): Promise<readonly ToolHashRecord[]> {
    assertCount('maxTools', maxTools);
    let tools = this.#tools.get(server);
    if (tools === undefined) this.#tools.set(server, tools = new Map<string, { pin: string | undefined; seen: string }>());
    const out: ToolHashRecord[] = [];
    for (const s of sightings) {
      let t = tools.get(s.name);
      if (t === undefined) {
        if (tools.size >= maxTools) { out.push({ pin: undefined, pinned: false, recorded: false }); continue; }
        tools.set(s.name, t = { pin: undefined, seen: s.seen });
      }
      t.seen = s.seen;
      const pinned = t.pin === undefined && s.pinIfAbsent !== undefined;
      if (pinned) t.pin = s.pinIfAbsent;
      out.push({ pin: t.pin, pinned, recorded: true });
    }
    return Promise.resolve(out);
  }

  toolHashes(server: string, name: string): Promise<{ readonly pin: string | undefined; readonly seen: string | undefined }> {
    const t = this.#tools.get(server)?.get(name);
    return Promise.resolve({ pin: t?.pin, seen: t?.seen });
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#slots.clear();
    this.#baselines.clear();
    this.#disabled.clear();
    this.#tools.clear();
    return Promise.resolve();
  }

  #window(key: string, windowMs: number, start: number, now: number, create: true): Slot;
  #window(key: string, windowMs: number, start: number, now: number, create: false): Slot | undefined;
  #window(key: string, windowMs: number, start: number, now: number, create: boolean): Slot | undefined {
    const k = `w:${key}:${windowMs}:${start}`;
    const live = this.#live(k, now);
    if (live !== undefined || !create) return live;
    const slot = { value: 0, expiresAt: now + windowTtlMs(now, windowMs) };
    this.#slots.set(k, slot);
    return slot;
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
    for (const [k, b] of this.#baselines) if (b.expiresAt <= now) this.#baselines.delete(k);
  }
}

/** Adds `value` if there is room; true if it was not there before. */
function remember(set: Set<string>, value: string, max: number): boolean {
  if (set.has(value)) return false;
  if (set.size < max) set.add(value);
  return true;
}

import { performance } from 'node:perf_hooks';
import type { ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';
import { lazyModule } from '../core/lazy.ts';

const ioredis = lazyModule<typeof import('ioredis')>('ioredis');
import type { Secret } from '../core/secret.ts';
import {
  ADD_DISABLED, ADJUST_SCRIPT, LIST_DISABLED, REMOVE_DISABLED, CLAIM_ONCE, OBSERVE_BASELINE, OBSERVE_TOOL_HASHES, RESERVE_SCRIPT, SLIDING_TAKE,
  TOOL_HASHES, type LuaScript,
} from './redis-scripts.ts';
import { StateUnavailableError } from './state-errors.ts';
import {
  validateCharges, type BaselineParams, type BaselineSample, type BaselineSnapshot, type ReserveResult, type SlidingResult, type StateStore,
  type ToolHashRecord, type ToolHashSighting, type WindowAdjustment, type WindowCharge,
} from './state-store.ts';
import { assertCount, assertWindow, MAX_DECAY_STEPS, windowStart, windowTtlMs } from './window-math.ts';

export interface RedisStateStoreOptions {
  readonly host: string;
  readonly port: number;
  readonly db?: number;
  readonly username?: string;
  readonly password?: Secret;
  /** Node TLS options (CA, server name); absent for plaintext. */
  readonly tls?: ConnectionOptions;
  /** Prepended to every key, so several deployments can share one Redis. */
  readonly keyPrefix?: string;
  /** The bound on every call: a call that has not answered by then fails with StateUnavailableError("timeout"). */
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly now?: () => number;
  /** Connection-level errors (refused, reset); the message names host and port, never the password. */
  readonly onConnectionError?: (err: Error) => void;
  /** Told about every call: its operation, duration, and the failure reason if it failed (metrics). */
  readonly observer?: StateObserver;
  /** Told once when the connection is lost (or the first connect fails) and once when it is back: one log line each. */
  readonly onConnectionChange?: (change: ConnectionChange) => void;
}

/**
 * A change of the connection to Redis. `cause`: the error that lost it (the message names host and
 * port, never the password), or `closed by the server`. `reconnected` says how long it was down, how
 * many connection errors came in between, and the last one.
 */
export type ConnectionChange =
  | { readonly event: 'lost'; readonly cause: string; readonly everConnected: boolean }
  | { readonly event: 'reconnected'; readonly downMs: number; readonly errors: number; readonly lastError: string | undefined };

export interface StateObserver {
  call(operation: string, seconds: number, failure: StateUnavailableError['reason'] | undefined): void;
}

const NOSCRIPT = /^NOSCRIPT/;

/**
 * Shared state in one Redis (a single primary, or behind Sentinel; not Redis Cluster, because a
 * reservation spans identity, tenant and group keys in one script). Every operation is one Lua script:
 * see redis-scripts.ts for why each is atomic. Commands are never queued while disconnected
 * (enableOfflineQueue: false) and never retried, so an outage surfaces at once as a typed error, and a
 * stalled server surfaces after `timeoutMs`.
 */
export class RedisStateStore implements StateStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #observer: StateObserver | undefined;
  #closing = false;

  constructor(options: RedisStateStoreOptions) {
    this.#observer = options.observer;
    this.#prefix = options.keyPrefix ?? 'tollgate:';
    this.#timeoutMs = options.timeoutMs ?? 50;
    this.#now = options.now ?? Date.now;
    this.#client = new (ioredis().Redis)({
      host: options.host,
      port: options.port,
      db: options.db ?? 0,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password.reveal() }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      commandTimeout: this.#timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(25 * 2 ** Math.min(times, 6), 1_000),
      disableClientInfo: true,
      connectionName: 'tollgate',
    });
    const onError = options.onConnectionError;
    this.#client.on('error', (err: Error) => { onError?.(err); });
    if (options.onConnectionChange !== undefined) this.#watchConnection(options.onConnectionChange);
  }

  /** Turns ioredis's connection events (an error per reconnect attempt) into one change each way. */
  #watchConnection(onChange: (change: ConnectionChange) => void): void {
    let up: boolean | undefined; // undefined: never connected yet
    let lostAt = 0;
    let errors = 0;
    let lastError: string | undefined;
    const lose = (cause: string): void => {
      if (up === false || this.#closing) return;
      const everConnected = up === true;
      up = false;
      lostAt = performance.now();
      errors = 0;
      lastError = undefined;
      onChange({ event: 'lost', cause, everConnected });
    };
    this.#client.on('error', (err: Error) => {
      if (up === false) {
        errors += 1;
        lastError = err.message;
      } else lose(err.message);
    });
    this.#client.on('close', () => { if (up === true) lose('closed by the server'); });
    this.#client.on('ready', () => {
      if (up === false) onChange({ event: 'reconnected', downMs: Math.round(performance.now() - lostAt), errors, lastError });
      up = true;
    });
  }

  /** True while connected; for /readyz and a state-store health metric. */
  get connected(): boolean {
    return this.#client.status === 'ready';
  }

  /** Resolves when the connection is ready, or rejects after `ms`. For start-up readiness checks. */
  async ready(ms = 2_000): Promise<void> {
    await this.#bounded('ready', ms, async () => {
      if (this.#client.status !== 'ready') await new Promise<void>((resolve) => { this.#client.once('ready', () => { resolve(); }); });
    });
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
    return num(await this.#run('claimOnce', CLAIM_ONCE, [`${this.#prefix}c:${key}`], [this.#now(), ttlMs])) === 1;
  }

  async reserve(charges: readonly WindowCharge[]): Promise<ReserveResult> {
    validateCharges(charges);
    const now = this.#now();
    if (charges.length === 0) return { granted: true, windows: [], now };
    const starts = charges.map((c) => windowStart(now, c.windowMs));
    const keys = charges.map((c, i) => this.#windowKey(c.key, c.windowMs, starts[i] ?? 0));
    const args = charges.flatMap((c) => [c.amount, c.limit, windowTtlMs(now, c.windowMs)]);
    const reply = list(await this.#run('reserve', RESERVE_SCRIPT(keys.length), keys, args));
    return { granted: reply[0] === 1, now, windows: charges.map((_, i) => ({ windowStart: starts[i] ?? 0, used: reply[i + 1] ?? 0 })) };
  }

  async adjust(adjustments: readonly WindowAdjustment[]): Promise<void> {
    const live = adjustments.filter((a) => a.delta !== 0);
    if (live.length === 0) return;
    for (const a of live) if (!Number.isSafeInteger(a.delta)) throw new RangeError(`delta must be a safe integer, got ${a.delta}`);
    const keys = live.map((a) => this.#windowKey(a.key, a.windowMs, a.windowStart));
    await this.#run('adjust', ADJUST_SCRIPT(keys.length), keys, live.map((a) => a.delta));
  }

  async slidingTake(key: string, cost: number, limit: number, windowMs: number): Promise<SlidingResult> {
    assertWindow(windowMs);
    assertCount('cost', cost);
    const now = this.#now();
    const start = windowStart(now, windowMs);
    const keys = [this.#windowKey(key, windowMs, start), this.#windowKey(key, windowMs, start - windowMs)];
    const reply = list(await this.#run('slidingTake', SLIDING_TAKE, keys, [cost, limit, windowMs, now - start, windowTtlMs(now, windowMs)]));
    return { allowed: reply[0] === 1, windowStart: start, previous: reply[1] ?? 0, current: reply[2] ?? 0, now };
  }

  async observeBaseline(key: string, sample: BaselineSample, p: BaselineParams): Promise<BaselineSnapshot> {
    const base = `${this.#prefix}a:{${key}}`;
    const reply = list(await this.#run('observeBaseline', OBSERVE_BASELINE, [base, `${base}:p`, `${base}:e`], [
      this.#now(), p.bucketMs, p.alpha, sample.bytes ?? -1, sample.provider, sample.endpoint, p.maxDistinct, p.idleTtlMs, MAX_DECAY_STEPS,
    ]));
    return {
      requestsBefore: reply[0] ?? 0, bytesEwmaMilli: reply[1] ?? 0, rateEwmaMilli: reply[2] ?? 0, bucketsSeen: reply[3] ?? 0,
      bucketCount: reply[4] ?? 0, newProvider: reply[5] === 1, newEndpoint: reply[6] === 1, sizedBefore: reply[7] ?? 0,
    };
  }

  async addDisabled(member: string, value: string): Promise<boolean> {
    return num(await this.#run('addDisabled', ADD_DISABLED, [this.#disabledKey], [member, value])) === 1;
  }

  async removeDisabled(member: string): Promise<boolean> {
    return num(await this.#run('removeDisabled', REMOVE_DISABLED, [this.#disabledKey], [member])) === 1;
  }

  async listDisabled(): Promise<ReadonlyMap<string, string>> {
    const flat = await this.#run('listDisabled', LIST_DISABLED, [this.#disabledKey], []);
    if (!Array.isArray(flat) || flat.length % 2 !== 0 || !flat.every((x) => typeof x === 'string')) throw new StateUnavailableError('decode', 'error');
    const out = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, flat[i + 1] as string);
    return out;
  }

  async observeToolHashes(server: string, sightings: readonly ToolHashSighting[], maxTools: number): Promise<readonly ToolHashRecord[]> {
    assertCount('maxTools', maxTools);
    if (sightings.length === 0) return [];
    const args = sightings.flatMap((s) => [s.name, s.seen, s.pinIfAbsent ?? '']);
    const flat = await this.#run('observeToolHashes', OBSERVE_TOOL_HASHES, this.#toolKeys(server), [maxTools, ...args]);
    if (!Array.isArray(flat) || flat.length !== sightings.length * 2) throw new StateUnavailableError('decode', 'error');
    return sightings.map((_, i) => {
      const state = flat[i * 2] as unknown;
      const pin = flat[i * 2 + 1] as unknown;
      if ((state !== 0 && state !== 1 && state !== 2) || typeof pin !== 'string') throw new StateUnavailableError('decode', 'error');
      return { pin: pin === '' ? undefined : pin, pinned: state === 2, recorded: state !== 0 };
    });
  }

  async toolHashes(server: string, name: string): Promise<{ readonly pin: string | undefined; readonly seen: string | undefined }> {
    const reply = await this.#run('toolHashes', TOOL_HASHES, this.#toolKeys(server), [name]);
    if (!Array.isArray(reply) || reply.length !== 2 || !reply.every((x) => typeof x === 'string')) throw new StateUnavailableError('decode', 'error');
    const [pin, seen] = reply as [string, string];
    return { pin: pin === '' ? undefined : pin, seen: seen === '' ? undefined : seen };
  }

  async close(): Promise<void> {
    this.#closing = true;
    try {
      await this.#bounded('close', 1_000, () => this.#client.quit());
    } catch {
      // An unreachable server cannot take QUIT; drop the socket instead.
    } finally {
      this.#client.disconnect();
    }
  }

  get #disabledKey(): string {
    return `${this.#prefix}disabled`;
  }

  /** A server's pins and last-seen values; the hash tag keeps both in one slot. */
  #toolKeys(server: string): [string, string] {
    return [`${this.#prefix}mcp:{${server}}:pins`, `${this.#prefix}mcp:{${server}}:seen`];
  }

  #windowKey(key: string, windowMs: number, start: number): string {
    return `${this.#prefix}w:${key}:${windowMs}:${start}`;
  }

  async #run(operation: string, s: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const t0 = performance.now();
    try {
      if (this.#client.status !== 'ready') throw new StateUnavailableError(operation, 'unavailable');
      const out = await this.#bounded(operation, this.#timeoutMs, async () => {
        try {
          return await this.#client.evalsha(s.sha1, keys.length, ...keys, ...args);
        } catch (err) {
          if (!(err instanceof Error) || !NOSCRIPT.test(err.message)) throw err;
          return this.#client.eval(s.source, keys.length, ...keys, ...args);
        }
      });
      this.#observer?.call(operation, (performance.now() - t0) / 1000, undefined);
      return out;
    } catch (err) {
      this.#observer?.call(operation, (performance.now() - t0) / 1000, err instanceof StateUnavailableError ? err.reason : 'error');
      throw err;
    }
  }

  /** Races `fn` against a timer, and turns every failure into StateUnavailableError. */
  async #bounded<T>(operation: string, ms: number, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { reject(new StateUnavailableError(operation, 'timeout')); }, ms);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      if (err instanceof StateUnavailableError) throw err;
      const reason = err instanceof Error && /timed out/i.test(err.message) ? 'timeout' : isConnectionError(err) ? 'unavailable' : 'error';
      throw new StateUnavailableError(operation, reason, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

function isConnectionError(err: unknown): boolean {
  return err instanceof Error && /writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|MaxRetriesPerRequest/i.test(err.message);
}

function num(v: unknown): number {
  if (typeof v !== 'number') throw new StateUnavailableError('decode', 'error');
  return v;
}

function list(v: unknown): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) throw new StateUnavailableError('decode', 'error');
  return v;
}

/**
 * Pure arithmetic shared by both state backends and by the features built on them, so that the memory
 * store, the Redis Lua scripts and the callers agree to the bit. Every window is fixed and aligned to a
 * multiple of its length since the Unix epoch (a 1 d window starts at UTC midnight).
 */

export function windowStart(now: number, windowMs: number): number {
  return now - (now % windowMs);
}

/** Counters are kept for two windows, so the sliding estimate can read the previous one. */
export function windowTtlMs(now: number, windowMs: number): number {
  return windowStart(now, windowMs) + 2 * windowMs - now;
}

/**
 * Sliding-window estimate ("fixed window with weights"): the previous window's count, weighted by
 * how much of it still overlaps a window of `windowMs` ending now, plus the current window's count.
 * The Lua script in redis-scripts.ts computes the same expression in the same order.
 */
export function slidingEstimate(previous: number, current: number, windowMs: number, elapsedMs: number): number {
  return (previous * (windowMs - elapsedMs)) / windowMs + current;
}

/**
 * Milliseconds until a sliding take of `cost` would fit under `limit`, assuming no other traffic.
 * Infinity when it never can (cost above the limit).
 */
export function slidingRetryAfterMs(previous: number, current: number, cost: number, limit: number, windowMs: number, elapsedMs: number): number {
  if (cost > limit) return Number.POSITIVE_INFINITY;
  // Within this window: previous * (w - e') / w + current + cost <= limit.
  const room = limit - current - cost;
  if (room >= 0) {
    if (previous <= room) return 0;
    const e = windowMs - (room * windowMs) / previous;
    return Math.max(0, Math.ceil(e - elapsedMs));
  }
  // In the next window, this window's count becomes the previous one.
  const untilNext = windowMs - elapsedMs;
  if (current <= limit - cost) return untilNext;
  const e = windowMs - ((limit - cost) * windowMs) / current;
  return Math.max(1, Math.ceil(untilNext + e));
}

/** One EWMA step on fixed-point integers (milli-units), floored, as the Lua script does it. */
export function ewmaStep(alpha: number, sampleMilli: number, previousMilli: number): number {
  return Math.floor(alpha * sampleMilli + (1 - alpha) * previousMilli);
}

/** Closed buckets beyond this many are treated as decayed to zero (a bounded loop in Lua). */
export const MAX_DECAY_STEPS = 64;

export function assertCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
}

export function assertWindow(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new RangeError(`windowMs must be a positive integer, got ${windowMs}`);
}

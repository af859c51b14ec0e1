// Clock, timers and backoff for credential refresh. Injected everywhere so tests drive time by hand.

/** Node's timers fire after 1 ms for delays above 2^31 - 1 ms (about 24.8 days); never hand them more. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export type Cancel = () => void;

export interface Scheduler {
  now(): number;
  /** Runs fn once after delayMs (clamped to >= 0). Returns a cancel function. */
  schedule(fn: () => void, delayMs: number): Cancel;
}

/**
 * A real-time scheduler whose timers never overflow: a long delay is split into hops of at most
 * MAX_TIMER_MS, each re-checking the wall clock, so a 768 h token TTL waits 768 h and not 1 ms.
 * Timers are unref'd: a pending refresh never keeps the process alive.
 */
export function systemScheduler(now: () => number = Date.now, maxHopMs: number = MAX_TIMER_MS): Scheduler {
  return {
    now,
    schedule(fn, delayMs) {
      const due = now() + Math.max(0, delayMs);
      let timer: NodeJS.Timeout | undefined;
      let cancelled = false;
      const hop = (): void => {
        if (cancelled) return;
        const left = due - now();
        if (left <= 0) {
          fn();
          return;
        }
        timer = setTimeout(hop, Math.min(left, maxHopMs));
        timer.unref();
      };
      timer = setTimeout(hop, Math.min(Math.max(0, delayMs), maxHopMs));
      timer.unref();
      return () => {
        cancelled = true;
        clearTimeout(timer);
      };
    },
  };
}

export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ minMs: 1_000, maxMs: 300_000 });

/**
 * Exponential backoff with jitter: attempt 1 waits in [min/2, min], attempt n in [cap/2, cap] where
 * cap = min(max, min * 2^(n-1)). Never below 1 ms, never above max.
 */
export function backoffDelay(attempt: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exp = Math.min(Math.max(0, attempt - 1), 40);
  const cap = Math.min(policy.maxMs, policy.minMs * 2 ** exp);
  return Math.max(1, Math.round(cap / 2 + random() * (cap / 2)));
}

/**
 * When to renew a lease with `remainingMs` left: 2/3 of the remaining time plus a third of a grace
 * drawn from [10 %, 20 %) of it (the Go LifetimeWatcher's rule), so renewals spread between about
 * 70 % and 73 % of the remaining time.
 */
export function renewDelay(remainingMs: number, random: () => number): number {
  if (remainingMs <= 0) return 0;
  const grace = remainingMs * (0.1 + 0.1 * random());
  return Math.round((2 * remainingMs) / 3 + grace / 3);
}

/** ±10 % jitter around a period, so replicas do not re-read Vault in lockstep. */
export function jittered(periodMs: number, random: () => number): number {
  return Math.round(periodMs * (0.9 + 0.2 * random()));
}

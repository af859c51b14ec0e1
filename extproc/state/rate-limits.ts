import type { RateLimitConfig } from '../config/state-schema.ts';
import { retryAfterSeconds, StateUnavailableError, type OnStateError } from './state-errors.ts';
import type { SlidingResult, StateStore, WindowAdjustment } from './state-store.ts';
import { counterKey, subjectValues, type Principal } from './subjects.ts';
import { slidingEstimate, slidingRetryAfterMs } from './window-math.ts';

export interface RateTake {
  readonly limit: string;
  readonly subject: string;
  readonly unit: RateLimitConfig['unit'];
  readonly key: string;
  readonly windowMs: number;
  readonly windowStart: number;
  readonly taken: number;
}

export interface RateTicket {
  readonly takes: readonly RateTake[];
  readonly degraded: boolean;
}

export interface RateRefusal {
  /** group_missing: a limit is scoped by a claim the token lacks, with no default group. */
  readonly reason: 'rate_limited' | 'group_missing';
  readonly limit: string;
  readonly subject: string;
  readonly unit: RateLimitConfig['unit'];
  readonly max: number;
  /** The sliding estimate at refusal, before this request. */
  readonly estimate: number;
  readonly retryAfterSeconds: number;
}

export type RateDecision = { readonly ok: true; readonly ticket: RateTicket } | { readonly ok: false; readonly refusal: RateRefusal };

/**
 * Request and token rate limits over short windows, per identity, tenant or claim value. Each limit is a
 * sliding-window counter ("fixed window with weights": the previous window counted in proportion to
 * its overlap with the last `window`), checked and taken in one atomic step. Several limits are taken
 * in parallel; if one refuses, the others' takes are given back (a moment's overcount, never an undercount).
 * Token limits take an estimate first and are settled to the real count afterwards.
 */
export class RateLimiter {
  readonly #store: StateStore;
  readonly #limits: readonly RateLimitConfig[];
  readonly #onError: OnStateError;

  constructor(store: StateStore, limits: readonly RateLimitConfig[], options: { onError: OnStateError }) {
    this.#store = store;
    this.#limits = limits;
    this.#onError = options.onError;
  }

  /** Whether a token limit applies to this principal (or would refuse it for a missing group). */
  countsTokens(principal: Principal): boolean {
    return this.#limits.some((l) => l.unit === 'tokens' && subjectValues(l.per, principal, l.only)?.length !== 0);
  }

  /** `toolCall`: the request is an MCP tools/call (limits in `tool_calls` count only those). */
  async check(principal: Principal, estimatedTokens: number, toolCall = false): Promise<RateDecision> {
    const plan: { l: RateLimitConfig; subject: string; key: string; cost: number }[] = [];
    for (const l of this.#limits) {
      if (l.unit === 'tool_calls' && !toolCall) continue;
      const subjects = subjectValues(l.per, principal, l.only);
      if (subjects === null) return { ok: false, refusal: { reason: 'group_missing', limit: l.name, subject: '', unit: l.unit, max: l.limit, estimate: 0, retryAfterSeconds: 0 } };
      for (const subject of subjects) plan.push({ l, subject, key: counterKey('r', l.name, l.per, subject), cost: l.unit === 'tokens' ? Math.max(0, Math.ceil(estimatedTokens)) : 1 });
    }
    if (plan.length === 0) return { ok: true, ticket: { takes: [], degraded: false } };
    const settled = await Promise.allSettled(plan.map((p) => this.#store.slidingTake(p.key, p.cost, p.l.limit, p.l.window)));
    const results: SlidingResult[] = [];
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    for (const s of settled) if (s.status === 'fulfilled') results.push(s.value);
    if (failure !== undefined) {
      await this.#refund(plan, settled);
      if (failure.reason instanceof StateUnavailableError && plan.every((p) => (p.l.onStateError ?? this.#onError) === 'allow'))
        return { ok: true, ticket: { takes: [], degraded: true } };
      throw failure.reason;
    }
    const refusedAt = results.findIndex((r) => !r.allowed);
    if (refusedAt >= 0) {
      await this.#refund(plan, settled);
      let worst: RateRefusal | undefined;
      results.forEach((r, i) => {
        const p = plan[i];
        if (r.allowed || p === undefined) return;
        const elapsed = r.now - r.windowStart;
        const retryMs = slidingRetryAfterMs(r.previous, r.current, p.cost, p.l.limit, p.l.window, elapsed);
        const ref: RateRefusal = {
          reason: 'rate_limited', limit: p.l.name, subject: p.subject, unit: p.l.unit, max: p.l.limit,
          estimate: slidingEstimate(r.previous, r.current, p.l.window, elapsed), retryAfterSeconds: retryAfterSeconds(retryMs, Math.ceil((2 * p.l.window) / 1000)),
        };
        if (worst === undefined || ref.retryAfterSeconds > worst.retryAfterSeconds) worst = ref;
      });
      if (worst !== undefined) return { ok: false, refusal: worst };
    }
    return {
      ok: true,
      ticket: {
        degraded: false,
        takes: plan.map((p, i) => ({ limit: p.l.name, subject: p.subject, unit: p.l.unit, key: p.key, windowMs: p.l.window, windowStart: results[i]?.windowStart ?? 0, taken: p.cost })),
      },
    };
  }

  /**
   * Moves token takes from the estimate to the real count (in the window they were taken in). Null: the
   * response reported no usage, so the estimate stands (an upper bound; never refunded to zero).
   */
  async settleTokens(ticket: RateTicket, actualTokens: number | null): Promise<void> {
    if (actualTokens === null) return;
    const adjustments: WindowAdjustment[] = ticket.takes
      .filter((t) => t.unit === 'tokens')
      .map((t) => ({ key: t.key, windowMs: t.windowMs, windowStart: t.windowStart, delta: Math.ceil(actualTokens) - t.taken }));
    if (adjustments.length > 0) await this.#store.adjust(adjustments);
  }

  /** Gives back every take that was allowed (another limit refused, or the store failed part-way). */
  async #refund(plan: readonly { key: string; cost: number; l: RateLimitConfig }[], settled: readonly PromiseSettledResult<SlidingResult>[]): Promise<void> {
    const adjustments: WindowAdjustment[] = [];
    plan.forEach((p, i) => {
      const s = settled[i];
      if (s?.status === 'fulfilled' && s.value.allowed && p.cost > 0) adjustments.push({ key: p.key, windowMs: p.l.window, windowStart: s.value.windowStart, delta: -p.cost });
    });
    if (adjustments.length === 0) return;
    // Best effort: if the store fails now, the overcount ages out with the window.
    await this.#store.adjust(adjustments).catch(() => undefined);
  }
}

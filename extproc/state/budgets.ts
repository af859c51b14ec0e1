import type { BudgetConfig, PriceConfig } from '../config/state-schema.ts';
import { compileModelPatterns, type ModelMatcher } from '../core/model-pattern.ts';
import { retryAfterSeconds, StateUnavailableError, type OnStateError } from './state-errors.ts';
import type { StateStore, WindowAdjustment, WindowCharge } from './state-store.ts';
import { counterKey, subjectValues, type Principal } from './subjects.ts';

/** Token counts; before the request an upper bound (prompt estimate + max_tokens), after it the provider's usage. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface BudgetCharge {
  readonly budget: string;
  readonly subject: string;
  readonly metric: BudgetConfig['metric'];
  readonly key: string;
  readonly windowMs: number;
  readonly windowStart: number;
  /** What was reserved: tokens, micro-units of money, or one tool call. */
  readonly reserved: number;
  readonly limit: number;
  /** The counter after the reservation. */
  readonly used: number;
}

export interface BudgetReservation {
  readonly charges: readonly BudgetCharge[];
  readonly provider: string;
  readonly model: string;
  /** True when the state store was unavailable and the budgets' onStateError let the request through unmetered. */
  readonly degraded: boolean;
}

export interface BudgetRefusal {
  readonly reason: 'budget_exceeded' | 'unpriced_model' | 'group_missing';
  readonly budget: string;
  readonly subject: string;
  readonly metric: BudgetConfig['metric'];
  readonly limit: number;
  readonly used: number;
  /** Epoch ms when the refusing window ends. */
  readonly resetAt: number;
  readonly retryAfterSeconds: number;
}

export type BudgetDecision = { readonly ok: true; readonly reservation: BudgetReservation } | { readonly ok: false; readonly refusal: BudgetRefusal };

export const MICRO = 1_000_000;

interface CompiledEntry {
  readonly provider: string;
  readonly matches: ModelMatcher;
  readonly entry: PriceConfig;
}

export interface ModelPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

/**
 * The price and model catalog. Prices: the first entry whose provider and model pattern match and that
 * has prices; the maximum output: the first that matches and has `maxOutputTokens`.
 */
export class PriceCatalog {
  readonly #entries: readonly CompiledEntry[];

  constructor(prices: readonly PriceConfig[]) {
    this.#entries = prices.map((p) => ({ provider: p.provider, matches: compileModelPatterns([p.model]), entry: p }));
  }

  lookup(provider: string, model: string): ModelPrice | undefined {
    for (const { provider: p, matches, entry } of this.#entries) {
      if (p === provider && entry.inputPerMTok !== undefined && entry.outputPerMTok !== undefined && matches(model)) return { inputPerMTok: entry.inputPerMTok, outputPerMTok: entry.outputPerMTok };
    }
    return undefined;
  }

  /** The model's maximum output tokens from the catalog, if an entry gives one. */
  maxOutputTokens(provider: string, model: string): number | undefined {
    return this.#entries.find((e) => e.provider === provider && e.entry.maxOutputTokens !== undefined && e.matches(model))?.entry.maxOutputTokens;
  }

  /** Cost in micro-units (millionths of the currency), rounded up; undefined if the model has no price. */
  costMicro(provider: string, model: string, usage: TokenUsage): number | undefined {
    const p = this.lookup(provider, model);
    if (p === undefined) return undefined;
    // price is per million tokens, so tokens × price is exactly micro-units.
    return Math.max(0, Math.ceil(usage.inputTokens * p.inputPerMTok + usage.outputTokens * p.outputPerMTok - 1e-9));
  }
}

type Plan = { budget: BudgetConfig; subject: string; charge: WindowCharge }[];

/**
 * Token, money and tool-call budgets: reserve an upper-bound estimate before the request (all budgets at
 * once, all or nothing, atomically in the store), settle the real usage after. Concurrent requests can never
 * reserve past a limit together; a settle above its estimate can overshoot by the difference, so
 * estimates should be upper bounds (max_tokens). Usage the provider does not report keeps the estimate.
 * Model requests count against `tokens` and `cost` budgets; MCP tools/call messages against `tool_calls`
 * budgets (one each), and nothing else does.
 */
export class BudgetGuard {
  readonly #store: StateStore;
  readonly #budgets: readonly BudgetConfig[];
  readonly #prices: PriceCatalog;
  readonly #onError: OnStateError;

  constructor(store: StateStore, budgets: readonly BudgetConfig[], prices: readonly PriceConfig[], options: { onError: OnStateError }) {
    this.#store = store;
    this.#budgets = budgets;
    this.#prices = new PriceCatalog(prices);
    this.#onError = options.onError;
  }

  get prices(): PriceCatalog {
    return this.#prices;
  }

  /** Whether any token or cost budget applies to this principal (or would refuse it for a missing group). */
  covers(principal: Principal): boolean {
    return this.#budgets.some((b) => b.metric !== 'tool_calls' && subjectValues(b.per, principal, b.only)?.length !== 0);
  }

  /** Whether any `tool_calls` budget is configured (MCP tools/call messages are then reserved against). */
  get countsToolCalls(): boolean {
    return this.#budgets.some((b) => b.metric === 'tool_calls');
  }

  /** A model request: its token estimate (or its cost) against every matching `tokens` and `cost` budget. */
  async reserve(principal: Principal, provider: string, model: string, estimate: TokenUsage): Promise<BudgetDecision> {
    const plan: Plan = [];
    for (const budget of this.#budgets) {
      if (budget.metric === 'tool_calls') continue;
      const subjects = subjectValues(budget.per, principal, budget.only);
      if (subjects === null) return { ok: false, refusal: refusal('group_missing', budget, '', 0, 0, 0) };
      for (const subject of subjects) {
        let amount = estimate.inputTokens + estimate.outputTokens;
        let limit = budget.limit;
        if (budget.metric === 'cost') {
          const cost = this.#prices.costMicro(provider, model, estimate);
          if (cost === undefined) return { ok: false, refusal: refusal('unpriced_model', budget, subject, 0, 0, 0) };
          amount = cost;
          limit = Math.round(budget.limit * MICRO);
        }
        plan.push({ budget, subject, charge: { key: counterKey('b', budget.name, budget.per, subject), windowMs: budget.window, amount, limit } });
      }
    }
    return this.#take(plan, provider, model);
  }

  /** An MCP tools/call to `server`: one call against every matching `tool_calls` budget. */
  async reserveToolCall(principal: Principal, server: string): Promise<BudgetDecision> {
    const plan: Plan = [];
    for (const budget of this.#budgets) {
      if (budget.metric !== 'tool_calls') continue;
      const subjects = subjectValues(budget.per, principal, budget.only);
      if (subjects === null) return { ok: false, refusal: refusal('group_missing', budget, '', 0, 0, 0) };
      for (const subject of subjects) plan.push({ budget, subject, charge: { key: counterKey('b', budget.name, budget.per, subject), windowMs: budget.window, amount: 1, limit: budget.limit } });
    }
    return this.#take(plan, server, '');
  }

  /** Reserves the whole plan in one atomic step of the store, or reports the refusing window. */
  async #take(plan: Plan, provider: string, model: string): Promise<BudgetDecision> {
    if (plan.length === 0) return { ok: true, reservation: { charges: [], provider, model, degraded: false } };
    let result;
    try {
      result = await this.#store.reserve(plan.map((p) => p.charge));
    } catch (err) {
      if (err instanceof StateUnavailableError && plan.every((p) => (p.budget.onStateError ?? this.#onError) === 'allow'))
        return { ok: true, reservation: { charges: [], provider, model, degraded: true } };
      throw err;
    }
    if (!result.granted) {
      // Report the refusing window that resets last: the request cannot pass before then.
      let worst: BudgetRefusal | undefined;
      plan.forEach((p, i) => {
        const w = result.windows[i];
        if (w === undefined || (w.used < p.charge.limit && w.used + p.charge.amount <= p.charge.limit)) return;
        const resetAt = w.windowStart + p.charge.windowMs;
        const r = refusal('budget_exceeded', p.budget, p.subject, p.charge.limit, w.used, resetAt, resetAt - result.now);
        if (worst === undefined || r.resetAt > worst.resetAt) worst = r;
      });
      if (worst !== undefined) return { ok: false, refusal: worst };
      throw new Error('reserve refused without a refusing window');
    }
    return {
      ok: true,
      reservation: {
        provider, model, degraded: false,
        charges: plan.map((p, i) => ({
          budget: p.budget.name, subject: p.subject, metric: p.budget.metric, key: p.charge.key, windowMs: p.charge.windowMs,
          windowStart: result.windows[i]?.windowStart ?? 0, reserved: p.charge.amount, limit: p.charge.limit, used: result.windows[i]?.used ?? 0,
        })),
      },
    };
  }

  /**
   * Replaces each reservation with the real usage (null: usage unknown, keep the estimate). Returns the
   * cost of `actual` in micro-units when priced, for metrics and the audit record. A tool call that went
   * out stays charged as reserved.
   */
  async settle(reservation: BudgetReservation, actual: TokenUsage | null): Promise<{ costMicro: number | undefined }> {
    const costMicro = actual === null ? undefined : this.#prices.costMicro(reservation.provider, reservation.model, actual);
    if (actual === null) return { costMicro };
    await this.#adjust(reservation, (c) => (c.metric === 'tool_calls' ? c.reserved : c.metric === 'tokens' ? actual.inputTokens + actual.outputTokens : (costMicro ?? c.reserved)));
    return { costMicro };
  }

  /** Gives a reservation back in full (the request was refused or failed before reaching the provider). */
  async release(reservation: BudgetReservation): Promise<void> {
    await this.#adjust(reservation, () => 0);
  }

  /** Moves each charge from what was reserved to `real(charge)`. */
  async #adjust(reservation: BudgetReservation, real: (c: BudgetCharge) => number): Promise<void> {
    const adjustments: WindowAdjustment[] = reservation.charges
      .map((c) => ({ key: c.key, windowMs: c.windowMs, windowStart: c.windowStart, delta: real(c) - c.reserved }))
      .filter((a) => a.delta !== 0);
    if (adjustments.length > 0) await this.#store.adjust(adjustments);
  }
}

function refusal(reason: BudgetRefusal['reason'], b: BudgetConfig, subject: string, limit: number, used: number, resetAt: number, retryMs = 0): BudgetRefusal {
  return { reason, budget: b.name, subject, metric: b.metric, limit, used, resetAt, retryAfterSeconds: reason === 'budget_exceeded' ? retryAfterSeconds(retryMs) : 0 };
}

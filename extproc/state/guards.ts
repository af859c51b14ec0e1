import type { Config } from '../config/schema.ts';
import { AnomalyDetector } from './anomaly.ts';
import { BudgetGuard, PriceCatalog } from './budgets.ts';
import { RateLimiter } from './rate-limits.ts';
import type { StateStore } from './state-store.ts';

/**
 * The usage controls of one policy revision over the process's state store: rate limits, budgets,
 * anomaly baselines. Built with each policy (a reload swaps them with it); the counters live in the
 * store, so a reload keeps what was counted.
 */
export interface UsageGuards {
  readonly rates: RateLimiter | undefined;
  readonly budgets: BudgetGuard | undefined;
  readonly anomaly: AnomalyDetector | undefined;
  /** The price catalog, for the cost of each request (audit, metrics), budgets or not. */
  readonly prices: PriceCatalog;
}

export function buildUsageGuards(config: Config, store: StateStore): UsageGuards {
  const onError = config.state.onError;
  return Object.freeze({
    rates: config.rateLimits.length === 0 ? undefined : new RateLimiter(store, config.rateLimits, { onError }),
    budgets: config.budgets.length === 0 ? undefined : new BudgetGuard(store, config.budgets, config.prices, { onError }),
    anomaly: config.anomaly.enabled ? new AnomalyDetector(store, config.anomaly, { onError }) : undefined,
    prices: new PriceCatalog(config.prices),
  });
}

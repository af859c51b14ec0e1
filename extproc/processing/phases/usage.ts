import { RULES } from '../../core/decision.ts';
import type { JsonObject } from '../../providers/index.ts';
import { StateUnavailableError } from '../../state/state-errors.ts';
import type { Principal } from '../../state/subjects.ts';
import { logFor, type Denial, type RequestState } from '../request-state.ts';

/** Output tokens assumed when the request sets no limit of its own (for the budget reservation only). */
const DEFAULT_OUTPUT_ESTIMATE = 1024;
const OUTPUT_LIMIT_FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;

/** An upper-bound estimate: ~4 bytes a token for the prompt, the request's own output cap or a default. */
function estimate(bodyBytes: number, doc: JsonObject | undefined): { inputTokens: number; outputTokens: number } {
  let output = DEFAULT_OUTPUT_ESTIMATE;
  for (const f of OUTPUT_LIMIT_FIELDS) {
    const v = doc?.[f];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) output = v;
  }
  return { inputTokens: Math.ceil(bodyBytes / 4), outputTokens: output };
}

function principal(state: RequestState): Principal | undefined {
  const a = state.authz;
  if (a === undefined) return undefined;
  return { identity: a.identity.id, tenant: a.identity.tenant, claims: state.claims };
}

/**
 * Usage controls before the request goes out: per-identity rate limits, egress anomaly baselines
 * (flagged always, denied where policy says so), then the budget reservation (settled with the real
 * usage when the response ends, released if it never goes out). Shared state that is down fails
 * closed unless the feature is configured to fail open (then the record says state_degraded).
 */
export async function admitUsage(state: RequestState, bodyBytes: number, doc: JsonObject | undefined): Promise<Denial | undefined> {
  const { rates, budgets, anomaly } = state.guards;
  const who = principal(state);
  const provider = state.provider?.name;
  if (who === undefined || provider === undefined || (rates === undefined && budgets === undefined && anomaly === undefined)) return undefined;
  const est = estimate(bodyBytes, doc);
  try {
    if (rates !== undefined) {
      const r = await rates.check(who, est.inputTokens + est.outputTokens);
      if (!r.ok) return { code: 'rate_limited', rule: RULES.rateLimit, retryAfterSeconds: r.refusal.retryAfterSeconds };
      state.rateTicket = r.ticket;
      if (r.ticket.degraded) state.stateDegraded = true;
    }
    if (anomaly !== undefined) {
      const a = await anomaly.observe({ identity: who.identity, provider, endpoint: `${state.authz?.method ?? ''} ${state.translator?.operation ?? 'unknown'}`, requestBytes: bodyBytes });
      state.anomalyFlags = [...a.flags];
      if (a.degraded) state.stateDegraded = true;
      for (const flag of a.flags) state.services.metrics.anomalyFlags.inc({ flag, provider });
      if (a.deny.length > 0) return { code: 'anomaly_blocked', rule: RULES.anomaly };
    }
    if (budgets !== undefined) {
      const b = await budgets.reserve(who, provider, state.model ?? '', est);
      if (!b.ok) return b.refusal.reason === 'unpriced_model' ? { code: 'model_unpriced', rule: RULES.budget } : { code: 'budget_exceeded', rule: RULES.budget, retryAfterSeconds: b.refusal.retryAfterSeconds };
      state.reservation = b.reservation;
      if (b.reservation.degraded) state.stateDegraded = true;
    }
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    logFor(state).error({ operation: err.operation, reason: err.reason }, 'shared state unavailable; failing closed');
    return { code: 'state_unavailable', rule: RULES.sharedState };
  }
  return undefined;
}

/**
 * After the response: charge the real usage against the budget and token rate limits, or give the
 * reservation back when nothing went out. Runs once, off the request path; a failure is logged (the
 * reservation stays charged: errs towards the limit).
 */
export function settleUsage(state: RequestState, wentOut: boolean): void {
  const { budgets, rates } = state.guards;
  const reservation = state.reservation;
  const ticket = state.rateTicket;
  state.reservation = undefined;
  state.rateTicket = undefined;
  const usage = state.usage === undefined ? null : { inputTokens: state.usage.inputTokens, outputTokens: state.usage.outputTokens };
  const work: Promise<unknown>[] = [];
  if (budgets !== undefined && reservation !== undefined) {
    work.push((wentOut ? budgets.settle(reservation, usage) : budgets.release(reservation)).then((r) => {
      if (r !== undefined && 'costMicro' in r && r.costMicro !== undefined && state.provider !== undefined) state.services.metrics.costMicro.inc({ provider: state.provider.name }, r.costMicro);
    }));
  }
  if (rates !== undefined && ticket !== undefined) work.push(rates.settleTokens(ticket, usage === null ? 0 : usage.inputTokens + usage.outputTokens));
  for (const w of work) w.catch((err: unknown) => { logFor(state).warn({ err: (err as Error).message }, 'usage settlement failed'); });
}

import { RULES } from '../../core/decision.ts';
import { rateDenial } from '../../state/bodyless-admission.ts';
import { StateUnavailableError } from '../../state/state-errors.ts';
import { BYTES_PER_TOKEN, reservationEstimate } from '../../state/reservation.ts';
import type { RateLimiter } from '../../state/rate-limits.ts';
import type { Principal } from '../../state/subjects.ts';
import { logFor, type Denial, type RequestState } from '../request-state.ts';

function principal(state: RequestState): Principal | undefined {
  const a = state.authz;
  if (a === undefined) return undefined;
  return { identity: a.identity.id, tenant: a.identity.tenant, claims: state.claims };
}

/**
 * Usage controls before the request goes out: per-identity rate limits, egress anomaly baselines
 * (flagged always, denied where policy says so), then the budget reservation (settled with the real
 * usage when the response ends, released if it never goes out). The reservation is an upper bound
 * (reservation.ts); a request whose bound is unknown is refused when a token control applies to it.
 * Shared state that is down fails closed unless the feature is configured to fail open (then the
 * record says state_degraded).
 */
export async function admitUsage(state: RequestState, bodyBytes: number): Promise<Denial | undefined> {
  const { rates, budgets, anomaly, prices } = state.guards;
  const who = principal(state);
  const provider = state.provider?.name;
  const translator = state.translator;
  if (who === undefined || provider === undefined || translator === undefined || (rates === undefined && budgets === undefined && anomaly === undefined)) return undefined;
  // An MCP message carries no model tokens: request and tool-call limits count it; token limits and budgets don't.
  if (state.provider?.config.kind === 'mcp') return admitMcp(state, who);
  const bound = reservationEstimate(bodyBytes, translator.outputRequest(), prices.maxOutputTokens(provider, state.model ?? ''));
  if (bound === undefined) {
    if (budgets?.covers(who) === true) return { code: 'output_cap_required', rule: RULES.budget };
    if (rates?.countsTokens(who) === true) return { code: 'output_cap_required', rule: RULES.rateLimit };
  }
  // No token control applies: the estimate only feeds request-count limits and cost-free bookkeeping.
  const est = bound ?? { inputTokens: Math.ceil(bodyBytes / BYTES_PER_TOKEN), outputTokens: 0 };
  try {
    if (rates !== undefined) {
      const refused = await takeRates(state, rates, who, est.inputTokens + est.outputTokens, false);
      if (refused !== undefined) return refused;
      if (state.rateTicket?.takes.some((t) => t.unit === 'tokens') === true) state.usageEstimate = est;
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
      if (!b.ok) {
        const reason = b.refusal.reason;
        return reason === 'budget_exceeded' ? { code: 'budget_exceeded', rule: RULES.budget, retryAfterSeconds: b.refusal.retryAfterSeconds } : { code: reason === 'unpriced_model' ? 'model_unpriced' : 'group_missing', rule: RULES.budget };
      }
      state.reservation = b.reservation;
      if (b.reservation.charges.length > 0) state.usageEstimate = est;
      if (b.reservation.degraded) state.stateDegraded = true;
    }
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    logFor(state).error({ code: 'state_unavailable', operation: err.operation, reason: err.reason }, 'shared state unavailable; failing closed');
    return { code: 'state_unavailable', rule: RULES.sharedState };
  }
  return undefined;
}

/** Usage controls for a message to an MCP server: request and `tool_calls` rate limits (no tokens, no budgets). */
async function admitMcp(state: RequestState, who: Principal): Promise<Denial | undefined> {
  const { rates } = state.guards;
  try {
    return rates === undefined ? undefined : await takeRates(state, rates, who, 0, state.mcp?.message.method === 'tools/call');
  } catch (err) {
    return stateFailure(state, err);
  }
}

/** The rate limits' take for this request (its ticket kept for settling), or their refusal. */
async function takeRates(state: RequestState, rates: RateLimiter, who: Principal, tokens: number, toolCall: boolean): Promise<Denial | undefined> {
  const r = await rates.check(who, tokens, toolCall);
  if (!r.ok) return rateDenial(r.refusal);
  state.rateTicket = r.ticket;
  if (r.ticket.degraded) state.stateDegraded = true;
  return undefined;
}

/** Shared state that is down fails closed (logged once); anything else is rethrown. */
function stateFailure(state: RequestState, err: unknown): Denial {
  if (!(err instanceof StateUnavailableError)) throw err;
  logFor(state).error({ code: 'state_unavailable', operation: err.operation, reason: err.reason }, 'shared state unavailable; failing closed');
  return { code: 'state_unavailable', rule: RULES.sharedState };
}

/**
 * After the response: charge the real usage against the budget and token rate limits, or give the
 * reservation back when nothing went out. A request that went out without reported usage (a stream
 * without its usage event, a response cut off) keeps its reservation: the estimate is an upper bound
 * and stands (the audit record says `usage.estimated`). Runs once, off the request path; a failure is
 * logged (the reservation stays charged: errs towards the limit).
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
      const m = state.services.metrics;
      if (r !== undefined && 'costMicro' in r && r.costMicro !== undefined && state.provider !== undefined) m.costMicro.inc({ provider: state.provider.name, model: m.modelLabel(state.model) }, r.costMicro);
    }));
  }
  if (rates !== undefined && ticket !== undefined) work.push(wentOut ? rates.settleTokens(ticket, usage === null ? null : usage.inputTokens + usage.outputTokens) : rates.settleTokens(ticket, 0));
  for (const w of work) w.catch((err: unknown) => { logFor(state).warn({ err: (err as Error).message }, 'usage settlement failed'); });
}

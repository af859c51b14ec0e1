import { RULES } from '../../core/decision.ts';
import type { Denial } from '../../errors.ts';
import { observeAnomaly, rateDenial } from '../../state/bodyless-admission.ts';
import { StateUnavailableError } from '../../state/state-errors.ts';
import { BYTES_PER_TOKEN, reservationEstimate } from '../../state/reservation.ts';
import type { BudgetDecision, TokenUsage } from '../../state/budgets.ts';
import type { RateLimiter } from '../../state/rate-limits.ts';
import type { Principal } from '../../state/subjects.ts';
import type { Admitted } from '../request.ts';

const OUTPUT_CAP_BUDGET: Denial = Object.freeze({ code: 'output_cap_required', rule: RULES.budget });
const OUTPUT_CAP_RATE: Denial = Object.freeze({ code: 'output_cap_required', rule: RULES.rateLimit });
const STATE_UNAVAILABLE: Denial = Object.freeze({ code: 'state_unavailable', rule: RULES.sharedState });

/**
 * Usage controls before the request goes out: per-identity rate limits, egress anomaly baselines
 * (flagged always, denied where policy says so), then the budget reservation (settled with the real
 * usage when the request finishes, released if it never goes out: outcome/finish.ts). The reservation
 * is an upper bound (reservation.ts); a request whose bound is unknown is refused when a token control
 * applies to it. Shared state that is down fails closed unless the feature is configured to fail open
 * (then the record says state_degraded). Synchronous when no usage control is configured.
 */
export function admitUsage(req: Admitted, bodyBytes: number): Denial | undefined | Promise<Denial | undefined> {
  const { rates, budgets, anomaly, prices } = req.guards;
  if (rates === undefined && budgets === undefined && anomaly === undefined) return undefined;
  const translator = req.route.translator;
  if (translator === undefined) return undefined;
  const { authz, claims } = req.caller;
  const who: Principal = { identity: authz.identity.id, tenant: authz.identity.tenant, claims };
  const provider = req.route.provider.name;
  const bound = reservationEstimate(bodyBytes, translator.outputRequest(), prices.maxOutputTokens(provider, req.route.model ?? ''));
  if (bound === undefined) {
    if (budgets?.covers(who) === true) return OUTPUT_CAP_BUDGET;
    if (rates?.countsTokens(who) === true) return OUTPUT_CAP_RATE;
  }
  // No token control applies: the estimate only feeds request-count limits and cost-free bookkeeping.
  const est = bound ?? { inputTokens: Math.ceil(bodyBytes / BYTES_PER_TOKEN), outputTokens: 0 };
  return reserve(req, who, provider, bodyBytes, est);
}

async function reserve(req: Admitted, who: Principal, provider: string, bodyBytes: number, est: TokenUsage): Promise<Denial | undefined> {
  const { rates, budgets, anomaly } = req.guards;
  const usage = req.usage;
  try {
    if (rates !== undefined) {
      const refused = await takeRates(req, rates, who, est.inputTokens + est.outputTokens, false);
      if (refused !== undefined) return refused;
      if (usage.ticket?.takes.some((t) => t.unit === 'tokens') === true) usage.estimate = est;
    }
    if (anomaly !== undefined) {
      const a = await observeAnomaly(anomaly, { identity: who.identity, provider, endpoint: `${req.caller.authz.method} ${req.route.translator?.operation ?? 'unknown'}`, requestBytes: bodyBytes }, req.services.metrics);
      usage.anomalyFlags = a.flags;
      if (a.degraded) usage.stateDegraded = true;
      if (a.denial !== undefined) return a.denial;
    }
    if (budgets !== undefined) {
      const refused = holdBudgets(req, await budgets.reserve(who, provider, req.route.model ?? '', est));
      if (refused !== undefined) return refused;
      if ((usage.reservation?.charges.length ?? 0) > 0) usage.estimate = est;
    }
  } catch (err) {
    return stateFailure(req, err);
  }
  return undefined;
}

/**
 * Usage controls for a message to an MCP server: request rate limits, and for a tools/call `tool_calls`
 * limits and then `tool_calls` budgets (one call reserved; kept once the call went out, released if it is
 * refused before: outcome/finish.ts). An MCP message carries no model tokens: token limits and token and
 * cost budgets do not apply. Synchronous without limits.
 */
export function admitMcpUsage(req: Admitted, toolCall: boolean): Denial | undefined | Promise<Denial | undefined> {
  const { rates, budgets } = req.guards;
  const countBudgets = toolCall && budgets?.countsToolCalls === true;
  if (rates === undefined && !countBudgets) return undefined;
  const { authz, claims } = req.caller;
  const who: Principal = { identity: authz.identity.id, tenant: authz.identity.tenant, claims };
  const admit = async (): Promise<Denial | undefined> => {
    const refused = rates === undefined ? undefined : await takeRates(req, rates, who, 0, toolCall);
    if (refused !== undefined || !countBudgets) return refused;
    return holdBudgets(req, await budgets.reserveToolCall(who, req.route.provider.name));
  };
  return admit().catch((err: unknown) => stateFailure(req, err));
}

/** Keeps a granted budget reservation on the request (settled or released when it ends), or its refusal. */
function holdBudgets(req: Admitted, b: BudgetDecision): Denial | undefined {
  if (!b.ok) {
    const reason = b.refusal.reason;
    return reason === 'budget_exceeded' ? { code: 'budget_exceeded', rule: RULES.budget, retryAfterSeconds: b.refusal.retryAfterSeconds } : { code: reason === 'unpriced_model' ? 'model_unpriced' : 'group_missing', rule: RULES.budget };
  }
  req.usage.reservation = b.reservation;
  if (b.reservation.degraded) req.usage.stateDegraded = true;
  return undefined;
}

/** The rate limits' take for this request (its ticket kept for settling), or their refusal. */
async function takeRates(req: Admitted, rates: RateLimiter, who: Principal, tokens: number, toolCall: boolean): Promise<Denial | undefined> {
  const r = await rates.check(who, tokens, toolCall);
  if (!r.ok) return rateDenial(r.refusal);
  req.usage.ticket = r.ticket;
  if (r.ticket.degraded) req.usage.stateDegraded = true;
  return undefined;
}

/** Shared state that is down fails closed (logged once); anything else is rethrown. */
function stateFailure(req: Admitted, err: unknown): Denial {
  if (!(err instanceof StateUnavailableError)) throw err;
  req.log().error({ code: 'state_unavailable', operation: err.operation, reason: err.reason }, 'shared state unavailable; failing closed');
  return STATE_UNAVAILABLE;
}

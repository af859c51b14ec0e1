import { RULES } from '../core/decision.ts';
import type { Denial } from '../errors.ts';
import type { AuditRecord } from '../telemetry/audit-record.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { AnomalyDetector, Observation } from './anomaly.ts';
import type { UsageGuards } from './guards.ts';
import type { RateRefusal } from './rate-limits.ts';
import { StateUnavailableError } from './state-errors.ts';
import type { Principal } from './subjects.ts';

/** A rate limit's refusal as the request's denial: the same code, rule and wait in ext_authz and ext_proc. */
export function rateDenial(refusal: RateRefusal): Denial {
  return refusal.reason === 'group_missing' ? { code: 'group_missing', rule: RULES.rateLimit } : { code: 'rate_limited', rule: RULES.rateLimit, retryAfterSeconds: refusal.retryAfterSeconds };
}

/** What the anomaly baseline said about one request: its flags (counted), whether state was degraded, and a denial if policy refuses a flag. */
export interface AnomalyObservation {
  readonly flags: AuditRecord['anomaly_flags'];
  readonly degraded: boolean;
  readonly denial: Denial | undefined;
}

const ANOMALY_DENIAL: Denial = Object.freeze({ code: 'anomaly_blocked', rule: RULES.anomaly });

/** The one anomaly observation, for a request with a body (ext_proc) and without one (ext_authz). */
export async function observeAnomaly(anomaly: AnomalyDetector, o: Observation, metrics: Metrics): Promise<AnomalyObservation> {
  const a = await anomaly.observe(o);
  for (const flag of a.flags) metrics.anomalyFlags.inc({ flag, provider: o.provider });
  return { flags: [...a.flags], degraded: a.degraded, denial: a.deny.length > 0 ? ANOMALY_DENIAL : undefined };
}

/** What the usage controls said about a request without a body. */
export interface BodylessAdmission {
  readonly denial: Denial | undefined;
  readonly anomalyFlags: AuditRecord['anomaly_flags'];
  readonly stateDegraded: boolean;
  /** The shared state failed (the denial is state_unavailable): which call and how, for the log line. */
  readonly stateFailure: { readonly operation: string; readonly reason: string } | undefined;
}

const ADMITTED: BodylessAdmission = Object.freeze({ denial: undefined, anomalyFlags: [], stateDegraded: false, stateFailure: undefined });

/**
 * Usage controls for a request without a body (a models list, a GET of a batch), decided in ext_authz:
 * no ext_proc request-body handler follows, and ext_authz injects the credential. The same state-store calls and
 * answers as the body path (processing/steps/usage.ts): request rate limits take one, token rate limits take
 * nothing (no prompt, no output cap), the anomaly baseline counts the request (no size sample). Token
 * and cost budgets reserve nothing: such a request spends no tokens, so there is nothing to settle.
 * Shared state that is down fails closed unless the feature is configured to fail open.
 */
export async function admitWithoutBody(guards: UsageGuards, who: Principal, provider: string, endpoint: string, metrics: Metrics): Promise<BodylessAdmission> {
  const { rates, anomaly } = guards;
  if (rates === undefined && anomaly === undefined) return ADMITTED;
  let stateDegraded = false;
  let anomalyFlags: AuditRecord['anomaly_flags'] = [];
  try {
    if (rates !== undefined) {
      const r = await rates.check(who, 0);
      if (!r.ok) return { ...ADMITTED, denial: rateDenial(r.refusal) };
      stateDegraded = r.ticket.degraded;
    }
    if (anomaly !== undefined) {
      const a = await observeAnomaly(anomaly, { identity: who.identity, provider, endpoint, requestBytes: undefined }, metrics);
      anomalyFlags = a.flags;
      if (a.degraded) stateDegraded = true;
      if (a.denial !== undefined) return { denial: a.denial, anomalyFlags, stateDegraded, stateFailure: undefined };
    }
  } catch (err) {
    if (!(err instanceof StateUnavailableError)) throw err;
    return { denial: { code: 'state_unavailable', rule: RULES.sharedState }, anomalyFlags, stateDegraded, stateFailure: { operation: err.operation, reason: err.reason } };
  }
  return { denial: undefined, anomalyFlags, stateDegraded, stateFailure: undefined };
}

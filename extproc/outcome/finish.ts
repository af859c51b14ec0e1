// The end of a request, the same for ext_authz and ext_proc: one audit record built and written, its
// metrics emitted once, the usage it reserved settled. Check calls it for its denials; the ext_proc
// Session for everything else. Nothing here knows Envoy's messages.
import type { Services } from '../services.ts';
import type { BudgetReservation, TokenUsage } from '../state/budgets.ts';
import type { UsageGuards } from '../state/guards.ts';
import type { RateTicket } from '../state/rate-limits.ts';
import { buildAuditRecord, type AuditFacts, type AuditRecord } from '../telemetry/audit-record.ts';
import type { Logger } from '../telemetry/logger.ts';
import { boundMetrics } from '../telemetry/metrics.ts';

/**
 * What a request holds against the usage controls until it ends: the budget reservation, the rate ticket
 * (token limits), the usage the provider reported and the upper bound that stands in for it.
 */
export interface UsageHold {
  reservation: BudgetReservation | undefined;
  ticket: RateTicket | undefined;
  /** The provider's reported usage, once read. */
  reported: TokenUsage | undefined;
  /** The upper bound reserved against budgets or token limits; what stands when no usage is reported. */
  estimate: TokenUsage | undefined;
  /** The request went to the provider: its reservation is charged, never released. */
  forwarded: boolean;
}

/** What holds usage: the request's usage controls, its hold on them, and its logger (ext_proc's request is one). */
export interface UsageHolder {
  readonly guards: UsageGuards;
  readonly usage: UsageHold;
  log(): Logger;
}

/**
 * After the response: charge the real usage against the budget and token rate limits, or give the
 * reservation back when nothing went out. A request that went out without reported usage (a stream
 * without its usage event, a response cut off) keeps its reservation: the estimate is an upper bound
 * and stands (the audit record says `usage.estimated`). Runs once, off the request path; a failure is
 * logged (the reservation stays charged: errs towards the limit).
 */
function settleUsage(services: Services, holder: UsageHolder, record: AuditRecord): void {
  const { budgets, rates } = holder.guards;
  const hold = holder.usage;
  const { reservation, ticket, forwarded } = hold;
  hold.reservation = undefined;
  hold.ticket = undefined;
  if (reservation === undefined && ticket === undefined) return;
  const usage = hold.reported === undefined ? null : { inputTokens: hold.reported.inputTokens, outputTokens: hold.reported.outputTokens };
  const failed = (err: unknown): void => { holder.log().warn({ err: (err as Error).message }, 'usage settlement failed'); };
  if (budgets !== undefined && reservation !== undefined) {
    (forwarded ? budgets.settle(reservation, usage) : budgets.release(reservation)).then((r) => {
      const m = services.metrics;
      if (r !== undefined && 'costMicro' in r && r.costMicro !== undefined && record.provider !== null) m.costMicro.inc({ provider: record.provider, model: m.modelLabel(record.model ?? undefined) }, r.costMicro);
    }).catch(failed);
  }
  if (rates !== undefined && ticket !== undefined) rates.settleTokens(ticket, !forwarded ? 0 : usage === null ? null : usage.inputTokens + usage.outputTokens).catch(failed);
}

/**
 * Ends one request: builds its one audit record from `facts`, settles what `holder` reserved (when given),
 * writes the record and emits the request's metrics. Returns the record.
 */
export function finish(services: Services, facts: AuditFacts, holder?: UsageHolder): AuditRecord {
  const record = buildAuditRecord(facts);
  if (holder !== undefined) settleUsage(services, holder, record);
  services.audit.write(record);
  const m = services.metrics;
  const stage = record.stage === 'authz' ? 'authz' : 'proc';
  boundMetrics(m).auditRecords[stage].inc();
  if (stage === 'proc') {
    m.processedRequests.inc({ outcome: record.outcome, reason: record.reason ?? 'none', provider: record.provider ?? 'none', upstream_status_class: record.upstream_status_class ?? 'none' });
    if (record.usage !== null && record.usage.estimated !== true && record.provider !== null) {
      const model = m.modelLabel(record.model);
      m.tokens.inc({ provider: record.provider, model, direction: 'input' }, record.usage.input_tokens);
      m.tokens.inc({ provider: record.provider, model, direction: 'output' }, record.usage.output_tokens);
    }
  }
  return record;
}

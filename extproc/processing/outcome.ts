import { performance } from 'node:perf_hooks';
import { ERROR_CATALOGUE } from '../errors.ts';
import { auditCredential, buildAuditRecord, type AuditRecord } from '../telemetry/audit-record.ts';
import type { ProcessingResponse } from '../wire/ext-proc.ts';
import { logFor, type Denial, type RequestState } from './request-state.ts';
import { errorResponse } from './responses.ts';
import { settleUsage } from './phases/usage.ts';
import { mcpAuditFacts, mcpDenialResponse } from './phases/mcp.ts';
import type { TokenUsage } from '../state/budgets.ts';

/** Ends the request with Tollgate's JSON error: an ImmediateResponse, audited now. */
export function deny(state: RequestState, denial: Denial): ProcessingResponse {
  state.denial = denial;
  state.status = ERROR_CATALOGUE[denial.code].httpStatus;
  state.stage = 'done';
  writeAudit(state, 'denied');
  return mcpDenialResponse(state, denial) ?? errorResponse(denial.code, state.requestId, state.decisionId, { retryAfterSeconds: denial.retryAfterSeconds, types: denial.types });
}

/** The usage for the record: the provider's, or the reservation that stands for a request that went out without it. */
function auditUsage(state: RequestState): { usage: AuditRecord['usage']; tokens: TokenUsage | undefined } {
  const u = state.usage;
  if (u !== undefined) return { usage: { input_tokens: u.inputTokens, output_tokens: u.outputTokens, total_tokens: u.totalTokens }, tokens: u };
  const e = state.usageEstimate;
  if (!state.forwarded || e === undefined) return { usage: null, tokens: undefined };
  return { usage: { input_tokens: e.inputTokens, output_tokens: e.outputTokens, total_tokens: e.inputTokens + e.outputTokens, estimated: true }, tokens: e };
}

/** Writes the request's one audit record, once, with its metrics and log line. */
export function writeAudit(state: RequestState, outcome: AuditRecord['outcome']): void {
  if (state.auditWritten) return;
  state.auditWritten = true;
  const { services, authz, denial } = state;
  const now = performance.now();
  // The message being handled now counts towards the record written during it.
  const tollgateMs = state.busyMs + (state.phaseStartedAt === undefined ? 0 : now - state.phaseStartedAt);
  const { usage, tokens } = auditUsage(state);
  const record = buildAuditRecord({
    stage: 'proc',
    authenticated: state.authenticated,
    outcome,
    decisionId: state.decisionId,
    requestId: state.requestId,
    identity: authz?.identity,
    provider: state.provider?.name,
    model: state.model,
    method: authz?.method,
    path: authz?.path,
    reason: denial?.code ?? (state.incomplete ? 'response_incomplete' : undefined),
    rule: denial?.rule ?? state.rule ?? (authz === undefined ? undefined : 'identity.allow'),
    shadow: state.shadow === undefined ? null : { rule: state.shadow.rule, reason: state.shadow.reason },
    status: state.status,
    upstreamStatus: state.upstreamStatus,
    request: state.request ?? null,
    response: state.status !== undefined && denial === undefined ? { body_bytes: state.responseBytes, streamed: state.responseStreamed } : null,
    usage,
    credential: auditCredential(state.credentialMeta),
    totalMs: now - state.startedAt,
    tollgateMs,
    policyRevision: authz?.policyRevision ?? state.policy.revision,
    costMicro: tokens === undefined || state.provider === undefined || state.model === undefined ? undefined : state.guards.prices.costMicro(state.provider.name, state.model, tokens),
    anomalyFlags: state.anomalyFlags,
    route: state.routeClass === undefined || state.routedFrom === undefined ? null : { class: state.routeClass, from: state.routedFrom.name },
    content: state.content.action === undefined && Object.keys(state.content.response).length === 0 ? null : { action: state.content.action ?? 'allow', request: state.content.request, response: state.content.response },
    stateDegraded: state.stateDegraded,
    ...mcpAuditFacts(state),
  });
  // A request that went upstream is charged its real usage (or keeps its reservation); one that did not gets it back.
  settleUsage(state, state.forwarded);
  services.audit.write(record);
  const m = services.metrics;
  m.auditRecords.inc({ stage: 'proc' });
  m.processedRequests.inc({ outcome: record.outcome, reason: record.reason ?? 'none', provider: record.provider ?? 'none', upstream_status_class: record.upstream_status_class ?? 'none' });
  if (record.usage !== null && record.usage.estimated !== true && record.provider !== null) {
    const model = m.modelLabel(record.model);
    m.tokens.inc({ provider: record.provider, model, direction: 'input' }, record.usage.input_tokens);
    m.tokens.inc({ provider: record.provider, model, direction: 'output' }, record.usage.output_tokens);
  }
  if (services.logger.isLevelEnabled('debug')) logFor(state).debug({ outcome: record.outcome, reason: record.reason, status: record.http_status, identity: record.identity, provider: record.provider, model: record.model, authenticated: record.authenticated }, 'request finished');
}

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AuthzContext } from '../core/authz-context.ts';
import type { Credential, CredentialMeta } from '../core/credential.ts';
import type { RuleId, ShadowDenial } from '../core/decision.ts';
import type { Usage } from '../core/request-context.ts';
import type { ErrorCode } from '../errors.ts';
import type { Policy, ProviderPolicy } from '../policy/policy.ts';
import type { RequestTranslator, UsageMeter } from '../providers/index.ts';
import type { Services } from '../services.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { AuditRecord } from '../telemetry/audit-record.ts';
import type { BudgetReservation, TokenUsage } from '../state/budgets.ts';
import type { UsageGuards } from '../state/guards.ts';
import type { RateTicket } from '../state/rate-limits.ts';
import type { RestoreMap } from '../redactors/restore-map.ts';
import type { SseStream } from '../redactors/sse-stream.ts';
import type { Coding } from './content-encoding.ts';
import type { McpExchange } from '../mcp/request.ts';
import type { ToolPinVerdict } from '../mcp/tool-pins.ts';

/** Where the ext_proc stream is; each phase module accepts messages only in its stages. */
export type Stage = 'start' | 'request_body' | 'upstream' | 'response_body' | 'local_reply' | 'done';

export interface Denial {
  readonly code: ErrorCode;
  readonly rule: RuleId;
  /** For a 429: when the caller may retry (a retry-after header). */
  readonly retryAfterSeconds?: number;
  /** For a content block: the data types that caused it (never values). */
  readonly types?: readonly string[];
}

/**
 * The state of one request as the ext_proc phases see it: a plain object the phase modules read and
 * write, in stream order. The policy is read once, at the start: the request finishes on that revision.
 */
export interface RequestState {
  readonly services: Services;
  readonly policy: Policy;
  /** The usage controls of that policy revision. */
  readonly guards: UsageGuards;
  readonly startedAt: number;
  /** Time spent in Tollgate's handlers so far, and when the message being handled arrived. */
  busyMs: number;
  phaseStartedAt: number | undefined;
  stage: Stage;
  decisionId: string;
  /** The authz context verified (seal, freshness, single use). False: nothing below is vouched for. */
  authenticated: boolean;
  authz: AuthzContext | undefined;
  /** The verified JWT claims ext_authz sealed into the context, parsed once ({} for other identity kinds). */
  claims: Readonly<Record<string, unknown>>;
  provider: ProviderPolicy | undefined;
  /** The provider's reading of this request: endpoint, model, body, credential application. */
  translator: RequestTranslator | undefined;
  usageMeter: UsageMeter | undefined;
  requestId: string | undefined;
  credential: Promise<Credential> | undefined;
  /** Set once the credential was applied: what the audit record says about it. */
  credentialMeta: CredentialMeta | undefined;
  model: string | undefined;
  request: { readonly body_bytes: number; readonly body_hmac: string } | undefined;
  status: number | undefined;
  /** The status the upstream answered (the provider, or Envoy for it), from the response headers. */
  upstreamStatus: number | undefined;
  responseStreamed: boolean;
  responseBytes: number;
  responseChunks: Buffer[];
  /** The codings of a buffered response the upstream compressed anyway, to undo before reading it. */
  responseCodings: readonly Coding[];
  usage: Usage | undefined;
  denial: Denial | undefined;
  /** The rule that allowed the request, and a shadow-mode would-deny, if any. */
  rule: RuleId | undefined;
  shadow: ShadowDenial | undefined;
  /** The request headers as ext_proc saw them (empty when Envoy skipped them). */
  headers: ReadonlyMap<string, string>;
  /** The response body never finished through ext_proc. */
  incomplete: boolean;
  auditWritten: boolean;
  reservation: BudgetReservation | undefined;
  rateTicket: RateTicket | undefined;
  /** The upper bound reserved against budgets or token limits; what stands when no usage is reported. */
  usageEstimate: TokenUsage | undefined;
  /** The request was sent to the provider (ext_proc let its body go): its reservation is no longer released. */
  forwarded: boolean;
  anomalyFlags: AuditRecord['anomaly_flags'];
  stateDegraded: boolean;
  /** Finding counts by type, request and response, and the request's DLP action. Never values. */
  content: { request: Record<string, number>; response: Record<string, number>; action: 'allow' | 'mask' | 'block' | 'route' | undefined };
  /** Placeholder → original value, for restoring the response: this request only, never logged. */
  restore: RestoreMap | undefined;
  /** The route class DLP chose, then the one classification routing applied (DLP or declared). */
  routeClass: string | undefined;
  /** The provider the caller addressed, when classification routing moved the request to another one. */
  routedFrom: ProviderPolicy | undefined;
  sse: SseStream | undefined;
  /** An MCP server's JSON-RPC message (kind mcp, POST), and how many listed items the caller was not shown. */
  mcp: (McpExchange & { readonly hidden: number; readonly sse?: boolean; readonly pin?: ToolPinVerdict; readonly listed?: readonly ToolPinVerdict[] }) | undefined;
}

/**
 * The request's logger, carrying its request and decision ids and, once the authz context verified (or
 * its seal did), the identity, tenant and provider. Built on demand: a pino child costs several
 * microseconds (it re-runs redaction set-up), and most requests log nothing.
 */
export function logFor(state: Readonly<RequestState>): Logger {
  const a = state.authz;
  return state.services.logger.child({
    request_id: state.requestId, decision_id: state.decisionId,
    identity: a?.identity.id, tenant: a?.identity.tenant, provider: state.provider?.name ?? a?.provider,
  });
}

export function newRequestState(services: Services): RequestState {
  return {
    services,
    policy: services.policy(),
    guards: services.guards(),
    startedAt: performance.now(),
    busyMs: 0,
    phaseStartedAt: undefined,
    stage: 'start',
    decisionId: randomUUID(),
    authenticated: false,
    authz: undefined,
    claims: {},
    provider: undefined,
    translator: undefined,
    usageMeter: undefined,
    requestId: undefined,
    credential: undefined,
    credentialMeta: undefined,
    model: undefined,
    request: undefined,
    status: undefined,
    upstreamStatus: undefined,
    responseStreamed: false,
    responseBytes: 0,
    responseChunks: [],
    responseCodings: [],
    usage: undefined,
    denial: undefined,
    rule: undefined,
    shadow: undefined,
    headers: new Map(),
    incomplete: false,
    auditWritten: false,
    reservation: undefined,
    rateTicket: undefined,
    usageEstimate: undefined,
    forwarded: false,
    anomalyFlags: [],
    stateDegraded: false,
    content: { request: {}, response: {}, action: undefined },
    restore: undefined,
    routeClass: undefined,
    routedFrom: undefined,
    sse: undefined,
    mcp: undefined,
  };
}

import type { AuthzContext, Usage } from '../core/request-context.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.ts';
import { AUDIT_SCHEMA, auditPath, type AuditRecord } from '../telemetry/audit.ts';

export interface Denial {
  readonly code: ErrorCode;
  readonly rule: string;
}

/** What one ext_proc stream learned about its request, enough to write its audit record. */
export interface ProcFacts {
  readonly outcome: AuditRecord['outcome'];
  readonly requestId: string | undefined;
  readonly decisionId: string;
  readonly authz: AuthzContext | undefined;
  readonly provider: string | undefined;
  readonly model: string | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly denial: Denial | undefined;
  /** The response body never finished through ext_proc. */
  readonly incomplete: boolean;
  readonly status: number | undefined;
  readonly requestBytes: number;
  readonly requestSha256: string | null;
  readonly responseBytes: number;
  readonly responseStreamed: boolean;
  readonly usage: Usage | undefined;
  readonly totalMs: number;
  readonly tollgateMs: number;
  /** Used when no authz context says which policy decided. */
  readonly fallbackPolicyRevision: string;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

/** The default rule a catalogue code is reported under when no more specific rule decided. */
export function ruleFor(code: ErrorCode): string {
  switch (code) {
    case 'body_malformed':
    case 'model_missing':
      return 'request.json';
    case 'body_too_large':
      return 'limits.maxRequestBodyBytes';
    case 'credential_unavailable':
      return 'provider.credential';
    case 'authz_context_missing':
    case 'authz_context_invalid':
      return 'authz.context';
    default:
      return code;
  }
}

export function procAuditRecord(f: ProcFacts): AuditRecord {
  const { denial, usage } = f;
  const failed = f.outcome === 'failed' || (denial !== undefined && !ERROR_CATALOGUE[denial.code].userFacing);
  return {
    schema: AUDIT_SCHEMA,
    time: new Date().toISOString(),
    stage: 'proc',
    request_id: f.requestId ?? null,
    decision_id: f.decisionId,
    identity: f.authz?.identity.id ?? null,
    tenant: f.authz?.identity.tenant ?? null,
    provider: f.provider ?? null,
    model: f.model ?? null,
    method: f.method ?? null,
    path: auditPath(f.path),
    decision: failed ? 'error' : denial !== undefined ? 'deny' : 'allow',
    outcome: failed ? 'failed' : f.outcome,
    reason: denial?.code ?? (f.incomplete ? 'response_incomplete' : null),
    rule: denial?.rule ?? (f.authz === undefined ? null : 'identity.allow'),
    http_status: f.status ?? null,
    request: f.requestSha256 === null ? null : { body_bytes: f.requestBytes, body_sha256: f.requestSha256 },
    response: f.status !== undefined && denial === undefined ? { body_bytes: f.responseBytes, streamed: f.responseStreamed } : null,
    usage: usage === undefined ? null : { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, total_tokens: usage.totalTokens },
    latency_ms: { total: round(f.totalMs), tollgate: round(f.tollgateMs) },
    policy_revision: f.authz?.policyRevision ?? f.fallbackPolicyRevision,
  };
}

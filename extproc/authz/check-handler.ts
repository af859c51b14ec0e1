import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CALLER_CREDENTIAL_HEADERS } from '../core/request-context.ts';
import { providerForPath, type IdentityRuntime, type Runtime } from '../config/runtime.ts';
import { ERROR_CATALOGUE, clientErrorBody, type ErrorCode } from '../errors.ts';
import { AUDIT_SCHEMA, auditPath, type AuditSink } from '../telemetry/audit.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { CheckRequest, CheckResponse } from '../wire/ext-authz.ts';
import { stringStruct } from '../wire/struct.ts';
import { hashApiKey, presentedApiKey } from './api-key.ts';

export interface CheckDeps {
  readonly runtime: () => Runtime;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

interface Verdict {
  readonly code: ErrorCode | null;
  readonly rule: string;
  readonly identity?: IdentityRuntime;
  readonly provider?: string;
}

function decide(runtime: Runtime, req: CheckRequest): Verdict {
  const http = req.attributes?.request?.http;
  const headers = http?.headers ?? {};
  const provider = providerForPath(runtime, http?.path ?? '');
  const presented = presentedApiKey(headers);
  if (presented.kind === 'ambiguous') return { code: 'credentials_ambiguous', rule: 'identity.api_key' };
  if (presented.kind !== 'key') return { code: 'unauthenticated', rule: 'identity.api_key' };
  const identity = runtime.identitiesByKeyHash.get(hashApiKey(presented.key));
  if (identity === undefined) return { code: 'unauthenticated', rule: 'identity.api_key' };
  if (provider === undefined) return { code: 'provider_unknown', rule: 'provider.route', identity };
  if (!identity.providers.has(provider.name)) return { code: 'provider_forbidden', rule: 'identity.allow', identity, provider: provider.name };
  return { code: null, rule: 'identity.allow', identity, provider: provider.name };
}

/**
 * ext_authz Check. Never answers with a gRPC error: every failure, internal ones included, is a
 * deny with a JSON body, and every deny writes its audit record here (ext_proc never sees it).
 */
export function createCheckHandler(deps: CheckDeps): (req: CheckRequest) => CheckResponse {
  return (req) => {
    const started = performance.now();
    const runtime = deps.runtime();
    const decisionId = randomUUID();
    const http = req.attributes?.request?.http;
    const requestId = http?.headers?.['x-request-id'];
    let verdict: Verdict;
    try {
      verdict = decide(runtime, req);
    } catch (err) {
      deps.logger.error({ err, decision_id: decisionId, request_id: requestId }, 'ext_authz check failed');
      verdict = { code: 'internal', rule: 'internal' };
    }
    deps.metrics.authzDecisions.inc({ decision: verdict.code === null ? 'allow' : 'deny', reason: verdict.code ?? 'none', provider: verdict.provider ?? 'none' });

    if (verdict.code === null && verdict.identity !== undefined && verdict.provider !== undefined) {
      const ctx = { identity: { id: verdict.identity.id, tenant: verdict.identity.tenant }, provider: verdict.provider, decisionId, policyRevision: runtime.policyRevision };
      const issuedAt = Date.now();
      // Warm the credential cache now, so a miss overlaps with Envoy starting ext_proc.
      runtime.credentials.get({ tenant: ctx.identity.tenant, identity: ctx.identity.id, provider: ctx.provider }).catch(() => undefined);
      return {
        status: { code: 0 },
        ok_response: { headers_to_remove: CALLER_CREDENTIAL_HEADERS },
        dynamic_metadata: stringStruct({
          identity: ctx.identity.id,
          tenant: ctx.identity.tenant,
          provider: ctx.provider,
          decision_id: decisionId,
          policy_revision: ctx.policyRevision,
          issued_at: String(issuedAt),
          seal: runtime.authzSealer.seal(ctx, issuedAt),
        }),
      };
    }

    const code: ErrorCode = verdict.code ?? 'internal';
    const entry = ERROR_CATALOGUE[code];
    const elapsed = Math.round((performance.now() - started) * 1000) / 1000;
    deps.audit.write({
      schema: AUDIT_SCHEMA,
      time: new Date().toISOString(),
      stage: 'authz',
      request_id: requestId ?? null,
      decision_id: decisionId,
      identity: verdict.identity?.id ?? null,
      tenant: verdict.identity?.tenant ?? null,
      provider: verdict.provider ?? null,
      model: null,
      method: http?.method ?? null,
      path: auditPath(http?.path),
      decision: code === 'internal' ? 'error' : 'deny',
      outcome: code === 'internal' ? 'failed' : 'denied',
      reason: code,
      rule: verdict.rule,
      http_status: entry.httpStatus,
      request: null,
      response: null,
      usage: null,
      latency_ms: { total: elapsed, tollgate: elapsed },
      policy_revision: runtime.policyRevision,
    });
    deps.metrics.auditRecords.inc({ stage: 'authz' });
    deps.logger.info({ decision_id: decisionId, request_id: requestId, reason: code, rule: verdict.rule, identity: verdict.identity?.id }, 'request denied by ext_authz');
    return {
      status: { code: entry.grpcStatus, message: code },
      denied_response: {
        status: { code: entry.httpStatus },
        headers: [
          { header: { key: 'content-type', value: 'application/json' }, append: { value: false } },
          { header: { key: 'x-tollgate-decision-id', value: decisionId }, append: { value: false } },
        ],
        body: clientErrorBody(code, requestId),
      },
    };
  };
}

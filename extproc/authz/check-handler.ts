import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { AuthzContext } from '../core/authz-context.ts';
import { RULES, type Identity, type RuleId, type ShadowDenial } from '../core/decision.ts';
import { CALLER_CREDENTIAL_HEADERS } from '../core/request-context.ts';
import { CredentialUnavailableError } from '../credentials/broker.ts';
import { logNoCredential } from '../credentials/lifecycle-log.ts';
import { denialReply, ERROR_CATALOGUE, ruleFor, toTollgateError, type Denial, type ErrorCode } from '../errors.ts';
import { jsonRpcDenialReply } from '../mcp/jsonrpc-error.ts';
import { finish } from '../outcome/finish.ts';
import { evaluate } from '../policy/evaluate.ts';
import { jwtSubjectKey, providerForPath, type IdentityPolicy, type Policy, type ProviderPolicy } from '../policy/policy.ts';
import { asTollgateError, requestDocument, splitTarget, translatorFor } from '../policy/request.ts';
import { headerValue, type HeaderToSet, type RequestTranslator } from '../providers/index.ts';
import type { Services } from '../services.ts';
import { admitWithoutBody, type BodylessAdmission } from '../state/bodyless-admission.ts';
import { auditCredential, type AuditRecord } from '../telemetry/audit-record.ts';
import { failureFields } from '../telemetry/logger.ts';
import { boundMetrics } from '../telemetry/metrics.ts';
import { traceCheck } from '../telemetry/tracing.ts';
import type { CheckRequest, CheckResponse } from '../wire/ext-authz.ts';
import { stringStruct } from '../wire/struct.ts';
import type { IdentityFailure, IdentityResolution, ResolvedIdentity } from '../identity/precedence.ts';

type Verdict =
  | { readonly allow: true; readonly rule: RuleId; readonly identity: Identity; readonly provider: ProviderPolicy; readonly translator: RequestTranslator; readonly shadow: ShadowDenial | undefined }
  | { readonly allow: false; readonly denial: Denial; readonly identity?: Identity; readonly provider?: string };

interface RequestLine {
  readonly method: string;
  /** The request target as Envoy saw it, query included (the audit record drops the query). */
  readonly target: string;
  readonly headers: Readonly<Record<string, string>>;
}

function requestLine(req: CheckRequest): RequestLine {
  const http = req.attributes?.request?.http;
  return { method: http?.method ?? '', target: http?.path ?? '', headers: http?.headers ?? {} };
}

/** What Envoy says about the peer: the URI SAN of a verified client certificate, and the certificate. */
function peer(req: CheckRequest): { principal: string | undefined; certificate: string | undefined } {
  const source = req.attributes?.source;
  const principal = source?.principal;
  const certificate = source?.certificate;
  return { principal: principal === undefined || principal === '' ? undefined : principal, certificate: certificate === undefined || certificate === '' ? undefined : certificate };
}

/** What a verified caller maps to in the policy; a verified workload with no entry is `identity_unknown`. */
function policyIdentity(policy: Policy, resolved: ResolvedIdentity): Identity | undefined {
  let found: IdentityPolicy | undefined;
  if (resolved.kind === 'api_key') found = policy.identitiesById.get(resolved.subject);
  else if (resolved.kind === 'spiffe') found = policy.identitiesBySpiffeId.get(resolved.subject);
  else found = policy.identitiesByJwtSubject.get(jwtSubjectKey(resolved.authority, resolved.subject));
  if (found === undefined) return undefined;
  return { id: found.id, tenant: found.tenant, kind: resolved.kind };
}

/** The catalogue code for an identity verification failure. */
function identityFailureCode(reason: IdentityFailure): ErrorCode {
  switch (reason) {
    case 'unauthenticated':
    case 'credentials_ambiguous':
      return reason;
    case 'expired':
    case 'not_yet_valid':
      return 'token_expired';
    case 'replayed':
      return 'token_replayed';
    case 'trust_domain_untrusted':
      return 'peer_untrusted';
    case 'jwks_unavailable':
    case 'replay_store_unavailable':
      return 'identity_unavailable';
    default:
      return 'identity_invalid';
  }
}

const refuse = (code: ErrorCode, rule: RuleId, identity?: Identity, provider?: string): Verdict =>
  ({ allow: false, denial: { code, rule }, ...(identity === undefined ? {} : { identity }), ...(provider === undefined ? {} : { provider }) });

/** Identity, provider route, endpoint, the model the request line names, and the grants: one verdict. */
function decide(policy: Policy, line: RequestLine, resolved: IdentityResolution, disabled: (tenant: string, identity: string) => boolean): Verdict {
  if (!resolved.ok) return refuse(identityFailureCode(resolved.reason), resolved.kind === 'api_key' || resolved.kind === 'none' ? RULES.identityApiKey : RULES.identityVerify);
  const identity = policyIdentity(policy, resolved.identity);
  if (identity === undefined) return refuse('identity_unknown', RULES.identityUnknown);
  if (disabled(identity.tenant, identity.id)) return refuse('identity_disabled', RULES.killSwitch, identity);
  const { path } = splitTarget(line.target);
  const provider = providerForPath(policy, path);
  if (provider === undefined) return refuse('provider_unknown', RULES.providerRoute, identity);
  if (!policy.identitiesById.get(identity.id)?.providers.has(provider.name)) return refuse('provider_forbidden', RULES.identityAllow, identity, provider.name);
  let translator: RequestTranslator;
  try {
    translator = translatorFor(provider, line.method, line.target, new Map(Object.entries(line.headers)));
  } catch (err) {
    const e = toTollgateError(err);
    return refuse(e.code, e.code === 'endpoint_not_allowed' ? RULES.providerEndpoints : RULES.requestModel, identity, provider.name);
  }
  const decision = evaluate(policy, requestDocument(identity, provider, line.method, line.target, translator, resolved.identity.claims, line.headers), hasNoBody(line.headers));
  if (!decision.allow) return refuse(decision.reason, decision.rule, identity, provider.name);
  return { allow: true, rule: decision.rule, identity, provider, translator, shadow: decision.shadow };
}

/** x-envoy-* in any case (Envoy hands ext_authz lower-case names; the kind's list lower-cases them too). */
const ENVOY_HEADER = /^x-envoy-/i;

/** True when the request carries no body: Envoy's buffer filter runs first and sets content-length for any body. */
function hasNoBody(headers: Readonly<Record<string, string>>): boolean {
  const cl = headers['content-length'];
  return headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0');
}

/**
 * ext_authz Check: the decision point. Resolves the identity, evaluates policy over the request line
 * and answers allow (sealed context for ext_proc, the caller's credential headers removed, and for a
 * request without a body the provider credential itself) or deny (JSON body, audited here).
 * Never answers with a gRPC error: an internal failure is a deny too.
 * `peerTrusted`: the Check came from Envoy's authenticated connection, so the peer certificate it
 * reports (source.principal, source.certificate, XFCC) may identify the caller; otherwise it is ignored.
 */
export function createCheckHandler(services: Services): (req: CheckRequest, peerTrusted: boolean) => Promise<CheckResponse> {
  return async (req, peerTrusted) => {
    const started = performance.now();
    const policy = services.policy();
    const decisionId = randomUUID();
    const line = requestLine(req);
    const requestId = line.headers['x-request-id'];
    const withoutBody = hasNoBody(line.headers);
    const span = traceCheck(line.headers);
    let verdict: Verdict;
    let admission: BodylessAdmission | undefined;
    // Who and where, once known: for the failure line and the record of a Check that fails after the decision.
    let known: { identity?: Identity; provider?: string } = {};
    // A failure was logged (one line per failed request: the denial line is then left out).
    let failureLogged = false;
    try {
      const resolved = await services.identity.resolver.resolve(peerTrusted ? { ...peer(req), peerTrusted, headers: line.headers } : { headers: line.headers });
      verdict = decide(policy, line, resolved, (t, i) => services.killSwitch.isDisabled(t, i));
      const claims = resolved.ok ? resolved.identity.claims : {};
      known = verdict.allow ? { identity: verdict.identity, provider: verdict.provider.name } : { ...(verdict.identity === undefined ? {} : { identity: verdict.identity }), ...(verdict.provider === undefined ? {} : { provider: verdict.provider }) };
      // A request without a body is decided here in full: its usage controls run here too.
      if (verdict.allow && withoutBody) {
        const { identity, provider } = verdict;
        admission = await admitWithoutBody(services.guards(), { identity: identity.id, tenant: identity.tenant, claims }, provider.name, `${line.method} ${verdict.translator.operation}`, services.metrics);
        if (admission.stateFailure !== undefined) {
          services.logger.error({ ...admission.stateFailure, code: 'state_unavailable', decision_id: decisionId, request_id: requestId, identity: identity.id, tenant: identity.tenant, provider: provider.name }, 'shared state unavailable; failing closed');
          failureLogged = true;
        }
        if (admission.denial !== undefined) verdict = { allow: false, denial: admission.denial, identity, provider: provider.name };
      }
      if (verdict.allow) {
        const ctx: AuthzContext = {
          identity: verdict.identity,
          provider: verdict.provider.name,
          decisionId,
          policyRevision: policy.revision,
          method: line.method,
          path: line.target,
          withoutBody,
          claims: JSON.stringify(claims),
          shadow: verdict.shadow === undefined ? '' : `${verdict.shadow.rule} ${verdict.shadow.reason}`,
          issuedAtMs: Date.now(),
        };
        const scope = { tenant: ctx.identity.tenant, identity: ctx.identity.id, provider: ctx.provider };
        // A request with no body gets its credential here (no ext_proc request-body handler follows); otherwise
        // warm the cache so a miss overlaps with Envoy starting ext_proc.
        // The caller's credentials go here, and x-envoy-* headers the caller sent (ext_proc may not
        // remove those). The rest of what the provider's allow-list refuses goes in ext_proc's
        // request-headers answer, after grant conditions (evaluated with the body) could read it.
        const envoyNamed = verdict.provider.kind.headersToRemove(Object.keys(line.headers).filter((n) => ENVOY_HEADER.test(n)));
        const remove = new Set([...CALLER_CREDENTIAL_HEADERS, ...envoyNamed]);
        let set: readonly HeaderToSet[] = [];
        let admitted = ctx;
        if (ctx.withoutBody) {
          try {
            verdict.translator.parseBody(undefined);
            const injected = await services.credentials.get(scope);
            const edits = await verdict.translator.applyCredential(injected, { body: undefined });
            set = edits.set;
            for (const name of edits.remove) remove.add(name);
            // What ext_proc's audit record reports for this request: ext_authz did it.
            const credential: AuditRecord['credential'] = injected.kind === 'none' ? null : auditCredential(injected.meta);
            admitted = { ...ctx, admission: JSON.stringify({ credential, anomaly_flags: admission?.anomalyFlags ?? [], state_degraded: admission?.stateDegraded ?? false }) };
          } catch (err) {
            throw asTollgateError(err);
          }
        } else services.credentials.prefetch(scope);
        for (const h of set) remove.delete(h.name);
        services.metrics.authzDecisions.inc({ decision: verdict.shadow === undefined ? 'allow' : 'shadow_deny', reason: verdict.shadow?.reason ?? 'none', provider: ctx.provider });
        span.end({ decision: 'allow', reason: verdict.shadow?.reason ?? 'none', provider: ctx.provider, identity: ctx.identity.id, decisionId });
        boundMetrics(services.metrics).checkSeconds.allow.observe((performance.now() - started) / 1000);
        return {
          status: { code: 0 },
          ok_response: {
            headers_to_remove: [...remove],
            ...(set.length === 0 ? {} : { headers: set.map((h) => ({ header: { key: h.name, value: headerValue(h) }, append: { value: false } })) }),
          },
          dynamic_metadata: stringStruct(services.authzContext.encode(admitted)),
        };
      }
    } catch (err) {
      const e = toTollgateError(err);
      // No provider credential (a request without a body): one line naming the scope and the cause, no stack.
      if (e instanceof CredentialUnavailableError) {
        logNoCredential(services.logger, e, e.scope, { decision_id: decisionId, request_id: requestId });
        failureLogged = true;
      } else if (!e.entry.userFacing) {
        services.logger.error({ ...failureFields(e), decision_id: decisionId, request_id: requestId, identity: known.identity?.id, tenant: known.identity?.tenant, provider: known.provider }, 'ext_authz check failed');
        failureLogged = true;
      }
      verdict = { allow: false, denial: { code: e.code, rule: ruleFor(e.code) }, ...known };
    }
    const { denial } = verdict;
    // An MCP server's client reads a JSON-RPC error (no id: the body was not read).
    const reply = policy.providers.get(verdict.provider ?? '')?.config.kind === 'mcp' ? jsonRpcDenialReply(denial, undefined, requestId, decisionId) : denialReply(denial, requestId, decisionId);
    services.metrics.authzDecisions.inc({ decision: 'deny', reason: denial.code, provider: verdict.provider ?? 'none' });
    span.end({ decision: 'deny', reason: denial.code, provider: verdict.provider, identity: verdict.identity?.id, decisionId });
    const elapsed = performance.now() - started;
    boundMetrics(services.metrics).checkSeconds.deny.observe(elapsed / 1000);
    finish(services, {
      stage: 'authz',
      authenticated: true,
      outcome: 'denied',
      decisionId,
      requestId,
      identity: verdict.identity,
      provider: verdict.provider,
      method: line.method,
      path: line.target,
      reason: denial.code,
      rule: denial.rule,
      status: reply.status,
      totalMs: elapsed,
      tollgateMs: elapsed,
      policyRevision: policy.revision,
      anomalyFlags: admission?.anomalyFlags ?? [],
      stateDegraded: admission?.stateDegraded ?? false,
    });
    if (!failureLogged) services.logger.info({ decision_id: decisionId, request_id: requestId, reason: denial.code, rule: denial.rule, identity: verdict.identity?.id, tenant: verdict.identity?.tenant, provider: verdict.provider }, 'request denied by ext_authz');
    return {
      status: { code: ERROR_CATALOGUE[denial.code].grpcStatus, message: denial.code },
      denied_response: {
        status: { code: reply.status },
        headers: reply.headers.map((h) => ({ header: { key: h.name, value: h.value }, append: { value: false } })),
        body: reply.body,
      },
    };
  };
}

import { AUTHZ_METADATA_NAMESPACE, type AuthzContext } from '../core/authz-context.ts';
import type { RuleId, ShadowDenial } from '../core/decision.ts';
import { TollgateError } from '../errors.ts';
import type { ProcessingRequest } from '../wire/ext-proc.ts';
import { structString } from '../wire/struct.ts';
import type { ProcRequest } from './request.ts';
import { startCredential, translator } from './steps/credential.ts';

/** The claims JSON ext_authz wrote itself into the sealed context. */
function parseClaims(json: string): Readonly<Record<string, unknown>> {
  const v: unknown = JSON.parse(json);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const FLAGS: ReadonlySet<string> = new Set(['prompt_size_spike', 'burst', 'first_provider', 'first_endpoint']);

/**
 * What ext_authz did for a request without a body (it injected the credential and ran the usage
 * controls), from the sealed context into the request, for its audit record.
 */
function readAdmission(req: ProcRequest, json: string): void {
  const v = JSON.parse(json) as { credential?: { source?: unknown; version?: unknown; lease_id_hash?: unknown } | null; anomaly_flags?: unknown; state_degraded?: unknown };
  const c = v.credential;
  if (c !== null && c !== undefined && typeof c.source === 'string') {
    req.credential.meta = {
      source: c.source,
      ...(typeof c.version === 'number' ? { version: c.version } : {}),
      ...(typeof c.lease_id_hash === 'string' ? { leaseIdHash: c.lease_id_hash } : {}),
    };
  }
  if (Array.isArray(v.anomaly_flags)) req.usage.anomalyFlags = v.anomaly_flags.filter((f): f is ProcRequest['usage']['anomalyFlags'][number] => typeof f === 'string' && FLAGS.has(f));
  if (v.state_degraded === true) req.usage.stateDegraded = true;
}

/** The message carries an ext_authz context at all (sealed or not). */
export function hasAuthzMetadata(msg: ProcessingRequest): boolean {
  return msg.metadata_context?.filter_metadata?.[AUTHZ_METADATA_NAMESPACE] !== undefined;
}

/**
 * Opens the request on the stream's first message, whichever it is (Envoy may skip the request headers):
 * the one place the sealed context is verified. Only Tollgate's own ext_authz can vouch for an identity,
 * so the context must carry a valid seal, be fresh, and be used once; anything else is refused before any
 * credential is looked up. Then the request's caller and route parts are built from it, and a stream that
 * begins with the body or the response headers is checked against what ext_authz saw (body or none).
 */
export function open(req: ProcRequest, msg: ProcessingRequest): Promise<void> {
  const { services } = req;
  const struct = msg.metadata_context?.filter_metadata?.[AUTHZ_METADATA_NAMESPACE];
  const present = struct?.fields !== undefined && Object.keys(struct.fields).length > 0;
  const decoded = services.authzContext.decode(present ? (name) => structString(struct, name) : undefined, Date.now());
  // The request's one failure line (session.ts) carries the hint.
  if (decoded === 'missing') throw new TollgateError('authz_context_missing', 'no ext_authz metadata on the request: check that ext_authz runs before ext_proc and forwarding_namespaces lists envoy.filters.http.ext_authz');
  if (typeof decoded === 'string') refuse(req, decoded);
  // The seal verified: Tollgate issued this context, so its record may name the identity even if the
  // single-use claim below refuses it or cannot be made (state store down). `authenticated` stays false.
  req.caller = { authz: decoded, claims: {} };
  req.decisionId = decoded.decisionId;
  return services.state.claimOnce(`authz:${decoded.decisionId}`, services.authzContextMaxAgeMs + 5_000).then((fresh) => {
    if (!fresh) refuse(req, 'replayed');
    admit(req, decoded, msg);
  });
}

function refuse(req: ProcRequest, problem: string): never {
  req.log().warn({ problem }, 'refused an ext_authz context');
  throw new TollgateError('authz_context_invalid', problem);
}

/** The context is Tollgate's, fresh and used once: the request's caller and route parts, from it and the policy. */
function admit(req: ProcRequest, decoded: AuthzContext, msg: ProcessingRequest): void {
  const provider = req.policy.providers.get(decoded.provider);
  const identity = req.policy.identitiesById.get(decoded.identity.id);
  if (provider === undefined || identity === undefined) throw new TollgateError('authz_context_missing', 'the authz context names an identity or provider this policy does not have');
  req.authenticated = true;
  req.caller = { authz: decoded, claims: parseClaims(decoded.claims) };
  req.route = { provider, translator: undefined, model: undefined, routeClass: undefined, routedFrom: undefined };
  // A would-deny ext_authz recorded (a request without a body is decided there in full).
  const [rule, reason] = decoded.shadow.split(' ');
  if (rule !== undefined && reason !== undefined && rule !== '') req.shadow = { rule: rule as RuleId, reason: reason as ShadowDenial['reason'] };
  if (decoded.admission !== undefined) readAdmission(req, decoded.admission);
  if (msg.request === 'request_body') {
    if (decoded.withoutBody) throw new TollgateError('authz_context_invalid', 'a body arrived for a request ext_authz saw without one');
    startCredential(req);
    req.position = 'request_body';
  } else if (msg.request === 'response_headers') {
    // The request's messages were skipped: it must be one without a body.
    if (!decoded.withoutBody) throw new TollgateError('authz_context_invalid', 'a response arrived before the body of a request that has one');
    // The translator names the operation and response framing for usage, scanning and audit.
    translator(req);
    req.position = 'upstream';
  }
}

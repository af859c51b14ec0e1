import { AUTHZ_METADATA_NAMESPACE, type AuthzContext } from '../core/authz-context.ts';
import type { RuleId, ShadowDenial } from '../core/decision.ts';
import { TollgateError } from '../errors.ts';
import type { ProcessingRequest } from '../wire/ext-proc.ts';
import { structString } from '../wire/struct.ts';
import { logFor, type RequestState } from './request-state.ts';

/** The claims JSON ext_authz wrote itself into the sealed context. */
function parseClaims(json: string): Readonly<Record<string, unknown>> {
  const v: unknown = JSON.parse(json);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

const FLAGS: ReadonlySet<string> = new Set(['prompt_size_spike', 'burst', 'first_provider', 'first_endpoint']);

/**
 * What ext_authz did for a request without a body (it injected the credential and ran the usage
 * controls), from the sealed context into the request's state, for its audit record.
 */
function readAdmission(state: RequestState, json: string): void {
  const v = JSON.parse(json) as { credential?: { source?: unknown; version?: unknown; lease_id_hash?: unknown } | null; anomaly_flags?: unknown; state_degraded?: unknown };
  const c = v.credential;
  if (c !== null && c !== undefined && typeof c.source === 'string') {
    state.credentialMeta = {
      source: c.source,
      ...(typeof c.version === 'number' ? { version: c.version } : {}),
      ...(typeof c.lease_id_hash === 'string' ? { leaseIdHash: c.lease_id_hash } : {}),
    };
  }
  if (Array.isArray(v.anomaly_flags)) state.anomalyFlags = v.anomaly_flags.filter((f): f is RequestState['anomalyFlags'][number] => typeof f === 'string' && FLAGS.has(f));
  if (v.state_degraded === true) state.stateDegraded = true;
}

/** The message carries an ext_authz context at all (sealed or not). */
export function hasAuthzMetadata(msg: ProcessingRequest): boolean {
  return msg.metadata_context?.filter_metadata?.[AUTHZ_METADATA_NAMESPACE] !== undefined;
}

/**
 * Verifies the authz context on the first message of a stream, whichever it is (Envoy may skip the
 * request headers): only Tollgate's own ext_authz can vouch for an identity, so the context must carry
 * a valid seal, be fresh, and be used once. Anything else is refused before any credential is looked up.
 */
export async function verifyAuthzContext(state: RequestState, msg: ProcessingRequest): Promise<AuthzContext> {
  const { services } = state;
  const struct = msg.metadata_context?.filter_metadata?.[AUTHZ_METADATA_NAMESPACE];
  const present = struct?.fields !== undefined && Object.keys(struct.fields).length > 0;
  const decoded = services.authzContext.decode(present ? (name) => structString(struct, name) : undefined, Date.now());
  // The request's one failure line (session.ts) carries the hint.
  if (decoded === 'missing') throw new TollgateError('authz_context_missing', 'no ext_authz metadata on the request: check that ext_authz runs before ext_proc and forwarding_namespaces lists envoy.filters.http.ext_authz');
  let problem: string | undefined = typeof decoded === 'string' ? decoded : undefined;
  if (typeof decoded !== 'string') {
    // The seal verified: Tollgate issued this context, so its record may name the identity even if the
    // single-use claim below refuses it or cannot be made (state store down). `authenticated` stays false.
    state.authz = decoded;
    state.decisionId = decoded.decisionId;
    const maxAgeMs = services.authzContextMaxAgeMs;
    if (!(await services.state.claimOnce(`authz:${decoded.decisionId}`, maxAgeMs + 5_000))) problem = 'replayed';
  }
  if (problem !== undefined || typeof decoded === 'string') {
    logFor(state).warn({ problem }, 'refused an ext_authz context');
    throw new TollgateError('authz_context_invalid', problem);
  }
  const provider = state.policy.providers.get(decoded.provider);
  const identity = state.policy.identitiesById.get(decoded.identity.id);
  if (provider === undefined || identity === undefined) throw new TollgateError('authz_context_missing', 'the authz context names an identity or provider this policy does not have');
  state.authenticated = true;
  state.authz = decoded;
  state.claims = parseClaims(decoded.claims);
  state.provider = provider;
  state.decisionId = decoded.decisionId;
  // A would-deny ext_authz recorded (a request without a body is decided there in full).
  const [rule, reason] = decoded.shadow.split(' ');
  if (rule !== undefined && reason !== undefined && rule !== '') state.shadow = { rule: rule as RuleId, reason: reason as ShadowDenial['reason'] };
  if (decoded.admission !== undefined) readAdmission(state, decoded.admission);
  return decoded;
}

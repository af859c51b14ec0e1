import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { IdentityKind } from './decision.ts';

/**
 * What the decision point (ext_authz Check) hands to ext_proc through Envoy dynamic metadata. ext_proc
 * trusts it only when its seal verifies: a client of the gRPC port cannot forge an identity to obtain
 * a provider credential.
 */
export interface AuthzContext {
  readonly identity: { readonly id: string; readonly tenant: string; readonly kind: IdentityKind };
  readonly provider: string;
  readonly decisionId: string;
  readonly policyRevision: string;
  /** The request line ext_authz decided on; ext_proc checks the request it sees matches it. */
  readonly method: string;
  readonly path: string;
  /** ext_authz already injected the provider credential (a request without a body). */
  readonly credentialInjected: boolean;
  /** Verified JWT claims as JSON ("{}" for other identity kinds): grant conditions read them. */
  readonly claims: string;
  /** A would-deny recorded in shadow mode ("rule reason"), or "". */
  readonly shadow: string;
  readonly issuedAtMs: number;
  /**
   * For a request without a body, what ext_authz did that ext_proc's audit record reports (the
   * injected credential's metadata, anomaly flags, degraded state) as JSON; absent or "" otherwise.
   */
  readonly admission?: string;
}

/** The namespace Envoy stores ext_authz dynamic metadata under, and forwards to ext_proc. */
export const AUTHZ_METADATA_NAMESPACE = 'envoy.filters.http.ext_authz';

const FIELDS = ['identity', 'tenant', 'identity_kind', 'provider', 'decision_id', 'policy_revision', 'method', 'path', 'credential_injected', 'claims', 'shadow', 'issued_at', 'admission'] as const;
const KINDS: ReadonlySet<string> = new Set<IdentityKind>(['api_key', 'jwt', 'spiffe']);

export type ContextProblem = 'missing' | 'malformed' | 'seal' | 'expired' | 'replayed';

/**
 * The one codec for the authz context: encode + seal on the ext_authz side, decode + verify on the
 * ext_proc side. The seal is an HMAC-SHA256 over a versioned, unambiguous (JSON array) encoding of
 * every field. Replay (single use) is the caller's job, through the state store.
 */
export interface AuthzContextCodec {
  /** Flat string fields for the dynamic metadata struct, `seal` included. */
  encode(ctx: AuthzContext): Record<string, string>;
  /** The context if every field is present and the seal verifies and it is fresh; else the problem. */
  decode(fields: ((name: string) => string | undefined) | undefined, nowMs: number): AuthzContext | ContextProblem;
}

export function createAuthzContextCodec(key: Buffer, maxAgeMs: number): AuthzContextCodec {
  if (key.length < 32) throw new Error('the authz context key must be at least 32 bytes');
  // A KeyObject, built once: Node checks a raw Buffer key on every createHmac, at several µs a call.
  const secret = createSecretKey(key);
  const mac = (values: readonly string[]): Buffer => createHmac('sha256', secret).update(JSON.stringify(['tollgate.authz.v2', ...values])).digest();
  const flat = (ctx: AuthzContext): string[] => [
    ctx.identity.id, ctx.identity.tenant, ctx.identity.kind, ctx.provider, ctx.decisionId, ctx.policyRevision,
    ctx.method, ctx.path, ctx.credentialInjected ? '1' : '0', ctx.claims, ctx.shadow, String(ctx.issuedAtMs), ctx.admission ?? '',
  ];
  return {
    encode(ctx) {
      const values = flat(ctx);
      const out: Record<string, string> = {};
      FIELDS.forEach((f, i) => { out[f] = values[i] ?? ''; });
      out.seal = mac(values).toString('base64url');
      return out;
    },
    decode(get, nowMs) {
      if (get === undefined) return 'missing';
      const values = FIELDS.map((f) => get(f));
      const seal = get('seal');
      if (values.every((v) => v === undefined) && seal === undefined) return 'missing';
      const [id, tenant, kind, provider, decisionId, policyRevision, method, path, injected, claims, shadowField, issuedAt, admissionField] = values;
      if (id === undefined || tenant === undefined || kind === undefined || provider === undefined || decisionId === undefined || policyRevision === undefined
        || method === undefined || path === undefined || injected === undefined || claims === undefined || issuedAt === undefined || seal === undefined) return 'malformed';
      const shadow = shadowField ?? '';
      const admission = admissionField ?? '';
      const issuedAtMs = Number(issuedAt);
      if (!KINDS.has(kind) || (injected !== '0' && injected !== '1') || !Number.isSafeInteger(issuedAtMs)) return 'malformed';
      const presented = Buffer.from(seal, 'base64url');
      // Envoy drops empty strings from a Struct: an empty shadow or admission field arrives absent.
      const expected = mac([id, tenant, kind, provider, decisionId, policyRevision, method, path, injected, claims, shadow, issuedAt, admission]);
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'seal';
      const age = nowMs - issuedAtMs;
      if (age > maxAgeMs || age < -5_000) return 'expired';
      return { identity: { id, tenant, kind: kind as IdentityKind }, provider, decisionId, policyRevision, method, path, credentialInjected: injected === '1', claims, shadow, issuedAtMs, ...(admission === '' ? {} : { admission }) };
    },
  };
}

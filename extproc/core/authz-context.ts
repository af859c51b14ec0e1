import { timingSafeEqual } from 'node:crypto';
import { hmacSha256 } from './digest.ts';
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
  /**
   * A request without a body: ext_authz decided it in full, ran its usage controls and injected its
   * provider credential; ext_proc checks the request it sees has no body either.
   */
  readonly withoutBody: boolean;
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

/** The version tag, the first element of the sealed array. */
export const AUTHZ_CONTEXT_VERSION = 'tollgate.authz.v3';

/** The context's fields, in the order the sealed array holds them (after the version tag). */
export const AUTHZ_CONTEXT_FIELDS = ['identity', 'tenant', 'identity_kind', 'provider', 'decision_id', 'policy_revision', 'method', 'path', 'without_body', 'claims', 'shadow', 'issued_at', 'admission'] as const;
const KINDS: ReadonlySet<string> = new Set<IdentityKind>(['api_key', 'jwt', 'spiffe']);

export type ContextProblem = 'missing' | 'malformed' | 'seal' | 'expired' | 'replayed';

/**
 * The one codec for the authz context: encode + seal on the ext_authz side, decode + verify on the
 * ext_proc side. The context travels as two string fields of the metadata struct: `context`, a JSON
 * array `["tollgate.authz.v3", …every field in AUTHZ_CONTEXT_FIELDS order…]`, and `seal`, an
 * HMAC-SHA256 of exactly that string (base64url). Envoy copies the struct into every ext_proc message,
 * so two fields instead of one per value make each message smaller for Envoy to write and for the
 * service to decode, and the seal is checked over the bytes received (nothing is re-serialized). Replay
 * (single use) is the caller's job, through the state store.
 */
export interface AuthzContextCodec {
  /** The string fields for the dynamic metadata struct: `context` and `seal`. */
  encode(ctx: AuthzContext): Record<string, string>;
  /**
   * The context if both fields are present, well-formed, the seal verifies and it is fresh; else the
   * problem. `fields` is undefined when the message carries no metadata in the namespace (or an empty struct).
   */
  decode(fields: ((name: string) => string | undefined) | undefined, nowMs: number): AuthzContext | ContextProblem;
}

/** The sealed array's elements: the version tag, then 13 strings. */
const ARRAY_LENGTH = 1 + AUTHZ_CONTEXT_FIELDS.length;

function parseArray(context: string): string[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(context);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== ARRAY_LENGTH || v[0] !== AUTHZ_CONTEXT_VERSION) return undefined;
  for (const e of v) if (typeof e !== 'string') return undefined;
  return v as string[];
}

export function createAuthzContextCodec(key: Buffer, maxAgeMs: number): AuthzContextCodec {
  if (key.length < 32) throw new Error('the authz context key must be at least 32 bytes');
  const mac = hmacSha256(key);
  return {
    encode(ctx) {
      const context = JSON.stringify([
        AUTHZ_CONTEXT_VERSION, ctx.identity.id, ctx.identity.tenant, ctx.identity.kind, ctx.provider, ctx.decisionId, ctx.policyRevision,
        ctx.method, ctx.path, ctx.withoutBody ? '1' : '0', ctx.claims, ctx.shadow, String(ctx.issuedAtMs), ctx.admission ?? '',
      ]);
      return { context, seal: mac(context).toString('base64url') };
    },
    decode(get, nowMs) {
      if (get === undefined) return 'missing';
      const context = get('context');
      const seal = get('seal');
      // Metadata in the namespace that is not a sealed context (or only half of one).
      if (context === undefined || seal === undefined) return 'malformed';
      const values = parseArray(context);
      if (values === undefined) return 'malformed';
      const [, id, tenant, kind, provider, decisionId, policyRevision, method, path, noBody, claims, shadow, issuedAt, admission] = values as [string, string, string, string, string, string, string, string, string, string, string, string, string, string];
      const issuedAtMs = Number(issuedAt);
      // Every field but shadow and admission is always set by ext_authz.
      if ([id, tenant, provider, decisionId, policyRevision, method, path, claims].includes('')) return 'malformed';
      if (!KINDS.has(kind) || (noBody !== '0' && noBody !== '1') || !Number.isSafeInteger(issuedAtMs)) return 'malformed';
      const presented = Buffer.from(seal, 'base64url');
      const expected = mac(context);
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'seal';
      const age = nowMs - issuedAtMs;
      if (age > maxAgeMs || age < -5_000) return 'expired';
      return { identity: { id, tenant, kind: kind as IdentityKind }, provider, decisionId, policyRevision, method, path, withoutBody: noBody === '1', claims, shadow, issuedAtMs, ...(admission === '' ? {} : { admission }) };
    },
  };
}

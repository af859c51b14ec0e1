import type { JsonObject, JwtFailure, JwtVerifier } from './jwt.ts';
import type { SpiffeFailure, SpiffeResolver } from './spiffe.ts';

/**
 * One resolver for ext_authz Check: which workload is calling.
 *
 * Precedence (docs/security-model.md, "What fails closed"): mTLS principal → JWT → API key. The highest-precedence credential that
 * is *present* decides, and if it fails verification the request is denied: there is no falling
 * back to a weaker credential, so a bad certificate or token cannot be papered over with a key.
 *
 * - mTLS is present when Envoy reports a principal or peer certificate (or a trusted XFCC header);
 *   only when `identity.mtls` is configured, and only when the request says the peer that sent the
 *   Check is trusted to report them (`peerTrusted`: Envoy, proven by its client certificate, or the
 *   `server.grpc.trustUnauthenticatedPeers` opt-out). From any other client of the gRPC port those
 *   claims are ignored, not believed: the request falls to JWT and API key, and without either is 401.
 *   With a verified SPIFFE ID, any bearer token or key headers are not used for identity (they are
 *   still stripped before the upstream by ext_proc).
 * - A JWT is present when `authorization: Bearer <three base64url parts>` and JWT issuers are
 *   configured. A JWT together with `x-api-key`/`api-key` is ambiguous and denied, as two keys are.
 * - Otherwise the API-key lookup (the caller passes it in: identity/api-key.ts hashing and the
 *   identity table) decides; it also reports "no credential at all".
 */

import type { IdentityKind } from '../core/decision.ts';
export type { IdentityKind };

export interface ResolvedIdentity {
  readonly kind: IdentityKind;
  /** The SPIFFE ID, the JWT identity claim, or the API-key identity id. */
  readonly subject: string;
  /** SPIFFE trust domain, or JWT issuer; empty for API keys. */
  readonly authority: string;
  readonly tenant?: string;
  /** Verified JWT claims; empty for the other kinds. */
  readonly claims: JsonObject;
  /** Where an mTLS identity came from. */
  readonly source?: 'principal' | 'certificate' | 'xfcc';
}

export type ApiKeyOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'fail'; readonly reason: 'unauthenticated' | 'credentials_ambiguous'; readonly detail: string }
  | { readonly kind: 'ok'; readonly subject: string; readonly tenant?: string };

export type ApiKeyLookup = (headers: Readonly<Record<string, string>>) => ApiKeyOutcome | Promise<ApiKeyOutcome>;

export type IdentityFailure = SpiffeFailure | JwtFailure | 'unauthenticated' | 'credentials_ambiguous';

export type IdentityResolution =
  | { readonly ok: true; readonly identity: ResolvedIdentity }
  | { readonly ok: false; readonly kind: IdentityKind | 'none'; readonly reason: IdentityFailure; readonly detail: string };

export interface IdentityRequest {
  /** True when the client of the gRPC port may report the caller's certificate; absent means false. */
  readonly peerTrusted?: boolean;
  readonly principal?: string | undefined;
  readonly certificate?: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

export interface IdentityResolverOptions {
  readonly mtls?: SpiffeResolver;
  readonly jwt?: JwtVerifier;
  readonly apiKey?: ApiKeyLookup;
}

const BEARER_JWT_RE = /^Bearer[ \t]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/i;
const EMPTY_CLAIMS: JsonObject = Object.freeze({});

export class IdentityResolver {
  readonly #opts: IdentityResolverOptions;

  constructor(opts: IdentityResolverOptions) {
    this.#opts = opts;
  }

  async resolve(req: IdentityRequest): Promise<IdentityResolution> {
    if (this.#opts.mtls !== undefined && req.peerTrusted === true) {
      const m = this.#opts.mtls.resolve(req);
      if (m.kind === 'fail') return { ok: false, kind: 'spiffe', reason: m.reason, detail: m.detail };
      if (m.kind === 'ok')
        return { ok: true, identity: Object.freeze({ kind: 'spiffe', subject: m.id.uri, authority: m.id.trustDomain, claims: EMPTY_CLAIMS, source: m.source }) };
    }
    const authorization = req.headers.authorization;
    const jwt = this.#opts.jwt;
    if (jwt !== undefined && authorization !== undefined) {
      const bearer = BEARER_JWT_RE.exec(authorization.trim());
      if (bearer?.[1] !== undefined) {
        if (req.headers['x-api-key'] !== undefined || req.headers['api-key'] !== undefined)
          return { ok: false, kind: 'jwt', reason: 'credentials_ambiguous', detail: 'a bearer JWT and an API key were both sent' };
        const r = await jwt.verify(bearer[1]);
        if (!r.ok) return { ok: false, kind: 'jwt', reason: r.reason, detail: r.detail };
        const t = r.token;
        return {
          ok: true,
          identity: Object.freeze({ kind: 'jwt', subject: t.subject, authority: t.issuer, ...(t.tenant === undefined ? {} : { tenant: t.tenant }), claims: t.claims }),
        };
      }
    }
    if (this.#opts.apiKey !== undefined) {
      const k = await this.#opts.apiKey(req.headers);
      if (k.kind === 'fail') return { ok: false, kind: 'api_key', reason: k.reason, detail: k.detail };
      if (k.kind === 'ok')
        return { ok: true, identity: Object.freeze({ kind: 'api_key', subject: k.subject, authority: '', ...(k.tenant === undefined ? {} : { tenant: k.tenant }), claims: EMPTY_CLAIMS }) };
    }
    return { ok: false, kind: 'none', reason: 'unauthenticated', detail: 'no credential was presented' };
  }
}

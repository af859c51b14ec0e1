import { hash } from 'node:crypto';
import type { JWTHeaderParameters, FlattenedJWSInput, JWTVerifyGetKey } from 'jose';
import { lazyModule } from '../core/lazy.ts';

const jose = lazyModule<typeof import('jose')>('jose');
import type { JwtIssuerConfig } from '../config/identity-schema.ts';
import { JwksUnavailableError, RemoteJwks, type JwksEvent } from './jwks-cache.ts';
import type { ReplayGuard } from './replay.ts';
import { parseSpiffeId } from './spiffe.ts';

/**
 * JWT verification for workload tokens: OIDC workload tokens, Kubernetes service-account tokens and
 * SPIFFE JWT-SVIDs. Choices, and why:
 *
 * - Issuer first: the unverified `iss` selects exactly one configured issuer (exact string match);
 *   the token is then verified only with that issuer's keys, algorithms and audiences. An unknown
 *   issuer is refused before any key lookup or network fetch.
 * - Algorithms: an explicit per-issuer allow-list of asymmetric algorithms (RS/PS/ES 256-512,
 *   EdDSA/Ed25519; default RS256 and ES256). `none` and HS* can never verify: the schema does not
 *   offer them, the header's `alg` is checked against the list before verification, jose's JWK set
 *   refuses secret-key algorithms, and its keys are imported as public keys only, so an HMAC keyed
 *   with a public key (HS/RS confusion) is impossible.
 * - Required claims: `iss`, `aud` (one of the configured audiences), `exp`, and `nbf` unless the
 *   issuer sets `requireNbf: false` (JWT-SVIDs and several IdPs omit it; present, it is always
 *   checked). `jti` when `requireJti`.
 * - Clock skew: per issuer, default 30 s, at most 300 s (the schema caps it). It applies to exp and
 *   nbf alike, and to the replay window.
 * - Optional `maxLifetimeSeconds`: exp - (nbf, else iat) above it is refused, so a leaked
 *   long-lived token is not accepted just because it is validly signed.
 * - Token size: at most `maxTokenBytes` (default 8 KiB) before anything is decoded; only compact
 *   JWS with three base64url parts.
 * - SPIFFE (`kind: spiffe`): `sub` must be a valid SPIFFE ID in a configured trust domain; `aud`
 *   is required as for every issuer (JWT-SVID §3).
 * - Replay: when a `jti` is present it is claimed once for the token's remaining validity plus the
 *   skew (replay.ts), after the signature and claims verified. A replayed jti is refused; a store
 *   failure refuses too.
 * - Claims handed to policy are the verified payload, which is JSON by construction (parsed by
 *   jose from the token), deep-frozen. The token itself is never logged or returned.
 * - Failure details never contain the token or claim values, only which check failed.
 * - Verified-token cache (default 60 s, 10 000 entries): a token without `jti` that verified is
 *   remembered by the SHA-256 of its exact bytes, so a workload reusing its token (Kubernetes and
 *   SPIFFE tokens live for minutes) skips the signature check; exp is re-checked on every use.
 *   Identical bytes mean an identical signature, so this cannot admit anything a fresh check would
 *   refuse, except that a key removed from the JWKS keeps working for cached tokens for at most the
 *   cache TTL. Tokens with `jti` are never cached (each use must reach the replay store).
 */

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };
export type JsonObject = { readonly [k: string]: JsonValue };

export type JwtFailure =
  | 'token_too_long' | 'token_malformed' | 'alg_not_allowed' | 'issuer_unknown' | 'key_unknown'
  | 'signature_invalid' | 'expired' | 'not_yet_valid' | 'audience_mismatch' | 'claim_missing'
  | 'claim_invalid' | 'lifetime_too_long' | 'jwks_unavailable' | 'replayed' | 'replay_store_unavailable';

export interface VerifiedJwt {
  readonly issuer: string;
  readonly kind: JwtIssuerConfig['kind'];
  /** The value of the issuer's identity claim (default sub); a SPIFFE ID for kind spiffe. */
  readonly subject: string;
  readonly tenant?: string;
  readonly expiresAt: number;
  readonly jti?: string;
  readonly claims: JsonObject;
}

export type JwtResult =
  | { readonly ok: true; readonly token: VerifiedJwt }
  | { readonly ok: false; readonly reason: JwtFailure; readonly detail: string };

export interface JwtVerifierOptions {
  readonly issuers: readonly JwtIssuerConfig[];
  readonly maxTokenBytes: number;
  /** Trust domains a `kind: spiffe` issuer's subjects may belong to. */
  readonly trustDomains?: ReadonlySet<string>;
  readonly replay?: ReplayGuard;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  readonly onJwksEvent?: (e: JwksEvent) => void;
  /** Verified-token cache; `seconds: 0` disables it. Default 60 s, 10 000 entries. */
  readonly verifiedCache?: { readonly seconds: number; readonly entries: number };
}

interface CachedToken {
  readonly token: VerifiedJwt;
  readonly until: number;
}

interface IssuerRuntime {
  readonly cfg: JwtIssuerConfig;
  readonly getKey: JWTVerifyGetKey;
  readonly remote: RemoteJwks | undefined;
  readonly requiredClaims: readonly string[];
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export class JwtVerifier {
  readonly #issuers = new Map<string, IssuerRuntime>();
  readonly #opts: JwtVerifierOptions;
  readonly #now: () => number;
  readonly #cache = new Map<string, CachedToken>();
  readonly #cacheMs: number;
  readonly #cacheEntries: number;

  constructor(opts: JwtVerifierOptions) {
    this.#cacheMs = (opts.verifiedCache?.seconds ?? 60) * 1000;
    this.#cacheEntries = opts.verifiedCache?.entries ?? 10_000;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    for (const cfg of opts.issuers) {
      let getKey: JWTVerifyGetKey;
      let remote: RemoteJwks | undefined;
      if ('inline' in cfg.jwks) {
        getKey = jose().createLocalJWKSet({ keys: cfg.jwks.inline.keys });
      } else {
        const r = new RemoteJwks(cfg.jwks.remote, { now: this.#now, ...(opts.fetch ? { fetch: opts.fetch } : {}), ...(opts.onJwksEvent ? { onEvent: opts.onJwksEvent } : {}) });
        remote = r;
        getKey = remoteGetKey(r);
      }
      const requiredClaims = ['iss', 'aud', 'exp', ...(cfg.requireNbf ? ['nbf'] : []), ...(cfg.requireJti ? ['jti'] : [])];
      this.#issuers.set(cfg.issuer, { cfg, getKey, remote, requiredClaims });
    }
  }

  /** Fetches every remote key set once (call at startup; failures are retried by requests). */
  async warm(): Promise<void> {
    await Promise.all([...this.#issuers.values()].map(async (i) => { await i.remote?.warm(); }));
  }

  async verify(token: string): Promise<JwtResult> {
    if (token.length > this.#opts.maxTokenBytes) return no('token_too_long', `token longer than ${this.#opts.maxTokenBytes} bytes`);
    const cacheKey = this.#cacheMs > 0 ? hash('sha256', token, 'base64url') : '';
    const hit = cacheKey === '' ? undefined : this.#cache.get(cacheKey);
    if (hit !== undefined) {
      const now = this.#now();
      const skewMs = (this.#issuers.get(hit.token.issuer)?.cfg.clockSkewSeconds ?? 0) * 1000;
      if (now < hit.until && now <= hit.token.expiresAt + skewMs) {
        return { ok: true, token: hit.token };
      }
      this.#cache.delete(cacheKey);
      if (now > hit.token.expiresAt + skewMs) return no('expired', 'exp is in the past');
    }
    const r = await this.#verifyFully(token);
    if (r.ok && cacheKey !== '' && r.token.jti === undefined) {
      if (this.#cache.size >= this.#cacheEntries) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      this.#cache.set(cacheKey, { token: r.token, until: this.#now() + this.#cacheMs });
    }
    return r;
  }

  async #verifyFully(token: string): Promise<JwtResult> {
    if (!COMPACT_JWS.test(token)) return no('token_malformed', 'not a compact JWS (three base64url parts)');
    let alg: unknown;
    let iss: unknown;
    try {
      alg = jose().decodeProtectedHeader(token).alg;
      iss = jose().decodeJwt(token).iss;
    } catch {
      return no('token_malformed', 'header or payload does not decode');
    }
    if (typeof alg !== 'string' || alg === 'none') return no('alg_not_allowed', 'the token is unsigned');
    if (typeof iss !== 'string') return no('claim_missing', 'iss is missing');
    const issuer = this.#issuers.get(iss);
    if (issuer === undefined) return no('issuer_unknown', 'the issuer is not configured');
    const cfg = issuer.cfg;
    if (!(cfg.algorithms as readonly string[]).includes(alg)) return no('alg_not_allowed', `alg ${safeAlg(alg)} is not allowed for this issuer`);

    let payload: Record<string, unknown>;
    try {
      const verified = await jose().jwtVerify(token, issuer.getKey, {
        issuer: cfg.issuer,
        audience: cfg.audiences,
        algorithms: cfg.algorithms,
        clockTolerance: cfg.clockSkewSeconds,
        requiredClaims: [...issuer.requiredClaims],
        currentDate: new Date(this.#now()),
      });
      payload = verified.payload;
    } catch (err) {
      return mapJoseError(err);
    }

    const exp = payload.exp as number;
    const start = typeof payload.nbf === 'number' ? payload.nbf : typeof payload.iat === 'number' ? payload.iat : undefined;
    if (cfg.maxLifetimeSeconds !== undefined) {
      if (start === undefined) return no('claim_missing', 'nbf or iat is required to check the token lifetime');
      if (exp - start > cfg.maxLifetimeSeconds) return no('lifetime_too_long', `token lifetime exceeds ${cfg.maxLifetimeSeconds} s`);
    }
    const subject = payload[cfg.claims.identity];
    if (typeof subject !== 'string' || subject === '' || subject.length > 2048) return no('claim_missing', `claim ${cfg.claims.identity} must be a non-empty string`);
    if (cfg.kind === 'spiffe') {
      const parsed = parseSpiffeId(subject);
      if (!parsed.ok) return no('claim_invalid', `sub is not a SPIFFE ID (${parsed.reason})`);
      if (this.#opts.trustDomains?.has(parsed.id.trustDomain) !== true) return no('claim_invalid', `trust domain "${parsed.id.trustDomain}" is not configured`);
    }
    let tenant: string | undefined;
    if (cfg.claims.tenant !== undefined) {
      const t = payload[cfg.claims.tenant];
      if (typeof t !== 'string' || t === '') return no('claim_missing', `claim ${cfg.claims.tenant} must be a non-empty string`);
      tenant = t;
    }
    const jti = payload.jti;
    if (jti !== undefined && (typeof jti !== 'string' || jti === '' || jti.length > 256)) return no('claim_invalid', 'jti must be a string of 1-256 characters');
    if (jti !== undefined && this.#opts.replay !== undefined) {
      const ttlMs = (exp + cfg.clockSkewSeconds) * 1000 - this.#now();
      const outcome = await this.#opts.replay.claim('jti', cfg.issuer, jti, ttlMs);
      if (outcome === 'replayed') return no('replayed', 'this jti was already used');
      if (outcome === 'store_unavailable') return no('replay_store_unavailable', 'the replay store failed');
    }
    return {
      ok: true,
      token: Object.freeze({
        issuer: cfg.issuer,
        kind: cfg.kind,
        subject,
        ...(tenant === undefined ? {} : { tenant }),
        expiresAt: exp * 1000,
        ...(jti === undefined ? {} : { jti }),
        claims: deepFreeze(payload) as JsonObject,
      }),
    };
  }
}

function remoteGetKey(jwks: RemoteJwks): JWTVerifyGetKey {
  return async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    const set = await jwks.current();
    try {
      return await set.getKey(header, token);
    } catch (err) {
      if (!(err instanceof jose().errors.JWKSNoMatchingKey)) throw err;
      if (!(await jwks.onUnknownKid(set.generation))) throw err;
      return (await jwks.current()).getKey(header, token);
    }
  };
}

const no = (reason: JwtFailure, detail: string): JwtResult => ({ ok: false, reason, detail });

/** The alg for a detail message: only if it is a short plain token. */
const safeAlg = (alg: string): string => (/^[A-Za-z0-9-]{1,16}$/.test(alg) ? alg : '(invalid)');

function mapJoseError(err: unknown): JwtResult {
  if (err instanceof JwksUnavailableError) return no('jwks_unavailable', err.message);
  if (err instanceof jose().errors.JWTExpired) return no('expired', 'exp is in the past');
  if (err instanceof jose().errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return no('claim_missing', `${err.claim} is missing`);
    switch (err.claim) {
      case 'nbf': return no('not_yet_valid', 'nbf is in the future');
      case 'aud': return no('audience_mismatch', 'aud names none of the configured audiences');
      case 'iss': return no('issuer_unknown', 'iss does not match');
      default: return no('claim_invalid', `${err.claim} is invalid`);
    }
  }
  if (err instanceof jose().errors.JWSSignatureVerificationFailed) return no('signature_invalid', 'the signature does not verify');
  if (err instanceof jose().errors.JWKSNoMatchingKey) return no('key_unknown', 'no key in the issuer\'s set matches the token\'s kid and alg');
  if (err instanceof jose().errors.JWKSMultipleMatchingKeys) return no('key_unknown', 'several keys match; the token must name a kid');
  if (err instanceof jose().errors.JWKSInvalid) return no('key_unknown', 'the matching key in the issuer\'s set is unusable (not a public key)');
  if (err instanceof jose().errors.JOSEAlgNotAllowed || err instanceof jose().errors.JOSENotSupported) return no('alg_not_allowed', 'the algorithm is not allowed');
  if (err instanceof jose().errors.JWTInvalid || err instanceof jose().errors.JWSInvalid) return no('token_malformed', 'the token is malformed');
  return no('token_malformed', 'the token could not be verified');
}

function deepFreeze(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

import { z } from 'zod';
import { secretSourceSchema } from './secret-source.ts';

// The `identity` section: how ext_authz verifies workload identities (SPIFFE mTLS, JWT, request
// proofs). The lead plugs `identitySectionSchema` into the main schema as `identity`. Every
// object is strict; every default below is explained in extproc/identity/jwt.ts and spiffe.ts.

/** Asymmetric JWS algorithms only. HS* is not offered: a shared secret would let Tollgate (or
 * anyone holding the config) mint workload tokens, and no workload-identity issuer uses it. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** Trust domain: lower-case letters, digits, ".", "-", "_" (SPIFFE-ID §2.1), at most 255 bytes. */
export const TRUST_DOMAIN_RE = /^[a-z0-9._-]{1,255}$/;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const jwksUrl = z
  .url({ protocol: /^https?$/, error: 'must be an absolute https:// URL', abort: true })
  .refine((u) => { const p = new URL(u); return p.protocol === 'https:' || LOOPBACK_HOSTS.has(p.hostname); }, 'must use https (http only on loopback)')
  .refine((u) => { const p = new URL(u); return p.username === '' && p.password === '' && p.hash === ''; }, 'must not contain user info or a fragment');

const remoteJwks = z.strictObject({
  url: jwksUrl,
  /** Per-fetch timeout (background and request-path fetches alike). */
  timeoutMs: z.int().min(50).max(30_000).default(2_000),
  /** How long a request waits for a refetch triggered by an unknown kid; the fetch itself goes on. */
  requestWaitMs: z.int().min(0).max(5_000).default(300),
  /** Age after which the set is refreshed in the background (served meanwhile). */
  cacheMaxAgeSeconds: z.int().min(10).max(86_400).default(300),
  /** How long past cacheMaxAge a set may still be used while every refresh fails; then fail closed. */
  staleIfErrorSeconds: z.int().min(0).max(86_400).default(3_600),
  /** Minimum spacing of fetch attempts (unknown kids, failures): bounds what a flood of junk kids costs. */
  minRefreshIntervalSeconds: z.int().min(1).max(3_600).default(10),
  maxBytes: z.int().min(1_024).max(4 * 1024 * 1024).default(256 * 1024),
  maxKeys: z.int().min(1).max(1_000).default(100),
});

const jwk = z.looseObject({ kty: z.string().min(1) });
const inlineJwks = z.strictObject({ keys: z.array(jwk).min(1).max(100) });

const claimName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$/, 'must be a claim name');

export const jwtIssuerSchema = z
  .strictObject({
    issuer: z.string().min(1).max(1024),
    /** `oidc` for OIDC/Kubernetes tokens; `spiffe` also requires sub to be a SPIFFE ID in a configured trust domain. */
    kind: z.enum(['oidc', 'kubernetes', 'spiffe']).default('oidc'),
    audiences: z.array(z.string().min(1).max(1024)).min(1),
    jwks: z.union([z.strictObject({ remote: remoteJwks }), z.strictObject({ inline: inlineJwks })]),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
    clockSkewSeconds: z.int().min(0).max(300).default(30),
    /** Refuse tokens without nbf. On by default; JWT-SVIDs and many OIDC IdPs omit nbf, so set false there. */
    requireNbf: z.boolean().default(true),
    /** Refuse tokens whose exp - (nbf|iat) exceeds this (unset: no cap). */
    maxLifetimeSeconds: z.int().min(1).max(30 * 86_400).optional(),
    /** Refuse tokens without jti; a jti is always claimed once in the replay store when present. */
    requireJti: z.boolean().default(false),
    claims: z
      .strictObject({
        /** The claim that names the identity (default sub). */
        identity: claimName.default('sub'),
        /** A claim that names the tenant; unset means the identity mapping decides. */
        tenant: claimName.optional(),
      })
      .prefault({}),
  })
  .superRefine((iss, ctx) => {
    if (iss.kind === 'spiffe' && iss.claims.identity !== 'sub')
      ctx.addIssue({ code: 'custom', path: ['claims', 'identity'], message: 'must be "sub" for a SPIFFE JWT-SVID issuer' });
    if (new Set(iss.algorithms).size !== iss.algorithms.length)
      ctx.addIssue({ code: 'custom', path: ['algorithms'], message: 'lists an algorithm twice' });
  });

export const trustDomainSchema = z.strictObject({
  name: z.string().regex(TRUST_DOMAIN_RE, 'must be a SPIFFE trust domain: lower-case letters, digits, ".", "-" and "_"'),
  /** Optional PEM CA bundle; when set, a peer certificate Envoy forwards must be issued by one of these CAs. */
  bundleFile: z.string().min(1).optional(),
});

export const identitySectionSchema = z
  .strictObject({
    mtls: z
      .strictObject({
        trustDomains: z.array(trustDomainSchema).min(1),
        /** Require source.certificate (Envoy include_peer_certificate) and check it agrees with the principal. */
        requireCertificate: z.boolean().default(false),
        /** Trust x-forwarded-client-cert: only when the listener's forward_client_cert_details is SANITIZE_SET. */
        trustXfcc: z.boolean().default(false),
      })
      .optional(),
    jwt: z
      .strictObject({
        issuers: z.array(jwtIssuerSchema).min(1),
        maxTokenBytes: z.int().min(256).max(65_536).default(8_192),
        /** How long a verified token without jti is remembered (skipping the signature check on reuse); 0 disables. */
        verifiedCacheSeconds: z.int().min(0).max(300).default(60),
        verifiedCacheEntries: z.int().min(1).max(1_000_000).default(10_000),
      })
      .optional(),
    requestProof: z
      .strictObject({
        /** `required`: every request must carry a valid proof; `optional`: verify one if sent. */
        mode: z.enum(['off', 'optional', 'required']).default('off'),
        header: z.string().regex(/^[a-z0-9-]+$/).default('x-tollgate-proof'),
        windowSeconds: z.int().min(1).max(900).default(300),
        /** Per-identity HMAC keys: identity id → secret source (same shapes as provider credentials). */
        keys: z
          .array(
            z.strictObject({
              identity: z.string().min(1).max(1024),
              key: secretSourceSchema,
            }),
          )
          .default([]),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.mtls?.trustDomains.forEach((td, i) => {
      if (seen.has(td.name)) ctx.addIssue({ code: 'custom', path: ['mtls', 'trustDomains', i, 'name'], message: `duplicate trust domain "${td.name}"` });
      seen.add(td.name);
    });
    const issuers = new Set<string>();
    s.jwt?.issuers.forEach((iss, i) => {
      if (issuers.has(iss.issuer)) ctx.addIssue({ code: 'custom', path: ['jwt', 'issuers', i, 'issuer'], message: `duplicate issuer "${iss.issuer}"` });
      issuers.add(iss.issuer);
      if (iss.kind === 'spiffe' && s.mtls === undefined)
        ctx.addIssue({ code: 'custom', path: ['jwt', 'issuers', i, 'kind'], message: 'a spiffe issuer needs identity.mtls.trustDomains to say which trust domains are accepted' });
    });
    const ids = new Set<string>();
    s.requestProof.keys.forEach((k, i) => {
      if (ids.has(k.identity)) ctx.addIssue({ code: 'custom', path: ['requestProof', 'keys', i, 'identity'], message: `duplicate key for identity "${k.identity}"` });
      ids.add(k.identity);
    });
  });

export type IdentitySection = z.infer<typeof identitySectionSchema>;
export type JwtIssuerConfig = z.infer<typeof jwtIssuerSchema>;
export type RemoteJwksConfig = z.infer<typeof remoteJwks>;

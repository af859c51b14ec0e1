import { X509Certificate } from 'node:crypto';
import type { IdentitySection } from '../config/identity-schema.ts';
import type { Secret } from '../core/secret.ts';
import type { JwksEvent } from './jwks-cache.ts';
import { JwtVerifier } from './jwt.ts';
import { IdentityResolver, type ApiKeyLookup } from './precedence.ts';
import { ReplayGuard, type ReplayStore } from './replay.ts';
import { RequestProofVerifier } from './request-proof.ts';
import { SpiffeResolver } from './spiffe.ts';

/**
 * Builds the identity runtime from the validated `identity` section, once at load. File and secret
 * reading are passed in (service-material.ts owns them, and only config/ reads the environment), so
 * this module does no I/O of its own except the JWKS fetches.
 */

type ProofKeySource = IdentitySection['requestProof']['keys'][number]['key'];

export interface IdentityDeps {
  readonly store: ReplayStore;
  readonly apiKey?: ApiKeyLookup;
  /** Reads a file named by the config (trust bundles); throws with the path on failure. */
  readonly readFile: (path: string) => string;
  /** Resolves a request-proof key source (env or file) to a Secret. */
  readonly readSecret: (source: ProofKeySource) => Secret;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  readonly onJwksEvent?: (e: JwksEvent) => void;
}

export interface IdentityRuntime {
  readonly resolver: IdentityResolver;
  readonly jwt: JwtVerifier | undefined;
  readonly proof: RequestProofVerifier | undefined;
  readonly proofMode: IdentitySection['requestProof']['mode'];
  readonly proofHeader: string;
  /** Fetches remote key sets once; call before reporting ready (failures are retried per request). */
  warm(): Promise<void>;
}

export class IdentityConfigError extends Error {
  override readonly name = 'IdentityConfigError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

export function buildIdentityRuntime(section: IdentitySection, deps: IdentityDeps): IdentityRuntime {
  const replay = new ReplayGuard(deps.store);
  let mtls: SpiffeResolver | undefined;
  const trustDomains = new Map<string, X509Certificate[] | undefined>();
  if (section.mtls !== undefined) {
    section.mtls.trustDomains.forEach((td, i) => {
      trustDomains.set(td.name, td.bundleFile === undefined ? undefined : parseBundle(deps.readFile(td.bundleFile), `identity.mtls.trustDomains[${i}].bundleFile`));
    });
    mtls = new SpiffeResolver({ trustDomains, requireCertificate: section.mtls.requireCertificate, trustXfcc: section.mtls.trustXfcc, ...(deps.now ? { now: deps.now } : {}) });
  }
  const jwt = section.jwt === undefined
    ? undefined
    : new JwtVerifier({
      issuers: section.jwt.issuers,
      maxTokenBytes: section.jwt.maxTokenBytes,
      verifiedCache: { seconds: section.jwt.verifiedCacheSeconds, entries: section.jwt.verifiedCacheEntries },
      trustDomains: new Set(trustDomains.keys()),
      replay,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.onJwksEvent ? { onJwksEvent: deps.onJwksEvent } : {}),
    });
  const rp = section.requestProof;
  const proof = rp.mode === 'off'
    ? undefined
    : new RequestProofVerifier({
      keys: new Map(rp.keys.map((k) => [k.identity, deps.readSecret(k.key)])),
      windowSeconds: rp.windowSeconds,
      replay,
      ...(deps.now ? { now: deps.now } : {}),
    });
  const resolver = new IdentityResolver({ ...(mtls ? { mtls } : {}), ...(jwt ? { jwt } : {}), ...(deps.apiKey ? { apiKey: deps.apiKey } : {}) });
  return Object.freeze({
    resolver,
    jwt,
    proof,
    proofMode: rp.mode,
    proofHeader: rp.header,
    warm: async () => { await jwt?.warm(); },
  });
}

/** Every certificate in a PEM bundle; each must be a CA certificate. */
export function parseBundle(pem: string, field: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new IdentityConfigError(field, 'holds no PEM certificate');
  return blocks.map((b, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(b);
    } catch {
      throw new IdentityConfigError(field, `certificate ${i + 1} does not parse`);
    }
    if (!cert.ca) throw new IdentityConfigError(field, `certificate ${i + 1} is not a CA certificate`);
    return cert;
  });
}

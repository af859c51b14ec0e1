import { createHash } from 'node:crypto';
import type { Config, ProviderConfig } from '../config/schema.ts';
import { compileModelPatterns, type ModelMatcher } from '../core/model-pattern.ts';
import { createProviderKind, type ProviderKindModule } from '../providers/index.ts';

export interface ProviderPolicy {
  readonly name: string;
  readonly config: ProviderConfig;
  /** The provider kind: endpoint list, header allow-list, per-request translators. */
  readonly kind: ProviderKindModule;
  /** Requests for this provider arrive under this path prefix, e.g. "/openai/". */
  readonly pathPrefix: string;
  readonly allowsModel: ModelMatcher;
}

export interface IdentityPolicy {
  readonly id: string;
  readonly tenant: string;
  /** Allowed providers, each with the identity's own model restriction (undefined: the provider's list). */
  readonly providers: ReadonlyMap<string, ModelMatcher | undefined>;
}

/**
 * The swappable half of the runtime: everything a decision reads, compiled once at load and frozen.
 * A hot reload compiles a new Policy and swaps it whole; in-flight requests keep the one they started
 * with. Process-lifetime services (credential broker, context codec, state, audit) live in `Services`.
 */
export interface Policy {
  /** A hash over the policy content only (not server, logging or audit settings). */
  readonly revision: string;
  readonly providers: ReadonlyMap<string, ProviderPolicy>;
  readonly identitiesByKeyHash: ReadonlyMap<string, IdentityPolicy>;
  readonly identitiesById: ReadonlyMap<string, IdentityPolicy>;
  readonly limits: Config['limits'];
}

/** The content a decision depends on; its hash is the policy revision. */
export function policyRevisionOf(config: Config): string {
  const content = { providers: config.providers, identities: config.identities, limits: config.limits };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 16);
}

function providerKind(p: ProviderConfig): ProviderKindModule {
  return createProviderKind(p.kind, {
    upstream: new URL(p.upstream),
    extraEndpoints: p.extraEndpoints,
    ...(p.region === undefined ? {} : { region: p.region }),
    ...(p.project === undefined ? {} : { project: p.project }),
    ...(p.location === undefined ? {} : { location: p.location }),
  });
}

export function compilePolicy(config: Config): Policy {
  const providers = new Map<string, ProviderPolicy>();
  for (const p of config.providers) {
    providers.set(p.name, Object.freeze({ name: p.name, config: p, kind: providerKind(p), pathPrefix: `/${p.name}/`, allowsModel: compileModelPatterns(p.models) }));
  }
  const identitiesByKeyHash = new Map<string, IdentityPolicy>();
  const identitiesById = new Map<string, IdentityPolicy>();
  for (const ident of config.identities) {
    const allowed = new Map<string, ModelMatcher | undefined>();
    for (const a of ident.allow) allowed.set(a.provider, a.models === undefined ? undefined : compileModelPatterns(a.models));
    const rt: IdentityPolicy = Object.freeze({ id: ident.id, tenant: ident.tenant, providers: allowed });
    identitiesById.set(ident.id, rt);
    for (const h of ident.apiKeyHashes) identitiesByKeyHash.set(h, rt);
  }
  return Object.freeze({ revision: policyRevisionOf(config), providers, identitiesByKeyHash, identitiesById, limits: config.limits });
}

/** The provider a request path addresses: its first segment. */
export function providerForPath(policy: Policy, path: string): ProviderPolicy | undefined {
  const end = path.indexOf('/', 1);
  if (!path.startsWith('/') || end < 0) return undefined;
  return policy.providers.get(path.slice(1, end));
}

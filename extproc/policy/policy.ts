import { createHash } from 'node:crypto';
import type { Config, ProviderConfig } from '../config/schema.ts';
import { compileModelPatterns, type ModelMatcher } from '../core/model-pattern.ts';
import type { GrantRuleId } from '../core/decision.ts';
import { createProviderKind, type ProviderKindModule } from '../providers/index.ts';
import { CelCondition } from './cel.ts';
import { compileDlp, type DlpPolicy } from './dlp.ts';
import { compileMcpGrant, type McpGrantRules } from './mcp-rules.ts';
import { compileRouting, type RoutingPolicy } from './routing.ts';

export interface ProviderPolicy {
  readonly name: string;
  readonly config: ProviderConfig;
  /** The provider kind: endpoint list, header allow-list, per-request translators. */
  readonly kind: ProviderKindModule;
  /** Requests for this provider arrive under this path prefix, e.g. "/openai/". */
  readonly pathPrefix: string;
  readonly allowsModel: ModelMatcher;
}

/** One compiled grant: provider, optional model and operation restrictions, optional CEL condition. */
export interface GrantPolicy {
  /** The rule id the audit record and `policy explain` name, e.g. "identities[agent-1].allow[0]". */
  readonly rule: GrantRuleId;
  readonly provider: string;
  /** The identity's own model restriction (undefined: the provider's list). */
  readonly models: ModelMatcher | undefined;
  /** The operations it allows: those listed, or without a list its provider kind's inference operations. */
  readonly operations: ReadonlySet<string>;
  /** True when the grant lists no operations and `operations` is the kind's inference default. */
  readonly operationsDefault: boolean;
  readonly when: CelCondition | undefined;
  readonly shadow: boolean;
  /** MCP servers (kind mcp): the methods and names the grant allows; undefined for model providers. */
  readonly mcp: McpGrantRules | undefined;
}

export interface IdentityPolicy {
  readonly id: string;
  readonly tenant: string;
  /** Grants by provider, in file order. */
  readonly providers: ReadonlyMap<string, readonly GrantPolicy[]>;
  readonly owner: { readonly team: string; readonly contact: string } | undefined;
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
  readonly identitiesBySpiffeId: ReadonlyMap<string, IdentityPolicy>;
  /** Keyed by `${issuer}\n${subject}`. */
  readonly identitiesByJwtSubject: ReadonlyMap<string, IdentityPolicy>;
  readonly limits: Config['limits'];
  /** shadow: policy denials are recorded as would-deny and not enforced. */
  readonly mode: 'enforce' | 'shadow';
  /** Content controls, or undefined when dlp.enabled is false. */
  readonly dlp: DlpPolicy | undefined;
  /** Classification routing, or undefined when routing.classes is empty. */
  readonly routing: RoutingPolicy | undefined;
  /** MCP servers (kind mcp) by name: their tool-definition pin settings (reviewed pins, trust on first use). */
  readonly mcpPins: Readonly<Record<string, { readonly pins?: Readonly<Record<string, string>> | undefined; readonly trustOnFirstUse: boolean }>>;
}

export const jwtSubjectKey = (issuer: string, subject: string): string => `${issuer}\n${subject}`;

/** A grant's CEL condition failed to compile: the message names the grant and the position. */
export class PolicyCompileError extends Error {}

/** The content a decision depends on; its hash is the policy revision. */
export function policyRevisionOf(config: Config): string {
  const content = { providers: config.providers, identities: config.identities, limits: config.limits, policy: config.policy, dlp: config.dlp,
    budgets: config.budgets, prices: config.prices, rateLimits: config.rateLimits, anomaly: config.anomaly,
    ...(config.routing.classes.length > 0 ? { routing: config.routing } : {}) };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 16);
}

function providerKind(p: ProviderConfig): ProviderKindModule {
  return createProviderKind(p.kind, {
    upstream: new URL(p.upstream),
    extraEndpoints: p.extraEndpoints,
    ...(p.region === undefined ? {} : { region: p.region }),
    ...(p.project === undefined ? {} : { project: p.project }),
    ...(p.location === undefined ? {} : { location: p.location }),
    ...(p.mcp === undefined ? {} : { mcpPath: p.mcp.path }),
  });
}

export function compilePolicy(config: Config): Policy {
  const providers = new Map<string, ProviderPolicy>();
  for (const p of config.providers) {
    providers.set(p.name, Object.freeze({ name: p.name, config: p, kind: providerKind(p), pathPrefix: `/${p.name}/`, allowsModel: compileModelPatterns(p.models ?? []) }));
  }
  const identitiesByKeyHash = new Map<string, IdentityPolicy>();
  const identitiesById = new Map<string, IdentityPolicy>();
  const identitiesBySpiffeId = new Map<string, IdentityPolicy>();
  const identitiesByJwtSubject = new Map<string, IdentityPolicy>();
  for (const ident of config.identities) {
    const grants = new Map<string, GrantPolicy[]>();
    ident.allow.forEach((a, j) => {
      const rule: GrantRuleId = `identities[${ident.id}].allow[${j}]`;
      let when: CelCondition | undefined;
      if (a.when !== undefined) {
        try {
          when = CelCondition.compile(rule, a.when);
        } catch (err) {
          throw new PolicyCompileError(`identities[${ident.id}].allow[${j}].when: ${(err as Error).message}`, { cause: err });
        }
      }
      const list = grants.get(a.provider) ?? [];
      const kind = providers.get(a.provider)?.kind;
      list.push(Object.freeze({
        rule,
        provider: a.provider,
        models: a.models === undefined ? undefined : compileModelPatterns(a.models),
        // Least privilege: no list allows inference only, never the organisation's stored data.
        operations: a.operations === undefined ? kind?.inferenceOperations ?? new Set<string>() : new Set(a.operations),
        operationsDefault: a.operations === undefined,
        when,
        shadow: a.shadow,
        mcp: providers.get(a.provider)?.config.kind === 'mcp' ? compileMcpGrant(a.mcp) : undefined,
      }));
      grants.set(a.provider, list);
    });
    const rt: IdentityPolicy = Object.freeze({ id: ident.id, tenant: ident.tenant, providers: grants, owner: ident.owner });
    identitiesById.set(ident.id, rt);
    for (const h of ident.apiKeyHashes) identitiesByKeyHash.set(h, rt);
    for (const sid of ident.spiffeIds) identitiesBySpiffeId.set(sid, rt);
    for (const js of ident.jwtSubjects) identitiesByJwtSubject.set(jwtSubjectKey(js.issuer, js.subject), rt);
  }
  return Object.freeze({
    revision: policyRevisionOf(config),
    providers,
    identitiesByKeyHash,
    identitiesById,
    identitiesBySpiffeId,
    identitiesByJwtSubject,
    limits: config.limits,
    mode: config.policy.mode,
    dlp: compileDlp(config),
    routing: compileRouting(config),
    mcpPins: Object.freeze(Object.fromEntries(config.providers.filter((p) => p.kind === 'mcp').map((p) => [p.name, { pins: p.mcp?.pins, trustOnFirstUse: p.mcp?.trustOnFirstUse ?? true }]))),
  });
}

/** The provider a request path addresses: its first segment. */
export function providerForPath(policy: Policy, path: string): ProviderPolicy | undefined {
  const end = path.indexOf('/', 1);
  if (!path.startsWith('/') || end < 0) return undefined;
  return policy.providers.get(path.slice(1, end));
}

import { z } from 'zod';
import { RULES, type Identity, type IdentityKind, type McpDocument, type RequestDocument, type RuleId, type ShadowDenial } from '../core/decision.ts';
import { toTollgateError } from '../errors.ts';
import { readMcpRequest } from '../mcp/request.ts';
import { evaluateTraced, type TraceStep } from './evaluate.ts';
import { jwtSubjectKey, providerForPath, type IdentityPolicy, type Policy } from './policy.ts';
import { asTollgateError, splitTarget, translatorFor } from './request.ts';

// Offline explanation of one decision: the same steps ext_authz and ext_proc take (identity mapping,
// provider route, endpoint, model, grants), over a request written as JSON, with every check
// recorded. The grant evaluation is `evaluate` itself (evaluateTraced), so an explanation cannot
// drift from the decision the service makes. Identity *verification* (certificates, tokens, keys)
// is not part of it: the request names the identity the verifier would have mapped.

const headerRecord = z.record(z.string().regex(/^[:a-z0-9-]+$/, 'header names must be lower case'), z.string());

/** How the request names its caller: an identity id, or what the verifier would have established. */
const identitySelector = z.union([
  z.string().min(1),
  z.strictObject({ id: z.string().min(1) }),
  z.strictObject({ spiffeId: z.string().min(1) }),
  z.strictObject({ jwt: z.strictObject({ issuer: z.string().min(1), subject: z.string().min(1) }) }),
  z.strictObject({ apiKeyHash: z.string().min(1) }),
]);

/** A request as `policy explain` and `policy test` read it. `path` is the path sent to Envoy, /<provider>/... */
export const explainRequestSchema = z.strictObject({
  identity: identitySelector,
  method: z.string().regex(/^[A-Z]+$/).default('POST'),
  path: z.string().startsWith('/'),
  headers: headerRecord.default({}),
  /** The JSON body (an object), or absent for a request without a body. */
  body: z.record(z.string(), z.unknown()).optional(),
  /** Verified JWT claims, as the verifier would pass them. */
  claims: z.record(z.string(), z.unknown()).default({}),
  /** The evaluation time (ISO 8601); default now. */
  time: z.iso.datetime({ offset: true }).optional(),
});
export type ExplainRequest = z.output<typeof explainRequestSchema>;
export type ExplainRequestInput = z.input<typeof explainRequestSchema>;

/** The outcome as the service would enforce it: `shadow-deny` is an allow with a recorded would-deny. */
export interface ExplainOutcome {
  readonly decision: 'allow' | 'deny' | 'shadow-deny';
  readonly rule: RuleId;
  /** The catalogue code of a denial (or of the would-deny), `none` for a plain allow. */
  readonly reason: string;
  readonly shadow?: ShadowDenial;
}

export interface Explanation {
  readonly policyRevision: string;
  readonly identity: Identity | undefined;
  readonly provider: string | undefined;
  readonly operation: string | undefined;
  readonly model: string | undefined;
  readonly outcome: ExplainOutcome;
  /** Every check made, in order, including the steps before the grants. */
  readonly steps: readonly PreStep[];
  /** Every grant of the identity: whether it applied to this request's provider. */
  readonly grants: readonly { readonly rule: RuleId; readonly provider: string; readonly applies: boolean }[];
}

export type PreStep = TraceStep | { readonly rule: RuleId; readonly check: 'identity' | 'route' | 'endpoint' | 'body'; readonly outcome: 'pass' | 'fail'; readonly detail: string };

function findIdentity(policy: Policy, sel: ExplainRequest['identity']): { found: IdentityPolicy | undefined; kind: IdentityKind; label: string } {
  if (typeof sel === 'string') return { found: policy.identitiesById.get(sel), kind: 'api_key', label: `id ${sel}` };
  if ('id' in sel) return { found: policy.identitiesById.get(sel.id), kind: 'api_key', label: `id ${sel.id}` };
  if ('spiffeId' in sel) return { found: policy.identitiesBySpiffeId.get(sel.spiffeId), kind: 'spiffe', label: `SPIFFE ID ${sel.spiffeId}` };
  if ('jwt' in sel) return { found: policy.identitiesByJwtSubject.get(jwtSubjectKey(sel.jwt.issuer, sel.jwt.subject)), kind: 'jwt', label: `JWT ${sel.jwt.issuer} ${sel.jwt.subject}` };
  return { found: policy.identitiesByKeyHash.get(sel.apiKeyHash), kind: 'api_key', label: 'API key hash' };
}

/** Explains the decision for `req` under `policy`. Never throws for a well-formed request. */
export function explain(policy: Policy, req: ExplainRequest): Explanation {
  const steps: PreStep[] = [];
  const base = { policyRevision: policy.revision, steps };
  const deny = (rule: RuleId, reason: string, rest: Partial<Pick<Explanation, 'identity' | 'provider' | 'operation' | 'model' | 'grants'>> = {}): Explanation =>
    ({ ...base, identity: undefined, provider: undefined, operation: undefined, model: undefined, grants: [], ...rest, outcome: { decision: 'deny', rule, reason } });

  const { found, kind, label } = findIdentity(policy, req.identity);
  if (found === undefined) {
    steps.push({ rule: RULES.identityUnknown, check: 'identity', outcome: 'fail', detail: `${label} maps to no identity` });
    return deny(RULES.identityUnknown, 'identity_unknown');
  }
  const identity: Identity = { id: found.id, tenant: found.tenant, kind };
  steps.push({ rule: RULES.identityUnknown, check: 'identity', outcome: 'pass', detail: `${label} is identity ${found.id} (tenant ${found.tenant})` });
  const grants = [...found.providers.values()].flat().map((g) => ({ rule: g.rule, provider: g.provider, applies: false }));

  const { path } = splitTarget(req.path);
  const provider = providerForPath(policy, path);
  if (provider === undefined) {
    steps.push({ rule: RULES.providerRoute, check: 'route', outcome: 'fail', detail: `no provider serves ${path}` });
    return deny(RULES.providerRoute, 'provider_unknown', { identity, grants });
  }
  steps.push({ rule: RULES.providerRoute, check: 'route', outcome: 'pass', detail: `provider ${provider.name}` });
  const applying = grants.map((g) => ({ ...g, applies: g.provider === provider.name }));
  if (!found.providers.has(provider.name)) {
    steps.push({ rule: RULES.identityAllow, check: 'provider', outcome: 'fail', detail: `no grant for provider ${provider.name}` });
    return deny(RULES.identityAllow, 'provider_forbidden', { identity, provider: provider.name, grants: applying });
  }

  const headers = new Map(Object.entries(req.headers));
  if (req.body !== undefined) headers.set('content-type', headers.get('content-type') ?? 'application/json');
  let operation: string | undefined;
  let model: string | undefined;
  let mcp: McpDocument | undefined;
  try {
    const translator = translatorFor(provider, req.method, req.path, headers);
    operation = translator.operation;
    steps.push({ rule: RULES.providerEndpoints, check: 'endpoint', outcome: 'pass', detail: `${req.method} ${path} is operation ${operation}` });
    const body = translator.parseBody(req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body)));
    model = translator.model;
    if (provider.config.kind === 'mcp' && body !== undefined) {
      // An MCP server: the JSON-RPC message and its mirrored headers, read as ext_proc reads them. Tool pins live
      // in the state store and are not part of an offline explanation.
      mcp = readMcpRequest(body, headers, () => undefined).doc;
      steps.push({ rule: RULES.mcpProtocol, check: 'body', outcome: 'pass', detail: `MCP ${mcp.kind} ${mcp.method || '(response)'}${mcp.name === undefined ? '' : ` ${mcp.target ?? ''} ${mcp.name}`}` });
    } else steps.push({ rule: RULES.requestModel, check: 'body', outcome: 'pass', detail: model === undefined ? 'no model' : `model ${model}` });
  } catch (err) {
    const e = toTollgateError(asTollgateError(err));
    const rule = operation === undefined && e.code === 'endpoint_not_allowed' ? RULES.providerEndpoints : provider.config.kind === 'mcp' ? RULES.mcpProtocol : RULES.requestModel;
    steps.push({ rule, check: operation === undefined ? 'endpoint' : 'body', outcome: 'fail', detail: e.code });
    return deny(rule, e.code, { identity, provider: provider.name, grants: applying, ...(operation === undefined ? {} : { operation }) });
  }

  const doc: RequestDocument = {
    identity,
    provider: provider.name,
    method: req.method,
    path: path.slice(provider.pathPrefix.length - 1),
    operation,
    model,
    time: req.time === undefined ? new Date() : new Date(req.time),
    claims: req.claims,
    host: req.headers[':authority'] ?? '',
    headers: req.headers,
    ...(mcp === undefined ? {} : { mcp }),
  };
  const trace: TraceStep[] = [];
  const d = evaluateTraced(policy, doc, true, trace);
  steps.push(...trace);
  const outcome: ExplainOutcome = !d.allow
    ? { decision: 'deny', rule: d.rule, reason: d.reason }
    : d.shadow === undefined
      ? { decision: 'allow', rule: d.rule, reason: 'none' }
      : { decision: 'shadow-deny', rule: d.rule, reason: d.shadow.reason, shadow: d.shadow };
  return { ...base, identity, provider: provider.name, operation, model, outcome, grants: applying };
}

/** Human-readable lines for an explanation, like `opa eval --explain`: the decision, then every check. */
export function formatExplanation(e: Explanation): string {
  const o = e.outcome;
  const lines = [
    `decision: ${o.decision}`,
    `rule:     ${o.rule}`,
    `reason:   ${o.reason}`,
    `revision: ${e.policyRevision}`,
    ...(e.identity === undefined ? [] : [`identity: ${e.identity.id} (tenant ${e.identity.tenant}, ${e.identity.kind})`]),
    ...(e.provider === undefined ? [] : [`request:  provider ${e.provider}, operation ${e.operation ?? '-'}, model ${e.model ?? '-'}`]),
    'checks:',
    ...e.steps.map((s) => `  ${s.outcome.padEnd(13)} ${s.rule} ${s.check}: ${s.detail}`),
    'grants:',
    ...(e.grants.length === 0 ? ['  (none)'] : e.grants.map((g) => `  ${g.rule} provider ${g.provider}${g.applies ? '' : ' (not this provider)'}${g.rule === o.rule ? '  <- decided' : ''}`)),
  ];
  return `${lines.join('\n')}\n`;
}

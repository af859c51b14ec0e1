import { RULES, type Decision, type DenyReason, type RequestDocument, type RuleId } from '../core/decision.ts';
import { CelInputError, prepareDocument, type PreparedDocument } from './cel.ts';
import { checkMcp } from './mcp-rules.ts';
import type { GrantPolicy, Policy } from './policy.ts';

interface Failure {
  readonly rule: RuleId;
  readonly reason: DenyReason;
}

/** The CEL document: what conditions may read. Built once per evaluation, only if a grant has a condition. */
function celDocument(doc: RequestDocument): Readonly<Record<string, unknown>> {
  return {
    identity: { id: doc.identity.id, tenant: doc.identity.tenant, kind: doc.identity.kind },
    claims: doc.claims ?? {},
    tenant: doc.identity.tenant,
    request: {
      provider: doc.provider,
      method: doc.method,
      path: doc.path,
      operation: doc.operation,
      model: doc.model ?? '',
      host: doc.host ?? '',
      headers: doc.headers ?? {},
    },
    time: doc.time,
    ...mcpRoot(doc),
  };
}

/**
 * The `mcp` root for requests to an MCP server: the message's method, name and arguments; for the GET stream and
 * DELETE (no message) all empty, so a condition over `mcp` decides them too instead of failing on a missing root.
 */
function mcpRoot(doc: RequestDocument): { readonly mcp?: Readonly<Record<string, unknown>> } {
  if (doc.mcp !== undefined) return { mcp: { method: doc.mcp.method, name: doc.mcp.name ?? '', arguments: doc.mcp.arguments ?? {} } };
  return doc.operation === 'mcp.listen' || doc.operation === 'mcp.end' ? { mcp: { method: '', name: '', arguments: {} } } : {};
}

/** One check of one rule, as `policy explain` shows it. */
export interface TraceStep {
  readonly rule: RuleId;
  readonly check: 'provider' | 'provider.models' | 'operations' | 'models' | 'mcp.methods' | 'mcp.names' | 'when' | 'grant' | 'mode';
  readonly outcome: 'pass' | 'fail' | 'error' | 'not-evaluated';
  readonly detail: string;
}

/** The first check of `grant` that `doc` fails, or undefined if the grant allows it. `trace` records every check made. */
function checkGrant(grant: GrantPolicy, doc: RequestDocument, final: boolean, prepared: () => PreparedDocument | Failure, trace: TraceStep[] | undefined): Failure | undefined {
  const rule = grant.rule;
  const allowed = grant.operations.has(doc.operation);
  const listed = grant.operationsDefault ? ' (no operations listed: the kind\'s inference operations)' : '';
  trace?.push({ rule, check: 'operations', outcome: allowed ? 'pass' : 'fail', detail: `operation ${doc.operation} ${allowed ? 'in' : 'not in'} [${[...grant.operations].join(', ')}]${listed}` });
  if (!allowed) return { rule, reason: 'operation_forbidden' };
  if (grant.models !== undefined && doc.model !== undefined) {
    const ok = grant.models(doc.model);
    trace?.push({ rule, check: 'models', outcome: ok ? 'pass' : 'fail', detail: `model ${doc.model} ${ok ? 'matches' : 'does not match'} the grant's models` });
    if (!ok) return { rule, reason: 'model_forbidden' };
  }
  if (grant.mcp !== undefined && doc.operation === 'mcp') {
    if (doc.mcp === undefined) {
      // The JSON-RPC message is read with the body; without it, a final decision cannot allow (fail closed).
      trace?.push({ rule, check: 'mcp.methods', outcome: final ? 'fail' : 'not-evaluated', detail: 'the MCP message is read from the request body' });
      if (final) return { rule, reason: 'mcp_method_forbidden' };
    } else {
      const r = checkMcp(grant.mcp, doc.mcp);
      for (const p of r.passes) trace?.push({ rule, check: p.check, outcome: 'pass', detail: p.detail });
      if (r.failure !== undefined) {
        trace?.push({ rule, check: r.failure.check, outcome: 'fail', detail: r.failure.detail });
        return { rule, reason: r.failure.reason };
      }
    }
  }
  if (grant.when === undefined) return undefined;
  if (!final) {
    trace?.push({ rule, check: 'when', outcome: 'not-evaluated', detail: 'the condition is evaluated once the request body has been read' });
    return undefined;
  }
  const p = prepared();
  if ('reason' in p) {
    trace?.push({ rule, check: 'when', outcome: 'error', detail: 'the request document exceeds the CEL input limits' });
    return p;
  }
  const r = grant.when.evaluate(p);
  // Fail closed: an evaluation error (not a bool, a missing field, a limit) denies like a false.
  if (!r.ok) {
    trace?.push({ rule, check: 'when', outcome: 'error', detail: 'the condition failed to evaluate (denies like false)' });
    return { rule, reason: 'policy_condition_error' };
  }
  trace?.push({ rule, check: 'when', outcome: r.value ? 'pass' : 'fail', detail: `condition is ${String(r.value)}` });
  return r.value ? undefined : { rule, reason: 'condition_failed' };
}

/**
 * Pure policy evaluation over the normalised request document: default deny. The identity must hold
 * a grant for the provider, and the provider must serve the model; those are always enforced. Then
 * the identity's grants for the provider are tried in file order and the first that allows decides.
 * A failing condition of a `shadow` grant, or any grant failure under `policy.mode: shadow`, is
 * returned as a would-deny on an allow. Never throws, never does I/O.
 *
 * `final`: the document is complete (the body, if any, has been read), so conditions are evaluated.
 * The decision point evaluates a request with a body before its model is known: everything but the
 * conditions then, and ext_proc evaluates it again, finally, with the body's model.
 */
export function evaluate(policy: Policy, doc: RequestDocument, final = true): Decision {
  return evaluateTraced(policy, doc, final, undefined);
}

/** `evaluate`, recording every check it makes into `trace` (when given); the decision is the same. */
export function evaluateTraced(policy: Policy, doc: RequestDocument, final: boolean, trace: TraceStep[] | undefined): Decision {
  const policyRevision = policy.revision;
  const deny = (f: Failure): Decision => ({ allow: false, rule: f.rule, reason: f.reason, policyRevision });
  const identity = policy.identitiesById.get(doc.identity.id);
  const provider = policy.providers.get(doc.provider);
  const grants = provider === undefined ? undefined : identity?.providers.get(provider.name);
  if (provider === undefined || grants === undefined || grants.length === 0) {
    trace?.push({ rule: RULES.identityAllow, check: 'provider', outcome: 'fail', detail: `no grant for provider ${doc.provider}` });
    return deny({ rule: RULES.identityAllow, reason: 'provider_forbidden' });
  }
  trace?.push({ rule: RULES.identityAllow, check: 'provider', outcome: 'pass', detail: `${grants.length} grant(s) for provider ${provider.name}` });
  if (doc.model !== undefined) {
    const ok = provider.allowsModel(doc.model);
    trace?.push({ rule: RULES.providerModels, check: 'provider.models', outcome: ok ? 'pass' : 'fail', detail: `provider ${provider.name} ${ok ? 'serves' : 'does not serve'} model ${doc.model}` });
    if (!ok) return deny({ rule: RULES.providerModels, reason: 'model_forbidden' });
  }

  let cached: PreparedDocument | Failure | undefined;
  const prepared = (): PreparedDocument | Failure => {
    if (cached !== undefined) return cached;
    try {
      cached = prepareDocument(celDocument(doc));
    } catch (err) {
      if (!(err instanceof CelInputError)) throw err;
      cached = { rule: RULES.policyDocument, reason: 'policy_condition_error' };
    }
    return cached;
  };

  let first: Failure | undefined;
  for (const grant of grants) {
    const failure = checkGrant(grant, doc, final, prepared, trace);
    if (failure === undefined) {
      trace?.push({ rule: grant.rule, check: 'grant', outcome: 'pass', detail: 'every check of the grant holds: allow' });
      return { allow: true, rule: grant.rule, policyRevision };
    }
    if (grant.shadow && (failure.reason === 'condition_failed' || failure.reason === 'policy_condition_error'))
      return { allow: true, rule: grant.rule, policyRevision, shadow: failure };
    first ??= failure;
  }
  const failure = first ?? { rule: RULES.identityAllow, reason: 'provider_forbidden' };
  if (policy.mode === 'shadow') {
    trace?.push({ rule: failure.rule, check: 'mode', outcome: 'pass', detail: `policy.mode is shadow: the denial (${failure.reason}) is recorded, not enforced` });
    return { allow: true, rule: failure.rule, policyRevision, shadow: failure };
  }
  return deny(failure);
}

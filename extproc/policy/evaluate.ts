import { RULES, type Decision, type RequestDocument } from '../core/decision.ts';
import type { Policy } from './policy.ts';

/**
 * Pure policy evaluation over the normalised request document: default deny, first failing rule
 * decides. Called by the decision point with what the request line tells (model from the path, if
 * any), and again by ext_proc once the body names the model. Never throws, never does I/O.
 */
export function evaluate(policy: Policy, doc: RequestDocument): Decision {
  const revision = policy.revision;
  const deny = (rule: Decision['rule'], reason: Extract<Decision, { allow: false }>['reason']): Decision => ({ allow: false, rule, reason, policyRevision: revision });
  const identity = policy.identitiesById.get(doc.identity.id);
  const provider = policy.providers.get(doc.provider);
  if (identity === undefined || provider === undefined || !identity.providers.has(provider.name)) return deny(RULES.identityAllow, 'provider_forbidden');
  if (doc.model !== undefined) {
    if (!provider.allowsModel(doc.model)) return deny(RULES.providerModels, 'model_forbidden');
    const own = identity.providers.get(provider.name);
    if (own !== undefined && !own(doc.model)) return deny(RULES.identityModels, 'model_forbidden');
  }
  return { allow: true, rule: RULES.identityAllow, policyRevision: revision };
}

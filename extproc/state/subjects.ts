import type { SubjectConfig } from '../config/state-schema.ts';

/** Who is asking: the identity, its tenant, and (for JWT identities) its claims. */
export interface Principal {
  readonly identity: string;
  readonly tenant: string;
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** At most this many values of one claim count as groups; the rest are ignored (a token cannot fan out without bound). */
export const MAX_CLAIM_VALUES = 16;

/**
 * The subject values a budget or limit applies to: one for identity or tenant, one per string value
 * of the claim (a string, or an array of strings: every element is a group) for groups, filtered by
 * `only`. A claim with no usable value counts in the subject's `default` group; without one the answer
 * is null (the caller refuses with `group_missing`: a token cannot escape a budget by lacking the claim).
 */
export function subjectValues(per: SubjectConfig, principal: Principal, only: readonly string[] | undefined): string[] | null {
  let values: string[];
  if (per === 'identity') values = [principal.identity];
  else if (per === 'tenant') values = [principal.tenant];
  else {
    const v = principal.claims?.[per.claim];
    const raw = typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    values = [...new Set(raw.filter((x) => x !== '' && x.length <= 256))].slice(0, MAX_CLAIM_VALUES);
    if (values.length === 0) {
      if (per.default === undefined) return null;
      values = [per.default];
    }
  }
  return only === undefined ? values : values.filter((x) => only.includes(x));
}

export function subjectLabel(per: SubjectConfig): string {
  return typeof per === 'string' ? per : `claim.${per.claim}`;
}

/** A counter key for one (budget or limit, subject value). Names are [a-z0-9-], so ":" cannot collide. */
export function counterKey(kind: 'b' | 'r', name: string, per: SubjectConfig, value: string): string {
  return `${kind}:${name}:${subjectLabel(per)}:${value}`;
}

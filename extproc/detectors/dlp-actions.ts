// What to do with a request's findings, from the `dlp.actions` rules: the first rule whose selector and scope
// match a finding decides for it; unmatched findings fall back to the defaults (secrets block, PII masks).
// The request's action is the strongest over its findings: block > route > mask > allow.
import type { Finding } from '../core/content.ts';

export type DlpActionKind = 'allow' | 'mask' | 'block' | 'route';

export interface DlpActionRule {
  readonly detectors: readonly string[];
  readonly when?: { readonly tenants?: readonly string[] | undefined; readonly identities?: readonly string[] | undefined; readonly providers?: readonly string[] | undefined } | undefined;
  readonly action: DlpActionKind;
  readonly restore?: boolean;
  readonly route?: string;
}

export interface DlpScope {
  readonly tenant: string;
  readonly identity: string;
  readonly provider: string;
}

export interface DlpDecision {
  readonly action: DlpActionKind;
  /** Route class when action is "route" (the first routing rule hit, in finding order). */
  readonly route?: string;
  /** Findings to mask (action mask, or mask findings under a route decision). */
  readonly mask: readonly Finding[];
  /** Whether masked values should be restored in the response (any masking rule with restore: true). */
  readonly restore: boolean;
  /** Types that caused a block, sorted, for the user-facing error (never values). */
  readonly blockedTypes: readonly string[];
  /** Index of the deciding rule in the rule list; -1 for defaults or no findings. */
  readonly rule: number;
  /** Finding counts by type, for audit. */
  readonly counts: Readonly<Record<string, number>>;
}

const DEFAULTS: readonly DlpActionRule[] = [
  { detectors: ['secret.*'], action: 'block' },
  { detectors: ['pii.*', 'custom.*'], action: 'mask', restore: false },
];

export function selectorMatches(selector: string, f: Finding): boolean {
  if (selector === '*') return true;
  if (selector.endsWith('.*')) return f.detector.startsWith(selector.slice(0, -1));
  return selector === f.detector || selector === f.type;
}

function inScope(rule: DlpActionRule, s: DlpScope): boolean {
  const w = rule.when;
  if (w === undefined) return true;
  return (w.tenants === undefined || w.tenants.includes(s.tenant)) && (w.identities === undefined || w.identities.includes(s.identity)) && (w.providers === undefined || w.providers.includes(s.provider));
}

const RANK: Readonly<Record<DlpActionKind, number>> = { allow: 0, mask: 1, route: 2, block: 3 };

export function decideDlp(rules: readonly DlpActionRule[], findings: readonly Finding[], scope: DlpScope): DlpDecision {
  const counts: Record<string, number> = {};
  const mask: Finding[] = [];
  const blocked = new Set<string>();
  let action: DlpActionKind = 'allow';
  let route: string | undefined;
  let restore = false;
  let decidingRule = -1;
  for (const f of findings) {
    counts[f.type] = (counts[f.type] ?? 0) + 1;
    let idx = rules.findIndex((r) => inScope(r, scope) && r.detectors.some((sel) => selectorMatches(sel, f)));
    const rule = idx >= 0 ? rules[idx] : DEFAULTS.find((r) => r.detectors.some((sel) => selectorMatches(sel, f)));
    if (idx < 0) idx = -1;
    const kind: DlpActionKind = rule?.action ?? 'block';
    if (kind === 'mask') {
      mask.push(f);
      if (rule?.restore === true) restore = true;
    }
    if (kind === 'block') blocked.add(f.type);
    if (kind === 'route' && route === undefined) route = rule?.route;
    if (RANK[kind] > RANK[action]) {
      action = kind;
      decidingRule = idx;
    }
  }
  return {
    action,
    ...(action === 'route' && route !== undefined ? { route } : {}),
    mask,
    restore,
    blockedTypes: [...blocked].sort(),
    rule: decidingRule,
    counts,
  };
}

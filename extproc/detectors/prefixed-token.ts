// A factory for API tokens that start with a fixed prefix ("ghp_", "sk_live_", "xoxb-"...). The scanner
// calls the detector at the prefix's last character, which is a separator ('_', '-', '=', '/') in every
// prefix here, so ordinary words cost one character comparison.
import { boundaryAt, hasAt, isAlnum, looksLikePlaceholder, runEnd } from './chars.ts';
import type { CharDetector, KeywordDetector } from './detector.ts';

export interface PrefixedTokenSpec {
  readonly id: string;
  readonly type: string;
  readonly prefixes: readonly string[];
  readonly body: (c: number) => boolean;
  readonly minBody: number;
  readonly maxBody: number;
  /** Characters that may not follow the token (default: alphanumerics). */
  readonly after?: (c: number) => boolean;
  /** Characters that may not precede the prefix (default: alphanumerics). */
  readonly before?: (c: number) => boolean;
  /** Extra validation over text[start, end) with the body starting at bodyStart. */
  readonly validate?: (text: string, start: number, bodyStart: number, end: number) => boolean;
  /** Report only the body, not the prefix (e.g. "AccountKey=" values). */
  readonly reportBodyOnly?: boolean;
  /** Trim these trailing characters from the body (e.g. a sentence's final '.'). */
  readonly trimTrailing?: (c: number) => boolean;
  /**
   * Refuse bodies that look like placeholders (`xxxx`, `EXAMPLE`, runs of one character, `abcdef`...); on by
   * default. Off only for bodies with fixed structure that the detector's own `validate` checks.
   */
  readonly placeholders?: boolean;
  /**
   * Index in every prefix of the character the scanner triggers on (default: the last). Set it when the last
   * character is common in text ('.') and an earlier one is rare (the 'v' of "hvs.", the 'G' of "SG.").
   */
  readonly triggerAt?: number;
}

/** Matches the token whose prefix p starts at `start` (p already checked there); reports and returns true on a hit. */
function matchAt(spec: PrefixedTokenSpec, text: string, start: number, p: string, report: (s: number, e: number) => void): boolean {
  if (!boundaryAt(text, start - 1, spec.before ?? isAlnum)) return false;
  const bodyStart = start + p.length;
  let end = runEnd(text, bodyStart, spec.body, spec.maxBody + 1);
  if (spec.trimTrailing !== undefined) while (end > bodyStart && spec.trimTrailing(text.charCodeAt(end - 1))) end--;
  const n = end - bodyStart;
  if (n < spec.minBody || n > spec.maxBody) return false;
  if (!boundaryAt(text, end, spec.after ?? isAlnum)) return false;
  if (spec.placeholders !== false && looksLikePlaceholder(text, bodyStart, end)) return false;
  if (spec.validate !== undefined && !spec.validate(text, start, bodyStart, end)) return false;
  report(spec.reportBodyOnly === true ? bodyStart : start, end);
  return true;
}

export function prefixedToken(spec: PrefixedTokenSpec): CharDetector {
  const at = (p: string): number => spec.triggerAt ?? p.length - 1;
  const chars = (off: number): string => [...new Set(spec.prefixes.map((p) => p.charAt(at(p) + off)))].join('');
  const maxPrefix = Math.max(...spec.prefixes.map((p) => p.length));
  const next = spec.triggerAt === undefined ? undefined : chars(1);
  // The two characters before the trigger, as a pair, when every prefix has two there (tabulated by the scanner).
  const pairs = new Set(spec.prefixes.map((p) => p.charCodeAt(at(p) - 2) * 256 + p.charCodeAt(at(p) - 1)));
  const before = spec.prefixes.every((p) => at(p) >= 2) ? (p2: number, p: number): boolean => pairs.has(p2 * 256 + p) : undefined;
  // Per (character before the trigger << 16 | trigger): the prefixes with those two there, with the trigger's index.
  const byPair = new Map<number, (readonly [string, number])[]>();
  for (const p of spec.prefixes) {
    const k = at(p);
    if (k < 1) continue; // no character before the trigger inside the prefix: never matched
    const key = (p.charCodeAt(k - 1) << 16) | p.charCodeAt(k);
    const list = byPair.get(key) ?? [];
    list.push([p, k]);
    byPair.set(key, list);
  }
  return {
    kind: 'char',
    id: spec.id,
    type: spec.type,
    triggers: chars(0),
    prev: chars(-1),
    ...(next === undefined ? {} : { next }),
    ...(before === undefined ? {} : { before }),
    maxLength: maxPrefix + spec.maxBody,
    at(text, i, report) {
      // The trigger and the character before it, as one number, picked the prefixes that can end here.
      const list = byPair.get((text.charCodeAt(i - 1) << 16) | text.charCodeAt(i));
      if (list === undefined) return;
      for (const [p, k] of list) {
        const start = i - k;
        if (start < 0 || !hasAt(text, start, p)) continue;
        if (matchAt(spec, text, start, p, report)) return;
      }
    },
  };
}

/**
 * The same token shape, found by the scanner's keyword lookup instead of a trigger character: for prefixes
 * whose last characters are common in text ('.', or a lower-case letter), so that plain prose does not stop the
 * hot loop at every such character. The keywords are the prefixes lower-cased; the case is checked here.
 */
export function prefixedKeywordToken(spec: PrefixedTokenSpec): KeywordDetector {
  const maxPrefix = Math.max(...spec.prefixes.map((p) => p.length));
  return {
    kind: 'keyword',
    id: spec.id,
    type: spec.type,
    keywords: [...new Set(spec.prefixes.map((p) => p.toLowerCase()))],
    maxLength: maxPrefix + spec.maxBody,
    atKeyword(text, i, keyword, report) {
      for (const p of spec.prefixes) {
        if (p.length !== keyword.length || p.toLowerCase() !== keyword || !hasAt(text, i, p)) continue;
        if (matchAt(spec, text, i, p, report)) return;
      }
    },
  };
}

// A factory for credentials without a prefix of their own (Cohere, Cloudflare API tokens, Twilio auth tokens,
// Datadog, Okta): a value of the format's shape assigned to a name that carries the vendor's name
// (`COHERE_API_KEY=…`, `"dd-api-key": "…"`, `DD-API-KEY: …`, `okta_token: …`). The scanner calls at '=' and ':'
// right after a name ending in a key/token/secret word or a quote; the name is read backwards (assignment.ts).
import { assignmentAt, nameHas, nameStart, skipQuote } from './assignment.ts';
import { boundaryAt, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

export interface NamedValueSpec {
  readonly id: string;
  readonly type: string;
  /** Lowercase words one of which the name must contain. */
  readonly names: readonly string[];
  /** The value's characters, and its accepted lengths. */
  readonly body: (c: number) => boolean;
  readonly lengths: readonly number[];
  /** Extra validation of text[start, end). */
  readonly validate: (text: string, start: number, end: number) => boolean;
}

/** The shared gate: an assignment whose name ends in key, token or secret (computed once per separator). */
function keyishAssignment(text: string, t: number): boolean {
  return assignmentAt(text, t)?.keyish === true;
}

/**
 * What the gate needs two characters before the separator: through a closing quote, the last letter of key,
 * token or secret (y, n, t); after one of those letters (no quote), the `e` before it. One function for every
 * detector of this factory, so the scanner evaluates it once per separator for all of them.
 */
function keyishBefore(p2: number, p: number): boolean {
  if (p === 34 || p === 39) {
    const l = p2 | 32;
    return l === 121 || l === 110 || l === 116;
  }
  return (p2 | 32) === 101;
}

export function namedValue(spec: NamedValueSpec): CharDetector {
  const max = Math.max(...spec.lengths);
  return {
    kind: 'char',
    id: spec.id,
    type: spec.type,
    triggers: '=:',
    // KEY, TOKEN, SECRET or a closing quote right before the separator (`X = v` with spaces is left to the
    // keyword = value detector: it keeps the most common separator in code from costing five more calls).
    prev: 'yYnNtT"\'',
    maxLength: max,
    before: keyishBefore,
    gate: keyishAssignment,
    at(text, t, report) {
      const a = assignmentAt(text, t);
      if (a === undefined || !a.keyish) return;
      // The value's shape first (cheap, and most separators fail it), then the name.
      const v = skipQuote(text, a.value);
      if (!boundaryAt(text, v - 1, spec.body)) return;
      const end = runEnd(text, v, spec.body, max + 1);
      if (!spec.lengths.includes(end - v) || !boundaryAt(text, end, spec.body)) return;
      if (nameHas(text, nameStart(text, a.nameEnd), a.nameEnd, spec.names) && spec.validate(text, v, end)) report(v, end);
    },
  };
}

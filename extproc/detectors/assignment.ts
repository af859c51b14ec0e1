// Assignments written out in text: `NAME=value`, `name: value`, `"name": "value"`, `name := value`,
// `'name' => 'value'`, header lines. Detectors that key on the name (keyword = value secrets, vendor formats
// without a prefix) trigger on the separator ('=' or ':') and read the name backwards from it, so names cost
// nothing where no separator follows them. Every scan here is bounded by a small constant.
import { hasAtFold, isAlnum, isQuote, runStart } from './chars.ts';

/** The longest name read backwards from a separator. */
export const MAX_NAME = 48;
export const isNameChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45 || c === 46;

/** Where an assignment's name ends and its value starts (after spaces); constant work to compute. */
export interface Assignment {
  nameEnd: number;
  value: number;
  /** The name ends in key, token or secret (any case): what names of credentials end in. */
  keyish: boolean;
}

/** One result object, reused (scans are synchronous and never nested): no allocation per separator. */
const result: Assignment = { nameEnd: 0, value: 0, keyish: false };

/**
 * Where the assignment operator whose '=' is at t starts: before `?=` and `??=` (make, JavaScript), `.=` (PHP) and
 * `::=`, `:::=` (make, BNF); t itself otherwise (`:=` is found at its ':').
 */
export function operatorStart(text: string, t: number): number {
  if (text.charCodeAt(t) !== 61) return t;
  const p = text.charCodeAt(t - 1);
  if (p === 63) return text.charCodeAt(t - 2) === 63 ? t - 2 : t - 1;
  if (p === 46) return t - 1;
  if (p !== 58 || text.charCodeAt(t - 2) !== 58) return t;
  return text.charCodeAt(t - 3) === 58 ? t - 3 : t - 2;
}

/**
 * Where the name before the operator at `op` ends, after spaces, a closing quote and a subscript's bracket
 * (`"name": v`, `env["NAME"] = v`, `$config['name'] = v`); how far back it looked is bounded.
 */
export function nameEndBefore(text: string, op: number): number {
  let e = op;
  while (e > op - 3 && (text.charCodeAt(e - 1) === 32 || text.charCodeAt(e - 1) === 9)) e--;
  if (text.charCodeAt(e - 1) === 93 && isQuote(text.charCodeAt(e - 2))) e--;
  if (isQuote(text.charCodeAt(e - 1))) e--;
  return e;
}

/**
 * The assignment whose separator is at t ('=' or ':'), or undefined for `==`, `::` and separators without a
 * name. Constant work. The result is shared: read it before the next call.
 */
export function assignmentAt(text: string, t: number): Assignment | undefined {
  const c = text.charCodeAt(t);
  const d = text.charCodeAt(t + 1);
  if (d === c) return undefined;
  let v = t + 1;
  // `:=` and `=>` assign; `!=`, `<=`, `>=` compare.
  if ((c === 58 && d === 61) || (c === 61 && d === 62)) v++;
  const e = nameEndBefore(text, operatorStart(text, t));
  if (!isNameChar(text.charCodeAt(e - 1))) return undefined;
  while (v < text.length && v < t + 6 && (text.charCodeAt(v) === 32 || text.charCodeAt(v) === 9)) v++;
  result.nameEnd = e;
  result.value = v;
  result.keyish = hasAtFold(text, e - 3, 'key') || hasAtFold(text, e - 5, 'token') || hasAtFold(text, e - 6, 'secret');
  return result;
}

/** Where the name ending at `nameEnd` starts (at most MAX_NAME characters back). */
export function nameStart(text: string, nameEnd: number): number {
  return runStart(text, nameEnd, isNameChar, MAX_NAME);
}

/** Whether one of `words` (lowercase) occurs in text[s, e), case-insensitively. */
export function nameHas(text: string, s: number, e: number, words: readonly string[]): boolean {
  for (let k = s; k < e; k++) {
    for (const w of words) if (k + w.length <= e && hasAtFold(text, k, w)) return true;
  }
  return false;
}

/** Past an opening quote at v, if any. */
export function skipQuote(text: string, v: number): number {
  const q = text.charCodeAt(v);
  return q === 34 || q === 39 || q === 96 ? v + 1 : v;
}


// Helpers for detectors that work on the scanner's number tokens (digit groups with single separators).
import type { NumberToken } from './detector.ts';

/** The separator character between group g and g + 1. */
export function sepAfter(tok: NumberToken, g: number): number {
  return tok.text.charCodeAt(tok.ends[g] ?? 0);
}

export function groupLength(tok: NumberToken, g: number): number {
  return (tok.ends[g] ?? 0) - (tok.starts[g] ?? 0);
}

/**
 * True when groups [g, g + n) exist and are joined by one separator kind from `seps`; with `isolated`, no
 * neighbouring group may join with that same separator either (so 3-2-4 inside 3-2-4-2 is not an SSN).
 */
export function isolatedRun(tok: NumberToken, g: number, n: number, seps: string, isolated = true): boolean {
  if (g + n > tok.count) return false;
  if (n === 1) {
    return true;
  }
  const sep = sepAfter(tok, g);
  if (!seps.includes(String.fromCharCode(sep))) return false;
  for (let k = g + 1; k < g + n - 1; k++) if (sepAfter(tok, k) !== sep) return false;
  if (!isolated) return true;
  if (g > 0 && sepAfter(tok, g - 1) === sep) return false;
  if (g + n < tok.count && sepAfter(tok, g + n - 1) === sep) return false;
  return true;
}

/** Digits of groups [g, g + n) concatenated. */
export function digitsOf(tok: NumberToken, g: number, n: number): string {
  let s = '';
  for (let k = g; k < g + n; k++) s += tok.text.slice(tok.starts[k], tok.ends[k]);
  return s;
}

export function groupLengths(tok: NumberToken, g: number, n: number): number[] {
  const out: number[] = [];
  for (let k = g; k < g + n; k++) out.push(groupLength(tok, k));
  return out;
}

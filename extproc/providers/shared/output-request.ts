// How much output a request asks for at most: its output cap (any of the spellings a format accepts) and
// how many outputs it asks for (OpenAI `n`, Gemini `candidateCount`, ...). The budget reservation's bound.
import type { Json } from './json-walk.ts';

export interface OutputRequest {
  /** The largest output cap the request sets, in tokens per output; undefined when it sets none. */
  readonly maxTokens: number | undefined;
  /** How many outputs the provider generates (and bills) for it; at least 1. */
  readonly choices: number;
}

/** Operations that generate no output tokens (embeddings, token counts, listings). */
export const NO_OUTPUT: OutputRequest = Object.freeze({ maxTokens: 0, choices: 1 });

/**
 * The largest cap among `values` (a body may set several spellings at once; the provider honours one of
 * them, so the largest is the bound). Only positive safe integers count: anything else (absent, 0, a
 * string, a fraction, a number past 2^53) is no cap, which the reservation then bounds by the model's
 * catalogued maximum or refuses.
 */
export function largestCap(...values: Json[]): number | undefined {
  let cap: number | undefined;
  for (const v of values) if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && (cap === undefined || v > cap)) cap = v;
  return cap;
}

/**
 * The number of outputs: the largest count among `values`, at least 1. A fraction counts rounded up and a
 * count past 2^53 as 2^53 (the reservation then refuses rather than under-counts); anything that is not a
 * number above 1 counts as 1, the provider's default.
 */
export function choiceCount(...values: Json[]): number {
  let n = 1;
  for (const v of values) {
    if (typeof v !== 'number' || !(v > 1)) continue;
    n = Math.max(n, Math.min(Math.ceil(v), Number.MAX_SAFE_INTEGER));
  }
  return n;
}

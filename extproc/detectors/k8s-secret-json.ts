// Kubernetes Secret manifests written as JSON (`kubectl get secret -o json`, API responses, a List's items): at
// `"kind": "Secret"`, the reader finds the object holding that member (backwards to its `{`, at most WINDOW
// characters) and reads the object's members forwards (at most 2 × WINDOW): the string values of its `data`
// map are reported when they decode to text that looks like a secret, those of `stringData` when they look like
// one themselves (the gates of the YAML reader). A `"kind"` member met earlier in the same object owns it (its
// own trigger reads it), and every read in one text draws on one budget of about the text's length, so nested
// or repeated manifests cannot make the scan quadratic.
import { decodedText, secretLooking } from './k8s-secret-values.ts';

const WINDOW = 16384;
const MAX_VALUE = 8192;
/** The memo entry holding the characters read so far in this text. */
const BUDGET = 'k8s_secret.json';

const isWs = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

function skipWs(text: string, k: number, hi: number): number {
  let j = k;
  while (j < hi && isWs(text.charCodeAt(j))) j++;
  return j;
}

/** Whether the quote at k is escaped (an odd run of backslashes before it). */
function escaped(text: string, k: number): boolean {
  let n = 0;
  while (k - n - 1 >= 0 && text.charCodeAt(k - n - 1) === 92) n++;
  return n % 2 === 1;
}

/** After the string starting at the quote at k: the index past its closing quote, or -1 (unterminated, raw newline). */
function stringEnd(text: string, k: number, hi: number): number {
  for (let j = k + 1; j < hi; j++) {
    const c = text.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34) return j + 1;
    else if (c === 10) return -1;
  }
  return -1;
}

/** Whether the closing quote at k ends a `"kind"` key (a colon follows). */
function endsKindKey(text: string, k: number, hi: number): boolean {
  return k >= 5 && text.startsWith('"kind"', k - 5) && text.charCodeAt(skipWs(text, k + 1, hi)) === 58;
}

/** The `{` of the object whose member starts at `from`, or -1 (an array, too far, or an earlier `"kind"` owns it). */
function objectStart(text: string, from: number, lowest: number): number {
  let depth = 0;
  let inString = false;
  for (let k = from - 1; k >= lowest; k--) {
    const c = text.charCodeAt(k);
    if (c === 34 && !escaped(text, k)) {
      if (!inString && depth === 0 && endsKindKey(text, k, from)) return -1;
      inString = !inString;
    } else if (!inString) {
      if (c === 125 || c === 93) depth++;
      else if (c === 123 || c === 91) {
        if (depth === 0) return c === 123 ? k : -1;
        depth--;
      }
    }
  }
  return -1;
}

/** Reports the values of the flat string map whose `{` is at j; returns where reading stops. */
function readMap(text: string, j: number, hi: number, base64: boolean, report: (s: number, e: number) => void): number {
  let k = j + 1;
  for (;;) {
    k = skipWs(text, k, hi);
    if (text.charCodeAt(k) === 125) return k + 1;
    if (text.charCodeAt(k) !== 34) return k;
    const keyEnd = stringEnd(text, k, hi);
    if (keyEnd < 0) return k;
    k = skipWs(text, keyEnd, hi);
    if (text.charCodeAt(k) !== 58) return k;
    k = skipWs(text, k + 1, hi);
    if (text.charCodeAt(k) !== 34) return k;
    const end = stringEnd(text, k, hi);
    if (end < 0) return k;
    const vs = k + 1;
    const ve = end - 1;
    if (ve - vs <= MAX_VALUE) {
      if (base64) {
        const plain = decodedText(text, vs, ve);
        if (plain !== undefined && secretLooking(plain, 0, plain.length)) report(vs, ve);
      } else if (secretLooking(text, vs, ve)) report(vs, ve);
    }
    k = skipWs(text, end, hi);
    if (text.charCodeAt(k) === 125) return k + 1;
    if (text.charCodeAt(k) !== 44) return k;
    k++;
  }
}

/**
 * Reads the members of the object at `start` (up to hi); returns how many characters were read (all of them up
 * to hi when a string does not close: the search for its quote may have read that far).
 */
function readObject(text: string, start: number, hi: number, report: (s: number, e: number) => void): number {
  let depth = 1;
  let k = start + 1;
  while (k < hi && depth > 0) {
    const c = text.charCodeAt(k);
    if (c === 34) {
      const e = stringEnd(text, k, hi);
      if (e < 0) return hi - start;
      const colon = depth === 1 ? skipWs(text, e, hi) : -1;
      if (colon >= 0 && text.charCodeAt(colon) === 58) {
        const isData = e - k === 6 && text.startsWith('"data"', k);
        if (isData || (e - k === 12 && text.startsWith('"stringData"', k))) {
          const v = skipWs(text, colon + 1, hi);
          if (text.charCodeAt(v) === 123) {
            k = readMap(text, v, hi, isData, report);
            continue;
          }
        }
        k = colon + 1;
        continue;
      }
      k = e;
      continue;
    }
    if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
    k++;
  }
  return k - start;
}

/** At `Secret` (index i): reports the secrets of the JSON object whose member is `"kind": "Secret"`. */
export function jsonSecretAt(text: string, i: number, report: (s: number, e: number) => void, memo: Map<string, number> | undefined): void {
  if (text.charCodeAt(i - 1) !== 34 || text.charCodeAt(i + 6) !== 34) return;
  let k = i - 2;
  while (k >= 0 && isWs(text.charCodeAt(k))) k--;
  if (text.charCodeAt(k) !== 58) return;
  k--;
  while (k >= 0 && isWs(text.charCodeAt(k))) k--;
  if (k < 5 || !text.startsWith('"kind"', k - 5)) return;
  const kindAt = k - 5;
  const used = memo?.get(BUDGET) ?? 0;
  if (used > text.length + 4 * WINDOW) return;
  const lowest = Math.max(0, kindAt - WINDOW);
  const start = objectStart(text, kindAt, lowest);
  let read = kindAt - (start < 0 ? lowest : start);
  if (start >= 0) read += readObject(text, start, Math.min(text.length, start + 2 * WINDOW), report);
  memo?.set(BUDGET, used + read);
}

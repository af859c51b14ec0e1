// Kubernetes Secret manifests (YAML here; JSON in k8s-secret-json.ts): the values under `data:` (base64) and `stringData:` (plain) of a
// document whose `kind:` is `Secret`. The scanner calls at the keyword `secret` (shared with the AWS secret key
// detector, so no extra stop of the hot loop); the detector checks that it is the value of a `kind:` key, then
// reads the document's lines backwards and forwards, each way up to the nearest `---` or `kind:` line (so a run
// of manifests is read about twice in all: linear) and at most WINDOW characters.
//
// A `data:` value is reported (its encoded span) when it decodes to printable text that looks like a secret;
// a `stringData:` value when it passes the same gate. Placeholders (`changeme`, `${PASS}`, `<password>`,
// `xxxx`) and plain words (`admin`, `db.example.com`) are not reported. Binary values are left to other detectors.
import { isAlnum } from './chars.ts';
import type { KeywordDetector } from './detector.ts';
import { jsonSecretAt } from './k8s-secret-json.ts';
import { decodedText, secretLooking } from './k8s-secret-values.ts';

const WINDOW = 16384;
const MAX_VALUE = 8192;

const isSpace = (c: number): boolean => c === 32 || c === 9;
const isKeyChar = (c: number): boolean => isAlnum(c) || c === 46 || c === 95 || c === 45;

/** Start of the line holding i, or `lowest` when the line starts before it. */
function lineStart(text: string, i: number, lowest: number): number {
  let k = i;
  while (k > lowest && text.charCodeAt(k - 1) !== 10) k--;
  return k;
}

/** End of the line holding i (the index of its '\n', or `highest`; '\r' excluded). */
function lineEnd(text: string, i: number, highest: number): number {
  let k = i;
  while (k < highest && text.charCodeAt(k) !== 10) k++;
  return k > i && text.charCodeAt(k - 1) === 13 ? k - 1 : k;
}

/** Indentation of the line starting at s ('- ' of a list item counts as indentation). */
function indentOf(text: string, s: number, e: number): number {
  let k = s;
  while (k < e && (isSpace(text.charCodeAt(k)) || (text.charCodeAt(k) === 45 && isSpace(text.charCodeAt(k + 1))))) k++;
  return k - s;
}

/** Whether the line [s, e) at indent `ind` is `word:` (nothing but spaces or a comment after). */
function isKeyLine(text: string, s: number, e: number, ind: number, word: string): boolean {
  const k = s + ind;
  if (!text.startsWith(word, k) || text.charCodeAt(k + word.length) !== 58) return false;
  let j = k + word.length + 1;
  while (j < e && isSpace(text.charCodeAt(j))) j++;
  return j === e || text.charCodeAt(j) === 35;
}

/** Whether the line is a document separator or another `kind:` line at any indent (where reading stops). */
function isBoundary(text: string, s: number, e: number): boolean {
  return text.startsWith('---', s) || text.startsWith('kind:', s + indentOf(text, s, e));
}

/** The value of the `key: value` line [s, e) at indent > ind, unquoted: [start, end), or undefined. */
function entryValue(text: string, s: number, e: number, ind: number): [number, number] | undefined {
  if (indentOf(text, s, e) <= ind) return undefined;
  let k = s + indentOf(text, s, e);
  const keyStart = k;
  if (text.charCodeAt(k) === 34 || text.charCodeAt(k) === 39) k++;
  while (k < e && isKeyChar(text.charCodeAt(k))) k++;
  if (k === keyStart) return undefined;
  if (text.charCodeAt(k) === 34 || text.charCodeAt(k) === 39) k++;
  if (text.charCodeAt(k) !== 58 || !isSpace(text.charCodeAt(k + 1))) return undefined;
  k += 2;
  while (k < e && isSpace(text.charCodeAt(k))) k++;
  let end = e;
  while (end > k && isSpace(text.charCodeAt(end - 1))) end--;
  const q = text.charCodeAt(k);
  if ((q === 34 || q === 39) && end - k >= 2 && text.charCodeAt(end - 1) === q) { k++; end--; }
  if (end <= k || end - k > MAX_VALUE) return undefined;
  return [k, end];
}

/** Reports the entries of the `data:` or `stringData:` block whose key line ends at `from`. */
function reportBlock(text: string, from: number, stop: number, ind: number, base64: boolean, report: (s: number, e: number) => void): number {
  let s = from + 1;
  while (s < stop) {
    const e = lineEnd(text, s, stop);
    if (e > s && indentOf(text, s, e) <= ind) return s;
    const v = e > s ? entryValue(text, s, e, ind) : undefined;
    if (v !== undefined) {
      const [vs, ve] = v;
      if (base64) {
        const plain = decodedText(text, vs, ve);
        if (plain !== undefined && secretLooking(plain, 0, plain.length)) report(vs, ve);
      } else if (secretLooking(text, vs, ve)) report(vs, ve);
    }
    s = e + 1;
  }
  return stop;
}

export const k8sSecret: KeywordDetector = {
  kind: 'keyword',
  id: 'secret.k8s_secret',
  type: 'K8S_SECRET',
  keywords: ['secret'],
  maxLength: MAX_VALUE,
  atKeyword(text, i, _keyword, report, memo) {
    if (!text.startsWith('Secret', i)) return;
    // JSON: `"kind": "Secret"` as a member of an object (k8s-secret-json.ts).
    jsonSecretAt(text, i, report, memo);
    // YAML: `kind: Secret` (optionally quoted), alone on its line; only the indentation before `kind:`.
    let after = i + 6;
    if (text.charCodeAt(after) === 34 || text.charCodeAt(after) === 39) after++;
    while (after < text.length && isSpace(text.charCodeAt(after))) after++;
    if (after < text.length && text.charCodeAt(after) !== 10 && text.charCodeAt(after) !== 13) return;
    let k = i;
    if (text.charCodeAt(k - 1) === 34 || text.charCodeAt(k - 1) === 39) k--;
    while (k > 0 && isSpace(text.charCodeAt(k - 1))) k--;
    if (k < 5 || !text.startsWith('kind:', k - 5)) return;
    const kindAt = k - 5;
    let ls = kindAt;
    while (ls > 0 && (isSpace(text.charCodeAt(ls - 1)) || text.charCodeAt(ls - 1) === 45)) ls--;
    if (ls > 0 && text.charCodeAt(ls - 1) !== 10) return;
    const ind = kindAt - ls;
    if (indentOf(text, ls, kindAt) !== ind) return;
    // The document's lines: back to the previous boundary, on to the next one, at most WINDOW each way.
    const lowest = Math.max(0, ls - WINDOW);
    let first = ls;
    while (first > lowest) {
      const ps = lineStart(text, first - 1, lowest);
      if (isBoundary(text, ps, first - 1)) break;
      first = ps;
    }
    const highest = Math.min(text.length, after + WINDOW);
    let last = Math.min(after, highest);
    while (last + 1 < highest) {
      const ne = lineEnd(text, last + 1, highest);
      if (isBoundary(text, last + 1, ne)) break;
      last = ne;
    }
    let s = first;
    while (s < last) {
      const e = lineEnd(text, s, last);
      if (indentOf(text, s, e) === ind) {
        const isData = isKeyLine(text, s, e, ind, 'data');
        if (isData || isKeyLine(text, s, e, ind, 'stringData')) {
          s = reportBlock(text, e, last, ind, isData, report);
          continue;
        }
      }
      s = e + 1;
    }
  },
};

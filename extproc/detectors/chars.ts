// Character classes and bounded local scans shared by the detectors. All loops here are bounded by an
// explicit limit, which is what keeps every detector's work per trigger constant.

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isUpper = (c: number): boolean => c >= 65 && c <= 90;
export const isLower = (c: number): boolean => c >= 97 && c <= 122;
export const isAlpha = (c: number): boolean => isUpper(c) || isLower(c);
export const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c);

/** A-Z a-z 0-9 _ - : the body alphabet of most API tokens. */
export const isTokenChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;
/** A double or single quote. */
export const isQuote = (c: number): boolean => c === 34 || c === 39;
/** Standard and URL-safe base64 alphabets. */
export const isBase64Char = (c: number): boolean => isAlnum(c) || c === 43 || c === 47;
export const isBase64UrlChar = (c: number): boolean => isAlnum(c) || c === 45 || c === 95;

/** The ASCII lower case of code c (other codes as they are). */
export const lowerAscii = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);
/** A lower-case ASCII letter's code and its upper case; any other code alone. */
export const letterCases = (c: number): number[] => (isLower(c) ? [c, c - 32] : [c]);

/**
 * Character classes as one table: bit k of entry c is set when `classes[k]` admits the ASCII code c, so a walk
 * tests a class with one load (inClass) instead of a chain of compares.
 */
export function classTable(classes: readonly ((c: number) => boolean)[]): Uint8Array {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) classes.forEach((admits, k) => { if (admits(c)) table[c] = (table[c] as number) | (1 << k); });
  return table;
}

/** Whether code c is in one of the classes `bits` of `table` (a code above 127, or NaN past a text's end: none). */
export const inClass = (table: Uint8Array, c: number, bits: number): boolean => c < 128 && ((table[c] as number) & bits) !== 0;

/** True when text[i] does not continue a word made of `word` characters (or i is out of range). */
export function boundaryAt(text: string, i: number, word: (c: number) => boolean = isAlnum): boolean {
  if (i < 0 || i >= text.length) return true;
  return !word(text.charCodeAt(i));
}

/** Index just past the run of `pred` characters starting at i, scanning at most `max` characters. */
export function runEnd(text: string, i: number, pred: (c: number) => boolean, max: number): number {
  const limit = Math.min(text.length, i + max);
  let j = i;
  while (j < limit && pred(text.charCodeAt(j))) j++;
  return j;
}

/** True when every character of [s, e) is a `pred` character. */
export function allChars(text: string, s: number, e: number, pred: (c: number) => boolean): boolean {
  return runEnd(text, s, pred, e - s) >= e;
}

/** Index of the first character of the run of `pred` characters ending just before i, at most `max` back. */
export function runStart(text: string, i: number, pred: (c: number) => boolean, max: number): number {
  const limit = Math.max(0, i - max);
  let j = i;
  while (j > limit && pred(text.charCodeAt(j - 1))) j--;
  return j;
}

/** text.startsWith(lit, i) for an ASCII literal. */
export function hasAt(text: string, i: number, lit: string): boolean {
  return text.startsWith(lit, i);
}

/** Case-insensitive (ASCII) startsWith; `lowerLit` must be lowercase. */
export function hasAtFold(text: string, i: number, lowerLit: string): boolean {
  if (i < 0 || i + lowerLit.length > text.length) return false;
  for (let k = 0; k < lowerLit.length; k++) {
    let c = text.charCodeAt(i + k);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerLit.charCodeAt(k)) return false;
  }
  return true;
}

/** Lower-case ASCII words grouped by length, for `isWordFold`. */
export type WordsByLength = readonly (readonly string[] | undefined)[];

export function wordsByLength(words: readonly string[]): WordsByLength {
  const by: string[][] = [];
  for (const w of words) (by[w.length] ??= []).push(w);
  return by;
}

/**
 * Whether text[s, e) is one of the words in any ASCII letter case, read in place. For a range known to be
 * ASCII it answers as `set.has(text.slice(s, e).toLowerCase())` would, without the slice, the lower-case copy
 * and the hashing: on a detector's rare path inside a scan those cost more than the walk that led there.
 */
export function isWordFold(words: WordsByLength, text: string, s: number, e: number): boolean {
  const same = words[e - s];
  if (same !== undefined) for (const w of same) if (hasAtFold(text, s, w)) return true;
  return false;
}

/** Context words compiled once: the words grouped by their first letter, for one pass over a window. */
export interface ContextWords {
  readonly words: readonly string[];
  /** Per lowercase ASCII code: the words that start with it (undefined for none). */
  readonly byFirst: readonly (readonly string[] | undefined)[];
  /** Some word is empty or not ASCII: every window takes the lower-cased copy path. */
  readonly copyOnly: boolean;
  /** Per ASCII code: ALPHA for a letter, WORD_START when some word starts with it (in either letter case). */
  readonly flags: Uint8Array;
  /**
   * Per pair of ASCII codes (first * 128 + second, one bit each): some word starts with the two (in either
   * letter case); all pairs when a word is one character long.
   */
  readonly starts: Uint32Array;
}

const ALPHA = 1;
const WORD_START = 2;

/** Compiles context words (lower-cased here; operator words may be any text). */
export function contextWords(list: readonly string[]): ContextWords {
  const words = list.map((w) => w.toLowerCase());
  const byFirst: (string[] | undefined)[] = new Array<string[] | undefined>(128).fill(undefined);
  const flags = new Uint8Array(128);
  for (let c = 0; c < 128; c++) if (isAlpha(c)) flags[c] = ALPHA;
  const starts = new Uint32Array((128 * 128) / 32);
  let copyOnly = false;
  for (const w of words) {
    if (w.length === 0) copyOnly = true;
    for (let k = 0; k < w.length; k++) if (w.charCodeAt(k) >= 128) copyOnly = true;
    const c = w.charCodeAt(0) & 127;
    (byFirst[c] ??= []).push(w);
    const seconds = w.length === 1 ? Array.from({ length: 128 }, (_, k) => k) : letterCases(w.charCodeAt(1) & 127);
    for (const a of letterCases(c)) {
      flags[a] = (flags[a] ?? 0) | WORD_START;
      for (const b of seconds) starts[(a * 128 + b) >> 5] = ((starts[(a * 128 + b) >> 5] ?? 0) | (1 << (b & 31))) >>> 0;
    }
  }
  return { words, byFirst, copyOnly, flags, starts };
}

/**
 * Whether any of the words occurs as a whole word (no letter on either side inside the window) in
 * text[from, to), case-insensitively. Windows are small constants (a few hundred characters at most), so this
 * stays bounded per call. One pass over the window without allocating; a window with non-ASCII text takes the
 * lower-cased copy path (whose index shifts the fast path would not reproduce).
 */
export function hasContextWord(text: string, from: number, to: number, cw: ContextWords): boolean {
  const a = Math.max(0, from);
  const b = Math.min(text.length, to);
  if (b <= a) return false;
  if (cw.copyOnly) return hasContextWordCopy(text, a, b, cw.words);
  const flags = cw.flags;
  const starts = cw.starts;
  // One table load per character: words are looked up only where one may start after a non-letter (the first
  // character of the window counts as such) and the next character may be its second (a character above 127
  // there is read in the next turn, which takes the copy path).
  let afterAlpha = false;
  for (let k = a; k < b; k++) {
    const c = text.charCodeAt(k);
    if (c >= 128) return hasContextWordCopy(text, a, b, cw.words);
    const f = flags[c] as number;
    if ((f & WORD_START) !== 0 && !afterAlpha) {
      const p = c * 128 + (text.charCodeAt(k + 1) & 127);
      if ((((starts[p >> 5] as number) >>> (p & 31)) & 1) !== 0) {
        const list = cw.byFirst[c <= 90 && c >= 65 ? c + 32 : c] as readonly string[];
        for (let q = 0; q < list.length; q++) {
          const w = list[q] as string;
          const e = k + w.length;
          if (e <= b && hasAtFold(text, k, w) && (e === b || !isAlpha(text.charCodeAt(e)))) return true;
        }
      }
    }
    afterAlpha = (f & ALPHA) !== 0;
  }
  return false;
}

function hasContextWordCopy(text: string, a: number, b: number, words: readonly string[]): boolean {
  const window = text.slice(a, b).toLowerCase();
  for (const w of words) {
    let k = window.indexOf(w);
    while (k !== -1) {
      if (!isAlpha(window.charCodeAt(k - 1)) && !isAlpha(window.charCodeAt(k + w.length))) return true;
      k = window.indexOf(w, k + 1);
    }
  }
  return false;
}

const counts = new Uint32Array(65536);

/** Shannon entropy in bits per character of text[start, end). A shared count table: no allocation per call. */
export function entropy(text: string, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  let h = 0;
  for (let i = start; i < end; i++) counts[text.charCodeAt(i)] = (counts[text.charCodeAt(i)] ?? 0) + 1;
  // Each distinct code unit adds its term once (its count is cleared when first seen), in first-seen order.
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const k = counts[c] ?? 0;
    if (k === 0) continue;
    counts[c] = 0;
    const p = k / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Counts of character classes in text[start, end): used to reject words, hex hashes and the like. */
export function classMix(text: string, start: number, end: number): { upper: number; lower: number; digit: number } {
  let upper = 0;
  let lower = 0;
  let digit = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isUpper(c)) upper++;
    else if (isLower(c)) lower++;
    else if (isDigit(c)) digit++;
  }
  return { upper, lower, digit };
}

/** Words that mark a documentation sample or a template, in the letter cases they are written in. */
const PLACEHOLDER_WORDS = ['example', 'EXAMPLE', 'Example', 'sample', 'SAMPLE', 'placeholder', 'PLACEHOLDER', 'dummy', 'DUMMY', 'xxxx', 'XXXX', 'your', 'YOUR', 'redacted', 'REDACTED'];
/** Per ASCII code: the marker words that start with it (undefined for none), so a character costs one load. */
const PLACEHOLDER_BY_FIRST: readonly (readonly string[] | undefined)[] = (() => {
  const t: (string[] | undefined)[] = new Array<string[] | undefined>(128).fill(undefined);
  for (const w of PLACEHOLDER_WORDS) (t[w.charCodeAt(0)] ??= []).push(w);
  return t;
})();

/**
 * Whether text[start, end) looks like a placeholder rather than random key material: a run of 6 equal
 * characters (`XXXXXX`, `000000`), an ascending run of 6 (`abcdef`, `123456`), fewer than 6 distinct
 * characters in 16 or more, or a marker word (`EXAMPLE`, `your`, `xxxx`...). Random tokens of the lengths
 * detectors accept trip none of these except with negligible probability. One pass, no allocation.
 */
export function looksLikePlaceholder(text: string, start: number, end: number): boolean {
  let run = 1;
  let asc = 1;
  let distinct = 0;
  let seen0 = 0;
  let seen1 = 0;
  let seen2 = 0;
  let seen3 = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (i > start) {
      const p = text.charCodeAt(i - 1);
      run = c === p ? run + 1 : 1;
      asc = c === p + 1 ? asc + 1 : 1;
      if (run >= 6 || asc >= 6) return true;
    }
    const bit = c & 31;
    const word = (c >> 5) & 3;
    const m = 1 << bit;
    if (word === 0 && (seen0 & m) === 0) { seen0 |= m; distinct++; }
    else if (word === 1 && (seen1 & m) === 0) { seen1 |= m; distinct++; }
    else if (word === 2 && (seen2 & m) === 0) { seen2 |= m; distinct++; }
    else if (word === 3 && (seen3 & m) === 0) { seen3 |= m; distinct++; }
    const words = c < 128 ? PLACEHOLDER_BY_FIRST[c] : undefined;
    if (words !== undefined) for (const w of words) if (i + w.length <= end && text.startsWith(w, i)) return true;
  }
  return end - start >= 16 && distinct < 6;
}

export const isHexLower = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);
export const isHex = (c: number): boolean => isHexLower(c) || (c >= 65 && c <= 70);

/** Random-looking: at least `classes` of upper/lower/digit present, entropy ≥ `bits`, no placeholder shape. */
export function randomLooking(text: string, start: number, end: number, classes: number, bits: number): boolean {
  const m = classMix(text, start, end);
  const k = (m.upper > 0 ? 1 : 0) + (m.lower > 0 ? 1 : 0) + (m.digit > 0 ? 1 : 0);
  return k >= classes && entropy(text, start, end) >= bits && !looksLikePlaceholder(text, start, end);
}

/**
 * A code reference rather than a value: a call (`name(`), or dotted names whose first part is a word
 * (`os.environ`, `settings.DB_PASSWORD`, `process.env.KEY`, `req.token?.value`; not `dt0c01.Zq8Lw…`, whose first
 * part has digits).
 */
export function isCodeReference(text: string, s: number, e: number): boolean {
  let dots = 0;
  let wordHead = true;
  let names = true;
  for (let k = s; k < e; k++) {
    const c = text.charCodeAt(k);
    if (c === 40 && k > s && (isAlnum(text.charCodeAt(k - 1)) || text.charCodeAt(k - 1) === 95)) return true;
    if (c === 46) dots++;
    else if (!(isAlnum(c) || c === 95 || c === 45 || c === 63 || c === 33 || c === 91 || c === 93 || c === 34 || c === 39)) names = false;
    else if (dots === 0 && !(isAlpha(c) || c === 95)) wordHead = false;
  }
  return names && dots > 0 && wordHead;
}

/**
 * Letters only and mixed case, yet random rather than a CamelCase name (`ServiceDefinition`,
 * `FlattenedJWSInput`): the letter case changes at a third of the positions or more.
 */
export function randomCase(text: string, s: number, e: number): boolean {
  let changes = 0;
  for (let k = s + 1; k < e; k++) if (isUpper(text.charCodeAt(k)) !== isUpper(text.charCodeAt(k - 1))) changes++;
  return changes * 3 >= e - s;
}

// The scanner: one pass over the text that dispatches trigger characters to detectors and digit runs to
// number detectors, then drops allow-listed values and merges overlapping hits. Each detector does bounded
// work per trigger, so a scan is linear in the text (test/unit/scanner-linearity.test.ts measures it).
import type { Finding, TextSegment } from '../core/content.ts';
import { hasAtFold, isHex, letterCases, lowerAscii } from './chars.ts';
import type { CharDetector, Detector, KeywordDetector, NumberDetector, NumberToken, TextDetector } from './detector.ts';
import { base64Run, decodeBase64, decodePercent, mayBeBase64Run, mayBeRunBytes, MIN_BASE64_RUN, percentRun } from './encoded-runs.ts';
import { normalView, originalIndex, type NormalView } from './normal-view.ts';
import { ScanBudget, ScanLimitError, type ScanLimits } from './scan-limits.ts';

const MAX_GROUPS = 24;
/** Digit counts from here on share one entry list (each entry still checks its own window). */
const DIGIT_CAP = 32;
const GROUP_OVERLAP = 6;
/** The hot loop reads the text in windows of this many code units (and checks the clock once per window). */
const WINDOW_CHARS = 1 << 16;
/**
 * Shared by every scanner: scans are synchronous and never nested. Byte 0 holds the code unit before the
 * window, so the hot loop reads every pair of neighbours from the buffer.
 */
const WINDOW = Buffer.allocUnsafeSlow(WINDOW_CHARS + 1);
const CHAR = 1;
const DIGIT = 2;
/** In the pair table: this character and the one before it may be the marked pair of a keyword. */
const KEYWORD = 4;
/** In the pair table: the character before this one is a trigger whose detectors admit this one after it. */
const LATE = 8;
/** In the pair table: a lower-case letter before an upper-case one (inside a base64 run) or `%` before a hex digit. */
const ENCODED = 16;
/** Letter frequencies of English text (per mille, a-z): a keyword is marked by its least likely pair. */
const LETTER_FREQ = [82, 15, 28, 43, 127, 22, 20, 61, 70, 2, 8, 40, 24, 67, 75, 19, 1, 60, 63, 91, 28, 10, 24, 2, 20, 1];

/**
 * Where a keyword's marked pair starts: the pair of neighbouring characters least likely in prose (by letter
 * frequency; other characters count as rare). A pair whose second character could sit inside a number token
 * (a digit after a digit, `-` or `.`) is never marked, since the hot loop skips number tokens.
 */
function markedPair(word: string): number {
  const freq = (c: number): number => (c >= 97 && c <= 122 ? (LETTER_FREQ[c - 97] ?? 1) : 5);
  let best = -1;
  let bestScore = Infinity;
  for (let k = 0; k + 1 < word.length; k++) {
    const a = word.charCodeAt(k);
    const b = word.charCodeAt(k + 1);
    if (isDigitCode(b) && (isDigitCode(a) || a === 45 || a === 46)) continue;
    const score = freq(a) * freq(b);
    if (score < bestScore) {
      best = k;
      bestScore = score;
    }
  }
  return best;
}

/** An encoded run found by the hot loop and its decoded text, scanned after the pass. */
interface DecodedRun {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * The normalising view of a text whose UTF-8 size is `bytes`, or undefined: an ASCII text (its size is its
 * length) never needs one, and a non-ASCII text only when it holds a character the view folds.
 */
const viewOf = (text: string, bytes: number): NormalView | undefined => (bytes === text.length ? undefined : normalView(text));

interface RawHit {
  d: number;
  start: number;
  end: number;
  /** 1 for a hit in a decoded text (reported as the encoded run): on the same span a direct hit names the finding. */
  decoded?: 1;
}

class MutableToken implements NumberToken {
  text = '';
  start = 0;
  end = 0;
  /** Fixed-size buffers reused for every token; only the first `count` entries are meaningful. */
  starts: number[] = new Array<number>(MAX_GROUPS).fill(0);
  ends: number[] = new Array<number>(MAX_GROUPS).fill(0);
  count = 0;
  digits = 0;
}

type Report = (start: number, end: number) => void;

interface Dispatch {
  readonly d: number;
  /** The detector's `at`, held directly so the hot loop does one monomorphic load instead of a megamorphic one. */
  readonly at: CharDetector['at'];
  /** 1 for each ASCII code allowed before / after the trigger (all 1 when the detector sets no constraint). */
  readonly prev: Uint8Array;
  readonly next: Uint8Array;
  /** The detector's `before` as a bit set over BEFORE_PAIRS; undefined when it sets none. */
  readonly before: Uint32Array | undefined;
  readonly before3: CharDetector['before3'];
  readonly gate: CharDetector['gate'];
}

/** The char dispatch tables below the (trigger, previous) slot: by the next code, by beforeIndex, by the code three before. */
type ByPrev3 = readonly (readonly Dispatch[] | undefined)[];
type ByBefore = readonly (ByPrev3 | undefined)[];
type ByNext = readonly (ByBefore | undefined)[];

function mask(chars: string | undefined): Uint8Array {
  const m = new Uint8Array(128);
  if (chars === undefined) m.fill(1);
  else for (const ch of chars) m[ch.charCodeAt(0) & 127] = 1;
  return m;
}

const isDigitCode = (c: number): boolean => c >= 48 && c <= 57;

/** A code as the number prefilters and `before` tabulate it: ASCII as is, every other code (and NaN: none) as 128. */
const code129 = (c: number): number => (c < 128 ? c : 128);

/** A CharDetector's `before` over every pair of codes (code129 each, at prev2 * 129 + prev), one bit per pair. */
function beforeSet(before: NonNullable<CharDetector['before']>): Uint32Array {
  const set = new Uint32Array(Math.ceil((129 * 129) / 32));
  for (let a = 0; a <= 128; a++) {
    for (let b = 0; b <= 128; b++) {
      const k = a * 129 + b;
      if (before(a, b)) set[k >> 5] = ((set[k >> 5] ?? 0) | (1 << (k & 31))) >>> 0;
    }
  }
  return set;
}

/** Whether the pair (prev2, prev), each code129, is in a `before` set. */
const inBefore = (set: Uint32Array, prev2: number, prev: number): boolean => {
  const k = prev2 * 129 + prev;
  return (((set[k >> 5] as number) >>> (k & 31)) & 1) !== 0;
};

/** Whether the two code units before the trigger at i are in a `before` set (NaN before the text: 128). */
const admitsBefore = (set: Uint32Array, text: string, i: number): boolean => inBefore(set, code129(text.charCodeAt(i - 2)), code129(text.charCodeAt(i - 1)));

/**
 * Where a dispatch table by the codes before the trigger at i holds its entries: the code two before (code129)
 * times two, plus one when the code just before is not ASCII or there is none (`before` then reads it as 128;
 * the tables above it are looked up by its low seven bits).
 */
const beforeIndex = (text: string, i: number): number => code129(text.charCodeAt(i - 2)) * 2 + (text.charCodeAt(i - 1) < 128 ? 0 : 1);

interface NumberEntry {
  readonly d: number;
  readonly minDigits: number;
  readonly maxDigits: number;
  /** Tokens with fewer digits than this are passed only when `short` admits the two codes after the token. */
  readonly shortBelow: number;
  readonly onNumber: NumberDetector['onNumber'];
  readonly det: NumberDetector;
}

/**
 * The number detectors' prefilters as bit masks over the entries (bit k: entry k), so a token finds the
 * detectors to call with a few loads and ANDs instead of four tests per detector.
 */
class NumberMasks {
  /**
   * Per token shape, at count * (DIGIT_CAP + 1) + digits (capped at DIGIT_CAP): entries whose digit window and
   * group counts admit it, and for one group its `lone.digits` too (one load for three prefilters). At the cap
   * the digit window holds every entry that takes some count from there on.
   */
  readonly byShape = new Uint32Array((MAX_GROUPS + 1) * (DIGIT_CAP + 1));
  /** Per code before the token (code129). */
  readonly byPrev = new Uint32Array(129);
  /** Per digit count: entries for which a token this short must pass the short-token test. */
  readonly shortByDigits = new Uint32Array(DIGIT_CAP + 1);
  /** Per pair of codes after the token (code129 each, at next * 129 + then): entries whose short-token test fails. */
  readonly shortFails = new Uint32Array(129 * 129);
  /** Per pair of codes around a single group (code129 each, at prev * 129 + next): entries whose `lone.around` fails. */
  readonly loneAroundFail = new Uint32Array(129 * 129);

  constructor(entries: readonly NumberEntry[]) {
    if (entries.length > 32) throw new Error('at most 32 number detectors');
    // shortByDigits is indexed by the capped digit count: a bound past the cap would be applied to longer tokens.
    for (const e of entries) if (e.shortBelow > DIGIT_CAP) throw new Error(`detector ${e.det.id}: shortTokens.below must be ${DIGIT_CAP} or less`);
    entries.forEach((e, k) => {
      const bit = (1 << k) >>> 0;
      const det = e.det;
      const lone = det.lone;
      if (lone?.digits?.some((n) => n >= DIGIT_CAP) === true) throw new Error(`detector ${det.id}: lone.digits must be below ${DIGIT_CAP}`);
      for (let n = 0; n <= DIGIT_CAP; n++) {
        if (n < e.shortBelow) this.shortByDigits[n] = ((this.shortByDigits[n] ?? 0) | bit) >>> 0;
        if (n < e.minDigits || n > e.maxDigits) continue;
        for (let count = 1; count <= MAX_GROUPS; count++) {
          if (det.groupCounts !== undefined && !det.groupCounts.includes(count)) continue;
          if (count === 1 && lone?.digits !== undefined && !lone.digits.includes(n)) continue;
          const at = count * (DIGIT_CAP + 1) + n;
          this.byShape[at] = ((this.byShape[at] ?? 0) | bit) >>> 0;
        }
      }
      for (let c = 0; c <= 128; c++) if (det.prev === undefined || det.prev(c)) this.byPrev[c] = ((this.byPrev[c] ?? 0) | bit) >>> 0;
      const around = lone?.around;
      if (around !== undefined) markFailingPairs(this.loneAroundFail, bit, (a, b) => !around(a, b));
      const short = det.shortTokens;
      if (short !== undefined) markFailingPairs(this.shortFails, bit, (a, b) => !short.next(a) || !short.then(b));
    });
  }
}

/** Sets `bit` at a * 129 + b in `table` for every pair of codes (code129 each) that `fails`. */
function markFailingPairs(table: Uint32Array, bit: number, fails: (a: number, b: number) => boolean): void {
  for (let a = 0; a <= 128; a++) {
    for (let b = 0; b <= 128; b++) if (fails(a, b)) table[a * 129 + b] = ((table[a * 129 + b] ?? 0) | bit) >>> 0;
  }
}

function numberEntry(d: number, det: NumberDetector): NumberEntry {
  return { d, minDigits: det.minDigits, maxDigits: det.maxDigits ?? Infinity, shortBelow: det.shortTokens?.below ?? 0, onNumber: det.onNumber.bind(det), det };
}

interface KeywordEntry {
  readonly d: number;
  readonly word: string;
  /** Where the marked pair starts in the word. */
  readonly offset: number;
  readonly atKeyword: KeywordDetector['atKeyword'];
}

export interface ScannerOptions {
  readonly limits: ScanLimits;
  /** Exact values that are never findings (documentation examples such as AKIAIOSFODNN7EXAMPLE). */
  readonly allowList?: readonly string[];
}

export class Scanner {
  readonly detectors: readonly Detector[];
  readonly limits: ScanLimits;
  /** The longest match any detector can report. */
  readonly maxMatchLength: number;
  /**
   * Per (trigger, character before it), at trigger * 128 + (previous & 127): per character after it (& 127),
   * per pair of codes before the trigger (beforeIndex), per code three before it (code129): the dispatch
   * entries whose `prev`, `next`, `before` and `before3` admit those; undefined when no entry admits the one
   * before. A trigger shared by many detectors (`_`, `-`,
   * `:`) then costs one lookup where no detector's prefix fits, and a stop calls its entries with no mask or
   * `before` test per entry (and a stop whose `before` sets refuse every entry has no list to run).
   */
  readonly #dispatch: readonly (ByNext | undefined)[];
  /** Per (trigger, character after it): the entries looked up by the next character, whose `next` admits it. */
  readonly #late: (readonly Dispatch[] | undefined)[];
  /**
   * Per UTF-16 code unit: 0 nothing, CHAR a trigger character looked up by the character before it, DIGIT a
   * digit (with number detectors).
   */
  readonly #cls = new Uint8Array(65536);
  /**
   * Per pair of Latin-1 window bytes (previous << 8 | current), what the hot loop stops for: DIGIT for a digit,
   * CHAR for a trigger that some detector admits after that previous character, KEYWORD when the two characters
   * start a keyword (any letter case). Every other pair, most of any text, is 0.
   */
  readonly #pairs = new Uint8Array(65536);
  readonly #numbers: readonly NumberEntry[];
  readonly #numberMasks: NumberMasks;
  readonly #texts: readonly { d: number; det: TextDetector }[];
  /** Per marked pair (lower-case first << 8 | lower-case second): the keyword entries it marks. */
  readonly #keywords: readonly (readonly KeywordEntry[] | undefined)[];
  /**
   * Per pair of window bytes that marks a keyword (as in the pair table): bit (code & 31) for each character
   * that follows the pair in one of its keywords, all bits when the pair ends a keyword. The hot loop looks
   * keywords up only where the byte after the pair has its bit (letters of either case share a bit), so common
   * pairs (`be` of bearer, `gi` of login) cost one load where the third character does not fit.
   */
  readonly #keywordNext = new Uint32Array(65536);
  readonly #allow: ReadonlySet<string>;
  readonly #token = new MutableToken();
  /** The smallest minDigits over the number detectors: shorter tokens skip them all. */
  readonly #minDigits: number;
  /**
   * Per pair of codes before and after a token (each ASCII, or 128 for any other; at before * 129 + after): the
   * fewest digits any number detector accepts there as a single group, by its `prev`, `groupCounts`, `lone` and
   * `shortTokens` prefilters. A lone group with fewer (`sha256`, `utf8`, `[0]`, `42,`, `:5432/`) reaches no
   * detector: the hot loop steps over it.
   */
  readonly #minDigitsAround = new Uint8Array(129 * 129);
  /** The encoded runs the current pass collects (undefined while a decoded text is scanned: one level only). */
  #runs: DecodedRun[] | undefined;
  /** Where the last encoded run the current pass looked at ends (a run is looked at once). */
  #runEnd = 0;
  /** The hits of the current pass: the reporters below push here. */
  #hits: RawHit[] = [];
  /**
   * One reporter per detector, made once: a pass only swaps `#hits`. (Made per pass, they were one closure per
   * detector per text segment, the largest allocation of a request.)
   */
  readonly #reporters: readonly Report[];

  constructor(detectors: readonly Detector[], options: ScannerOptions) {
    const ids = new Set<string>();
    for (const d of detectors) {
      if (ids.has(d.id)) throw new Error(`duplicate detector id ${d.id}`);
      ids.add(d.id);
    }
    this.detectors = detectors;
    this.limits = options.limits;
    this.#allow = new Set(options.allowList ?? []);
    this.maxMatchLength = detectors.reduce((m, d) => Math.max(m, d.maxLength), 0);
    const dispatch: Dispatch[][] = Array.from({ length: 128 }, () => []);
    const late: Dispatch[][] = Array.from({ length: 128 }, () => []);
    const numbers: NumberEntry[] = [];
    const texts: { d: number; det: TextDetector }[] = [];
    const keywords: (KeywordEntry[] | undefined)[] = new Array<KeywordEntry[] | undefined>(1 << 16).fill(undefined);
    const marked = new Set<number>();
    const beforeSets = new Map<NonNullable<CharDetector['before']>, Uint32Array>();
    detectors.forEach((det, d) => {
      if (det.kind === 'char') {
        // Detectors that share a `before` function share its set (built once per function).
        const before = det.before === undefined ? undefined : (beforeSets.get(det.before) ?? beforeSets.set(det.before, beforeSet(det.before)).get(det.before));
        for (const ch of det.triggers) {
          const c = ch.charCodeAt(0);
          if (c >= 128 || isDigitCode(c)) throw new Error(`detector ${det.id}: trigger must be ASCII and not a digit`);
          const entry = { d, at: det.at.bind(det), prev: mask(det.prev), next: mask(det.next), before, before3: det.before3, gate: det.gate };
          // Looked up by the more selective neighbour: the character after the trigger when it is the tighter
          // constraint, so the hot loop stops one character later and only where that character fits.
          const byNext = det.next !== undefined && (det.prev === undefined || det.next.length < det.prev.length);
          (byNext ? late : dispatch)[c]?.push(entry);
        }
      } else if (det.kind === 'number') numbers.push(numberEntry(d, det));
      else if (det.kind === 'keyword') {
        for (const written of det.keywords) {
          if (written.length < 3 || !/^[a-z0-9_.~-]+$/.test(written.toLowerCase())) throw new Error(`detector ${det.id}: keyword must be 3+ ASCII characters`);
          const word = written.toLowerCase();
          const offset = markedPair(word);
          if (offset < 0) throw new Error(`detector ${det.id}: keyword ${word} is all digits`);
          const key = (word.charCodeAt(offset) << 8) | word.charCodeAt(offset + 1);
          // A keyword written with an upper-case letter counts in that case only: its pair is marked as written
          // (the `KI` of `AKIA`; prose's `ki` does not stop the loop).
          const forms = word === written ? letterCases(key >> 8).flatMap((a) => letterCases(key & 255).map((b) => (a << 8) | b)) : [(written.charCodeAt(offset) << 8) | written.charCodeAt(offset + 1)];
          const third = offset + 2 < word.length ? 1 << (word.charCodeAt(offset + 2) & 31) : -1;
          for (const form of forms) {
            marked.add(form);
            this.#keywordNext[form] = ((this.#keywordNext[form] ?? 0) | third) >>> 0;
          }
          (keywords[key] ??= []).push({ d, word, offset, atKeyword: det.atKeyword.bind(det) });
        }
      } else texts.push({ d, det });
    });
    this.#keywords = keywords;
    // Equal lists (the same entries) are one array, and equal tables one table, so the tables stay small.
    const idsOf = (l: readonly Dispatch[]): string => l.map((e) => e.d).join(',');
    const lists = new Map<string, readonly Dispatch[] | undefined>();
    const list = (l: readonly Dispatch[]): readonly Dispatch[] | undefined => {
      const key = idsOf(l);
      return lists.get(key) ?? lists.set(key, l.length === 0 ? undefined : l).get(key);
    };
    // Without a `before` or `before3` among the entries, the code before the trigger changes nothing in the tables below.
    const tableKey = (l: readonly Dispatch[], pc: number): string => `${idsOf(l)}${l.some((e) => e.before !== undefined || e.before3 !== undefined) ? `@${pc}` : ''}`;
    // A `before3` at (prev2, prev) over every code three before ('1' where it admits), as the index of its distinct
    // row: rows are few, so equal tables are found by their rows' indices.
    const rows: string[] = [];
    const rowIndex = new Map<string, number>();
    const rowsOf = new Map<NonNullable<CharDetector['before3']>, Map<number, number>>();
    const rowOf = (f: NonNullable<CharDetector['before3']>, p2: number, p: number): number => {
      let byPair = rowsOf.get(f);
      if (byPair === undefined) rowsOf.set(f, (byPair = new Map<number, number>()));
      let r = byPair.get(p2 * 129 + p);
      if (r === undefined) {
        const row = Array.from({ length: 129 }, (_, p3) => (f(p3, p2, p) ? '1' : '0')).join('');
        r = rowIndex.get(row);
        if (r === undefined) rowIndex.set(row, (r = rows.push(row) - 1));
        byPair.set(p2 * 129 + p, r);
      }
      return r;
    };
    const byPrev3 = new Map<string, ByPrev3 | undefined>();
    /** The entries `l` (admitted at prev2, prev) by the code three before the trigger (code129), by their `before3`. */
    const prev3Table = (l: readonly Dispatch[], p2: number, p: number): ByPrev3 | undefined => {
      const gated = l.map((e) => (e.before3 === undefined ? -1 : rowOf(e.before3, p2, p)));
      const key = `${idsOf(l)}|${gated.join(',')}`;
      if (byPrev3.has(key)) return byPrev3.get(key);
      const cells = Array.from({ length: 129 }, (_, p3) => list(l.filter((_e, q) => (gated[q] ?? -1) < 0 || rows[gated[q] ?? 0]?.charAt(p3) === '1')));
      return byPrev3.set(key, cells.every((m) => m === undefined) ? undefined : cells).get(key);
    };
    const byBefore = new Map<string, ByBefore>();
    const beforeTable = (m: readonly Dispatch[], pc: number): ByBefore => {
      const key = tableKey(m, pc);
      let table = byBefore.get(key);
      if (table === undefined) {
        table = Array.from({ length: 129 * 2 }, (_, k) => {
          const p = (k & 1) === 0 ? pc : 128;
          const l = m.filter((e) => e.before === undefined || inBefore(e.before, k >> 1, p));
          return l.length === 0 ? undefined : prev3Table(l, k >> 1, p);
        });
        byBefore.set(key, table);
      }
      return table;
    };
    const byNext = new Map<string, ByNext>();
    this.#dispatch = Array.from({ length: 128 * 128 }, (_, k) => {
      const pc = k & 127;
      const l = (dispatch[k >> 7] ?? []).filter((e) => e.prev[pc] === 1);
      if (l.length === 0) return undefined;
      const key = tableKey(l, pc);
      let table = byNext.get(key);
      if (table === undefined) {
        table = Array.from({ length: 128 }, (_, nc) => {
          const m = l.filter((e) => e.next[nc] === 1);
          return m.length === 0 ? undefined : beforeTable(m, pc);
        });
        byNext.set(key, table);
      }
      return table;
    });
    this.#late = Array.from({ length: 128 * 128 }, (_, k) => {
      const l = (late[k >> 7] ?? []).filter((e) => e.next[k & 127] === 1);
      return l.length === 0 ? undefined : l;
    });
    dispatch.forEach((l, c) => {
      if (l.length > 0) this.#cls[c] = CHAR;
    });
    if (numbers.length > 0) for (let c = 48; c <= 57; c++) this.#cls[c] = DIGIT;
    const pairs = this.#pairs;
    for (let p = 0; p < 256; p++) {
      for (let c = 0; c < 256; c++) {
        const k = this.#cls[c] ?? 0;
        let f = k === DIGIT || (k === CHAR && c < 128 && this.#dispatch[(c << 7) | (p & 127)] !== undefined) ? k : 0;
        if (p < 128 && this.#late[(p << 7) | (c & 127)] !== undefined) f |= LATE;
        pairs[(p << 8) | c] = f;
      }
    }
    for (const form of marked) pairs[form] = (pairs[form] ?? 0) | KEYWORD;
    // Base64 runs of the decoding layer: random base64 of MIN_BASE64_RUN characters almost always has a
    // lower-case letter before an upper-case one, which prose rarely has; percent escapes start at `%` + hex.
    for (let a = 97; a <= 122; a++) for (let b = 65; b <= 90; b++) pairs[(a << 8) | b] = (pairs[(a << 8) | b] ?? 0) | ENCODED;
    for (let b = 0; b < 128; b++) if (isHex(b)) pairs[(37 << 8) | b] = (pairs[(37 << 8) | b] ?? 0) | ENCODED;
    this.#numbers = numbers;
    this.#numberMasks = new NumberMasks(numbers);
    this.#minDigits = numbers.reduce((m, e) => Math.min(m, e.minDigits), Infinity);
    for (let b = 0; b <= 128; b++) {
      for (let a = 0; a <= 128; a++) {
        // The fewest digits of a lone group with b before it and a after it that the entry's masks let through
        // (#numberToken): none where its `prev`, group counts or `lone.around` refuse a single group there.
        const need = (e: NumberEntry): number => {
          const det = e.det;
          if ((det.prev !== undefined && !det.prev(b)) || (det.groupCounts !== undefined && !det.groupCounts.includes(1)) || (det.lone?.around !== undefined && !det.lone.around(b, a))) return DIGIT_CAP + 1;
          const floor = det.shortTokens === undefined || det.shortTokens.next(a) ? e.minDigits : Math.max(e.minDigits, e.shortBelow);
          return det.lone?.digits === undefined ? floor : Math.max(floor, Math.min(DIGIT_CAP + 1, ...det.lone.digits));
        };
        this.#minDigitsAround[b * 129 + a] = Math.min(DIGIT_CAP + 1, ...numbers.map(need));
      }
    }
    this.#texts = texts;
    this.#reporters = detectors.map((_, d) => (start: number, end: number): void => {
      const hits = this.#hits;
      hits.push({ d, start, end });
      if (hits.length > this.limits.maxFindings * 4 + 16) throw new ScanLimitError('findings', `more than ${this.limits.maxFindings} findings`);
    });
  }

  /** Scans one text against a fresh budget. Throws ScanLimitError when a cap is exceeded. */
  scan(text: string, budget: ScanBudget = new ScanBudget(this.limits)): Finding[] {
    budget.precheck(text);
    const hits = this.#rawHits(text, budget);
    const findings = this.#resolve(text, hits, undefined);
    budget.addFindings(findings.length);
    budget.checkTime();
    return findings;
  }

  /** Scans each segment (one budget for all); findings carry the segment index. */
  scanSegments(segments: readonly TextSegment[], budget: ScanBudget = new ScanBudget(this.limits)): Finding[] {
    const out: Finding[] = [];
    segments.forEach((seg, k) => {
      budget.precheck(seg.text);
      const found = this.#resolve(seg.text, this.#rawHits(seg.text, budget), k);
      budget.addFindings(found.length);
      budget.checkTime();
      out.push(...found);
    });
    return out;
  }

  /**
   * The hits of one text, offsets into it. A non-ASCII text (its UTF-8 size differs from its length, counted
   * natively) that holds a character the normalising view folds is scanned as its view, and each hit is mapped
   * back to span every original character from its first to its last (hidden characters inside included).
   */
  #rawHits(text: string, budget: ScanBudget): RawHit[] {
    // UTF-8 size: native (SIMD) counting is far cheaper than counting in the hot loop.
    const bytes = Buffer.byteLength(text, 'utf8');
    const view = viewOf(text, bytes);
    if (view === undefined) return this.#textHits(text, bytes, budget);
    const hits = this.#textHits(view.text, bytes, budget);
    for (const h of hits) {
      h.start = originalIndex(view, h.start);
      h.end = originalIndex(view, h.end - 1) + 1;
    }
    return hits;
  }

  /**
   * One pass of every detector over the text, then the decoded text of each encoded run the pass found, whose
   * hits are reported as the whole run. Decoded texts are not decoded again (one level), and a decoded text
   * with characters the normalising view folds is scanned as its view, as a direct text is (`%EF%BC%A0` is a
   * fullwidth `@`).
   */
  #textHits(text: string, bytes: number, budget: ScanBudget): RawHit[] {
    const hits = this.#passHits(text, bytes, budget, []);
    const runs = this.#runs ?? [];
    this.#runs = undefined;
    const rawCap = this.limits.maxFindings * 4 + 16;
    for (const run of runs) {
      const view = viewOf(run.text, Buffer.byteLength(run.text, 'utf8'));
      for (const h of this.#passHits(view?.text ?? run.text, 0, budget, undefined)) {
        hits.push({ d: h.d, start: run.start, end: run.end, decoded: 1 });
        if (hits.length > rawCap) throw new ScanLimitError('findings', `more than ${this.limits.maxFindings} findings`);
      }
    }
    return hits;
  }

  /** The detectors' hits on one text; encoded runs go to `runs` when given. `bytes` is counted against the cap. */
  #passHits(text: string, bytes: number, budget: ScanBudget, runs: DecodedRun[] | undefined): RawHit[] {
    this.#runs = runs;
    this.#runEnd = 0;
    const hits: RawHit[] = [];
    this.#hits = hits;
    const reporters = this.#reporters;
    this.#charPass(text, reporters, budget, bytes === text.length);
    budget.addBytes(bytes);
    for (const { d, det } of this.#texts) {
      det.scanText(text, reporters[d] as Report);
      budget.checkTime();
    }
    return hits;
  }

  /**
   * The hot loop, in its own method: one table load per pair of neighbouring code units; plain prose (letters,
   * spaces, punctuation, non-ASCII) stops it only at the first two characters of a keyword. Kept apart from the
   * text passes so V8 optimises it on its own, with feedback for every path (code after an on-stack-replaced
   * loop otherwise deoptimises on every scan).
   */
  #charPass(text: string, reporters: readonly Report[], budget: ScanBudget, ascii: boolean): void {
    const memo = new Map<string, number>();
    const n = text.length;
    let i = 0;
    while (i < n) {
      const end = Math.min(n, i + WINDOW_CHARS);
      i = this.#window(text, i, end, reporters, memo, ascii);
      budget.checkTime();
    }
  }

  /**
   * One window: its code units as Latin-1 bytes after the one before it (one byte per code unit, so indices
   * match), since a typed-array read per character is cheaper than charCodeAt. A code unit above 255 keeps only
   * its low byte, so a byte hit is confirmed on the text itself; a real hit is always ASCII, so none is missed.
   * The pair table stops at a trigger only where a detector admits the character before it, and at the second
   * character of a keyword's first two, so keywords need no pass of their own. Called once per window (not
   * once per scan), so V8 optimises it as a whole function soon, not only by on-stack replacement. Returns
   * where the next window starts (a number token may run past `end`). In an ASCII text (`ascii`) no byte
   * aliases: a digit or trigger stop away from the window's edges reads its neighbours from the window.
   */
  #window(text: string, base: number, end: number, reporters: readonly Report[], memo: Map<string, number>, ascii: boolean): number {
    const cls = this.#cls;
    const pairs = this.#pairs;
    const dispatch = this.#dispatch;
    const keywordNext = this.#keywordNext;
    const minDigitsAround = this.#minDigitsAround;
    // The encoded runs of this pass (undefined in a decoded text: one level only).
    const runs = this.#runs;
    const win = WINDOW;
    const n = text.length;
    win[0] = base > 0 ? text.charCodeAt(base - 1) & 255 : 0;
    win.write(base === 0 && end === n ? text : text.substring(base, end), 1, 'latin1');
    const len = end - base;
    let j = 0;
    while (j < len) {
      // The tight skip: byte j + 1 is the code unit at base + j, byte j the one before it.
      let w = win[j] as number;
      let f = 0;
      // Four pairs per turn (a quarter of the loop tests), then the window's last pairs one at a time.
      while (j + 4 <= len) {
        const a = win[j + 1] as number;
        f = pairs[(w << 8) | a] as number;
        if (f !== 0) break;
        const b = win[j + 2] as number;
        f = pairs[(a << 8) | b] as number;
        if (f !== 0) {
          j += 1;
          break;
        }
        const c = win[j + 3] as number;
        f = pairs[(b << 8) | c] as number;
        if (f !== 0) {
          j += 2;
          break;
        }
        w = win[j + 4] as number;
        f = pairs[(c << 8) | w] as number;
        if (f !== 0) {
          j += 3;
          break;
        }
        j += 4;
      }
      if (f === 0) {
        while (j < len) {
          f = pairs[((win[j] as number) << 8) | (win[j + 1] as number)] as number;
          if (f !== 0) break;
          j++;
        }
      }
      if (j >= len) break;
      const i = base + j;
      if (f === ENCODED) {
        // Only an encoded-run stop (most are camel-case words): nothing else to look up at this pair. Inside the
        // window, mayBeBase64Run's reads are made on the bytes first (a byte that aliases a non-ASCII code unit
        // can only let a place through to the check on the text, never turn one away). The pair's first byte is
        // win[j].
        if (runs !== undefined && i >= this.#runEnd && (win[j] === 37 || j < 12 || j + 12 > len || mayBeRunBytes(win, j + 1))) this.#encodedAt(text, i, runs);
        j++;
        continue;
      }
      // The byte after the pair (confirmed on the text by #keywordAt); past the window, the code unit's low byte.
      // Most stops are a digit or a trigger alone: one test passes them on.
      if ((f & (KEYWORD | LATE | ENCODED)) !== 0) {
        if ((f & KEYWORD) !== 0 && i > 0 && (((keywordNext[((win[j] as number) << 8) | (win[j + 1] as number)] as number) >>> ((j + 1 < len ? (win[j + 2] as number) : text.charCodeAt(i + 1)) & 31)) & 1) !== 0) this.#keywordAt(text, i, reporters, memo);
        if ((f & LATE) !== 0 && i > 0) this.#lateAt(text, i - 1, reporters, memo);
        if ((f & ENCODED) !== 0 && runs !== undefined && i >= this.#runEnd) this.#encodedAt(text, i, runs);
        // Neither a digit nor a trigger by its byte: neither by its code unit (a byte is the code unit's low byte).
        if ((f & (DIGIT | CHAR)) === 0) {
          j++;
          continue;
        }
      }
      // Bytes j - 2 to j + 2 (the code units i - 3 to i + 1) are in the window and are the code units.
      const inner = ascii && j >= 3 && j + 2 <= len;
      const c = inner ? (win[j + 1] as number) : text.charCodeAt(i);
      const k = cls[c] ?? 0;
      if (k === DIGIT) {
        const pc = inner ? (win[j] as number) : i > 0 ? text.charCodeAt(i - 1) : 32;
        let e = i + 1;
        let after = -1;
        if (inner) {
          let b = j + 2;
          while (b <= len && isDigitCode(win[b] as number)) b++;
          e = base + b - 1;
          if (b <= len) after = win[b] as number;
        }
        // Past the window's end (or in a text that is not ASCII) the digits are read on the text.
        if (after < 0) {
          while (e < n && isDigitCode(text.charCodeAt(e))) e++;
          after = e < n ? text.charCodeAt(e) : 0;
        }
        // A lone group too short for every detector that admits the characters around it (a single separator
        // and a digit would continue the token): nothing to build.
        if (e - i < (minDigitsAround[(pc < 128 ? pc : 128) * 129 + (after < 128 ? after : 128)] as number) && !((after === 32 || after === 45 || after === 46) && isDigitCode(text.charCodeAt(e + 1)))) {
          j = e - base;
          continue;
        }
        j = this.#numberToken(text, i, e, pc, after, reporters) - base;
        continue;
      }
      if (k === CHAR) {
        const ds = inner
          ? dispatch[(c << 7) | (win[j] as number)]?.[win[j + 2] as number]?.[(win[j - 1] as number) * 2]?.[win[j - 2] as number]
          : dispatch[(c << 7) | (i > 0 ? text.charCodeAt(i - 1) & 127 : 0)]?.[i + 1 < n ? text.charCodeAt(i + 1) & 127 : 0]?.[beforeIndex(text, i)]?.[code129(text.charCodeAt(i - 3))];
        if (ds !== undefined) this.#run(ds, text, i, reporters, memo);
      }
      j++;
    }
    return base + j;
  }

  /**
   * An encoded run around the pair ending at i (confirmed on the text: bytes alias): a base64 run of at least
   * MIN_BASE64_RUN characters (with the lines it is wrapped over) or a percent-encoded token, kept with its
   * decoded text when that is printable.
   * Each run is looked at once (later pairs inside it are skipped), so the work stays linear.
   */
  #encodedAt(text: string, i: number, runs: DecodedRun[]): void {
    const p = text.charCodeAt(i - 1);
    const c = text.charCodeAt(i);
    let start: number;
    let end: number;
    let decoded: string | undefined;
    if (p === 37) {
      if (!isHex(c) || !isHex(text.charCodeAt(i + 1))) return;
      ({ start, end } = percentRun(text, i - 1, this.#runEnd));
      decoded = decodePercent(text.slice(start, end));
    } else {
      if (p < 97 || p > 122 || c < 65 || c > 90 || !mayBeBase64Run(text, i)) return;
      const run = base64Run(text, i, this.#runEnd);
      ({ start, end } = run);
      // A wrapped run is decoded without its line breaks and indentation.
      if (end - start >= MIN_BASE64_RUN) {
        const raw = text.slice(start, end);
        decoded = decodeBase64(run.lines > 1 ? raw.replace(/\s+/g, '') : raw);
      }
    }
    this.#runEnd = end;
    if (decoded !== undefined) runs.push({ start, end, text: decoded });
  }

  /** The entries looked up by the character after the trigger at i (confirmed on the text: bytes alias). */
  #lateAt(text: string, i: number, reporters: readonly Report[], memo: Map<string, number>): void {
    const c = text.charCodeAt(i);
    if (c >= 128) return;
    const ds = this.#late[(c << 7) | (text.charCodeAt(i + 1) & 127)];
    if (ds === undefined) return;
    // A trigger's previous-character mask is still checked (a mask of 128 entries, ASCII folded as above).
    const pc = i > 0 ? text.charCodeAt(i - 1) & 127 : 0;
    for (let q = 0; q < ds.length; q++) {
      const e = ds[q] as Dispatch;
      if (e.prev[pc] === 0 || (e.before !== undefined && !admitsBefore(e.before, text, i))) continue;
      if (e.before3 !== undefined && !e.before3(code129(text.charCodeAt(i - 3)), code129(text.charCodeAt(i - 2)), code129(text.charCodeAt(i - 1)))) continue;
      if (e.gate !== undefined && !e.gate(text, i)) continue;
      e.at(text, i, reporters[e.d] as Report, memo);
    }
  }

  /**
   * Runs the entries at trigger i (their masks, `before` and `before3` admit its neighbours), each shared gate
   * evaluated once for a run of entries that share it.
   */
  #run(ds: readonly Dispatch[], text: string, i: number, reporters: readonly Report[], memo: Map<string, number>): void {
    let gate: Dispatch['gate'];
    let open = true;
    for (let q = 0; q < ds.length; q++) {
      const e = ds[q] as Dispatch;
      if (e.gate !== undefined) {
        if (e.gate !== gate) {
          gate = e.gate;
          open = gate(text, i);
        }
        if (!open) continue;
      }
      e.at(text, i, reporters[e.d] as Report, memo);
    }
  }

  /** The keywords whose marked pair ends at i (in any letter case), each checked where it would start. */
  #keywordAt(text: string, i: number, reporters: readonly Report[], memo: Map<string, number>): void {
    const list = this.#keywords[(lowerAscii(text.charCodeAt(i - 1)) << 8) | lowerAscii(text.charCodeAt(i))];
    if (list === undefined) return;
    for (const e of list) {
      const at = i - 1 - e.offset;
      if (hasAtFold(text, at, e.word)) e.atKeyword(text, at, e.word, reporters[e.d] as Report, memo);
    }
  }

  /**
   * Builds the number token starting at i, runs the number detectors, returns where scanning resumes. The hot
   * loop passes what it read: the first group's end, the code unit before the token (32 at the text's start) and
   * the one after the first group (0 at the text's end).
   */
  #numberToken(text: string, i: number, firstEnd: number, before: number, afterFirst: number, reporters: readonly Report[]): number {
    const tok = this.#token;
    const starts = tok.starts;
    const ends = tok.ends;
    const n = text.length;
    let count = 0;
    let digits = 0;
    let j = firstEnd;
    let resume = -1;
    // c is the code unit after each group.
    let c = afterFirst;
    for (let gs = i; ; ) {
      starts[count] = gs;
      ends[count] = j;
      count++;
      digits += j - gs;
      // A single separator (' ', '-', '.') followed by a digit continues the token.
      if (j + 1 >= n || (c !== 32 && c !== 45 && c !== 46) || j === n) break;
      const d = text.charCodeAt(j + 1);
      if (d < 48 || d > 57) break;
      if (count === MAX_GROUPS) {
        // Long runs of groups: detectors see them in overlapping windows of MAX_GROUPS groups.
        resume = starts[MAX_GROUPS - GROUP_OVERLAP] ?? j;
        break;
      }
      gs = ++j;
      while (j < n && (c = text.charCodeAt(j)) >= 48 && c <= 57) j++;
    }
    const end = resume > i ? resume : j;
    if (digits < this.#minDigits) return end;
    const masks = this.#numberMasks;
    const dk = digits < DIGIT_CAP ? digits : DIGIT_CAP;
    const prev = code129(before);
    let m = (masks.byShape[count * (DIGIT_CAP + 1) + dk] as number) & (masks.byPrev[prev] as number);
    if (m === 0) return end;
    // The code unit after the token (0 past the end of the text), for the lone-group and short-token prefilters.
    const next = code129(j < n ? text.charCodeAt(j) : 0);
    if (count === 1) m &= ~(masks.loneAroundFail[prev * 129 + next] as number);
    const short = m & (masks.shortByDigits[dk] as number);
    if (short !== 0) m &= ~(short & (masks.shortFails[next * 129 + code129(j + 1 < n ? text.charCodeAt(j + 1) : 0)] as number));
    // The token is filled in only for a detector that will read it (most tokens reach none).
    if (m === 0) return end;
    tok.text = text;
    tok.start = i;
    tok.end = j;
    tok.count = count;
    tok.digits = digits;
    const nums = this.#numbers;
    while (m !== 0) {
      const low = m & -m;
      m ^= low;
      const e = nums[31 - Math.clz32(low)] as NumberEntry;
      // Past the cap the mask holds every entry that takes some count from there on.
      if (digits > e.maxDigits) continue;
      e.onNumber(tok, reporters[e.d] as Report);
    }
    return end;
  }

  /** Drops allow-listed values, merges overlapping hits (the longer hit names the merged finding). */
  #resolve(text: string, hits: RawHit[], segment: number | undefined): Finding[] {
    if (hits.length === 0) return [];
    let list = hits;
    if (this.#allow.size > 0) list = list.filter((h) => !this.#allow.has(text.slice(h.start, h.end)));
    list.sort((a, b) => a.start - b.start || b.end - a.end || (a.decoded ?? 0) - (b.decoded ?? 0) || a.d - b.d);
    const merged: RawHit[] = [];
    let longest = 0;
    for (const h of list) {
      const last = merged[merged.length - 1];
      if (last !== undefined && h.start < last.end) {
        if (h.end > last.end) {
          if (h.end - h.start > longest) {
            last.d = h.d;
            longest = h.end - h.start;
          }
          last.end = h.end;
        }
        continue;
      }
      merged.push({ ...h });
      longest = h.end - h.start;
    }
    return merged.map((h) => {
      const det = this.detectors[h.d] as Detector;
      return segment === undefined
        ? { detector: det.id, type: det.type, start: h.start, end: h.end }
        : { detector: det.id, type: det.type, start: h.start, end: h.end, segment };
    });
  }
}

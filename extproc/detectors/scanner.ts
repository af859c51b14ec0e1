// The scanner: one pass over the text that dispatches trigger characters to detectors and digit runs to
// number detectors, then drops allow-listed values and merges overlapping hits. Each detector does bounded
// work per trigger, so a scan is linear in the text (test/unit/scanner-linearity.test.ts measures it).
import type { Finding, TextSegment } from '../core/content.ts';
import { hasAtFold } from './chars.ts';
import type { CharDetector, Detector, KeywordDetector, NumberDetector, NumberToken, TextDetector } from './detector.ts';
import { ScanBudget, ScanLimitError, type ScanLimits } from './scan-limits.ts';

const MAX_GROUPS = 24;
/** Digit counts from here on share one entry list (each entry still checks its own window). */
const DIGIT_CAP = 32;
const GROUP_OVERLAP = 6;
/** The hot loop reads the text in windows of this many code units (and checks the clock once per window). */
const WINDOW_CHARS = 1 << 16;
/** Shared by every scanner: scans are synchronous and never nested. */
const WINDOW = Buffer.allocUnsafeSlow(WINDOW_CHARS);
const CHAR = 1;
const DIGIT = 2;

interface RawHit {
  d: number;
  start: number;
  end: number;
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
  readonly gate: CharDetector['gate'];
}

function mask(chars: string | undefined): Uint8Array {
  const m = new Uint8Array(128);
  if (chars === undefined) m.fill(1);
  else for (const ch of chars) m[ch.charCodeAt(0) & 127] = 1;
  return m;
}

const isDigitCode = (c: number): boolean => c >= 48 && c <= 57;

interface NumberEntry {
  readonly d: number;
  readonly minDigits: number;
  readonly maxDigits: number;
  /** Bit k set: tokens of k groups are passed. */
  readonly counts: number;
  /** Per code before the token (ASCII, or 128 for any other): 1 when the detector may accept. */
  readonly prev: Uint8Array;
  readonly onNumber: NumberDetector['onNumber'];
}

function numberEntry(d: number, det: NumberDetector): NumberEntry {
  const prev = new Uint8Array(129);
  for (let c = 0; c <= 128; c++) prev[c] = det.prev === undefined || det.prev(c) ? 1 : 0;
  let counts = 0;
  for (let k = 1; k <= MAX_GROUPS; k++) if (det.groupCounts === undefined || det.groupCounts.includes(k)) counts |= 1 << k;
  return { d, minDigits: det.minDigits, maxDigits: det.maxDigits ?? Infinity, counts, prev, onNumber: det.onNumber.bind(det) };
}

interface KeywordEntry {
  readonly d: number;
  readonly word: string;
  readonly atKeyword: KeywordDetector['atKeyword'];
}

const escapeRe = (w: string): string => w.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

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
   * Per (trigger, character before it): the dispatch entries whose `prev` admits that character, at
   * trigger * 128 + (previous & 127); undefined when none. A trigger shared by many detectors (`_`, `-`, `:`)
   * then costs one lookup where no detector's prefix fits, instead of one mask test per detector.
   */
  readonly #dispatch: (readonly Dispatch[] | undefined)[];
  /** Per UTF-16 code unit: 0 nothing, CHAR a trigger character, DIGIT a digit (with number detectors). */
  readonly #cls = new Uint8Array(65536);
  /** The first 256 entries of #cls: what the Latin-1 window bytes are looked up in. */
  readonly #cls8 = new Uint8Array(256);
  /** Per digit count (capped at DIGIT_CAP): the number entries whose digit window admits it. */
  readonly #numbersByDigits: readonly (readonly NumberEntry[])[];
  readonly #texts: readonly { d: number; det: TextDetector }[];
  /** One case-insensitive alternation of every keyword detector's words: a single native pass finds them all. */
  readonly #keywordRe: RegExp | undefined;
  /** Per lowercase first character: the keyword entries that start with it. */
  readonly #keywords: readonly (readonly KeywordEntry[] | undefined)[];
  readonly #allow: ReadonlySet<string>;
  readonly #token = new MutableToken();
  /** The smallest minDigits over the number detectors: shorter tokens skip them all. */
  readonly #minDigits: number;

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
    const numbers: NumberEntry[] = [];
    const texts: { d: number; det: TextDetector }[] = [];
    const keywords: (KeywordEntry[] | undefined)[] = new Array<KeywordEntry[] | undefined>(128).fill(undefined);
    const words = new Set<string>();
    detectors.forEach((det, d) => {
      if (det.kind === 'char') {
        for (const ch of det.triggers) {
          const c = ch.charCodeAt(0);
          if (c >= 128 || isDigitCode(c)) throw new Error(`detector ${det.id}: trigger must be ASCII and not a digit`);
          dispatch[c]?.push({ d, at: det.at.bind(det), prev: mask(det.prev), next: mask(det.next), gate: det.gate });
        }
      } else if (det.kind === 'number') numbers.push(numberEntry(d, det));
      else if (det.kind === 'keyword') {
        for (const word of det.keywords) {
          if (word.length < 3 || !/^[a-z0-9_.~-]+$/.test(word)) throw new Error(`detector ${det.id}: keyword must be 3+ lowercase ASCII characters`);
          words.add(word);
          (keywords[word.charCodeAt(0)] ??= []).push({ d, word, atKeyword: det.atKeyword.bind(det) });
        }
      } else texts.push({ d, det });
    });
    // Longer words first, so that of two words at one position the regexp reports the longer (both are run).
    const alternation = [...words].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).map(escapeRe).join('|');
    this.#keywordRe = words.size === 0 ? undefined : new RegExp(alternation, 'gi');
    this.#keywords = keywords;
    this.#dispatch = Array.from({ length: 128 * 128 }, (_, k) => {
      const l = (dispatch[k >> 7] ?? []).filter((e) => e.prev[k & 127] === 1);
      return l.length === 0 ? undefined : l;
    });
    dispatch.forEach((l, c) => {
      if (l.length > 0) this.#cls[c] = CHAR;
    });
    if (numbers.length > 0) for (let c = 48; c <= 57; c++) this.#cls[c] = DIGIT;
    this.#cls8.set(this.#cls.subarray(0, 256));
    this.#numbersByDigits = Array.from({ length: DIGIT_CAP + 1 }, (_, k) =>
      numbers.filter((e) => k >= e.minDigits && (k === DIGIT_CAP || k <= e.maxDigits)),
    );
    this.#minDigits = numbers.reduce((m, e) => Math.min(m, e.minDigits), Infinity);
    this.#texts = texts;
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

  #rawHits(text: string, budget: ScanBudget): RawHit[] {
    const hits: RawHit[] = [];
    const rawCap = this.limits.maxFindings * 4 + 16;
    const reporters: Report[] = this.detectors.map((_, d) => (start: number, end: number): void => {
      hits.push({ d, start, end });
      if (hits.length > rawCap) throw new ScanLimitError('findings', `more than ${this.limits.maxFindings} findings`);
    });
    this.#charPass(text, reporters, budget);
    // UTF-8 size: native (SIMD) counting is far cheaper than counting in the loop above.
    budget.addBytes(Buffer.byteLength(text, 'utf8'));
    if (this.#keywordRe !== undefined) {
      this.#keywordPass(text, this.#keywordRe, reporters);
      budget.checkTime();
    }
    for (const { d, det } of this.#texts) {
      det.scanText(text, reporters[d] as Report);
      budget.checkTime();
    }
    return hits;
  }

  /** Every position where a keyword starts, found by one native regexp pass (its own method, like #charPass). */
  #keywordPass(text: string, re: RegExp, reporters: readonly Report[]): void {
    const table = this.#keywords;
    re.lastIndex = 0;
    // After a match, resume one past its start: keywords may overlap.
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const at = m.index;
      re.lastIndex = at + 1;
      const list = table[text.charCodeAt(at) | 32];
      if (list !== undefined) {
        for (const e of list) if (hasAtFold(text, at, e.word)) e.atKeyword(text, at, e.word, reporters[e.d] as Report);
      }
    }
  }

  /**
   * The hot loop, in its own method: one table load per code unit; plain prose (letters, spaces, punctuation,
   * non-ASCII) is class 0. Kept apart from the keyword and text passes so V8 optimises it on its own, with
   * feedback for every path (code after an on-stack-replaced loop otherwise deoptimises on every scan).
   */
  #charPass(text: string, reporters: readonly Report[], budget: ScanBudget): void {
    const memo = new Map<string, number>();
    const n = text.length;
    let i = 0;
    while (i < n) {
      const end = Math.min(n, i + WINDOW_CHARS);
      i = this.#window(text, i, end, reporters, memo);
      budget.checkTime();
    }
  }

  /**
   * One window: its code units as Latin-1 bytes (one byte per code unit, so indices match), since a typed-array
   * read per character is cheaper than charCodeAt. A code unit above 255 keeps only its low byte, so a byte
   * hit is confirmed on the text itself; a real hit is always ASCII, so none is missed. Called once per window
   * (not once per scan), so V8 optimises it as a whole function soon, not only by on-stack replacement.
   * Returns where the next window starts (a number token may run past `end`).
   */
  #window(text: string, base: number, end: number, reporters: readonly Report[], memo: Map<string, number>): number {
    const cls = this.#cls;
    const cls8 = this.#cls8;
    const dispatch = this.#dispatch;
    const win = WINDOW;
    const n = text.length;
    win.write(base === 0 && end === n ? text : text.substring(base, end), 0, 'latin1');
    const len = end - base;
    let j = 0;
    while (j < len) {
      // The tight skip: window-relative indices into the buffer, which V8 compiles to a few instructions.
      while (j < len && cls8[win[j] as number] === 0) j++;
      if (j >= len) break;
      const i = base + j;
      const c = text.charCodeAt(i);
      const k = cls[c] ?? 0;
      if (k === DIGIT) {
        j = this.#numberToken(text, i, reporters) - base;
        continue;
      }
      if (k === CHAR) {
        const pc = i > 0 ? text.charCodeAt(i - 1) & 127 : 0;
        const ds = dispatch[(c << 7) | pc];
        if (ds !== undefined) {
          const nc = i + 1 < n ? text.charCodeAt(i + 1) & 127 : 0;
          let gate: Dispatch['gate'];
          let open = true;
          for (let q = 0; q < ds.length; q++) {
            const e = ds[q] as Dispatch;
            // The next-character mask keeps most remaining triggers from reaching a detector call at all.
            if (e.next[nc] === 0) continue;
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
      }
      j++;
    }
    return base + j;
  }

  /** Builds the number token starting at i, runs the number detectors, returns where scanning resumes. */
  #numberToken(text: string, i: number, reporters: readonly Report[]): number {
    const tok = this.#token;
    const starts = tok.starts;
    const ends = tok.ends;
    const n = text.length;
    let count = 0;
    let digits = 0;
    let j = i;
    let resume = -1;
    for (;;) {
      const gs = j;
      let c = 0;
      while (j < n && (c = text.charCodeAt(j)) >= 48 && c <= 57) j++;
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
      j++;
    }
    if (digits < this.#minDigits) return resume > i ? resume : j;
    tok.text = text;
    tok.start = i;
    tok.end = j;
    tok.count = count;
    tok.digits = digits;
    const nums = this.#numbersByDigits[digits < DIGIT_CAP ? digits : DIGIT_CAP] as readonly NumberEntry[];
    const pc = i > 0 ? text.charCodeAt(i - 1) : 32;
    const p = pc < 128 ? pc : 128;
    for (let k = 0; k < nums.length; k++) {
      const e = nums[k] as NumberEntry;
      if (digits < e.minDigits || digits > e.maxDigits || ((e.counts >>> count) & 1) === 0 || e.prev[p] === 0) continue;
      e.onNumber(tok, reporters[e.d] as Report);
    }
    return resume > i ? resume : j;
  }

  /** Drops allow-listed values, merges overlapping hits (the longer hit names the merged finding). */
  #resolve(text: string, hits: RawHit[], segment: number | undefined): Finding[] {
    if (hits.length === 0) return [];
    let list = hits;
    if (this.#allow.size > 0) list = list.filter((h) => !this.#allow.has(text.slice(h.start, h.end)));
    list.sort((a, b) => a.start - b.start || b.end - a.end || a.d - b.d);
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

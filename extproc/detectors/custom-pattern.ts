// Operator-supplied detectors from the policy file. Their patterns run only on V8's linear-time regexp engine
// (the 'l' flag): a pattern that engine cannot run (backreferences, lookaround, the 'i' flag, large bounded
// counts) is refused at load with CustomPatternError. The engine is slow (about 2-3 MB/s), so a detector with
// keywords (given, or the pattern's own literal prefix) runs only in windows around keyword hits.
import { setFlagsFromString } from 'node:v8';
import type { TextDetector } from './detector.ts';
import { runValidator, type ValidatorKind } from './validators.ts';
import { contextWords, hasContextWord } from './chars.ts';

setFlagsFromString('--enable-experimental-regexp-engine');

/** 'g' plus V8's 'l' (linear engine) flag; a variable because linters do not know the flag. */
const LINEAR_FLAGS = ['g', 'l'].join('');

export class CustomPatternError extends Error {
  readonly detectorId: string;
  constructor(detectorId: string, detail: string) {
    super(`custom detector "${detectorId}": ${detail}`);
    this.name = 'CustomPatternError';
    this.detectorId = detectorId;
  }
}

export interface CustomDetectorSpec {
  readonly id: string;
  readonly type: string;
  readonly pattern: string;
  readonly validator?: ValidatorKind | undefined;
  readonly contextWords?: readonly string[] | undefined;
  readonly contextWindow?: number | undefined;
  readonly keywords?: readonly string[] | undefined;
  readonly minLength?: number | undefined;
  readonly maxLength?: number | undefined;
}

/** Compiles a pattern for the linear engine or throws CustomPatternError. */
export function compileLinear(id: string, pattern: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(pattern, LINEAR_FLAGS);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CustomPatternError(id, `pattern refused: it must run on the linear-time engine (no backreferences, no lookaround, no inline flags, bounded counts of at most 16; write [Aa] instead of the i flag, and use minLength/maxLength for lengths): ${why}`);
  }
  if (re.test('')) throw new CustomPatternError(id, 'pattern refused: it matches the empty string');
  return re;
}

/** The pattern's leading literal (letters, digits, '_', '-', escaped punctuation), used as a keyword when 3+ characters. */
export function literalPrefix(pattern: string): string {
  let out = '';
  for (let k = 0; k < pattern.length; k++) {
    const ch = pattern.charAt(k);
    if (/[A-Za-z0-9_\-=:/]/.test(ch)) {
      const next = pattern.charAt(k + 1);
      if (next === '?' || next === '*' || next === '{') break;
      out += ch;
    } else if (ch === '\\' && /[.\-_/:=]/.test(pattern.charAt(k + 1))) {
      out += pattern.charAt(k + 1);
      k++;
    } else break;
  }
  return out;
}

export function customDetector(spec: CustomDetectorSpec): TextDetector {
  const re = compileLinear(spec.id, spec.pattern);
  const maxLength = spec.maxLength ?? 256;
  const minLength = spec.minLength ?? 1;
  const window = spec.contextWindow ?? 40;
  const prefix = literalPrefix(spec.pattern);
  const keywords = spec.keywords ?? (prefix.length >= 3 ? [prefix] : []);
  const context = contextWords(spec.contextWords ?? []);

  const runIn = (text: string, from: number, to: number, report: (s: number, e: number) => void): void => {
    re.lastIndex = from;
    const view = to >= text.length ? text : text.slice(0, to);
    let m: RegExpExecArray | null;
    while ((m = re.exec(view)) !== null) {
      const s = m.index;
      const e = s + m[0].length;
      if (e === s) {
        re.lastIndex = e + 1;
        continue;
      }
      // A match that ends at a window's end may be cut short by the window: not judged here.
      if (e === to && to < text.length) continue;
      if (e - s < minLength || e - s > maxLength) continue;
      if (spec.validator !== undefined && !runValidator(spec.validator, m[0])) continue;
      if (context.words.length > 0 && !hasContextWord(text, s - window, s, context)) continue;
      report(s, e);
    }
  };

  return {
    kind: 'text',
    id: spec.id,
    type: spec.type,
    maxLength,
    scanText(text, report) {
      if (keywords.length === 0) {
        runIn(text, 0, text.length, report);
        return;
      }
      // Merge windows [hit - maxLength, hit + 2 * maxLength + 1] around keyword hits and run the engine once per
      // window: every match of at most maxLength that starts within maxLength of a hit ends inside its window.
      const hits: number[] = [];
      for (const k of keywords) for (let p = text.indexOf(k); p !== -1; p = text.indexOf(k, p + 1)) hits.push(p);
      if (hits.length === 0) return;
      hits.sort((a, b) => a - b);
      let ws = -1;
      let we = -1;
      for (const h of hits) {
        const a = Math.max(0, h - maxLength);
        const b = Math.min(text.length, h + 2 * maxLength + 1);
        if (a <= we) we = Math.max(we, b);
        else {
          if (ws >= 0) runIn(text, ws, we, report);
          ws = a;
          we = b;
        }
      }
      runIn(text, ws, we, report);
    },
  };
}

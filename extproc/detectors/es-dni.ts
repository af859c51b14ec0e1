// Spanish DNI (8 digits + check letter) and NIE (X/Y/Z + 7 digits + check letter). The letter is
// "TRWAGMYFPDXBNJZSQVHLCKE"[number mod 23], with X/Y/Z read as 0/1/2 for an NIE.
import { isAlnum } from './chars.ts';
import type { NumberDetector } from './detector.ts';

const LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

export function dniLetter(n: number): string {
  return LETTERS.charAt(n % 23);
}

export const esDni: NumberDetector = {
  kind: 'number',
  minDigits: 7,
  maxDigits: 8,
  groupCounts: [1],
  prev: (c) => !isAlnum(c) || c === 88 || c === 89 || c === 90,
  id: 'pii.es_dni',
  type: 'ES_DNI',
  maxLength: 10,
  onNumber(tok, report) {
    if (tok.count !== 1 || (tok.digits !== 8 && tok.digits !== 7)) return;
    const text = tok.text;
    let s = tok.start;
    let value = Number(text.slice(tok.start, tok.end));
    if (tok.digits === 7) {
      // charAt(-1) is '', which indexOf finds at 0: at the start of the text there is no NIE letter.
      const nie = s > 0 ? 'XYZ'.indexOf(text.charAt(s - 1)) : -1;
      if (nie < 0) return;
      s--;
      value += nie * 10_000_000;
    }
    if (s > 0 && isAlnum(text.charCodeAt(s - 1))) return;
    let l = tok.end;
    if (text.charCodeAt(l) === 45 || text.charCodeAt(l) === 32) l++;
    if (text.charAt(l) !== dniLetter(value) || isAlnum(text.charCodeAt(l + 1))) return;
    report(s, l + 1);
  },
};

// German tax identification number (Steuerliche Identifikationsnummer): 11 digits, the first not 0; in the
// first ten digits exactly one digit appears two or three times; the last digit is the ISO 7064 MOD 11,10
// check digit. Eleven-digit numbers are common, so a context word is required in the 60 characters before.
import { contextWords, hasContextWord } from './chars.ts';
import type { NumberDetector } from './detector.ts';
import { digitsOf, groupLengths } from './number-token.ts';

const CONTEXT = contextWords(['steuer', 'identifikationsnummer', 'idnr', 'id-nr', 'tax id', 'tax-id', 'steuer-id']);

export function steuerIdValid(d: string): boolean {
  if (d.length !== 11 || d.charCodeAt(0) === 48) return false;
  const counts = new Array<number>(10).fill(0);
  for (let k = 0; k < 10; k++) {
    const digit = d.charCodeAt(k) - 48;
    counts[digit] = (counts[digit] ?? 0) + 1;
  }
  let repeated = 0;
  for (const c of counts) {
    if (c > 3) return false;
    if (c >= 2) repeated++;
  }
  if (repeated !== 1) return false;
  let product = 10;
  for (let k = 0; k < 10; k++) {
    let sum = (d.charCodeAt(k) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  let check = 11 - product;
  if (check === 10) check = 0;
  return check === d.charCodeAt(10) - 48;
}

export const deSteuerId: NumberDetector = {
  kind: 'number',
  minDigits: 11,
  maxDigits: 11,
  groupCounts: [1, 4],
  id: 'pii.de_steuer_id',
  type: 'DE_TAX_ID',
  maxLength: 14,
  onNumber(tok, report) {
    if (tok.digits !== 11) return;
    const lens = groupLengths(tok, 0, tok.count).join(',');
    if (lens !== '11' && lens !== '2,3,3,3') return;
    if (!steuerIdValid(digitsOf(tok, 0, tok.count))) return;
    if (!hasContextWord(tok.text, tok.start - 60, tok.start, CONTEXT)) return;
    report(tok.start, tok.end);
  },
};

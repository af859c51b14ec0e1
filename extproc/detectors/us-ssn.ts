// US Social Security numbers: AAA-GG-SSSS (or with spaces) outside the never-issued ranges: area 000, 666 and
// 900-999, group 00, serial 0000, and the published sample numbers. Nine digits written together count only
// with a context word ("ssn", "social security") in the 40 characters before.
import { contextWords, hasContextWord } from './chars.ts';
import type { NumberDetector } from './detector.ts';
import { digitsOf, groupLength, isolatedRun } from './number-token.ts';

const SAMPLES = new Set(['078051120', '219099999', '123456789']);
const CONTEXT = contextWords(['ssn', 'social security', 'social sec', 'ss#', 'ss #', 'taxpayer']);

export function ssnValid(d: string): boolean {
  if (d.length !== 9 || SAMPLES.has(d)) return false;
  const area = Number(d.slice(0, 3));
  return area !== 0 && area !== 666 && area < 900 && d.slice(3, 5) !== '00' && d.slice(5) !== '0000';
}

export const usSsn: NumberDetector = {
  kind: 'number',
  minDigits: 9,
  // Nine digits together, or AAA-GG-SSSS somewhere in a run of three groups or more.
  groupCounts: Array.from({ length: 24 }, (_, k) => k + 1).filter((k) => k !== 2),
  lone: { digits: [9] },
  id: 'pii.us_ssn',
  type: 'US_SSN',
  maxLength: 11,
  onNumber(tok, report) {
    if (tok.digits < 9) return;
    for (let g = 0; g < tok.count; g++) {
      const len = (tok.ends[g] ?? 0) - (tok.starts[g] ?? 0);
      if (len === 3) {
        // The layout 3-2-4 from the group ends before the separators are read (a version, a netmask, a phone
        // number's 3-3-4 stop here).
        if (g + 3 <= tok.count && groupLength(tok, g + 1) === 2 && groupLength(tok, g + 2) === 4 && isolatedRun(tok, g, 3, '- ') && ssnValid(digitsOf(tok, g, 3))) report(tok.starts[g] ?? 0, tok.ends[g + 2] ?? 0);
      } else if (len === 9 && tok.count === 1) {
        const s = tok.starts[g] ?? 0;
        if (ssnValid(digitsOf(tok, g, 1)) && hasContextWord(tok.text, s - 40, s, CONTEXT)) report(s, tok.ends[g] ?? 0);
      }
    }
  },
};

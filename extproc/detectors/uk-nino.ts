// UK National Insurance numbers: two prefix letters (HMRC's excluded letters and pairs removed), six digits
// (together or as 2-2-2), and a suffix A-D: "QQ123456C" is the documented example and is excluded by the
// prefix rule (Q is never used). No checksum exists, so the format rules carry the precision.
import { isAlnum, isUpper } from './chars.ts';
import type { NumberDetector } from './detector.ts';
import { groupLengths } from './number-token.ts';

const BAD_FIRST = 'DFIQUV';
const BAD_SECOND = 'DFIOQUV';
const BAD_PAIRS = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

export function ninoPrefixValid(p: string): boolean {
  return p.length === 2 && !BAD_FIRST.includes(p.charAt(0)) && !BAD_SECOND.includes(p.charAt(1)) && !BAD_PAIRS.has(p);
}

export const ukNino: NumberDetector = {
  kind: 'number',
  minDigits: 6,
  maxDigits: 6,
  groupCounts: [1, 3],
  // The prefix's second letter, or the space after it (2-2-2 layout).
  prev: (c) => isUpper(c) || c === 32,
  id: 'pii.uk_nino',
  type: 'UK_NINO',
  maxLength: 13,
  onNumber(tok, report) {
    if (tok.digits !== 6) return;
    const text = tok.text;
    const lens = groupLengths(tok, 0, tok.count).join(',');
    const spaced = lens === '2,2,2' && text.charCodeAt(tok.ends[0] ?? 0) === 32 && text.charCodeAt(tok.ends[1] ?? 0) === 32;
    if (lens !== '6' && !spaced) return;
    const gap = spaced ? 1 : 0;
    if (spaced && text.charCodeAt(tok.start - 1) !== 32) return;
    const p = tok.start - 2 - gap;
    if (p < 0 || !isUpper(text.charCodeAt(p)) || !isUpper(text.charCodeAt(p + 1))) return;
    if (p > 0 && isAlnum(text.charCodeAt(p - 1))) return;
    if (!ninoPrefixValid(text.slice(p, p + 2))) return;
    const sfx = tok.end + gap;
    if (gap === 1 && text.charCodeAt(tok.end) !== 32) return;
    const c = text.charCodeAt(sfx);
    if (c < 65 || c > 68 || isAlnum(text.charCodeAt(sfx + 1))) return;
    report(p, sfx + 1);
  },
};
